"""The one tidy record every parser emits, and its schema check.

A Record is one measured number of one copy of one benchmark, plus where it
came from. Run context (host, mode, payload, copies, repetition) is joined in
later from the run's run.json, so parsers need not know how a log was made.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache

import jsonschema

from .paths import SCHEMAS

STATUSES = ("ok", "failed", "invalid")


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
        return asdict(self)


@cache
def _record_validator():
    schema = json.loads((SCHEMAS / "record.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def validate_record(record: Record | dict) -> dict:
    """Return the record as a dict, raising jsonschema.ValidationError if it is malformed."""
    data = record.to_dict() if isinstance(record, Record) else record
    _record_validator().validate(data)
    return data
