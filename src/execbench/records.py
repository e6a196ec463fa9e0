"""The one tidy record every parser emits, and its schema check.

A Record is one measured number of one copy of one benchmark, plus where it
came from. Run context (host, mode, payload, copies, repetition) is joined in
later from the run's run.json, so parsers need not know how a log was made.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path

import fastjsonschema

from .paths import SCHEMAS

STATUSES = ("ok", "failed", "invalid")

# Physical range of a measured number (issue 13 R7). Every number these tools report is a
# bandwidth, a rate (IO/s, events/s), a time, a score or ratio, or a size: strictly positive and
# finite. The upper bound is far beyond any machine (1e12 MB/s, IO/s, s, ...): a bigger number is a
# corrupted field, not a measurement. A unit that may legitimately be 0 or negative goes here.
PHYSICAL_RANGES: dict[str, tuple[float, float]] = {
    # the host audit (parsers/audit.py): a verdict's code and a count of findings may be 0
    "verdict (0 ok, 1 warning, 2 blocking)": (-1.0, 2.0),
    "findings": (-1.0, 1e6),
}
DEFAULT_PHYSICAL_RANGE = (0.0, 1e12)  # (exclusive lower, inclusive upper)


@dataclass(frozen=True)
class Record:
    benchmark: str  # e.g. "453.povray", "hepchain.gen", "HS06", "triad"
    metric: str  # e.g. "ratio", "score", "events_per_s", "bandwidth"
    value: float | None  # None when status is not ok: never a silent zero
    unit: str  # e.g. "ratio", "HS06", "events/s", "MB/s", "s"
    higher_is_better: bool
    source_file: str
    copy: int | None = None  # 0-based copy index; None for a machine-level value
    status: str = "ok"  # one of STATUSES
    source_line: int | None = None
    detail: str = ""  # why a record is failed/invalid, or which variant it is
    extra: dict = field(default_factory=dict)  # format-specific flat facts (e.g. {"bits": 64})

    def to_dict(self) -> dict:
        # a flat copy (dataclasses.asdict deep-copies every extra: 10x slower on a 10,000-run rebuild)
        out = {f.name: getattr(self, f.name) for f in _FIELDS}
        out["extra"] = dict(self.extra)
        return out

    def with_copy(self, copy: int) -> "Record":
        """This record attributed to copy `copy` (a parser of one copy's log does not know it); a
        copy index the log itself gave is kept in extra["inner_copy"]."""
        extra = self.extra if self.copy is None else dict(self.extra, inner_copy=self.copy)
        return replace(self, copy=copy, extra=extra)


def physical_range_problem(record: "Record") -> str | None:
    """Why an ok record's value is outside its unit's physical range, or None when it is inside."""
    if record.status != "ok" or record.value is None or isinstance(record.value, bool):
        return None
    low, high = PHYSICAL_RANGES.get(record.unit, DEFAULT_PHYSICAL_RANGE)
    value = float(record.value)
    if value != value or not (low < value <= high):
        return (f"{record.benchmark} {record.metric} in its physical range ({low:g} < value <= {high:g} "
                f"{record.unit}), got {record.value!r}")
    return None


_FIELDS = fields(Record)


class RecordSchemaError(ValueError):
    """A record that does not match workflow/schemas/record.schema.json; `message` says where."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def failed_record(benchmark: str, metric: str, unit: str, higher_is_better: bool, source, copy: int | None,
                  detail: str) -> Record:
    """A number that could not be measured: value None, status failed, `detail` says why."""
    return Record(benchmark=benchmark, metric=metric, value=None, unit=unit, higher_is_better=higher_is_better,
                  source_file=str(source), copy=copy, status="failed", detail=detail)


def machine_level(per_copy: list[Record], copies: int, metrics: set[str] | None = None,
                  source: str | Path | None = None) -> list[Record]:
    """Machine-level records (copy=None) from the per-copy records of `copies` copies run at once.

    For each (benchmark, metric) — those in `metrics`, or every one when None — the sum over the
    copies for a higher-is-better number (HEP-SPEC06's rule for the score: the machine's score is
    the sum of the copies' scores; likewise events/s, MB/s, IOPS) and the mean for a time.
    A copy that is missing or not ok makes the machine value not ok too, with value None: no
    partial sums (a sum over fewer copies than ran would read as a slower machine). Its status is
    failed when a copy failed or left no value, invalid when a copy's number is invalid.
    `source` (default: the run directory above the first record's copy dir) is the record's
    source_file."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for record in per_copy:
        if record.copy is not None and (metrics is None or record.metric in metrics):
            groups.setdefault((record.benchmark, record.metric), []).append(record)
    out = []
    for (benchmark, metric), records in groups.items():
        first = records[0]
        how = "sum" if first.higher_is_better else "mean"
        where = str(source) if source is not None else str(Path(first.source_file).parent.parent)
        by_copy = {r.copy: r for r in records}
        bad = [by_copy[i] for i in sorted(by_copy) if by_copy[i].status != "ok"]
        missing = [i for i in range(copies) if i not in by_copy]
        extra = {"aggregate": how, "copies": copies}
        if bad or missing:
            why = "; ".join([f"copy {r.copy}: {r.detail or r.status}" for r in bad] +
                            [f"copy {i}: no value" for i in missing])
            status = "failed" if missing or any(r.status == "failed" for r in bad) else "invalid"
            out.append(replace(first, copy=None, value=None, status=status, source_line=None, source_file=where,
                               detail=f"{how} over {copies} copies not available: {why}", extra=extra))
            continue
        values = [by_copy[i].value for i in range(copies)]
        value = math.fsum(values) if how == "sum" else math.fsum(values) / copies
        out.append(replace(first, copy=None, value=value, source_line=None, source_file=where,
                           detail=f"{how} over {copies} copies", extra=extra))
    return out


@cache
def _record_validator():
    # fastjsonschema compiles the schema to Python once: ~12 us a record against ~800 us for
    # jsonschema's interpreter, which dominated the parse of a 10,000-run archive
    schema = json.loads((SCHEMAS / "record.schema.json").read_text())
    return fastjsonschema.compile(schema)


def validate_record(record: Record | dict) -> dict:
    """Return the record as a dict, raising RecordSchemaError if it is malformed."""
    data = record.to_dict() if isinstance(record, Record) else record
    try:
        _record_validator()(data)
    except fastjsonschema.JsonSchemaException as exc:
        raise RecordSchemaError(exc.message) from None
    return data
