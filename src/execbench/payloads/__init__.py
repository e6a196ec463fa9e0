"""Benchmark payloads: one module each (a payloads.base.Payload subclass), one line in PAYLOADS."""

from __future__ import annotations

from ..registry import Registry

# payload name -> "module:class"
PAYLOADS = Registry(__name__, "payload", {
    "audit": ".audit:Audit",
    "cpusuite": ".cpusuite:CpuSuite",
    "hepchain": ".hepchain:HepChain",
    "db12": ".db12:Db12",
    "stream": ".stream:Stream",
    "fio": ".fio:Fio",
    "startup": ".startup:Startup",
    "syscost": ".syscost:Syscost",
})
get = PAYLOADS.get
