"""The statistics room: everything the metrics need to turn two samples into an estimate and an interval.

- `bootstrap`: % change, medians and means, the pooled z-test, the seeded fast bootstrap with percentile
  and BCa intervals;
- `bca`: the BCa pieces (bias correction, jackknife acceleration, adjusted levels);
- `intervals`: intervals for a change in success rate (per task, pooled, task-weighted) and the
  mix-shift test;
- `paired`: the paired per-task geometric-mean ratio of a continuous metric;
- `pertask`: one-sided exact tests per task with Benjamini–Hochberg;
- `distributions`: the normal, t, binomial, Fisher and Boschloo routines (numpy only; scipy is the
  test oracle).

This package depends on numpy and the standard library alone: nothing here knows about traces, metrics,
gates or reports (tests/unit/test_import_layers.py checks it). docs/statistics.md describes the methods.
Only what the metrics use is exported here; tests and benchmarks import the modules directly.
"""

from kalibra_action.stats.bootstrap import (
    bootstrap_pct,
    excludes_zero,
    mde_from_ci,
    mean,
    median,
    pct_delta,
    total,
    two_proportion_z,
)
from kalibra_action.stats.intervals import (
    MIN_TASKS,
    MixShift,
    mix_shift,
    newcombe,
    newcombe_pp,
    pooled_interval,
    task_weighted_interval,
)
from kalibra_action.stats.paired import RatioInterval, paired_ratio, task_log_means
from kalibra_action.stats.pertask import PerTaskResult, TaskVerdict, compare_tasks

__all__ = [
    "MIN_TASKS",
    "MixShift",
    "PerTaskResult",
    "RatioInterval",
    "TaskVerdict",
    "bootstrap_pct",
    "compare_tasks",
    "excludes_zero",
    "mde_from_ci",
    "mean",
    "median",
    "mix_shift",
    "newcombe",
    "newcombe_pp",
    "paired_ratio",
    "pct_delta",
    "pooled_interval",
    "task_log_means",
    "task_weighted_interval",
    "total",
    "two_proportion_z",
]
