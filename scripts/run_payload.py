#!/usr/bin/env python3
"""Run one cell of the matrix and write its raw record (results/raw/.../run.json).

  run_payload.py --config CONFIG --payload P --mode M --copies N --rep R [--host H]
  run_payload.py --validated-config RUN_CONFIG_JSON ...   (an already-checked config, as JSON)
  run_payload.py --validated-config-env NAME ...          (the same JSON in environment variable NAME:
                                                           how the workflow hands its config over, run.smk)

Exits 0 whenever run.json was written, also for a failed or unavailable run:
that is a result, and the workflow goes on."""

import argparse
import json
import os
import sys
from pathlib import Path

from execbench.config import load_config
from execbench.errors import ExecbenchError
from execbench.runner import find_cell, raw_dir, run_cell


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="study config (YAML or JSON), validated here")
    source.add_argument("--validated-config", help="config JSON file, already validated")
    source.add_argument("--validated-config-env", metavar="NAME",
                        help="environment variable holding the config JSON the workflow validated (run.smk)")
    parser.add_argument("--payload", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--copies", type=int, required=True)
    parser.add_argument("--rep", type=int, required=True)
    parser.add_argument("--host", default=None, help="the cluster.hosts entry this run is meant for (fan-out)")
    args = parser.parse_args(argv)
    try:
        if args.validated_config:
            config = json.loads(Path(args.validated_config).read_text())
        elif args.validated_config_env:
            text = os.environ.get(args.validated_config_env)
            if not text:
                print(f"run_payload: environment variable {args.validated_config_env} is not set "
                      "(it carries the workflow's validated config; run through snakemake)", file=sys.stderr)
                return 2
            config = json.loads(text)
        else:
            config = load_config(args.config)
        cell = find_cell(config, args.payload, args.mode, args.copies, args.rep, args.host)
    except ExecbenchError as err:
        print(f"run_payload: {err}", file=sys.stderr)
        return 2
    record = run_cell(config, cell)
    print(f"{cell.run_id}: {record['status']} {record['reason']} ({record['wall_s']:.1f} s) -> {raw_dir(config, cell)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
