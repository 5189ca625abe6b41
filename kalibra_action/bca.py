"""Bias-corrected and accelerated (BCa) bootstrap intervals for the % change of medians or means.

Efron (1987). The bootstrap replicates come from the caller (the fast median path or plain
resampling); this module adds the bias correction z0 from the replicates and the acceleration from
the two-sample jackknife, which for a median or a mean is computed in O(n) without refitting.
Where BCa is undefined (every replicate on one side of the estimate, a zero baseline, too few
values) the caller falls back to the percentile interval.
"""

from __future__ import annotations

import math

import numpy as np

from kalibra_action import distributions as D


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
    return (lower + upper) / 2


def loo_means(x: np.ndarray) -> np.ndarray:
    """Mean of the sample with element i left out, for every i."""
    n = x.size
    return (x.sum() - x) / (n - 1)


def pct_change(base: np.ndarray | float, cur: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(cur, float) - base) / base * 100.0


def acceleration(jack_groups: list[np.ndarray]) -> float | None:
    """Two-sample jackknife acceleration: leave-one-out estimates from each sample, pooled."""
    num = den = 0.0
    for jack in jack_groups:
        jack = jack[np.isfinite(jack)]
        if jack.size == 0:
            return None
        u = jack.mean() - jack
        num += float(np.sum(u**3))
        den += float(np.sum(u**2))
    if den <= 0:
        return 0.0
    return num / (6.0 * den**1.5)


def bca_bounds(replicates: np.ndarray, estimate: float, accel: float | None,
               alpha: float = 0.05) -> tuple[float, float] | None:
    """BCa interval from bootstrap replicates of the statistic; None where BCa is undefined."""
    reps = replicates[np.isfinite(replicates)]
    if reps.size < 2 or accel is None or not math.isfinite(estimate):
        return None
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
    lo, hi = np.quantile(reps, out, method="linear")
    return float(lo), float(hi)


def bca_median_pct(base: np.ndarray, cur: np.ndarray, base_reps: np.ndarray, cur_reps: np.ndarray,
                   alpha: float = 0.05) -> tuple[float, float] | None:
    """BCa CI of the % change of medians, given bootstrap medians of each side (same length)."""
    b, c = np.sort(base), np.sort(cur)
    mb, mc = float(np.median(b)), float(np.median(c))
    if mb == 0 or b.size < 3 or c.size < 3:
        return None
    jack_b = pct_change(loo_medians(b), mc)
    jack_c = pct_change(mb, loo_medians(c))
    reps = pct_change(base_reps, cur_reps)
    return bca_bounds(reps, (mc - mb) / mb * 100, acceleration([jack_b, jack_c]), alpha)


def bca_mean_pct(base: np.ndarray, cur: np.ndarray, base_reps: np.ndarray, cur_reps: np.ndarray,
                 alpha: float = 0.05) -> tuple[float, float] | None:
    """BCa CI of the % change of means, given bootstrap means of each side (same length)."""
    mb, mc = float(np.mean(base)), float(np.mean(cur))
    if mb == 0 or base.size < 3 or cur.size < 3:
        return None
    jack_b = pct_change(loo_means(np.asarray(base, float)), mc)
    jack_c = pct_change(mb, loo_means(np.asarray(cur, float)))
    reps = pct_change(base_reps, cur_reps)
    return bca_bounds(reps, (mc - mb) / mb * 100, acceleration([jack_b, jack_c]), alpha)
