"""Per-task significance: one-sided exact tests per task, Benjamini–Hochberg across tasks.

Kalibra counts a task as regressed when its pass rate drops at all, which with no real change flags
about a third of the tasks. Here each task gets a one-sided exact test (Boschloo, Fisher above
`fisher_above` runs a side), results cached by the 2×2 counts, and the p-values are adjusted with
Benjamini–Hochberg (Boschloo 1970; Benjamini & Hochberg 1995). Tasks whose run counts cannot reach
significance on their own are reported as untestable, not as passed. Each task's change gets Newcombe's
hybrid score interval (`intervals.newcombe_pp`, `PER_TASK_CI`): a score interval like the test's
statistic, closed-form so 10,000 tasks cost milliseconds (an exact unconditional interval needs a
search over the nuisance rate per bound and table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kalibra_action.stats import distributions as D
from kalibra_action.stats.intervals import newcombe_pp

PER_TASK_CI = "newcombe-hybrid"
POWER_Z = 0.8416212335729143  # z for 80 % power
BOSCHLOO_MAX_TOTAL = 2_000  # runs on both sides; Boschloo takes about a second a table at this size
BOSCHLOO_MAX_WORK = 130_000_000  # work units of all Boschloo tests of one comparison (about 20 s)
BOSCHLOO_FIXED_WORK = 100_000  # work units of a Boschloo test however small


@lru_cache(maxsize=65_536)
def one_sided_p(b_k: int, b_n: int, c_k: int, c_n: int, fisher_above: int = 100) -> float:
    """P-value of 'the current pass rate is lower than the baseline's' (exact, one-sided).

    Boschloo when a side has at most `fisher_above` runs and both together at most BOSCHLOO_MAX_TOTAL,
    else Fisher (Boschloo is never less powerful, Fisher is cheaper and close to it at large n; Boschloo's
    cost grows with the total, and a pooled baseline may claim any count).
    """
    if b_n == 0 or c_n == 0:
        return 1.0
    table = [[b_k, c_k], [b_n - b_k, c_n - c_k]]
    if min(b_n, c_n) > fisher_above or b_n + c_n > BOSCHLOO_MAX_TOTAL:
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
    """P(current pass rate < baseline pass rate) when both sides share the pass rate `rate`.

    The sum runs over the outcomes of the smaller side, the larger one's tail in closed form, so a pooled
    baseline of 10⁹ runs (a history summary may claim that many) costs what its current side costs.
    """
    if b_n == 0 or c_n == 0 or rate <= 0.0 or rate >= 1.0:
        return 0.0
    if c_n <= b_n:  # current k_c / c_n < k_b / b_n  <=>  k_b > k_c * b_n / c_n
        k_c = np.arange(c_n + 1, dtype=np.int64)
        return float(np.sum(D.binom_pmf(k_c, c_n, rate) * D.binom_sf(k_c * b_n // c_n, b_n, rate)))
    pb = D.binom_pmf(np.arange(b_n + 1), b_n, rate)
    pc = D.binom_pmf(np.arange(c_n + 1), c_n, rate)
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
    ci_pp: tuple[float, float] | None = None  # 95 % CI of delta_pp (PER_TASK_CI); None: a side has no runs

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
            "delta_ci_pp": list(self.ci_pp) if self.ci_pp is not None else None,
            "ci_method": PER_TASK_CI,
        }


@dataclass(frozen=True)
class PerTaskResult:
    tasks: tuple[TaskVerdict, ...]  # every task, in name order; the `keep` worst when capped
    fdr: float
    significant_regressions: int
    significant_improvements: int
    expected_regressions: float
    untestable_tasks: int
    runs_for_30pp: int | None  # runs a side to detect a 30 pp drop, when some tasks are untestable
    n_tasks: int = 0  # tasks tested (all of them, also when `tasks` is capped)
    untestable_ids: tuple[str, ...] = ()  # names of the untestable tasks, at most `keep`
    regressed_ids: tuple[str, ...] = ()  # names of every significantly regressed task

    @property
    def truncated(self) -> bool:
        return len(self.tasks) < self.n_tasks


_VERDICTS = ("regressed", "improved", "untestable", "unchanged")


def boschloo_cost(b_n: int, c_n: int, fisher_above: int) -> int:
    """Work units (about 0.15 µs each) of Boschloo's test of these run counts (0 when Fisher's test runs):
    its rate grid grows with the total, so the cost with its square, plus a fixed part (measured)."""
    if b_n == 0 or c_n == 0 or min(b_n, c_n) > fisher_above or b_n + c_n > BOSCHLOO_MAX_TOTAL:
        return 0
    return (b_n + c_n + 1) ** 2 + BOSCHLOO_FIXED_WORK


def _test_choice(tables: list[tuple[int, int, int, int]], fisher_above: int) -> list[int]:
    """The `fisher_above` each table is tested with: its own while BOSCHLOO_MAX_WORK lasts (cheapest tables
    first), then -1 (Fisher's test, also exact and a little conservative), so thousands of distinct
    tables of some hundred runs a side cannot take hours."""
    order = sorted(range(len(tables)), key=lambda i: boschloo_cost(tables[i][1], tables[i][3], fisher_above))
    choice, spent = [fisher_above] * len(tables), 0
    for i in order:
        spent += 2 * boschloo_cost(tables[i][1], tables[i][3], fisher_above)  # tested in both directions
        if spent > BOSCHLOO_MAX_WORK:
            choice[i] = -1
    return choice


def _per_table(tables: list[tuple[int, int, int, int]], fisher_above: int, alone: float) -> np.ndarray:
    """Per distinct 2x2 table: p regression, p improvement, delta (pp), untestable, expected drop."""
    out = np.empty((len(tables), 5), dtype=float)
    choice = _test_choice(tables, fisher_above)
    for i, ((bk, bn, ck, cn), above) in enumerate(zip(tables, choice, strict=True)):
        out[i] = (one_sided_p(bk, bn, ck, cn, above), one_sided_p(ck, cn, bk, bn, above),
                  round((ck / cn - bk / bn) * 100, 2), min_p(bn, cn, above) > alone,
                  prob_drop(bn, cn, (bk + ck) / (bn + cn)))
    return out


def compare_tasks(names: list[str], b_k: np.ndarray, b_n: np.ndarray, c_k: np.ndarray, c_n: np.ndarray,
                  *, fdr: float = 0.10, fisher_above: int = 100, keep: int | None = None) -> PerTaskResult:
    """Test every task present on both sides; BH across them at level `fdr`.

    The tests run once per distinct 2x2 table (tasks share few tables), the rest is vectorised, so many
    tasks cost seconds. With `keep`, only the `keep` worst tasks (see `rank_order`) get a TaskVerdict;
    the counts always cover every task.
    """
    m = len(names)
    table = np.column_stack([b_k, b_n, c_k, c_n]).astype(np.int64).reshape(m, 4)
    uniq, inverse = np.unique(table, axis=0, return_inverse=True)
    alone = fdr / m if m else fdr  # the BH threshold for a lone smallest p-value
    per = _per_table([tuple(int(x) for x in row) for row in uniq], fisher_above, alone)[inverse.reshape(-1)]
    p_reg, p_imp, delta, untestable = per[:, 0], per[:, 1], per[:, 2], per[:, 3].astype(bool)
    q_reg, q_imp = bh_adjust(p_reg), bh_adjust(p_imp)
    code = np.where(q_reg <= fdr, 0, np.where(q_imp <= fdr, 1, np.where(untestable, 2, 3)))
    order = rank_order(code, delta, np.where(delta < 0, p_reg, p_imp))
    chosen = np.arange(m) if keep is None or m <= keep else order[:keep]
    cis = _task_cis(table[chosen])
    verdicts = tuple(
        TaskVerdict(names[i], int(b_k[i]), int(b_n[i]), int(c_k[i]), int(c_n[i]), float(delta[i]),
                    float(p_reg[i]), float(p_imp[i]), float(q_reg[i]), float(q_imp[i]), _VERDICTS[code[i]],
                    "regressed" if delta[i] < 0 else "improved" if delta[i] > 0 else "unchanged",
                    bool(untestable[i]), ci)
        for i, ci in zip(chosen.tolist(), cis, strict=True))
    n_untestable = int(untestable.sum())
    needed = None
    if n_untestable:
        rates = (table[:, 0] + table[:, 2]) / (table[:, 1] + table[:, 3])
        needed = runs_needed(max(float(np.median(rates)), 0.5), 30.0, alone)
    cap = m if keep is None else keep
    return PerTaskResult(
        tasks=verdicts, fdr=fdr,
        significant_regressions=int((code == 0).sum()), significant_improvements=int((code == 1).sum()),
        expected_regressions=round(float(per[:, 4].sum()), 2), untestable_tasks=n_untestable,
        runs_for_30pp=needed, n_tasks=m,
        untestable_ids=tuple(names[i] for i in np.flatnonzero(untestable)[:cap].tolist()),
        regressed_ids=tuple(names[i] for i in np.flatnonzero(code == 0).tolist()),
    )


def _task_cis(table: np.ndarray) -> list[tuple[float, float] | None]:
    """The 95 % CI (pp) of each row's change (b_k, b_n, c_k, c_n); None for a row with a side of 0 runs."""
    ok = (table[:, 1] > 0) & (table[:, 3] > 0)
    n = np.where(ok[:, None], table, 1)  # placeholders keep the vector maths finite; dropped below
    lo, hi = newcombe_pp(n[:, 0], n[:, 1], n[:, 2], n[:, 3])
    rows = zip(lo.tolist(), hi.tolist(), ok.tolist(), strict=True)
    return [(a, b) if good else None for a, b, good in rows]


def rank_order(code: np.ndarray, delta: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Task indices worst first: significant regressions, other drops, significant rises, the rest;
    then by p-value, then by position (names come sorted)."""
    group = np.where(code == 0, 0, np.where(delta < 0, 1, np.where(code == 1, 2, np.where(delta > 0, 3, 4))))
    return np.lexsort((np.arange(code.size), p, group))
