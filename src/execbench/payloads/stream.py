"""STREAM memory bandwidth (execbench-stream, a STREAM 5.10 variant built from source in the
image by envs/images/debian12/build/stream.sh; results are "based on a variant of the STREAM
benchmark code"). Single-threaded per copy; N copies measure the shared memory system, and the
machine bandwidth is the sum over copies. Arrays of 20 M doubles (160 MB each) exceed 4x a
32 MB L3, as STREAM's rules ask.
"""

from __future__ import annotations

from typing import Mapping

from .base import Payload

BINARY = "/usr/local/bin/execbench-stream"
# (array elements, repetitions per kernel)
SIZES = {"smoke": (20_000_000, 10), "standard": (40_000_000, 200)}


class Stream(Payload):
    name = "stream"
    description = "STREAM 5.10 memory bandwidth (copy, scale, add, triad), one single-threaded STREAM per copy"
    settings_schema = {
        "array_size": {"type": ["integer", "null"], "minimum": 1_000_000, "maximum": 4_000_000_000, "default": None,
                       "description": "Elements per array (default: the size's, 4x the last-level cache "
                                      "of a 2020s node at least, as STREAM's rules ask)."},
    }
    log_file = "stdout.log"  # the launcher keeps the program's stdout here, untouched
    parser_format = "stream"
    summed_metrics = frozenset({"bandwidth"})
    missing_record = ("triad", "bandwidth", "MB/s", True)

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        elements, ntimes = SIZES[settings["size"]]
        return [BINARY, str(settings["array_size"] or elements), str(ntimes)]
