"""Intervals for the change in success rate: paired over tasks, or Newcombe's hybrid score.

When the same tasks run on both sides, tasks are clusters: the interval comes from the per-task
changes (a t-interval over tasks, Miller 2024). Otherwise, or with fewer than `MIN_TASKS` tasks, the
Newcombe (1998) hybrid score interval built from two Wilson intervals is used.
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
    method: str  # "paired-tasks" | "newcombe"
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


def success_rate_interval(b_k: int, b_n: int, c_k: int, c_n: int, task_b_rates: np.ndarray | None = None,
                          task_c_rates: np.ndarray | None = None, *, tasks_match: bool = False,
                          alpha: float = 0.05) -> RateInterval | None:
    """Paired interval when the task sets match and there are enough tasks, else Newcombe."""
    if b_n == 0 or c_n == 0:
        return None
    if tasks_match and task_b_rates is not None and task_c_rates is not None \
            and len(task_b_rates) >= MIN_TASKS:
        return paired_tasks(task_b_rates, task_c_rates, alpha)
    return newcombe(b_k, b_n, c_k, c_n, alpha)
