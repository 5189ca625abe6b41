"""Pool several baseline runs: which runs may be pooled, which tasks are flaky, and what pooling buys.

Runs are pooled only when they measured the same thing: a run whose config hash differs from the newest
run's (or that records none, or repeats a run already taken, or shares no task with the newest) is left out
with the reason. Per task, the runs' pass/fail counts form a runs × 2 table; under "the task has one pass
rate" the table's distribution given its margins is the multivariate hypergeometric, and the chi-square
statistic's exact tail under it (Freeman–Halton style, computed by dynamic programming over the runs) is the
homogeneity p-value; large tables fall back to a seeded Monte-Carlo estimate. Benjamini–Hochberg across the
tested tasks at the per-task FDR: a task whose between-run variation is beyond binomial noise is flaky.

Flakiness the test cannot prove still inflates a pooled comparison (4 runs a task cannot tell a 15 %/85 %
task from a steady one half of the time), so every task's counts are also scaled by its design effect
before the per-task test: with the beta-binomial intra-run correlation ρ estimated from the runs (method
of moments, clipped to [0, 1]), m runs a task per run count as m / (1 + (m − 1) ρ) independent ones, on the
pooled side and on the current side (Kish 1965). A steady task keeps ρ ≈ 0 and its counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from kalibra_action.history.summary import RunSummary
from kalibra_action.stats import distributions as D
from kalibra_action.stats.pertask import POWER_Z, bh_adjust

EXACT_MAX_WORK = 20_000_000  # cells × steps of the exact DP before the Monte-Carlo estimate takes over
EXACT_MAX_LCM = 10_000
MONTE_CARLO_DRAWS = 20_000
MONTE_CARLO_UNIT = 50  # work units one run of one drawn table costs (measured against the exact programme)
POOL_MAX_WORK = 2_500_000_000  # work units of all flakiness tests of one pool (about 20 s on one core)
MAX_LISTED = 100  # flaky task names listed in the report (all are counted)


@dataclass(frozen=True)
class RunInfo:
    """One baseline run as the report shows it: where it came from, whether it was pooled and why not."""

    source: str
    run_id: str | None
    commit: str | None
    created: str | None
    traces: int
    pooled: bool
    reason: str | None
    headline: dict[str, float | None]

    def as_dict(self) -> dict:
        return {"source": self.source, "run_id": self.run_id, "commit": self.commit, "created": self.created,
                "traces": self.traces, "pooled": self.pooled, "reason": self.reason, **self.headline}


@dataclass(frozen=True)
class PooledBaseline:
    """Per-task counts summed over the pooled runs, the flaky tasks, and every run's provenance."""

    counts: dict[str, tuple[int, int]]  # task → (passes, runs with a known outcome), pooled
    newest: dict[str, tuple[int, int]]  # the same for the newest run alone
    flaky: dict[str, float]  # flaky task → q-value of its homogeneity test
    tested: int  # tasks seen in two or more pooled runs (the ones that could be flaky)
    runs: tuple[RunInfo, ...]  # oldest first; the last one is the newest
    fdr: float
    rho: dict[str, tuple[float, float]] = field(default_factory=dict)  # task → (ρ, mean runs a base run)
    flaky_counts: bool = False  # whether flaky tasks' regressions count toward the gates
    notes: tuple[str, ...] = field(default=())

    @property
    def pooled_runs(self) -> list[RunInfo]:
        return [r for r in self.runs if r.pooled]

    def as_dict(self) -> dict:
        pooled = self.pooled_runs
        return {
            "runs_pooled": len(pooled), "runs_given": len(self.runs),
            "traces_pooled": sum(r.traces for r in pooled),
            "commits": list(dict.fromkeys(r.commit for r in pooled if r.commit)),  # two runs, one commit
            "excluded": [{"source": r.source, "run_id": r.run_id, "reason": r.reason}
                         for r in self.runs if not r.pooled],
            "flaky_tasks": sorted(self.flaky)[:MAX_LISTED], "n_flaky": len(self.flaky),
            "tasks_tested_for_flakiness": self.tested, "fdr": self.fdr, "flaky_counts": self.flaky_counts,
            "runs": [r.as_dict() for r in self.runs], "notes": list(self.notes),
        }


def _exclusion(run: RunSummary, newest: RunSummary, seen: set[str]) -> str | None:
    """Why `run` may not be pooled with `newest` (None: it may)."""
    if newest.config_hash and run.config_hash != newest.config_hash:
        if not run.config_hash:
            return "records no config hash, so it may have measured something else"
        return (f"config changed: hash {run.config_hash[:12]} differs from the newest run's "
                f"{newest.config_hash[:12]}")
    if run.run_id and run.run_id in seen:
        return f"run {run.run_id} is already pooled"
    if not (run.tasks.keys() & newest.tasks.keys()):
        return "shares no task with the newest run"
    return None


def _info(run: RunSummary, reason: str | None) -> RunInfo:
    return RunInfo(run.source, run.run_id, run.commit, run.created, run.traces, reason is None, reason,
                   run.headline())


def pool_runs(runs: Sequence[RunSummary], *, fdr: float = 0.10, flaky_counts: bool = False,
              seed: int = 42, skipped: Sequence[tuple[str, ...]] = ()) -> PooledBaseline:
    """Pool `runs` (oldest first, the last is the newest and is always pooled). `skipped`: (run, reason)
    of runs left out before they were read (a fork's run, a run without a summary), listed first."""
    if not runs:
        raise ValueError("pool_runs needs at least one run")
    newest = runs[-1]
    seen = {newest.run_id} if newest.run_id else set()
    infos = [RunInfo(str(name), rest[0] if rest else None, None, None, 0, False, str(reason), {})
             for name, reason, *rest in skipped]  # (name, reason[, run id])
    taken: list[RunSummary] = []
    for run in runs[:-1]:
        reason = _exclusion(run, newest, seen)
        infos.append(_info(run, reason))
        if reason is None:
            taken.append(run)
            if run.run_id:
                seen.add(run.run_id)
    taken.append(newest)
    infos.append(_info(newest, None))
    tasks = sorted(newest.tasks)  # the newest run decides which tasks the baseline has
    tables = {t: tuple(sorted((r.tasks[t].passed, r.tasks[t].known) for r in taken
                              if t in r.tasks and r.tasks[t].known)) for t in tasks}
    counts = {t: (sum(k for k, _ in rows), sum(n for _, n in rows)) for t, rows in tables.items()}
    testable = [t for t in tasks if len(tables[t]) >= 2]
    p, approximated = homogeneity_ps([tables[t] for t in testable], seed)
    q = bh_adjust(p)
    flaky = {t: float(qv) for t, qv in zip(testable, q.tolist(), strict=True) if qv <= fdr}
    rho = {t: r for t in testable if (r := _rho(tables[t]))[0] > 0}
    return PooledBaseline(
        counts={t: c for t, c in counts.items() if c[1]},
        newest={t: (c.passed, c.known) for t, c in newest.tasks.items() if c.known},
        flaky=flaky, tested=len(testable), runs=tuple(infos), fdr=fdr, rho=rho, flaky_counts=flaky_counts,
        notes=(f"{approximated:,} tasks' flakiness tested by the chi-square approximation (the exact tests "
               f"past the work budget would take too long)",) if approximated else ())


def _rho(rows: tuple[tuple[int, int], ...]) -> tuple[float, float]:
    """(ρ, mean runs a base run): the beta-binomial intra-run correlation by the method of moments."""
    n = np.array([n for _, n in rows], dtype=float)
    x = np.array([k for k, _ in rows], dtype=float) / n
    m = float(n.mean())
    p = float(sum(k for k, _ in rows) / n.sum())
    if len(rows) < 2 or m <= 1 or p in (0.0, 1.0):
        return 0.0, m
    ratio = m * float(x.var(ddof=1)) / (p * (1 - p))
    return min(1.0, max(0.0, (ratio - 1) / (m - 1))), m


def effective_counts(pooled: PooledBaseline, task: str, b_k: int, b_n: int, c_k: int,
                     c_n: int) -> tuple[int, int, int, int]:
    """The four counts the per-task test uses: each side divided by its design effect for `task`."""
    rho, m = pooled.rho.get(task, (0.0, 1.0))
    if rho <= 0:
        return b_k, b_n, c_k, c_n
    base, cur = 1 + (m - 1) * rho, 1 + (c_n - 1) * rho

    def shrink(k: int, n: int, deff: float) -> tuple[int, int]:
        n_eff = max(1, round(n / deff))
        return min(n_eff, round(k * n_eff / n)), n_eff

    return (*shrink(b_k, b_n, base), *shrink(c_k, c_n, cur))


def _tested_rows(rows: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...] | None:
    """The rows a homogeneity test looks at; None when the answer is 1 without one (a lone run, or every
    run passing, or every run failing)."""
    rows = tuple((k, n) for k, n in rows if n > 0)
    big_k, big_n = sum(k for k, _ in rows), sum(n for _, n in rows)
    return None if len(rows) < 2 or big_k in (0, big_n) else rows


def _exact_work(rows: tuple[tuple[int, int], ...]) -> int | None:
    """Cells × steps of the exact dynamic programme for `rows`; None when it is too large to run."""
    big_k = sum(k for k, _ in rows)
    lcm = math.lcm(*(n for _, n in rows))
    work = (big_k + 1) * (lcm * big_k + 1) * sum(n + 1 for _, n in rows)
    return work if lcm <= EXACT_MAX_LCM and work <= EXACT_MAX_WORK else None


def test_cost(rows: tuple[tuple[int, int], ...]) -> int:
    """Work units (about 8 ns each) `homogeneity_p(rows)` takes: the exact programme's cells × steps, or
    the Monte-Carlo draws × runs at MONTE_CARLO_UNIT a drawn run."""
    tested = _tested_rows(rows)
    if tested is None:
        return 0
    exact = _exact_work(tested)
    return exact if exact is not None else MONTE_CARLO_DRAWS * len(tested) * MONTE_CARLO_UNIT


@lru_cache(maxsize=65_536)
def homogeneity_p(rows: tuple[tuple[int, int], ...], seed: int = 42) -> float:
    """P-value of 'every run has the same pass rate' for rows of (passes, runs): the probability, given
    the margins, of a table whose chi-square statistic is at least the observed one. Exact when the
    dynamic programme is small enough, else a seeded Monte-Carlo estimate (MONTE_CARLO_DRAWS tables)."""
    tested = _tested_rows(rows)
    if tested is None:
        return 1.0
    big_k, big_n = sum(k for k, _ in tested), sum(n for _, n in tested)
    if _exact_work(tested) is not None:
        return _exact_p(tested, big_k, big_n, math.lcm(*(n for _, n in tested)))
    return _monte_carlo_p(tested, big_k, seed)


def chi_square_p(rows: tuple[tuple[int, int], ...]) -> float:
    """The same test by the chi-square approximation (Pearson, runs − 1 degrees of freedom): microseconds
    a table, for the tables past the pool's work budget."""
    tested = _tested_rows(rows)
    if tested is None:
        return 1.0
    k = np.array([k for k, _ in tested], dtype=float)
    n = np.array([n for _, n in tested], dtype=float)
    rate = k.sum() / n.sum()
    stat = float(((k - n * rate) ** 2 / (n * rate * (1 - rate))).sum())
    return D.chi2_sf(stat, len(tested) - 1)


def homogeneity_ps(tables: Sequence[tuple[tuple[int, int], ...]], seed: int) -> tuple[np.ndarray, int]:
    """P-values of `tables` (p-value, how many used the chi-square approximation): distinct tables are
    tested exactly or by Monte Carlo, cheapest first, until POOL_MAX_WORK is spent; the rest (a summary may
    claim 50,000 tasks of 20 runs, hours of exact tests) by the chi-square approximation."""
    distinct = sorted(set(tables), key=lambda t: (test_cost(t), t))
    spent, approximated, p = 0, 0, {}
    for rows in distinct:
        spent += test_cost(rows)
        if spent <= POOL_MAX_WORK:
            p[rows] = homogeneity_p(rows, seed)
        else:
            p[rows] = chi_square_p(rows)
            approximated += 1
    return np.array([p[t] for t in tables], dtype=float), approximated


def _exact_p(rows: tuple[tuple[int, int], ...], big_k: int, big_n: int, lcm: int) -> float:
    """The exact tail: state (passes so far, Σ k²·lcm/n so far), weighted by binomial pmfs at the pooled
    rate (conditioning on the total makes the rate drop out, so the weights only need to be finite)."""
    top = lcm * big_k  # Σ k²/n ≤ Σ k, so the statistic never passes lcm × K
    prob = np.zeros((big_k + 1, top + 1))
    prob[0, 0] = 1.0
    rate = big_k / big_n
    for _, n in rows:
        w = np.asarray(D.binom_pmf(np.arange(n + 1), n, rate), dtype=float)
        step = lcm // n
        nxt = np.zeros_like(prob)
        for k in range(min(n, big_k) + 1):
            s = k * k * step
            nxt[k:, s:] += w[k] * prob[:big_k + 1 - k, :top + 1 - s]
        prob = nxt
    observed = sum(k * k * (lcm // n) for k, n in rows)
    dist = prob[big_k]
    return float(min(1.0, dist[observed:].sum() / dist.sum()))


def _monte_carlo_p(rows: tuple[tuple[int, int], ...], big_k: int, seed: int) -> float:
    """(1 + tables at least as extreme) / (1 + draws), tables drawn given the margins."""
    n = np.array([n for _, n in rows], dtype=np.int64)
    k = np.array([k for k, _ in rows], dtype=float)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_hypergeometric(n, big_k, size=MONTE_CARLO_DRAWS).astype(float)
    stat = (draws ** 2 / n).sum(axis=1)
    observed = float((k ** 2 / n).sum())
    extreme = np.count_nonzero(stat >= observed - 1e-9 * max(observed, 1.0))
    return float((1 + extreme) / (1 + MONTE_CARLO_DRAWS))


def mde_pp(rate: float, n_base: float, n_current: float, alpha: float) -> float | None:
    """Smallest drop (pp, whole points) from pass rate `rate` a one-sided test at `alpha` detects with
    80 % power, with `n_base` and `n_current` runs a side (normal approximation, unequal sizes); None when
    not even a 100 pp drop is detectable."""
    if n_base <= 0 or n_current <= 0:
        return None
    z = D.norm_isf(alpha) + POWER_Z
    for d in range(1, 101):
        p1 = min(max(rate, d / 100 + 0.01), 0.99)
        p2 = max(p1 - d / 100, 0.0)
        sd = math.sqrt(p1 * (1 - p1) / n_base + p2 * (1 - p2) / n_current)
        if p1 - p2 >= z * sd:
            return float(d)
    return None
