#!/usr/bin/env python3
"""Parsed-run JSONs -> results/tables/* (measurements, runs, relative, scaling, excluded).

    combine.py --out results/tables [--skipped results/ingest/skipped.json] PARSED.json...
    combine.py --out results/tables --parsed-dir results/parsed        (every *.json below it)
"""

import argparse
import sys
from pathlib import Path

from execbench.tables import write_tables


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--out", required=True, help="tables directory to write")
    ap.add_argument("--skipped", default=None, help="ingest's skipped.json, listed in the report if it exists")
    ap.add_argument("--parsed-dir", default=None, help="take every parsed-run JSON below this directory")
    ap.add_argument("parsed", nargs="*", help="parsed-run JSON files")
    args = ap.parse_args(argv)
    paths = list(args.parsed)
    if args.parsed_dir:
        paths += sorted(str(p) for p in Path(args.parsed_dir).rglob("*.json*") if p.suffix in (".json", ".jsonl"))
    files = write_tables(paths, args.out, args.skipped if args.skipped and Path(args.skipped).exists() else None)
    print(f"{len(paths)} parsed runs -> {', '.join(str(p) for p in files.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
