"""Wall time of the report path (combine -> figures -> report) on ~1,000 runs' worth of parsed JSONs.

The parsed runs are synthetic (tests/synthetic_runs.py: cpusuite/hepchain/startup x bare/docker/podman
x 1 and 2 copies, one failed and one unavailable run), 18 runs per repetition; --runs picks the
repetitions. Prints the time of each step and the total; no benchmark payload runs.

    .venv/bin/python bench/bench_report.py [--runs 1000] [--out bench/out/report]
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import synthetic_runs  # noqa: E402

from execbench import figures, report, tables  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--out", default="bench/out/report")
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    reps = max(1, round(args.runs / 18))
    paths = synthetic_runs.write_parsed_runs(out / "parsed", reps=reps)
    n_records = sum(1 for _ in paths)
    t0 = time.perf_counter()
    tables.write_tables(paths, out / "tables")
    t1 = time.perf_counter()
    figures.write_figures(out / "tables", out / "report" / "figures")
    t2 = time.perf_counter()
    report.write_report(out / "tables", out / "report" / "figures", out / "report")
    t3 = time.perf_counter()
    rows = sum(1 for _ in open(out / "tables" / "measurements.csv")) - 1
    size = (out / "report" / "index.html").stat().st_size
    print(f"{n_records} parsed runs ({reps} repetitions), {rows} measurement rows")
    print(f"  combine (tables): {t1 - t0:6.2f} s")
    print(f"  figures:          {t2 - t1:6.2f} s")
    print(f"  report:           {t3 - t2:6.2f} s")
    print(f"  total:            {t3 - t0:6.2f} s   (index.html {size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
