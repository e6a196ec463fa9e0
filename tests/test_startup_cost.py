"""Start-up cost in milliseconds added per start, with its interval (execbench.startup_cost)."""

import math

import pandas as pd
import pytest

from execbench import startup_cost


def test_paired_rounds_give_a_t_interval_on_the_per_round_differences():
    # rounds 1..3: differences 10, 12, 14 ms -> mean 12, sd 2, se 2/sqrt(3); t(0.975, df 2) = 4.302653
    result = startup_cost.added_latency([110, 212, 314], [100, 200, 300], [1, 2, 3], [1, 2, 3])
    half = 4.302653 * 2 / math.sqrt(3)
    assert result["method"] == startup_cost.PAIRED and result["n_pairs"] == 3
    assert result["added_ms"] == pytest.approx(12)
    assert (result["ci_low_ms"], result["ci_high_ms"]) == pytest.approx((12 - half, 12 + half), rel=1e-5)
    assert result["verdict"] == "adds"


def test_unpaired_rounds_fall_back_to_welch():
    # bare has a round the mode lacks: no pairing; Welch on the difference of means
    result = startup_cost.added_latency([10.0, 11.0, 12.0], [1.0, 2.0, 3.0, 2.0], [1, 2, 3], [1, 2, 3, 4])
    assert result["method"] == startup_cost.WELCH and result["n_pairs"] == 0
    assert result["added_ms"] == pytest.approx(11 - 2)
    assert result["ci_low_ms"] > 0 and result["verdict"] == "adds"


def test_one_round_has_no_interval_and_says_so():
    result = startup_cost.added_latency([150.0], [100.0], [1], [1])
    assert result["added_ms"] == 50 and math.isnan(result["ci_low_ms"])
    assert result["verdict"] == startup_cost.NO_INTERVAL


def test_an_interval_holding_zero_is_not_significant():
    result = startup_cost.added_latency([101, 99, 100.5], [100, 100, 100], [1, 2, 3], [1, 2, 3])
    assert result["ci_low_ms"] < 0 < result["ci_high_ms"] and result["verdict"] == "not significant"


def _measurements(rows):
    cols = ["host", "payload", "mode", "copies", "repetition", "metric", "value", "copy", "run_status", "status",
            "emulated"]
    df = pd.DataFrame([dict(zip(cols, r)) for r in rows], columns=cols)
    return df.astype({"copy": "Int64"})


def test_table_reads_machine_level_records_of_ok_runs_only_in_ms():
    rows = []
    for rep, (bare, docker) in enumerate([(0.100, 0.260), (0.102, 0.262), (0.101, 0.261)], start=1):
        rows.append(("h", "startup", "bare", 1, rep, "latency_median", bare, None, "ok", "ok", False))
        rows.append(("h", "startup", "docker", 1, rep, "latency_median", docker, None, "ok", "ok", False))
        rows.append(("h", "startup", "docker", 1, rep, "latency_median", 9.0, 0, "ok", "ok", False))  # per copy
    rows.append(("h", "startup", "docker", 1, 4, "latency_median", 5.0, None, "failed", "ok", False))  # failed run
    table = startup_cost.startup_cost_table(_measurements(rows))
    assert list(table.columns) == startup_cost.COLUMNS and len(table) == 1
    row = table.iloc[0]
    assert row["mode"] == "docker" and row["n_mode"] == 3 and row["n_pairs"] == 3
    assert row["added_ms"] == pytest.approx(160.0)
    # every round differs by exactly 160 ms: zero spread, the interval is the point itself
    assert (row["ci_low_ms"], row["ci_high_ms"]) == pytest.approx((160.0, 160.0))


@pytest.mark.parametrize("ms, text", [(160.2, "+160 ms"), (-0.44, "−0.44 ms"), (9120, "+9.12 s"), (3.25, "+3.2 ms")])
def test_format_ms_reads_as_time_per_start(ms, text):
    assert startup_cost.format_ms(ms) == text
