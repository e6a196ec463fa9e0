"""Set-up and image stage timings: what a rerun costs, and a cold image build.

    .venv/bin/python bench/bench_setup_images.py [--setup-runs 5] [--cold]

- no-op `scripts/setup.sh` (everything already done), median of N runs;
- warm image build+push of the configured default image (base imported,
  docker layer cache warm): what Snakemake pays when only an input changed
  at the end of the Dockerfile, or when it reruns after a param change;
- with --cold: the same build after removing the cached base rootfs tarball
  and the imported base image, so debootstrap, import, every Dockerfile step
  and the push of new layers are paid (several minutes; the wheels cache is
  kept: pip download is ~10 s).
Prints one line per measurement; timings vary +-30 % on a shared 2-core machine.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from execbench import images
from execbench.paths import REPO_ROOT


def time_setup(runs: int) -> list[float]:
    walls = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run(["bash", str(REPO_ROOT / "scripts/setup.sh")], check=True, capture_output=True)
        walls.append(time.monotonic() - started)
    return walls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--setup-runs", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="also drop the cached base and rebuild it")
    args = ap.parse_args()

    walls = time_setup(args.setup_runs)
    print(f"setup.sh no-op: median {statistics.median(walls):.2f} s over {len(walls)} runs (max {max(walls):.2f} s)")

    config = yaml.safe_load((REPO_ROOT / "config/config.yaml").read_text())
    name = config["image"]
    spec = images.ImageSpec.from_config(name, config["images"][name])
    cache = REPO_ROOT / config["cache"]
    client = images.docker_client()
    if args.cold:
        settings = spec.base.get("debootstrap")
        if settings is None:
            sys.exit("--cold needs a debootstrap base")
        (cache / "bases" / f"{images.base_key(spec.base)}.tar").unlink(missing_ok=True)
        local = f"execbench-base/{settings['suite']}-{settings['variant']}:{images.base_key(spec.base)}"
        try:
            client.images.remove(local, force=True)
        except Exception:  # not there: already cold
            pass
    started = time.monotonic()
    record = images.build_and_push(spec, config["registry"]["address"], cache, client)
    wall = time.monotonic() - started
    kind = "cold" if args.cold else "warm"
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in record["timings_s"].items())
    print(f"image {name} {kind} build+push: {wall:.1f} s ({parts}); cached={record['build_cached']}; "
          f"size {record['size_bytes'] / 1e6:.0f} MB; {record['reference']}")  # fmt: skip


if __name__ == "__main__":
    main()
