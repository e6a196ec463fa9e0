"""Start-up cost: the milliseconds a mode adds to every start of a job, with its interval.

A start-up latency is a cost paid once per job, not a throughput: "1.58 % of bare metal" says
nothing a site can plan with, "+160 ms per job" does. Input: the `startup` payload's machine-level
records (one per run: `latency_median`, the median over that run's counted samples, warm-up
excluded; payloads/startup.py), so the unit of replication is the run, as everywhere else in
the study. Output: one row per (host, copies, mode) against bare metal on the same host:

    added_ms = mean over repetitions of (median_mode - median_bare)        [milliseconds]

Interval (SciPy, 95 %):
  - paired by repetition round when both modes have the same rounds (each round runs every mode
    back to back, config.run_matrix): Student t interval on the per-round differences,
    stats.paired_difference (the same numbers as relative.csv's added / added_ci_* columns, in ms);
  - otherwise (ingested runs, a failed round): Welch's interval on the difference of means,
    scipy.stats.ttest_ind(mode, bare, equal_var=False).confidence_interval();
  - with one round on a side (or one pair): no interval, said so.
Verdict: "adds" when the interval lies above 0, "saves" when below, "not significant" when it
holds 0. Phases a mode times (vm: boot_to_ready_median, shutdown_median) are in the same table
under their own metric, without a bare-metal counterpart.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats as scipy_stats

from . import stats

PAYLOAD = "startup"
METRIC = "latency_median"
BASELINE = "bare"
CONFIDENCE = 0.95
PAIRED = "paired t on per-round differences"
WELCH = "Welch t on the difference of means"
NO_INTERVAL = "no interval (one round)"
COLUMNS = ["host", "copies", "mode", "metric", "n_mode", "n_bare", "n_pairs", "median_mode_ms", "median_bare_ms",
           "added_ms", "ci_low_ms", "ci_high_ms", "method", "verdict", "emulated"]


def _run_values(measurements: pd.DataFrame) -> pd.DataFrame:
    """One machine-level latency_median per ok startup run, in milliseconds."""
    m = measurements
    sel = m[(m["payload"] == PAYLOAD) & (m["metric"] == METRIC) & m["copy"].isna() & (m["run_status"] == "ok")
            & (m["status"] == "ok") & m["value"].notna()]
    out = sel[["host", "copies", "mode", "repetition", "emulated", "value"]].copy()
    out["ms"] = out["value"].astype(float) * 1e3
    return out


def _verdict(low: float, high: float) -> str:
    if math.isnan(low):
        return NO_INTERVAL
    return "adds" if low > 0 else "saves" if high < 0 else "not significant"


def added_latency(mode_ms: pd.Series, bare_ms: pd.Series, mode_rounds=None, bare_rounds=None) -> dict:
    """added_ms with its 95 % interval for one cell (see the module docstring).

    mode_ms, bare_ms: per-run medians in ms; *_rounds: their repetition numbers (pairing).
    Returns {added_ms, ci_low_ms, ci_high_ms, method, verdict, n_pairs}; NaN bounds without interval."""
    mode_ms, bare_ms = pd.Series(mode_ms, dtype=float).reset_index(drop=True), pd.Series(bare_ms, dtype=float).reset_index(drop=True)
    nan = float("nan")
    pairs = pd.DataFrame()
    if mode_rounds is not None and bare_rounds is not None:
        a = pd.DataFrame({"round": list(mode_rounds), "mode": mode_ms})
        b = pd.DataFrame({"round": list(bare_rounds), "bare": bare_ms})
        if a["round"].is_unique and b["round"].is_unique and set(a["round"]) == set(b["round"]):
            pairs = a.merge(b, on="round")
    if len(pairs) >= 2:  # the study's one paired-difference interval (relative.csv's added_* columns)
        diff = stats.paired_difference(dict(zip(pairs["round"], pairs["mode"])),
                                       dict(zip(pairs["round"], pairs["bare"])), CONFIDENCE)
        added, method = float(diff.mean), PAIRED
        low, high = (float(diff.ci_low), float(diff.ci_high)) if diff.ci_low is not None else (added, added)
    elif len(mode_ms) >= 2 and len(bare_ms) >= 2:
        ci = scipy_stats.ttest_ind(mode_ms, bare_ms, equal_var=False).confidence_interval(CONFIDENCE)
        low, high, method, added = float(ci.low), float(ci.high), WELCH, float(mode_ms.mean() - bare_ms.mean())
    else:
        low, high, method = nan, nan, NO_INTERVAL
        added = float(mode_ms.mean() - bare_ms.mean()) if len(mode_ms) and len(bare_ms) else nan
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = nan, nan
    return {"added_ms": added, "ci_low_ms": low, "ci_high_ms": high, "method": method,
            "verdict": _verdict(low, high), "n_pairs": len(pairs)}


def startup_cost_table(measurements: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """The table described in the module docstring (columns COLUMNS); empty without startup runs."""
    values = _run_values(measurements)
    rows = []
    for (host, copies), cell in values.groupby(["host", "copies"], sort=True):
        bare = cell[cell["mode"] == baseline]
        if bare.empty:
            continue
        for mode, side in cell[cell["mode"] != baseline].groupby("mode", sort=True):
            result = added_latency(side["ms"], bare["ms"], side["repetition"], bare["repetition"])
            rows.append({"host": host, "copies": int(copies), "mode": mode, "metric": METRIC,
                         "n_mode": len(side), "n_bare": len(bare), "n_pairs": result["n_pairs"],
                         "median_mode_ms": float(side["ms"].median()), "median_bare_ms": float(bare["ms"].median()),
                         "added_ms": result["added_ms"], "ci_low_ms": result["ci_low_ms"],
                         "ci_high_ms": result["ci_high_ms"], "method": result["method"],
                         "verdict": result["verdict"], "emulated": bool(side["emulated"].astype(bool).any())})
    return pd.DataFrame(rows, columns=COLUMNS)


def format_ms(ms: float, signed: bool = True) -> str:
    """'+160 ms', '+9.1 s', '−0.4 ms' (U+2212 minus): a start-up cost as a person reads it."""
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return "—"
    sign = ("+" if ms >= 0 else "−") if signed else ("" if ms >= 0 else "−")
    a = abs(ms)
    if a >= 1000:
        text = f"{a / 1000:.3g} s"
    elif a >= 10:
        text = f"{a:.0f} ms"
    elif a >= 1:
        text = f"{a:.1f} ms"
    else:
        text = f"{a:.2f} ms"
    return sign + text
