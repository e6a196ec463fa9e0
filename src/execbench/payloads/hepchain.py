"""HEP application chain modeled on ATLAS KitValidation (driver: inimage/hepchain.py).

Pythia8 generation -> "fastsim: Gaussian smearing" (no Geant4) -> digitization-like towers
written with uproot -> FastJet anti-kt reconstruction reading them back. Each copy runs the
same chain with the same seed (as KV's N parallel copies do); events/s are summed over copies
for the machine-level throughput, as hep-workloads' wl-scores are.
"""

from __future__ import annotations

from typing import Mapping

from .base import COPY_PLACEHOLDER, INIMAGE_DIR, VENV_PYTHON, Payload


class HepChain(Payload):
    name = "hepchain"
    description = "Pythia8 generation, fast simulation, digitisation and FastJet reconstruction (KitValidation-like)"
    default_timeout_s = {"smoke": 1200.0, "standard": 3 * 3600.0}
    log_file = "hepchain.log"
    parser_format = "hepchain"
    summed_metrics = frozenset({"events_per_s"})
    missing_record = ("hepchain", "events_per_s", "events/s", True)

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        return [VENV_PYTHON, f"{INIMAGE_DIR}/hepchain.py", "--size", settings["size"], "--copy", COPY_PLACEHOLDER]
