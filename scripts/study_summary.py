#!/usr/bin/env python3
"""The end of a study: print its summary (results/tables/summary.json), fail when it has no answer.

    study_summary.py SUMMARY_JSON --out ANSWER_TXT [--no-fail]

Prints runs ok / failed / unavailable per payload and mode with the reasons from the payloads' own
logs (execbench.summary). Exit 1 when a payload has no valid bare-metal run or no mode could be
compared with bare metal at all, unless --no-fail (config: fail_without_answer: false); ANSWER_TXT
(the printed summary) is written only when the exit status is 0, so a later invocation of the
workflow prints and fails again instead of forgetting.
"""

import argparse
import json
import sys
from pathlib import Path

from execbench.summary import render_text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("summary", help="results/tables/summary.json")
    ap.add_argument("--out", required=True, help="the printed summary, written when the exit status is 0")
    ap.add_argument("--no-fail", action="store_true", help="exit 0 even when the study has no answer")
    args = ap.parse_args(argv)
    summary = json.loads(Path(args.summary).read_text())
    text = render_text(summary, fail_without_answer=not args.no_fail, summary_path=args.summary)
    print(text, end="", flush=True)
    if summary["problems"] and not args.no_fail:
        return 1
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
