"""Statistics for "mode relative to bare metal on the same host".

## The answer: a paired interval on the log of the ratio

The runner interleaves the modes in rounds: every round holds each mode once, close in time
(for a long payload, per benchmark unit: the two halves of a pair are seconds apart, not
minutes). What drifts on a host between rounds (load from neighbours, frequency, thermal state,
page cache) is shared by the two halves of a pair and cancels in their ratio, so the ratio is
compared within a round, then across rounds:

    d_i = log(performance_mode_i / performance_bare_i)      for each round i with both,

(performance = the metric for higher-is-better numbers, its inverse for times), and over the n
rounds, with mean d and sample sd s, Student's t interval on the mean log ratio

    d  +-  t(1 - alpha/2, n - 1) * s / sqrt(n),

back-transformed with exp(): the relative performance is the geometric mean of the rounds' ratios,
and its interval can never reach zero or below. t quantiles come from SciPy (scipy.stats.t).
Assumptions, stated: the d_i are independent and roughly normal (each is a log ratio of two
whole-benchmark numbers); a log ratio is symmetric in mode and bare.

**Outliers.** A round whose d_i has a modified z-score |0.6745 (d_i - median) / MAD| above 3.5
(Iglewicz and Hoaglin, "How to Detect and Handle Outliers", ASQC 1993) is flagged (needs n >= 4 and
MAD > 0). It is kept in the answer; the interval without the flagged rounds is given beside it
(`robust_*` columns), so a reader sees its influence. Nothing is dropped silently.

**Resolving power.** The half-width (in % of relative performance) is what this study resolved.
The minimum detectable effect (MDE) is the smallest true effect a paired t-test at the same level
detects with 80 % power: (t(1 - alpha/2, n - 1) + t(0.8, n - 1)) * s / sqrt(n) on the log scale
(the standard power approximation, e.g. NIST/SEMATECH e-Handbook 7.2.2.2, with t quantiles).
`rounds_for(target)` is the smallest n whose expected half-width meets a target, for the report's
"too noisy: about N more rounds needed" and for adaptive repetitions.

**Verdict** (on performance, so "slower" always means worse for the user): "slower" when the whole
interval lies below 1, "faster" when above 1, "not significant" when it holds 1. With fewer than
2 pairs there is no variance estimate: no interval, and the verdict says so.

## The cross-check: Fieller's unpaired interval

Fieller's interval for a ratio of two independent means with Welch-Satterthwaite degrees of
freedom (Fieller 1954), as before the paired design: it ignores the pairing, so on a drifting
host it is wider (the drift between rounds inflates both sides' variances) but it needs no
pairs (e.g. ingested logs whose repetitions do not match). It is the answer only where no two
pairs exist, and a cross-check column everywhere else. Coverage and width of both on a drifting
host (slow drift + per-run noise + occasional outliers, as measured here):
bench/bench_ci_coverage.py.

Suite scores use the geometric mean (as SPEC and HEPscore do); the ratio of geometric means
equals the geometric mean of the ratios.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import median

from scipy import stats as sp

CONFIDENCE = 0.95
POWER = 0.80  # of the minimum detectable effect
METHOD = "paired t on log ratios"
METHOD_UNPAIRED = "Fieller (Welch df), unpaired"
NO_INTERVAL_N1 = "no interval (n=1)"
OUTLIER_Z = 3.5  # modified z-score beyond which a round is flagged (Iglewicz & Hoaglin 1993)
OUTLIER_MIN_N = 4


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile (SciPy). Raises ValueError for p outside (0, 1) or df <= 0."""
    if not 0.0 < p < 1.0 or not df > 0:
        raise ValueError(f"t quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    return float(sp.t.ppf(p, df))


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
    """n, mean, sd, median, MAD and the t interval of the mean of `values`. ValueError if empty."""
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
    """Geometric mean of positive values (ValueError otherwise)."""
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


def _verdict(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return NO_INTERVAL_N1
    if high < 1.0:
        return "slower"
    if low > 1.0:
        return "faster"
    return "not significant"


def outliers(values) -> list[int]:
    """Indices of the values whose modified z-score exceeds OUTLIER_Z (none below OUTLIER_MIN_N
    values or when the MAD is 0)."""
    xs = [float(v) for v in values]
    if len(xs) < OUTLIER_MIN_N:
        return []
    med = median(xs)
    mad = median(abs(x - med) for x in xs)
    if mad == 0:
        return []
    return [i for i, x in enumerate(xs) if abs(0.6745 * (x - med) / mad) > OUTLIER_Z]


# --- the answer: paired --------------------------------------------------------------------


@dataclass(frozen=True)
class PairedResult:
    """A mode against bare metal over paired rounds, on performance (> 1 = better than bare)."""

    rounds: tuple  # the rounds (repetitions) with both sides, in order
    n: int
    mean_log: float | None  # mean of d_i = log(perf_mode / perf_bare)
    sd_log: float | None
    relative_performance: float | None  # exp(mean_log): geometric mean of the rounds' ratios
    perf_ci_low: float | None
    perf_ci_high: float | None
    half_width_pct: float | None  # 100 (exp(t s / sqrt n) - 1): what this cell resolved
    mde_pct: float | None  # minimum detectable effect at POWER, two-sided at CONFIDENCE
    verdict: str
    outlier_rounds: tuple = ()
    robust_perf_ci_low: float | None = None  # the interval without the flagged rounds
    robust_perf_ci_high: float | None = None
    confidence: float = CONFIDENCE
    method: str = METHOD
    df: float | None = None
    note: str = ""
    log_ratios: tuple = field(default=(), repr=False)

    def to_dict(self) -> dict:
        return asdict(self)


def _t_interval(ds: list[float], confidence: float) -> tuple[float, float, float, float]:
    """(mean, sd, half-width, df) of Student's t interval on the mean of ds (len >= 2)."""
    n = len(ds)
    mean = math.fsum(ds) / n
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in ds) / (n - 1))
    return mean, sd, t_quantile(0.5 + confidence / 2.0, n - 1) * sd / math.sqrt(n), n - 1


def paired_ratio(mode_by_round: dict, bare_by_round: dict, higher_is_better: bool,
                 confidence: float = CONFIDENCE) -> PairedResult:
    """Paired comparison of a mode with bare metal. `*_by_round`: {round: value (> 0)} of one
    machine-level number per round; only rounds present on both sides count. ValueError for a
    non-positive value (a log ratio needs positive numbers)."""
    rounds = tuple(sorted(set(mode_by_round) & set(bare_by_round)))
    ds = []
    for r in rounds:
        a, b = float(mode_by_round[r]), float(bare_by_round[r])
        if a <= 0 or b <= 0:
            raise ValueError(f"round {r}: a paired log ratio needs positive values, got {a} and {b}")
        ds.append(math.log(a / b) if higher_is_better else math.log(b / a))
    n = len(ds)
    if n == 0:
        return PairedResult(rounds, 0, None, None, None, None, None, None, None, NO_INTERVAL_N1,
                            note="no round holds both this mode and bare metal")
    if n == 1:
        return PairedResult(rounds, 1, ds[0], None, math.exp(ds[0]), None, None, None, None, NO_INTERVAL_N1,
                            note="one pair: no variance estimate, so no interval", log_ratios=tuple(ds))
    mean, sd, half, df = _t_interval(ds, confidence)
    lo, hi = math.exp(mean - half), math.exp(mean + half)
    mde = (t_quantile(0.5 + confidence / 2.0, df) + t_quantile(POWER, df)) * sd / math.sqrt(n)
    flagged = outliers(ds)
    robust = (None, None)
    note = "zero spread of the rounds' ratios: the interval is the point estimate" if sd == 0 else ""
    if flagged:
        kept = [d for i, d in enumerate(ds) if i not in flagged]
        if len(kept) >= 2:
            k_mean, _, k_half, _ = _t_interval(kept, confidence)
            robust = (math.exp(k_mean - k_half), math.exp(k_mean + k_half))
        note = (f"outlier round(s) {', '.join(str(rounds[i]) for i in flagged)} kept; "
                "robust_* is the interval without them")
    return PairedResult(rounds, n, mean, sd, math.exp(mean), lo, hi, 100.0 * math.expm1(half),
                        100.0 * math.expm1(mde), _verdict(lo, hi), tuple(rounds[i] for i in flagged),
                        robust[0], robust[1], confidence, METHOD, float(df), note, tuple(ds))


@dataclass(frozen=True)
class PairedDifference:
    """mode - bare metal of a time, paired by round (e.g. added seconds per container start)."""

    n: int
    mean: float | None  # mean difference, in the metric's unit (s for start-up latency)
    ci_low: float | None
    ci_high: float | None
    verdict: str  # "slower" (adds time) | "faster" | "not significant" | "no interval (n=1)"


def paired_difference(mode_by_round: dict, bare_by_round: dict, confidence: float = CONFIDENCE) -> PairedDifference:
    """Student t interval on the mean of the per-round differences mode - bare (paired t test,
    SciPy's t quantile): what a mode adds to a time in absolute terms. For times that are not a
    rate of work (a container's start-up): "+312 ms per start" says what a ratio of two tiny
    times (bare metal's start is a fork) cannot."""
    rounds = sorted(set(mode_by_round) & set(bare_by_round))
    ds = [float(mode_by_round[r]) - float(bare_by_round[r]) for r in rounds]
    if len(ds) < 2:
        return PairedDifference(len(ds), ds[0] if ds else None, None, None, NO_INTERVAL_N1)
    mean, _, half, _ = _t_interval(ds, confidence)
    lo, hi = mean - half, mean + half
    verdict = "slower" if lo > 0 else "faster" if hi < 0 else "not significant"
    return PairedDifference(len(ds), mean, lo, hi, verdict)


def rounds_at_best(half_width_pct: float, n: int, target_half_width_pct: float, confidence: float = CONFIDENCE,
                   max_rounds: int = 1000) -> int | None:
    """Rounds a paired cell would need for the target even if its true spread were as small as the
    data allow: the SD of its log ratios recovered from its half-width after n rounds
    (s = ln(1 + hw/100) sqrt(n) / t), lowered to the one-sided 95 % confidence bound of a normal
    SD (s sqrt((n-1) / chi2_0.95(n-1)), SciPy's chi2), then rounds_for. None if not within
    max_rounds; ValueError for n < 2 (no spread without two rounds). The adaptive rounds' futility
    rule: a cell that cannot reach the target within the cap even then gets no more rounds."""
    if n < 2:
        raise ValueError(f"n = {n}: a spread needs at least 2 rounds")
    sd = math.log1p(half_width_pct / 100.0) * math.sqrt(n) / t_quantile(0.5 + confidence / 2.0, n - 1)
    sd_low = sd * math.sqrt((n - 1) / sp.chi2.ppf(0.95, n - 1))
    return rounds_for(sd_low, target_half_width_pct, confidence, max_rounds)


def rounds_for(sd_log: float, target_half_width_pct: float, confidence: float = CONFIDENCE,
               max_rounds: int = 1000) -> int | None:
    """Smallest number of rounds whose expected half-width (t * sd / sqrt(n), log scale) meets the
    target (in % of relative performance); None if not within max_rounds."""
    target = math.log1p(target_half_width_pct / 100.0)
    if sd_log == 0:
        return 2
    for n in range(2, max_rounds + 1):
        if t_quantile(0.5 + confidence / 2.0, n - 1) * sd_log / math.sqrt(n) <= target:
            return n
    return None


# --- the cross-check: unpaired Fieller ----------------------------------------------------


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


def fieller_interval(a: float, va: float, b: float, vb: float, t: float) -> tuple[float, float] | None:
    """Fieller's interval for a/b given squared standard errors; None if unbounded."""
    denom = b * b - t * t * vb
    if denom <= 0.0:
        return None  # the denominator's mean is not distinguishable from 0
    disc = a * a * vb + b * b * va - t * t * va * vb
    root = t * math.sqrt(max(disc, 0.0))
    return ((a * b - root) / denom, (a * b + root) / denom)


def ratio_ci(mode_values, bare_values, higher_is_better: bool, confidence: float = CONFIDENCE) -> RatioResult:
    """Ratio of the mode's mean to bare metal's mean, with Fieller's unpaired interval and a
    verdict. ValueError for an empty side or a bare-metal mean of 0.

        R = [a b +- t sqrt(a^2 vb + b^2 va - t^2 va vb)] / (b^2 - t^2 vb),

    a, b the means, va, vb their squared standard errors, t at Welch-Satterthwaite df."""
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
        relative_performance=performance(ratio), confidence=confidence, method=METHOD_UNPAIRED,
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
