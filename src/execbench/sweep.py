"""What a killed workflow left on this host for ONE results dir, removed at the next start.

A run killed hard (SIGKILL of Snakemake or of its process group, a node losing its job) can
leave its environment behind (issue 13, R13): a Docker container that finishes and stays
Exited, a rootless-Podman container, a qemu guest (the parent-death signal normally ends it),
bare mode's mounts under the exported rootfs and processes chrooted there, a VM run's scratch
disk (<cache>/vm/scratch/<guest name>.img, which the run removes when it ends). Each mode already
removes the leftovers of the run it is about to redo; `sweep` removes all of them for one
results dir, whichever run they belong to, and says what it removed. The workflow calls it
(`python -m execbench sweep`) when it starts running jobs (run.smk's onstart).

Whose is what: containers carry the results dir's tag (layout.instance_tag) in a label and
guests in their name, so another checkout's or results dir's are never touched. A run that is
live right now holds the host's benchmark slot (execbench.hostlock); its containers and guests
are left alone. Bare mounts belong to the shared rootfs cache, not to a results dir: they are
removed only when no run holds that rootfs's mount lock (so never under a live run, of any
results dir).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import layout
from .errors import ExecbenchError
from .fsutil import try_file_lock
from .hostlock import current_holder
from .modes.common import RESULTS_LABEL, RUN_LABEL


def live_run(results: Path) -> str | None:
    """The run id of this results dir that holds the host's benchmark slot now, if any."""
    try:
        holder = current_holder()
    except (ExecbenchError, OSError):  # no lock we may open: then no run of ours holds it either
        return None
    if holder and holder.get("results") == str(results) and holder.get("run"):
        return str(holder["run"])
    return None


def _docker(tag: str, live: str | None) -> list[str]:
    try:
        import docker

        client = docker.from_env(timeout=60)
        containers = client.containers.list(all=True, filters={"label": f"{RESULTS_LABEL}={tag}"})
    except Exception as err:  # no engine here: nothing of ours can be in it
        return [f"docker: not reachable ({type(err).__name__}), nothing to sweep there"]
    said = []
    for container in containers:
        if live and container.labels.get(RUN_LABEL) == live:
            continue
        status = container.status
        container.remove(force=True)
        said.append(f"removed docker container {container.name} ({status}, run {container.labels.get(RUN_LABEL)})")
    return said


def _podman(tag: str, live: str | None, users: list[str]) -> list[str]:
    from .modes.base import ModeError
    from .modes.podman import PodmanMode

    mode, said = PodmanMode(), []
    for user in users:
        settings = {"user": user}
        try:
            proc = mode.podman(settings, "ps", "-a", "--format", "json", "--filter", f"label={RESULTS_LABEL}={tag}",
                               timeout=120)
        except (ModeError, OSError) as err:
            said.append(f"podman as {user}: not usable ({err}), nothing to sweep there")
            continue
        if proc.returncode != 0:
            said.append(f"podman as {user}: 'podman ps' failed ({proc.stderr.strip()[-200:]})")
            continue
        for container in json.loads(proc.stdout or "[]"):
            run = (container.get("Labels") or {}).get(RUN_LABEL)
            if live and run == live:
                continue
            name = (container.get("Names") or [container.get("Id", "?")])[0]
            mode.podman(settings, "rm", "-f", container["Id"], timeout=120)
            said.append(f"removed podman container {name} of user {user} ({container.get('State')}, run {run})")
    return said


def _guests(tag: str, live: str | None) -> list[str]:
    from .modes import vm

    prefix = f"execbench-{tag}-"
    said = []
    for pid in vm.guest_pids(prefix, prefix=True):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if Path(f"/proc/{pid}").exists() else []
        name = cmdline[cmdline.index(b"-name") + 1].decode(errors="replace") if b"-name" in cmdline else "?"
        if live and (name == f"{prefix}{live}" or name.startswith(f"{prefix}{live}-")):
            continue
        vm.kill_guests(name)
        said.append(f"killed qemu guest {name} (pid {pid})")
    return said


def _scratch_disks(cache: Path, tag: str, live: str | None) -> list[str]:
    """A killed VM run's scratch disk (modes/vm.py: named like its guest) is removed; a live
    run's is left alone."""
    base = Path(cache).resolve() / "vm" / "scratch"
    prefix = f"execbench-{tag}-"
    said = []
    for disk in sorted(base.glob(f"{prefix}*.img")) if base.is_dir() else []:
        if live and disk.name[:-len(".img")] == re.sub(r"[^a-zA-Z0-9_.-]", "_", f"{prefix}{live}"):
            continue  # spelt as modes.common.environment_name spells the guest's name
        disk.unlink(missing_ok=True)
        said.append(f"removed VM scratch disk {disk}")
    return said


def _bare(cache: Path) -> list[str]:
    from .rootfs import _mount_points, kill_chrooted, unmount_below

    base = Path(cache).resolve() / "rootfs"
    if not base.is_dir():
        return []
    points = _mount_points()
    said = []
    for root in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.endswith(".partial")):
        mounted = [p for p in points if p == str(root) or p.startswith(f"{root}/")]
        if not mounted:
            continue
        with try_file_lock(base / f"{root.name}.mounts.lock") as free:
            if not free:
                said.append(f"left bare mounts under {root} alone: a live run uses them")
                continue
            killed = kill_chrooted(root)
            gone = unmount_below(root)
            said.append(f"removed {len(gone)} bare mount(s) under {root}"
                        + (f" and killed {len(killed)} process(es) chrooted there" if killed else ""))
    return said


def sweep(results: str | Path, cache: str | Path, podman_users: list[str] | tuple = ()) -> list[str]:
    """Remove this results dir's leftovers on this host (module docstring); one line per thing
    removed or skipped, in the order docker, podman, guests, VM scratch disks, bare mounts."""
    results = Path(results).resolve()
    tag = layout.instance_tag(results)
    live = live_run(results)
    said = [f"run {live} is live (holds the benchmark slot): its environment is left alone"] if live else []
    said += _docker(tag, live)
    said += _podman(tag, live, list(dict.fromkeys(podman_users)))
    said += _guests(tag, live)
    said += _scratch_disks(Path(cache), tag, live)
    said += _bare(Path(cache))
    return said
