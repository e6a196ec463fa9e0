"""STREAM memory bandwidth (execbench-stream, a STREAM 5.10 variant built from source in the
image by envs/images/debian12/build/stream.sh; results are "based on a variant of the STREAM
benchmark code"). Single-threaded per copy by default; N copies measure the shared memory
system, and the machine bandwidth is the sum over copies. With `threads` (T > 1, or auto) each
copy is the OpenMP build (execbench-stream-omp) in T threads, or in as many as OpenMP picks from
the CPUs it sees (auto: what a thread pool does, blind to a CFS quota, scipy/scipy#16222); the
count it really ran is printed in its log ("Number of Threads counted") and recorded by the
parser in each record's extra["threads"]. Arrays of 20 M doubles (160 MB each) exceed 4x a
32 MB L3, as STREAM's rules ask.
"""

from __future__ import annotations

from typing import Mapping

from .base import Payload

BINARY = "/usr/local/bin/execbench-stream"
OPENMP_BINARY = "/usr/local/bin/execbench-stream-omp"
# (array elements, repetitions per kernel)
SIZES = {"smoke": (20_000_000, 10), "standard": (40_000_000, 200)}


class Stream(Payload):
    name = "stream"
    description = "STREAM 5.10 memory bandwidth (copy, scale, add, triad), one single-threaded STREAM per copy"
    settings_schema = {
        "array_size": {"type": ["integer", "null"], "minimum": 1_000_000, "maximum": 4_000_000_000, "default": None,
                       "description": "Elements per array (default: the size's, 4x the last-level cache "
                                      "of a 2020s node at least, as STREAM's rules ask)."},
        "threads": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 4096}, {"const": "auto"}], "default": 1,
                    "description": "Threads per copy: 1 (the serial build), T (the OpenMP build with "
                                   "OMP_NUM_THREADS=T), or auto (OpenMP's own choice: every CPU it sees). "
                                   "copies x threads must fit the usable cores."},
    }
    log_file = "stdout.log"  # the launcher keeps the program's stdout here, untouched
    parser_format = "stream"
    summed_metrics = frozenset({"bandwidth"})
    missing_record = ("triad", "bandwidth", "MB/s", True)

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        elements, ntimes = SIZES[settings["size"]]
        sizes = [str(settings["array_size"] or elements), str(ntimes)]
        threads = settings.get("threads", 1)
        if threads == 1:
            return [BINARY, *sizes]
        if threads == "auto":
            return [OPENMP_BINARY, *sizes]
        return ["env", f"OMP_NUM_THREADS={threads}", OPENMP_BINARY, *sizes]

    def threads_per_copy(self, settings: Mapping) -> int | None:
        threads = settings.get("threads", 1)
        return None if threads == "auto" else int(threads)
