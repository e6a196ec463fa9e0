"""The one tidy record every parser emits, and its schema check.

A Record is one measured number of one copy of one benchmark, plus where it
came from. Run context (host, mode, payload, copies, repetition) is joined in
later from the run's run.json, so parsers need not know how a log was made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from functools import cache

import fastjsonschema

from .paths import SCHEMAS

STATUSES = ("ok", "failed", "invalid")

# Physical range of a measured number (issue 13 R7). Every number these tools report is a
# bandwidth, a rate (IO/s, events/s), a time, a score or ratio, or a size: strictly positive and
# finite. The upper bound is far beyond any machine (1e12 MB/s, IO/s, s, ...): a bigger number is a
# corrupted field, not a measurement. A unit that may legitimately be 0 or negative goes here.
PHYSICAL_RANGES: dict[str, tuple[float, float]] = {}
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
