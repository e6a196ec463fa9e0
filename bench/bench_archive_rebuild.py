"""Archive scale: rebuild tables, figures and report from N archived runs, today's path beside this one.

A site's archive is generated from the real fixture shapes (tests/fixtures/logs): STREAM 5.10 and
5.9, fio JSON and fio 3 text, DB12 multiple, HEPscore results and HS06 result directories, with
their numbers scaled per run so that modes and repetitions differ. The files go in through the
real ingest (a manifest of N rows, one run each, 4 hosts, modes bare/docker, copies 1), which
writes results/raw/. Then `snakemake --config from_raw=true` rebuilds everything from that raw
directory, timed, once with the workflow of a baseline commit (exported with `git archive`, its
own package first on PYTHONPATH) and once with this checkout, both on the same raw runs, each
into its own results directory (raw/ shared through a symlink, read only), alternating, repeated.

    .venv/bin/python bench/bench_archive_rebuild.py --runs 1000 10000 --baseline 016c15a [--repeat 2]

Prints one line per (runs, path, repetition) and a table of the medians; writes
bench/out/archive/figures.json. The baseline can be skipped beyond a size (--baseline-max-runs)
or stopped after --baseline-timeout; a baseline that fails (at 10,000 runs today's from_raw job
exceeds the kernel's argument-list limit) is reported with its log, and this checkout is still
measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "logs"
sys.path.insert(0, str(REPO_ROOT / "src"))

# (payload, fixture, format or "", share of the archive)
SHAPES = [
    ("stream", "stream/stream_ok.txt", "", 0.25),
    ("stream", "stream/stream59_omp4.txt", "", 0.15),
    ("fio", "fio/fio_ok.json", "", 0.15),
    ("fio", "fio/fio_text.txt", "", 0.10),
    ("db12", "db12/db12_multiple.txt", "", 0.15),
    ("hepscore", "hepscore/hepscore_ok.json", "", 0.10),
    ("hs06", "spec_cpu2006/hs06_valid_2copies", "hs06", 0.10),
]
HOSTS = ("wn001", "wn002", "wn003", "wn004")
MODES = ("bare", "docker")


def _scaled_stream(text: str, factor: float) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        head = line.split(":", 1)[0]
        if head in ("Copy", "Scale", "Add", "Triad") and ":" in line:
            parts = line.split()
            out.append(line.replace(parts[1], f"{float(parts[1]) * factor:.4f}", 1))
        else:
            out.append(line)
    return "".join(out)


def _scaled_db12(text: str, factor: float) -> str:
    head, values = text.strip().splitlines()
    raw = [float(v) * factor for v in values.split()]
    fields = head.split()
    fields[1] = repr(sum(raw))
    return " ".join(fields) + "\n" + " ".join(repr(v) for v in raw) + "\n"


def generate(archive: Path, runs: int, seed: int = 2015) -> Path:
    """An archive of `runs` single-run inputs and its manifest; returns the manifest path."""
    rng = random.Random(seed)
    archive.mkdir(parents=True, exist_ok=True)
    rows = ["path,host,mode,payload,copies,repetition,label,format,copy"]
    shares = [s[3] for s in SHAPES]
    reps: dict[tuple, int] = {}
    for i in range(runs):
        payload, rel, fmt, _ = rng.choices(SHAPES, weights=shares)[0]
        host, mode = HOSTS[i % len(HOSTS)], MODES[(i // len(HOSTS)) % len(MODES)]
        key = (payload, rel, mode)  # the raw layout has no host: repetitions count per cell and mode
        reps[key] = reps.get(key, 0) + 1
        src = FIXTURES / rel
        dest = archive / f"{i:06d}-{src.name}"
        factor = (0.97 if mode == "docker" else 1.0) * rng.gauss(1.0, 0.01)
        if src.is_dir():
            shutil.copytree(src, dest)
        elif payload == "stream":
            dest.write_text(_scaled_stream(src.read_text(), factor))
        elif payload == "db12":
            dest.write_text(_scaled_db12(src.read_text(), factor))
        else:
            shutil.copy(src, dest)
        # one payload name per fixture shape, so each shape is its own cell
        cell = f"{payload}-{Path(rel).stem.replace('_', '-')}"
        rows.append(f"{dest.name},{host},{mode},{cell},1,{reps[key]},archive,{fmt},")
    manifest = archive / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def export_baseline(rev: str, dest: Path) -> Path:
    """The workflow and package of commit `rev`, as a plain tree (git archive)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    tar = dest.with_suffix(".tar")
    subprocess.run(["git", "-C", str(REPO_ROOT), "archive", "-o", str(tar), rev], check=True)
    with tarfile.open(tar) as fh:
        fh.extractall(dest, filter="data")
    tar.unlink()
    return dest


class RebuildFailed(Exception):
    """A rebuild that failed or ran out of time: (wall, cpu, why)."""


def rebuild(tree: Path, raw: Path, results: Path, cores: str, timeout: float | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system of every process it started) of one from_raw rebuild
    with the workflow in `tree`, from `raw` alone. CPU time says how much work it was even when
    other jobs share the machine's cores."""
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    (results / "raw").symlink_to(raw)
    override = results.parent / f"{results.name}.yaml"
    override.write_text(f"from_raw: true\nresults: {results}\n")
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), MPLBACKEND="Agg")
    # a working directory of its own: fresh Snakemake metadata, no lock shared with other checkouts
    workdir = results.parent / f"{results.name}-workdir"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    (workdir / "config").symlink_to(tree / "config")
    cmd = [sys.executable, "-m", "snakemake", "--cores", cores, "--quiet", "all", "--snakefile",
           str(tree / "Snakefile"), "--directory", str(workdir), "--configfile", str(tree / "config" / "config.yaml"),
           str(override)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
        why = None if proc.returncode == 0 else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # its own session: Snakemake and the jobs it started
        _, err = proc.communicate()
        why = f"still running after {timeout:.0f} s, stopped"
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if why is None and not (results / "report" / "index.html").is_file():
        why = "no report"
    if why:
        logs = sorted((results / "logs").rglob("*.log")) if (results / "logs").is_dir() else []
        detail = " | ".join(f"{log.name}: {log.read_text()[-300:].strip()}" for log in logs if log.stat().st_size)
        raise RebuildFailed(wall, cpu, f"{why}; {detail or err[-300:].strip()}")
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, nargs="+", default=[1000])
    ap.add_argument("--baseline", default="016c15a", help="commit whose from_raw path is today's")
    ap.add_argument("--baseline-max-runs", type=int, default=100_000, help="skip the baseline above this size")
    ap.add_argument("--baseline-timeout", type=float, default=1800, help="stop the baseline after this many s")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cores", default="2")
    ap.add_argument("--out", default="bench/out/archive")
    args = ap.parse_args()
    out = (REPO_ROOT / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    baseline = export_baseline(args.baseline, out / "baseline-tree")
    from execbench.ingest import ingest

    figures = []
    for runs in args.runs:
        work = out / f"n{runs}"
        shutil.rmtree(work, ignore_errors=True)
        t0 = time.perf_counter()
        manifest = generate(work / "archive", runs)
        summary = ingest(manifest, work / "ingest", work / "ingest" / "skipped.json")
        setup = time.perf_counter() - t0
        ok = sum(r["status"] == "ok" for r in summary["ingested"])
        print(f"{runs} runs: archive generated and ingested in {setup:.1f} s ({ok} ok, "
              f"{len(summary['skipped'])} skipped)", flush=True)
        raw = work / "ingest" / "raw"
        paths = [("this checkout", REPO_ROOT)]
        if runs <= args.baseline_max_runs:
            paths.insert(0, (f"baseline {args.baseline}", baseline))
        walls: dict[str, list[float]] = {name: [] for name, _ in paths}
        cpus: dict[str, list[float]] = {name: [] for name, _ in paths}
        failed: dict[str, str] = {}
        for rep in range(args.repeat):
            for name, tree in (paths if rep % 2 == 0 else paths[::-1]):  # alternate the order
                load = os.getloadavg()[0]
                timeout = args.baseline_timeout if tree is baseline else None
                try:
                    wall, cpu = rebuild(tree, raw, work / f"results-{len(walls[name])}-{name.split()[0]}",
                                        args.cores, timeout)
                except RebuildFailed as exc:
                    wall, cpu, why = exc.args
                    failed[name] = f"failed after {wall:.0f} s ({why[:400]})"
                    print(f"  {name:>24}: {failed[name]}", flush=True)
                    continue
                walls[name].append(wall)
                cpus[name].append(cpu)
                print(f"  {name:>24}: {wall:7.1f} s wall, {cpu:7.1f} s CPU (load average before: {load:.1f})",
                      flush=True)
        row = {"runs": runs, "setup_s": setup, "failed": failed,
               "wall": {name: statistics.median(w) for name, w in walls.items() if w},
               "cpu": {name: statistics.median(c) for name, c in cpus.items() if c}, "all_wall": walls, "all_cpu": cpus}
        figures.append(row)
        shutil.rmtree(work / "archive", ignore_errors=True)
    print(f"\nfrom_raw rebuild (parse + tables + figures + report), --cores {args.cores}, median of {args.repeat}:")
    base_name = f"baseline {args.baseline}"
    print(f"{'runs':>8} | {base_name + ' wall':>24} | {'this wall':>10} | ratio | {'baseline CPU':>12} | "
          f"{'this CPU':>9} | ratio")
    def fmt(x: float) -> str:
        return f"{x:.1f} s"

    for row in figures:
        bw, mw = row["wall"].get(base_name), row["wall"]["this checkout"]
        bc, mc = row["cpu"].get(base_name), row["cpu"]["this checkout"]
        base_text = fmt(bw) if bw else ("failed" if base_name in row["failed"] else "not run")
        print(f"{row['runs']:>8} | {base_text:>24} | {fmt(mw):>10} | "
              f"{(f'{bw / mw:.1f}x' if bw else '—'):>5} | {fmt(bc) if bc else 'not run':>12} | {fmt(mc):>9} | "
              f"{(f'{bc / mc:.1f}x' if bc else '—'):>5}")
        for name, why in row["failed"].items():
            print(f"{'':>8}   {name} at {row['runs']} runs: {why}")
    (out / "figures.json").write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
