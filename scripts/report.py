#!/usr/bin/env python3
"""Tables + figures -> results/report/index.html (self-contained) and report.md.

    report.py --tables results/tables --figures results/report/figures --out results/report [--config FILE]
    report.py --rebuild --results results [--config FILE]
        the whole path from results/parsed/**/*.json: tables, figures, report (no benchmark runs)
"""

import argparse
import sys
from pathlib import Path

from execbench.report import build_all, write_report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--tables")
    ap.add_argument("--figures")
    ap.add_argument("--out")
    ap.add_argument("--config", action="append", default=[], help="config file to embed (repeatable)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild tables, figures and report from parsed runs")
    ap.add_argument("--results", default="results")
    ap.add_argument("--from-raw", action="store_true", help="no benchmark ran: do not show the config as the runs'")
    args = ap.parse_args(argv)
    if args.rebuild:
        parsed = sorted(p for p in Path(args.results, "parsed").rglob("*.json*") if p.suffix in (".json", ".jsonl"))
        out = build_all(parsed, args.results, args.config, from_raw=args.from_raw)
        print(f"{len(parsed)} parsed runs -> {out['report']['html']}")
        return 0
    if not (args.tables and args.figures and args.out):
        ap.error("--tables, --figures and --out are required without --rebuild")
    out = write_report(args.tables, args.figures, args.out, args.config, from_raw=args.from_raw)
    print(f"-> {out['html']}, {out['md']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
