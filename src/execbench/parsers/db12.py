"""DB12 (DIRAC Benchmark 2012) outputs, and the hep-benchmark-suite's `db12_result.json`.

Two calibrations exist and are kept apart by metric name (shared/research/log-formats.md §5):

| variant | output | source of the layout |
|---|---|---|
| `db12 single` (DIRACGrid/DB12 >= 1.0, `src/db12/__main__.py`); legacy `DIRACbenchmark.py single` (2016-2017, Python 2 `print`) | one float | both scripts' `__main__` |
| `db12 multiple N`, `db12 wholenode`; legacy `DIRACbenchmark.py N|wholenode|jobslot` | `COPIES SUM ARITHMETIC-MEAN GEOMETRIC-MEAN MEDIAN`, then the *sorted* per-copy values | same; `benchmark.py` sorts `raw`, `median = raw[(copies-1)//2]` (the lower median) |
| `db12 ... --json FILE` | a bare float (`single`), or `{"raw", "copies", "sum", "arithmetic_mean", "geometric_mean", "median"}` | `dump_as_json` |
| hep-benchmark-suite `db12_result.json` | `{"DB12": {"value": ..., "unit": "est. HS06"}}`, calibrated to HS06 (360/HS06 per core, summed) | NikitaP2001/hep-benchmark-suite `hepbenchmarksuite/db12.py` |

DIRAC values have unit "DB12", metric `db12`; the suite's have metric `est_hs06` and its own
unit: they are never mixed. Because DIRAC sorts the per-copy values, the copy index of a
multi-copy output is its rank, not the process that produced it; the records say so in
`detail`. A text file holding several outputs one after the other (a loop appending to one
log) gives one run per output, tagged `run_in_file` (parsers._common). Refused: a summary
line whose COPIES or SUM does not match its per-copy line, values <= 0, anything else.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import (
    line_of,
    geomean,
    guarded_detect,
    guarded_parse,
    json_object,
    load_json,
    number,
    peek_text,
    read_text,
    tag_runs,
    try_number,
)

TOLERANCE = 1e-6  # relative; the CLI prints repr(float), so the columns agree to rounding


def _consistency(path: Path, line: int | None, raw: list[float], copies: int, total: float) -> None:
    if copies != len(raw):
        raise ParseError(path, line, f"{copies} per-copy values (the COPIES column), found {len(raw)}")
    if not math.isclose(math.fsum(raw), total, rel_tol=TOLERANCE, abs_tol=1e-9):
        raise ParseError(path, line, f"per-copy values summing to SUM={total}, they sum to {math.fsum(raw)}")


def dirac_records(path: Path, raw: list[float], summary: dict, line: int | None, line_raw: int | None) -> list[Record]:
    src = str(path)
    extra = {"calibration": "DIRAC DB12 (250 x iterations / CPU s)", **summary}
    records = []
    if len(raw) > 1:
        for rank, value in enumerate(raw):
            records.append(
                Record(
                    "DB12",
                    "db12",
                    value,
                    "DB12",
                    True,
                    src,
                    copy=rank,
                    source_line=line_raw,
                    detail="copy index = rank in DIRAC's sorted output",
                    extra=extra,
                )
            )
    records.append(
        Record(
            "DB12",
            "db12",
            math.fsum(raw),
            "DB12",
            True,
            src,
            copy=None,
            source_line=line,
            extra=dict(extra, aggregate="sum over copies"),
        )
    )
    return records


def _parse_text(path: Path, text: str) -> list[Record]:
    """One run per `db12 single` line, or per `COPIES SUM ...` line with its per-copy line after it;
    a file holding several (a loop appending to one log) gives one run each."""
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    per_run, spans = [], []
    k = 0
    while k < len(lines):
        lineno, line = lines[k]
        head = line.split()
        if len(head) == 1:
            value = number(head[0], path, lineno, "one DB12 value (output of `db12 single`)")
            if value <= 0:
                raise ParseError(path, lineno, "a positive DB12 value")
            per_run.append(dirac_records(path, [value], {"copies": 1, "variant": "single"}, lineno, lineno))
            spans.append((lineno, lineno))
            k += 1
            continue
        if len(head) != 5:
            raise ParseError(path, lineno, "one DB12 value (`db12 single`) or 'COPIES SUM ARITHMETIC-MEAN "
                                           "GEOMETRIC-MEAN MEDIAN' (`db12 multiple|wholenode|jobslot`, 5 numbers)")
        if k + 1 >= len(lines):
            raise ParseError(path, lineno, "the per-copy DB12 values on the line after 'COPIES SUM ...' "
                                           "(file truncated?)")
        l2, second = lines[k + 1]
        copies_f, total, amean, gmean, median = (
            number(t, path, lineno, name)
            for t, name in zip(head, ("COPIES", "SUM", "ARITHMETIC-MEAN", "GEOMETRIC-MEAN", "MEDIAN"))
        )
        if copies_f != int(copies_f) or copies_f < 1:
            raise ParseError(path, lineno, f"COPIES as a positive integer, got {head[0]!r}")
        raw = [number(t, path, l2, "per-copy DB12 values") for t in second.split()]
        _consistency(path, lineno, raw, int(copies_f), total)
        if any(v <= 0 for v in raw):
            raise ParseError(path, l2, "positive per-copy DB12 values")
        summary = {"copies": int(copies_f), "sum": total, "arithmetic_mean": amean, "geometric_mean": gmean,
                   "median": median, "variant": "multiple"}
        per_run.append(dirac_records(path, raw, summary, lineno, l2))
        spans.append((lineno, l2))
        k += 2
    if not per_run:
        raise ParseError(path, None, "a DB12 value")
    return tag_runs(per_run, spans)


def _parse_json(path: Path, data) -> list[Record]:
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        value = number(data, path, 1, "a DB12 value")
        if value <= 0:
            raise ParseError(path, 1, "a positive DB12 value")
        return dirac_records(path, [value], {"copies": 1}, 1, 1)
    data = json_object(path, data, "the top level")
    if "DB12" in data or "db12" in data:
        return suite_db12_records(path, data.get("DB12", data.get("db12")))
    if "raw" not in data:
        raise ParseError(
            path, None, "DIRAC `db12 --json` keys raw/copies/sum/... or the suite's {'DB12': {'value', 'unit'}}"
        )
    raw_values = data["raw"]
    if not isinstance(raw_values, list) or not raw_values:
        raise ParseError(path, None, "'raw' as a non-empty list of per-copy DB12 values")
    raw = [number(v, path, None, "per-copy DB12 values in 'raw'") for v in raw_values]
    copies = data.get("copies", len(raw))
    if not isinstance(copies, int) or isinstance(copies, bool):
        raise ParseError(path, None, f"'copies' as an integer, got {copies!r}")
    total = number(data.get("sum", math.fsum(raw)), path, None, "'sum'")
    _consistency(path, None, raw, copies, total)
    if any(v <= 0 for v in raw):
        raise ParseError(path, None, "positive per-copy DB12 values")
    summary = {"copies": copies, "sum": total}
    for key in ("arithmetic_mean", "geometric_mean", "median"):
        if key in data:
            summary[key] = try_number(data[key])
    summary.setdefault("geometric_mean", geomean(raw))
    return dirac_records(path, sorted(raw), summary, None, None)


def suite_db12_records(path: Path, section) -> list[Record]:
    """The hep-benchmark-suite DB12 section: HS06-calibrated, not comparable with DIRAC DB12."""
    if not isinstance(section, dict):
        raise ParseError(path, None, "'DB12' as an object {'value', 'unit'}")
    value = try_number(section.get("value"))
    unit = str(section.get("unit", "est. HS06"))
    ok = value is not None and value > 0
    return [
        Record(
            "DB12",
            "est_hs06",
            value if ok else None,
            unit,
            True,
            str(path),
            status="ok" if ok else "failed",
            detail="" if ok else f"no valid DB12 value ({section.get('value')!r})",
            extra={"calibration": "hep-benchmark-suite DB12 (360/HS06 per core, summed)"},
        )
    ]


class Db12Parser(Parser):
    format = "db12"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        if not path.is_file() or path.stat().st_size > 65536:
            return False
        head = peek_text(path, 65536).strip()
        if not head:
            return False
        if head.startswith("{"):
            data = load_json(path)  # a suite report also holds a "DB12" section: only the file itself is DB12
            return isinstance(data, dict) and ("raw" in data or set(data) in ({"DB12"}, {"db12"}))
        lines = [line.split() for line in head.splitlines() if line.strip()]
        tokens = [t for line in lines for t in line]
        return len(lines[0]) in (1, 5) and all(try_number(t) is not None for t in tokens)

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        text = read_text(path)
        if text.lstrip().startswith(("{", "[")):
            records = _parse_json(path, load_json(path, text))
            line = line_of(text, '"raw"') or line_of(text, '"DB12"') or line_of(text, '"db12"') or 1
            return [r if r.source_line is not None else replace(r, source_line=line) for r in records]
        return _parse_text(path, text)


PARSER = Db12Parser()
