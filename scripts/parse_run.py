#!/usr/bin/env python3
"""Parse raw run directories into schema-checked records (raw files are only read).

    parse_run.py RUN_JSON OUT_JSON
        one run (a study's parse_run jobs)
    parse_run.py --raw RESULTS/raw --out PARSED.jsonl [--jobs N] [--ingested-only] [--exclude-list FILE]
        every run under RESULTS/raw into one JSON Lines file (from_raw, and a study's ingested runs);
        --exclude-list: a file of rel_dirs (one per line) parsed elsewhere

In batch mode a run whose parsing raises anything unexpected is written as a parsed
result holding that error (the report lists it) and the batch goes on.
"""

import argparse
import sys
from pathlib import Path

from execbench.ingest import where
from execbench.parse import parse_batch, write_parsed


def report(run_json: str, result: dict) -> None:
    for error in result["errors"]:
        print(f"{run_json}: skipped {where(error['path'], error['line'])}: expected {error['expected']}",
              file=sys.stderr)
    print(f"{run_json}: {len(result['records'])} records, {len(result['errors'])} errors")


def main(argv: list[str]) -> int:
    if argv and not argv[0].startswith("--"):
        if len(argv) != 2:
            print(__doc__, file=sys.stderr)
            return 2
        report(argv[0], write_parsed(Path(argv[0]).parent, Path(argv[1])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", required=True, help="the results/raw directory")
    ap.add_argument("--out", required=True, help="the JSON Lines file to write")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--ingested-only", action="store_true", help="only runs written by ingest")
    ap.add_argument("--exclude-list", default=None, help="file of rel_dirs not to parse here")
    args = ap.parse_args(argv)
    exclude = frozenset()
    if args.exclude_list:
        exclude = frozenset(line.strip() for line in Path(args.exclude_list).read_text().splitlines() if line.strip())
    counts = parse_batch(Path(args.raw), Path(args.out), jobs=max(1, args.jobs), ingested_only=args.ingested_only,
                         exclude=exclude)
    print(f"{args.out}: {counts['runs']} runs, {counts['records']} records, {counts['errors']} errors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
