"""Validate the verdict statistics by seeded simulation at the designs of statistics.md.

Prints, beside Kalibra's naive per-task count: the false-flag rate of `significant_regressions > 0`
with no change, power with three tasks dropping 30 pp, BCa coverage of the median change, and the
paired success-rate CI width; and, for pooled baselines (issue 12), the per-task gate's false-alarm rate
with 20 % flaky tasks on the base branch and its detection rate of planted drops, one baseline run vs
eight pooled. Usage: python bench/stats_validation.py [--reps N] [--history-reps N] [--seed S]
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
from kalibra_action.stats.bca import bca_median_pct
from kalibra_action.stats.intervals import success_rate_interval
from kalibra_action.stats.pertask import compare_tasks

SPREAD = np.linspace(0.20, 0.95, 25)
BIMODAL = np.concatenate([np.linspace(0.02, 0.15, 10), np.linspace(0.85, 0.99, 15)])
NAMES = [f"task-{i:02d}" for i in range(25)]


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
    for _ in range(reps):
        bk, ck = rng.binomial(runs, BIMODAL), rng.binomial(runs, BIMODAL)
        total = runs * BIMODAL.size
        r = success_rate_interval(int(bk.sum()), total, int(ck.sum()), total, bk / runs, ck / runs,
                                  tasks_match=True)
        widths.append(r.hi - r.lo)
    return float(np.mean(widths))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=20_000, help="repetitions per per-task design")
    ap.add_argument("--bca-reps", type=int, default=4000, help="repetitions for BCa coverage")
    ap.add_argument("--history-reps", type=int, default=2000,
                    help="repetitions per pooled-baseline design (each pools 8 runs)")
    ap.add_argument("--history-runs", type=int, default=5, help="runs a task per run in those designs")
    ap.add_argument("--only-history", action="store_true", help="run the pooled-baseline designs only")
    ap.add_argument("--seed", type=int, default=20261126)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    rows = []
    if args.only_history:
        _print(history_rows(rng, args.history_reps, args.history_runs), t0,
               f"{args.history_reps} repetitions per design, seed {args.seed}")
        return
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
    width = paired_width(rng, args.reps)
    rows.append(("paired success-rate CI, bimodal 25 × 5", f"mean width = {width:.1f} pp",
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
