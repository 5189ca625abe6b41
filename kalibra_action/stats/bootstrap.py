"""The bootstrap of a % change (and the small helpers the metrics share): medians, z-test, BCa intervals.

Intervals for proportions (Wilson, Newcombe, paired over tasks) live in `intervals`, BCa in `bca`,
per-task tests in `pertask`, the paired geometric-mean ratio in `paired`.

The bootstrap of the % change of a statistic follows Kalibra's rules (None when a side has < 2
values; undefined resamples — baseline statistic 0, current not — are dropped; None when more than
20 % are undefined; percentile CI on order statistics, bounds rounded to 1 decimal) but is
vectorised numpy, seeded, and never materialises a resample matrix:

* median, odd n: exact bootstrap distribution P(M* <= x_(j)) = P(Bin(n, j/n) >= (n+1)/2), sampled
  by inverse CDF on a window of +-8 sqrt(n) order statistics (found with `partition`, not a sort);
* median, even n >= MEDIAN_PLAIN_BELOW: the two middle order statistics drawn from their exact marginals
  with one shared uniform (comonotone coupling), then averaged. Both marginals are exact; the
  coupling only misstates the gap between them, which is O(1) positions against a spread of
  O(sqrt(n)) positions, so the CI error vanishes as n grows (tested against plain resampling);
* median, even n < MEDIAN_PLAIN_BELOW, and mean, n < MEAN_PLAIN_BELOW: plain resampling of int32 indices in
  chunks of ~2**22 cells (partition on the middle positions for the median);
* mean, n >= MEAN_PLAIN_BELOW: normal approximation of each side's resampled mean, sd = s / sqrt(n).

The same replicates also give the BCa interval (Efron 1987; `bca`), which the gates use; the
percentile interval stays in Kalibra's `ci_95`. BCa is undefined (→ percentile) when a side has
fewer than 3 values, the baseline statistic is 0, or every replicate lies on one side of the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kalibra_action.stats import distributions as D
from kalibra_action.stats.bca import bca_mean_pct, bca_median_pct, midpoint, safe_mean
from kalibra_action.stats.intervals import MDE_FACTOR

Stat = Literal["median", "mean"]

MEDIAN_PLAIN_BELOW = 400  # even n below this: resample the median for real (coupling error ~1/sqrt(n))
MEAN_PLAIN_BELOW = 500  # n below this: resample the mean for real; above: normal approximation
CHUNK_CELLS = 1 << 22  # int32 cells per resampling chunk (16 MiB)
MAX_UNDEFINED = 0.2  # Kalibra: more undefined resamples than this → no CI
Z95 = 1.959963984540054


def finite(x: float | None) -> float | None:
    """x as a float, or None when it is None, NaN or infinite."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def pct_delta(base: float, curr: float) -> float | None:
    """% change base → curr, rounded to 1 decimal; 0 → 0 is 0.0, 0 → x is None (undefined), and None when
    the change is too large for a float (values near 1e308 over a tiny baseline)."""
    if base == 0:
        return 0.0 if curr == 0 else None
    base, curr = float(base), float(curr)
    d = (curr - base) / base * 100
    if not math.isfinite(d):  # curr - base overflowed near 1e308; the ratio may still fit
        d = (curr / base - 1) * 100
    return round(d, 1) if math.isfinite(d) else None


def median(values: np.ndarray, default: float = 0.0) -> float:
    """Median (midpoint of the two middle values for even n); `default` for an empty array."""
    n = values.shape[0]
    if n == 0:
        return default
    k = n // 2
    if n % 2:
        return float(np.partition(values, k)[k])
    part = np.partition(values, (k - 1, k))
    return float(midpoint(part[k - 1], part[k]))  # no overflow near 1e308, no denormal flushed to 0


def mean(values: np.ndarray, default: float = 0.0) -> float:
    """Arithmetic mean without overflow for huge values; `default` for an empty array."""
    n = values.shape[0]
    if n == 0:
        return default
    return safe_mean(values)


def total(values: np.ndarray) -> float | None:
    """Sum, or None when it overflows."""
    with np.errstate(over="ignore"):
        return finite(np.sum(values)) if values.shape[0] else 0.0


def two_proportion_z(n1: int, s1: int, n2: int, s2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test of s1/n1 vs s2/n2 → (z, two-sided p), rounded like Kalibra."""
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    pool = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (s2 / n2 - s1 / n1) / se
    return round(z, 4), round(math.erfc(abs(z) / math.sqrt(2)), 6)


def mde_from_ci(ci: tuple[float, float] | None, z: float = Z95) -> float | None:
    """Minimum detectable effect at 80 % power: 2.80 × SE, SE = CI width / (2 z)."""
    if ci is None:
        return None
    return finite(MDE_FACTOR * (ci[1] - ci[0]) / (2 * z))


def excludes_zero(ci: tuple[float, float] | None) -> bool | None:
    """True when the CI lies entirely on one side of 0; None without a CI."""
    if ci is None:
        return None
    return not (ci[0] <= 0 <= ci[1])


# ── bootstrap ─────────────────────────────────────────────────────────────────


def _window(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Sorted order statistics x_(lo..hi) (0-based, inclusive) without sorting everything."""
    n = values.shape[0]
    if hi - lo + 1 >= n // 2:
        return np.sort(values)[lo:hi + 1]
    kth = [lo, hi] if lo > 0 else [hi]
    part = np.partition(values, kth)
    return np.sort(part[lo:hi + 1])


def _order_stat_cdf(n: int, k: int, lo: int, hi: int) -> np.ndarray:
    """P(X*(k) <= x_(j+1)) for 0-based positions j in lo..hi: P(Bin(n, (j+1)/n) >= k)."""
    p = np.arange(lo + 1, hi + 2, dtype=np.float64) / n
    return D.betainc(k, n - k + 1, np.minimum(p, 1.0))


def _median_exact(values: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    """r bootstrap medians by inverse-CDF sampling of the middle order statistic(s)."""
    n = values.shape[0]
    w = 8 * math.isqrt(n) + 8
    ks = [(n + 1) // 2] if n % 2 else [n // 2, n // 2 + 1]
    lo, hi = max(0, ks[0] - 1 - w), min(n - 1, ks[-1] - 1 + w)
    xs = _window(values, lo, hi)
    u = rng.random(r)
    out = np.zeros(r)
    for k in ks:
        cdf = _order_stat_cdf(n, k, lo, hi)
        cdf[-1] = 1.0 if hi == n - 1 else cdf[-1]
        pos = np.minimum(np.searchsorted(cdf, u, side="left"), xs.shape[0] - 1)
        out += xs[pos] * (1.0 / len(ks))
    return out


def _chunks(n: int, r: int) -> list[int]:
    rows = max(1, CHUNK_CELLS // max(n, 1))
    return [min(rows, r - i) for i in range(0, r, rows)]


def _median_plain(values: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    """r bootstrap medians by resampling int32 indices into the sorted data."""
    xs = np.sort(values)
    n = xs.shape[0]
    k = n // 2
    out = []
    for rows in _chunks(n, r):
        idx = rng.integers(0, n, size=(rows, n), dtype=np.int32)
        idx.partition(k, axis=1)  # one kth: a second one makes numpy ~10x slower
        if n % 2:
            out.append(xs[idx[:, k]])
        else:
            out.append(xs[idx[:, :k].max(axis=1)] * 0.5 + xs[idx[:, k]] * 0.5)
    return np.concatenate(out)


def _mean_plain(values: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    n = values.shape[0]
    scaled = values / n  # the sum of n scaled values is a mean: at most the largest value
    out = []
    for rows in _chunks(n, r):
        idx = rng.integers(0, n, size=(rows, n), dtype=np.int32)
        with np.errstate(over="ignore"):  # at the float limit rounding can still reach inf: left undefined
            out.append(scaled[idx].sum(axis=1))
    return np.concatenate(out)


def _mean_normal(values: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    n = values.shape[0]
    m = mean(values)
    top = float(np.max(np.abs(values)))
    # s / sqrt(n), ddof=0; scaled to at most 1 first, so squares of values near 1e308 do not overflow
    sd = float(np.std(values / top)) * (top / math.sqrt(n)) if top > 0 else 0.0
    return m + sd * rng.standard_normal(r) if sd > 0 else np.full(r, m)


def resample_stat(values: np.ndarray, stat: Stat, r: int, rng: np.random.Generator) -> np.ndarray:
    """r bootstrap replicates of `stat` over `values` (float64, finite)."""
    n = values.shape[0]
    if stat == "median":
        if n % 2 or n >= MEDIAN_PLAIN_BELOW:
            return _median_exact(values, r, rng)
        return _median_plain(values, r, rng)
    if n >= MEAN_PLAIN_BELOW:
        return _mean_normal(values, r, rng)
    return _mean_plain(values, r, rng)


@dataclass(frozen=True)
class Bootstrap:
    """CIs of the % change of a statistic (bounds rounded to 1 decimal).

    ci: Kalibra's percentile interval (kept for `metadata.ci_95`); bca: the BCa interval from the same
    replicates, None where BCa is undefined. gate_ci is what gates and significance use.
    """

    ci: tuple[float, float]
    undefined: int  # resamples dropped because the baseline statistic was 0
    resamples: int
    bca: tuple[float, float] | None = None
    note: str | None = None  # why BCa fell back to the percentile interval, when the report should say so

    @property
    def gate_ci(self) -> tuple[float, float]:
        return self.bca if self.bca is not None else self.ci

    @property
    def method(self) -> str:
        return "bca" if self.bca is not None else "percentile"

    @property
    def mde(self) -> float | None:
        return mde_from_ci(self.gate_ci)


def _bca(base: np.ndarray, curr: np.ndarray, b: np.ndarray, c: np.ndarray, stat: Stat,
         alpha: float) -> tuple[tuple[float, float] | None, str | None]:
    """BCa bounds rounded to 1 decimal (None when undefined or not finite), and the note on a fallback."""
    fn = bca_median_pct if stat == "median" else bca_mean_pct
    notes: list[str] = []
    with np.errstate(all="ignore"):
        ci = fn(base, curr, b, c, alpha, notes)
    if ci is not None and not all(math.isfinite(x) for x in ci):
        ci = None
    if ci is None:
        return None, notes[0] if notes else None
    return (round(ci[0], 1), round(ci[1], 1)), None


def bootstrap_pct(base: np.ndarray, curr: np.ndarray, stat: Stat = "median", *,
                  resamples: int = 10_000, seed: int = 42, alpha: float = 0.05,
                  bca: bool = True) -> Bootstrap | None:
    """Bootstrap CIs of the % change of `stat` from base to curr, or None (Kalibra's rules).

    bca=False skips the BCa interval (span_breakdown only needs Kalibra's percentile rule).
    """
    base = np.asarray(base, dtype=np.float64)
    curr = np.asarray(curr, dtype=np.float64)
    if base.shape[0] < 2 or curr.shape[0] < 2 or resamples < 1:
        return None
    rb, rc = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    b = resample_stat(base, stat, resamples, rb)
    c = resample_stat(curr, stat, resamples, rc)
    zero = b == 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d = np.where(zero, 0.0, (c - b) / np.where(zero, 1.0, b) * 100)
    ok = (~zero | (c == 0)) & np.isfinite(d)
    d = d[ok]
    m = d.shape[0]
    if m == 0 or m < resamples * (1 - MAX_UNDEFINED):
        return None
    i_lo = max(0, int(m * alpha / 2))
    i_hi = min(m - 1, int(m * (1 - alpha / 2)))
    part = np.partition(d, (i_lo, i_hi))
    interval, note = _bca(base, curr, b, c, stat, alpha) if bca else (None, None)
    return Bootstrap((round(float(part[i_lo]), 1), round(float(part[i_hi]), 1)),
                     resamples - m, resamples, interval, note)
