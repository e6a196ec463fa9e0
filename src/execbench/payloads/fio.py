"""fio sequential and random I/O on each copy's working directory (driver: inimage/fio_run.py).

Four jobs one after the other: 1 MiB sequential write and read, 4 KiB random write and read,
O_DIRECT (settings `buffered: true` turns it off for file systems without O_DIRECT). fio's
JSON output `fio.json` is the native log; the data files are deleted after the run. Machine
bandwidth and IOPS are sums over copies.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Record
from ._common import INIMAGE_DIR, parse_copies, size_of

DEFAULT_TIMEOUT_S = {"smoke": 900.0, "standard": 3600.0}


class Fio:
    name = "fio"
    needs_network = False
    log_file = "fio.json"
    parser_format = "fio"

    def copy_argv(self, copies: int, settings: dict) -> list[list[str]]:
        argv = ["python3", f"{INIMAGE_DIR}/fio_run.py", "--size", size_of(self.name, settings)]
        if (settings or {}).get("buffered"):
            argv.append("--buffered")
        return [list(argv) for _ in range(copies)]

    def timeout_s(self, settings: dict) -> float:
        return float((settings or {}).get("timeout_s", DEFAULT_TIMEOUT_S[size_of(self.name, settings)]))

    def parse(self, run_dir: Path) -> list[Record]:
        return parse_copies(run_dir, self.log_file, self.parser_format, {"bandwidth", "iops"},
                            ("fio", "bandwidth", "MiB/s", True))
