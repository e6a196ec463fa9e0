#!/usr/bin/env python3
"""Build one image, push it to the registry and write its record.

  build_image.py --name NAME --definition DIR (relative to the repository) --base JSON --registry HOST:PORT
                 --cache DIR --output results/images/NAME.json [--description TEXT]

--base is the image's `base` config as JSON, e.g. '{"debootstrap": {"suite": "bookworm"}}'
or '{"reference": "registry.example.org/sl6@sha256:..."}'. Progress goes to stderr.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from execbench.errors import ExecbenchError
from execbench.images import ImageSpec, build_and_push, write_record


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True)
    parser.add_argument("--definition", required=True)
    parser.add_argument("--base", required=True, help="the base config as JSON")
    parser.add_argument("--registry", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--description", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("urllib3", "docker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        section = {"base": json.loads(args.base), "definition": args.definition, "description": args.description}
        spec = ImageSpec.from_config(args.name, section)  # definition relative to the repository
        record = build_and_push(spec, args.registry, Path(args.cache))
        write_record(record, Path(args.output))
    except (ExecbenchError, json.JSONDecodeError) as error:
        print(f"build_image: {error}", file=sys.stderr)
        return 1
    print(f"{record['reference']}  {record['size_bytes'] / 1e6:.0f} MB  build {record['build_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
