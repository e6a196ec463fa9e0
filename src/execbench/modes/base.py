"""The Mode interface: how a payload's copies are started. One module per mode."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import ExecbenchError


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""  # why not, or a note such as "emulated (TCG)"


@dataclass
class CopyResult:
    """What the harness saw of one copy (the payload's own timing is in its logs)."""

    copy: int
    exit_code: int | None
    wall_s: float | None  # measured inside the environment by the in-image launcher
    timed_out: bool = False
    cpu_s: float | None = None  # user+sys CPU of the copy's process tree (wait4 rusage inside)
    # CPU of the environment's own cgroup during the run, where it has one (a
    # container on cgroup v1/v2); shared by the copies of one container
    env_cgroup_cpu_s: float | None = None
    detail: str = ""


@dataclass
class RunSpec:
    """One cell of the matrix, resolved: everything a mode needs to start the copies."""

    run_id: str
    image_ref: str  # registry reference by digest: 127.0.0.1:5000/name@sha256:...
    mode: str  # the mode instance's name from config (e.g. "docker", "docker-hostnet")
    mode_settings: dict  # the mode instance's factors from config
    payload: str
    copies: int
    repetition: int
    copy_argv: list[list[str]]  # argv per copy, run inside the image
    timeout_s: float
    needs_network: bool = False
    env: dict = field(default_factory=dict)
    cache_dir: str = ".execbench/cache"  # config `cache`: where bare mode keeps exported rootfs


class Mode(Protocol):
    kind: str  # "bare", "docker", "podman", "vm", ...

    def available(self, settings: dict) -> Availability: ...

    def run(self, spec: RunSpec, out_dir: Path) -> list[CopyResult]:
        """Start spec.copies copies at once, wait for all, return one CopyResult each.
        Native logs stay in out_dir/copy<i>/; nothing there is rewritten."""

    def versions(self, settings: dict | None = None) -> dict:
        """Engine/runtime versions for the provenance record (settings: the mode's config
        section, e.g. podman needs its user; a mode may also define versions(self))."""

    def factors(self, spec: RunSpec) -> dict:
        """The factors this run really gets (network, pinning, containers, hardening),
        recorded in run.json next to the configured mode_settings."""

    def startup_sample(self, spec: RunSpec, argv: list[str]) -> float | tuple[float, dict]:
        """Seconds, measured on the host, to start argv in a fresh environment of this
        mode and see it exit (the startup payload), optionally with {phase: seconds}.
        Safe to call from several threads."""


class ModeError(ExecbenchError):
    """A mode could not carry out a run (image pull failed, mount failed ...): the run
    is recorded as failed with this message, its logs kept."""
