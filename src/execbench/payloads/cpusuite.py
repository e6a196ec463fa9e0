"""Open CPU suite modeled on SPEC CPU2006 / HEP-SPEC06 (driver: inimage/cpusuite.py).

Nine benchmarks from the upstream programs SPEC packaged (perl, bzip2, gcc, GNU Go, POV-Ray,
HMMER, x264, Xalan-C++) plus Stockfish standing in for 458.sjeng (chess); four are C++
(gcc's cc1, POV-Ray, Stockfish, Xalan-C++). Each copy runs the whole suite, as HS06's
"multiple speed" runs do; the machine score is the sum of the copies' geometric means.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Record
from ._common import INIMAGE_DIR, parse_copies, size_of

# Wall seconds per copy before the launcher kills it: only a guard against hangs, so generous
# enough for a TCG-emulated VM (8-35x slower than native); `timeout_s` in the config overrides.
DEFAULT_TIMEOUT_S = {"smoke": 1800.0, "standard": 3 * 3600.0}


class CpuSuite:
    name = "cpusuite"
    needs_network = False
    log_file = "cpusuite.log"
    parser_format = "cpusuite"

    def copy_argv(self, copies: int, settings: dict) -> list[list[str]]:
        size = size_of(self.name, settings)
        iterations = int((settings or {}).get("iterations", 1))
        return [["python3", f"{INIMAGE_DIR}/cpusuite.py", "--size", size, "--iterations", str(iterations),
                 "--copy", "{copy}"] for _ in range(copies)]  # the launcher fills in {copy}

    def timeout_s(self, settings: dict) -> float:
        return float((settings or {}).get("timeout_s", DEFAULT_TIMEOUT_S[size_of(self.name, settings)]))

    def parse(self, run_dir: Path) -> list[Record]:
        return parse_copies(run_dir, self.log_file, self.parser_format, {"ratio", "score"},
                            ("cpusuite", "score", "score", True))
