"""Per-task significance: one-sided exact tests per task, Benjamini–Hochberg across tasks.

Kalibra counts a task as regressed when its pass rate drops at all, which with no real change flags
about a third of the tasks. Here each task gets a one-sided exact test (Boschloo, Fisher above
`fisher_above` runs a side), results cached by the 2×2 counts, and the p-values are adjusted with
Benjamini–Hochberg (Boschloo 1970; Benjamini & Hochberg 1995). Tasks whose run counts cannot reach
significance on their own are reported as untestable, not as passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special, stats

POWER_Z = 0.8416212335729143  # z for 80 % power


GRID_POINTS = 1025  # nuisance-parameter grid for whole small designs (arcsine-spaced: has 0, 1/2, 1)
TABLE_GRID_POINTS = 257  # grid for one table of a larger design, refined at the parabola's vertex
WHOLE_DESIGN_CELLS = 1_600  # designs with at most this many tables: all p-values at once
GRID_MAX_CELLS = 60_000  # tables per design above which Fisher is used (memory / time bound)
_GRID_CHUNK = 128  # grid rows evaluated at once


def _pmf(n: int, pi: np.ndarray) -> np.ndarray:
    """Binomial pmf of 0..n successes at each rate in pi (rows); values below 1e-150 set to 0 so that
    products never reach subnormal floats (which make arithmetic ~100× slower)."""
    out = stats.binom.pmf(np.arange(n + 1)[None, :], n, pi[:, None])
    out[out < 1e-150] = 0.0
    return out


@lru_cache(maxsize=1024)
def _grid_pmf(n: int) -> np.ndarray:
    """_pmf(n) on the per-table grid (shared by every design with a side of n runs)."""
    return _pmf(n, _grid(TABLE_GRID_POINTS)[1])


def _grid(points: int) -> tuple[np.ndarray, np.ndarray]:
    theta = np.linspace(0.0, np.pi / 2, points)
    return theta, np.sin(theta) ** 2


def _fisher_greater(n1: int, n2: int) -> np.ndarray:
    """Fisher's one-sided p-value of 'rate 1 > rate 2' for every table [x1, x2] (Boschloo's statistic):
    P(X2 <= x2 | x1 + x2), the hypergeometric pmf summed along each anti-diagonal."""
    x1, x2 = np.arange(n1 + 1), np.arange(n2 + 1)
    lc1 = special.gammaln(n1 + 1) - special.gammaln(x1 + 1) - special.gammaln(n1 - x1 + 1)
    lc2 = special.gammaln(n2 + 1) - special.gammaln(x2 + 1) - special.gammaln(n2 - x2 + 1)
    s = np.arange(n1 + n2 + 1)
    lcn = special.gammaln(n1 + n2 + 1) - special.gammaln(s + 1) - special.gammaln(n1 + n2 - s + 1)
    tot = x1[:, None] + x2[None, :]
    pmf = np.exp(lc1[:, None] + lc2[None, :] - lcn[tot])
    skew = np.zeros((n1 + n2 + 1, n2 + 1))  # row = x1 + x2, column = x2: anti-diagonals as rows
    skew[tot, x2[None, :]] = pmf
    return np.minimum(np.cumsum(skew, axis=1)[tot, x2[None, :]], 1.0)


@lru_cache(maxsize=512)
def boschloo_design(n1: int, n2: int) -> np.ndarray:
    """One-sided Boschloo p-values of 'rate 1 > rate 2' for every table of an n1 × n2 design.

    Entry [x1, x2] is the p-value for x1 of n1 successes against x2 of n2. Boschloo's statistic is
    Fisher's one-sided p-value; the p-value is the supremum over the common rate π of the probability
    of a table at least as extreme. All tables share one sort by the statistic, so one cumulative sum
    per grid point gives every p-value of the design at once (scipy.stats.boschloo_exact does one
    table per call). π runs over a dense arcsine-spaced grid; the grid error is ~1e-5 relative.
    """
    fisher = _fisher_greater(n1, n2).ravel()
    order = np.argsort(fisher, kind="stable")
    ranked = fisher[order]
    last = np.searchsorted(ranked, ranked * (1 + 1e-13), side="right") - 1  # ties join the region
    _, pi = _grid(GRID_POINTS)
    best = np.zeros(order.size)
    for start in range(0, GRID_POINTS, _GRID_CHUNK):
        p = pi[start:start + _GRID_CHUNK]
        pm1, pm2 = _pmf(n1, p), _pmf(n2, p)
        cells = (pm1[:, :, None] * pm2[:, None, :]).reshape(p.shape[0], -1)[:, order]
        np.maximum(best, np.cumsum(cells, axis=1)[:, last].max(axis=0), out=best)
    out = np.empty(order.size)
    out[order] = np.minimum(best, 1.0)
    return out.reshape(n1 + 1, n2 + 1)


@lru_cache(maxsize=512)
def _table_design(n1: int, n2: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """(Fisher statistic per table, grid θ, side-1 pmfs on the grid, side-2 CDFs on the grid with a
    leading 0 column, whether every row of the statistic is non-decreasing in x2)."""
    theta, pi = _grid(TABLE_GRID_POINTS)
    fisher = _fisher_greater(n1, n2)
    cdf2 = np.concatenate([np.zeros((pi.size, 1)), np.cumsum(_grid_pmf(n2), axis=1)], axis=1)
    monotone = bool(np.all(np.diff(fisher, axis=1) >= -1e-12))
    return fisher, theta, _grid_pmf(n1), cdf2, monotone


def _region_prob(pm1: np.ndarray, cdf2: np.ndarray, region: np.ndarray, monotone: bool) -> np.ndarray:
    """P(table in region) at each grid rate. With a monotone statistic each row of the region is a
    prefix x2 < count, so the sum is one CDF look-up per x1 (no matrix product)."""
    if monotone:
        counts = region.sum(axis=1)
        return np.einsum("gi,gi->g", pm1, cdf2[:, counts])
    pm2 = np.diff(cdf2, axis=1)
    return np.einsum("gi,gi->g", pm1 @ region, pm2)


def boschloo_table(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided Boschloo p-value of one table of a larger design.

    The best grid point is refined by evaluating at the vertex of the parabola through it and its
    neighbours (an attained probability, so never above the true supremum).
    """
    fisher, theta, pm1, cdf2, monotone = _table_design(n1, n2)
    region = fisher <= fisher[x1, x2] * (1 + 1e-13)
    if not monotone:
        region = region.astype(float)
    prob = _region_prob(pm1, cdf2, region, monotone)
    k = int(np.argmax(prob))
    best = float(prob[k])
    if 0 < k < prob.size - 1:
        y0, y1, y2 = prob[k - 1], prob[k], prob[k + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            t = theta[k] + 0.5 * (theta[1] - theta[0]) * (y0 - y2) / den
            p = np.sin(np.array([t])) ** 2
            c2 = np.concatenate([[[0.0]], np.cumsum(_pmf(n2, p), axis=1)], axis=1)
            best = max(best, float(_region_prob(_pmf(n1, p), c2, region, monotone)[0]))
    return min(best, 1.0)


@lru_cache(maxsize=65_536)
def one_sided_p(b_k: int, b_n: int, c_k: int, c_n: int, fisher_above: int = 100) -> float:
    """P-value of 'the current pass rate is lower than the baseline's' (exact, one-sided).

    Boschloo when both sides have at most `fisher_above` runs (and the design has at most
    GRID_MAX_CELLS tables), else Fisher.
    """
    if b_n == 0 or c_n == 0:
        return 1.0
    if min(b_n, c_n) > fisher_above or (b_n + 1) * (c_n + 1) > GRID_MAX_CELLS:
        table = [[b_k, c_k], [b_n - b_k, c_n - c_k]]
        return float(stats.fisher_exact(table, alternative="greater").pvalue)
    if (b_n + 1) * (c_n + 1) <= WHOLE_DESIGN_CELLS:
        return float(boschloo_design(b_n, c_n)[b_k, c_k])
    return boschloo_table(b_k, b_n, c_k, c_n)


def min_p(b_n: int, c_n: int, fisher_above: int = 100) -> float:
    """Smallest one-sided p-value a task with these run counts can reach (all pass → all fail)."""
    return one_sided_p(b_n, b_n, 0, c_n, fisher_above)


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); empty in, empty out."""
    if p.size == 0:
        return p.astype(float)
    return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=float)


@lru_cache(maxsize=65_536)
def prob_drop(b_n: int, c_n: int, rate: float) -> float:
    """P(current pass rate < baseline pass rate) when both sides share the pass rate `rate`."""
    if b_n == 0 or c_n == 0 or rate <= 0.0 or rate >= 1.0:
        return 0.0
    pb = stats.binom.pmf(np.arange(b_n + 1), b_n, rate)
    pc = stats.binom.pmf(np.arange(c_n + 1), c_n, rate)
    # current k_c / c_n < k_b / b_n  <=>  k_c * b_n < k_b * c_n
    cum_c = np.concatenate([[0.0], np.cumsum(pc)])  # cum_c[j] = P(K_c < j)
    thresholds = np.ceil(np.arange(b_n + 1) * c_n / b_n).astype(int)  # smallest k_c not below
    return float(np.sum(pb * cum_c[np.clip(thresholds, 0, c_n + 1)]))


def runs_needed(rate: float, drop_pp: float, alpha: float) -> int:
    """Runs a side for 80 % power to detect a drop of `drop_pp` from `rate` at one-sided `alpha`."""
    p1 = min(max(rate, drop_pp / 100 + 0.01), 0.99)
    p2 = max(p1 - drop_pp / 100, 0.0)
    p_bar = (p1 + p2) / 2
    z_a = stats.norm.isf(alpha)
    num = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + POWER_Z * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return max(2, math.ceil((num / (p1 - p2)) ** 2))


@dataclass(frozen=True)
class TaskVerdict:
    task_id: str
    b_k: int
    b_n: int
    c_k: int
    c_n: int
    delta_pp: float
    p_regression: float
    p_improvement: float
    q_regression: float
    q_improvement: float
    verdict: str  # "regressed" | "improved" | "unchanged" | "untestable"
    naive: str  # Kalibra's rule: "regressed" | "improved" | "unchanged"
    untestable: bool = False  # even all-pass → all-fail could not be significant on its own

    def as_dict(self) -> dict:
        return {
            "task_id": self.task_id,
            "baseline": {"success": self.b_k, "total": self.b_n},
            "current": {"success": self.c_k, "total": self.c_n},
            "delta_pp": self.delta_pp,
            "p": self.p_regression if self.delta_pp < 0 else self.p_improvement,
            "q": self.q_regression if self.delta_pp < 0 else self.q_improvement,
            "verdict": self.verdict,
            "naive": self.naive,
            "untestable": self.untestable,
        }


@dataclass(frozen=True)
class PerTaskResult:
    tasks: tuple[TaskVerdict, ...]
    fdr: float
    significant_regressions: int
    significant_improvements: int
    expected_regressions: float
    untestable_tasks: int
    runs_for_30pp: int | None  # runs a side to detect a 30 pp drop, when some tasks are untestable


def compare_tasks(names: list[str], b_k: np.ndarray, b_n: np.ndarray, c_k: np.ndarray, c_n: np.ndarray,
               *, fdr: float = 0.10, fisher_above: int = 100) -> PerTaskResult:
    """Test every task present on both sides; BH across them at level `fdr`."""
    m = len(names)
    p_reg = np.array([one_sided_p(int(b_k[i]), int(b_n[i]), int(c_k[i]), int(c_n[i]), fisher_above)
                      for i in range(m)], dtype=float)
    p_imp = np.array([one_sided_p(int(c_k[i]), int(c_n[i]), int(b_k[i]), int(b_n[i]), fisher_above)
                      for i in range(m)], dtype=float)
    q_reg, q_imp = bh_adjust(p_reg), bh_adjust(p_imp)
    alone = fdr / m if m else fdr  # the BH threshold for a lone smallest p-value
    verdicts: list[TaskVerdict] = []
    expected = 0.0
    n_untestable = 0
    pooled_rates = []
    for i in range(m):
        bk, bn, ck, cn = int(b_k[i]), int(b_n[i]), int(c_k[i]), int(c_n[i])
        delta = round((ck / cn - bk / bn) * 100, 2)
        naive = "regressed" if delta < 0 else "improved" if delta > 0 else "unchanged"
        untestable = min_p(bn, cn, fisher_above) > alone
        if q_reg[i] <= fdr:
            verdict = "regressed"
        elif q_imp[i] <= fdr:
            verdict = "improved"
        elif untestable:
            verdict = "untestable"
        else:
            verdict = "unchanged"
        n_untestable += untestable
        rate = (bk + ck) / (bn + cn)
        pooled_rates.append(rate)
        expected += prob_drop(bn, cn, rate)
        verdicts.append(TaskVerdict(names[i], bk, bn, ck, cn, delta, float(p_reg[i]), float(p_imp[i]),
                                    float(q_reg[i]), float(q_imp[i]), verdict, naive, untestable))
    needed = None
    if n_untestable:
        typical = float(np.median(pooled_rates)) if pooled_rates else 0.8
        needed = runs_needed(max(typical, 0.5), 30.0, alone)
    return PerTaskResult(
        tasks=tuple(verdicts), fdr=fdr,
        significant_regressions=sum(v.verdict == "regressed" for v in verdicts),
        significant_improvements=sum(v.verdict == "improved" for v in verdicts),
        expected_regressions=round(expected, 2), untestable_tasks=n_untestable, runs_for_30pp=needed,
    )
