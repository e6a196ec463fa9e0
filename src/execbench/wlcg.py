"""Results WLCG can take: each host's results in the HEP-Benchmark-Suite report shape.

The HEP-Benchmark-Suite (CERN's benchmark orchestrator; `bmkrun` runs HEPscore23, the WLCG CPU
benchmark since 2023, and HS06 and DB12) writes one JSON report per run and host, which sites
and the WLCG benchmark database collect. Its shape (hepbenchmarksuite/utils.py prepare_metadata,
plugins/extractor.py Extractor.collect_sw/collect_hw; sample tests/data/result_profile_sample.json
of the public repository):

    {host: {hostname, ip, tags, SW: {python_version, platform, ...}, HW: {CPU: {Architecture,
            CPU_Model, CPU_num, Threads_per_core, Cores_per_socket, Sockets, Vendor_ID, ...,
            Power_Policy, Power_Driver, Microcode, SMT_Enabled}, BIOS, SYSTEM, MEMORY, STORAGE}},
     suite: {version, flags: {ncores, run_mode}, benchmark_version},
     _id, _timestamp, _timestamp_end, json_version, profiles: {...}}

export_host() writes that per host, with one profile per execution mode and copy count
('<mode>_<copies>c'): each payload's headline number per repetition, its mean and 95 % interval
(scaling.csv), and for modes other than bare metal the number relative to bare metal on the same
host (relative.csv). What run.json does not record is "not_available", as the suite writes it.
Tags: `BMKSUITE_TAG_<NAME>` environment variables (the suite's own convention) and --tag KEY=VALUE.
Every document is validated against workflow/schemas/wlcg-report.schema.json before it is written.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import jsonschema
import pandas as pd

from . import __version__, stats
from . import tables as tables_module
from .errors import ExecbenchError
from .paths import SCHEMAS

JSON_VERSION = "3.0"
NA = "not_available"
RUN_MODES = {"bare": "bare-metal", "docker": "docker", "podman": "podman", "vm": "kvm",
             "htcondor-docker": "htcondor-docker"}
TAG_PREFIX = "BMKSUITE_TAG_"


@cache
def _validator():
    schema = json.loads((SCHEMAS / "wlcg-report.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def validate(document: dict) -> dict:
    """The document, or jsonschema.ValidationError naming the first bad key."""
    _validator().validate(document)
    return document


def _utc(text) -> str:
    """'2026-11-30T14:01:09.123+00:00' -> '2026-11-30T14:01:09Z'; NA-safe."""
    if not isinstance(text, str) or not text:
        return ""
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return ""


def _run_records(runs: pd.DataFrame) -> list[dict]:
    """run.json of each run (the `run` part of its parsed file); unreadable ones left out."""
    out = []
    for parsed in runs["parsed_file"]:
        try:
            run = json.loads(Path(parsed).read_text())["run"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(run, dict):
            out.append(run)
    return out


def _host_record(runs: pd.DataFrame) -> dict:
    """The host part of the first run of this host that has one (run.json's `host`)."""
    for run in _run_records(runs):
        host = run.get("host")
        if isinstance(host, dict) and host.get("hostname"):
            return host
    return {}


def _na(value):
    return NA if value is None or value == "" or (isinstance(value, float) and math.isnan(value)) else value


def _versions(runs: pd.DataFrame) -> dict:
    out = {}
    for text in runs["versions"]:
        try:
            out.update(json.loads(text) if text else {})
        except ValueError:
            continue
    return out


def host_part(hostname: str, runs: pd.DataFrame, tags: dict) -> dict:
    host = _host_record(runs)
    kernel, arch = host.get("kernel"), host.get("arch")
    sw = {"python_version": NA,  # the suite's own interpreter; the runs here record none
          "platform": f"Linux-{kernel}-{arch}" if kernel and arch else NA,
          "os_version": _na(host.get("os")), "kernel_version": _na(kernel)}
    for mode in ("docker", "podman"):
        version = _versions(runs[runs["mode_kind"] == mode])
        found = next((str(v) for k, v in sorted(version.items()) if "version" in k.lower() and v), None)
        if found:
            sw[mode] = found
    cpu = {"Architecture": _na(arch), "CPU_Model": _na(host.get("cpu_model")),
           # CPU_num as the suite's extractor writes it, CPU as its older reports (and its sample) did
           "CPU_num": _na(host.get("logical_cores")), "CPU": _na(host.get("logical_cores")), "Threads_per_core": NA, "Cores_per_socket": NA, "Sockets": NA,
           "Vendor_ID": NA, "Power_Policy": NA, "Power_Driver": NA, "Microcode": NA, "SMT_Enabled": NA,
           "ISA_level": _na(host.get("isa_level"))}
    return {
        "hostname": hostname, "ip": NA, "UID": "not_defined", "tags": tags, "SW": sw,
        "HW": {"CPU": cpu,
               "BIOS": {"Vendor": NA, "Version": NA, "Release_data": NA},
               "SYSTEM": {"Manufacturer": NA, "Product_Name": NA, "Version": NA, "isVM": NA},
               "MEMORY": {"Mem_Total": _na(host.get("memory_kb"))},
               "STORAGE": {}},
    }


def _interval(lo, hi, scale: float = 1.0):
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi) or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return [float(lo) * scale, float(hi) * scale]


def profiles_part(host: str, t: tables_module.Tables) -> dict:
    """One profile per (mode, copies) of this host with at least one headline number."""
    values = tables_module._with_geomeans(tables_module.comparable_values(t.measurements))
    values = values[values["host"].astype(str) == host]
    runs = t.runs[t.runs["host"].astype(str) == host]
    headline = t.relative_meta.get("headline", {})
    rel = t.relative[t.relative["host"].astype(str) == host]
    scaling = t.scaling[t.scaling["host"].astype(str) == host]
    startup = t.startup[t.startup["host"].astype(str) == host] if t.startup is not None else None
    out = {}
    for (mode, copies), cell_runs in runs.groupby(["mode", "copies"], sort=True):
        benchmarks = {}
        for payload, (benchmark, metric) in sorted(headline.items()):
            sel = values[(values["payload"] == payload) & (values["benchmark"] == benchmark)
                         & (values["metric"] == metric) & (values["mode"] == mode) & (values["copies"] == copies)]
            if sel.empty:
                continue
            sel = sel.sort_values("repetition")
            sc = scaling[(scaling["payload"] == payload) & (scaling["mode"] == mode) & (scaling["copies"] == copies)]
            r = rel[(rel["payload"] == payload) & (rel["benchmark"] == benchmark) & (rel["metric"] == metric)
                    & (rel["mode"] == mode) & (rel["copies"] == copies)]
            relative = None
            if not r.empty:
                row = r.iloc[0]
                relative = {"percent_of_bare": float(row["percent_of_bare"]),
                            "ci95_percent": _interval(row["perf_ci_low"], row["perf_ci_high"], 100.0),
                            "verdict": row["verdict"], "method": row["method"], "emulated": bool(row["emulated"])}
            benchmarks[payload] = {
                "benchmark": benchmark, "metric": metric, "unit": str(sel["unit"].iloc[0]),
                "higher_is_better": bool(sel["higher_is_better"].iloc[0]),
                "value": float(sel["value"].mean()), "runs": [float(v) for v in sel["value"]],
                "ci95": _interval(sc["ci_low"].iloc[0], sc["ci_high"].iloc[0]) if not sc.empty else None,
                "relative_to_bare": relative,
            }
        if not benchmarks:
            continue
        kind = str(cell_runs["mode_kind"].iloc[0])
        started = sorted(u for u in (_utc(s) for s in cell_runs["started_utc"]) if u)
        ended = sorted(u for u in (_utc(s) for s in cell_runs["ended_utc"]) if u)
        added = None
        if startup is not None:
            s = startup[(startup["mode"] == mode) & (startup["copies"] == copies)]
            if not s.empty:
                added = {"added_ms": float(s["added_ms"].iloc[0]),
                         "ci95_ms": _interval(s["ci_low_ms"].iloc[0], s["ci_high_ms"].iloc[0]),
                         "verdict": str(s["verdict"].iloc[0])}
        out[f"{mode}_{int(copies)}c"] = {
            "mode": mode, "mode_kind": kind, "copies": int(copies), "run_mode": RUN_MODES.get(kind, kind),
            "emulated": bool(cell_runs["emulated"].astype(str).eq("True").any()),
            "repetitions": int(cell_runs["repetition"].nunique()),
            "start": started[0] if started else "1970-01-01T00:00:00Z",
            "end": ended[-1] if ended else (started[-1] if started else "1970-01-01T00:00:00Z"),
            "versions": _versions(cell_runs), "benchmarks": benchmarks, "startup_added_ms": added,
        }
    return out


def tags_from_env(environ=None) -> dict:
    """BMKSUITE_TAG_<NAME>=value -> {name: value}, as hep-benchmark-suite reads its tags."""
    env = os.environ if environ is None else environ
    return {k[len(TAG_PREFIX):].lower(): str(v) for k, v in env.items() if k.startswith(TAG_PREFIX)}


def export_host(host: str, t: tables_module.Tables, tags: dict | None = None) -> dict:
    """The validated document of one host (see the module docstring). Raises ExecbenchError when the
    host has no profile, jsonschema.ValidationError when the document breaks the schema."""
    runs = t.runs[t.runs["host"].astype(str) == host]
    profiles = profiles_part(host, t)
    if not profiles:
        raise ExecbenchError(f"host {host}: no run with a headline number, nothing to export")
    studies = sorted({str(r["study"]) for r in _run_records(runs) if r.get("study")})
    all_tags = {"execbench_study": ",".join(studies) or "execbench", **tags_from_env(), **(tags or {})}
    starts = sorted(u for u in (_utc(s) for s in runs["started_utc"]) if u)
    ends = sorted(u for u in (_utc(s) for s in runs["ended_utc"]) if u)
    start, end = (starts[0] if starts else "1970-01-01T00:00:00Z"), (ends[-1] if ends else starts[-1] if starts
                                                                       else "1970-01-01T00:00:00Z")
    image = {}
    for name, ref, digest in runs[["image_name", "image_reference", "image_digest"]].drop_duplicates().itertuples(
            index=False):
        if ref:
            image = {"name": name, "reference": ref, "digest": digest}
            break
    logical = next((int(v) for v in runs["logical_cores"] if str(v).isdigit()), 1)
    document = {
        "host": host_part(host, runs, all_tags),
        "suite": {"version": f"execbench {__version__}", "flags": {"ncores": logical, "run_mode": "execbench"},
                  "benchmark_version": {p: image.get("digest") or NA for p in sorted(t.relative_meta.get("headline", {}))}},
        "_id": f"{host}_{start}",
        "_timestamp": start,
        "_timestamp_end": end,
        "json_version": JSON_VERSION,
        "execbench": {"study": all_tags["execbench_study"], "image": image,
                      "config_sha256": sorted({str(h) for h in runs["config_sha256"] if str(h)}),
                      "relative_table": "tables/relative.csv",
                      "interval_method": f"{int(stats.CONFIDENCE * 100)} % {stats.METHOD} (relative); t (ci95)"},
        "profiles": profiles,
    }
    return validate(document)


def write_exports(tables_dir, out_dir, tags: dict | None = None) -> list[Path]:
    """results/tables -> <out_dir>/<host>.json per host with a profile; returns the files written."""
    t = tables_module.read_tables(tables_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for host in sorted(set(t.runs["host"].astype(str))):
        try:
            document = export_host(host, t, tags)
        except ExecbenchError:
            continue  # a host whose every run failed has nothing to report; the report says why
        path = out / f"{host}.json"
        path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
        written.append(path)
    return written
