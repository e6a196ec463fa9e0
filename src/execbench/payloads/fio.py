"""fio sequential and random I/O on each copy's working directory (driver: inimage/fio_run.py).

Four jobs one after the other: 1 MiB sequential write and read, 4 KiB random write and read,
O_DIRECT (settings `buffered: true` turns it off for file systems without O_DIRECT). fio's
JSON output `fio.json` is the native log; the data files are deleted after the run. Machine
bandwidth and IOPS are sums over copies. The data go to the copy's scratch directory: its copy
dir, or the scratch file system the mode gives (the VM's `scratch: virtio-disk`, sized from
scratch_bytes). Each copy also leaves `scratch.json`, the file system it measured (a VM's 9p
share, a virtio disk, a container's bind mount); its mount type goes into every record's
extra["scratch_fstype"], the kernel's statfs type into extra["scratch_statfs"] and the mount
into extra["scratch_mount"].
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from ..paths import INIMAGE
from ..records import Record
from .base import INIMAGE_DIR, Payload, copy_dirs, run_units, unit_dir


@lru_cache(maxsize=1)
def _driver():
    """inimage/fio_run.py, the driver the image runs (its sizes are the one definition)."""
    spec = importlib.util.spec_from_file_location("execbench_fio_driver", INIMAGE / "fio_run.py")
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(INIMAGE))  # it imports the launcher next to it, as in the image
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(INIMAGE))
    return module


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

    def scratch_bytes(self, settings: Mapping) -> int:
        """One data file of the size (fio_run.file_bytes: the jobs run one after the other, each
        unlinking its file)."""
        return _driver().file_bytes(settings["size"])

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
                extra = {"scratch_fstype": seen.get("fstype"), "scratch_mount": seen.get("mount_point"),
                         "scratch_statfs": seen.get("statfs_type")}
            elif record.copy is None and len(fstypes) == 1 and len(scratch) > 0:
                extra = {"scratch_fstype": next(iter(fstypes))}  # the machine value: every copy's, when one
            else:
                extra = {}
            out.append(replace(record, extra={**record.extra, **extra}) if extra else record)
        return out
