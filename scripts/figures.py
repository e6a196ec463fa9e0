#!/usr/bin/env python3
"""results/tables/* -> the report's figures (PNG + SVG) and figures.json.

    figures.py --tables results/tables --out results/report/figures
"""

import argparse
import sys

from execbench.figures import write_figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--tables", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    for fig in write_figures(args.tables, args.out):
        print(f"{fig.name}: {', '.join(str(p) for p in fig.files.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
