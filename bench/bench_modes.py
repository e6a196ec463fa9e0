#!/usr/bin/env python3
"""Side-by-side overhead of the execution modes on this host (issue 3's figures).

For each of --pairs rounds (modes in a seeded shuffled order within a round):
  host   : a fixed CPU-bound command (coreutils `factor` on five semiprimes, ~3 s) run
           directly on the host, timed around fork/exec/wait;
  bare   : the same command through BareMode (chroot into the image rootfs, its own uid,
           timed inside by the launcher);
  docker / podman : the same through the hardened container modes (timed inside).
The host's and the image's `factor` must be the same file (sha256 checked, recorded), so
the ratios compare environments, not builds. Reported: the median over rounds of the
per-round ratios bare/host (harness overhead, target <= 1.005), docker/bare, podman/bare,
of wall time and (less sensitive to other load on the host) of user+sys CPU time;
then the median startup latency of /bin/true per mode (host-measured, warm-up excluded).

  .venv/bin/python bench/bench_modes.py [--pairs 5] [--startup-samples 20]
      [--image-record results/images/debian12.json] [--output bench-modes.json]
Without an image record it builds/uses the small test image of the mode tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from execbench.config import mode_settings
from execbench.hostinfo import host_info
from execbench.modes.bare import BareMode
from execbench.modes.base import ModeContext, RunContext
from execbench.modes.docker import DockerMode
from execbench.modes.podman import PodmanMode
from execbench.paths import REPO_ROOT
from execbench.rootfs import export_rootfs
from execbench.runner import benchmark_slot

# Products of two primes of ~47-51 bits: Pollard rho in coreutils' factor is
# deterministic, so the work is identical every time (~3 s here in total).
SEMIPRIMES = ["633825300142257976294778928221"] * 3 + ["39614081264187127981806416123",
                                                        "158456325042601720335191629049"]
COMMAND = ["/usr/bin/factor", *SEMIPRIMES]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def image_record(path: str | None, scratch: Path) -> dict:
    if path:
        return json.loads(Path(path).read_text())
    default = REPO_ROOT / "results" / "images" / "debian12.json"
    if default.exists():
        return json.loads(default.read_text())
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from _modes_image import ensure_test_image

    return ensure_test_image(scratch)


def make_spec(image: dict, mode: ModeContext, argv: list[str], n: int, out_dir: Path) -> RunContext:
    return RunContext(mode=mode, run_id=f"bench-{mode.name}-{n}", image_ref=image["reference"], payload="bench",
                      copies=1, repetition=n, argv=argv, timeout_s=600, out_dir=out_dir)


def one_round(order: list[str], modes: dict, image: dict, n: int, scratch: Path) -> tuple[dict, dict]:
    """Wall and CPU (user+sys) seconds of the command per environment."""
    seconds, cpu = {}, {}
    for name in order:
        if name == "host":
            t0 = time.perf_counter()
            proc = subprocess.Popen(COMMAND, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds[name] = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise SystemExit(f"host round {n}: exit {proc.returncode}")
            cpu[name] = usage.ru_utime + usage.ru_stime
        else:
            mode, ctx = modes[name]
            result = mode.run(make_spec(image, ctx, COMMAND, n, scratch / f"{name}-{n}")).copies[0]
            if result.exit_code != 0:
                raise SystemExit(f"{name} round {n}: exit {result.exit_code} {result.detail}")
            seconds[name], cpu[name] = result.wall_s, result.cpu_s
    return seconds, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--startup-samples", type=int, default=20)
    parser.add_argument("--image-record")
    parser.add_argument("--cache", default=str(REPO_ROOT / ".execbench" / "cache"))
    parser.add_argument("--output")
    parser.add_argument("--seed", type=int, default=2015)
    parser.add_argument("--modes", default="bare,docker,podman",
                        help="comma-separated subset (e.g. 'bare' for many quick host/bare pairs)")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="execbench-bench-", dir="/var/tmp"))
    scratch.chmod(0o755)  # rootless podman (user execbench) must reach the run dirs
    image = image_record(args.image_record, scratch)
    root, _ = export_rootfs(image["reference"], args.cache)
    host_sum, image_sum = sha256(Path(COMMAND[0])), sha256(root / COMMAND[0].lstrip("/"))
    if host_sum != image_sum:
        print(f"warning: host and image {COMMAND[0]} differ ({host_sum[:12]} vs {image_sum[:12]})", file=sys.stderr)

    classes = {"bare": BareMode, "docker": DockerMode, "podman": PodmanMode}
    modes = {name: (classes[name](), ModeContext(name=name, kind=name, settings=mode_settings(name),
                                                 cache_dir=Path(args.cache)))
             for name in args.modes.split(",")}
    unavailable = {}
    for name, (mode, ctx) in list(modes.items()):
        availability = mode.available(ctx)
        if not availability.ok:
            unavailable[name] = availability.reason
            del modes[name]

    rng = random.Random(args.seed)
    rounds = []
    for n in range(args.pairs):
        order = ["host", *modes]
        rng.shuffle(order)
        with benchmark_slot():  # the host's lock: never next to a workflow run
            seconds, cpu = one_round(order, modes, image, n, scratch)
        rounds.append({"order": order, "seconds": seconds, "cpu_seconds": cpu})
        print(f"round {n}: " + ", ".join(f"{k} {v:.3f} s (cpu {cpu[k]:.3f})" for k, v in seconds.items()), flush=True)

    def median_ratio(num: str, den: str, key: str = "seconds") -> float | None:
        if not all(num in r[key] and den in r[key] for r in rounds):
            return None
        return statistics.median(r[key][num] / r[key][den] for r in rounds)

    pairs = [(a, b) for a, b in (("bare", "host"), ("docker", "bare"), ("podman", "bare")) if a in modes]
    ratios = {f"{a}/{b}": median_ratio(a, b) for a, b in pairs}
    cpu_ratios = {f"{a}/{b}": median_ratio(a, b, "cpu_seconds") for a, b in pairs}

    startup = {}
    true_argv = ["/bin/true"]
    with benchmark_slot():
        t_host = []
        for _ in range(args.startup_samples + 1):
            t0 = time.perf_counter()
            subprocess.run(true_argv, check=True)
            t_host.append(time.perf_counter() - t0)
        startup["host (fork/exec)"] = statistics.median(t_host[1:])
        for name, (mode, ctx) in modes.items():
            spec = make_spec(image, ctx, true_argv, 0, scratch / f"{name}-startup")
            samples = [mode.startup_sample(spec, true_argv).seconds for _ in range(args.startup_samples + 1)]
            startup[name] = statistics.median(samples[1:])  # first = warm-up

    summary = {"host": host_info(), "image": image["reference"], "command": COMMAND,
               "command_sha256": {"host": host_sum, "image": image_sum}, "pairs": args.pairs,
               "rounds": rounds, "median_ratios": ratios, "median_cpu_ratios": cpu_ratios, "startup_median_s": startup,
               "startup_samples": args.startup_samples, "unavailable": unavailable}
    print("\nmedian of per-round ratios (%d pairs):      wall      cpu(user+sys)" % args.pairs)
    for key, value in ratios.items():
        cpu_value = cpu_ratios.get(key)
        print(f"  {key:12s} {'n/a' if value is None else f'{value:.4f}':>30s}"
              f" {'n/a' if cpu_value is None else f'{cpu_value:.4f}':>10s}")
    print(f"median startup latency of /bin/true ({args.startup_samples} samples, warm-up excluded):")
    for key, value in startup.items():
        print(f"  {key:18s} {value * 1000:8.1f} ms")
    for key, reason in unavailable.items():
        print(f"  {key}: unavailable ({reason})")
    if args.output:
        Path(args.output).write_text(json.dumps(summary, indent=1))
    subprocess.run(["rm", "-rf", str(scratch)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
