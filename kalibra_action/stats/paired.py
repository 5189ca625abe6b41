"""Paired per-task comparison of a continuous metric: the geometric-mean ratio over matched tasks.

When the same tasks run on both sides, task-to-task spread (some tasks are simply expensive) is
removed by comparing each task with itself: d_t = log GM_current(t) − log GM_baseline(t), then a
t-interval over tasks, reported as a % change. Only positive, finite values enter a geometric mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kalibra_action.stats import distributions as D
from kalibra_action.stats.intervals import MDE_FACTOR, MIN_TASKS


@dataclass(frozen=True)
class RatioInterval:
    """% change of the per-task geometric mean, its CI and MDE (%), over `tasks` matched tasks."""

    pct: float
    lo: float
    hi: float
    mde: float
    tasks: int


_EXP_LIMIT = 700.0  # exp(700) ~ 1e304, still finite after * 100; beyond, the % ratio is not a float


def task_log_means(values: np.ndarray, task: np.ndarray, n_tasks: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of log(value) per task code and the number of values behind it (positive finite only)."""
    ok = np.isfinite(values) & (values > 0)
    counts = np.bincount(task[ok], minlength=n_tasks)
    sums = np.bincount(task[ok], weights=np.log(values[ok]), minlength=n_tasks)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts, counts


def paired_ratio(b_values: np.ndarray, b_task: np.ndarray, b_names: tuple[str, ...],
                 c_values: np.ndarray, c_task: np.ndarray, c_names: tuple[str, ...],
                 alpha: float = 0.05) -> RatioInterval | None:
    """Paired geometric-mean ratio over tasks present with data on both sides; None under MIN_TASKS."""
    b_log, b_cnt = task_log_means(b_values, b_task, len(b_names))
    c_log, c_cnt = task_log_means(c_values, c_task, len(c_names))
    c_index = {name: i for i, name in enumerate(c_names)}
    diffs = [c_log[c_index[name]] - b_log[i] for i, name in enumerate(b_names)
             if b_cnt[i] and name in c_index and c_cnt[c_index[name]]]
    m = len(diffs)
    if m < MIN_TASKS:
        return None
    d = np.asarray(diffs)
    mean = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(m))
    t = D.t_isf(alpha / 2, m - 1)

    def pct(x: float) -> float:
        return round((math.exp(x) - 1) * 100, 1) if x < _EXP_LIMIT else math.inf

    out = (pct(mean), pct(mean - t * se), pct(mean + t * se), pct(MDE_FACTOR * se))
    if not all(math.isfinite(v) for v in out):  # a ratio beyond 1e300 (values ~1e600 apart): no number
        return None
    return RatioInterval(*out, m)
