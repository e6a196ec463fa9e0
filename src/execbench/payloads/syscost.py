"""syscost: what a clock read and a cheap system call cost in each mode (issue 18).

A seconds-long micro-payload (driver: inimage/syscost.py, stdlib only, the image's python3) so
that a seccomp filter (moby/moby#41389: 15-20 % on syscall-heavy code), its speculative-store-
bypass side effect (opencontainers/runc#2430) and a clocksource without a vDSO path
(madgraph5/madgraph4gpu#116) show as numbers in ns per call, not guesses. Each copy prints its
log to stdout (kept as stdout.log), read by the parser registered as "syscost". The machine value
of each operation is the mean over copies (a time: records.machine_level).
"""

from __future__ import annotations

from typing import Mapping

from .base import INIMAGE_DIR, Payload

# (batches, scale of the calls per batch): smoke ~3 s, standard ~15 s on a 2020s core
SIZES = {"smoke": (11, 1.0), "standard": (31, 2.0)}


class Syscost(Payload):
    name = "syscost"
    description = "ns per clock_gettime, getpid and open/close call in the environment (seccomp and clock costs)"
    default_timeout_s = {"smoke": 300.0, "standard": 900.0}
    log_file = "stdout.log"
    parser_format = "syscost"
    summed_metrics = frozenset({"cost"})  # the machine-level value: the mean over copies (lower is better)
    missing_record = ("getpid", "cost", "ns", False)

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        batches, scale = SIZES[settings["size"]]
        return ["python3", f"{INIMAGE_DIR}/syscost.py", "--batches", str(batches), "--scale", f"{scale:g}"]
