"""Statistics for "mode relative to bare metal on the same host".

Interval method: **Fieller's interval for a ratio of two independent means,
with Welch-Satterthwaite degrees of freedom** (Fieller 1954; the same
construction as a Welch t-test, solved for the ratio instead of the
difference).  For each cell we have n_mode and n_bare repetitions (runs),
each giving one machine-level number.  With sample means a (mode), b (bare),
squared standard errors va = s_a^2/n_a, vb = s_b^2/n_b and t the two-sided
t quantile, the 95 % set of ratios R for which (a - R b) is compatible with 0
is

    R = [a b +- t sqrt(a^2 vb + b^2 va - t^2 va vb)] / (b^2 - t^2 vb),

bounded when b is clearly non-zero (t^2 vb < b^2), otherwise unbounded.

Why Fieller and not the bootstrap:
- our cells are small: 3-5 repetitions per mode is the norm (a run of the CPU
  suite is minutes).  A resampling bootstrap of n = 3 values has only 10
  distinct resamples per side; its percentile interval ignores the
  small-sample t penalty and is far too narrow.  Measured with this module
  (normal data, CV 2 %, n = 3 per side, 4000 simulated cells, seed 2015;
  `bench/bench_ci_coverage.py`): Fieller-Welch covers the true ratio in
  96.5 % of cells (slightly conservative, as Welch is), a percentile
  bootstrap (2000 resamples) in only 80.9 %; at n = 5: 96.3 % vs 88.5 %.
  `tests/test_stats.py` checks the Fieller coverage.
- Fieller does not pretend the bare-metal mean is known exactly, and its
  interval is asymmetric around the ratio, as a ratio's should be.  The
  hyperfine-style propagated error (delta method) is its first-order
  approximation and agrees with it when both CVs are small.
- It is deterministic: no seed, same answer everywhere.

Assumptions, stated: repetitions are independent and roughly normal within a
cell (each repetition is itself an average over a whole benchmark run).  Runs
are interleaved across modes by the runner so that drift is not confounded
with mode.

Verdict (on performance, so "slower" always means worse for the user):
"slower" when the whole interval of relative performance lies below 1,
"faster" when it lies above 1, "not significant" when it contains 1.  With
n = 1 on either side there is no variance estimate: no interval, and the
verdict says so.

Suite scores use the geometric mean (as SPEC and HEPscore do); note that the
ratio of geometric means equals the geometric mean of the ratios.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import median

CONFIDENCE = 0.95
METHOD = "Fieller (Welch df)"
NO_INTERVAL_N1 = "no interval (n=1)"


# --- Student t quantile (no scipy in the pinned stack) -------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df (may be fractional) degrees of freedom."""
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Inverse of t_cdf, by bisection (monotone, so it always converges)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# --- summaries ------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    sd: float | None  # sample sd (n-1); None for n = 1
    median: float
    mad: float  # median absolute deviation (raw, not scaled)
    ci_low: float | None  # t interval of the mean; None for n = 1
    ci_high: float | None

    @property
    def cv(self) -> float | None:
        return None if self.sd is None or self.mean == 0 else self.sd / abs(self.mean)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cv"] = self.cv
        return d


def summarize(values, confidence: float = CONFIDENCE) -> Summary:
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("summarize() needs at least one value")
    n = len(xs)
    mean = math.fsum(xs) / n
    med = median(xs)
    mad = median(abs(x - med) for x in xs)
    if n == 1:
        return Summary(n, mean, None, med, mad, None, None)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, sd, med, mad, mean - half, mean + half)


def geometric_mean(values) -> float:
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("geometric_mean() needs at least one value")
    if any(x <= 0 for x in xs):
        raise ValueError(f"geometric mean needs positive values, got {min(xs)}")
    return math.exp(math.fsum(math.log(x) for x in xs) / len(xs))


def interval_digits(low: float, high: float, reference: float, digits: int, significant: bool = False,
                    most: int = 15) -> int:
    """Fewest printed digits (>= `digits`; decimals, or significant digits) at which an interval that
    excludes `reference` still excludes it once its bounds are rounded for printing: a 'slower'
    interval [99.7481 %, 99.9987 %] must not read [99.75 %, 100.00 %] against its own verdict."""
    if not (high < reference or low > reference):
        return digits

    def rounded(x: float, d: int) -> float:
        return float(f"{x:.{d}g}") if significant else round(x, d)

    for d in range(digits, most + 1):
        if (high < reference and rounded(high, d) < reference) or (low > reference and rounded(low, d) > reference):
            return d
    return most


# --- the ratio to bare metal ------------------------------------------------------------


@dataclass(frozen=True)
class RatioResult:
    n_mode: int
    n_bare: int
    mean_mode: float
    mean_bare: float
    ratio: float  # mean_mode / mean_bare, of the metric as measured
    ratio_ci_low: float | None
    ratio_ci_high: float | None
    relative_performance: float  # > 1 is better than bare metal (ratio, or 1/ratio for times)
    perf_ci_low: float | None
    perf_ci_high: float | None
    verdict: str  # "slower" | "faster" | "not significant" | "no interval (n=1)"
    confidence: float
    method: str
    df: float | None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _verdict(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return NO_INTERVAL_N1
    if high < 1.0:
        return "slower"
    if low > 1.0:
        return "faster"
    return "not significant"


def fieller_interval(a: float, va: float, b: float, vb: float, t: float) -> tuple[float, float] | None:
    """Fieller's interval for a/b given squared standard errors; None if unbounded."""
    denom = b * b - t * t * vb
    if denom <= 0.0:
        return None  # the denominator's mean is not distinguishable from 0
    disc = a * a * vb + b * b * va - t * t * va * vb
    root = t * math.sqrt(max(disc, 0.0))
    return ((a * b - root) / denom, (a * b + root) / denom)


def ratio_ci(mode_values, bare_values, higher_is_better: bool, confidence: float = CONFIDENCE) -> RatioResult:
    """Ratio of the mode's mean to bare metal's mean, with Fieller's interval and a verdict."""
    xs, ys = [float(v) for v in mode_values], [float(v) for v in bare_values]
    if not xs or not ys:
        raise ValueError("ratio_ci() needs at least one value per side")
    sm, sb = summarize(xs, confidence), summarize(ys, confidence)
    if sb.mean == 0:
        raise ValueError("bare-metal mean is 0: a ratio is undefined")
    ratio = sm.mean / sb.mean

    def performance(r: float) -> float:
        return r if higher_is_better else (math.inf if r == 0 else 1.0 / r)

    base = dict(
        n_mode=sm.n, n_bare=sb.n, mean_mode=sm.mean, mean_bare=sb.mean, ratio=ratio,
        relative_performance=performance(ratio), confidence=confidence, method=METHOD,
    )
    if sm.n < 2 or sb.n < 2:
        side = " and ".join(s for s, n in (("mode", sm.n), ("bare", sb.n)) if n < 2)
        return RatioResult(
            **base, ratio_ci_low=None, ratio_ci_high=None, perf_ci_low=None, perf_ci_high=None,
            verdict=NO_INTERVAL_N1, df=None,
            note=f"n=1 on the {side} side: no variance estimate, so no interval",
        )
    va, vb = sm.sd**2 / sm.n, sb.sd**2 / sb.n
    spread = va + ratio * ratio * vb
    if spread == 0.0:
        # Identical repetitions on both sides: the interval collapses to the point.
        lo = hi = ratio
        df, note = None, "zero spread on both sides: interval is the point estimate"
    else:
        df = spread**2 / ((va**2) / (sm.n - 1) + (ratio**4) * (vb**2) / (sb.n - 1))
        t = t_quantile(0.5 + confidence / 2.0, df)
        bounds = fieller_interval(sm.mean, va, sb.mean, vb, t)
        if bounds is None:
            return RatioResult(
                **base, ratio_ci_low=None, ratio_ci_high=None, perf_ci_low=None, perf_ci_high=None,
                verdict="not significant", df=df,
                note="interval unbounded: bare-metal mean not distinguishable from 0",
            )
        lo, hi = bounds
        note = ""
    if higher_is_better:
        p_lo, p_hi = lo, hi
    else:
        p_lo = 1.0 / hi if hi > 0 else math.inf
        p_hi = 1.0 / lo if lo > 0 else math.inf
    return RatioResult(
        **base, ratio_ci_low=lo, ratio_ci_high=hi, perf_ci_low=p_lo, perf_ci_high=p_hi,
        verdict=_verdict(p_lo, p_hi), df=df, note=note,
    )
