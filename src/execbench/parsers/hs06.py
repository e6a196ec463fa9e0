"""HEP-SPEC06: a SPEC CPU2006 result directory holding one result set per parallel copy.

HS06 (https://w3.hepix.org/benchmarking/how_to_run_hs06.html) runs one independent SPEC CPU2006
*speed* run of the `all_cpp` set per logical CPU, all at once. Each run leaves one result set
`CINT2006.NNN.*` + `CFP2006.NNN.*` (plus `CPU2006.NNN.log`); the build step leaves a log only.

- per-copy score = geometric mean of the 7 C++ benchmarks' selected ratios;
- machine score = sum of the per-copy scores (what HEPiX publishes, truncated to 2 decimals).

Strict mode (format `hs06`, the default): a copy with any of the 7 benchmarks missing, NR, or
with a non-S iteration is incomplete; the machine score is then `invalid` with value None and
the list of failures in `detail`. Nothing is averaged over fewer benchmarks.

Legacy mode (format `hs06-legacy`) reproduces what the classic HEPiX wrapper `runspec.sh`
(A. Iribarren, rev 2.23 with M. Alef's v1.2 changes) prints as "Final result": for every
CPU2006.NNN.log it greps the selected-table rows `NNN.name <int> <int> <ratio> *` out of
`*.NNN.*txt`, takes `e(sum(l(ratio))/count)` in `bc -l` at scale=8 over whatever matched
(silently fewer than 7 when a benchmark failed, or when a run time is under 100 s and so
printed with decimals), and truncates the sum to 2 decimals. Its records say so in `detail`.

The method used for the ratios is named in each record's `extra["method"]`: `printed` (the txt
report's 3-significant-digit ratios, as HEPiX does; falls back to rsf/csv when a copy has no
txt) or `full-precision` (rsf/csv ratios; falls back to txt).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import geomean, guarded_detect, guarded_parse, read_text, unparsable_file_record
from .spec_cpu2006 import LOG_NAME_RE, RESULT_NAME_RE, SpecResult, read_result

ALL_CPP = (
    "444.namd",
    "447.dealII",
    "450.soplex",
    "453.povray",  # CFP2006
    "471.omnetpp",
    "473.astar",
    "483.xalancbmk",
)  # CINT2006
FORMAT_PREFERENCE = {"printed": ("txt", "rsf", "csv"), "full-precision": ("rsf", "csv", "txt")}


@dataclass
class ResultSet:
    run_number: str
    files: dict[tuple[str, str], Path] = field(default_factory=dict)  # (suite, fmt) -> file
    log: Path | None = None


def find_result_sets(path: Path) -> tuple[dict[str, ResultSet], dict[str, Path]]:
    """Result sets by run number, and all run logs, in `path` and one level below it.

    The same result file found in two places is "a copy present twice": a ParseError,
    because summing both would count that copy twice."""
    dirs = [path] + sorted(p for p in path.iterdir() if p.is_dir())
    sets: dict[str, ResultSet] = {}
    logs: dict[str, Path] = {}
    for directory in dirs:
        for file in sorted(directory.iterdir()):
            if not file.is_file():
                continue
            m = RESULT_NAME_RE.match(file.name)
            if m:
                suite, nnn, fmt = m.groups()
                rs = sets.setdefault(nnn, ResultSet(nnn))
                if (suite, fmt) in rs.files:
                    raise ParseError(
                        file,
                        None,
                        f"each result set once: {suite}.{nnn} {fmt} is also "
                        f"at {rs.files[(suite, fmt)]} (a copy present twice)",
                    )
                rs.files[(suite, fmt)] = file
                continue
            m = LOG_NAME_RE.match(file.name)
            if m:
                if m.group(1) in logs:
                    raise ParseError(file, None, f"each run log once: also at {logs[m.group(1)]}")
                logs[m.group(1)] = file
    for nnn, rs in sets.items():
        rs.log = logs.get(nnn)
    return sets, logs


def truncate(value: float | Decimal, places: int) -> Decimal:
    """bc-style truncation toward zero (what `scale=N` does), not rounding."""
    quantum = Decimal(1).scaleb(-places)
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(quantum, rounding=ROUND_DOWN)


@dataclass
class CopyScore:
    copy: int
    run_number: str
    ratios: dict[str, float]  # benchmark -> selected ratio (ok ones only)
    failures: list[str]  # human-readable, with file:line
    records: list[Record]
    bits: set[int]
    kinds: set[str]
    sources: list[str]


class Hs06Parser(Parser):
    format = "hs06"

    def __init__(self, legacy: bool = False, method: str = "printed"):
        if method not in FORMAT_PREFERENCE:
            raise ValueError(f"method must be one of {sorted(FORMAT_PREFERENCE)}")
        self.legacy = legacy
        self.method = method
        self.format = "hs06-legacy" if legacy else ("hs06" if method == "printed" else f"hs06-{method}")

    @guarded_detect
    def detect(self, path: Path) -> bool:
        if not path.is_dir():
            return False
        sets, _ = find_result_sets(path)
        if not sets:
            return False
        # A SPEC directory is HS06 when its runs are speed runs of the all_cpp set (or part of it).
        for rs in sets.values():
            for (suite, fmt), file in sorted(rs.files.items()):
                try:
                    result = read_result(file)
                except ParseError:
                    continue
                names = set(result.benchmarks)
                return bool(names) and names <= set(ALL_CPP) and result.kind == "speed"
        return False

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        if not path.is_dir():
            raise ParseError(path, None, "a directory holding SPEC CPU2006 result sets (CINT2006.NNN.*, CFP2006.NNN.*)")
        sets, logs = find_result_sets(path)
        if self.legacy:
            return self._legacy(path, sets, logs)
        if not sets:
            raise ParseError(path, None, "at least one CINT2006.NNN / CFP2006.NNN result set (.txt, .rsf or .csv)")
        copies = [self._copy_score(i, sets[nnn]) for i, nnn in enumerate(sorted(sets))]
        return self._strict_records(path, copies)

    # ------------------------------------------------------------------ strict
    def _copy_score(self, copy: int, rs: ResultSet) -> CopyScore:
        ratios: dict[str, float] = {}
        failures: list[str] = []
        records: list[Record] = []
        bits: set[int] = set()
        kinds: set[str] = set()
        sources: list[str] = []
        seen: dict[str, tuple] = {}
        for suite in ("CFP2006", "CINT2006"):
            files = [rs.files[(suite, fmt)] for fmt in FORMAT_PREFERENCE[self.method] if (suite, fmt) in rs.files]
            if not files:
                continue
            file = files[0]
            sources.append(str(file))
            try:
                result: SpecResult = read_result(file)
            except ParseError as exc:
                failures.append(f"{suite}.{rs.run_number}: unreadable ({exc})")
                records.append(unparsable_file_record(f"{suite}.{rs.run_number}", "result_file", file, exc, copy))
                continue
            kinds.add(result.kind)
            if result.bits:
                bits.add(result.bits)
            for name, bench in result.benchmarks.items():
                seen[name] = (bench, result)
        if rs.log is not None and not bits:
            try:
                text = read_text(rs.log)
            except ParseError:
                text = ""
            if "-m32" in text or re.search(r"\bx32_|linux32", text):
                bits.add(32)
            elif "LP64" in text or re.search(r"linux64|x64_", text):
                bits.add(64)
        for name in ALL_CPP:
            if name not in seen:
                failures.append(f"{name}: missing (no result in run {rs.run_number})")
                records.append(
                    Record(
                        name,
                        "ratio",
                        None,
                        "ratio",
                        True,
                        sources[0] if sources else str(rs.log or ""),
                        copy=copy,
                        status="failed",
                        detail=f"no result for {name} in run {rs.run_number}",
                        extra={"run_number": rs.run_number, "method": self.method},
                    )
                )
                continue
            bench, result = seen[name]
            line = bench.chosen.line if bench.chosen else (bench.iterations[0].line if bench.iterations else None)
            if bench.status != "ok":
                failures.append(f"{name}: {bench.detail} ({result.path.name}:{line})")
            else:
                ratios[name] = bench.value
            records.append(
                Record(
                    name,
                    "ratio",
                    bench.value if bench.status != "failed" else None,
                    "ratio",
                    True,
                    str(result.path),
                    copy=copy,
                    status=bench.status,
                    source_line=line,
                    detail=bench.detail,
                    extra={
                        "run_number": rs.run_number,
                        "method": self.method,
                        "file_format": result.file_format,
                        "spec_statuses": [it.status for it in bench.iterations],
                        "selected_by": bench.selected_by,
                    },
                )
            )
        if "rate" in kinds:
            failures.append("rate run: HS06 is defined on parallel speed runs")
        return CopyScore(copy, rs.run_number, ratios, failures, records, bits, kinds, sources)

    def _strict_records(self, path: Path, copies: list[CopyScore]) -> list[Record]:
        src = str(path)
        records: list[Record] = []
        bits = set().union(*(c.bits for c in copies))
        common = {"method": self.method, "copies": len(copies)}
        if len(bits) == 1:
            common["bits"] = bits.pop()
        elif bits:
            common["bits_conflict"] = sorted(bits)
        scores: list[float] = []
        failures: list[str] = []
        for c in copies:
            records.extend(c.records)
            complete = not c.failures and len(c.ratios) == len(ALL_CPP)
            score = geomean(c.ratios.values()) if complete else None
            if complete:
                scores.append(score)
            else:
                failures.extend(f"copy {c.copy} (run {c.run_number}): {f}" for f in c.failures)
            records.append(
                Record(
                    "HS06",
                    "score",
                    score,
                    "HS06",
                    True,
                    c.sources[0] if c.sources else src,
                    copy=c.copy,
                    status="ok" if complete else "invalid",
                    detail="" if complete else "incomplete copy: " + "; ".join(c.failures),
                    extra=dict(common, run_number=c.run_number, bits=sorted(c.bits), benchmarks=len(c.ratios)),
                )
            )
        # machine-level per-benchmark sums: only when every copy has a valid ratio
        for name in ALL_CPP:
            values = [c.ratios.get(name) for c in copies]
            ok = all(v is not None for v in values)
            records.append(
                Record(
                    name,
                    "ratio",
                    math.fsum(values) if ok else None,
                    "ratio",
                    True,
                    src,
                    status="ok" if ok else "invalid",
                    detail=(
                        ""
                        if ok
                        else f"missing or failed in copies {[c.copy for c, v in zip(copies, values) if v is None]}"
                    ),
                    extra=dict(common, aggregate="sum over copies"),
                )
            )
        all_ok = not failures and len(scores) == len(copies)
        if "bits_conflict" in common:
            all_ok = False
            failures.append(f"copies disagree on 32/64-bit: {common['bits_conflict']}")
        total = math.fsum(scores) if all_ok else None
        legacy_total = None
        try:
            legacy, per_run = self._legacy_sum(path)
            legacy_total = float(legacy) if per_run else None
        except Exception:  # the legacy figure is informative only
            pass
        records.append(
            Record(
                "HS06",
                "score",
                total,
                "HS06",
                True,
                src,
                status="ok" if all_ok else "invalid",
                detail="" if all_ok else "machine score invalid: " + "; ".join(failures),
                extra=dict(
                    common,
                    aggregate="sum over copies of per-copy geometric means",
                    hepix_truncated=float(truncate(total, 2)) if total is not None else None,
                    legacy_hepix_result=legacy_total,
                    failures=failures,
                ),
            )
        )
        return records

    # ------------------------------------------------------------------ legacy
    _LEGACY_ROW = re.compile(r"\d{3}\.\w+\s+\d+\s+\d+\s+([0-9.]+)\s+\*")

    def _legacy_values(self, path: Path, run: str) -> list[tuple[str, int, str]]:
        """What the wrapper's sed prints for run `run`: (file, line, ratio text)."""
        files = sorted(
            p
            for d in [path] + sorted(x for x in path.iterdir() if x.is_dir())
            for p in d.iterdir()
            if p.is_file() and re.fullmatch(rf".*\.{run}\..*txt", p.name)
        )
        values = []
        for file in files:
            try:
                lines = read_text(file).splitlines()
            except ParseError:
                continue  # `2>/dev/null`: the wrapper skips unreadable files silently
            inside = False
            for lineno, line in enumerate(lines, 1):
                if not inside:
                    inside = bool(re.fullmatch(r"=+", line))
                    if not inside:
                        continue
                m = self._LEGACY_ROW.search(line)
                if m:
                    values.append((str(file), lineno, m.group(1)))
                if line.startswith(" Est. SPEC"):
                    inside = False
        return values

    def _legacy_sum(self, path: Path):
        _, logs = find_result_sets(path)
        per_run = []
        for run in sorted(logs):
            values = self._legacy_values(path, run)
            if not values:
                continue  # "if the above sed read something..."
            partial = sum(truncate(Decimal(math.log(float(v))), 8) for _, _, v in values)
            mean_log = (partial / len(values)).quantize(Decimal("1e-8"), rounding=ROUND_DOWN)
            per_run.append((run, truncate(Decimal(math.exp(float(mean_log))), 8), values))
        total = truncate(sum((score for _, score, _ in per_run), Decimal(0)), 2)
        return total, per_run

    def _legacy(self, path: Path, sets, logs) -> list[Record]:
        if not logs:
            raise ParseError(path, None, "CPU2006.NNN.log run logs (the HEPiX wrapper takes its run list from them)")
        total, per_run = self._legacy_sum(path)
        note = (
            "legacy HEPiX runspec.sh arithmetic: geometric mean over the benchmarks the wrapper's sed "
            "matched (may be fewer than 7 without warning), bc scale=8, sum truncated to 2 decimals"
        )
        records = []
        for copy, (run, score, values) in enumerate(per_run):
            short = len(values) != len(ALL_CPP)
            records.append(
                Record(
                    "HS06",
                    "score_legacy",
                    float(score),
                    "HS06",
                    True,
                    values[0][0],
                    copy=copy,
                    source_line=values[0][1],
                    detail=note
                    + (f"; run {run}: only {len(values)} of {len(ALL_CPP)} benchmarks matched" if short else ""),
                    extra={
                        "run_number": run,
                        "benchmarks_matched": len(values),
                        "mode": "legacy",
                        "ratios": [v for _, _, v in values],
                    },
                )
            )
        matched = bool(per_run)
        records.append(
            Record(
                "HS06",
                "score_legacy",
                float(total) if matched else None,
                "HS06",
                True,
                str(path),
                copy=None,
                status="ok" if matched else "failed",
                detail=(
                    note
                    if matched
                    else "the wrapper's sed matched no result row in any *.NNN.*txt: it would "
                    "print 'Final result: 0' (no .txt reports, or none with '*' rows)"
                ),
                extra={
                    "mode": "legacy",
                    "copies": len(per_run),
                    "runs": [r for r, _, _ in per_run],
                    "final_result": str(total),
                },
            )
        )
        return records


PARSER = Hs06Parser()
FULL_PRECISION_PARSER = Hs06Parser(method="full-precision")
LEGACY_PARSER = Hs06Parser(legacy=True)
