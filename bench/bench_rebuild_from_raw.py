"""Wall time of the rebuild-from-raw target: results/raw (N runs' worth of real logs) -> parse -> tables
-> figures -> report, through Snakemake with `from_raw: true` (no benchmark runs, no image build).

Real raw run directories from a finished study (--source, e.g. a small real run) are replicated into
--runs run directories under --out (the copies get new repetition numbers in *their* run.json; the
source is only read). Then `snakemake --cores N` rebuilds everything from those raw logs.

    .venv/bin/python bench/bench_rebuild_from_raw.py --source results --runs 1000 [--cores 2]

from_raw parses every run in one job into one JSON Lines file (rule parse_raw_runs). The
side-by-side comparison with an earlier commit's path, on archives generated from the fixture
shapes, is bench/bench_archive_rebuild.py.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def replicate(source: Path, raw_out: Path, runs: int) -> int:
    originals = sorted(p.parent for p in (source / "raw").glob("*/*/*c/r*/run.json") if ".incomplete" not in p.parts)
    if not originals:
        raise SystemExit(f"no raw runs under {source / 'raw'}")
    next_rep: dict[tuple, int] = {}
    made = 0
    while made < runs:
        for run_dir in originals:
            if made >= runs:
                break
            run = json.loads((run_dir / "run.json").read_text())
            key = (run["payload"], run["mode"], run["copies"])
            rep = next_rep[key] = next_rep.get(key, 0) + 1
            dest = raw_out / run["payload"] / run["mode"] / f"{run['copies']}c" / f"r{rep}"
            shutil.copytree(run_dir, dest)
            run.update(repetition=rep, run_id=f"{run['payload']}-{run['mode']}-{run['copies']}c-r{rep}")
            (dest / "run.json").write_text(json.dumps(run, indent=1))
            made += 1
    return made


def rebuild(cmd: list[str], results: Path) -> float:
    """Wall time of one from_raw rebuild from nothing but results/raw."""
    for derived in ("parsed", "tables", "report", "logs"):
        shutil.rmtree(results / derived, ignore_errors=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(done.returncode)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True, help="a results dir holding raw/ of a finished study")
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--out", default="bench/out/rebuild")
    ap.add_argument("--cores", default="2")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    results = out / "results"
    made = replicate(Path(args.source), results / "raw", args.runs)
    override = out / "from_raw.yaml"
    override.write_text(f"from_raw: true\nresults: {results}\n")
    cmd = [sys.executable, "-m", "snakemake", "--cores", args.cores, "--quiet", "all",
           "--configfile", str(REPO_ROOT / "config" / "config.yaml"), str(override)]
    wall = rebuild(cmd, results)
    from execbench import figures, report, tables

    parsed = sorted((results / "parsed").rglob("*.jsonl"))
    t1 = time.perf_counter()
    only = out / "report-only"
    tables.write_tables(parsed, only / "tables")
    figures.write_figures(only / "tables", only / "report" / "figures")
    report.write_report(only / "tables", only / "report" / "figures", only / "report")
    report_only = time.perf_counter() - t1
    print(f"{made} raw runs replicated from {args.source}; parsed into {', '.join(map(str, parsed))}")
    print(f"  snakemake from_raw (parse + tables + figures + report), --cores {args.cores}: {wall:7.1f} s")
    print(f"  of which the report path alone (tables + figures + report, in-process):   {report_only:7.1f} s")


if __name__ == "__main__":
    main()
