#!/usr/bin/env python3
"""Repeatability of the open payloads: run each payload R times in one mode and report the
coefficient of variation (CV = sample stdev / mean) of its headline machine-level number, and the
wall time of one pass.

    .venv/bin/python bench/bench_payloads.py --size smoke --repetitions 5 [--mode docker]
        [--payloads cpusuite,hepchain] [--copies 1] [--image-record results/images/debian12.json]

Without --image-record it builds (or reuses, by inputs hash) the debian12 image of config/config.yaml.
Prints one line per payload and writes the numbers to --json (default bench/results/payloads-<size>.json).
Do not run while other benchmarks run on the host: they would measure each other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from execbench import modes, payloads
from execbench.config import load_config, mode_settings
from execbench.modes.base import ModeContext, RunContext
from execbench.paths import REPO_ROOT

HEADLINE = {  # payload -> (benchmark, metric) of its machine-level headline number
    "cpusuite": ("cpusuite", "score"),
    "hepchain": ("hepchain", "events_per_s"),
    "db12": ("DB12", "db12"),
    "stream": ("triad", "bandwidth"),
    "fio": ("rand-read.read", "iops"),
}
MODES = ("bare", "docker", "podman")


def headline(records, payload_name):
    bench, metric = HEADLINE[payload_name]
    for r in records:
        if r.copy is None and r.metric == metric and (r.benchmark == bench or r.benchmark.endswith(bench)):
            return r.value
    raise SystemExit(f"{payload_name}: no machine-level {bench}/{metric} record; got "
                     f"{sorted({(r.benchmark, r.metric) for r in records if r.copy is None})}")


def host_busy_s() -> float:
    """Busy CPU seconds of the whole host so far (/proc/stat, all CPUs)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(records) -> float | None:
    """Payload-reported CPU seconds of copy 0 (benchmark time only): less sensitive than wall
    time to other load on a shared host, so it separates the payload's own noise from the host's."""
    ratios = [r.extra.get("cpu_s") for r in records if r.copy == 0 and r.metric == "ratio"]
    if ratios and all(isinstance(v, (int, float)) for v in ratios):
        return sum(ratios)
    chain = [r.value for r in records if r.copy == 0 and r.benchmark == "hepchain" and r.metric == "cpu_time"]
    return chain[0] if chain else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="smoke", choices=("smoke", "standard"))
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--mode", default="docker", choices=MODES)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--payloads", default=",".join(HEADLINE))
    parser.add_argument("--image-record", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    cache = REPO_ROOT / ".execbench" / "cache"
    if args.image_record:
        image = json.loads(args.image_record.read_text())
    else:
        import yaml

        from execbench import images

        config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
        image = images.build_and_push(images.ImageSpec.from_config("debian12", config["images"]["debian12"]),
                                      "127.0.0.1:5000", cache)
    mode = modes.get(args.mode)
    mode_ctx = ModeContext(name=args.mode, kind=args.mode, settings=mode_settings(args.mode), cache_dir=cache)
    defaults = load_config(REPO_ROOT / "config" / "config.yaml")["payloads"]
    summary = {"size": args.size, "mode": args.mode, "copies": args.copies, "image": image["reference"], "payloads": {}}
    for name in args.payloads.split(","):
        payload = payloads.get(name)
        settings = {**defaults[name], "size": args.size}
        values, walls, breakdown, cpu_values, others = [], [], [], [], []
        for rep in range(args.repetitions):
            with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
                out = Path(tmp) / "run"
                spec = RunContext(mode=mode_ctx, run_id=f"bench-{name}-{uuid.uuid4().hex[:6]}",
                                  image_ref=image["reference"], payload=name, copies=args.copies, repetition=rep,
                                  argv=payload.argv(settings), timeout_s=payload.timeout_s(settings), out_dir=out)
                busy0, t0 = host_busy_s(), time.perf_counter()
                results = mode.run(spec).copies
                walls.append(time.perf_counter() - t0)
                own = sum((r.cpu_s or 0.0) for r in results)
                others.append(max(0.0, host_busy_s() - busy0 - own) / (walls[-1] * os.cpu_count()))
                if any(r.exit_code != 0 for r in results):
                    raise SystemExit(f"{name} rep {rep}: exit codes {[r.exit_code for r in results]}")
                (out / "run.json").write_text(json.dumps({"copies": args.copies}))
                records = payload.parse(out)
                values.append(headline(records, name))
                cpu_values.append(cpu_seconds(records))
                breakdown.append({f"{r.benchmark}/{r.metric}": r.value for r in records
                                  if r.copy is None and r.value is not None})
        mean = statistics.fmean(values)
        cv = statistics.stdev(values) / mean if len(values) > 1 else float("nan")
        per_metric_cv = {}
        for key in breakdown[0]:
            series = [b[key] for b in breakdown if key in b]
            if len(series) > 1 and statistics.fmean(series):
                per_metric_cv[key] = statistics.stdev(series) / statistics.fmean(series)
        cpu_cv = (statistics.stdev(cpu_values) / statistics.fmean(cpu_values)
                  if len(cpu_values) > 1 and all(cpu_values) else None)
        summary["payloads"][name] = {"values": values, "mean": mean, "cv": cv, "wall_s": walls,
                                     "cpu_s": cpu_values, "cpu_cv": cpu_cv, "host_busy_by_others": others,
                                     "wall_mean_s": statistics.fmean(walls), "cv_by_metric": per_metric_cv}
        bench, metric = HEADLINE[name]
        print(f"{name:9} {bench}/{metric}: mean {mean:.4g}  CV {100 * cv:.2f} %  "
              f"wall per pass {statistics.fmean(walls):.1f} s  (n={len(values)})"
              + (f"  [CPU-time CV {100 * cpu_cv:.2f} %]" if cpu_cv is not None else "")
              + f"  host busy with other work: {100 * statistics.fmean(others):.0f} %", flush=True)
    out_json = args.json or REPO_ROOT / "bench" / "results" / f"payloads-{args.size}-{args.mode}.json"
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
