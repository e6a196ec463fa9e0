"""STREAM memory bandwidth (execbench-stream, a STREAM 5.10 variant built from source in the
image by envs/images/debian12/build/stream.sh; results are "based on a variant of the STREAM
benchmark code"). Single-threaded per copy; N copies measure the shared memory system, and the
machine bandwidth is the sum over copies. Arrays of 20 M doubles (160 MB each) exceed 4x a
32 MB L3, as STREAM's rules ask.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Record
from ._common import parse_copies, size_of

BINARY = "/usr/local/bin/execbench-stream"
# (array elements, repetitions per kernel)
SIZES = {"smoke": (20_000_000, 10), "standard": (40_000_000, 200)}
DEFAULT_TIMEOUT_S = {"smoke": 900.0, "standard": 3600.0}


class Stream:
    name = "stream"
    needs_network = False
    log_file = "stdout.log"  # the launcher keeps the program's stdout here, untouched
    parser_format = "stream"

    def copy_argv(self, copies: int, settings: dict) -> list[list[str]]:
        elements, ntimes = SIZES[size_of(self.name, settings)]
        elements = int((settings or {}).get("array_size", elements))
        return [[BINARY, str(elements), str(ntimes)] for _ in range(copies)]

    def timeout_s(self, settings: dict) -> float:
        return float((settings or {}).get("timeout_s", DEFAULT_TIMEOUT_S[size_of(self.name, settings)]))

    def parse(self, run_dir: Path) -> list[Record]:
        return parse_copies(run_dir, self.log_file, self.parser_format, {"bandwidth"},
                            ("triad", "bandwidth", "MB/s", True))
