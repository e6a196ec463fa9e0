"""The environment each mode gives a payload, compared with bare metal on the same host.

Input: run.json's `copies_result[].environment` (taken inside the environment by the in-image
launcher, `inimage/execbench_launch.py: environment_fingerprint`, with the ISA level added by
`modes.common.with_isa_level`) and `copies_result[].cpu_throttling`. Output: one row per
(host, mode, key) with the values seen in that mode's copies, the values seen in bare metal's
copies on the same host, and whether they differ (`environment.csv`); the report lists the
differing keys beside each comparison with bare metal, since each can explain a ratio
(a seccomp filter: moby/moby#41389; a CFS quota: kubernetes/kubernetes#67577; a lost TSC
clocksource: madgraph5/madgraph4gpu#116).

The file system a copy's I/O lands on (`scratch_fs`) is compared by kind only (its mount type:
a VM's 9p share is not its virtio disk, kata-containers/runtime#2138).

Values are normalised so that "no limit" reads the same wherever it is spelled: a v1 quota of -1,
v2's "max", the default CPU shares (1024) or weight (100), a cpuset holding every CPU, and no
cgroup file system at all (bare chroot) are all "none". Measured values (the cost of one
clock_gettime, throttled periods) are medians over copies and differ only beyond a factor
(CLOCK_FACTOR), or when throttling happened at all.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import pandas as pd

BASELINE_MODE = "bare"
COLUMNS = ["host", "mode", "key", "value", "bare_value", "differs", "copies_seen"]
NONE = "none"
# clock_gettime cost: a vDSO read (~20-60 ns from Python) against a syscall fallback (~10x)
CLOCK_FACTOR = 2.0
MEASURED = ("clock_gettime_ns", "cpu_throttling.nr_throttled", "cpu_throttling.throttled_s")
# recorded in run.json, not compared: the host's own, the same in every mode by construction
NOT_COMPARED = ("cgroup.version", "cpu_count", "cgroup.cpu_period_us")
# of the file system a copy's I/O lands on (scratch_fs), its type in the mount table the copy
# sees is compared: a VM's 9p share or virtio disk against bare metal's run dir. Not statfs's
# f_type: over 9P2000.L a guest's statfs returns the host's file system type (v9fs passes the
# server's on), so a 9p share reads as the host's ext4 or xfs. Paths, devices, options and the
# statfs type are in run.json only
SCRATCH_FS_COMPARED = ("fstype",)


def _cpu_list(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in str(text).split(","):
        if "-" in part:
            lo, hi = part.split("-")
            cpus |= set(range(int(lo), int(hi) + 1))
        elif part.strip():
            cpus.add(int(part))
    return cpus


def _text(value) -> str:
    if value is None:
        return NONE
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value) if value else NONE
    return str(value)


def flatten(environment: dict, throttling: dict | None = None) -> dict[str, object]:
    """One copy's fingerprint as {dotted key: value}, "no limit" normalised to NONE (module doc)."""
    env = dict(environment or {})
    flat: dict[str, object] = {}
    cgroup = dict(env.pop("cgroup", None) or {})
    cpus = env.get("cpu_count")
    quota = cgroup.get("cpu_quota_us")
    cgroup["cpu_quota_us"] = None if quota is None or quota < 0 else quota
    if cgroup.get("cpu_weight_or_shares") in (1024, 100):
        cgroup["cpu_weight_or_shares"] = None
    if cgroup.get("cpuset_cpus") and cpus and _cpu_list(cgroup["cpuset_cpus"]) == set(range(cpus)):
        cgroup["cpuset_cpus"] = None
    for key, value in cgroup.items():
        flat[f"cgroup.{key}"] = value
    for name, pair in (env.pop("rlimits", None) or {}).items():
        flat[f"rlimit.{name}"] = "/".join("unlimited" if v is None else str(v) for v in pair)
    for name, line in (env.pop("vulnerabilities", None) or {}).items():
        flat[f"vulnerability.{name}"] = line
    scratch = env.pop("scratch_fs", None) or {}
    for name in SCRATCH_FS_COMPARED:
        if name in scratch:
            flat[f"scratch_fs.{name}"] = scratch[name]
    if cpus and env.get("visible_cpus") and set(env["visible_cpus"]) == set(range(cpus)):
        env["visible_cpus"] = "all"
    for key, value in env.items():
        flat[key] = value
    if throttling:
        flat["cpu_throttling.nr_throttled"] = throttling.get("nr_throttled")
        flat["cpu_throttling.throttled_s"] = throttling.get("throttled_s")
    return {k: v for k, v in flat.items() if k not in NOT_COMPARED}


def copy_fingerprints(run: dict) -> list[dict]:
    """[{host, mode, run_id, copy, key, value}] of one run.json (ok runs only: a failed run's
    copies may not have got far enough to say)."""
    if run.get("status", "ok") != "ok":
        return []
    host = (run.get("host") or {}).get("hostname", "unknown") if isinstance(run.get("host"), dict) else "unknown"
    rows = []
    for result in run.get("copies_result") or []:
        if not isinstance(result, dict) or not isinstance(result.get("environment"), dict):
            continue
        if "error" in result["environment"]:
            continue
        for key, value in flatten(result["environment"], result.get("cpu_throttling")).items():
            rows.append({"host": host, "mode": run.get("mode"), "run_id": run.get("run_id"),
                         "copy": result.get("copy"), "key": key, "value": value})
    return rows


def _summary(key: str, values: list) -> str:
    if key in MEASURED:
        numbers = [v for v in values if isinstance(v, (int, float))]
        return f"{statistics.median(numbers):.4g}" if numbers else NONE
    return " | ".join(sorted({_text(v) for v in values}))


def _differs(key: str, mode_values: list, bare_values: list) -> bool:
    if key in MEASURED:
        mode_n = [v for v in mode_values if isinstance(v, (int, float))]
        bare_n = [v for v in bare_values if isinstance(v, (int, float))]
        if key == "clock_gettime_ns":
            if not mode_n or not bare_n:
                return False
            m, b = statistics.median(mode_n), statistics.median(bare_n)
            return m > CLOCK_FACTOR * b or b > CLOCK_FACTOR * m
        return bool(mode_n) and statistics.median(mode_n) > 0  # any throttling is a difference
    return _summary(key, mode_values) != _summary(key, bare_values)


def environment_table(rows: list[dict], baseline: str = BASELINE_MODE) -> pd.DataFrame:
    """Per (host, mode, key): the values seen (distinct values joined by " | ", or the median of a
    measured one), bare metal's on the same host, and whether they differ (COLUMNS). Modes of a
    host without bare-metal fingerprints get bare_value "" and differs False."""
    values: dict[tuple, list] = defaultdict(list)
    copies: dict[tuple, set] = defaultdict(set)
    for row in rows:
        values[(row["host"], row["mode"], row["key"])].append(row["value"])
        copies[(row["host"], row["mode"])].add((row["run_id"], row["copy"]))
    out = []
    for (host, mode, key), seen in sorted(values.items(), key=lambda kv: tuple(map(str, kv[0]))):
        bare = values.get((host, baseline, key))
        has_bare = any(k[0] == host and k[1] == baseline for k in copies)
        out.append({
            "host": host, "mode": mode, "key": key, "value": _summary(key, seen),
            "bare_value": _summary(key, bare or [None]) if has_bare else "",
            "differs": bool(has_bare and mode != baseline and _differs(key, seen, bare or [None])),
            "copies_seen": len(copies[(host, mode)]),
        })
    return pd.DataFrame(out, columns=COLUMNS)


def differences(table: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """(host, mode) -> ["key value (bare: value)", ...] for every differing key."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in table[table["differs"].astype(bool)].itertuples():
        out[(str(r.host), str(r.mode))].append(f"{r.key} {r.value} (bare: {r.bare_value})")
    return dict(out)


def environment_markdown(table: pd.DataFrame) -> str:
    """The differing rows as a Markdown table (every row is in environment.csv)."""
    diff = table[table["differs"].astype(bool)]
    lines = ["| host | mode | key | value | bare metal |", "|---|---|---|---|---|"]
    lines += [f"| {r.host} | {r.mode} | {r.key} | {r.value} | {r.bare_value} |" for r in diff.itertuples()]
    return "\n".join(lines) + "\n" if len(diff) else "No differences from bare metal seen.\n"
