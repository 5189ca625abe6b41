"""Bias-corrected and accelerated (BCa) bootstrap intervals for the % change of medians or means.

Efron (1987). The bootstrap replicates come from the caller (the fast median path or plain
resampling); this module adds the bias correction z0 from the replicates and the acceleration from
the two-sample jackknife, which for a median or a mean is computed in O(n) without refitting.
Where BCa is undefined (every replicate on one side of the estimate, a zero baseline, too few
values) the caller falls back to the percentile interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from kalibra_action.stats import distributions as D


def midpoint(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """(a + b) / 2 without overflow near 1e308 and without flushing two denormals like 5e-324 to 0."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(over="ignore", invalid="ignore"):
        small = (np.abs(a) < 1) & (np.abs(b) < 1)
        return np.where(small, (a + b) / 2, a / 2 + b / 2)


def loo_medians(sorted_x: np.ndarray) -> np.ndarray:
    """Median of the sample with element i left out, for every rank i of a sorted sample."""
    n = sorted_x.size
    r = np.arange(n)
    m = n - 1
    if m % 2:  # odd remaining count: one middle element at position k of the remaining array
        k = m // 2
        return np.where(r > k, sorted_x[k], sorted_x[min(k + 1, n - 1)])
    k = m // 2  # even remaining count: average of positions k-1 and k of the remaining array
    lower = np.where(r > k - 1, sorted_x[k - 1], sorted_x[k])
    upper = np.where(r > k, sorted_x[k], sorted_x[min(k + 1, n - 1)])
    return midpoint(lower, upper)


NOT_FINITE = ("the BCa interval could not be computed for these values (they are too large or too close "
              "to overflow for its bias and acceleration terms); the percentile interval is used instead")


def safe_mean(x: np.ndarray) -> float:
    """Arithmetic mean that does not overflow when the sum would (values near 1e308): the mean of the
    values scaled to at most 1 is at most 1 (rounding is monotonic), so scaling back stays finite."""
    with np.errstate(over="ignore"):
        m = float(np.mean(x))
    if math.isfinite(m) or not np.isfinite(x).all():
        return m
    top = float(np.max(np.abs(x)))
    return float(np.mean(x / top)) * top


def loo_means(x: np.ndarray) -> np.ndarray:
    """Mean of the sample with element i left out, for every i (scaled first: the sum cannot overflow)."""
    scaled = x / (x.size - 1)
    return scaled.sum() - scaled


def pct_change(base: np.ndarray | float, cur: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return (np.asarray(cur, float) - base) / base * 100.0


def acceleration(jack_groups: list[np.ndarray]) -> float | None:
    """Two-sample jackknife acceleration: leave-one-out estimates from each sample, pooled.

    The statistic is scale-free (cubes over the 3/2 power of squares), so the deviations are scaled to at
    most 1 first: with % changes near 1e300 their cubes would otherwise overflow to inf and give NaN.
    Non-finite leave-one-out values (a zero baseline) are undefined and left out, as in the replicates.
    """
    groups = [j[np.isfinite(j)] for j in jack_groups]
    if any(j.size == 0 for j in groups):
        return None
    tops = [float(np.max(np.abs(j))) for j in groups]
    scale = max(tops)
    if scale == 0:
        return 0.0
    devs = []
    for jack, top in zip(groups, tops, strict=True):
        scaled = (jack / top) * (top / scale) if top > 0 else jack  # |scaled| <= 1 without overflow
        devs.append(scaled.mean() - scaled)
    spread = max(float(np.max(np.abs(u))) for u in devs)
    if spread == 0:
        return 0.0
    num = den = 0.0
    for u in devs:
        v = u / spread  # the largest deviation is 1: no overflow in the cubes, no underflow of den
        num += float(np.sum(v**3))
        den += float(np.sum(v**2))
    a = num / (6.0 * den**1.5)
    return a if math.isfinite(a) else None


def bca_bounds(replicates: np.ndarray, estimate: float, accel: float | None,
               alpha: float = 0.05, notes: list[str] | None = None) -> tuple[float, float] | None:
    """BCa interval from bootstrap replicates of the statistic; None where BCa is undefined.

    The adjusted levels are clipped into [0, 1]; when a piece (estimate, acceleration, levels) is not finite
    the result is None and `notes` gets NOT_FINITE, so the caller says why it fell back to the percentile CI.
    """
    reps = replicates[np.isfinite(replicates)]
    if reps.size < 2:
        return None
    if accel is None or not math.isfinite(estimate) or not math.isfinite(accel):
        return _not_finite(notes)
    below = np.count_nonzero(reps < estimate) + 0.5 * np.count_nonzero(reps == estimate)
    frac = below / reps.size
    if frac <= 0.0 or frac >= 1.0:
        return None
    z0 = D.norm_ppf(frac)
    out = []
    for q in (alpha / 2, 1 - alpha / 2):
        zq = D.norm_ppf(q)
        denom = 1 - accel * (z0 + zq)
        if denom <= 0:
            return None
        out.append(D.norm_cdf(z0 + (z0 + zq) / denom))
    levels = np.asarray(out, dtype=float)
    if not (math.isfinite(z0) and np.isfinite(levels).all()):
        return _not_finite(notes)
    lo, hi = np.quantile(reps, np.clip(levels, 0.0, 1.0), method="linear")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return _not_finite(notes)
    return float(lo), float(hi)


def _not_finite(notes: list[str] | None) -> None:
    if notes is not None and NOT_FINITE not in notes:
        notes.append(NOT_FINITE)
    return None


def _sorted_median(x: np.ndarray) -> float:
    """Median of a sorted sample."""
    return float(midpoint(x[(x.size - 1) // 2], x[x.size // 2]))


def bca_median_pct(base: np.ndarray, cur: np.ndarray, base_reps: np.ndarray, cur_reps: np.ndarray,
                   alpha: float = 0.05, notes: list[str] | None = None) -> tuple[float, float] | None:
    """BCa CI of the % change of medians, given bootstrap medians of each side (same length)."""
    return _bca_pct(np.sort(base), np.sort(cur), base_reps, cur_reps, _sorted_median, loo_medians,
                    alpha, notes)


def bca_mean_pct(base: np.ndarray, cur: np.ndarray, base_reps: np.ndarray, cur_reps: np.ndarray,
                 alpha: float = 0.05, notes: list[str] | None = None) -> tuple[float, float] | None:
    """BCa CI of the % change of means, given bootstrap means of each side (same length)."""
    return _bca_pct(np.asarray(base, float), np.asarray(cur, float), base_reps, cur_reps, safe_mean,
                    loo_means, alpha, notes)


def _bca_pct(base: np.ndarray, cur: np.ndarray, base_reps: np.ndarray, cur_reps: np.ndarray,
             center: Callable[[np.ndarray], float], loo: Callable[[np.ndarray], np.ndarray], alpha: float,
             notes: list[str] | None) -> tuple[float, float] | None:
    """BCa CI of the % change of `center` (median or mean); `loo` gives its leave-one-out values, for the
    jackknife acceleration over both samples."""
    if base.size < 3 or cur.size < 3:
        return None
    mb, mc = center(base), center(cur)
    if mb == 0:
        return None
    jack_b = pct_change(loo(base), mc)
    jack_c = pct_change(mb, loo(cur))
    reps = pct_change(base_reps, cur_reps)
    return bca_bounds(reps, float(pct_change(mb, mc)), acceleration([jack_b, jack_c]), alpha, notes)
