"""Bring a site's existing raw logs into results/raw/ through a CSV manifest.

Manifest columns: path, host, mode, payload, copies, repetition, label; optional: format (a
name from execbench.parsers.PARSERS; detected from the content when empty) and copy (0-based:
the input holds that one copy's logs; empty: the input holds the whole run, e.g. an HS06
result directory with one result set per copy). Relative paths are relative to the manifest.

Each accepted input is parsed once as a check, then copied (never moved; the original is only
read) to results/raw/<payload>/<mode>/<copies>c/r<rep>/copy<i>/<name> (per-copy inputs) or
.../machine/<name> (whole-run inputs). The run directory gets
- ingest.json: manifest, label, host and the sha256 + size of every copied file;
- run.json: the run.json contract shape with `ingested: true`, status ok, the manifest's
  host and mode (mode_kind from the mode name), and `format: "ingested"` so the parse stage
  hands the directory to execbench.parsers.ingested, which parses each input with its format.
Unknown provenance (kernel, image, times) is null, never invented.

Bad input never stops the rest: a row pointing nowhere, a copy present twice, a wrong format,
an empty/binary/truncated file each give one entry {path, line, expected, ...} in the skipped
list (written to results/ingest/skipped.json for the report); every other row is ingested.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import re
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema

from . import parsers
from .errors import ParseError
from .fsutil import atomic_write_json
from .paths import SCHEMAS

REQUIRED = ("path", "host", "mode", "payload", "copies", "repetition", "label")
OPTIONAL = ("format", "copy")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
MODE_KINDS = {
    "bare": "bare",
    "baremetal": "bare",
    "native": "bare",
    "docker": "docker",
    "podman": "podman",
    "vm": "vm",
    "kvm": "vm",
    "qemu": "vm",
}
INGESTED_FORMAT = "ingested"
NOT_AUTODETECTED = {INGESTED_FORMAT, "hs06-legacy", "hs06-full-precision"}  # only when a manifest names them


@dataclass(frozen=True)
class ManifestRow:
    line: int
    source: Path
    host: str
    mode: str
    payload: str
    copies: int
    repetition: int
    label: str
    format: str | None
    copy: int | None

    @property
    def rel_dir(self) -> str:
        return f"{self.payload}/{self.mode}/{self.copies}c/r{self.repetition}"

    @property
    def slot(self) -> str:
        return "machine" if self.copy is None else f"copy{self.copy}"


def mode_kind(mode: str) -> str:
    """The mode kind a manifest's mode name stands for ("docker-2015" -> "docker")."""
    head = re.split(r"[-_.]", mode.lower(), maxsplit=1)[0]
    return MODE_KINDS.get(head, mode)


def _error(path: Path, line: int | None, expected: str, **more) -> dict:
    return {"path": str(path), "line": line, "expected": expected, **more}


def _row_error(manifest: Path, line: int, expected: str, **more) -> dict:
    """An error about a manifest row itself: the file is the manifest, the line its row."""
    return _error(manifest, line, expected, manifest=str(manifest), manifest_line=line, **more)


def read_manifest(manifest: Path) -> tuple[list[ManifestRow], list[dict]]:
    """Rows that are well-formed and unique, and one error dict per rejected row.

    Only the manifest itself is read here (no input file is opened), so the run directories
    it yields can be known when the workflow is planned. A missing or headerless manifest
    raises ParseError: nothing can be ingested from it."""
    manifest = Path(manifest)
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(manifest, None, f"a readable UTF-8 CSV manifest ({exc})") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ParseError(manifest, 1, f"a header line with the columns {', '.join(REQUIRED)}") from None
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        raise ParseError(
            manifest,
            1,
            f"columns {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)}); "
            f"missing {missing}, unknown {unknown}",
        )
    rows: list[ManifestRow] = []
    errors: list[dict] = []
    slots: dict[tuple[str, str], int] = {}
    sources: dict[str, int] = {}
    kinds: dict[str, set] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(_row_error(manifest, line, f"{len(header)} fields like the header, got {len(cells)}"))
            continue
        row = {k: v.strip() for k, v in zip(header, cells)}
        problem = None
        for key in ("host", "mode", "payload", "label"):
            if not row[key]:
                problem = f"a non-empty '{key}'"
            elif key in ("mode", "payload") and not NAME_RE.match(row[key]):
                problem = f"'{key}' made of letters, digits, '_', '-', '.', got {row[key]!r}"
        numbers = {}
        for key, minimum in (("copies", 1), ("repetition", 1), ("copy", 0)):
            value = row.get(key, "")
            if key == "copy" and value == "":
                numbers[key] = None
                continue
            if not value.isdigit() or int(value) < minimum:
                problem = problem or f"'{key}' as an integer >= {minimum}, got {value!r}"
                continue
            numbers[key] = int(value)
        fmt = row.get("format") or None
        if fmt is not None and (fmt not in parsers.PARSERS or fmt == INGESTED_FORMAT):
            problem = problem or f"'format' one of {sorted(set(parsers.PARSERS) - {INGESTED_FORMAT})}, got {fmt!r}"
        if not row["path"]:
            problem = problem or "a non-empty 'path'"
        if problem is None and numbers["copy"] is not None and numbers["copy"] >= numbers["copies"]:
            problem = f"'copy' below 'copies' ({numbers['copies']}), got {numbers['copy']}"
        if problem:
            errors.append(_row_error(manifest, line, problem, input=row.get("path", "")))
            continue
        source = Path(row["path"])
        if not source.is_absolute():
            source = manifest.parent / source
        mr = ManifestRow(
            line,
            source,
            row["host"],
            row["mode"],
            row["payload"],
            numbers["copies"],
            numbers["repetition"],
            row["label"],
            fmt,
            numbers["copy"],
        )
        key = (mr.rel_dir, mr.slot)
        if key in slots:
            errors.append(
                _row_error(
                    manifest,
                    line,
                    f"each copy of a run once: {mr.rel_dir} {mr.slot} is already "
                    f"given on line {slots[key]} (a copy present twice)",
                    input=str(source),
                )
            )
            continue
        kind = "machine" if mr.copy is None else "copy"
        if kinds.get(mr.rel_dir, {kind}) != {kind}:
            errors.append(
                _row_error(
                    manifest,
                    line,
                    f"either one whole-run input or per-copy inputs for {mr.rel_dir}, "
                    "not both (a copy present twice)",
                    input=str(source),
                )
            )
            continue
        resolved = str(source.resolve())
        if resolved in sources:
            errors.append(
                _row_error(
                    manifest,
                    line,
                    f"each input once: {source} is already ingested on line "
                    f"{sources[resolved]} (a copy present twice)",
                    input=str(source),
                )
            )
            continue
        first = next((r for r in rows if r.rel_dir == mr.rel_dir), None)
        if first is not None and (first.host, first.label) != (mr.host, mr.label):
            errors.append(
                _row_error(
                    manifest,
                    line,
                    f"the host and label of line {first.line} "
                    f"({first.host!r}, {first.label!r}) for the same run {mr.rel_dir}",
                    input=str(source),
                )
            )
            continue
        slots[key] = line
        sources[resolved] = line
        kinds.setdefault(mr.rel_dir, set()).add(kind)
        rows.append(mr)
    return rows, errors


def manifest_rel_dirs(manifest) -> list[str]:
    """Run directories (relative to results/raw) an ingest of `manifest` writes a run.json for."""
    rows, _ = read_manifest(Path(manifest))
    return sorted({row.rel_dir for row in rows})


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def _choose_parser(row: ManifestRow):
    source = row.source
    if source.is_file():  # the two commonest non-logs get their own words
        if source.stat().st_size == 0:
            raise ParseError(source, None, "a non-empty file")
        with open(source, "rb") as fh:
            if b"\x00" in fh.read(65536):
                raise ParseError(source, None, "a text log or JSON file (found NUL bytes: binary data)")
    if row.format:
        parser = parsers.get(row.format)
        if not parser.detect(source):
            other = _detect(source)
            if other is not None:
                raise ParseError(
                    source,
                    None,
                    f"content in the '{row.format}' format the manifest names " f"(it looks like '{other.format}')",
                )
        return parser  # its parse() names what is wrong (truncated, missing keys, ...)
    parser = _detect(source)
    if parser is None:
        known = sorted(set(parsers.PARSERS) - NOT_AUTODETECTED)
        raise ParseError(source, None, f"a file or directory in one of the known formats {known}")
    return parser


def _detect(path: Path):
    for name in parsers.PARSERS:
        if name in NOT_AUTODETECTED:
            continue
        try:
            parser = parsers.get(name)
        except Exception:  # one broken parser module must not stop ingest
            continue
        if parser.detect(path):
            return parser
    return None


def _copy_input(row: ManifestRow, run_dir: Path) -> list[dict]:
    """Copy one input into its slot; return [{path, sha256, bytes}] of every copied file.

    A file already there with the same sha256 (a re-ingest) is left alone."""
    entries = []
    for src in _files(row.source):
        rel = Path(row.source.name) if row.source.is_file() else Path(row.source.name) / src.relative_to(row.source)
        dest = run_dir / row.slot / rel
        digest = sha256_file(src)
        if not (dest.is_file() and sha256_file(dest) == digest):
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)  # copies content and mtime; the source is only read
            if sha256_file(dest) != digest:
                raise OSError(f"copy of {src} to {dest} does not match its sha256")
        entries.append(
            {"path": str(Path(row.slot) / rel), "source": str(src), "sha256": digest, "bytes": src.stat().st_size}
        )
    return entries


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _host_from_records(records) -> dict:
    for record in records:
        if record.benchmark == "host" and record.metric == "logical_cpus":
            extra = record.extra
            cores = record.value
            return {
                k: v
                for k, v in {
                    "cpu_model": extra.get("HW.CPU.CPU_Model"),
                    "logical_cores": int(cores) if cores else None,
                    "kernel": extra.get("SW.kernel_version"),
                    "os": extra.get("SW.os_version"),
                }.items()
                if v is not None
            }
    return {}


def _run_json(
    rel_dir: str,
    rows: list[ManifestRow],
    inputs: list[dict],
    failures: list[dict],
    manifest: Path,
    manifest_sha: str,
    host_facts: dict,
) -> dict:
    first = rows[0]
    ok = bool(inputs)
    return {
        "schema_version": 1,
        "run_id": f"ingest-{first.payload}-{first.mode}-{first.copies}c-r{first.repetition}",
        "payload": first.payload,
        "mode": first.mode,
        "mode_kind": mode_kind(first.mode),
        "mode_settings": {},
        "copies": first.copies,
        "repetition": first.repetition,
        "order_index": None,
        "seed": None,
        "status": "ok" if ok else "failed",
        "reason": (
            f"ingested from {manifest.name}; label {first.label!r}"
            if ok
            else "every input of this run was skipped: "
            + "; ".join(f"{f['path']}:{f['line']}: expected {f['expected']}" for f in failures)
        ),
        "emulated": False,
        "host": {
            "hostname": first.host,
            "cpu_model": None,
            "logical_cores": None,
            "kernel": None,
            "os": None,
            **host_facts,
        },
        "versions": {},
        "image": {"name": None, "reference": None, "digest": None},
        "started_utc": None,
        "ended_utc": None,
        "wall_s": None,
        "copies_result": [],
        "config_sha256": None,
        "format": INGESTED_FORMAT,
        "ingested": True,
        "label": first.label,
        "ingest": {
            "manifest": str(manifest),
            "manifest_sha256": manifest_sha,
            "ingested_utc": _utc_now(),
            "inputs": inputs,
        },
    }


def ingest(manifest, results, skipped_path=None) -> dict:
    """Ingest every usable row of `manifest` into `results`/raw; return the summary written
    to `skipped_path` (default results/ingest/skipped.json)."""
    manifest = Path(manifest)
    results = Path(results)
    rows, skipped = read_manifest(manifest)
    manifest_sha = sha256_file(manifest)
    by_run: dict[str, list[ManifestRow]] = {}
    for row in rows:
        by_run.setdefault(row.rel_dir, []).append(row)
    ingested = []
    for rel_dir, run_rows in sorted(by_run.items()):
        run_dir = results / "raw" / rel_dir
        existing = run_dir / "run.json"
        if existing.exists() and not (run_dir / "ingest.json").exists():
            for row in run_rows:
                skipped.append(
                    _row_error(
                        manifest,
                        row.line,
                        f"a free run directory: {run_dir} holds a measured run " "that ingest never overwrites",
                        input=str(row.source),
                    )
                )
            continue
        inputs, failures, host_facts = [], [], {}
        for row in run_rows:
            entry = {"manifest_line": row.line, "label": row.label, "input": str(row.source)}
            if not row.source.exists():
                failures.append(
                    _row_error(
                        manifest,
                        row.line,
                        f"an existing file or directory at {row.source} " "(the manifest row points nowhere)",
                        input=str(row.source),
                        label=row.label,
                    )
                )
                continue
            src, res = row.source.resolve(), results.resolve()
            if src == res or res.is_relative_to(src) or src.is_relative_to(res):
                failures.append(
                    _row_error(
                        manifest,
                        row.line,
                        f"an input outside the results directory {results} " f"(got {row.source})",
                        input=str(row.source),
                        label=row.label,
                    )
                )
                continue
            try:
                parser = _choose_parser(row)
                records = parser.parse(row.source)
            except ParseError as exc:
                failures.append(
                    {
                        "path": exc.path,
                        "line": exc.line,
                        "expected": exc.expected,
                        "manifest": str(manifest),
                        "manifest_line": row.line,
                        "label": row.label,
                    }
                )
                continue
            for record in records:  # inner files an aggregate parser could not read
                error = record.extra.get("parse_error") if isinstance(record.extra, dict) else None
                if error:
                    failures.append(
                        dict(error, manifest=str(manifest), manifest_line=row.line, label=row.label, partial=True)
                    )
            host_facts = host_facts or _host_from_records(records)
            try:
                files = _copy_input(row, run_dir)
            except OSError as exc:
                failures.append(
                    _error(
                        row.source,
                        None,
                        f"a readable input that can be copied ({exc})",
                        manifest=str(manifest),
                        manifest_line=row.line,
                        label=row.label,
                    )
                )
                continue
            inputs.append(
                dict(
                    entry,
                    format=parser.format,
                    copy=row.copy,
                    dest=str(Path(row.slot) / row.source.name),
                    records=len(records),
                    files=files,
                )
            )
        skipped.extend(failures)
        run_dir.mkdir(parents=True, exist_ok=True)
        run = _run_json(
            rel_dir, run_rows, inputs, [f for f in failures if not f.get("partial")], manifest, manifest_sha, host_facts
        )
        provenance = {
            "ingested": True,
            "manifest": str(manifest),
            "manifest_sha256": manifest_sha,
            "host": run_rows[0].host,
            "label": run_rows[0].label,
            "rel_dir": rel_dir,
            "inputs": inputs,
        }
        check_ingested_run(run)
        _write_json(run_dir / "ingest.json", provenance)
        _write_json(run_dir / "run.json", run)
        ingested.append({"rel_dir": rel_dir, "status": run["status"], "inputs": len(inputs)})
    summary = {"manifest": str(manifest), "manifest_sha256": manifest_sha, "ingested": ingested, "skipped": skipped}
    out = Path(skipped_path) if skipped_path else results / "ingest" / "skipped.json"
    _write_json(out, summary)
    return summary


@cache
def _ingested_run_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / "ingested-run.schema.json").read_text()))


def check_ingested_run(run: dict) -> None:
    """An ingested run.json must match workflow/schemas/ingested-run.schema.json (a bug here otherwise)."""
    error = jsonschema.exceptions.best_match(_ingested_run_validator().iter_errors(run))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(top level)"
        raise ValueError(f"ingested run.json of {run.get('run_id')}: key '{where}': {error.message}")


def _write_json(path: Path, data) -> None:
    # atomic, and no temporary file left behind on a full disk (issue 13, R12)
    atomic_write_json(path, data, sort_keys=True)
