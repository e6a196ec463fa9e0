"""Open CPU suite modeled on SPEC CPU2006 / HEP-SPEC06 (driver: inimage/cpusuite.py).

Nine benchmarks from the upstream programs SPEC packaged (perl, bzip2, gcc, GNU Go, POV-Ray,
HMMER, x264, Xalan-C++) plus Stockfish standing in for 458.sjeng (chess); four are C++
(gcc's cc1, POV-Ray, Stockfish, Xalan-C++). Each copy runs the whole suite, as HS06's
"multiple speed" runs do; the machine score is the sum of the copies' geometric means.

At standard size a pass of the suite takes about 5 minutes: the runner then carries a run out
benchmark by benchmark (one unit each), alternating the modes per benchmark, so a benchmark's
bare-metal and container halves run seconds apart. A copy's score is then the geometric mean of
its nine ratios over the units, as the driver computes it for a whole pass.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from functools import cache
from typing import Mapping

from ..paths import INIMAGE
from ..records import Record
from .base import COPY_PLACEHOLDER, INIMAGE_DIR, WHOLE, Payload

SUITE = "cpusuite"  # the benchmark name of a copy's score record


@cache
def benchmarks() -> tuple[str, ...]:
    """The suite's benchmarks, in the driver's order (the driver is the one list of them)."""
    spec = importlib.util.spec_from_file_location("execbench_cpusuite_driver", INIMAGE / "cpusuite.py")
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    return tuple(driver.BENCHMARKS)


class CpuSuite(Payload):
    name = "cpusuite"
    description = "SPEC CPU2006-like suite of nine open benchmarks, scored like HEP-SPEC06"
    settings_schema = {
        "iterations": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1,
                       "description": "Iterations per benchmark; the median one is selected, as SPEC does."},
        "unit": {"enum": ["auto", "suite", "benchmark"], "default": "auto",
                 "description": "How a run is carried out: the whole suite in one go, or benchmark by benchmark "
                                "with the modes alternating per benchmark (pairs with bare metal seconds "
                                "apart); auto: per benchmark at standard size (a pass takes ~5 min), whole "
                                "suite at smoke size."},
    }
    # Wall seconds per copy before the launcher kills it: only a guard against hangs, so generous
    # enough for a TCG-emulated VM (8-35x slower than native).
    default_timeout_s = {"smoke": 1800.0, "standard": 3 * 3600.0}
    log_file = "cpusuite.log"
    parser_format = "cpusuite"
    summed_metrics = frozenset({"ratio", "score"})
    missing_record = (SUITE, "score", "score", True)

    def units(self, settings: Mapping) -> list[str]:
        per_benchmark = settings["unit"] == "benchmark" or (settings["unit"] == "auto"
                                                             and settings["size"] == "standard")
        return list(benchmarks()) if per_benchmark else [WHOLE]

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        argv = ["python3", f"{INIMAGE_DIR}/cpusuite.py", "--size", settings["size"],
                "--iterations", str(settings["iterations"]), "--copy", COPY_PLACEHOLDER]
        return argv + (["--benchmarks", unit] if unit else [])

    def combine_units(self, per_copy: list[Record], copies: int) -> list[Record]:
        """Run benchmark by benchmark, each unit's log holds one benchmark and a 'score' over that
        one: the copy's score is the geometric mean of its ratios over all the units (valid only
        when every benchmark of the suite is)."""
        scores = [r for r in per_copy if r.benchmark == SUITE]
        if len(scores) <= copies:  # one unit per copy: the driver's own score stands
            return per_copy
        out = [r for r in per_copy if r.benchmark != SUITE]
        for copy in range(copies):
            ratios = {r.benchmark: r for r in out if r.copy == copy and r.metric == "ratio"}
            missing = [b for b in benchmarks() if b not in ratios]
            bad = [b for b, r in ratios.items() if r.status != "ok"]
            first = next(r for r in scores if r.copy == copy) if any(r.copy == copy for r in scores) else scores[0]
            if missing or bad:
                why = ", ".join([f"{b} {ratios[b].status}" for b in bad] + [f"{b} missing" for b in missing])
                out.append(replace(first, copy=copy, value=None, status="invalid", source_line=None,
                                   detail=f"not valid: {why}", extra={**first.extra, "benchmarks": len(benchmarks())}))
                continue
            value = math.exp(math.fsum(math.log(ratios[b].value) for b in benchmarks()) / len(benchmarks()))
            out.append(replace(first, copy=copy, value=value, status="ok", source_line=None, detail=(
                f"geometric mean of the {len(benchmarks())} benchmark ratios, one unit each"),
                extra={**first.extra, "benchmarks": len(benchmarks())}))
        return out
