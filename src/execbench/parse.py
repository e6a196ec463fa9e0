"""Parse raw run directories into their schema-checked records.

The payload (or, for ingested logs, the format named in the manifest) knows
which native logs to read. First every file is checked against the sha256 the run
recorded when it was sealed, or ingest when it copied it (execbench.integrity): a changed,
added or missing file, or a link or FIFO, gives errors naming each file as tampered and no
records, and no parser reads that run. Run context stays in the output's "run" part, so a
record is joined with its provenance without copying it into every record.
Raw files are only read.

Two granularities: `write_parsed` writes one run's parsed JSON (a study parses each run as
it finishes); `parse_batch` parses every run under results/raw into ONE JSON Lines file (one
parsed run per line), the rebuild-from-raw path: one output for Snakemake to track whatever
the number of runs, which is what keeps a 10,000-run archive rebuild fast
(bench/bench_archive_rebuild.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import diagnose, integrity, parsers, payloads
from .errors import ExecbenchError, ParseError
from .fsutil import atomic_write_json
from .records import RecordSchemaError, physical_range_problem, validate_record


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
        # the run's own record said ok; its logs say otherwise: every table must say failed
        first = tampered[0]["expected"]
        run = dict(run, status="failed", reason=f"raw logs changed after the run (tampered): {first}"[:2000])
        return {"run": run, "records": [], "errors": tampered, "log_reasons": []}
    records, errors = [], []
    if run.get("status", "ok") == "ok":
        try:
            for record in _records_for(run, run_dir):
                problem = physical_range_problem(record)  # payload-made records too, not only parsers'
                if problem:
                    errors.append(_error_dict(ParseError(record.source_file, record.source_line, problem)))
                    continue
                try:
                    records.append(validate_record(record))
                except RecordSchemaError as exc:
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


def parse_failure(run_dir: Path, exc: Exception) -> dict:
    """The parsed result of a run whose parsing raised unexpectedly: no records, the error listed."""
    try:
        run = json.loads((Path(run_dir) / "run.json").read_text())
    except (OSError, ValueError):
        run = {"rel_dir": str(run_dir)}
    error = {"path": str(run_dir), "line": None, "expected": f"a parsable run (internal error: {type(exc).__name__}: {exc})"}
    return {"run": run, "records": [], "errors": [error]}


def write_parse_failure(run_dir: Path, out_path: Path, exc: Exception) -> dict:
    return _write(parse_failure(run_dir, exc), out_path)


# --------------------------------------------------------------------------- the whole of results/raw
RUN_GLOB = "*/*/*c/r*/run.json"  # <payload>/<mode>/<copies>c/r<rep>[@host]/run.json


def raw_run_dirs(raw: Path) -> list[Path]:
    """Every run directory under results/raw (finished, failed or ingested), sorted; interrupted
    attempts moved to .incomplete/ are not runs."""
    raw = Path(raw)
    return sorted(p.parent for p in raw.glob(RUN_GLOB) if ".incomplete" not in p.relative_to(raw).parts)


def raw_fingerprint(raw: Path) -> str:
    """sha256 over (run directory, size and mtime of its run.json) of every run: changes when a run
    is added, removed or rewritten. The rebuild rule takes it as a param (a rerun trigger) instead
    of declaring every run.json an input, so Snakemake tracks one value, not 10,000 files."""
    raw = Path(raw)
    digest = hashlib.sha256()
    for run_dir in raw_run_dirs(raw):
        st = (run_dir / "run.json").stat()
        digest.update(f"{run_dir.relative_to(raw)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _parse_one(run_dir: Path) -> dict:
    try:
        result = parse_run_dir(run_dir)
    except Exception as exc:  # a bug on one run must not cost the other runs their parse
        result = parse_failure(run_dir, exc)
    return result


def parse_batch(raw: Path, out_path: Path, jobs: int = 1, ingested_only: bool = False,
                exclude: set[str] | frozenset = frozenset()) -> dict:
    """Parse every run under `raw` into one JSON Lines file `out_path` (one parsed run per line,
    with its `rel_dir`); `jobs` worker processes. `ingested_only`: only runs written by ingest;
    `exclude`: rel_dirs parsed elsewhere (a study's own runs). Returns counts."""
    raw, out_path = Path(raw), Path(out_path)
    dirs = [d for d in raw_run_dirs(raw) if str(d.relative_to(raw)) not in exclude
            and (not ingested_only or (d / "ingest.json").is_file())]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    counts = {"runs": 0, "records": 0, "errors": 0}
    try:  # on any error (a full disk, issue 13 R12) no part-written .tmp stays behind
        with open(tmp, "w") as fh:
            if jobs > 1 and len(dirs) > 1:
                import multiprocessing

                with multiprocessing.get_context("fork").Pool(jobs) as pool:
                    results = pool.imap(_parse_one, dirs, chunksize=max(1, min(64, len(dirs) // (4 * jobs))))
                    counts = _write_lines(fh, raw, dirs, results, counts)
            else:
                counts = _write_lines(fh, raw, dirs, map(_parse_one, dirs), counts)
        tmp.replace(out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


def _write_lines(fh, raw: Path, dirs: list[Path], results, counts: dict) -> dict:
    for run_dir, result in zip(dirs, results):
        result["rel_dir"] = str(run_dir.relative_to(raw))
        fh.write(json.dumps(result, sort_keys=True) + "\n")
        counts["runs"] += 1
        counts["records"] += len(result["records"])
        counts["errors"] += len(result["errors"])
    return counts


def read_parsed(path: Path):
    """The parsed runs in one file: a parsed-run JSON (one run) or a batch JSON Lines file (many).
    Yields (where, parsed run dict); `where` names the file and, for a batch, the line."""
    path = Path(path)
    if path.suffix == ".jsonl":
        with open(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    yield f"{path}:{lineno}", json.loads(line)
    else:
        yield str(path), json.loads(path.read_text())


def _write(result: dict, out_path: Path) -> dict:
    atomic_write_json(out_path, result, sort_keys=True)
    return result
