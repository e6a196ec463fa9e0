#!/usr/bin/env python3
"""Parse raw run directories into schema-checked records (raw files are only read).

    parse_run.py RUN_JSON OUT_JSON                          one run (a study's parse_run jobs)
    parse_run.py --runs RUN_JSON... --outputs OUT_JSON...   many runs in one process (from_raw)

In batch mode a run whose parsing raises anything unexpected is written as a parsed
result holding that error (the report lists it) and the batch goes on.
"""

import argparse
import sys
from pathlib import Path

from execbench.parse import write_parsed, write_parse_failure


def report(run_json: str, result: dict) -> None:
    for error in result["errors"]:
        line = "" if error["line"] is None else f":{error['line']}"
        print(f"{run_json}: skipped {error['path']}{line}: expected {error['expected']}", file=sys.stderr)
    print(f"{run_json}: {len(result['records'])} records, {len(result['errors'])} errors")


def main(argv: list[str]) -> int:
    if argv and not argv[0].startswith("--"):
        if len(argv) != 2:
            print(__doc__, file=sys.stderr)
            return 2
        report(argv[0], write_parsed(Path(argv[0]).parent, Path(argv[1])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--outputs", nargs="+", required=True)
    args = ap.parse_args(argv)
    if len(args.runs) != len(args.outputs):
        ap.error(f"{len(args.runs)} runs but {len(args.outputs)} outputs: one output per run")
    for run_json, out in zip(args.runs, args.outputs):
        try:
            result = write_parsed(Path(run_json).parent, Path(out))
        except Exception as exc:  # a bug on one run must not cost the other runs their parse
            result = write_parse_failure(Path(run_json).parent, Path(out), exc)
        report(run_json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
