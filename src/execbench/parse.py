"""Parse one raw run directory into its schema-checked records.

The payload (or, for ingested logs, the format named in the manifest) knows
which native logs to read. First every file is checked against the sha256 the run
recorded when it was sealed, or ingest when it copied it (execbench.integrity): a changed,
added or missing file, or a link or FIFO, gives errors naming each file as tampered and no
records, and no parser reads that run. Run context stays in the output's "run" part, so a
record is joined with its provenance without copying it into every record.
Raw files are only read.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from . import diagnose, integrity, parsers, payloads
from .errors import ExecbenchError, ParseError
from .fsutil import atomic_write_json
from .records import validate_record


def _records_for(run: dict, run_dir: Path):
    fmt = run.get("format")
    if fmt:  # ingested logs: the manifest named (or detection chose) the format
        return parsers.get(fmt).parse(run_dir)
    return payloads.get(run["payload"]).parse(run_dir)


def parse_run_dir(run_dir: Path) -> dict:
    """{"run": run.json, "records": [...], "errors": [...], "log_reasons": [...]} for one raw run
    directory. A failed run gives no records; its log_reasons say why, from the payload's own logs
    (execbench.diagnose); an ok run's not-ok records give its log_reasons the same way."""
    run_dir = Path(run_dir)
    run_json = run_dir / "run.json"
    try:
        run = json.loads(run_json.read_text())
    except (OSError, ValueError) as exc:
        error = ParseError(run_json, None, f"a readable run.json ({exc})")
        return {"run": {"rel_dir": str(run_dir)}, "records": [], "errors": [_error_dict(error)]}
    tampered = integrity.check_run_dir(run_dir, run)  # before any parser opens a file
    if tampered:
        return {"run": run, "records": [], "errors": tampered, "log_reasons": []}
    records, errors = [], []
    if run.get("status", "ok") == "ok":
        try:
            for record in _records_for(run, run_dir):
                try:
                    records.append(validate_record(record))
                except jsonschema.ValidationError as exc:
                    errors.append(
                        _error_dict(ParseError(record.source_file, record.source_line, f"a valid record ({exc.message})"))
                    )
        except ParseError as exc:
            errors.append(_error_dict(exc))
        except (ExecbenchError, KeyError) as exc:
            errors.append({"path": str(run_dir), "line": None, "expected": str(exc)})
        reasons = diagnose.reasons_from_records(records, run.get("payload") or "")
    else:
        reasons = diagnose.log_reasons(run, run_dir, lambda: _records_for(run, run_dir))
    return {"run": run, "records": records, "errors": errors, "log_reasons": reasons}


def _error_dict(error: ParseError) -> dict:
    return {"path": error.path, "line": error.line, "expected": error.expected}


def write_parsed(run_dir: Path, out_path: Path) -> dict:
    return _write(parse_run_dir(run_dir), out_path)


def write_parse_failure(run_dir: Path, out_path: Path, exc: Exception) -> dict:
    """The parsed result of a run whose parsing raised unexpectedly: no records, the error listed."""
    try:
        run = json.loads((Path(run_dir) / "run.json").read_text())
    except (OSError, ValueError):
        run = {"rel_dir": str(run_dir)}
    error = {"path": str(run_dir), "line": None, "expected": f"a parsable run (internal error: {type(exc).__name__}: {exc})"}
    return _write({"run": run, "records": [], "errors": [error]}, out_path)


def _write(result: dict, out_path: Path) -> dict:
    atomic_write_json(out_path, result, sort_keys=True)
    return result
