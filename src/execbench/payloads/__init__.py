"""Benchmark payloads. Register a new payload with one line in PAYLOADS."""

from __future__ import annotations

import importlib

# payload name -> "module:class"
PAYLOADS: dict[str, str] = {
    "cpusuite": ".cpusuite:CpuSuite",
    "hepchain": ".hepchain:HepChain",
    "db12": ".db12:Db12",
    "stream": ".stream:Stream",
    "fio": ".fio:Fio",
    "startup": ".startup:Startup",
}


def get(name: str):
    try:
        module_name, attr = PAYLOADS[name].split(":")
    except KeyError:
        raise KeyError(f"unknown payload {name!r}; known: {sorted(PAYLOADS)}") from None
    return getattr(importlib.import_module(module_name, __name__), attr)()
