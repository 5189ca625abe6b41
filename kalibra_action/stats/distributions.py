"""The few distribution routines the action needs, in numpy + stdlib (scipy does not fit the image).

Each routine matches the scipy function named in its docstring (verified in
tests/unit/test_distributions.py, where scipy is the oracle). Normal: math.erfc and
statistics.NormalDist. Student t and binomial tails: the regularized incomplete beta by its
continued fraction (modified Lentz) with R's cancellation-free log-beta; t quantiles by safeguarded
Newton. Binomial and hypergeometric pmfs: Loader's saddle-point form (as R and scipy/boost), ~1e-15
relative. Boschloo: every table's Fisher statistic at once, then the supremum over the nuisance rate.
Accuracy notes: t routines ~1e-13 for df <= 1e4, degrading to ~1e-9 at df = 1e9 (df = inf is normal).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, localcontext
from functools import lru_cache
from statistics import NormalDist

import numpy as np

_STD_NORMAL = NormalDist()
_SQRT2 = math.sqrt(2.0)
_LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_EPS = 1e-16
_TINY = 1e-300
_TIE_RTOL = 1e-13  # scipy's boschloo_exact tie tolerance (gh-14178)


# ---------------------------------------------------------------- normal


def norm_cdf(x: float) -> float:
    """P(Z <= x), like scipy.stats.norm.cdf (erfc, so the lower tail keeps full relative precision)."""
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_sf(x: float) -> float:
    """P(Z > x), like scipy.stats.norm.sf."""
    return 0.5 * math.erfc(x / _SQRT2)


def norm_ppf(q: float) -> float:
    """Quantile of the standard normal, like scipy.stats.norm.ppf (±inf at 0 and 1, nan outside)."""
    if not 0.0 < q < 1.0:
        return -math.inf if q == 0.0 else math.inf if q == 1.0 else math.nan
    return _STD_NORMAL.inv_cdf(q)


def norm_isf(q: float) -> float:
    """Inverse survival function of the standard normal, like scipy.stats.norm.isf."""
    return -norm_ppf(q)


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X ~ chi-square with a whole number `df` of degrees of freedom, like
    scipy.stats.chi2.sf: the closed-form Poisson series (plus erfc for odd df), summed in log space."""
    if df < 1 or math.isnan(x):
        return math.nan
    if x <= 0.0:
        return 1.0
    h = x / 2.0
    if df % 2 == 0:  # e^{-h} Σ_{i<df/2} h^i / i!
        total = sum(math.exp(i * math.log(h) - h - math.lgamma(i + 1.0)) for i in range(df // 2))
    else:  # erfc(√h) + e^{-h} Σ_{i<(df-1)/2} h^{i+1/2} / Γ(i+3/2)
        total = math.erfc(math.sqrt(h)) + sum(math.exp((i + 0.5) * math.log(h) - h - math.lgamma(i + 1.5))
                                              for i in range(df // 2))
    return min(1.0, total)


# ---------------------------------------------------------------- incomplete beta


def _stirling_corr(x: np.ndarray) -> np.ndarray:
    """log Γ(x) − Stirling's approximation, for x >= 10 (series error < 1e-17)."""
    r = 1.0 / (x * x)
    return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r * (1.0 / 1680 - r * (1.0 / 1188
            - r * (691.0 / 360360 - r / 156)))))) / x


def _lgamma(x: np.ndarray) -> np.ndarray:
    """math.lgamma elementwise (the declared output type also makes an empty input an empty float array)."""
    return np.vectorize(math.lgamma, otypes=[float])(x)


def _lbeta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log B(a, b) for a, b > 0 without the cancellation of lgamma sums at large arguments (as R)."""
    p, q = np.minimum(a, b), np.maximum(a, b)  # both already of the broadcast shape
    out = np.empty(np.shape(p))
    p, q = np.broadcast_to(p, out.shape), np.broadcast_to(q, out.shape)
    both = p >= 10
    one = ~both & (q >= 10)
    small = ~(both | one)
    if both.any():
        pp, qq = p[both], q[both]
        corr = _stirling_corr(pp) + _stirling_corr(qq) - _stirling_corr(pp + qq)
        out[both] = (-0.5 * np.log(qq) + _LN_SQRT_2PI + corr + (pp - 0.5) * np.log(pp / (pp + qq))
                     + qq * np.log1p(-pp / (pp + qq)))
    if one.any():
        pp, qq = p[one], q[one]
        corr = _stirling_corr(qq) - _stirling_corr(pp + qq)
        out[one] = (_lgamma(pp) + corr + pp - pp * np.log(pp + qq) + (qq - 0.5) * np.log1p(-pp / (pp + qq)))
    if small.any():
        pp, qq = p[small], q[small]
        out[small] = _lgamma(pp) + _lgamma(qq) - _lgamma(pp + qq)
    return out


def _cf_limit(largest: float) -> int:
    """Iteration cap of the continued fraction: near the swap point it needs O(√max(a, b)) steps."""
    return 200 + int(20 * math.sqrt(max(largest, 1.0)))


def _cf_numerators(a, b, x, m: int) -> tuple:
    """The continued fraction's two partial numerators at step m (d_2m, d_2m+1); floats or arrays alike."""
    m2 = 2 * m
    return (m * (b - m) * x / ((a - 1.0 + m2) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2)))


def _lentz_step(aa, c, d, floor: Callable) -> tuple:
    """One modified-Lentz update of (c, d) by the partial numerator aa; `floor` keeps divisors off 0."""
    return 1.0 + aa / floor(c), 1.0 / floor(1.0 + aa * d)


def _floor_scalar(v: float) -> float:
    return v if abs(v) >= _TINY else _TINY


def _floor_array(v: np.ndarray) -> np.ndarray:
    return np.where(np.abs(v) < _TINY, _TINY, v)


def _cf_converged(step):
    """Whether the last step changed the fraction by at most a few ulp (a float or an array of flags)."""
    return abs(step - 1.0) <= 3 * _EPS


def _betacf_scalar(a: float, b: float, x: float) -> float:
    """_betacf for one element in plain floats (numpy's per-call overhead dominates a scalar): the same
    numerators, updates, cap and stopping rule, without the bookkeeping of retiring elements."""
    c, d = 1.0, 1.0 / _floor_scalar(1.0 - (a + b) * x / (a + 1.0))
    h = d
    for m in range(1, _cf_limit(max(a, b)) + 1):
        for aa in _cf_numerators(a, b, x, m):
            c, d = _lentz_step(aa, c, d, _floor_scalar)
            step = d * c
            h *= step
        if _cf_converged(step):
            break
    return h


def _betacf(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Continued fraction of I_x(a, b) (modified Lentz), all elements at once until each converges."""
    if x.size <= 4:
        return np.array([_betacf_scalar(float(ai), float(bi), float(xi))
                         for ai, bi, xi in zip(a, b, x, strict=True)])
    out = np.empty(x.shape)
    idx = np.arange(x.size)
    c = np.ones(x.size)
    d = 1.0 / _floor_array(1.0 - (a + b) * x / (a + 1.0))
    h = d.copy()
    for m in range(1, _cf_limit(float(np.max(np.maximum(a, b)))) + 1):
        for aa in _cf_numerators(a, b, x, m):
            c, d = _lentz_step(aa, c, d, _floor_array)
            step = d * c
            h = h * step
        done = _cf_converged(step)
        if done.any():  # retire converged elements so late iterations only touch the slow ones
            out[idx[done]] = h[done]
            keep = ~done
            idx, a, b, x, c, d, h = idx[keep], a[keep], b[keep], x[keep], c[keep], d[keep], h[keep]
            if idx.size == 0:
                break
    out[idx] = h
    return out


def betainc(a: np.ndarray | float, b: np.ndarray | float, x: np.ndarray | float,
            y: np.ndarray | float | None = None) -> np.ndarray:
    """Regularized incomplete beta I_x(a, b), like scipy.special.betainc, vectorised (broadcasts).

    `y` may pass 1 − x computed without cancellation (the t distribution does). a, b > 0.
    """
    a, b, x = (np.asarray(v, float) for v in (a, b, x))
    y = 1.0 - x if y is None else np.asarray(y, float)
    a, b, x, y = np.broadcast_arrays(a, b, x, y)
    out = np.full(a.shape, np.nan)
    out[(x <= 0.0) & (a > 0)] = 0.0
    out[(y <= 0.0) & (b > 0)] = 1.0
    inner = (x > 0.0) & (y > 0.0) & (a > 0.0) & (b > 0.0)
    if inner.any():
        a, b, x, y = a[inner], b[inner], x[inner], y[inner]
        swap = x > (a + 1.0) / (a + b + 2.0)  # continued fraction converges fast below the mean
        aa, bb = np.where(swap, b, a), np.where(swap, a, b)
        xx, yy = np.where(swap, y, x), np.where(swap, x, y)
        with np.errstate(divide="ignore", invalid="ignore"):  # both branches are evaluated
            log_xx = np.where(xx < 0.5, np.log(xx), np.log1p(-yy))
            log_yy = np.where(yy < 0.5, np.log(yy), np.log1p(-xx))
        front = np.exp(aa * log_xx + bb * log_yy - _lbeta(aa, bb)) / aa
        val = front * _betacf(aa, bb, xx)
        out[inner] = np.where(swap, 1.0 - val, val)
    return out[()] if out.ndim == 0 else out


# ---------------------------------------------------------------- Student t


def _t_sf_pos(t: float, df: float) -> float:
    """P(T > t) for t >= 0."""
    t2 = t * t
    return 0.5 * float(betainc(0.5 * df, 0.5, df / (df + t2), t2 / (df + t2)))


def _t_logpdf(t: float, df: float) -> float:
    return (-float(_lbeta(np.asarray(0.5 * df), np.asarray(0.5))) - 0.5 * math.log(df)
            - 0.5 * (df + 1.0) * math.log1p(t * t / df))


def t_cdf(x: float, df: float) -> float:
    """P(T <= x) for Student's t with df degrees of freedom, like scipy.stats.t.cdf."""
    if math.isnan(x) or not df > 0:
        return math.nan
    if math.isinf(x):
        return 1.0 if x > 0 else 0.0
    if math.isinf(df):
        return norm_cdf(x)
    tail = _t_sf_pos(abs(x), df)
    return 1.0 - tail if x > 0 else tail


def t_sf(x: float, df: float) -> float:
    """P(T > x), like scipy.stats.t.sf."""
    return t_cdf(-x, df)


def _t_isf_tail(p: float, df: float) -> float:
    """t >= 0 with P(T > t) = p, 0 < p <= 1/2: safeguarded Newton on log sf in u = asinh(t)."""
    if p >= 0.5:
        return 0.0
    if df == 1.0:  # Cauchy, closed form
        return 1.0 / math.tan(math.pi * p)
    if df == 2.0:
        return (1.0 - 2.0 * p) / math.sqrt(2.0 * p * (1.0 - p))
    target = math.log(p)

    def f(u: float) -> tuple[float, float]:  # (log sf − log p, its derivative in u)
        t = math.sinh(u)
        sf = _t_sf_pos(t, df)
        if sf <= 0.0:
            return -math.inf, math.nan
        return math.log(sf) - target, -math.exp(_t_logpdf(t, df) - math.log(sf)) * math.cosh(u)

    lo, hi = 0.0, math.asinh(max(1.0, -norm_ppf(p)))
    while f(hi)[0] > 0:  # sf decreases in u; widen until the root is bracketed
        lo, hi = hi, 2.0 * hi
    u = 0.5 * (lo + hi)
    for _ in range(200):
        fu, slope = f(u)
        if fu == 0.0:
            break
        if fu > 0:
            lo = u
        else:
            hi = u
        nxt = u - fu / slope if math.isfinite(fu) and slope else math.nan
        if not lo < nxt < hi:  # Newton left the bracket (or failed): bisect
            nxt = 0.5 * (lo + hi)
        done = abs(nxt - u) <= 1e-15 * max(1.0, abs(u)) or hi - lo <= 1e-15 * max(1.0, hi)
        u = nxt
        if done:
            break
    return math.sinh(u)


def t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t, like scipy.stats.t.ppf (±inf at 0 and 1, nan outside)."""
    if math.isnan(q) or not df > 0 or not 0.0 <= q <= 1.0:
        return math.nan
    if q == 0.0 or q == 1.0:
        return -math.inf if q == 0.0 else math.inf
    if math.isinf(df):
        return norm_ppf(q)
    return -_t_isf_tail(q, df) if q < 0.5 else _t_isf_tail(1.0 - q, df)


def t_isf(q: float, df: float) -> float:
    """Inverse survival function of Student's t, like scipy.stats.t.isf."""
    return -t_ppf(q, df)


# ---------------------------------------------------------------- binomial / hypergeometric

_LOG_FACT = np.zeros(1)


def log_factorials(n: int) -> np.ndarray:
    """log(k!) for k = 0..n (at least; a shared, cached, read-only table that grows as needed)."""
    global _LOG_FACT
    if n >= _LOG_FACT.size:
        size = max(n + 1, 2 * _LOG_FACT.size, 256)
        new = np.array([math.lgamma(k + 1.0) for k in range(_LOG_FACT.size, size)])
        _LOG_FACT = np.concatenate([_LOG_FACT, new])
        _LOG_FACT.flags.writeable = False
    return _LOG_FACT


def _log_comb(n: int, k: np.ndarray) -> np.ndarray:
    """log C(n, k) for integers 0 <= k <= n."""
    lf = log_factorials(n)
    return lf[n] - lf[k] - lf[n - k]


def _stirlerr_exact(k: int) -> float:
    """log(k!) − (k + ½) log k + k − log √(2π) in 40-digit decimal arithmetic (no cancellation)."""
    with localcontext() as ctx:
        ctx.prec = 40
        pi = Decimal("3.141592653589793238462643383279502884197")
        kd = Decimal(k)
        return float(Decimal(math.factorial(k)).ln() - (kd + Decimal("0.5")) * kd.ln() + kd
                     - (2 * pi).ln() / 2)


_STIRLERR_SMALL = np.array([0.0] + [_stirlerr_exact(k) for k in range(1, 16)])


def _stirlerr(n: np.ndarray) -> np.ndarray:
    """log(n!) − log(√(2πn) (n/e)^n) for integers n >= 0 (Loader 2000), full relative precision."""
    n = np.asarray(n, float)
    small = n <= 15
    big = np.where(small, 16.0, n)
    nn = big * big
    out = (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - (1.0 / 1680 - 1.0 / (1188 * nn)) / nn) / nn) / nn) / big
    return np.where(small, _STIRLERR_SMALL[np.clip(n, 0, 15).astype(np.int64)], out)


def _bd0(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """x log(x / m) + m − x without cancellation (Loader 2000), x >= 0, m > 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = x * np.log(x / m) + m - x
        direct = np.where(x == 0, m, direct)
        v = (x - m) / (x + m)
        series = (x - m) * v
        ej = 2.0 * x * v
        v2 = v * v
        for j in range(1, 12):  # where used v² < 0.01, so the last term is below 1e-24 · x
            ej = ej * v2
            series = series + ej / (2 * j + 1)
    return np.where(np.abs(x - m) < 0.1 * (x + m), series, direct)


def _dbinom(x: np.ndarray, n: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Binomial pmf at integers 0 <= x <= n with q = 1 − p given separately (Loader's saddle-point
    form, as in R and scipy/boost: ~1e-15 relative, no log-factorial cancellation)."""
    x, n, p, q = (np.asarray(v, float) for v in np.broadcast_arrays(x, n, p, q))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        mid = (np.log(2 * math.pi) + np.log(x) + np.log1p(-x / n))
        lc = (_stirlerr(n) - _stirlerr(x) - _stirlerr(n - x) - _bd0(x, n * p) - _bd0(n - x, n * q))
        out = np.exp(lc - 0.5 * mid)
        lo = np.where(p < 0.1, -_bd0(n, n * q) - n * p, n * np.log(q))  # x == 0
        hi = np.where(q < 0.1, -_bd0(n, n * p) - n * q, n * np.log(p))  # x == n
        out = np.where(x == 0, np.exp(lo), np.where(x == n, np.exp(hi), out))
    out = np.where(p == 0, (x == 0).astype(float), out)
    out = np.where(q == 0, (x == n).astype(float), out)
    return np.where(n == 0, (x == 0).astype(float), out)


def binom_pmf(k: np.ndarray | int, n: int, p: np.ndarray | float) -> np.ndarray | float:
    """Binomial pmf, like scipy.stats.binom.pmf; broadcasts k against p, exact at p in {0, 1}."""
    k, p = np.broadcast_arrays(np.asarray(k), np.asarray(p, float))
    ok = (k >= 0) & (k <= n) & (k == np.floor(k))
    out = np.where(ok, _dbinom(np.where(ok, k, 0), n, p, 1.0 - p), 0.0)
    out = np.where(np.isnan(p) | (p < 0) | (p > 1) | (n < 0), np.nan, out)
    return float(out) if out.ndim == 0 else out


def binom_sf(k: np.ndarray | int, n: int, p: np.ndarray | float) -> np.ndarray | float:
    """P(X > k) for X ~ Binom(n, p), like scipy.stats.binom.sf (= I_p(k+1, n-k)); broadcasts k and p."""
    k, p = np.broadcast_arrays(np.floor(np.asarray(k, float)), np.asarray(p, float))
    out = np.where(k < 0, 1.0, 0.0)
    mid = (k >= 0) & (k < n)
    if mid.any():
        out[mid] = betainc(k[mid] + 1.0, n - k[mid], p[mid])
    out[np.isnan(p) | (p < 0) | (p > 1)] = np.nan
    return float(out) if out.ndim == 0 else out


def _dhyper(k: np.ndarray, M: int | np.ndarray, n: int | np.ndarray, N: int | np.ndarray) -> np.ndarray:
    """Hypergeometric pmf for k inside the support, as a ratio of binomial pmfs at p = N / M (R's dhyper)."""
    M, n, N = (np.asarray(v, float) for v in (M, n, N))
    p, q = N / M, (M - N) / M
    return _dbinom(k, n, p, q) * _dbinom(N - k, M - n, p, q) / _dbinom(N, M, p, q)


def hypergeom_pmf(k: np.ndarray | int, M: int, n: int, N: int) -> np.ndarray | float:
    """Hypergeometric pmf, like scipy.stats.hypergeom.pmf(k, M, n, N): N draws without replacement
    from M items of which n are successes; vectorised over k."""
    k = np.asarray(k)
    lo, hi = max(0, N - (M - n)), min(n, N)
    ok = (k >= lo) & (k <= hi) & (k == np.floor(k))
    out = np.where(ok, _dhyper(np.where(ok, k, lo), M, n, N), 0.0) if M > 0 else np.where(k == 0, 1.0, 0.0)
    return float(out) if out.ndim == 0 else out


def _check_table(table: list[list[int]]) -> np.ndarray:
    c = np.asarray(table, dtype=np.int64)
    if c.shape != (2, 2):
        raise ValueError("table must be 2 × 2")
    if np.any(c < 0):
        raise ValueError("table entries must be non-negative")
    return c


def fisher_exact_greater(table: list[list[int]]) -> float:
    """One-sided Fisher p-value, == scipy.stats.fisher_exact(table, alternative="greater").pvalue.

    P(X <= table[0][1]) for X the top-right cell given all margins; 1.0 when a row or column is empty.
    """
    c = _check_table(table)
    if 0 in c.sum(axis=0) or 0 in c.sum(axis=1):
        return 1.0
    row0, total, col1 = int(c[0].sum()), int(c.sum()), int(c[:, 1].sum())
    lo = max(0, col1 - (total - row0))
    ks = np.arange(lo, int(c[0, 1]) + 1)
    return min(float(np.sum(hypergeom_pmf(ks, total, row0, col1))), 1.0)


# ---------------------------------------------------------------- Boschloo


@lru_cache(maxsize=32)  # ≤ 0.7 MB each at 150 a side
def _fisher_by_total(n1: int, n2: int) -> tuple[np.ndarray, np.ndarray]:
    """(pmf, stat), both indexed [s, x2] with s = x1 + x2: the hypergeometric pmf of table (s − x2, x2)
    given its margins and its Boschloo statistic P(X2 <= x2 | s) (0 where the table does not exist)."""
    total = n1 + n2
    s, x2 = np.indices((total + 1, n2 + 1))
    ok = (s - x2 >= 0) & (s - x2 <= n1)
    s_ok, x2_ok = s[ok], x2[ok]
    rows = np.arange(total + 1.0)
    p, q = rows / total, (total - rows) / total  # any rate gives the same ratio; this one is stable
    norm = _dbinom(rows, total, p, q)
    pmf = np.zeros(ok.shape)
    pmf[ok] = (_dbinom(x2_ok, n2, p[s_ok], q[s_ok]) * _dbinom(s_ok - x2_ok, n1, p[s_ok], q[s_ok])
               / norm[s_ok])
    stat = np.minimum(np.cumsum(pmf, axis=1), 1.0)
    stat[np.arange(total + 1), np.minimum(np.arange(total + 1), n2)] = 1.0  # the row's last table: exactly 1
    pmf.flags.writeable = stat.flags.writeable = False
    return pmf, stat


@lru_cache(maxsize=16)  # ≤ 2 MB each at 150 a side
def _bernstein_grid(total: int) -> tuple[np.ndarray, np.ndarray]:
    """Arcsine grid θ (π = sin²θ, includes 0 and 1) and Binom(s; total, π) for every grid π and s.

    Spacing is 1/32 of a binomial peak's width in θ (1 / (2√total)), so every local maximum of the
    p-value in π is seen before refinement."""
    points = max(257, int(16 * math.pi * math.sqrt(total)) + 1)
    theta = np.linspace(0.0, math.pi / 2, points)
    return theta, _bernstein(total, theta)


def _bernstein(total: int, theta: np.ndarray) -> np.ndarray:
    """Binom(s; total, sin²θ) for s = 0..total (rows: θ); log-factorial form (~1e-13 relative at
    total = 300: ample for the p-value, which only the statistic's ties make delicate)."""
    s = np.arange(total + 1)
    p, q = np.sin(theta) ** 2, np.cos(theta) ** 2
    q[theta >= math.pi / 2] = 0.0  # cos(π/2)² is 3.7e-33, not 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p, log_q = np.log(p)[:, None], np.log(q)[:, None]
        s_log_p = np.where(s == 0, 0.0, s * log_p)  # 0 · log 0 = 0
        r_log_q = np.where(s == total, 0.0, (total - s) * log_q)
    return np.exp(_log_comb(total, s) + s_log_p + r_log_q)


def _golden_max(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-9) -> tuple[float, float]:
    """(argmax, max) of f on [lo, hi] by golden-section search (f unimodal there)."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (c, fc) if fc >= fd else (d, fd)


def boschloo_exact_greater(table: list[list[int]]) -> float:
    """One-sided Boschloo p-value, == scipy.stats.boschloo_exact(table, alternative="greater").pvalue.

    table = [[x1, x2], [n1 − x1, n2 − x2]] (columns are the samples; tests rate 1 > rate 2). The
    statistic of a table is its one-sided Fisher p-value; the p-value is the supremum over the common
    rate π of P(statistic <= observed · (1 + 1e-13)). Grouped by s = x1 + x2 that probability is
    Σ_s c_s Binom(s; n1 + n2, π), with c_s the hypergeometric mass of the region on the anti-diagonal
    s; it is evaluated on a dense arcsine grid in π and each near-best grid maximum is refined by
    golden-section search. Unlike scipy (nan), an empty column gives 1.0 (no evidence).
    """
    c = _check_table(table)
    n1, n2 = (int(v) for v in c.sum(axis=0))
    if n1 == 0 or n2 == 0:
        return 1.0
    x1, x2 = int(c[0, 0]), int(c[0, 1])
    pmf, stat = _fisher_by_total(n1, n2)
    observed = stat[x1 + x2, x2]
    coef = np.where(stat <= observed * (1.0 + _TIE_RTOL), pmf, 0.0).sum(axis=1)
    theta, basis = _bernstein_grid(n1 + n2)
    values = basis @ coef
    best = int(np.argmax(values))
    result = float(values[best])
    padded = np.concatenate([[-1.0], values, [-1.0]])
    peak = (values > padded[:-2]) & (values >= padded[2:]) & (values >= 0.98 * result)
    peaks = np.flatnonzero(peak)
    peaks = peaks[np.argsort(values[peaks])[::-1][:4]]  # the best few grid maxima
    total = n1 + n2
    s = np.flatnonzero(coef > 0)
    logw = np.log(coef[s]) + _log_comb(total, s)
    r = total - s

    def prob(t: float) -> float:  # interior θ only (golden section never evaluates the ends)
        log_p, log_q = 2.0 * math.log(math.sin(t)), 2.0 * math.log(math.cos(t))
        return float(np.exp(logw + s * log_p + r * log_q).sum())

    last = values.size - 1
    for i in peaks:
        _, v = _golden_max(prob, float(theta[max(i - 1, 0)]), float(theta[min(i + 1, last)]))
        result = max(result, v)
    return min(max(result, 0.0), 1.0)


# ---------------------------------------------------------------- multiple testing


def false_discovery_control(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values, like scipy.stats.false_discovery_control(p, method="bh")
    for a 1-D array (returned as is when it has at most one element)."""
    p = np.asarray(p, float)
    if p.ndim != 1:
        raise ValueError("p must be one-dimensional")
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p must include only numbers between 0 and 1")
    m = p.size
    if m <= 1:
        return p.copy()
    order = np.argsort(p)
    adj = p[order] * (m / np.arange(1, m + 1))
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    out = np.empty(m)
    out[order] = adj
    return np.clip(out, 0.0, 1.0)
