"""Small helpers shared by the log-format parsers.

The contract every parser keeps: detect() never raises, parse() returns Records
or raises ParseError(path, line, expected). `guarded_detect` and `guarded_parse`
enforce it at the boundary, so a bug on an odd input becomes a ParseError that
names the file instead of a crash that stops the whole ingest or parse stage.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import replace
from pathlib import Path

from ..errors import ParseError
from ..records import Record, physical_range_problem

# Text logs bigger than this are not what any of these tools write; refuse early
# rather than read a multi-GB mistake into memory.
MAX_TEXT_BYTES = 256 * 1024 * 1024


def guarded_detect(method):
    """Wrap Parser.detect so it answers False instead of raising, whatever the input."""

    @functools.wraps(method)
    def wrapper(self, path) -> bool:
        try:
            return bool(method(self, Path(path)))
        except Exception:  # detect() promises never to raise
            return False

    wrapper._guarded = True
    return wrapper


def guarded_parse(method):
    """Wrap Parser.parse so only ParseError escapes; anything else is reported as one.

    Every ok record must lie in its unit's physical range (records.physical_range_problem): a
    negative bandwidth or a zero time is a corrupted log, reported as a ParseError naming the
    record's file and line, never a number in a table."""

    @functools.wraps(method)
    def wrapper(self, path, *args, **kwargs):
        path = Path(path)
        try:
            records = method(self, path, *args, **kwargs)
            check_physical_ranges(records)
            return records
        except ParseError:
            raise
        except RecursionError:
            raise ParseError(path, None, f"a {self.format} input of sane nesting depth") from None
        except Exception as exc:  # the boundary: see module docstring
            raise ParseError(path, None, f"a well-formed {self.format} input ({type(exc).__name__}: {exc})") from exc

    wrapper._guarded = True
    return wrapper


def read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise ParseError(path, None, "an existing regular file")
    size = path.stat().st_size
    if size == 0:
        raise ParseError(path, None, "a non-empty file")
    if size > MAX_TEXT_BYTES:
        raise ParseError(path, None, f"a log file smaller than {MAX_TEXT_BYTES} bytes")
    return path.read_bytes()


def decode_text(path: Path, data: bytes) -> str:
    """Decode a text log; binary garbage (NUL bytes, mostly undecodable) is a ParseError."""
    if not data.strip():
        raise ParseError(path, None, "a non-empty text file (only whitespace found)")
    if b"\x00" in data[:65536]:
        raise ParseError(path, None, "a text file (found NUL bytes: binary data)")
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad and bad > len(text) // 20:
        raise ParseError(path, None, "a UTF-8 / ASCII text file (mostly undecodable bytes)")
    return text


def read_text(path: Path) -> str:
    return decode_text(path, read_bytes(path))


def peek_text(path: Path, size: int = 8192) -> str:
    """The first bytes of a file as text, for detect(); '' when unreadable or binary."""
    if not path.is_file():
        return ""
    with open(path, "rb") as fh:
        head = fh.read(size)
    if b"\x00" in head:
        return ""
    return head.decode("utf-8", errors="replace")


def load_json(path: Path, text: str | None = None):
    """Parse a JSON file; syntax errors become ParseError with the line number."""
    if text is None:
        text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(path, exc.lineno, f"valid JSON ({exc.msg} at column {exc.colno})") from None


def number(value, path: Path, line: int | None, what: str) -> float:
    """A finite float from a JSON value or a token, else ParseError naming `what`."""
    if isinstance(value, bool):
        raise ParseError(path, line, f"{what} as a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ParseError(path, line, f"{what} as a number, got {value!r}") from None
    if not math.isfinite(result):
        raise ParseError(path, line, f"{what} as a finite number, got {value!r}")
    return result


def try_number(token) -> float | None:
    """float(token) if it is a finite number, else None (for tolerant table scanning)."""
    if isinstance(token, bool):
        return None
    try:
        result = float(token)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def geomean(values) -> float:
    values = list(values)
    if not values or any(v <= 0 for v in values):
        raise ValueError("geometric mean needs positive values")
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))


def lower_median_index(values: list[float]) -> int:
    """Index (into `values`) of the median; the lower of the two middle ones for even counts.

    This is SPEC's rule for picking the reported iteration (and DIRAC DB12's median)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    return order[(len(values) - 1) // 2]


def line_of(text: str, *needles: str, last: bool = False) -> int | None:
    """1-based line of the last of `needles`, each searched after the previous one (a cheap way
    to point a record of a JSON file at the key it came from); None when one is missing.
    With last=True the final needle's last occurrence is used."""
    pos = 0
    for i, needle in enumerate(needles):
        found = text.rfind(needle, pos) if last and i == len(needles) - 1 else text.find(needle, pos)
        if found < 0:
            return None
        pos = found
    return text.count("\n", 0, pos) + 1


def with_copy(records, copy: int | None) -> list[Record]:
    """The same records attributed to execbench copy `copy` (0-based)."""
    return [replace(r, copy=copy) for r in records]


def json_object(path: Path, data, where: str, line: int | None = None) -> dict:
    if not isinstance(data, dict):
        raise ParseError(path, line, f"{where} as a JSON object, got {type(data).__name__}")
    return data


def unparsable_file_record(benchmark: str, metric: str, source: Path, exc: ParseError, copy: int | None) -> Record:
    """A failed record standing for a file that could not be parsed, so the error reaches the report."""
    return Record(benchmark, metric, None, "", True, str(source), copy=copy, status="failed",
                  source_line=exc.line, detail=str(exc),
                  extra={"parse_error": {"path": exc.path, "line": exc.line, "expected": exc.expected}})


def check_physical_ranges(records) -> None:
    """ParseError (file and line of the record) for the first ok record outside its physical range."""
    for record in records:
        problem = physical_range_problem(record)
        if problem:
            raise ParseError(record.source_file, record.source_line, problem)


# --------------------------------------------------------------------------- several runs per file
# Sites archive loops (`for i in $(seq 10); do ./stream; done >> stream.log`): one file, N runs.
# Parsers that find N > 1 runs tag every record with its run (1-based) and the count, so ingest
# can map the file onto N repetitions; a file of one run is tagged with nothing.
RUN_IN_FILE = "run_in_file"
RUNS_IN_FILE = "runs_in_file"


def runs_in_file(records) -> int:
    """How many runs the records of one file come from (1 when untagged)."""
    return max((r.extra.get(RUNS_IN_FILE, 1) for r in records if isinstance(r.extra, dict)), default=1)


def records_of_run(records, run: int) -> list[Record]:
    """The records of run `run` (1-based) of a file; all of them when the file holds one run."""
    return [r for r in records if not isinstance(r.extra, dict) or r.extra.get(RUN_IN_FILE, run) == run]


def tag_runs(per_run: list[list[Record]], spans: list[tuple[int, int]]) -> list[Record]:
    """Flatten the records of each run of a file, tagging them when there is more than one run.

    spans[k] = (first, last) 1-based line numbers of run k + 1 in the file."""
    if len(per_run) <= 1:
        return per_run[0] if per_run else []
    out = []
    for k, (records, (first, last)) in enumerate(zip(per_run, spans), 1):
        tag = {RUN_IN_FILE: k, RUNS_IN_FILE: len(per_run), "run_lines": [first, last]}
        out += [replace(r, extra={**r.extra, **tag}) for r in records]
    return out


def parse_runs(path: Path, lines: list[str], starts: list[int], parse_one) -> list[Record]:
    """Parse each run of a text file that holds several, one after the other.

    `starts`: 0-based index of the first line of each run (lines before starts[0] belong to the
    first run). `parse_one(path, text)` parses one run's text; its line numbers (in records and in
    a ParseError) are shifted to the file's. One run that cannot be read refuses the whole file,
    naming the run: never a partial read."""
    starts = sorted(set(starts)) or [0]
    bounds = [0, *starts[1:], len(lines)]
    per_run, spans = [], []
    for k in range(len(bounds) - 1):
        first, end = bounds[k], bounds[k + 1]
        try:
            records = parse_one(path, "\n".join(lines[first:end]) + "\n")
        except ParseError as exc:
            if len(bounds) == 2:
                raise
            line = None if exc.line is None else exc.line + first
            raise ParseError(path, line, f"{exc.expected} (run {k + 1} of {len(bounds) - 1} in this file, "
                                         f"lines {first + 1}-{end})") from None
        per_run.append([shift_lines(r, first, path) for r in records])
        spans.append((first + 1, end))
    return tag_runs(per_run, spans)


def shift_lines(record: Record, offset: int, path: Path) -> Record:
    """The record with its source line moved down by `offset` (it came from a slice of `path`)."""
    if not offset or record.source_line is None or record.source_file != str(path):
        return record
    return replace(record, source_line=record.source_line + offset)
