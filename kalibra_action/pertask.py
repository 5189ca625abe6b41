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

from kalibra_action import distributions as D

POWER_Z = 0.8416212335729143  # z for 80 % power


@lru_cache(maxsize=65_536)
def one_sided_p(b_k: int, b_n: int, c_k: int, c_n: int, fisher_above: int = 100) -> float:
    """P-value of 'the current pass rate is lower than the baseline's' (exact, one-sided).

    Boschloo when both sides have at most `fisher_above` runs, else Fisher (Boschloo is never less
    powerful, Fisher is cheaper and close to it at large n).
    """
    if b_n == 0 or c_n == 0:
        return 1.0
    table = [[b_k, c_k], [b_n - b_k, c_n - c_k]]
    if min(b_n, c_n) > fisher_above:
        return D.fisher_exact_greater(table)
    return D.boschloo_exact_greater(table)


def min_p(b_n: int, c_n: int, fisher_above: int = 100) -> float:
    """Smallest one-sided p-value a task with these run counts can reach (all pass → all fail)."""
    return one_sided_p(b_n, b_n, 0, c_n, fisher_above)


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); empty in, empty out."""
    if p.size == 0:
        return p.astype(float)
    return np.asarray(D.false_discovery_control(p), dtype=float)


@lru_cache(maxsize=65_536)
def prob_drop(b_n: int, c_n: int, rate: float) -> float:
    """P(current pass rate < baseline pass rate) when both sides share the pass rate `rate`."""
    if b_n == 0 or c_n == 0 or rate <= 0.0 or rate >= 1.0:
        return 0.0
    pb = D.binom_pmf(np.arange(b_n + 1), b_n, rate)
    pc = D.binom_pmf(np.arange(c_n + 1), c_n, rate)
    # current k_c / c_n < k_b / b_n  <=>  k_c * b_n < k_b * c_n
    cum_c = np.concatenate([[0.0], np.cumsum(pc)])  # cum_c[j] = P(K_c < j)
    thresholds = np.ceil(np.arange(b_n + 1) * c_n / b_n).astype(int)  # smallest k_c not below
    return float(np.sum(pb * cum_c[np.clip(thresholds, 0, c_n + 1)]))


def runs_needed(rate: float, drop_pp: float, alpha: float) -> int:
    """Runs a side for 80 % power to detect a drop of `drop_pp` from `rate` at one-sided `alpha`."""
    p1 = min(max(rate, drop_pp / 100 + 0.01), 0.99)
    p2 = max(p1 - drop_pp / 100, 0.0)
    p_bar = (p1 + p2) / 2
    z_a = D.norm_isf(alpha)
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
