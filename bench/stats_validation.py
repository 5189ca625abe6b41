"""Validate the verdict statistics by seeded simulation at the designs of statistics.md.

Prints, beside Kalibra's naive per-task count: the false-flag rate of `significant_regressions > 0`
with no change, power with three tasks dropping 30 pp, BCa coverage of the median change, the
task-weighted success-rate CI width, and the coverage of the per-task CI of a pass-rate change over a
grid of run counts and rates (simulated, with its Monte-Carlo error, beside the exact value); and, for
pooled baselines (issue 12), the per-task gate's false-alarm rate with 20 % flaky tasks on the base branch
and its detection rate of planted drops, one baseline run vs eight pooled.
Usage: python bench/stats_validation.py [--reps N] [--history-reps N] [--seed S] [--per-task-only]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kalibra_action.history.pool import effective_counts, pool_runs
from kalibra_action.history.summary import RunSummary, TaskCounts
from kalibra_action.stats import distributions as D
from kalibra_action.stats.bca import bca_median_pct
from kalibra_action.stats.intervals import mix_shift, newcombe_pp, pooled_interval, task_weighted_interval
from kalibra_action.stats.pertask import compare_tasks, one_sided_p

SPREAD = np.linspace(0.20, 0.95, 25)
BIMODAL = np.concatenate([np.linspace(0.02, 0.15, 10), np.linspace(0.85, 0.99, 15)])
NAMES = [f"task-{i:02d}" for i in range(25)]
CI_RUNS = (3, 5, 10, 30, 100)  # runs a side of the per-task CI grid
CI_RATES = (0.05, 0.2, 0.5, 0.8, 0.95)  # pass rates, every baseline × current pair


def per_task_design(rng, rates, runs, reps, drop=()):
    flagged = power = naive_fail = 0
    naive_counts = []
    cur_rates = rates.copy()
    cur_rates[list(drop)] -= 0.30
    n = np.full(rates.size, runs)
    for _ in range(reps):
        bk, ck = rng.binomial(runs, rates), rng.binomial(runs, cur_rates)
        res = compare_tasks(NAMES[: rates.size], bk, n, ck, n)
        naive = sum(t.naive == "regressed" for t in res.tasks)
        naive_counts.append(naive)
        naive_fail += naive > 2
        flagged += res.significant_regressions > 0
        power += any(res.tasks[i].verdict == "regressed" for i in drop)
    return flagged / reps, power / reps, float(np.mean(naive_counts)), naive_fail / reps


FLAKY_RATES = (0.15, 0.85)  # a flaky task's pass rate in one run: either, at random


def _rates_of_a_run(rng, rates, flaky):
    """Each run's per-task pass rates: the task's own rate, or for a flaky task a fresh draw."""
    out = rates.copy()
    out[flaky] = rng.choice(FLAKY_RATES, size=len(flaky))
    return out


def _summary(k, runs, i):
    tasks = {NAMES[t]: TaskCounts(int(k[t]), int(runs - k[t])) for t in range(k.size)}
    return RunSummary(tasks=tasks, traces=runs * k.size, overall={}, run_id=str(i), config_hash="0" * 64)


def history_design(rng, rates, runs, reps, n_base, flaky=(), drop=()):
    """P(the per-task gate fails) and P(a dropped task is flagged), with the newest base run alone and
    with `n_base` runs pooled (flaky tasks' regressions not counted, as by default)."""
    flaky, drop = list(flaky), list(drop)
    names = NAMES[: rates.size]
    n = np.full(rates.size, runs)
    alarm = np.zeros(2)
    found = np.zeros(2)
    for _ in range(reps):
        base = [rng.binomial(runs, _rates_of_a_run(rng, rates, flaky)) for _ in range(n_base)]
        cur_rates = _rates_of_a_run(rng, rates, flaky)
        cur_rates[drop] -= 0.30
        ck = rng.binomial(runs, cur_rates)
        one = compare_tasks(names, base[-1], n, ck, n)
        alarm[0] += one.significant_regressions > 0
        found[0] += bool(drop) and any(names[i] in one.regressed_ids for i in drop)
        pooled = pool_runs([_summary(k, runs, i) for i, k in enumerate(base)])
        tested = [effective_counts(pooled, t, *pooled.counts[t], int(ck[i]), runs)
                  for i, t in enumerate(names)]
        res = compare_tasks(names, *(np.array([r[j] for r in tested]) for j in range(4)))
        counted = [t for t in res.regressed_ids if t not in pooled.flaky]
        alarm[1] += bool(counted)
        found[1] += bool(drop) and any(names[i] in counted for i in drop)
    return alarm / reps, found / reps


def _pm(p, reps):
    return f"{p:.3f} ± {(p * (1 - p) / reps) ** 0.5:.3f}"


def history_rows(rng, reps, runs=5):
    """The validation rows of issue 12: 25 tasks × `runs` runs a side, 5 of them (20 %) flaky on the base
    branch, the newest base run alone vs 8 runs pooled."""
    flaky = (2, 7, 12, 17, 21)
    rows = []
    alarm, _ = history_design(rng, SPREAD, runs, reps, 8, flaky=flaky)
    rows.append((f"no change, 20 % flaky tasks, 25 × {runs} spread: P(`significant_regressions > 0`)",
                 f"8 runs pooled: {_pm(alarm[1], reps)}", f"1 run (today): {_pm(alarm[0], reps)}", "≤ 0.05"))
    alarm, _ = history_design(rng, SPREAD, runs, reps, 8)
    rows.append((f"no change, no flaky task, 25 × {runs} spread: P(`significant_regressions > 0`)",
                 f"8 runs pooled: {_pm(alarm[1], reps)}", f"1 run: {_pm(alarm[0], reps)}", "≤ 0.06"))
    drop = (22, 23, 24)
    _, found = history_design(rng, SPREAD, runs, reps, 8, flaky=flaky, drop=drop)
    rates = ", ".join(f"{SPREAD[i]:.2f}" for i in drop)
    rows.append((f"3 stable tasks (rates {rates}) drop 30 pp, 20 % flaky, 25 × {runs}: detection",
                 f"8 runs pooled: {_pm(found[1], reps)}", f"1 run: {_pm(found[0], reps)}", "pooled > 1 run"))
    return rows


def bca_coverage(rng, reps, n=50, sigma=1.0, resamples=10_000):
    hits = 0
    for _ in range(reps):
        b, c = rng.lognormal(0, sigma, n), rng.lognormal(0, sigma, n)
        bm = np.median(b[rng.integers(0, n, (resamples, n))], axis=1)
        cm = np.median(c[rng.integers(0, n, (resamples, n))], axis=1)
        ci = bca_median_pct(b, c, bm, cm)
        hits += ci is not None and ci[0] <= 0 <= ci[1]
    return hits / reps


def paired_width(rng, reps, runs=5):
    widths = []
    n = np.full(BIMODAL.size, runs)
    for _ in range(reps):
        bk, ck = rng.binomial(runs, BIMODAL), rng.binomial(runs, BIMODAL)
        r = task_weighted_interval(bk, n, ck, n)
        widths.append(r.hi - r.lo)
    return float(np.mean(widths))


MIX_RUNS = np.array([80] * 15 + [20] * 10)  # the task mix: 15 easy tasks × 80 runs, 10 hard × 20
MIX_BASE = np.array([0.85] * 15 + [0.90] * 10)


def mix_coverage(rng, reps, drop):
    """Coverage of the pooled and task-weighted CIs, each of its own true value, and the mix-shift flag
    rate, on the issue's task mix with the hard tasks dropping by `drop` (0: no change anywhere)."""
    cur = MIX_BASE - np.array([0.0] * 15 + [drop] * 10)
    true_pooled = float(np.sum(MIX_RUNS * (cur - MIX_BASE)) / MIX_RUNS.sum()) * 100
    true_weighted = float(np.mean(cur - MIX_BASE)) * 100
    hits_p = hits_w = flags = 0
    for _ in range(reps):
        bk, ck = rng.binomial(MIX_RUNS, MIX_BASE), rng.binomial(MIX_RUNS, cur)
        p = pooled_interval(bk, MIX_RUNS, ck, MIX_RUNS, tasks_match=True)
        w = task_weighted_interval(bk, MIX_RUNS, ck, MIX_RUNS)
        hits_p += p.lo <= true_pooled <= p.hi
        hits_w += w.lo <= true_weighted <= w.hi
        flags += mix_shift(bk, MIX_RUNS, ck, MIX_RUNS).flag
    return hits_p / reps, hits_w / reps, flags / reps


def task_ci_coverage(rng, n, pb, pc, reps):
    """Simulated coverage of the per-task CI at n runs a side, true rates pb → pc."""
    bk, ck = rng.binomial(n, pb, reps), rng.binomial(n, pc, reps)
    lo, hi = newcombe_pp(bk, np.full(reps, n), ck, np.full(reps, n))
    true = (pc - pb) * 100
    return float(np.mean((lo <= true + 1e-9) & (true - 1e-9 <= hi)))


def task_ci_exact(n, pb, pc):
    """Exact coverage: every (k_b, k_c) table weighted by its binomial probability."""
    k = np.arange(n + 1)
    kb, kc = np.meshgrid(k, k, indexing="ij")
    lo, hi = newcombe_pp(kb, np.full_like(kb, n), kc, np.full_like(kc, n))
    true = (pc - pb) * 100
    w = np.outer(D.binom_pmf(k, n, pb), D.binom_pmf(k, n, pc))
    return float(np.sum(w * ((lo <= true + 1e-9) & (true - 1e-9 <= hi))))


def test_agreement(n):
    """Share of tables (k_b, k_c) at n runs a side, weighted as under no change at rate 0.5, where "the
    CI lies below 0" and "one-sided exact p < 0.025" disagree (the same 2.5 % tail)."""
    k = np.arange(n + 1)
    kb, kc = (x.ravel() for x in np.meshgrid(k, k, indexing="ij"))
    _, hi = newcombe_pp(kb, np.full_like(kb, n), kc, np.full_like(kc, n))
    p = np.array([one_sided_p(int(b), n, int(c), n) for b, c in zip(kb, kc, strict=True)])
    w = np.outer(D.binom_pmf(k, n, 0.5), D.binom_pmf(k, n, 0.5)).ravel()
    return float(np.sum(w * ((hi < 0) != (p < 0.025)))), float(np.mean((hi < 0) != (p < 0.025)))


def per_task_ci_table(rng, reps):
    """One row per run count: mean, min and max coverage over the rate pairs, simulated and exact."""
    print(f"| runs a side | simulated coverage, mean of {len(CI_RATES) ** 2} rate pairs | "
          "min – max (simulated) | exact mean | exact min | disagrees with exact test |")
    print("|---|---|---|---|---|---|")
    for n in CI_RUNS:
        sims, exact = [], []
        for pb in CI_RATES:
            for pc in CI_RATES:
                sims.append(task_ci_coverage(rng, n, pb, pc, reps))
                exact.append(task_ci_exact(n, pb, pc))
        sims_a = np.array(sims)
        se = float(np.sqrt(np.sum(sims_a * (1 - sims_a) / reps)) / sims_a.size)
        weighted, tables = test_agreement(n) if n <= 30 else (float("nan"), float("nan"))
        agree = f"{weighted:.1%} (of tables {tables:.1%})" if n <= 30 else "not run (Boschloo at n=100: slow)"
        print(f"| {n} | {sims_a.mean():.1%} ± {se:.2%} | {sims_a.min():.1%} – {sims_a.max():.1%} | "
              f"{np.mean(exact):.1%} | {min(exact):.1%} | {agree} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=20_000, help="repetitions per per-task design")
    ap.add_argument("--bca-reps", type=int, default=4000, help="repetitions for BCa coverage")
    ap.add_argument("--history-reps", type=int, default=2000,
                    help="repetitions per pooled-baseline design (each pools 8 runs)")
    ap.add_argument("--history-runs", type=int, default=5, help="runs a task per run in those designs")
    ap.add_argument("--only-history", action="store_true", help="run the pooled-baseline designs only")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--ci-reps", type=int, default=4000, help="repetitions per cell of the per-task CI grid")
    ap.add_argument("--per-task-only", action="store_true", help="only the per-task CI coverage table")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    if args.only_history:
        _print(history_rows(rng, args.history_reps, args.history_runs), t0,
               f"{args.history_reps} repetitions per design, seed {args.seed}")
        return
    per_task_ci_table(rng, args.ci_reps)
    print(f"\n{args.ci_reps} repetitions per cell, seed {args.seed}, {time.time() - t0:.0f} s\n")
    if args.per_task_only:
        return
    rows = []
    designs = (("25 tasks × 10 runs, spread", SPREAD, 10), ("25 tasks × 5 runs, spread", SPREAD, 5),
               ("25 tasks × 10 runs, bimodal", BIMODAL, 10))
    for label, rates, runs in designs:
        fp, _, naive, naive_fail = per_task_design(rng, rates, runs, args.reps)
        se = (fp * (1 - fp) / args.reps) ** 0.5
        rows.append((f"no change, {label}", f"P(significant_regressions > 0) = {fp:.3f} ± {se:.3f}",
                     f"naive regressions {naive:.1f}, `regressions <= 2` fails {naive_fail:.1%}",
                     "≤ 0.06" if "spread" in label else "–"))
    # which three tasks drop matters: a 30 pp drop from 0.95 is easier to see than one from 0.50
    for drop, target in (((22, 23, 24), "≥ 0.27"), ((8, 16, 24), "–")):
        _, pw, naive, _ = per_task_design(rng, SPREAD, 10, args.reps, drop=drop)
        se = (pw * (1 - pw) / args.reps) ** 0.5
        rates = ", ".join(f"{SPREAD[i]:.2f}" for i in drop)
        rows.append((f"3 tasks (rates {rates}) drop 30 pp, 25 × 10 spread", f"power = {pw:.3f} ± {se:.3f}",
                     f"naive regressions {naive:.1f}", target))
    cov = bca_coverage(rng, args.bca_reps)
    se = (cov * (1 - cov) / args.bca_reps) ** 0.5
    rows.append(("BCa median change, lognormal σ=1, n=50", f"coverage = {cov:.1%} ± {se:.1%}",
                 "Kalibra percentile 95.6 %", "94–96 %"))
    mix_reps = max(args.reps // 10, 100)
    for drop in (0.0, 0.5):
        cp, cw, fl = mix_coverage(rng, mix_reps, drop)
        se = (0.95 * 0.05 / mix_reps) ** 0.5
        what = "no change" if drop == 0 else f"hard tasks −{drop * 100:.0f} pp"
        rows.append((f"pooled / task-weighted CI, 15 × 80 + 10 × 20 runs, {what}",
                     f"coverage {cp:.1%} / {cw:.1%} (± {se:.1%}); mix shift flagged {fl:.1%}",
                     "before issue 10 the pooled point had the task-weighted interval",
                     "≥ 95 %; flag ≈ 5 % / ≫"))
    width = paired_width(rng, args.reps)
    rows.append(("task-weighted success-rate CI, bimodal 25 × 5", f"mean width = {width:.1f} pp",
                 "unpaired ≈ 24.4 pp", "≤ 14 pp"))
    rows += history_rows(rng, args.history_reps, args.history_runs)
    _print(rows, t0, f"{args.reps} repetitions per design ({args.bca_reps} for BCa, {args.history_reps} "
           f"for pooled baselines), seed {args.seed}")


def _print(rows, t0, what):
    print("| design | ours | Kalibra / reference | target |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\n{what}, {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
