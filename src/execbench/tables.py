"""Parsed runs -> the study's tables.

    parsed run JSONs ─► measurements.csv (one row per Record, with provenance; MEASUREMENT_COLUMNS)
                     ├► runs.csv        (one row per run: status, host, versions, image digest)
                     ├► relative.*      (mode ÷ bare metal on the same host, 95 % CI, verdict)
                     ├► scaling.*       (headline score against copies, per mode)
                     ├► cross_hosts.*   (distribution over hosts of the per-host ratios)
                     ├► environment.*   (what each mode's copies saw of their environment against
                     │                   bare metal's: seccomp, cgroup limits, clock cost ...;
                     │                   execbench.environment)
                     ├► inputs.csv      (ingested runs: every copied file, its sha256, manifest
                     │                   line, label and source: the ingest's provenance)
                     └► excluded.json   (failed/unavailable runs, runs off their cluster host,
                                         parse errors, failed records, unreadable inputs:
                                         everything not in a ratio, with why)
                     └► summary.json    (runs ok / failed / unavailable per payload and mode, the
                                         reasons from the payloads' own logs, whether the study
                                         has an answer; execbench.summary)
                     └► startup.*       (milliseconds each mode adds per start, with its
                                         interval; execbench.startup_cost)
                     └► audit.json/.csv (the host audit's findings per host and mode, the runs an
                                         ABI finding marks; execbench.findings)

What is compared: machine-level records (copy = None) of runs whose status is
"ok"; the unit of replication is the run (repetition).  Per-copy records are
kept in measurements.csv for distributions.  Suite summaries are geometric
means over the benchmarks that share a metric (SPEC-style); the ratio of
geometric means is the geometric mean of the per-benchmark ratios.  A run of
a fan-out study that ran on another node than its cluster host (run.json
pairing "broken") stays in measurements.csv but enters no ratio: its cell's
other modes ran on another machine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import environment, findings, startup_cost, stats, summary

MEASUREMENT_COLUMNS = [
    "run_id", "host", "mode", "mode_kind", "payload", "copies", "repetition", "run_status",
    "emulated", "image_digest", "benchmark", "metric", "value", "unit", "higher_is_better",
    "copy", "status", "source_file", "source_line", "detail",
]
RUN_COLUMNS = [
    "run_id", "host", "mode", "mode_kind", "payload", "copies", "repetition", "order_index",
    "status", "reason", "emulated", "cpu_model", "logical_cores", "kernel", "os", "versions",
    "image_name", "image_reference", "image_digest", "started_utc", "ended_utc", "wall_s",
    "config_sha256", "parsed_file", "cluster_host", "pairing", "log_reason", "ingested", "label", "manifest",
    "manifest_sha256", "control", "baseline_vm", "steal_pct_max", "context_switches", "load_1m_max",
]
INPUT_COLUMNS = [
    "run_id", "host", "mode", "payload", "copies", "repetition", "manifest", "manifest_sha256", "manifest_line",
    "label", "format", "layout", "run_in_file", "runs_in_file", "source", "copied", "sha256", "bytes",
]
RELATIVE_KEY = ["host", "payload", "benchmark", "metric", "copies", "mode"]
EMULATED_FLAG = "emulated (TCG) — not comparable to bare metal"
GEOMEAN = "geomean"
BASELINE_MODE = "bare"
PAIRING_BROKEN = "broken"
# Which metric of the payload-named machine record is the headline, in order of preference.
HEADLINE_METRICS = ("score", "events_per_s", "throughput", "bandwidth", "iops", "latency_median", "latency")


@dataclass
class ParsedRuns:
    """Everything loaded from a set of parsed-run JSON files."""

    runs: list[dict] = field(default_factory=list)  # flat run rows (RUN_COLUMNS)
    measurements: pd.DataFrame | None = None
    parse_errors: list[dict] = field(default_factory=list)  # {"run_id", "path", "line", "expected"}
    unreadable: list[dict] = field(default_factory=list)  # {"path", "reason"}
    log_reasons: dict[str, list[dict]] = field(default_factory=dict)  # run_id -> why it gave no number
    inputs: list[dict] = field(default_factory=list)  # ingested files (INPUT_COLUMNS)
    environments: list[dict] = field(default_factory=list)  # per-copy fingerprints (environment.py)
    clock: list[dict] = field(default_factory=list)  # timed values and their checks (CLOCK_COLUMNS)


def _nested(run: dict, outer: str, inner: str, default=None):
    """run[outer][inner], accepting the flattened spellings outer.inner / outer_inner too."""
    value = run.get(outer)
    if isinstance(value, dict) and inner in value:
        return value[inner]
    for key in (f"{outer}.{inner}", f"{outer}_{inner}"):
        if key in run:
            return run[key]
    return default


def _run_row(run: dict, parsed_file: str) -> dict:
    versions = run.get("versions") or {}
    return {
        "run_id": run.get("run_id") or parsed_file,
        "host": _nested(run, "host", "hostname", "unknown"),
        "mode": run.get("mode"),
        "mode_kind": run.get("mode_kind") or run.get("mode"),
        "payload": run.get("payload"),
        "copies": int(run["copies"]) if run.get("copies") is not None else None,
        "repetition": run.get("repetition"),
        "order_index": run.get("order_index"),
        "status": run.get("status", "ok"),
        "reason": run.get("reason") or "",
        "emulated": bool(run.get("emulated", False)),
        "cpu_model": _nested(run, "host", "cpu_model", ""),
        "logical_cores": _nested(run, "host", "logical_cores"),
        "kernel": _nested(run, "host", "kernel", ""),
        "os": _nested(run, "host", "os", ""),
        "versions": json.dumps(versions, sort_keys=True) if isinstance(versions, dict) else str(versions),
        "image_name": _nested(run, "image", "name", ""),
        "image_reference": _nested(run, "image", "reference", ""),
        "image_digest": _nested(run, "image", "digest", ""),
        "started_utc": run.get("started_utc", ""),
        "ended_utc": run.get("ended_utc", ""),
        "wall_s": run.get("wall_s"),
        "config_sha256": run.get("config_sha256", ""),
        "parsed_file": parsed_file,
        "cluster_host": run.get("cluster_host") or "",
        "pairing": run.get("pairing") or "",  # "" without fan-out
        "ingested": bool(run.get("ingested", False)),
        "label": run.get("label") or "",
        "manifest": _nested(run, "ingest", "manifest", "") or "",
        "manifest_sha256": _nested(run, "ingest", "manifest_sha256", "") or "",
        # "negative" / "positive": a control of the study's resolving power, not an answer
        "control": "" if (run.get("mode_settings") or {}).get("control") in (None, "", "none")
        else run["mode_settings"]["control"],
        # the "bare metal" of this host is itself a guest (hostinfo.virtualization): "" on hardware
        "baseline_vm": (_nested(run, "host", "virtualization") or {}).get("vm") or "",
        "steal_pct_max": _nested(run, "host_state", "steal_pct_max"),
        "context_switches": _nested(run, "host_state", "context_switches"),
        "load_1m_max": _nested(run, "host_state", "load_1m_max"),
    }


def _input_rows(run: dict, run_row: dict) -> list[dict]:
    """The files an ingested run was made from (its run.json 'ingest.inputs'), one row each."""
    ingest = run.get("ingest") if isinstance(run.get("ingest"), dict) else {}
    rows = []
    for entry in ingest.get("inputs") or []:
        if not isinstance(entry, dict):
            continue
        for f in entry.get("files") or []:
            if not isinstance(f, dict):
                continue
            rows.append({
                **{k: run_row[k] for k in ("run_id", "host", "mode", "payload", "copies", "repetition",
                                           "manifest", "manifest_sha256")},
                "manifest_line": entry.get("manifest_line"), "label": entry.get("label", run_row["label"]),
                "format": entry.get("format", ""), "layout": entry.get("layout", ""),
                "run_in_file": entry.get("run_in_file"), "runs_in_file": entry.get("runs_in_file"),
                "source": f.get("source", ""), "copied": f.get("path", ""), "sha256": f.get("sha256", ""),
                "bytes": f.get("bytes"),
            })
    return rows


REQUIRED_RUN_KEYS = ("payload", "mode", "copies")
# Bounds of the run keys that enter typed columns (pandas Int64): a run.json holding
# repetition 99999999999999999999999 (issue 13 R8) is listed as unreadable, never a crash.
RUN_KEY_BOUNDS = {"copies": (1, 4096), "repetition": (1, 1_000_000)}


def _check_run_keys(run: dict) -> None:
    missing = [k for k in REQUIRED_RUN_KEYS if run.get(k) is None]
    if missing:
        raise KeyError(f"run.{missing[0]}")
    for key, (low, high) in RUN_KEY_BOUNDS.items():
        value = run.get(key)
        if value is None and key == "repetition":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"run.{key} an integer in {low}..{high}, got {str(value)[:40]!r}")


def _parsed_entries(paths: Iterable[str | Path]):
    """(where, parsed run or the exception that made it unreadable), for parsed-run JSON files and
    batch JSON Lines files alike (execbench.parse.read_parsed)."""
    from .parse import read_parsed

    for path in sorted(str(p) for p in paths):
        try:
            if Path(path).suffix != ".jsonl":
                yield from read_parsed(Path(path))
                continue
            with open(path) as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        yield f"{path}:{lineno}", json.loads(line)
                    except ValueError as exc:
                        yield f"{path}:{lineno}", exc
        except (OSError, ValueError) as exc:
            yield path, exc


def load_parsed_runs(paths: Iterable[str | Path]) -> ParsedRuns:
    """Read parsed runs (parsed-run JSONs, batch JSON Lines). A run that cannot be read is listed
    with its reason; the rest go on."""
    out = ParsedRuns()
    rows: list[dict] = []
    for path, doc in _parsed_entries(paths):
        try:
            if isinstance(doc, Exception):
                raise doc
            run = doc["run"]
            for err in doc.get("errors") or []:  # kept even when the run part is unusable
                out.parse_errors.append({
                    "run_id": run.get("run_id") or run.get("rel_dir") or path, "path": err.get("path", ""),
                    "line": err.get("line"), "expected": err.get("expected", ""),
                })
            _check_run_keys(run)
            records = doc.get("records") or []
            if not isinstance(records, list):
                raise TypeError("'records' is not a list")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            out.unreadable.append({"path": path, "reason": f"{type(exc).__name__}: {what}"})
            continue
        run_row = _run_row(run, path)
        reasons = doc.get("log_reasons") or []
        run_row["log_reason"] = "; ".join(r.get("reason", "") for r in reasons if isinstance(r, dict))
        out.log_reasons[run_row["run_id"]] = [r for r in reasons if isinstance(r, dict) and r.get("reason")]
        out.runs.append(run_row)
        if run_row["pairing"] != PAIRING_BROKEN:
            out.environments += environment.copy_fingerprints(run)
        if run_row["ingested"]:
            out.inputs += _input_rows(run, run_row)
        for i, rec in enumerate(records):
            try:
                rows.append({
                    "run_id": run_row["run_id"], "host": run_row["host"], "mode": run_row["mode"],
                    "mode_kind": run_row["mode_kind"], "payload": run_row["payload"],
                    "copies": run_row["copies"], "repetition": run_row["repetition"],
                    "run_status": run_row["status"], "emulated": run_row["emulated"],
                    "image_digest": run_row["image_digest"],
                    "benchmark": rec["benchmark"], "metric": rec["metric"], "value": rec.get("value"),
                    "unit": rec.get("unit", ""), "higher_is_better": bool(rec["higher_is_better"]),
                    "copy": rec.get("copy"), "status": rec.get("status", "ok"),
                    "source_file": rec.get("source_file", ""), "source_line": rec.get("source_line"),
                    "detail": rec.get("detail", ""),
                })
                check = clock_check(rec)
                if check:
                    out.clock.append({k: run_row[k] for k in ("run_id", "host", "mode", "payload", "copies",
                                                              "repetition")} | check)
            except (KeyError, TypeError) as exc:
                out.parse_errors.append({
                    "run_id": run_row["run_id"], "path": path, "line": None,
                    "expected": f"records[{i}] with key {exc}",
                })
    out.measurements = _typed_measurements(pd.DataFrame(rows, columns=MEASUREMENT_COLUMNS))
    return out


CLOCK_COLUMNS = ["run_id", "host", "mode", "payload", "copies", "repetition", "copy", "benchmark", "wall_s",
                 "cpu_s", "cpu_per_wall", "quantum_s", "quantum_pct", "flags"]
CPU_BOUND_MIN = 0.9  # CPU time / wall time below this: the benchmark waited (I/O, start-up, a busy host)
QUANTUM_MAX_PCT = 0.1  # a time's resolution above 0.1 % of it: steps of the clock, not a measurement


def clock_check(record: dict) -> dict | None:
    """The timing checks of one timed record (issue 17): a record with a wall time in seconds
    (metric run_time) and, in extra, the CPU seconds (cpu_s) and the resolution the time was
    taken and logged with (time_quantum_s: the coarser of the timer's resolution and the printed
    precision). Returns None for other records.

    flags: "CPU/wall 0.42 < 0.9" when a single-threaded CPU benchmark spent more than 10 % of its
    wall time off the CPU; "resolution 0.5 % > 0.1 %" when the clock's step is a sizeable part of
    the value (a 3 % step in DB12 at smoke size, timed in 10 ms ticks, was)."""
    if record.get("metric") != "run_time" or record.get("unit") != "s" or record.get("status", "ok") != "ok":
        return None
    extra = record.get("extra") or {}
    wall = record.get("value")
    if not isinstance(wall, (int, float)) or wall <= 0:
        return None
    cpu = extra.get("cpu_s")
    quantum = extra.get("time_quantum_s")
    per = cpu / wall if isinstance(cpu, (int, float)) else None
    quantum_pct = 100.0 * quantum / wall if isinstance(quantum, (int, float)) else None
    flags = []
    if per is not None and per < CPU_BOUND_MIN:
        flags.append(f"CPU/wall {per:.2f} < {CPU_BOUND_MIN}")
    if quantum_pct is not None and quantum_pct > QUANTUM_MAX_PCT:
        flags.append(f"resolution {quantum_pct:.2g} % > {QUANTUM_MAX_PCT} %")
    return {"copy": record.get("copy"), "benchmark": record.get("benchmark"), "wall_s": wall, "cpu_s": cpu,
            "cpu_per_wall": per, "quantum_s": quantum, "quantum_pct": quantum_pct, "flags": "; ".join(flags)}


def paired_measurements(parsed: ParsedRuns) -> pd.DataFrame:
    """The measurements that may enter a comparison: without runs whose pairing is broken
    (a fan-out run that ran on another node than its cluster host), and without payloads whose
    records are findings, not performance (the audit: Payload.compared_with_bare)."""
    broken = {r["run_id"] for r in parsed.runs if r["pairing"] == PAIRING_BROKEN}
    m = parsed.measurements
    return m[~m["run_id"].isin(broken) & ~m["payload"].isin(uncompared_payloads(m["payload"]))]


def uncompared_payloads(names: Iterable[str]) -> set[str]:
    """The registered payloads among `names` that are never divided by bare metal (an ingested
    payload name the registry does not know is a benchmark)."""
    from . import payloads

    return {n for n in set(names) if n in payloads.PAYLOADS and not payloads.PAYLOADS.load(n).compared_with_bare}


def _typed_measurements(df: pd.DataFrame) -> pd.DataFrame:
    df = df.astype({
        "copies": "Int64", "repetition": "Int64", "copy": "Int64", "source_line": "Int64",
        "value": "float64", "emulated": "bool", "higher_is_better": "bool",
    })
    return df.sort_values(
        ["host", "payload", "mode", "copies", "repetition", "benchmark", "metric", "copy"],
        na_position="first", kind="stable",
    ).reset_index(drop=True)


# --- comparisons ---------------------------------------------------------------------------


def comparable_values(measurements: pd.DataFrame) -> pd.DataFrame:
    """One machine-level value per (run, benchmark, metric) from ok runs and ok records.

    If a run holds several machine-level values for one key, the run's value is their median
    (column n_values says how many)."""
    ok = measurements[
        (measurements["run_status"] == "ok") & (measurements["status"] == "ok")
        & measurements["copy"].isna() & measurements["value"].notna()
    ]
    keys = ["host", "payload", "benchmark", "metric", "unit", "higher_is_better", "copies",
            "mode", "mode_kind", "run_id", "repetition", "emulated"]
    return ok.groupby(keys, dropna=False, sort=True).agg(
        value=("value", "median"), n_values=("value", "size")).reset_index()


SAME_QUANTITY = {"iops": "bandwidth"}  # fio: bw = IOPS x block size, one quantity at a fixed bs
SAME_QUANTITY_RTOL = 0.01


def same_quantity_once(values: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Drop a metric that is the same quantity as another of the same benchmark (fio's IOPS beside
    its bandwidth): where IOPS / bandwidth is one constant (1 / block size, within 1 %) over every
    run of the (host, payload, benchmark, copies), its ratio to bare metal is the bandwidth ratio,
    and showing both counts one result twice. Returns (values, dropped cells); measurements.csv
    keeps both. With a varying block size (bssplit) both stay."""
    dropped = []
    keep = pd.Series(True, index=values.index)
    for metric, twin in SAME_QUANTITY.items():
        a = values[values["metric"] == metric]
        b = values[values["metric"] == twin]
        if a.empty or b.empty:
            continue
        keys = ["host", "payload", "benchmark", "copies", "mode", "run_id"]
        joined = a.merge(b[keys + ["value"]], on=keys, suffixes=("", "_twin"))
        for cell, g in joined.groupby(["host", "payload", "benchmark", "copies"], sort=True):
            per = g["value"] / g["value_twin"]
            if len(per) and (per > 0).all() and (per.max() - per.min()) <= SAME_QUANTITY_RTOL * per.median():
                sel = ((values["metric"] == metric) & (values["host"] == cell[0]) & (values["payload"] == cell[1])
                       & (values["benchmark"] == cell[2]) & (values["copies"] == cell[3]))
                keep &= ~sel
                dropped.append({"host": cell[0], "payload": cell[1], "benchmark": cell[2], "copies": int(cell[3]),
                                "metric": metric, "reason": f"the same quantity as {twin} ({metric} / {twin} = "
                                f"{per.median():.6g}, a fixed block size): shown once, as {twin}"})
    return values[keep], dropped


def _with_geomeans(values: pd.DataFrame) -> pd.DataFrame:
    """Add per-run geometric-mean rows over benchmarks sharing a metric (>= 2 benchmarks).

    Per cell (host, payload, metric, unit, higher_is_better, copies): the benchmarks present in
    every run of the cell (the payload's own summary record excluded), when there are >= 2 and
    all values are positive; one row per run with exp(fsum(log) / n) over them. Vectorised over
    runs: a per-run loop took most of a 10,000-run rebuild."""
    group_keys = ["host", "payload", "metric", "unit", "higher_is_better", "copies"]
    run_keys = [k for k in values.columns if k not in ("benchmark", "value", "n_values", *group_keys)]
    base = values.assign(geomean_of="")
    # the payload's own score (cpusuite/score, HS06/score) is already a summary
    members = values[values["benchmark"].str.lower() != values["payload"].str.lower()]
    if members.empty:
        return base
    members = members[~members["value"].le(0).groupby([members[k] for k in group_keys], dropna=False)
                      .transform("any")]
    if members.empty:
        return base
    cell = [members[k] for k in group_keys]
    runs_in_cell = members.groupby(cell, dropna=False)["run_id"].transform("nunique")
    runs_with_bench = members.groupby(cell + [members["benchmark"]], dropna=False)["run_id"].transform("nunique")
    common = members[runs_with_bench == runs_in_cell]
    cell = [common[k] for k in group_keys]
    common = common[common.groupby(cell, dropna=False)["benchmark"].transform("nunique") >= 2]
    if common.empty:
        return base
    logs = common.assign(log_value=np.log(common["value"].to_numpy(dtype=float)))
    names = (logs.groupby(group_keys, dropna=False, sort=False)["benchmark"]
             .agg(lambda b: ",".join(sorted(set(b)))).rename("geomean_of").reset_index())
    per_run = (logs.groupby(group_keys + run_keys, dropna=False, sort=True)
               .agg(log_sum=("log_value", math.fsum), n_values=("value", "size")).reset_index())
    per_run["value"] = np.exp(per_run["log_sum"] / per_run["n_values"])
    per_run["benchmark"] = GEOMEAN
    per_run = per_run.merge(names, on=group_keys, how="left", sort=False)
    extra = per_run[list(values.columns) + ["geomean_of"]]
    return pd.concat([base, extra], ignore_index=True)


def _fmt_list(xs) -> str:
    return ",".join(str(x) for x in xs)


def baseline_modes(measurements: pd.DataFrame, baseline: str = BASELINE_MODE) -> dict[str, str]:
    """host -> the mode that is bare metal there: the mode named `baseline` if the host has one,
    else its only mode of kind "bare" (e.g. ingested logs labelled "native")."""
    out = {}
    for host, rows in measurements.groupby("host", sort=True):
        modes = set(rows["mode"])
        bare_kind = sorted(set(rows.loc[rows["mode_kind"] == "bare", "mode"]))
        out[host] = baseline if baseline in modes or len(bare_kind) != 1 else bare_kind[0]
    return out


RELATIVE_COLUMNS = [
    "host", "payload", "benchmark", "metric", "unit", "higher_is_better", "copies", "mode", "mode_kind", "emulated",
    "flag", "n_mode", "n_bare", "n_pairs", "mean_mode", "mean_bare", "ratio", "ratio_ci_low", "ratio_ci_high",
    "relative_performance", "perf_ci_low", "perf_ci_high", "percent_of_bare", "verdict", "half_width_pct",
    "mde_pct", "rounds_needed", "outlier_rounds", "robust_perf_ci_low", "robust_perf_ci_high",
    "unpaired_perf_ci_low", "unpaired_perf_ci_high", "unpaired_verdict", "confidence", "method", "df",
    "geomean_of", "mode_runs", "bare_runs", "note", "added", "added_ci_low", "added_ci_high"]
DEFAULT_TARGET_HALF_WIDTH_PCT = 2.0


def _by_round(side: pd.DataFrame) -> dict:
    """{repetition: value} of one side of a cell (the median if a repetition has several runs)."""
    return {int(rep): float(group["value"].median()) for rep, group in side.groupby("repetition", sort=True)
            if pd.notna(rep)}


ADDED_TIME_UNITS = ("s",)  # lower-is-better times given also as an added amount (start-up latency)


def _added_time(side: pd.DataFrame, bare: pd.DataFrame, cell: dict) -> dict:
    """added / added_ci_low / added_ci_high: mode - bare metal of a time, paired by round
    (stats.paired_difference), in the metric's unit; NaN for rates of work."""
    if cell["unit"] not in ADDED_TIME_UNITS or bool(cell["higher_is_better"]):
        return {"added": None, "added_ci_low": None, "added_ci_high": None}
    diff = stats.paired_difference(_by_round(side), _by_round(bare))
    return {"added": diff.mean, "added_ci_low": diff.ci_low, "added_ci_high": diff.ci_high}


def relative_table(measurements: pd.DataFrame, baseline: str = BASELINE_MODE,
                   target_half_width_pct: float = DEFAULT_TARGET_HALF_WIDTH_PCT) -> tuple[pd.DataFrame, list[dict]]:
    """Every mode against the bare-metal mode on the same host, per cell.

    The answer is the paired interval over the rounds both sides ran (stats.paired_ratio); the
    unpaired Fieller interval is kept as a cross-check, and is the answer only where fewer than
    2 rounds pair up (method says which). rounds_needed: the rounds the observed spread needs for
    the target half-width, when the cell did not reach it. Returns (table, uncompared), uncompared
    listing cells with no baseline runs."""
    values, _ = same_quantity_once(comparable_values(measurements))
    values = _with_geomeans(values)
    base_of = baseline_modes(measurements, baseline)
    rows, uncompared = [], []
    cell_keys = ["host", "payload", "benchmark", "metric", "unit", "higher_is_better", "copies"]
    for key, cell in values.groupby(cell_keys, dropna=False, sort=True):
        cell_info = dict(zip(cell_keys, key))
        baseline = base_of.get(cell_info["host"], BASELINE_MODE)
        bare = cell[cell["mode"] == baseline]
        hib = bool(cell_info["higher_is_better"])
        for mode, side in cell[cell["mode"] != baseline].groupby("mode", sort=True):
            if bare.empty:
                uncompared.append({**cell_info, "copies": int(cell_info["copies"]), "mode": mode,
                                   "reason": f"no '{baseline}' runs on this host for this cell"})
                continue
            unpaired = stats.ratio_ci(side["value"], bare["value"], hib)
            paired = stats.paired_ratio(_by_round(side), _by_round(bare), hib)
            emulated = bool(side["emulated"].any())
            notes = []
            # a geomean row's n_values counts the benchmarks it is formed from (geomean_of), not values
            if cell_info["benchmark"] != GEOMEAN and ((side["n_values"] > 1).any() or (bare["n_values"] > 1).any()):
                notes.append("several machine-level values in a run: run value = their median")
            if paired.n >= 2:
                perf, lo, hi = paired.relative_performance, paired.perf_ci_low, paired.perf_ci_high
                verdict, method, df = paired.verdict, paired.method, paired.df
                if paired.note:
                    notes.insert(0, paired.note)
            else:  # no two rounds pair up (e.g. ingested logs): the unpaired interval is the answer
                perf, lo, hi = unpaired.relative_performance, unpaired.perf_ci_low, unpaired.perf_ci_high
                verdict, method, df = unpaired.verdict, unpaired.method, unpaired.df
                notes.insert(0, f"{paired.n} paired round(s): the unpaired interval")
                if unpaired.note:
                    notes.insert(1, unpaired.note)

            def metric_ratio(x):  # performance -> the metric's own ratio (inverse for times)
                return None if x is None else (x if hib else (math.inf if x == 0 else 1.0 / x))

            needed = None
            if paired.sd_log is not None and paired.half_width_pct is not None \
                    and paired.half_width_pct > target_half_width_pct:
                needed = stats.rounds_for(paired.sd_log, target_half_width_pct)
            rows.append({
                **cell_info, "copies": int(cell_info["copies"]), "mode": mode,
                "mode_kind": side["mode_kind"].iloc[0], "emulated": emulated,
                "flag": EMULATED_FLAG if emulated else "",
                "n_mode": unpaired.n_mode, "n_bare": unpaired.n_bare, "n_pairs": paired.n,
                "mean_mode": unpaired.mean_mode, "mean_bare": unpaired.mean_bare,
                "ratio": metric_ratio(perf),
                "ratio_ci_low": metric_ratio(lo if hib else hi), "ratio_ci_high": metric_ratio(hi if hib else lo),
                "relative_performance": perf, "perf_ci_low": lo, "perf_ci_high": hi,
                "percent_of_bare": 100.0 * perf, "verdict": verdict,
                "half_width_pct": paired.half_width_pct, "mde_pct": paired.mde_pct, "rounds_needed": needed,
                "outlier_rounds": _fmt_list(paired.outlier_rounds),
                "robust_perf_ci_low": paired.robust_perf_ci_low, "robust_perf_ci_high": paired.robust_perf_ci_high,
                "unpaired_perf_ci_low": unpaired.perf_ci_low, "unpaired_perf_ci_high": unpaired.perf_ci_high,
                "unpaired_verdict": unpaired.verdict,
                "confidence": stats.CONFIDENCE, "method": method, "df": df,
                "geomean_of": side["geomean_of"].iloc[0],
                "mode_runs": _fmt_list(sorted(side["run_id"])), "bare_runs": _fmt_list(sorted(bare["run_id"])),
                "note": "; ".join(n for n in notes if n),
                # a time that is no rate of work (start-up): what the mode adds, in the metric's unit
                **_added_time(side, bare, cell_info),
            })
    table = pd.DataFrame(rows, columns=RELATIVE_COLUMNS)
    return table, uncompared


CROSS_HOST_KEY = ["payload", "benchmark", "metric", "unit", "higher_is_better", "copies", "mode"]
QUARTILES_MIN_HOSTS = 4  # below this a quartile is just an interpolation between 2-3 hosts
CROSS_HOST_COLUMNS = [
    *CROSS_HOST_KEY, "hosts", "median_percent_of_bare", "min_percent_of_bare", "max_percent_of_bare",
    "q25_percent_of_bare", "q75_percent_of_bare", "n_slower", "n_faster", "n_not_significant",
    "n_no_interval", "emulated", "flag", "host_list",
]


def cross_host_table(relative: pd.DataFrame) -> pd.DataFrame:
    """Distribution over hosts of the per-host ratios in `relative` (relative_table's output).

    One row per (payload, benchmark, metric, unit, higher_is_better, copies, mode) over the hosts
    that have a per-host row for it. Every input number is already one host's mode ÷ bare metal
    on that same host; this summarises those ratios only (median, min, max, and the quartiles,
    linear interpolation, with >= QUARTILES_MIN_HOSTS hosts) and counts the per-host verdicts.
    Raw values are never pooled, averaged or divided across hosts: a host's bare metal is never
    another host's baseline. `emulated` is true if any host's row is emulated."""
    rows = []
    for key, cell in relative.groupby(CROSS_HOST_KEY, dropna=False, sort=True):
        pct = cell["percent_of_bare"].astype(float)
        verdicts = cell["verdict"].value_counts()
        quartiles = len(cell) >= QUARTILES_MIN_HOSTS
        emulated = bool(cell["emulated"].astype(bool).any())
        rows.append({
            **dict(zip(CROSS_HOST_KEY, key)), "copies": int(key[CROSS_HOST_KEY.index("copies")]),
            "hosts": len(cell), "median_percent_of_bare": float(pct.median()),
            "min_percent_of_bare": float(pct.min()), "max_percent_of_bare": float(pct.max()),
            "q25_percent_of_bare": float(pct.quantile(0.25)) if quartiles else None,
            "q75_percent_of_bare": float(pct.quantile(0.75)) if quartiles else None,
            "n_slower": int(verdicts.get("slower", 0)), "n_faster": int(verdicts.get("faster", 0)),
            "n_not_significant": int(verdicts.get("not significant", 0)),
            "n_no_interval": int(verdicts.get(stats.NO_INTERVAL_N1, 0)),
            "emulated": emulated, "flag": EMULATED_FLAG if emulated else "",
            "host_list": _fmt_list(sorted(cell["host"])),
        })
    return pd.DataFrame(rows, columns=CROSS_HOST_COLUMNS)


def headline_keys(measurements: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """payload -> (benchmark, metric) of its headline machine-level number.

    The headline is the machine-level record whose benchmark is the payload's own name
    (e.g. cpusuite/score, hepchain/events_per_s), metric chosen by HEADLINE_METRICS order;
    failing that, the geometric mean over the payload's benchmarks."""
    machine = measurements[measurements["copy"].isna() & (measurements["status"] == "ok")]
    out = {}
    for payload, rows in machine.groupby("payload", sort=True):
        own = rows[rows["benchmark"].str.lower() == payload.lower()]  # e.g. hs06 payload, HS06 record
        metrics = sorted(set(own["metric"]))
        if metrics:
            ranked = sorted(metrics, key=lambda m: (HEADLINE_METRICS.index(m) if m in HEADLINE_METRICS
                                                    else len(HEADLINE_METRICS), m))
            out[payload] = (own["benchmark"].iloc[0], ranked[0])
        else:
            by_count = rows.groupby("metric")["benchmark"].nunique().sort_values(ascending=False, kind="stable")
            if len(by_count) and by_count.iloc[0] >= 2:
                out[payload] = (GEOMEAN, by_count.index[0])
    return out


def scaling_table(measurements: pd.DataFrame) -> pd.DataFrame:
    """Headline number against copies, per host, payload and mode; efficiency vs the mode's 1 copy."""
    values = _with_geomeans(comparable_values(measurements))
    rows = []
    for payload, (benchmark, metric) in headline_keys(measurements).items():
        sel = values[(values["payload"] == payload) & (values["benchmark"] == benchmark)
                     & (values["metric"] == metric)]
        for (host, mode), cells in sel.groupby(["host", "mode"], sort=True):
            one = cells[cells["copies"] == 1]["value"]
            mean_one = float(one.mean()) if len(one) else None
            for copies, cell in cells.groupby("copies", sort=True):
                s = stats.summarize(cell["value"])
                hib = bool(cell["higher_is_better"].iloc[0])
                if mean_one:
                    # Throughput should grow N-fold; a time per copy should stay flat.
                    eff = s.mean / (copies * mean_one) if hib else mean_one / s.mean
                else:
                    eff = None
                rows.append({
                    "host": host, "payload": payload, "benchmark": benchmark, "metric": metric,
                    "unit": cell["unit"].iloc[0], "higher_is_better": hib, "mode": mode,
                    "emulated": bool(cell["emulated"].any()), "copies": int(copies), "n": s.n,
                    "mean": s.mean, "sd": s.sd, "ci_low": s.ci_low, "ci_high": s.ci_high,
                    "per_copy": s.mean / copies if hib else s.mean, "scaling_efficiency": eff,
                })
    return pd.DataFrame(rows, columns=[
        "host", "payload", "benchmark", "metric", "unit", "higher_is_better", "mode", "emulated",
        "copies", "n", "mean", "sd", "ci_low", "ci_high", "per_copy", "scaling_efficiency"])


def excluded_inputs(parsed: ParsedRuns, uncompared: list[dict], skipped_json: Path | None = None) -> dict:
    """Everything that is not in a ratio, with the reason."""
    not_ok = [
        {k: r.get(k, "") for k in ("run_id", "payload", "mode", "copies", "repetition", "status", "reason",
                                   "log_reason", "parsed_file")}
        for r in parsed.runs if r["status"] != "ok"
    ]
    off_host = [
        {**{k: r[k] for k in ("run_id", "payload", "mode", "copies", "repetition", "cluster_host", "host",
                              "parsed_file")},
         "reason": f"pairing broken: meant for cluster host {r['cluster_host']!r}, ran on {r['host']!r}; "
                   "not compared across nodes"}
        for r in parsed.runs if r["pairing"] == PAIRING_BROKEN
    ]
    m = parsed.measurements
    bad = m[m["status"] != "ok"] if m is not None else m
    failed_records = [] if bad is None else [
        {"run_id": r.run_id, "benchmark": r.benchmark, "metric": r.metric,
         "copy": None if pd.isna(r.copy) else int(r.copy), "status": r.status, "detail": r.detail,
         "source_file": r.source_file}
        for r in bad.itertuples()
    ]
    skipped = []
    if skipped_json is not None and Path(skipped_json).exists():
        doc = json.loads(Path(skipped_json).read_text())
        skipped = doc.get("skipped", doc) if isinstance(doc, dict) else doc
    return {
        "runs_not_ok": not_ok,
        "runs_pairing_broken": off_host,
        "parse_errors": parsed.parse_errors,
        "failed_records": failed_records,
        "unreadable_parsed_files": parsed.unreadable,
        "cells_without_baseline": uncompared,
        "skipped_ingest_inputs": skipped,
    }


# --- writers -------------------------------------------------------------------------------


def _pct(x, decimals: int = 2) -> str:
    """A fraction (1.0 = bare metal) as a percent."""
    return _percent_num(None if x is None else 100 * x, decimals)


def _no_interval(verdict: str) -> str:
    """Why a cell has no interval: one repetition on a side, or Fieller's interval is unbounded."""
    return "no interval (n=1)" if verdict == stats.NO_INTERVAL_N1 else "unbounded"


def relative_markdown(table: pd.DataFrame) -> str:
    """hyperfine/pyperf-style comparison table: performance as % of bare metal with its 95 % CI
    (paired over rounds), the half-width it resolved and the minimum detectable effect."""
    lines = [
        "| host | payload | benchmark | metric | copies | mode | % of bare metal | 95 % CI | ± | MDE "
        "| pairs (mode/bare runs) | verdict |",
        "|---|---|---|---|---:|---|---:|---|---:|---:|---|---|",
    ]
    for r in table.itertuples():
        if pd.isna(r.perf_ci_low):
            ci = _no_interval(r.verdict)
        else:  # as many decimals as keep the printed interval on its verdict's side of 100 %
            d = stats.interval_digits(100 * r.perf_ci_low, 100 * r.perf_ci_high, 100.0, 2)
            ci = f"[{_pct(r.perf_ci_low, d)}, {_pct(r.perf_ci_high, d)}]"
        verdict = r.verdict + (f" — {r.flag}" if r.flag else "")
        lines.append(
            f"| {r.host} | {r.payload} | {r.benchmark} | {r.metric} | {r.copies} | {r.mode} | "
            f"{_pct(r.relative_performance)} | {ci} | {_percent_num(r.half_width_pct)} | {_percent_num(r.mde_pct)} | "
            f"{r.n_pairs} ({r.n_mode}/{r.n_bare}) | {verdict} |")
    return "\n".join(lines) + "\n"


def _num(x, digits=4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}g}"


def scaling_markdown(table: pd.DataFrame) -> str:
    lines = ["| host | payload | headline | mode | copies | mean | 95 % CI | n | per copy | scaling efficiency |",
             "|---|---|---|---|---:|---:|---|---:|---:|---:|"]
    for r in table.itertuples():
        ci = "no interval" if pd.isna(r.ci_low) else f"[{_num(r.ci_low)}, {_num(r.ci_high)}]"
        eff = "—" if pd.isna(r.scaling_efficiency) else f"{100 * r.scaling_efficiency:.1f} %"
        lines.append(f"| {r.host} | {r.payload} | {r.benchmark}/{r.metric} [{r.unit}] | {r.mode} | {r.copies} | "
                     f"{_num(r.mean)} | {ci} | {r.n} | {_num(r.per_copy)} | {eff} |")
    return "\n".join(lines) + "\n"


def _percent_num(x, decimals: int = 2) -> str:
    """A value already in % (e.g. percent_of_bare)."""
    return "—" if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))) else f"{x:.{decimals}f}"


def cross_host_markdown(table: pd.DataFrame) -> str:
    """The cross-host summary: per cell and mode, the spread of the hosts' own % of bare metal."""
    lines = ["| payload | benchmark | metric | copies | mode | hosts | median % of bare metal | min | max | "
             "q25–q75 | slower/faster/not significant/no interval | host list |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---|---|---|"]
    for r in table.itertuples():
        iqr = "—" if pd.isna(r.q25_percent_of_bare) else f"{_percent_num(r.q25_percent_of_bare)}–{_percent_num(r.q75_percent_of_bare)}"
        flag = f" — {r.flag}" if r.flag else ""
        lines.append(f"| {r.payload} | {r.benchmark} | {r.metric} | {r.copies} | {r.mode}{flag} | {r.hosts} | "
                     f"{_percent_num(r.median_percent_of_bare)} | {_percent_num(r.min_percent_of_bare)} | "
                     f"{_percent_num(r.max_percent_of_bare)} | {iqr} | "
                     f"{r.n_slower}/{r.n_faster}/{r.n_not_significant}/{r.n_no_interval} | {r.host_list} |")
    return "\n".join(lines) + "\n"


def _json_ready(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records", double_precision=15))


def write_tables(parsed_paths: Iterable[str | Path], out_dir: str | Path,
                 skipped_json: str | Path | None = None) -> dict[str, Path]:
    """The combine step: parsed-run JSONs -> results/tables/*. Returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parsed_paths = list(parsed_paths)  # read twice: the runs, then the audit's findings
    parsed = load_parsed_runs(parsed_paths)
    m = parsed.measurements
    comparable = paired_measurements(parsed)
    relative, uncompared = relative_table(comparable)
    scaling = scaling_table(comparable)
    cross_hosts = cross_host_table(relative)
    excluded = excluded_inputs(parsed, uncompared, Path(skipped_json) if skipped_json else None)
    headline = {p: list(k) for p, k in headline_keys(comparable).items()}
    files = {
        "measurements": out / "measurements.csv", "runs": out / "runs.csv",
        "relative_csv": out / "relative.csv", "relative_json": out / "relative.json",
        "relative_md": out / "relative.md", "scaling_csv": out / "scaling.csv",
        "scaling_json": out / "scaling.json", "scaling_md": out / "scaling.md",
        "cross_hosts_csv": out / "cross_hosts.csv", "cross_hosts_json": out / "cross_hosts.json",
        "cross_hosts_md": out / "cross_hosts.md", "excluded": out / "excluded.json",
        "summary": out / "summary.json", "clock": out / "clock.csv",
        "startup_csv": out / "startup.csv", "startup_json": out / "startup.json",
        "inputs": out / "inputs.csv",
        "environment_csv": out / "environment.csv", "environment_md": out / "environment.md",
    }
    m.to_csv(files["measurements"], index=False)
    pd.DataFrame(parsed.runs, columns=RUN_COLUMNS).to_csv(files["runs"], index=False)
    relative.to_csv(files["relative_csv"], index=False, float_format="%.10g")
    files["relative_json"].write_text(json.dumps(
        {"method": stats.METHOD, "confidence": stats.CONFIDENCE, "baseline": BASELINE_MODE,
         "headline": headline, "rows": _json_ready(relative)}, indent=1) + "\n")
    files["relative_md"].write_text(relative_markdown(relative))
    scaling.to_csv(files["scaling_csv"], index=False, float_format="%.10g")
    files["scaling_json"].write_text(json.dumps({"rows": _json_ready(scaling)}, indent=1) + "\n")
    files["scaling_md"].write_text(scaling_markdown(scaling))
    cross_hosts.to_csv(files["cross_hosts_csv"], index=False, float_format="%.10g")
    files["cross_hosts_json"].write_text(json.dumps(
        {"summarises": "per-host percent_of_bare of relative.csv (each host's mode ÷ its own bare metal); "
                       "raw values are never pooled across hosts",
         "quartiles_min_hosts": QUARTILES_MIN_HOSTS, "headline": headline,
         "rows": _json_ready(cross_hosts)}, indent=1) + "\n")
    files["cross_hosts_md"].write_text(cross_host_markdown(cross_hosts))
    files["excluded"].write_text(json.dumps(excluded, indent=1, default=str) + "\n")
    study = summary.study_summary(parsed.runs, parsed.measurements, relative, headline_keys(comparable),
                                  parsed.log_reasons, parsed.parse_errors,
                                  not_compared=uncompared_payloads(r["payload"] for r in parsed.runs))
    files["summary"].write_text(json.dumps(study, indent=1, default=str) + "\n")
    startup = startup_cost.startup_cost_table(comparable)
    startup.to_csv(files["startup_csv"], index=False, float_format="%.10g")
    files["startup_json"].write_text(json.dumps(
        {"unit": "ms", "confidence": startup_cost.CONFIDENCE, "baseline": BASELINE_MODE,
         "rows": _json_ready(startup)}, indent=1) + "\n")
    pd.DataFrame(parsed.inputs, columns=INPUT_COLUMNS).to_csv(files["inputs"], index=False)
    env_table = environment.environment_table(parsed.environments)
    env_table.to_csv(files["environment_csv"], index=False)
    files["environment_md"].write_text(environment.environment_markdown(env_table))
    pd.DataFrame(parsed.clock, columns=CLOCK_COLUMNS).to_csv(files["clock"], index=False, float_format="%.6g")
    files.update(findings.write_audit_tables(parsed_paths, out))
    return files


@dataclass(frozen=True)
class Tables:
    """The tables write_tables wrote, read back with their column types (the one read path of
    the figures and the report)."""

    relative: pd.DataFrame
    relative_meta: dict  # relative.json without its rows: method, confidence, baseline, headline
    scaling: pd.DataFrame
    cross_hosts: pd.DataFrame
    runs: pd.DataFrame
    measurements: pd.DataFrame
    excluded: dict
    summary: dict | None  # summary.json (execbench.summary); None in tables made before it existed
    inputs: pd.DataFrame  # inputs.csv: the ingested files (empty without an ingest)
    environment: pd.DataFrame  # environment.csv (empty in tables made before it existed)
    startup: pd.DataFrame | None = None  # startup.csv (execbench.startup_cost); None in older tables
    controls: dict | None = None  # controls.json (negative / positive controls, resolving power) if written
    clock: pd.DataFrame | None = None  # clock.csv: timed values and their checks (clock_check)


RELATIVE_TEXT_COLUMNS = ("flag", "note", "geomean_of", "mode_runs", "bare_runs", "verdict", "unpaired_verdict",
                         "outlier_rounds", "method")


def read_tables(tables_dir: str | Path) -> Tables:
    """results/tables/* as written by write_tables; text columns are strings ("" where empty)."""
    tables_dir = Path(tables_dir)
    relative = pd.read_csv(tables_dir / "relative.csv", dtype={c: "str" for c in RELATIVE_TEXT_COLUMNS})
    for column in RELATIVE_TEXT_COLUMNS:
        relative[column] = relative[column].fillna("")
    cross_hosts = pd.read_csv(tables_dir / "cross_hosts.csv", dtype={"flag": str, "host_list": str})
    for column in ("flag", "host_list"):
        cross_hosts[column] = cross_hosts[column].fillna("")
    meta = json.loads((tables_dir / "relative.json").read_text())
    meta.pop("rows", None)
    return Tables(
        relative=relative,
        relative_meta=meta,
        scaling=pd.read_csv(tables_dir / "scaling.csv"),
        cross_hosts=cross_hosts,
        runs=pd.read_csv(tables_dir / "runs.csv", keep_default_na=False, dtype={"reason": str, "versions": str}),
        measurements=pd.read_csv(tables_dir / "measurements.csv", dtype={"copy": "Int64"}),
        excluded=json.loads((tables_dir / "excluded.json").read_text()),
        summary=json.loads((tables_dir / "summary.json").read_text()) if (tables_dir / "summary.json").exists() else None,
        startup=(pd.read_csv(tables_dir / "startup.csv", dtype={"method": str, "verdict": str})
                 if (tables_dir / "startup.csv").exists() else None),
        controls=json.loads((tables_dir / "controls.json").read_text()) if (tables_dir / "controls.json").exists() else None,
        inputs=(pd.read_csv(tables_dir / "inputs.csv", keep_default_na=False, dtype=str)
                if (tables_dir / "inputs.csv").is_file() else pd.DataFrame(columns=INPUT_COLUMNS)),
        environment=(pd.read_csv(tables_dir / "environment.csv", keep_default_na=False,
                                 dtype={c: str for c in environment.COLUMNS if c not in ("differs", "copies_seen")})
                     if (tables_dir / "environment.csv").is_file() else pd.DataFrame(columns=environment.COLUMNS)),
        clock=(pd.read_csv(tables_dir / "clock.csv", keep_default_na=False, dtype={"flags": str})
               if (tables_dir / "clock.csv").is_file() else pd.DataFrame(columns=CLOCK_COLUMNS)),
    )
