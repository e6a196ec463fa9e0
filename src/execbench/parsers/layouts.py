"""Whole result directories given as one manifest row: which tool left them, and their parts.

A site's archive often keeps what a tool wrote as a directory. Each layout below is recognised
from its own file names and expanded into the parts that are read, each with its format:

| layout | recognised by | parts read |
|---|---|---|
| hep-benchmark-suite run directory (`run_<date>/`, suite v2-v3; hepbenchmarksuite.py `RESULT_FILES`) | `bmkrun_report.json`, `HEPSCORE/hepscore_result.json`, `db12_result.json`, `HS06/hs06_result.json`, `SPEC2017/spec2017_result.json` | the report when present (it holds the others); else each result file present |
| HS06 result directory (HEPiX `spec2k6-<host>-<date>/` package, or a SPEC `result/` directory of all_cpp speed runs) | `CINT2006.NNN.*` / `CFP2006.NNN.*` result sets of the 7 C++ benchmarks | the directory, format `hs06` (one copy per result set) |
| SPEC CPU2006 result directory (other benchmark sets) | result sets of other benchmarks | the directory, format `spec-cpu2006` |
| KitValidation work directory (sw-mgr `kvtest_<id>/KV.thr.<i>/`, hep-workloads `proc_<i>/`) | instance directories | the directory, format `kitvalidation` (one copy per instance) |
| HEPscore output directory (`HEPSCORE/`) | one HEPscore result JSON at its top | that file, format `hepscore` |

A directory holding several suite run directories is refused by name (give each its own row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SUITE_REPORT = "bmkrun_report.json"
SUITE_RESULT_FILES = (  # hep-benchmark-suite hepbenchmarksuite.py HepBenchmarkSuite.RESULT_FILES
    ("HEPSCORE/hepscore_result.json", "hepscore"),
    ("HS06/hs06_result.json", "hepscore"),
    ("SPEC2017/spec2017_result.json", "hepscore"),
    ("db12_result.json", "db12"),
)


@dataclass
class Part:
    path: Path
    format: str


@dataclass
class Layout:
    kind: str
    parts: list[Part]
    copies: int | None = None  # copies the directory holds, when the layout says
    contents: list[str] = field(default_factory=list)  # what was found, for provenance


class LayoutError(Exception):
    """A directory whose layout is recognised but cannot be read as one run."""


def _suite_run(path: Path) -> Layout | None:
    report = path / SUITE_REPORT
    present = [(rel, fmt) for rel, fmt in SUITE_RESULT_FILES if (path / rel).is_file()]
    if report.is_file():
        return Layout("hep-benchmark-suite run directory", [Part(report, "hepscore")],
                      contents=[SUITE_REPORT] + [rel for rel, _ in present])
    if present:
        return Layout("hep-benchmark-suite run directory (no bmkrun_report.json: its result files)",
                      [Part(path / rel, fmt) for rel, fmt in present], contents=[rel for rel, _ in present])
    return None


def identify(path: Path) -> Layout | None:
    """The layout of directory `path`, or None when it is none of the known ones.

    Raises LayoutError for a recognised directory that is not one run (several suite runs)."""
    from . import get

    path = Path(path)
    if not path.is_dir():
        return None
    suite = _suite_run(path)
    if suite is not None:
        return suite
    runs = sorted(p.name for p in path.iterdir() if p.is_dir() and _suite_run(p) is not None)
    if runs:
        raise LayoutError(f"one hep-benchmark-suite run directory per manifest row; {path} holds {len(runs)}: "
                          + ", ".join(runs[:5]) + (" ..." if len(runs) > 5 else ""))
    hs06 = get("hs06")
    if hs06.detect(path):
        from .hs06 import find_result_sets

        sets, _ = find_result_sets(path)
        return Layout("HS06 result directory", [Part(path, "hs06")], copies=len(sets),
                      contents=[f"result set {nnn}" for nnn in sorted(sets)])
    if get("spec-cpu2006").detect(path):
        return Layout("SPEC CPU2006 result directory", [Part(path, "spec-cpu2006")])
    kv = get("kitvalidation")
    if kv.detect(path):
        from .kitvalidation import INSTANCE_DIR_RE

        instances = sorted({int(m.group(1)) for p in path.rglob("*") if p.is_dir()
                            and (m := INSTANCE_DIR_RE.match(p.name))})
        return Layout("KitValidation work directory", [Part(path, "kitvalidation")], copies=len(instances),
                      contents=[f"instance {i}" for i in instances])
    hepscore = get("hepscore")
    results = [p for p in sorted(path.glob("*.json")) if hepscore.detect(p)]
    if len(results) == 1:
        return Layout("HEPscore output directory", [Part(results[0], "hepscore")], contents=[results[0].name])
    return None
