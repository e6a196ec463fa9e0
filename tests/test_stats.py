"""Statistics of the report: the paired interval on log ratios (the answer), its outliers and resolving
power, the unpaired Fieller-Welch cross-check, verdicts, geomean."""

import math
import random

import pytest

from execbench import stats


@pytest.mark.parametrize(
    ("df", "expected"),
    # Two-sided 95 % critical values from any t table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
    [(1, 12.706), (2, 4.303), (3, 3.182), (5, 2.571), (10, 2.228), (30, 2.042), (1e7, 1.960)],
)
def test_t_quantile_matches_tables(df, expected):
    assert stats.t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_t_quantile_is_symmetric_and_refuses_nonsense():
    assert stats.t_quantile(0.025, 4) == pytest.approx(-stats.t_quantile(0.975, 4))
    assert 3.182 < stats.t_quantile(0.975, 50 / 17) < 4.303  # fractional Welch df: between df 3 and df 2
    with pytest.raises(ValueError):
        stats.t_quantile(1.0, 3)


def test_paired_interval_by_hand():
    # three rounds, mode/bare = 0.98, 0.99, 1.00 (higher is better): d = log(.98), log(.99), log(1.0)
    bare = {1: 100.0, 2: 100.0, 3: 100.0}
    mode = {1: 98.0, 2: 99.0, 3: 100.0}
    r = stats.paired_ratio(mode, bare, higher_is_better=True)
    ds = [math.log(0.98), math.log(0.99), 0.0]
    mean = sum(ds) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in ds) / 2)
    half = 4.302653 * sd / math.sqrt(3)  # t(0.975, 2)
    assert r.n == 3 and r.rounds == (1, 2, 3)
    assert r.relative_performance == pytest.approx(math.exp(mean))
    assert r.perf_ci_low == pytest.approx(math.exp(mean - half), rel=1e-6)
    assert r.perf_ci_high == pytest.approx(math.exp(mean + half), rel=1e-6)
    assert r.half_width_pct == pytest.approx(100 * math.expm1(half), rel=1e-6)
    mde = (4.302653 + 1.060660) * sd / math.sqrt(3)  # t(0.975, 2) + t(0.80, 2)
    assert r.mde_pct == pytest.approx(100 * math.expm1(mde), rel=1e-5)
    assert r.verdict == "not significant" and r.method == stats.METHOD


def test_pairing_removes_the_drift_the_unpaired_interval_suffers():
    # a host drifting by +-8 % between rounds, mode steadily 2 % slower within each round
    drift = [1.00, 1.08, 0.93, 1.05, 0.96]
    bare = {i: 100.0 * d for i, d in enumerate(drift, 1)}
    mode = {i: 98.0 * d * (1 + 0.001 * (-1) ** i) for i, d in enumerate(drift, 1)}
    paired = stats.paired_ratio(mode, bare, higher_is_better=True)
    unpaired = stats.ratio_ci(list(mode.values()), list(bare.values()), higher_is_better=True)
    assert paired.verdict == "slower" and paired.relative_performance == pytest.approx(0.98, abs=0.002)
    assert unpaired.verdict == "not significant"  # the drift hides the 2 %
    assert paired.half_width_pct < 0.5 < 5 < 100 * (unpaired.perf_ci_high - unpaired.perf_ci_low) / 2


def test_times_are_inverted_into_performance_and_rounds_must_pair():
    bare = {1: 10.0, 2: 10.2, 3: 9.9, 4: 10.1}
    mode = {1: 10.1, 2: 10.3, 3: 10.0, 5: 99.0}  # round 5 has no bare: not a pair
    r = stats.paired_ratio(mode, bare, higher_is_better=False)
    assert r.rounds == (1, 2, 3) and r.relative_performance < 1.0 and r.verdict == "slower"
    with pytest.raises(ValueError, match="positive"):
        stats.paired_ratio({1: 0.0, 2: 1.0}, {1: 1.0, 2: 1.0}, higher_is_better=True)


def test_no_or_one_pair_gives_no_interval():
    assert stats.paired_ratio({1: 1.0}, {2: 1.0}, True).verdict == stats.NO_INTERVAL_N1
    one = stats.paired_ratio({1: 99.0}, {1: 100.0}, True)
    assert one.n == 1 and one.perf_ci_low is None and one.relative_performance == pytest.approx(0.99)


def test_an_outlier_round_is_flagged_kept_and_its_influence_shown():
    bare = {i: 100.0 for i in range(1, 7)}
    mode = {1: 98.1, 2: 97.9, 3: 98.0, 4: 98.2, 5: 97.8, 6: 314.0}  # round 6: 3.14x (as fio once did)
    r = stats.paired_ratio(mode, bare, higher_is_better=True)
    assert r.outlier_rounds == (6,) and "outlier round(s) 6 kept" in r.note
    assert r.n == 6 and r.relative_performance > 1.1  # kept in the answer ...
    assert r.robust_perf_ci_high < 0.99  # ... and without it the 2 % slowdown is plain
    assert stats.outliers([1, 2, 3]) == []  # too few rounds to call anything an outlier


def test_rounds_needed_for_a_target_half_width():
    # sd 1 % on the log scale: t(0.975, n-1) * 0.01 / sqrt(n) <= log(1.01) first at n = 7 (2.447/sqrt(7) = 0.925)
    assert stats.rounds_for(0.01, 1.0) == 7
    assert stats.rounds_for(0.0, 1.0) == 2
    assert stats.rounds_for(1.0, 0.01, max_rounds=50) is None


def test_paired_coverage_and_false_alarm_rate_at_five_rounds():
    rng = random.Random(11)
    cells = 600
    covered = false_alarms = 0
    for _ in range(cells):
        drift = [rng.gauss(1.0, 0.05) for _ in range(5)]
        bare = {i: 100 * d * rng.gauss(1, 0.01) for i, d in enumerate(drift)}
        slow = {i: 98 * d * rng.gauss(1, 0.01) for i, d in enumerate(drift)}
        same = {i: 100 * d * rng.gauss(1, 0.01) for i, d in enumerate(drift)}
        r = stats.paired_ratio(slow, bare, True)
        covered += r.perf_ci_low <= 0.98 <= r.perf_ci_high
        false_alarms += stats.paired_ratio(same, bare, True).verdict != "not significant"
    # binomial sd at p = 0.95, n = 600: 0.9 %
    assert 0.92 <= covered / cells <= 0.98
    assert false_alarms / cells <= 0.08


def test_summarize_by_hand():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0])
    # mean 2.5; sd = sqrt((2.25+0.25+0.25+2.25)/3) = sqrt(5/3) = 1.29099; median 2.5;
    # |x-2.5| = 1.5, 0.5, 0.5, 1.5 -> MAD 1.0; CI half width = t(0.975,3) * 1.29099 / 2 = 3.18245 * 0.645497 = 2.05426
    assert (s.n, s.mean, s.median, s.mad) == (4, 2.5, 2.5, 1.0)
    assert s.sd == pytest.approx(1.290994, rel=1e-6)
    assert s.ci_low == pytest.approx(2.5 - 2.05426, abs=1e-4)
    assert s.ci_high == pytest.approx(2.5 + 2.05426, abs=1e-4)


def test_geometric_mean():
    assert stats.geometric_mean([1.0, 4.0, 16.0]) == pytest.approx(4.0)  # (1*4*16)^(1/3) = 64^(1/3)
    with pytest.raises(ValueError):
        stats.geometric_mean([1.0, -2.0])


def test_fieller_interval_by_hand():
    # mode [98, 100, 102]: mean 100, s^2 = 4, va = 4/3; bare [99, 100, 101]: mean 100, s^2 = 1, vb = 1/3.
    # R = 1; Welch df = (va + vb)^2 / (va^2/2 + vb^2/2) = (25/9) / (17/18) = 50/17 = 2.941.
    # Fieller: [ab -+ t sqrt(a^2 vb + b^2 va - t^2 va vb)] / (b^2 - t^2 vb)
    r = stats.ratio_ci([98, 100, 102], [99, 100, 101], higher_is_better=True)
    assert r.df == pytest.approx(50 / 17)
    t = stats.t_quantile(0.975, 50 / 17)
    root = t * math.sqrt(1e4 / 3 + 1e4 * 4 / 3 - t * t * 4 / 9)
    denom = 1e4 - t * t / 3
    assert r.ratio == 1.0
    assert r.ratio_ci_low == pytest.approx((1e4 - root) / denom)
    assert r.ratio_ci_high == pytest.approx((1e4 + root) / denom)
    assert r.verdict == "not significant"


def test_one_percent_slower_is_detected_with_margin():
    # n = 5 per side, noise CV 0.25 %: SE of the difference ~ 0.25 % * sqrt(2/5) = 0.16 %, so a 1 % shift
    # is ~6 standard errors; the interval half width (t ~ 2.3) is ~0.37 %. Every seed must say "slower".
    for seed in range(20):
        rng = random.Random(seed)
        bare = [rng.gauss(100.0, 0.25) for _ in range(5)]
        mode = [rng.gauss(99.0, 0.25) for _ in range(5)]
        r = stats.ratio_ci(mode, bare, higher_is_better=True)
        assert r.verdict == "slower", (seed, r)
        assert r.perf_ci_high < 1.0
        assert 0.985 < r.relative_performance < 0.995


def test_one_percent_longer_time_is_slower_and_performance_is_inverted():
    rng = random.Random(7)
    bare = [rng.gauss(10.0, 0.02) for _ in range(5)]
    mode = [rng.gauss(10.1, 0.02) for _ in range(5)]  # times: 1 % longer
    r = stats.ratio_ci(mode, bare, higher_is_better=False)
    assert r.ratio > 1.0 and r.ratio_ci_low > 1.0
    assert r.relative_performance == pytest.approx(1.0 / r.ratio)
    assert r.perf_ci_low == pytest.approx(1.0 / r.ratio_ci_high)
    assert r.perf_ci_high == pytest.approx(1.0 / r.ratio_ci_low)
    assert r.verdict == "slower"


def test_faster_verdict():
    r = stats.ratio_ci([102.0, 102.2, 101.8], [100.0, 100.2, 99.8], higher_is_better=True)
    assert r.verdict == "faster" and r.perf_ci_low > 1.0


def test_identical_distributions_are_not_significant():
    same = [100.0, 100.3, 99.7, 100.1, 99.9]
    assert stats.ratio_ci(same, same, higher_is_better=True).verdict == "not significant"
    rng = random.Random(2015)
    false_alarms = 0
    for _ in range(400):
        a = [rng.gauss(100.0, 1.0) for _ in range(5)]
        b = [rng.gauss(100.0, 1.0) for _ in range(5)]
        false_alarms += stats.ratio_ci(a, b, higher_is_better=True).verdict != "not significant"
    # At 95 % confidence about 5 % of same-distribution pairs are called different; Welch is a bit
    # conservative. 400 pairs: expected ~16-20, binomial sd ~4.4.
    assert false_alarms <= 32


def test_n_equal_1_gives_no_interval_and_says_so():
    r = stats.ratio_ci([99.0], [100.0, 100.1, 99.9], higher_is_better=True)
    assert r.ratio == pytest.approx(99.0 / 100.0)
    assert r.ratio_ci_low is None and r.ratio_ci_high is None and r.perf_ci_low is None
    assert r.verdict == stats.NO_INTERVAL_N1 == "no interval (n=1)"
    assert "n=1" in r.note and "mode" in r.note
    r = stats.ratio_ci([99.0, 98.0], [100.0], higher_is_better=True)
    assert r.verdict == "no interval (n=1)" and "bare" in r.note


def test_unbounded_interval_when_bare_mean_is_indistinguishable_from_zero():
    r = stats.ratio_ci([1.0, 1.1, 0.9], [0.1, -0.1, 0.2], higher_is_better=True)
    assert r.ratio_ci_low is None and r.verdict == "not significant" and "unbounded" in r.note


def test_fieller_coverage_at_three_repetitions():
    # The reason for Fieller over a bootstrap (see stats.py): it keeps ~95 % coverage at n = 3.
    rng = random.Random(1)
    cells, covered = 600, 0
    for _ in range(cells):
        a = [rng.gauss(99.0, 2.0) for _ in range(3)]
        b = [rng.gauss(100.0, 2.0) for _ in range(3)]
        r = stats.ratio_ci(a, b, higher_is_better=True)
        covered += r.ratio_ci_low <= 0.99 <= r.ratio_ci_high
    # binomial sd at p=0.95, n=600 is 0.9 %; a percentile bootstrap lands near 81 %.
    assert 0.92 <= covered / cells <= 0.99


def test_paired_difference_gives_the_added_time_with_its_t_interval():
    from scipy import stats as scipy_stats

    from execbench.stats import paired_difference

    bare = {1: 0.002, 2: 0.003, 3: 0.002, 4: 0.0025}
    docker = {1: 0.452, 2: 0.461, 3: 0.447, 4: 0.455, 5: 0.9}  # round 5 has no bare-metal half
    result = paired_difference(docker, bare)
    ds = [docker[r] - bare[r] for r in (1, 2, 3, 4)]
    expected = scipy_stats.ttest_1samp(ds, 0.0).confidence_interval(0.95)
    assert result.n == 4 and result.mean == pytest.approx(sum(ds) / 4)
    assert (result.ci_low, result.ci_high) == pytest.approx((expected.low, expected.high))
    assert result.verdict == "slower"
    assert paired_difference({1: 1.0}, {1: 0.5}).verdict == "no interval (n=1)"
    assert paired_difference({1: 1.0, 2: 0.9}, {1: 0.95, 2: 0.95}).verdict == "not significant"
