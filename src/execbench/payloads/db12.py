"""DIRAC Benchmark 2012 (driver: inimage/db12.py, written from DB12's public description).

Each copy is one `db12 single`: it prints one float (DB12 units) and writes it to db12.json as
`db12 single --json` does; the parser registered as "db12" reads that. The machine value is the
sum over copies, as `db12 multiple N` reports.

Beside it, each copy's side log db12-slices.json (execbench's own: the CPU seconds of every slice
of 50,000 draws of the measured iterations) gives `db12_fastest_slice`: DB12 at the pace of the
copy's fastest full slice, summed over copies like DB12. Outside disturbances (a hypervisor that
deschedules the guest without reporting steal time) only add time, so the minimum is a far more
stable estimate of the undisturbed pace than the total (Chen & Revels, arXiv:1608.04295); it is
blind to a cost that comes and goes (a mode that interrupts the copy now and then), which only
the DB12 score itself sees. DB12 stays the headline; the two are reported side by side.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

from ..errors import ParseError
from ..records import Record, machine_level
from .base import INIMAGE_DIR, Payload, copy_dirs, run_units, unit_dir

SLICES_LOG = "db12-slices.json"
SLICES_FORMAT = "execbench-db12-slices/1"
FASTEST_SLICE = "db12_fastest_slice"


def fastest_slice_record(path: Path, copy: int) -> Record:
    """The copy's DB12 at its fastest full slice's pace: calibration_per_draw x max(draws / CPU s)
    over the slices holding the full slice size (DB12 units). ParseError naming the file and key
    when the side log is not the execbench-db12-slices/1 shape or holds no positive slice time."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ParseError(path, None, f"a JSON object ({SLICES_FORMAT}): {exc}") from None
    if not isinstance(data, dict) or data.get("format") != SLICES_FORMAT:
        raise ParseError(path, None, f'key "format" = "{SLICES_FORMAT}"')
    cpu, draws, calib = data.get("slice_cpu_s"), data.get("slice_draws"), data.get("calibration_per_draw")
    if not (isinstance(cpu, list) and isinstance(draws, list) and len(cpu) == len(draws) and cpu):
        raise ParseError(path, None, 'keys "slice_cpu_s" and "slice_draws": lists of the same, non-zero length')
    if not (isinstance(calib, (int, float)) and math.isfinite(calib) and calib > 0):
        raise ParseError(path, None, 'key "calibration_per_draw": a positive number')
    full = max(draws)
    paces = [n / t for n, t in zip(draws, cpu)
             if n == full and isinstance(t, (int, float)) and math.isfinite(t) and t > 0]
    if not paces:
        raise ParseError(path, None, 'key "slice_cpu_s": at least one positive CPU time of a full slice')
    return Record("DB12", FASTEST_SLICE, calib * max(paces), "DB12", True, str(path), copy=copy,
                  detail="DB12 at the pace of the copy's fastest slice (minimum estimator); DB12 itself is the total",
                  extra={"slices": len(paces), "slice_draws": full, "clock": str(data.get("clock", ""))})


class Db12(Payload):
    name = "db12"
    description = "DIRAC Benchmark 2012, one `db12 single` per copy"
    log_file = "db12.json"
    parser_format = "db12"
    summed_metrics = frozenset({"db12"})
    missing_record = ("DB12", "db12", "DB12", True)

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        return ["python3", f"{INIMAGE_DIR}/db12.py", "--size", settings["size"], "--json", self.log_file,
                "--slices", SLICES_LOG]

    def parse(self, run_dir: Path) -> list[Record]:
        """DB12 per copy and summed (the base class), then db12_fastest_slice per copy and summed
        from the copies' side logs. A run without side logs (ingested DIRAC output, a run from
        before they existed) simply has no fastest-slice number; a malformed one raises ParseError."""
        run_dir = Path(run_dir)
        records = super().parse(run_dir)
        ok_copies = {r.copy for r in records if r.metric == "db12" and r.copy is not None and r.status == "ok"}
        copies = len(copy_dirs(run_dir))
        fastest = []
        for unit in run_units(run_dir):
            for index, copy_dir in copy_dirs(unit_dir(run_dir, unit), copies):
                side = copy_dir / SLICES_LOG
                if index in ok_copies and side.is_file():
                    fastest.append(fastest_slice_record(side, index))
        if not fastest:
            return records
        return records + fastest + machine_level(fastest, copies, {FASTEST_SLICE}, source=run_dir)
