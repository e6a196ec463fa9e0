"""Plan time at scale (issue 17): `snakemake -n` for 100 hosts x the default matrix x 5 repetitions,
and a no-op rerun of a finished study, measured in wall seconds and peak RSS of the Snakemake
process.

    .venv/bin/python bench/bench_plan_scale.py [--repo PATH] [--hosts 100] [--repetitions 5] [--repeat 3]

--repo: the checkout to plan with (default: this one), e.g. a worktree of an older commit to
compare, run side by side. Prints one JSON line per measurement and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def plan(repo: Path, hosts: int, repetitions: int, results: Path) -> dict:
    config = results.parent / "scale.yaml"
    study = {"cluster": {"hosts": [f"wn{i:03d}" for i in range(hosts)]},
             "study": {"repetitions": repetitions}, "results": str(results)}
    # over the default study: a checkout that composes configs (`extends`) reads a --configfile
    # as the whole study otherwise; older ones merged it over the default themselves
    if "extends" in (repo / "workflow" / "schemas" / "config.schema.yaml").read_text():
        study["extends"] = "default"
    config.write_text(json.dumps(study))
    snakemake = repo / ".venv" / "bin" / "snakemake"
    if not snakemake.exists():  # an older checkout without its own venv: this one's Snakemake
        snakemake = Path(sys.executable).parent / "snakemake"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    # the checkout's own package, whichever venv runs Snakemake
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    proc = subprocess.run([str(snakemake), "-n", "--cores", "2", "--configfile", str(config), "--quiet", "rules"],
                          cwd=repo, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"snakemake -n failed in {repo}:\n{proc.stderr[-3000:]}")
    # ru_maxrss of children is the largest child so far: only meaningful when it grew
    return {"repo": str(repo), "hosts": hosts, "repetitions": repetitions, "wall_s": round(wall, 2),
            "peak_rss_mb": round(max(rss, before) / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            row = plan(args.repo.resolve(), args.hosts, args.repetitions, Path(tmp) / f"results{i}")
            walls.append(row["wall_s"])
            print(json.dumps(row), flush=True)
    print(json.dumps({"median_wall_s": statistics.median(walls), "runs": len(walls)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
