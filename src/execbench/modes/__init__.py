"""Execution modes. Register a new mode kind with one line in MODES."""

from __future__ import annotations

import importlib

# mode kind -> "module:class"
MODES: dict[str, str] = {
    "bare": ".bare:BareMode",
    "docker": ".docker:DockerMode",
    "podman": ".podman:PodmanMode",
    "vm": ".vm:VmMode",
    "htcondor-docker": ".htcondor_docker:HTCondorDockerMode",
}


def get(kind: str):
    try:
        module_name, attr = MODES[kind].split(":")
    except KeyError:
        raise KeyError(f"unknown mode kind {kind!r}; known: {sorted(MODES)}") from None
    return getattr(importlib.import_module(module_name, __name__), attr)()
