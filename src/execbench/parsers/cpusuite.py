"""execbench's open CPU suite log `cpusuite.log` (written by inimage/cpusuite.py), one per copy.

Shape (SPEC CPU2006 ASCII-report-like; columns split on whitespace):

    execbench cpusuite 1 size=smoke copy=0 iterations=1 suite=2 started=2026-...
    # comment lines
    Benchmark        Lang  Iter    Ref(s)    Run(s)     Ratio    CPU(s)  Status
    -----------------------------------------------------------------------------
    400.perl         C        1     1.300     1.290    1.0078     1.280  S      <- one per iteration
    ! 401.bzip2 iteration 1: VE: output sha256 ... differs from the recorded answer ...  <- why it failed
    =============================================================================
    400.perl         C        *     1.300     1.290    1.0078     1.280  S      <- selected iteration
    Score (geometric mean of 9 ratios): 1.0234      (or: --)
    Status: valid                                     (or: invalid)
    ended=2026-...

Status codes as SPEC's: S = valid, VE = wrong output, RE = run-time error; plus IE = an input
file failed its recorded hash. Records: per benchmark `ratio` (ratio) and `run_time` (s) from
the selected row, failed with value None unless S; `cpusuite`/`score` = the geometric mean,
invalid (None) unless every benchmark is S.
Several logs concatenated in one file give one run each (one per header line).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import guarded_detect, guarded_parse, parse_runs, peek_text, read_text, try_number

HEADER_RE = re.compile(r"^execbench cpusuite (\d+) (.*)$")
SCORE_RE = re.compile(r"^Score \(geometric mean of (\d+) ratios\): (\S+)$")
STATUS_RE = re.compile(r"^Status: (valid|invalid)$")
FAILURE_RE = re.compile(r"^! (\S+) iteration (\d+): (\w+): (.*)$")
ROW_FIELDS = 8  # name lang iter ref run ratio cpu status


def _printed_quantum(text: str) -> float | None:
    """The step of a number as printed ("0.231" -> 0.001), None if it is not a decimal number."""
    if try_number(text) is None:
        return None
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return 10.0 ** -decimals


class CpuSuiteParser(Parser):
    format = "cpusuite"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        if path.is_dir():
            path = path / "cpusuite.log"
        return HEADER_RE.match(peek_text(path, 200).split("\n", 1)[0]) is not None

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        if path.is_dir():
            path = path / "cpusuite.log"
        lines = read_text(path).splitlines()
        # a file holding several logs one after the other: one run per header line
        starts = [i for i, line in enumerate(lines) if HEADER_RE.match(line)]
        if len(starts) > 1:
            return parse_runs(path, lines, starts, lambda p, text: self.parse_one(p, text.splitlines()))
        return self.parse_one(path, lines)

    def parse_one(self, path: Path, lines: list[str]) -> list[Record]:
        header = HEADER_RE.match(lines[0])
        if not header:
            raise ParseError(path, 1, "the header 'execbench cpusuite <version> size=... copy=...'")
        if header.group(1) != "1":
            raise ParseError(path, 1, f"cpusuite log format version 1, got {header.group(1)}")
        meta = dict(kv.split("=", 1) for kv in header.group(2).split() if "=" in kv)
        copy = int(meta["copy"]) if meta.get("copy", "").isdigit() else None
        size = meta.get("size", "")
        try:
            rule = next(i for i, line in enumerate(lines) if line.startswith("====="))
        except StopIteration:
            raise ParseError(path, None, "a rule of '=' before the selected results") from None

        reasons: dict[str, str] = {}
        for line in lines[:rule]:
            failure = FAILURE_RE.match(line)
            if failure:
                reasons.setdefault(failure.group(1), f"{failure.group(3)}: {failure.group(4)}")

        records: list[Record] = []
        score_seen = status_seen = None
        source = str(path)
        for number, line in enumerate(lines[rule + 1:], start=rule + 2):
            score = SCORE_RE.match(line)
            status = STATUS_RE.match(line)
            if score:
                score_seen = (number, score.group(2), int(score.group(1)))
                continue
            if status:
                status_seen = status.group(1)
                continue
            if not line.strip() or line.startswith("ended="):
                continue
            fields = line.split()
            if len(fields) != ROW_FIELDS or fields[2] != "*":
                raise ParseError(path, number, "a selected row '<benchmark> <lang> * <ref> <run> <ratio> <cpu> <status>'")
            name, lang, _, ref, run, ratio, cpu, code = fields
            extra = {"language": lang, "size": size, "reference_s": try_number(ref), "cpu_s": try_number(cpu),
                     "spec_status": code,
                     # the run time's step as logged: perf_counter's ns, printed to this many decimals
                     "time_quantum_s": _printed_quantum(run)}
            ok = code == "S"
            if ok and (try_number(ratio) is None or try_number(run) is None):
                raise ParseError(path, number, f"numeric run time and ratio for valid benchmark {name}")
            detail = "" if ok else reasons.get(name, f"status {code}")
            common = dict(source_file=source, source_line=number, copy=copy, extra=extra,
                          status="ok" if ok else "failed", detail=detail)
            records.append(Record(benchmark=name, metric="ratio", value=try_number(ratio) if ok else None,
                                  unit="ratio", higher_is_better=True, **common))
            records.append(Record(benchmark=name, metric="run_time", value=try_number(run) if ok else None,
                                  unit="s", higher_is_better=False, **common))

        if score_seen is None or status_seen is None:
            raise ParseError(path, len(lines), "the 'Score (geometric mean of N ratios): X' and 'Status:' lines")
        line_no, score_text, count = score_seen
        benchmarks = len(records) // 2
        if count != benchmarks:
            raise ParseError(path, line_no, f"a score over the {benchmarks} selected rows, got {count}")
        valid = status_seen == "valid" and all(r.status == "ok" for r in records)
        value = try_number(score_text)
        if valid and value is None:
            raise ParseError(path, line_no, "a numeric score for a valid run")
        failed = sorted({r.benchmark for r in records if r.status != "ok"})
        records.append(Record(benchmark="cpusuite", metric="score", value=value if valid else None, unit="score",
                              higher_is_better=True, source_file=source, source_line=line_no, copy=copy,
                              status="ok" if valid else "invalid",
                              detail="" if valid else f"not valid: {', '.join(failed) or 'status invalid'}",
                              extra={"size": size, "benchmarks": benchmarks}))
        return records


PARSER = CpuSuiteParser()
