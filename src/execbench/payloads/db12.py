"""DIRAC Benchmark 2012 (driver: inimage/db12.py, written from DB12's public description).

Each copy is one `db12 single`: it prints one float (DB12 units) and writes it to db12.json as
`db12 single --json` does; the parser registered as "db12" reads that. The machine value is the
sum over copies, as `db12 multiple N` reports.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Record
from ._common import INIMAGE_DIR, parse_copies, size_of

DEFAULT_TIMEOUT_S = {"smoke": 900.0, "standard": 3600.0}


class Db12:
    name = "db12"
    needs_network = False
    log_file = "db12.json"
    parser_format = "db12"

    def copy_argv(self, copies: int, settings: dict) -> list[list[str]]:
        size = size_of(self.name, settings)
        return [["python3", f"{INIMAGE_DIR}/db12.py", "--size", size, "--json", self.log_file]
                for _ in range(copies)]

    def timeout_s(self, settings: dict) -> float:
        return float((settings or {}).get("timeout_s", DEFAULT_TIMEOUT_S[size_of(self.name, settings)]))

    def parse(self, run_dir: Path) -> list[Record]:
        return parse_copies(run_dir, self.log_file, self.parser_format, {"db12"}, ("DB12", "db12", "DB12", True))
