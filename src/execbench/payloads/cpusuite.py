"""Open CPU suite modeled on SPEC CPU2006 / HEP-SPEC06 (driver: inimage/cpusuite.py).

Nine benchmarks from the upstream programs SPEC packaged (perl, bzip2, gcc, GNU Go, POV-Ray,
HMMER, x264, Xalan-C++) plus Stockfish standing in for 458.sjeng (chess); four are C++
(gcc's cc1, POV-Ray, Stockfish, Xalan-C++). Each copy runs the whole suite, as HS06's
"multiple speed" runs do; the machine score is the sum of the copies' geometric means.
"""

from __future__ import annotations

from typing import Mapping

from .base import COPY_PLACEHOLDER, INIMAGE_DIR, Payload


class CpuSuite(Payload):
    name = "cpusuite"
    description = "SPEC CPU2006-like suite of nine open benchmarks, scored like HEP-SPEC06"
    settings_schema = {
        "iterations": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1,
                       "description": "Iterations per benchmark; the median one is selected, as SPEC does."},
    }
    # Wall seconds per copy before the launcher kills it: only a guard against hangs, so generous
    # enough for a TCG-emulated VM (8-35x slower than native).
    default_timeout_s = {"smoke": 1800.0, "standard": 3 * 3600.0}
    log_file = "cpusuite.log"
    parser_format = "cpusuite"
    summed_metrics = frozenset({"ratio", "score"})
    missing_record = ("cpusuite", "score", "score", True)

    def argv(self, settings: Mapping) -> list[str]:
        return ["python3", f"{INIMAGE_DIR}/cpusuite.py", "--size", settings["size"],
                "--iterations", str(settings["iterations"]), "--copy", COPY_PLACEHOLDER]
