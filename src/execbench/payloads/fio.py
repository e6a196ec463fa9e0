"""fio sequential and random I/O on each copy's working directory (driver: inimage/fio_run.py).

Four jobs one after the other: 1 MiB sequential write and read, 4 KiB random write and read,
O_DIRECT (settings `buffered: true` turns it off for file systems without O_DIRECT). fio's
JSON output `fio.json` is the native log; the data files are deleted after the run. Machine
bandwidth and IOPS are sums over copies.
"""

from __future__ import annotations

from typing import Mapping

from .base import INIMAGE_DIR, Payload


class Fio(Payload):
    name = "fio"
    description = "fio sequential and random read/write on each copy's working directory"
    settings_schema = {
        "buffered": {"type": "boolean", "default": False,
                     "description": "Buffered I/O instead of O_DIRECT (for file systems without O_DIRECT)."},
    }
    log_file = "fio.json"
    parser_format = "fio"
    summed_metrics = frozenset({"bandwidth", "iops"})
    missing_record = ("fio", "bandwidth", "MiB/s", True)

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        return ["python3", f"{INIMAGE_DIR}/fio_run.py", "--size", settings["size"]] + (
            ["--buffered"] if settings["buffered"] else [])
