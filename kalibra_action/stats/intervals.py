"""Intervals for changes in success rate: per task, pooled over runs, and task-weighted.

Two different quantities are reported for the overall change, each with its own interval:
- the pooled change (all runs counted, the point `success_rate_delta` shows): `pooled_interval`, a
  cluster-robust t-interval over tasks when the same >= `MIN_TASKS` tasks run on both sides, never
  narrower than Newcombe's interval on the pooled counts; otherwise Newcombe alone;
- the task-weighted change (each task counted once): `task_weighted_interval`, the t-interval of the
  mean per-task change (Miller 2024) from `MIN_TASKS` tasks up, else an adjusted Wald interval.
`mix_shift` tests whether the two differ beyond noise. Per task, `newcombe_pp` gives the Newcombe (1998)
hybrid score interval for many 2x2 tables at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kalibra_action.stats import distributions as D

MIN_TASKS = 10
MDE_FACTOR = 2.80  # z(0.975) + z(0.80): minimum detectable effect at 80 % power, two-sided 5 %


@dataclass(frozen=True)
class RateInterval:
    """A CI for a change in percentage points, with its method and minimum detectable effect."""

    delta_pp: float
    lo: float
    hi: float
    mde: float
    method: str  # "cluster-tasks" | "paired-tasks" | "adjusted-wald" | "newcombe"
    tasks: int = 0


def wilson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a proportion."""
    if n == 0:
        return 0.0, 1.0
    z = D.norm_isf(alpha / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(b_k: int, b_n: int, c_k: int, c_n: int, alpha: float = 0.05) -> RateInterval:
    """Newcombe's hybrid score interval for current rate − baseline rate, in pp."""
    p1, p2 = b_k / b_n, c_k / c_n
    l1, u1 = wilson(b_k, b_n, alpha)
    l2, u2 = wilson(c_k, c_n, alpha)
    d = p2 - p1
    lo = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    hi = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    se = (hi - lo) / (2 * D.norm_isf(alpha / 2))
    return RateInterval(round(d * 100, 2), round(lo * 100, 2), round(hi * 100, 2),
                        round(MDE_FACTOR * se * 100, 2), "newcombe")


def paired_tasks(b_rates: np.ndarray, c_rates: np.ndarray, alpha: float = 0.05) -> RateInterval:
    """t-interval of the mean per-task change (tasks as clusters), in pp."""
    diffs = (np.asarray(c_rates, float) - np.asarray(b_rates, float)) * 100
    m = diffs.size
    mean = float(diffs.mean())
    se = float(diffs.std(ddof=1) / math.sqrt(m)) if m > 1 else float("inf")
    t = D.t_isf(alpha / 2, m - 1) if m > 1 else float("inf")
    # A change of a rate lies within ±100 pp: with one task (se = inf) the interval is that whole range.
    lo, hi = max(-100.0, mean - t * se), min(100.0, mean + t * se)
    return RateInterval(round(mean, 2), round(lo, 2), round(hi, 2),
                        round(min(MDE_FACTOR * se, 200.0), 2), "paired-tasks", m)


def newcombe_pp(b_k: np.ndarray, b_n: np.ndarray, c_k: np.ndarray, c_n: np.ndarray,
               alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score bounds of current − baseline rate, in pp, for many tables at once.

    The per-task interval: it needs no search, so 10,000 tasks cost milliseconds, and its coverage over
    n = 3..100 a side averages 95-96 % (bench/stats_validation.py). Every n must be positive.
    """
    z = D.norm_isf(alpha / 2)
    b_k, b_n, c_k, c_n = (np.asarray(x, dtype=float) for x in (b_k, b_n, c_k, c_n))
    p1, p2 = b_k / b_n, c_k / c_n
    l1, u1 = _wilson_arrays(p1, b_n, z)
    l2, u2 = _wilson_arrays(p2, c_n, z)
    d = p2 - p1
    lo = d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    hi = d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return np.round(lo * 100, 2), np.round(hi * 100, 2)


def _wilson_arrays(p: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson bounds for arrays of observed rates p over n runs."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def _clip(lo: float, hi: float) -> tuple[float, float]:
    return max(-100.0, lo), min(100.0, hi)


def _interval(point_pp: float, lo: float, hi: float, se_pp: float, method: str, tasks: int) -> RateInterval:
    """A RateInterval whose MDE is 2.80 standard errors (as `newcombe` and `paired_tasks`)."""
    mde = round(min(MDE_FACTOR * se_pp, 200.0), 2)
    return RateInterval(round(point_pp, 2), round(lo, 2), round(hi, 2), mde, method, tasks)


def _pooled_residuals(b_k: np.ndarray, b_n: np.ndarray, c_k: np.ndarray, c_n: np.ndarray) -> np.ndarray:
    """Each task's linearised share of the pooled change's error: the change of a ratio estimator
    K_c/N_c − K_b/N_b is Σ_t e_t to first order, e_t = (k_ct − R_c n_ct)/N_c − (k_bt − R_b n_bt)/N_b."""
    nb, nc = b_n.sum(), c_n.sum()
    return (c_k - c_k.sum() / nc * c_n) / nc - (b_k - b_k.sum() / nb * b_n) / nb


def pooled_interval(b_k: np.ndarray, b_n: np.ndarray, c_k: np.ndarray, c_n: np.ndarray, *,
                    tasks_match: bool, alpha: float = 0.05) -> RateInterval | None:
    """CI of the pooled change Σk_c/Σn_c − Σk_b/Σn_b (pp), the point `success_rate_delta` reports.

    Arrays hold per-task counts; with `tasks_match` (the same tasks, in the same order, on both sides)
    and at least MIN_TASKS tasks, runs of one task are a cluster: the cluster-robust (sandwich)
    standard error of the ratio estimator over tasks, m/(m−1) Σ e_t², with a t quantile on m − 1
    degrees of freedom. Its lower and upper bounds are each widened to Newcombe's on the pooled counts,
    so tasks that happen to agree cannot make it narrower than independent runs would. Otherwise
    Newcombe alone. None when a side has no runs.
    """
    b_k, b_n, c_k, c_n = (np.asarray(x, dtype=float) for x in (b_k, b_n, c_k, c_n))
    bk, bn, ck, cn = int(b_k.sum()), int(b_n.sum()), int(c_k.sum()), int(c_n.sum())
    if bn == 0 or cn == 0:
        return None
    base = newcombe(bk, bn, ck, cn, alpha)
    m = b_k.size
    if not tasks_match or m < MIN_TASKS:
        return base
    point = (ck / cn - bk / bn) * 100
    e = _pooled_residuals(b_k, b_n, c_k, c_n)
    se = math.sqrt(m / (m - 1) * float(np.sum(e * e))) * 100
    half = D.t_isf(alpha / 2, m - 1) * se
    lo, hi = _clip(min(point - half, base.lo), max(point + half, base.hi))
    se_newcombe = (base.hi - base.lo) / (2 * D.norm_isf(alpha / 2))
    return _interval(point, lo, hi, max(se, se_newcombe), "cluster-tasks", m)


def task_weighted_interval(b_k: np.ndarray, b_n: np.ndarray, c_k: np.ndarray, c_n: np.ndarray,
                           alpha: float = 0.05) -> RateInterval | None:
    """The task-weighted change: the mean over tasks of (current rate − baseline rate), in pp, with its CI.

    Arrays hold the counts of the tasks present on both sides (n > 0). From MIN_TASKS tasks up, the
    t-interval over the per-task changes (`paired_tasks`); below that the spread between so few tasks
    says little, so the interval is the Wald interval of the mean change with each rate's variance
    taken at (k + 1)/(n + 2) (Agresti & Caffo 2000), centred on the point itself. None without tasks.
    """
    b_k, b_n, c_k, c_n = (np.asarray(x, dtype=float) for x in (b_k, b_n, c_k, c_n))
    m = b_k.size
    if m == 0:
        return None
    pb, pc = b_k / b_n, c_k / c_n
    if m >= MIN_TASKS:
        return paired_tasks(pb, pc, alpha)
    point = float(np.mean(pc - pb)) * 100
    tb, tc = (b_k + 1) / (b_n + 2), (c_k + 1) / (c_n + 2)
    var = float(np.sum(tb * (1 - tb) / (b_n + 2) + tc * (1 - tc) / (c_n + 2))) / (m * m)
    se = math.sqrt(var) * 100
    half = D.norm_isf(alpha / 2) * se
    return _interval(point, *_clip(point - half, point + half), se, "adjusted-wald", m)


@dataclass(frozen=True)
class MixShift:
    """Pooled minus task-weighted change over the common tasks, its CI (pp), and whether it is real."""

    difference_pp: float
    lo: float
    hi: float
    tasks: int

    @property
    def flag(self) -> bool:
        return not (self.lo <= 0 <= self.hi)


def mix_shift(b_k: np.ndarray, b_n: np.ndarray, c_k: np.ndarray, c_n: np.ndarray,
              alpha: float = 0.05) -> MixShift | None:
    """Test whether the pooled and the task-weighted change differ beyond noise, over common tasks.

    Both are sums over tasks, so their difference is too: per task g_t = e_t − (d_t − d̄)/m (e_t the
    pooled residual of `_pooled_residuals`, d_t the task's change), and the difference's CI is the
    cluster-robust t-interval over tasks. The flag is "this CI excludes 0". None under MIN_TASKS tasks.
    """
    b_k, b_n, c_k, c_n = (np.asarray(x, dtype=float) for x in (b_k, b_n, c_k, c_n))
    m = b_k.size
    if m < MIN_TASKS:
        return None
    d = c_k / c_n - b_k / b_n
    diff = (c_k.sum() / c_n.sum() - b_k.sum() / b_n.sum()) - float(d.mean())
    g = _pooled_residuals(b_k, b_n, c_k, c_n) - (d - d.mean()) / m
    half = D.t_isf(alpha / 2, m - 1) * math.sqrt(m / (m - 1) * float(np.sum(g * g)))
    return MixShift(round(diff * 100, 2), round((diff - half) * 100, 2), round((diff + half) * 100, 2), m)
