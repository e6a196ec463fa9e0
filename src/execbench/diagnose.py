"""Why a run gave no number, in the payload's own words rather than the launcher's exit code.

A failed run's run.json says what the harness saw ("copy 0: exit code 1"); the payload's native
log says why (`! 464.x264 iteration 1: VE: output sha256 c11d... != expected 8192...`). This reads
the logs a run left with the same parser a good run goes through (payload.parse, or the ingested
format's parser), and takes every per-copy record that is not ok: its benchmark, the status code
where the log format has one, and the file and line that say so. Where the logs cannot say (the
copy left no log, a log cut short, or every record is fine although the copy failed), the copy's
own launcher record (copy<i>/launch.json: timed out) and the last line the payload wrote to its
stderr (copy<i>/stderr.log) do. Raw files are only read.

Status codes are SPEC CPU's (runspec's result tables: S valid, VE the output failed
verification, RE run-time error, CE compile error, NR not run), used by the cpusuite and HS06
logs, plus execbench's own IE (an input file differs from its recorded sha256, inimage/cpusuite.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import ExecbenchError, ParseError

STATUS_MEANING = {
    "VE": "output differs from the recorded answer",
    "RE": "run-time error",
    "CE": "build failed",
    "NR": "not run",
    "IE": "an input file differs from its recorded hash",
}
STDERR_TAIL_BYTES = 64 * 1024
STDERR_WHOLE_BYTES = 16 * 1024 * 1024
MAX_REASON_CHARS = 300


def _status_code(record: dict) -> str | None:
    extra = record.get("extra") or {}
    code = extra.get("spec_status")
    if code in STATUS_MEANING:
        return code
    return next((c for c in extra.get("spec_statuses") or [] if c in STATUS_MEANING), None)


def _what(record: dict) -> str:
    """What went wrong, without the benchmark: 'VE: output differs ...' or the parser's detail."""
    code = _status_code(record)
    if code:
        return f"{code}: {STATUS_MEANING[code]}"
    return str(record.get("detail") or record.get("status", "not ok"))


def record_reason(record: dict) -> str:
    """One short sentence for a not-ok record: '464.x264 VE: output differs from the recorded
    answer', or '<benchmark>: <the parser's detail>'."""
    code = _status_code(record)
    return _short(f"{record['benchmark']}{' ' if code else ': '}{_what(record)}")


def _benchmarks(names: list[str], shown: int = 4) -> str:
    names = list(dict.fromkeys(names))
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def copy_reason(copy_dir: Path) -> dict | None:
    """Why one copy failed, from its launch.json and the tail of its stderr.log; None if it did not."""
    launch_file, stderr_file = copy_dir / "launch.json", copy_dir / "stderr.log"
    try:
        launch = json.loads(launch_file.read_text())
    except (OSError, ValueError):
        launch = None
    if launch and launch.get("timed_out"):
        return {"reason": f"timed out: killed after {launch.get('wall_s', 0):.1f} s, the payload's timeout_s",
                "detail": "killed by the launcher", "source_file": str(launch_file), "source_line": None}
    line_no, last = _last_line(stderr_file)
    exit_code = launch.get("exit_code") if launch else None
    if last:
        return {"reason": _short(last), "detail": f"last line of the copy's stderr (exit code {exit_code})",
                "source_file": str(stderr_file), "source_line": line_no}
    if launch is None:
        return {"reason": "the copy did not start (no launch.json)", "detail": "", "source_file": str(copy_dir),
                "source_line": None}
    if exit_code not in (0, None):
        return {"reason": f"exit code {exit_code}, nothing on stderr", "detail": "",
                "source_file": str(launch_file), "source_line": None}
    return None


def _last_line(path: Path) -> tuple[int | None, str]:
    """(line number, text) of the last non-blank line of a log; a log larger than 16 MiB is read
    from its last 64 KiB only, and its line number is then None."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            if size > STDERR_WHOLE_BYTES:
                fh.seek(size - STDERR_TAIL_BYTES)
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return None, ""
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].strip():
            return (None if size > STDERR_WHOLE_BYTES else index + 1), lines[index].strip()
    return None, ""


def _failed_copies(run: dict, run_dir: Path) -> list[int]:
    results = run.get("copies_result") or []
    bad = [r["copy"] for r in results if r.get("exit_code") != 0 or r.get("timed_out")]
    if results:
        return bad
    return sorted(int(p.name[4:]) for p in run_dir.glob("copy*") if p.name[4:].isdigit())


def _merge(reasons: Iterable[tuple[int | None, dict]]) -> list[dict]:
    """One entry per distinct reason, with the copies that gave it (first source kept)."""
    merged: dict[str, dict] = {}
    for copy, reason in reasons:
        entry = merged.setdefault(reason["reason"], {**reason, "copies": []})
        if copy is not None and copy not in entry["copies"]:
            entry["copies"].append(copy)
    return list(merged.values())


def reasons_from_records(records: list[dict], payload: str) -> list[dict]:
    """Reasons from a run's not-ok records: per-copy records of single benchmarks first (the
    machine sums and the payload's own score only repeat them), else whatever is not ok."""
    bad = [r for r in records if r.get("status", "ok") != "ok"]
    own = {payload.lower()}
    for pick in (lambda r: r.get("copy") is not None and r["benchmark"].lower() not in own,
                 lambda r: r.get("copy") is not None, lambda r: True):
        chosen = [r for r in bad if pick(r)]
        if chosen:
            break
    else:
        return []
    # one reason per thing that went wrong, naming every benchmark it hit (STREAM's four kernels
    # failing one validation are one reason, not four)
    by_what: dict[str, list[dict]] = {}
    for record in chosen:
        by_what.setdefault(_what(record), []).append(record)
    out = []
    for what, records in by_what.items():
        first = records[0]
        names = _benchmarks([r["benchmark"] for r in records])
        code = _status_code(first)
        reason = {"reason": _short(f"{names}{' ' if code else ': '}{what}"), "detail": _short(first.get("detail", "")),
                  "source_file": first.get("source_file", ""), "source_line": first.get("source_line")}
        out += _merge((r.get("copy"), reason) for r in records)
    return out


def log_reasons(run: dict, run_dir: Path, parse: Callable[[], list]) -> list[dict]:
    """Why a failed run gave no number: [{reason, detail, source_file, source_line, copies}].

    `parse` returns the run's records (payload.parse(run_dir)) or raises ParseError. Records whose
    log file does not exist stand for a copy that left no log: its launcher record and stderr
    speak instead. Returns [] for a run that is not failed."""
    if run.get("status") != "failed":
        return []
    run_dir = Path(run_dir)
    records: list[dict] = []
    try:
        records = [r.to_dict() if hasattr(r, "to_dict") else r for r in parse()]
    except (ParseError, ExecbenchError, KeyError, ValueError, OSError):
        records = []  # a log cut short: the copy's own record says why below
    with_log = [r for r in records if r.get("source_file") and Path(r["source_file"]).exists()]
    if any(r.get("copy") is not None for r in records):
        # machine-level sums only repeat why a copy failed ("sum over 2 copies not available: ...")
        with_log = [r for r in with_log if r.get("copy") is not None]
    found = reasons_from_records(with_log, run.get("payload", ""))
    explained = {c for entry in found for c in entry["copies"]}
    extra = []
    for copy in _failed_copies(run, run_dir):
        if copy in explained:
            continue
        reason = copy_reason(run_dir / f"copy{copy}")
        if reason:
            extra.append((copy, reason))
    found += _merge(extra)
    if not found and run.get("reason"):
        harness = run_dir / "harness-error.log"
        found = [{"reason": _short(run["reason"]), "detail": "recorded by the harness (run.json)",
                  "source_file": str(harness if harness.exists() else run_dir / "run.json"),
                  "source_line": None, "copies": []}]
    return found
