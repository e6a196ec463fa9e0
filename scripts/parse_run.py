#!/usr/bin/env python3
"""Parse one raw run directory: parse_run.py RAW_RUN_DIR/run.json OUT.json"""

import sys
from pathlib import Path

from execbench.parse import write_parsed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    result = write_parsed(Path(argv[0]).parent, Path(argv[1]))
    for error in result["errors"]:
        line = "" if error["line"] is None else f":{error['line']}"
        print(f"skipped {error['path']}{line}: expected {error['expected']}", file=sys.stderr)
    print(f"{len(result['records'])} records, {len(result['errors'])} errors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
