"""Bring a site's existing raw logs into results/raw/ through a CSV manifest.

Manifest columns: path, host, mode, payload, copies, repetition, label; optional: format (a
name from execbench.parsers.PARSERS; detected from the content when empty) and copy (0-based:
the input holds that one copy's logs; empty: the input holds the whole run, e.g. an HS06
result directory with one result set per copy). Relative paths are relative to the manifest.

Bounds and types (issue 13 R8): the manifest is UTF-8 (a BOM is accepted), CRLF or LF, at most
MAX_MANIFEST_BYTES and MAX_ROWS rows, each field at most MAX_FIELD characters; host, mode, payload
and label match NAME_RE (they become path parts and report text); copies in 1..MAX_COPIES,
copy in 0..copies-1, repetition in 1..MAX_REPETITION, or a range `first-last` of at most
MAX_RUNS_PER_ROW repetitions.

A file holding several runs (a loop appending to one log, parsers._common `runs_in_file`) is
mapped onto that many repetitions: `repetition` 3 and 10 runs in the file give r3 .. r12; a
range `3-12` must match the number of runs found, else the row is refused naming both. The file
is copied once, into the first run's directory; the others name it (`dest` relative to their
own directory) and which run of it they are (`run_in_file`).

A whole result directory without a format (a hep-benchmark-suite run directory, an HS06 result
directory, a KitValidation work directory...) is recognised by parsers.layouts and expanded to
the parts that are read, each with its own format; the copies it holds must match `copies`.

Each accepted input is parsed once as a check, then copied (never moved; the original is only
read) to results/raw/<payload>/<mode>/<copies>c/r<rep>/copy<i>/<name> (per-copy inputs) or
.../machine/<name> (whole-run inputs). The run directory gets
- ingest.json: manifest, label, host and the sha256 + size of every copied file;
- run.json: the run.json contract shape with `ingested: true`, status ok, the manifest's
  host and mode (mode_kind from the mode name), and `format: "ingested"` so the parse stage
  hands the directory to execbench.parsers.ingested, which parses each input with its format.
Unknown provenance (kernel, image, times) is null, never invented.

Bad input never stops the rest: a manifest that cannot be read at all, a row pointing nowhere,
a copy present twice, a wrong format, an empty/binary/truncated file each give one entry
{path, line, expected, ...} in the skipped list (written to results/ingest/skipped.json for the
report); every other row is ingested.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jsonschema

from . import parsers
from .errors import ParseError
from .fsutil import atomic_write_json
from .parsers._common import RUN_IN_FILE, runs_in_file
from .parsers.layouts import LayoutError, identify
from .paths import SCHEMAS

REQUIRED = ("path", "host", "mode", "payload", "copies", "repetition", "label")
OPTIONAL = ("format", "copy")
# One strict pattern for every name that becomes a path part or report text (issue 13 item 5).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_FIELD = 4096
MAX_COPIES = 4096  # more than the logical CPUs of any batch node
MAX_REPETITION = 1_000_000
MAX_RUNS_PER_ROW = 100_000
REPETITION_RE = re.compile(r"^(\d{1,7})(?:-(\d{1,7}))?$")
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
    repetition: int  # the first repetition this row fills
    label: str
    format: str | None
    copy: int | None
    last_repetition: int | None = None  # a range 'first-last' given in the manifest
    # a (payload, mode, copies) that several hosts of the manifest report: each host's runs are laid
    # out apart, as a fan-out study's (r<rep>@<host>): sites number repetitions per node, and no
    # host's run may take another's place
    at_host: bool = False

    def rel_dir_of(self, repetition: int) -> str:
        return f"{self.payload}/{self.mode}/{self.copies}c/r{repetition}" + (f"@{self.host}" if self.at_host else "")

    @property
    def rel_dir(self) -> str:
        return self.rel_dir_of(self.repetition)

    @property
    def slot(self) -> str:
        return "machine" if self.copy is None else f"copy{self.copy}"


def mode_kind(mode: str) -> str:
    """The mode kind a manifest's mode name stands for ("docker-2015" -> "docker")."""
    head = re.split(r"[-_.]", mode.lower(), maxsplit=1)[0]
    return MODE_KINDS.get(head, mode)


def where(path, line) -> str:
    """'file:line', or 'file' when the line is not known."""
    return str(path) if line is None else f"{path}:{line}"


def _error(path: Path, line: int | None, expected: str, **more) -> dict:
    return {"path": str(path), "line": line, "expected": expected, **more}


def _row_error(manifest: Path, line: int, expected: str, **more) -> dict:
    """An error about a manifest row itself: the file is the manifest, the line its row."""
    return _error(manifest, line, expected, manifest=str(manifest), manifest_line=line, **more)


def _manifest_text(manifest: Path) -> str:
    try:
        size = manifest.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise ParseError(manifest, None, f"a manifest of at most {MAX_MANIFEST_BYTES} bytes, got {size}")
        data = manifest.read_bytes()
    except OSError as exc:
        raise ParseError(manifest, None, f"a readable CSV manifest ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")  # a BOM (Excel's 'CSV UTF-8') is not part of the header
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParseError(manifest, line, f"UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start} is not)") from None


def _number(row: dict, key: str, low: int, high: int) -> int | None | str:
    value = row.get(key, "")
    if not value.isdigit() or len(value) > 7 or not low <= int(value) <= high:
        return f"'{key}' as an integer in {low}..{high}, got {value[:40]!r}"
    return int(value)


def _shared_cells(text: str, header: list[str]) -> set[tuple[str, str, str]]:
    """The (payload, mode, copies) that rows of more than one host name (a first pass over the
    well-formed rows): their runs are laid out per host."""
    col = {k: header.index(k) for k in ("host", "payload", "mode", "copies")}
    hosts: dict[tuple[str, str, str], set[str]] = {}
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""))):
            if number and len(cells) == len(header) and NAME_RE.match(cells[col["host"]].strip()):
                key = tuple(cells[col[k]].strip() for k in ("payload", "mode", "copies"))
                hosts.setdefault(key, set()).add(cells[col["host"]].strip())
    except csv.Error:
        pass  # the main pass reports it
    return {key for key, names in hosts.items() if len(names) > 1}


def read_manifest(manifest: Path) -> tuple[list[ManifestRow], list[dict]]:
    """Rows that are well-formed and unique, and one error dict per rejected row.

    Only the manifest itself is read here (no input file is opened). A manifest that cannot be
    read at all (missing, too big, not UTF-8, no header) raises ParseError: nothing can be
    ingested from it (ingest() turns that into one skipped entry)."""
    manifest = Path(manifest)
    text = _manifest_text(manifest)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ParseError(manifest, 1, f"a header line with the columns {', '.join(REQUIRED)}") from None
    except csv.Error as exc:
        raise ParseError(manifest, 1, f"a CSV header line ({exc})") from None
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        raise ParseError(
            manifest,
            1,
            f"columns {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)}), each once; "
            f"missing {missing}, unknown {[u[:40] for u in unknown]}",
        )
    shared = _shared_cells(text, header)
    rows: list[ManifestRow] = []
    errors: list[dict] = []
    slots: dict[tuple[str, str], int] = {}
    sources: dict[str, int] = {}
    kinds: dict[str, set] = {}
    first_of_run: dict[str, ManifestRow] = {}
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a NUL byte, an unterminated quote, a field over csv's limit
            errors.append(_row_error(manifest, reader.line_num, f"a CSV row ({exc})"))
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(_row_error(manifest, line, f"at most {MAX_ROWS} rows (the rest is not read)"))
            break
        if len(cells) != len(header):
            errors.append(_row_error(manifest, line, f"{len(header)} fields like the header, got {len(cells)}"))
            continue
        row = {k: v.strip() for k, v in zip(header, cells)}
        long = next((k for k, v in row.items() if len(v) > MAX_FIELD), None)
        if long:
            errors.append(_row_error(manifest, line, f"'{long}' of at most {MAX_FIELD} characters"))
            continue
        problem = None
        for key in ("host", "mode", "payload", "label"):
            if not NAME_RE.match(row[key]):
                problem = (f"'{key}' of 1-64 letters, digits, '_', '-', '.' starting with a letter or digit, "
                           f"got {row[key][:64]!r}")
                break
        numbers: dict = {}
        for key, low, high in (("copies", 1, MAX_COPIES),):
            numbers[key] = _number(row, key, low, high)
        rep = REPETITION_RE.match(row["repetition"])
        if rep is None or not 1 <= int(rep.group(1)) <= MAX_REPETITION or (
                rep.group(2) and not int(rep.group(1)) <= int(rep.group(2)) <= MAX_REPETITION):
            numbers["repetition"] = (f"'repetition' as an integer in 1..{MAX_REPETITION} or a range 'first-last' "
                                     f"(first <= last), got {row['repetition'][:40]!r}")
        else:
            numbers["repetition"] = int(rep.group(1))
            numbers["last"] = int(rep.group(2)) if rep.group(2) else None
            if numbers["last"] and numbers["last"] - numbers["repetition"] + 1 > MAX_RUNS_PER_ROW:
                numbers["repetition"] = f"a range of at most {MAX_RUNS_PER_ROW} repetitions"
        if row.get("copy", "") == "":
            numbers["copy"] = None
        else:
            numbers["copy"] = _number(row, "copy", 0, MAX_COPIES - 1)
        problem = problem or next((v for v in numbers.values() if isinstance(v, str)), None)
        fmt = row.get("format") or None
        if fmt is not None and (fmt not in parsers.PARSERS or fmt == INGESTED_FORMAT):
            problem = problem or f"'format' one of {sorted(set(parsers.PARSERS) - {INGESTED_FORMAT})}, got {fmt[:40]!r}"
        if not row["path"] or "\x00" in row["path"]:
            problem = problem or "a non-empty 'path'"
        if problem is None and numbers["copy"] is not None and numbers["copy"] >= numbers["copies"]:
            problem = f"'copy' below 'copies' ({numbers['copies']}), got {numbers['copy']}"
        if problem:
            errors.append(_row_error(manifest, line, problem, input=row.get("path", "")[:MAX_FIELD]))
            continue
        source = Path(row["path"])
        if not source.is_absolute():
            source = manifest.parent / source
        mr = ManifestRow(line, source, row["host"], row["mode"], row["payload"], numbers["copies"],
                         numbers["repetition"], row["label"], fmt, numbers["copy"], numbers["last"],
                         (row["payload"], row["mode"], row["copies"]) in shared)
        reps = range(mr.repetition, (mr.last_repetition or mr.repetition) + 1)
        clash = next(((r, slots[(mr.rel_dir_of(r), mr.slot)]) for r in reps if (mr.rel_dir_of(r), mr.slot) in slots),
                     None)
        if clash:
            errors.append(_row_error(manifest, line, f"each copy of a run once: {mr.rel_dir_of(clash[0])} {mr.slot} "
                                                     f"is already given on line {clash[1]} (a copy present twice)",
                                     input=str(source)))
            continue
        kind = "machine" if mr.copy is None else "copy"
        if any(kinds.get(mr.rel_dir_of(r), {kind}) != {kind} for r in reps):
            errors.append(_row_error(manifest, line, f"either one whole-run input or per-copy inputs for "
                                                     f"{mr.rel_dir}, not both (a copy present twice)",
                                     input=str(source)))
            continue
        resolved = str(source.resolve())
        if resolved in sources:
            errors.append(_row_error(manifest, line, f"each input once: {source} is already ingested on line "
                                                     f"{sources[resolved]} (a copy present twice; a file holding "
                                                     f"several runs is one row: they become repetitions)",
                                     input=str(source)))
            continue
        first = first_of_run.get(mr.rel_dir)
        if first is not None and (first.host, first.label) != (mr.host, mr.label):
            errors.append(_row_error(manifest, line, f"the host and label of line {first.line} "
                                                     f"({first.host!r}, {first.label!r}) for the same run {mr.rel_dir}",
                                     input=str(source)))
            continue
        for r in reps:
            slots[(mr.rel_dir_of(r), mr.slot)] = line
            kinds.setdefault(mr.rel_dir_of(r), set()).add(kind)
            first_of_run.setdefault(mr.rel_dir_of(r), mr)
        sources[resolved] = line
        rows.append(mr)
    return rows, errors


def manifest_rel_dirs(manifest) -> list[str]:
    """Run directories (relative to results/raw) the manifest names: each row's first repetition,
    or its whole range. A file holding several runs adds the repetitions after its first at ingest."""
    rows, _ = read_manifest(Path(manifest))
    return sorted({row.rel_dir_of(r) for row in rows
                   for r in range(row.repetition, (row.last_repetition or row.repetition) + 1)})


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def _check_file(source: Path) -> None:
    if source.is_file():  # the two commonest non-logs get their own words
        if source.stat().st_size == 0:
            raise ParseError(source, None, "a non-empty file")
        with open(source, "rb") as fh:
            if b"\x00" in fh.read(65536):
                raise ParseError(source, None, "a text log or JSON file (found NUL bytes: binary data)")


def _choose_parts(row: ManifestRow) -> tuple[list[tuple[Path, object]], dict]:
    """[(path, parser)] to read for a row, and what was recognised (layout, contents)."""
    source = row.source
    _check_file(source)
    if row.format:
        parser = parsers.get(row.format)
        if not parser.detect(source):
            other = _detect(source)
            if other is not None:
                raise ParseError(
                    source, None, f"content in the '{row.format}' format the manifest names (it looks like '{other.format}')"
                )
        return [(source, parser)], {}  # its parse() names what is wrong (truncated, missing keys, ...)
    if source.is_dir():
        try:
            layout = identify(source)
        except LayoutError as exc:
            raise ParseError(source, None, str(exc)) from None
        if layout is not None:
            if layout.copies and row.copy is None and layout.copies != row.copies:
                raise ParseError(source, None, f"a {layout.kind} holding the manifest's {row.copies} copies, it "
                                               f"holds {layout.copies} ({', '.join(layout.contents[:8])})")
            found = {"layout": layout.kind, "contents": layout.contents}
            return [(part.path, parsers.get(part.format)) for part in layout.parts], found
    parser = _detect(source)
    if parser is None:
        known = sorted(set(parsers.PARSERS) - NOT_AUTODETECTED)
        what = "directory layouts (see docs/log-formats.md) or " if source.is_dir() else ""
        raise ParseError(source, None, f"a file or directory in one of the known {what}formats {known}")
    return [(source, parser)], {}


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


def _run_json(row: ManifestRow, repetition: int, inputs: list[dict], failures: list[dict], manifest: Path,
              manifest_sha: str, host_facts: dict) -> dict:
    ok = bool(inputs)
    return {
        "schema_version": 1,
        "run_id": f"ingest-{row.payload}-{row.mode}-{row.copies}c-r{repetition}" + (f"@{row.host}" if row.at_host else ""),
        "payload": row.payload,
        "mode": row.mode,
        "mode_kind": mode_kind(row.mode),
        "mode_settings": {},
        "copies": row.copies,
        "repetition": repetition,
        "order_index": None,
        "seed": None,
        "status": "ok" if ok else "failed",
        "reason": (
            f"ingested from {manifest.name}; label {row.label!r}"
            if ok
            else "every input of this run was skipped: "
            + "; ".join(f"{where(f['path'], f['line'])}: expected {f['expected']}" for f in failures)
        ),
        "emulated": False,
        "host": {
            "hostname": row.host,
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
        "label": row.label,
        "ingest": {
            "manifest": str(manifest),
            "manifest_sha256": manifest_sha,
            "ingested_utc": _utc_now(),
            "inputs": inputs,
        },
    }


@dataclass
class _Run:
    """What ingest writes into one raw run directory."""

    first_row: ManifestRow
    inputs: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    host_facts: dict = field(default_factory=dict)
    rows: list[ManifestRow] = field(default_factory=list)


def _measured(run_dir: Path) -> bool:
    """A run directory the workflow measured (run.json without ingest's ingest.json)."""
    return (run_dir / "run.json").exists() and not (run_dir / "ingest.json").exists()


def _read_row(row: ManifestRow, manifest: Path, results: Path) -> tuple[list, dict, int]:
    """Parse a row's input as the check: ([(path, parser, records)], recognised, runs in it).
    Raises ParseError (one skipped entry) for an input that cannot be read."""
    if not row.source.exists():
        raise ParseError(manifest, row.line, f"an existing file or directory at {row.source} "
                                             "(the manifest row points nowhere)")
    src, res = row.source.resolve(), results.resolve()
    if src == res or res.is_relative_to(src) or src.is_relative_to(res):
        raise ParseError(manifest, row.line, f"an input outside the results directory {results} (got {row.source})")
    parts, found = _choose_parts(row)
    read = [(path, parser, parser.parse(path)) for path, parser in parts]
    counts = {runs_in_file(records) for _, _, records in read}
    runs = max(counts)
    if len(counts) > 1:
        raise ParseError(row.source, None, f"parts holding the same number of runs, found {sorted(counts)}")
    if row.last_repetition is not None and row.last_repetition - row.repetition + 1 != runs:
        raise ParseError(row.source, None, f"{row.last_repetition - row.repetition + 1} runs for the manifest's "
                                           f"repetitions {row.repetition}-{row.last_repetition}, the input holds {runs}")
    if row.repetition + runs - 1 > MAX_REPETITION:
        raise ParseError(row.source, None, f"repetitions up to {MAX_REPETITION}; its {runs} runs from "
                                           f"{row.repetition} would go beyond")
    return read, found, runs


def ingest(manifest, results, skipped_path=None, reserved: frozenset | set = frozenset()) -> dict:
    """Ingest every usable row of `manifest` into `results`/raw; return the summary written
    to `skipped_path` (default results/ingest/skipped.json). `reserved`: run directories
    (rel_dirs) the study measures itself, never filled by ingest. Never raises for bad input: a
    manifest that cannot be read at all is one skipped entry, and the report goes on."""
    manifest = Path(manifest)
    results = Path(results)
    out = Path(skipped_path) if skipped_path else results / "ingest" / "skipped.json"
    try:
        rows, skipped = read_manifest(manifest)
        manifest_sha = sha256_file(manifest)
    except ParseError as exc:
        summary = {"manifest": str(manifest), "manifest_sha256": None, "ingested": [], "files": [],
                   "skipped": [_error(exc.path, exc.line, exc.expected, manifest=str(manifest))]}
        _write_json(out, summary)
        return summary
    runs: dict[str, _Run] = {}
    claimed: dict[tuple[str, str], int] = {}
    for row in rows:
        try:
            read, found, count = _read_row(row, manifest, results)
        except ParseError as exc:
            failure = dict(_error(exc.path, exc.line, exc.expected), manifest=str(manifest), manifest_line=row.line,
                           label=row.label, input=str(row.source))
            runs.setdefault(row.rel_dir, _Run(row)).failures.append(failure)
            runs[row.rel_dir].rows.append(row)
            continue
        reps = list(range(row.repetition, row.repetition + count))
        taken = next((r for r in reps if row.rel_dir_of(r) in reserved), None)
        if taken is not None:
            skipped.append(_row_error(manifest, row.line, f"a run directory the study does not measure itself: "
                                                          f"{row.rel_dir_of(taken)} is one of its runs",
                                      input=str(row.source)))
            continue
        measured = next((r for r in reps if _measured(results / "raw" / row.rel_dir_of(r))), None)
        if measured is not None:
            skipped.append(_row_error(manifest, row.line, f"a free run directory: {results / 'raw' / row.rel_dir_of(measured)} "
                                                          "holds a measured run that ingest never overwrites",
                                      input=str(row.source)))
            continue
        clash = next(((r, claimed[(row.rel_dir_of(r), row.slot)]) for r in reps[1:]
                      if (row.rel_dir_of(r), row.slot) in claimed), None)
        other = next((runs[row.rel_dir_of(r)].first_row for r in reps if row.rel_dir_of(r) in runs
                      and (runs[row.rel_dir_of(r)].first_row.host, runs[row.rel_dir_of(r)].first_row.label)
                      != (row.host, row.label)), None)
        if other is not None:
            runs_word = "run" if count == 1 else f"{count} runs"
            skipped.append(_row_error(manifest, row.line, f"the host and label of line {other.line} ({other.host!r}, "
                                                          f"{other.label!r}): this row's {runs_word} "
                                                          f"({row.source.name}) fill repetitions that line fills too",
                                      input=str(row.source)))
            continue
        if clash:
            skipped.append(_row_error(manifest, row.line, f"repetitions {reps[0]}-{reps[-1]} for the {count} runs in "
                                                          f"{row.source.name}, but {row.rel_dir_of(clash[0])} "
                                                          f"{row.slot} is given on line {clash[1]}",
                                      input=str(row.source)))
            continue
        for r in reps:
            claimed[(row.rel_dir_of(r), row.slot)] = row.line
        first_dir = row.rel_dir
        for k, r in enumerate(reps, 1):
            run = runs.setdefault(row.rel_dir_of(r), _Run(row))
            run.rows.append(row)
            entry = {"manifest_line": row.line, "label": row.label, "input": str(row.source), "copy": row.copy,
                     "records": sum(len(records) for _, _, records in read), **found}
            if count > 1:
                entry.update({RUN_IN_FILE: k, "runs_in_file": count})
            for path, parser, records in read:
                for record in records:  # inner files an aggregate parser could not read
                    error = record.extra.get("parse_error") if isinstance(record.extra, dict) else None
                    if error and k == 1:
                        skipped.append(dict(error, manifest=str(manifest), manifest_line=row.line, label=row.label,
                                            partial=True))
                run.host_facts = run.host_facts or _host_from_records(records)
            run.inputs.append((entry, read, first_dir))
    files: list[dict] = []
    ingested = []
    copies: dict[int, list[dict] | OSError] = {}  # manifest line -> what copying its input gave (once per row)
    for rel_dir, run in sorted(runs.items()):
        run_dir = results / "raw" / rel_dir
        if _measured(run_dir):  # a row whose every input failed, aimed at a measured run
            for row in run.rows:
                skipped.append(_row_error(manifest, row.line, f"a free run directory: {run_dir} holds a measured "
                                                              "run that ingest never overwrites", input=str(row.source)))
            continue
        inputs = []
        for entry, read, first_dir in run.inputs:
            row = next(r for r in run.rows if r.line == entry["manifest_line"])
            if row.line not in copies:
                try:
                    copies[row.line] = _copy_input(row, results / "raw" / first_dir)
                except OSError as exc:
                    copies[row.line] = exc
            copied = copies[row.line]
            if isinstance(copied, OSError):
                run.failures.append(_error(row.source, None, f"a readable input that can be copied ({copied})",
                                           manifest=str(manifest), manifest_line=row.line, label=row.label))
                continue
            prefix = "" if first_dir == rel_dir else os.path.relpath(results / "raw" / first_dir, run_dir) + "/"
            parts = [{"dest": prefix + str(Path(row.slot) / Path(p).relative_to(row.source.parent)),
                      "format": parser.format} for p, parser, _ in read]
            inputs.append(dict(entry, format=parts[0]["format"], dest=prefix + str(Path(row.slot) / row.source.name),
                               parts=parts, files=[dict(f, path=prefix + f["path"]) for f in copied]))
            if first_dir == rel_dir:
                files += [dict(f, run=rel_dir, manifest_line=row.line, label=row.label) for f in copied]
        skipped.extend(f for f in run.failures)
        run_dir.mkdir(parents=True, exist_ok=True)
        repetition = int(rel_dir.rsplit("/r", 1)[1].split("@", 1)[0])
        record = _run_json(run.first_row, repetition, inputs, run.failures, manifest, manifest_sha, run.host_facts)
        provenance = {
            "ingested": True,
            "manifest": str(manifest),
            "manifest_sha256": manifest_sha,
            "host": run.first_row.host,
            "label": run.first_row.label,
            "rel_dir": rel_dir,
            "inputs": inputs,
        }
        check_ingested_run(record)
        _write_json(run_dir / "ingest.json", provenance)
        _write_json(run_dir / "run.json", record)
        ingested.append({"rel_dir": rel_dir, "status": record["status"], "inputs": len(inputs)})
    summary = {"manifest": str(manifest), "manifest_sha256": manifest_sha, "ingested": ingested,
               "files": files, "skipped": skipped}
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
