#!/usr/bin/env python3
"""Ingest a site's existing raw logs listed in a CSV manifest into <results>/raw/.

Usage: ingest.py --manifest MANIFEST.csv --results RESULTS [--skipped RESULTS/ingest/skipped.json]
                 [--reserved-list STUDY_RUNS.txt]

Exit status 0 whatever the input: skipped rows, and a manifest that cannot be read at all, are
listed in the skipped JSON (which the report shows) and on stderr, one line each
(file:line: expected ...), so one bad manifest never stops the report of the other runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from execbench.ingest import ingest, where


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--skipped", default=None, help="where to write the skipped-inputs JSON")
    parser.add_argument("--reserved-list", default=None, help="file of the study's own rel_dirs (one per line)")
    args = parser.parse_args(argv)
    reserved = frozenset()
    if args.reserved_list:
        reserved = frozenset(line.strip() for line in Path(args.reserved_list).read_text().splitlines() if line.strip())
    summary = ingest(args.manifest, args.results, args.skipped, reserved)
    for run in summary["ingested"]:
        print(f"ingested {run['rel_dir']}: {run['inputs']} input(s), status {run['status']}")
    for item in summary["skipped"]:
        print(f"skipped {where(item['path'], item.get('line'))}: expected {item['expected']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
