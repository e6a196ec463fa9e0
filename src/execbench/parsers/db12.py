"""DB12 (DIRAC Benchmark 2012) outputs, and the hep-benchmark-suite's `db12_result.json`.

Two calibrations exist and are kept apart by metric name (shared/research/log-formats.md §5):
- DIRAC DB12 (DIRACGrid/DB12 `db12` CLI, legacy DIRACbenchmark.py): unit "DB12",
  metric `db12`. `db12 single` prints one float; `db12 multiple N` / `wholenode` print
  `COPIES SUM ARITHMETIC-MEAN GEOMETRIC-MEAN MEDIAN` then the *sorted* per-copy values;
  `--json FILE` writes `{"raw", "copies", "sum", "arithmetic_mean", "geometric_mean",
  "median"}` (a bare float for `single`). The median is the lower median for even counts.
- hep-benchmark-suite DB12: calibrated to HS06 (360/HS06 per core, summed), written as
  `{"DB12": {"value": ..., "unit": "est. HS06"}}`; metric `est_hs06`, unit "est. HS06".

Because DIRAC sorts the per-copy values, the copy index of a multi-copy output is its rank,
not the process that produced it; the records say so in `detail`.
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
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) == 1:
        lineno, line = lines[0]
        value = number(line, path, lineno, "one DB12 value (output of `db12 single`)")
        if value <= 0:
            raise ParseError(path, lineno, "a positive DB12 value")
        return dirac_records(path, [value], {"copies": 1}, lineno, lineno)
    if len(lines) != 2:
        raise ParseError(
            path,
            lines[2][0] if len(lines) > 2 else None,
            "one line (`db12 single`) or two lines (`db12 multiple|wholenode`: summary, then per-copy values)",
        )
    (l1, first), (l2, second) = lines
    head = first.split()
    if len(head) != 5:
        raise ParseError(path, l1, "'COPIES SUM ARITHMETIC-MEAN GEOMETRIC-MEAN MEDIAN' (5 numbers)")
    copies_f, total, amean, gmean, median = (
        number(t, path, l1, name)
        for t, name in zip(head, ("COPIES", "SUM", "ARITHMETIC-MEAN", "GEOMETRIC-MEAN", "MEDIAN"))
    )
    if copies_f != int(copies_f) or copies_f < 1:
        raise ParseError(path, l1, f"COPIES as a positive integer, got {head[0]!r}")
    raw = [number(t, path, l2, "per-copy DB12 values") for t in second.split()]
    _consistency(path, l1, raw, int(copies_f), total)
    if any(v <= 0 for v in raw):
        raise ParseError(path, l2, "positive per-copy DB12 values")
    return dirac_records(
        path,
        raw,
        {"copies": int(copies_f), "sum": total, "arithmetic_mean": amean, "geometric_mean": gmean, "median": median},
        l1,
        l2,
    )


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
            return '"raw"' in head or '"DB12"' in head or '"db12"' in head
        lines = head.splitlines()
        if len(lines) not in (1, 2):
            return False
        tokens = " ".join(lines).split()
        return all(try_number(t) is not None for t in tokens) and (len(lines) == 1) == (len(tokens) == 1)

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        text = read_text(path)
        if text.lstrip().startswith(("{", "[")):
            records = _parse_json(path, load_json(path, text))
            line = line_of(text, '"raw"') or line_of(text, '"DB12"') or line_of(text, '"db12"') or 1
            return [r if r.source_line is not None else replace(r, source_line=line) for r in records]
        return _parse_text(path, text)


PARSER = Db12Parser()
