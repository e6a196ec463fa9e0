"""Execution modes: one module each (a modes.base.Mode subclass), one line in MODES (by kind)."""

from __future__ import annotations

from ..registry import Registry

# mode kind -> "module:class"
MODES = Registry(__name__, "mode kind", {
    "bare": ".bare:BareMode",
    "docker": ".docker:DockerMode",
    "podman": ".podman:PodmanMode",
    "vm": ".vm:VmMode",
    "htcondor-docker": ".htcondor_docker:HTCondorDockerMode",
})
get = MODES.get
