#!/usr/bin/env python3
"""Ingest a site's existing raw logs listed in a CSV manifest into <results>/raw/.

Usage: ingest.py --manifest MANIFEST.csv --results RESULTS [--skipped RESULTS/ingest/skipped.json]

Exit status 0 when the manifest could be read (skipped rows are listed in the skipped JSON
and on stderr, one line each: file:line: expected ...); 2 when the manifest itself is unusable.
"""

from __future__ import annotations

import argparse
import sys

from execbench.errors import ExecbenchError
from execbench.ingest import ingest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--skipped", default=None, help="where to write the skipped-inputs JSON")
    args = parser.parse_args(argv)
    try:
        summary = ingest(args.manifest, args.results, args.skipped)
    except ExecbenchError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return 2
    for run in summary["ingested"]:
        print(f"ingested {run['rel_dir']}: {run['inputs']} input(s), status {run['status']}")
    for item in summary["skipped"]:
        where = item["path"] if item.get("line") is None else f"{item['path']}:{item['line']}"
        print(f"skipped {where}: expected {item['expected']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
