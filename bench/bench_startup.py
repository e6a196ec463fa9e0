"""Start-up cost of a Snakemake call on a finished study: a no-op rerun and a no-op dry run, with the
cluster executor plugins on the import path (as every call had them before they moved to
.venv/cluster-plugins) and off it (a local call now), each on a host without the SLURM client tools
and on one with them but no controller answering. Side by side: every repetition runs every arm
once, in a fresh seeded shuffle, so drifts of the shared machine hit all arms alike.

    .venv/bin/python bench/bench_startup.py [--repetitions 5] [--results results] [--seed 1]

Needs a finished study in --results (the default study: `bash scripts/run.sh`): the script checks
that `snakemake -n` has nothing to do before it times anything, so no arm can start real work.
The arms:
- plugins: "on path" = PYTHONPATH=.venv/cluster-plugins, which is what the old install in
  site-packages amounted to (Snakemake finds plugins with pkgutil.iter_modules over sys.path);
  "off path" = what a local call gets now;
- SLURM tools: "absent" = PATH rebuilt from symlinks without the slurm-client package's commands
  (the plugin's probe then fails at once: FileNotFoundError); "controller down" = the tools on
  PATH and SLURM_CONF pointing at a slurm.conf whose controller port has nobody listening
  (what a host sees once the test cluster is stopped, without stopping a cluster someone uses);
- command: `snakemake --cores all` (no-op rerun) and `snakemake -n` (dry run); plus the README's
  `bash scripts/run.sh` (set-up included) with the plugins wherever run.sh puts them.
Prints per arm the median, min and max wall time, then per (tools, command) the median of the
paired on/off differences. "controller down" needs the slurm-client package (scripts/setup/slurm.sh
installs it); without it those arms are skipped and the script says so.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
CLUSTER_PLUGINS = REPO_ROOT / ".venv" / "cluster-plugins"


def slurm_client_commands() -> list[str]:
    """Command names the slurm-client package installs (empty when it is not installed)."""
    listed = subprocess.run(["dpkg", "-L", "slurm-client"], capture_output=True, text=True)
    if listed.returncode != 0:
        return []
    return sorted({Path(p).name for p in listed.stdout.split() if "/bin/" in p})


def path_without(commands: list[str], scratch: Path) -> str:
    """PATH with the venv first and every other directory replaced by symlinks to all but `commands`."""
    dirs = [str(VENV_BIN)]
    for index, directory in enumerate(os.environ["PATH"].split(os.pathsep)):
        if not os.path.isdir(directory) or directory == str(VENV_BIN):
            continue
        shadow = scratch / f"path{index}"
        shadow.mkdir()
        for entry in os.scandir(directory):
            if entry.name not in commands:
                (shadow / entry.name).symlink_to(entry.path)
        dirs.append(str(shadow))
    return os.pathsep.join(dirs)


def dead_controller_conf(scratch: Path) -> Path:
    """A slurm.conf naming a loopback controller port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free now; closed again, so connections are refused
    host = socket.gethostname().split(".")[0]
    conf = scratch / "slurm.conf"
    conf.write_text(
        f"ClusterName=bench\nSlurmctldHost={host}(127.0.0.1)\nSlurmctldPort={port}\n"
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs=1 State=UNKNOWN\n"
        f"PartitionName=bench Nodes={host} Default=YES State=UP\n"
    )
    return conf


def timed(argv: list[str], env: dict, expect: str | None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode != 0 or (expect and expect not in output):
        sys.exit(f"{' '.join(argv)}: exit {done.returncode}, expected {expect!r}\n{output[-3000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--results", default="results", help="results dir of a finished study")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    config = ["--config", f"results={args.results}"]
    snakemake = [str(VENV_BIN / "snakemake")]
    commands = {
        "no-op rerun": [*snakemake, "--cores", "all", *config],
        "dry run -n": [*snakemake, "-n", *config],
        "run.sh no-op": ["bash", "scripts/run.sh", *config],
    }
    slurm_commands = slurm_client_commands()
    scratch = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SLURM_CONF", "SNAKEMAKE_PROFILE")}
        tools = {"absent": {**base, "PATH": path_without(slurm_commands or ["scontrol"], scratch)}}
        if slurm_commands:
            tools["controller down"] = {**base, "PATH": f"{VENV_BIN}{os.pathsep}{base['PATH']}",
                                        "SLURM_CONF": str(dead_controller_conf(scratch))}
        else:
            print("slurm-client is not installed: 'controller down' arms skipped (bash scripts/setup/slurm.sh)")

        # Nothing to do, or stop: an arm must never start real work.
        timed(commands["dry run -n"], tools["absent"], "Nothing to be done")

        arms = []
        for tool_state, env in tools.items():
            for name, argv in commands.items():
                plugin_states = ["off path"] if name.startswith("run.sh") else ["off path", "on path"]
                for plugins in plugin_states:
                    arm_env = dict(env)
                    if plugins == "on path":
                        arm_env["PYTHONPATH"] = str(CLUSTER_PLUGINS)
                    arms.append(((tool_state, name, plugins), argv, arm_env))
        walls: dict[tuple, list[float]] = {arm[0]: [] for arm in arms}
        rng = random.Random(args.seed)
        for rep in range(args.repetitions):
            order = list(arms)
            rng.shuffle(order)
            for key, argv, env in order:
                walls[key].append(timed(argv, env, "Nothing to be done"))
            print(f"repetition {rep + 1}/{args.repetitions} done", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\n{'SLURM tools':<16} {'command':<13} {'plugins':<9} {'median s':>9} {'min s':>7} {'max s':>7}  n")
    for (tool_state, name, plugins), values in walls.items():
        print(f"{tool_state:<16} {name:<13} {plugins:<9} {statistics.median(values):9.2f} "
              f"{min(values):7.2f} {max(values):7.2f}  {len(values)}")
    print("\npaired (same repetition) on-path minus off-path, median [min, max] s:")
    for tool_state in tools:
        for name in commands:
            on, off = walls.get((tool_state, name, "on path")), walls.get((tool_state, name, "off path"))
            if on and off:
                diffs = [a - b for a, b in zip(on, off)]
                print(f"  {tool_state:<16} {name:<13} {statistics.median(diffs):+6.2f} "
                      f"[{min(diffs):+.2f}, {max(diffs):+.2f}]")


if __name__ == "__main__":
    main()
