"""fio sequential and random I/O on each copy's working directory (driver: inimage/fio_run.py).

Four jobs one after the other: 1 MiB sequential write and read, 4 KiB random write and read,
O_DIRECT (settings `buffered: true` turns it off for file systems without O_DIRECT). fio's
JSON output `fio.json` is the native log; the data files are deleted after the run. Machine
bandwidth and IOPS are sums over copies. Each copy also leaves `scratch.json`, the file system
it measured (a VM's 9p share, a container's bind mount, a disk); its type goes into every
record's extra["scratch_fstype"] (and the mount into extra["scratch_mount"]).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Mapping

from ..records import Record
from .base import INIMAGE_DIR, Payload, copy_dirs, run_units, unit_dir


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

    def parse(self, run_dir: Path) -> list[Record]:
        scratch = {}
        for unit in run_units(Path(run_dir)):
            for index, directory in copy_dirs(unit_dir(Path(run_dir), unit)):
                try:
                    scratch[index] = json.loads((directory / "scratch.json").read_text())
                except (OSError, ValueError):  # logs from before scratch.json, or a copy that did not run
                    continue
        records = super().parse(run_dir)
        fstypes = {s.get("fstype") for s in scratch.values()}
        out = []
        for record in records:
            seen = scratch.get(record.copy) if record.copy is not None else None
            if seen is not None:
                extra = {"scratch_fstype": seen.get("fstype"), "scratch_mount": seen.get("mount_point")}
            elif record.copy is None and len(fstypes) == 1 and len(scratch) > 0:
                extra = {"scratch_fstype": next(iter(fstypes))}  # the machine value: every copy's, when one
            else:
                extra = {}
            out.append(replace(record, extra={**record.extra, **extra}) if extra else record)
        return out
