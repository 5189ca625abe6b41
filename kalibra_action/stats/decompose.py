"""Per-task summaries and the additive split of an aggregate change over groups of tasks.

The aggregate a reviewer sees for tokens, cost, duration and success rate is decomposed as the mean
per trace (for success rate: per run with a known outcome), because a mean is a sum over tasks:
M = Σ_t S_t / N (S_t the task's total, N the traces with a value), so the change splits exactly into
per-task contributions S_ct / N_c − S_bt / N_b, and any grouping of tasks adds up to the whole. A median
has no such split. A task present on one side only contributes its own side's share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def group_medians(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of the finite values of each group code 0..n_groups-1 (NaN for a group without one).

    One sort of the whole column (by group, then value), so many tasks cost one O(n log n) pass.
    """
    ok = np.isfinite(values)
    v, g = values[ok], codes[ok]
    out = np.full(n_groups, np.nan)
    if v.size == 0:
        return out
    order = np.lexsort((v, g))
    v = v[order]
    counts = np.bincount(g, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    lo = start[has] + (counts[has] - 1) // 2
    hi = start[has] + counts[has] // 2
    out[has] = v[lo] / 2 + v[hi] / 2  # halves first: two values near 1e308 would overflow their sum
    return out


def group_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and number of the finite values of each group code."""
    ok = np.isfinite(values)
    return (np.bincount(codes[ok], weights=values[ok], minlength=n_groups),
            np.bincount(codes[ok], minlength=n_groups))


@dataclass(frozen=True)
class Decomposition:
    """An aggregate mean on each side, its change, and each group's contribution to that change.

    `contributions[g]` sums exactly (in real arithmetic; to float rounding here) to `change`.
    """

    baseline: float
    current: float
    contributions: dict[str, float]
    tasks: dict[str, int]

    @property
    def change(self) -> float:
        return self.current - self.baseline

    @property
    def change_pct(self) -> float | None:
        """% change of the mean; None when the baseline mean is 0 (undefined)."""
        if self.baseline == 0:
            return None
        pct = self.change / self.baseline * 100
        return pct if math.isfinite(pct) else None

    def share_pct(self, group: str) -> float | None:
        """The group's contribution as a % of the change (shares add up to 100); None when it is 0."""
        if self.change == 0:
            return None
        share = self.contributions[group] / self.change * 100 + 0.0  # + 0.0: no "-0.0" for a zero share
        return share if math.isfinite(share) else None


def decompose_mean(b_sum: np.ndarray, b_count: int, c_sum: np.ndarray, c_count: int,
                   group: np.ndarray, names: tuple[str, ...]) -> Decomposition | None:
    """Split the change of the mean per trace into the contributions of task groups.

    b_sum / c_sum: each task's total on each side (0 where the task has no value), aligned by task;
    b_count / c_count: values behind each side's mean; group: index into `names` per task. Each mean and
    contribution is a compensated sum (math.fsum) of the per-task terms, so the parts match the whole to
    the last bits. None when a side has no value.
    """
    if b_count == 0 or c_count == 0:
        return None
    b_term, c_term = b_sum / b_count, c_sum / c_count
    contributions, tasks = {}, {}
    for i, name in enumerate(names):
        mask = group == i
        contributions[name] = math.fsum(c_term[mask].tolist()) - math.fsum(b_term[mask].tolist())
        tasks[name] = int(np.count_nonzero(mask))
    return Decomposition(math.fsum(b_term.tolist()), math.fsum(c_term.tolist()), contributions, tasks)
