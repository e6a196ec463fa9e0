"""Synthetic parsed-run JSONs in the shape execbench.parse writes ({run, records, errors}), for report tests.

These are fakes on purpose: the report stage must be developed and tested without running
benchmarks. Values are drawn from a fixed seed; the true mode factors are known, so tests can
check what the tables say against them.

Contents of `write_parsed_runs(root)` (defaults):
- host "synth-host", modes bare/docker/podman, payloads cpusuite/hepchain/startup,
  copies 1 and 2, repetitions 1..3;
- docker cpusuite 2c r2 is a failed run (exit code 1, one benchmark's record failed);
- vm cpusuite 1c r1 is an unavailable run (no records);
- optionally (emulated_vm=True) ok vm runs flagged emulated.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

CPU_BENCHMARKS = {  # benchmark -> bare-metal ratio per copy (reference time / run time)
    "bzip2": 11.0, "gcc": 14.0, "gobmk": 9.5, "hmmer": 12.5, "povray": 16.0, "xalan": 13.0,
}
HEP_STEPS = {"hepchain.gen": 400.0, "hepchain.sim": 150.0, "hepchain.digi": 900.0, "hepchain.reco": 250.0}  # events/s per copy on bare
MODE_FACTORS = {"bare": 1.0, "docker": 0.99, "podman": 0.985, "vm": 0.05}  # performance relative to bare
STARTUP_S = {"bare": 0.002, "docker": 0.45, "podman": 0.65, "vm": 9.0}
NOISE_CV = 0.004
STARTUP_SAMPLES = 5


def _environment(mode: str) -> dict:
    """What a copy saw (the launcher's fingerprint): containers filter system calls and get a
    64 MiB /dev/shm; bare metal neither."""
    container = mode in ("docker", "podman")
    return {"seccomp": 2 if container else 0, "seccomp_filters": 1 if container else 0,
            "speculation_store_bypass": "thread vulnerable", "shm_bytes": 64 * 2 ** 20 if container else 2 ** 33,
            "cgroup": {"version": 1 if container else None, "cpu_quota_us": -1 if container else None},
            "visible_cpus": [0, 1], "cpu_count": 2, "clocksource": "tsc", "clock_gettime_ns": 25.0,
            "isa_level": "x86-64-v3", "cpu_flags_not_seen": []}


def _run(payload, mode, copies, rep, status="ok", reason="", emulated=False, order=0):
    kind = mode.split("-")[0]  # bare-aa, bare-quota: controls of kind bare
    versions = {"bare": {"chroot": "coreutils 9.1"}, "docker": {"engine": "20.10.24", "runc": "1.1.5"},
                "podman": {"engine": "4.3.1", "crun": "1.8.1"}, "vm": {"qemu": "7.2.11"}}[kind]
    digest = "sha256:" + "ab" * 32
    return {
        "run_id": f"{payload}-{mode}-{copies}c-r{rep}", "payload": payload, "mode": mode,
        "mode_kind": kind, "mode_settings": {"kind": kind}, "copies": copies, "repetition": rep,
        "order_index": order, "seed": 2015, "status": status, "reason": reason, "emulated": emulated,
        "host": {"hostname": "synth-host", "cpu_model": "Synthetic CPU @ 2.20GHz", "logical_cores": 2,
                 "kernel": "6.1.0-synthetic", "os": "Debian GNU/Linux 12 (bookworm)"},
        "versions": versions,
        "image": {"name": "debian12", "reference": f"127.0.0.1:5000/execbench/debian12@{digest}",
                  "digest": digest},
        "started_utc": f"2026-11-29T04:{order % 60:02d}:00Z", "ended_utc": f"2026-11-29T04:{order % 60:02d}:30Z",
        "wall_s": 30.0, "copies_result": [
            {"copy": i, "exit_code": 0 if status == "ok" else 1, "wall_s": 30.0, "timed_out": False, "cpu_s": 29.0,
             "environment": _environment(mode)}
            for i in range(copies)] if status != "unavailable" else [],
        "config_sha256": "cd" * 32,
    }


def _rec(benchmark, metric, value, unit, hib, source, copy=None, status="ok", detail="", line=None):
    return {"benchmark": benchmark, "metric": metric, "value": value, "unit": unit, "higher_is_better": hib,
            "source_file": source, "copy": copy, "status": status, "source_line": line, "detail": detail,
            "extra": {}}


def cpusuite_records(factor, copies, rng, fail_benchmark=None):
    recs, copy_scores = [], []
    machine = {b: 0.0 for b in CPU_BENCHMARKS}
    for c in range(copies):
        ratios = []
        for i, (b, ref) in enumerate(CPU_BENCHMARKS.items()):
            src = f"copy{c}/cpusuite.log"
            if b == fail_benchmark:
                recs.append(_rec(b, "ratio", None, "ratio", True, src, c, "failed", "output mismatch (VE)", i + 1))
                machine[b] = None
                continue
            v = ref * factor * rng.gauss(1.0, NOISE_CV)
            ratios.append(v)
            recs.append(_rec(b, "ratio", v, "ratio", True, src, c, line=i + 1))
            if machine[b] is not None:
                machine[b] += v
        if len(ratios) == len(CPU_BENCHMARKS):
            gm = 1.0
            for v in ratios:
                gm *= v
            gm **= 1 / len(ratios)
            copy_scores.append(gm)
            recs.append(_rec("cpusuite", "score", gm, "score", True, f"copy{c}/cpusuite.log", c))
    for b, v in machine.items():
        if v is not None:
            recs.append(_rec(b, "ratio", v, "ratio", True, "copy*/cpusuite.log"))
    if len(copy_scores) == copies:
        recs.append(_rec("cpusuite", "score", sum(copy_scores), "score", True, "copy*/cpusuite.log"))
    return recs


def hepchain_records(factor, copies, rng):
    recs, total = [], 0.0
    machine = {s: 0.0 for s in HEP_STEPS}
    for c in range(copies):
        inv = 0.0
        for s, eps in HEP_STEPS.items():
            v = eps * factor * rng.gauss(1.0, NOISE_CV)
            machine[s] += v
            inv += 1.0 / v
            recs.append(_rec(s, "events_per_s", v, "events/s", True, f"copy{c}/hepchain.json", c))
        chain = 1.0 / inv  # events/s through the whole chain
        total += chain
        recs.append(_rec("hepchain", "events_per_s", chain, "events/s", True, f"copy{c}/hepchain.json", c))
    for s, v in machine.items():
        recs.append(_rec(s, "events_per_s", v, "events/s", True, "copy*/hepchain.json"))
    recs.append(_rec("hepchain", "events_per_s", total, "events/s", True, "copy*/hepchain.json"))
    return recs


def startup_records(mode, copies, rng):
    """Like payloads/startup.py: per-copy median of the samples, machine-level median of all."""
    recs, samples = [], []
    for c in range(copies):
        mine = sorted(STARTUP_S[mode] * rng.lognormvariate(0.0, 0.08) for _ in range(STARTUP_SAMPLES))
        samples += mine
        recs.append(_rec("startup", "latency_median", mine[len(mine) // 2], "s", False, f"copy{c}/startup.csv", c,
                         detail=f"median of {len(mine)} samples (warm-up excluded)"))
    samples.sort()
    recs.append(_rec("startup", "latency_median", samples[len(samples) // 2], "s", False, "."))
    return recs


def write_parsed_runs(root, *, modes=("bare", "docker", "podman"), payloads=("cpusuite", "hepchain", "startup"),
                      copies=(1, 2), reps=3, seed=2015, failed=True, unavailable_vm=True, emulated_vm=False,
                      parse_error=True, host_suffix=""):
    """Write parsed-run JSONs under root/<payload>/<mode>/<copies>c/r<rep>.json; return their paths."""
    rng = random.Random(seed)
    root = Path(root)
    paths, order = [], 0
    cells = [(p, m, c) for p in payloads for m in modes for c in copies]
    if emulated_vm:
        cells += [("cpusuite", "vm", c) for c in copies]
    for rep in range(1, reps + 1):
        for payload, mode, ncopies in cells:
            order += 1
            status, reason, errors = "ok", "", []
            is_failed = failed and (payload, mode, ncopies, rep) == ("cpusuite", "docker", 2, 2)
            if is_failed:
                status, reason = "failed", "copy 1 exited with code 1"
            factor = MODE_FACTORS[mode]
            if payload == "cpusuite":
                records = cpusuite_records(factor, ncopies, rng, "gcc" if is_failed else None)
            elif payload == "hepchain":
                records = hepchain_records(factor, ncopies, rng)
            else:
                records = startup_records(mode, ncopies, rng)
            if parse_error and (payload, mode, ncopies, rep) == ("hepchain", "podman", 1, 3):
                errors = [{"path": "results/raw/hepchain/podman/1c/r3/copy0/hepchain.json", "line": 7,
                           "expected": "a 'reco' step entry with events_per_s"}]
            run = _run(payload, mode, ncopies, rep, status, reason, emulated=(mode == "vm"), order=order)
            if host_suffix:
                run["host"]["hostname"] += host_suffix
                run["run_id"] += host_suffix
            paths.append(_write(root, run, records, errors))
    if unavailable_vm:
        run = _run("cpusuite", "vm", 1, 1, "unavailable", "no usable KVM: /dev/kvm is PVM, emulation not allowed",
                   order=order + 1)
        paths.append(_write(root, run, [], []))
    return paths


def _write(root, run, records, errors):
    path = root / run["payload"] / run["mode"] / f"{run['copies']}c" / f"r{run['repetition']}{_suffix(run)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run": run, "records": records, "errors": errors}, indent=1))
    return path


def _suffix(run):
    host = run["host"]["hostname"]
    return "" if host == "synth-host" else f"-{host}"


def write_fixed_value_runs(root, host, values, *, emulated_modes=()):
    """One machine-level cpusuite/score record per run, no noise: values = {mode: [rep 1, rep 2, ...]}.

    For tests whose per-host ratios are computed by hand. Runs go under root like write_parsed_runs';
    host names the machine (run ids get "-<host>" appended unless it is "synth-host")."""
    root = Path(root)
    paths, order = [], 0
    for mode, reps in values.items():
        for rep, value in enumerate(reps, start=1):
            order += 1
            run = _run("cpusuite", mode, 1, rep, emulated=mode in emulated_modes, order=order)
            run["host"]["hostname"] = host
            run["run_id"] += _suffix(run)
            record = _rec("cpusuite", "score", value, "score", True, "copy*/cpusuite.log")
            paths.append(_write(root, run, [record], []))
    return paths


def build_all(parsed_paths, root, config_path=None) -> dict:
    """Tables, figures and report from parsed runs, chained as the workflow's report stage does."""
    from execbench import figures, report, tables

    root = Path(root)
    skipped = root / "ingest" / "skipped.json"
    files = tables.write_tables(parsed_paths, root / "tables", skipped if skipped.exists() else None)
    figs = figures.write_figures(root / "tables", root / "report" / "figures")
    rep = report.write_report(root / "tables", root / "report" / "figures", root / "report", config_path)
    return {"tables": files, "figures": figs, "report": rep}
