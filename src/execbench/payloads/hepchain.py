"""HEP application chain modeled on ATLAS KitValidation (driver: inimage/hepchain.py).

Pythia8 generation -> "fastsim: Gaussian smearing" (no Geant4) -> digitization-like towers
written with uproot -> FastJet anti-kt reconstruction reading them back. Each copy runs the
same chain with the same seed (as KV's N parallel copies do); events/s are summed over copies
for the machine-level throughput, as hep-workloads' wl-scores are.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Record
from ._common import INIMAGE_DIR, VENV_PYTHON, parse_copies, size_of

DEFAULT_TIMEOUT_S = {"smoke": 1200.0, "standard": 3 * 3600.0}


class HepChain:
    name = "hepchain"
    needs_network = False
    log_file = "hepchain.log"
    parser_format = "hepchain"

    def copy_argv(self, copies: int, settings: dict) -> list[list[str]]:
        size = size_of(self.name, settings)
        return [[VENV_PYTHON, f"{INIMAGE_DIR}/hepchain.py", "--size", size, "--copy", "{copy}"]
                for _ in range(copies)]

    def timeout_s(self, settings: dict) -> float:
        return float((settings or {}).get("timeout_s", DEFAULT_TIMEOUT_S[size_of(self.name, settings)]))

    def parse(self, run_dir: Path) -> list[Record]:
        return parse_copies(run_dir, self.log_file, self.parser_format, {"events_per_s"},
                            ("hepchain", "events_per_s", "events/s", True))
