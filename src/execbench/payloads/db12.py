"""DIRAC Benchmark 2012 (driver: inimage/db12.py, written from DB12's public description).

Each copy is one `db12 single`: it prints one float (DB12 units) and writes it to db12.json as
`db12 single --json` does; the parser registered as "db12" reads that. The machine value is the
sum over copies, as `db12 multiple N` reports.
"""

from __future__ import annotations

from typing import Mapping

from .base import INIMAGE_DIR, Payload


class Db12(Payload):
    name = "db12"
    description = "DIRAC Benchmark 2012, one `db12 single` per copy"
    log_file = "db12.json"
    parser_format = "db12"
    summed_metrics = frozenset({"db12"})
    missing_record = ("DB12", "db12", "DB12", True)

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        return ["python3", f"{INIMAGE_DIR}/db12.py", "--size", settings["size"], "--json", self.log_file]
