"""SPEC CPU2006 result files: raw `.rsf`, ASCII `.txt`, `.csv`, and the `CPU2006.NNN.log` run log.

Formats as written by the CPU2006 v1.x tools (see shared/research/log-formats.md §1):
- `.txt`: optional INVALID RUN banner of `#` lines, a `SPEC(R) CFP2006 Summary` header, an
  optional `Estimated` line, the heading (`Ref.`/`Ratio` for speed, `Copies`/`Rate` for rate),
  a dashed rule, one row per iteration, a rule of `=`, one row per benchmark (the selected
  iteration), then the mean lines. Numbers are 3 significant digits with column alignment that
  varies, so rows are split on whitespace, never cut at fixed columns.
- `.rsf`: `key: value` lines; per iteration `spec.cpu2006.results.<NNN_name>.base.<III>.<field>`.
- `.csv`: `valid,N`, the "Full Results Table" and "Selected Results Table", then the means.
- `CPU2006.NNN.log`: the harness log; used for statuses, run times and flags, not as the
  score source (the SPEC tools themselves take scores from the raw results).

The reported value of a benchmark is its selected iteration: the one the file marks (`*` in
txt, `selected: 1` in rsf, `Base Selected` 1 in csv); when the file does not say, the median
of the valid iterations, the lower of the two middle ones for an even count (SPEC's rule).
Every iteration keeps its status code (S, VE, RE, CE, TE, ...). A benchmark with any non-S
iteration is flagged `invalid`; one with no valid iteration is `failed` with value None.
Statuses as the CPU2006 tools write them (snake0/spec-int-2006: bin/benchmark.pm,
bin/formats/asc.pl, raw.pl), in speed and rate runs alike: VE/RE rows print their run time and
no ratio; a CE result (`compile_error_result`) has run time and ratio `--`, iteration -1 and
copies 1 even in a rate run (so copies are read from valid rows only) and its build error as
`errorsNNN` in the rsf (kept in `detail`); benchmarks without a selected result are NR. A
successful iteration with a non-positive run time or ratio is a ParseError (issue 13 R14).
Several results concatenated in one file (txt, csv, rsf, log) give one run each.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import (
    guarded_detect,
    guarded_parse,
    lower_median_index,
    parse_runs,
    peek_text,
    read_text,
    try_number,
)

SUITES = ("CINT2006", "CFP2006")
BENCH_RE = re.compile(r"^\d{3}\.\w+$")
RESULT_NAME_RE = re.compile(r"^(CINT2006|CFP2006)\.(\d{3})\.(?:ref|train|test)\.(txt|rsf|csv)$")
LOG_NAME_RE = re.compile(r"^CPU2006\.(\d{3})\.log$")
TXT_HEADER_RE = re.compile(r"SPEC(?:\(R\))?\s+(CINT2006|CFP2006)\s+Summary")
MEAN_RE = re.compile(r"^\s*(Est\.\s+)?SPEC(int|fp)(?:\(R\))?_(rate_)?base2006\s+(\S+(?:\s+Run)?)")
RSF_LINE_RE = re.compile(r"^([^\s:#][^\s:]*):\s?(.*)$")
RSF_KEY_RE = re.compile(r"[^\s:#][^\s:]*\Z")
RSF_RESULT_PREFIX = "spec.cpu2006.results."
LOG_START_RE = re.compile(r"^runspec v\d+ started at ")

VALID = "S"


@dataclass
class Iteration:
    benchmark: str
    iteration: int  # 1-based, in the order the tools ran them
    status: str  # "S" or the SPEC error code (VE, RE, CE, TE, R?, ...)
    ratio: float | None  # speed: ratio; rate: rate (copies x ref / time)
    run_time: float | None
    selected: bool | None  # None: the file does not say
    line: int | None
    errors: list[str] = field(default_factory=list)  # the harness's error text for a non-S iteration (rsf)


@dataclass
class BenchmarkResult:
    benchmark: str
    iterations: list[Iteration]
    status: str  # ok | invalid | failed (record statuses)
    value: float | None
    chosen: Iteration | None
    selected_by: str  # "file" | "median" | "none"
    detail: str = ""


@dataclass
class SpecResult:
    path: Path
    file_format: str  # txt | rsf | csv
    suite: str  # CINT2006 | CFP2006
    kind: str  # speed | rate
    copies: int | None
    run_number: str | None
    estimated: bool  # "Estimated"/"Est." or invalid=1: not a reportable run
    invalid_reasons: list[str]
    bits: int | None  # 32 or 64 when the file says so
    base_mean: float | None
    base_mean_text: str
    base_mean_line: int | None
    benchmarks: dict[str, BenchmarkResult] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)

    @property
    def unit(self) -> str:
        return "rate" if self.kind == "rate" else "ratio"

    @property
    def mean_name(self) -> str:
        family = "int" if self.suite == "CINT2006" else "fp"
        return f"SPEC{family}_{'rate_' if self.kind == 'rate' else ''}base2006"


def resolve_benchmark(name: str, iterations: list[Iteration]) -> BenchmarkResult:
    """Pick the reported iteration and the benchmark's status (see module docstring)."""
    valid = [it for it in iterations if it.status == VALID and it.ratio is not None]
    bad = [it for it in iterations if it.status != VALID]
    chosen, selected_by = None, "none"
    marked = [it for it in valid if it.selected]
    if marked:
        chosen, selected_by = marked[0], "file"
    elif valid:
        chosen = valid[lower_median_index([it.ratio for it in valid])]
        selected_by = "median"
    bad_text = ", ".join(f"iteration {it.iteration}: {it.status}" + (f" ({'; '.join(it.errors)})" if it.errors else "")
                         for it in bad)
    if not valid:
        return BenchmarkResult(
            name, iterations, "failed", None, None, "none", f"no valid iteration ({bad_text or 'no result'})"
        )
    if bad:
        return BenchmarkResult(
            name, iterations, "invalid", chosen.ratio, chosen, selected_by, f"non-S iterations: {bad_text}"
        )
    return BenchmarkResult(name, iterations, "ok", chosen.ratio, chosen, selected_by)


def _group(path: Path, iterations: list[Iteration]) -> dict[str, BenchmarkResult]:
    by_bench: dict[str, list[Iteration]] = {}
    for it in iterations:
        by_bench.setdefault(it.benchmark, []).append(it)
    return {name: resolve_benchmark(name, its) for name, its in by_bench.items()}


def _run_number_from_name(path: Path) -> str | None:
    m = RESULT_NAME_RE.match(path.name)
    return m.group(2) if m else None


def _bits_from_text(text: str) -> int | None:
    m = re.search(r"Base Pointers\W+(32|64)-bit", text)
    if m:
        return int(m.group(1))
    if "-m32" in text:
        return 32
    if "-m64" in text or "SPEC_CPU_LP64" in text:
        return 64
    return None


# --------------------------------------------------------------------------- txt
def _num(token: str) -> float | None:
    """A finite number or None (inline-cheap version of try_number for table tokens)."""
    try:
        value = float(token)
    except ValueError:
        return None
    return value if value - value == 0 else None  # rejects inf and nan


# the common row "NNN.name  <ref|copies>  <time>  <ratio> *|S" in one C-level match (fast path;
# anything else goes through the general token walk below)
ROW_OK_RE = re.compile(r"(\d{3}\.\w+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([*S])(?=\s|$)")


def _txt_row(path: Path, lineno: int, line: str, kind: str) -> Iteration | str | None:
    """One table row: an Iteration, the benchmark name for an NR row, or None for a blank."""
    m = ROW_OK_RE.match(line)
    if m:
        try:
            run_time, ratio = float(m[3]), float(m[4])
            float(m[2])
        except ValueError:  # e.g. "1.2.3": let the general path name the problem
            pass
        else:
            return Iteration(m[1], 0, VALID, ratio, run_time, m[5] == "*", lineno)
    tokens = line.split()
    if not tokens:
        return None
    name = tokens[0]
    # (cheap test first: this runs for every row of 10,000s of files)
    if not (len(name) > 4 and name[3] == "." and name[:3].isdigit()) or not BENCH_RE.match(name):
        raise ParseError(path, lineno, "a benchmark result row ('NNN.name ...') inside the results table")
    if len(tokens) == 1 or tokens[1] == "NR":
        return name
    nums: list[float] = []
    marker = ""
    for token in tokens[1:]:
        if token == "--":  # a CE result's run time (benchmark.pm compile_error_result): no number
            continue
        value = _num(token)
        if value is None:
            marker = token
            break
        if len(nums) == 3:  # a peak part follows an unmarked base part
            break
        nums.append(value)
    if marker in ("*", "S", "") and len(nums) == 3:
        selected = True if marker == "*" else (False if marker == "S" else None)
        if nums[1] <= 0 or nums[2] <= 0:
            raise ParseError(path, lineno, f"a positive run time and {'rate' if kind == 'rate' else 'ratio'} for the "
                                           f"successful {name} row, got {nums[1]:g} and {nums[2]:g}")
        return Iteration(name, 0, VALID, nums[2], nums[1], selected, lineno)
    if marker in ("*", "S", ""):
        what = "copies" if kind == "rate" else "reference time"
        raise ParseError(path, lineno, f"{what}, run time and {'rate' if kind == 'rate' else 'ratio'} for {name}")
    run_time = nums[1] if len(nums) >= 2 else None
    return Iteration(name, 0, marker, None, run_time, False, lineno)


def parse_txt(path: Path, text: str) -> SpecResult:
    lines = text.splitlines()
    suite = None
    reasons: list[str] = []
    estimated = False
    heading = None
    for idx, line in enumerate(lines):
        if line.startswith("#"):
            body = line.strip("#").strip()
            if body and "INVALID RUN" not in body:
                reasons.append(body)
            continue
        if suite is None:
            m = TXT_HEADER_RE.search(line)
            if m:
                suite = m.group(1)
            continue
        stripped = line.strip()
        if stripped.startswith("Estimated"):
            estimated = True
        elif stripped.startswith("Benchmarks") and "Run Time" in stripped:
            heading = idx
            break
    if suite is None:
        raise ParseError(path, None, "a 'SPEC CINT2006 Summary' or 'SPEC CFP2006 Summary' header line")
    if heading is None:
        raise ParseError(path, len(lines), "the results table heading ('Benchmarks ... Run Time ...')")
    kind = "rate" if "Copies" in lines[heading] else "speed"
    if heading + 1 >= len(lines) or not lines[heading + 1].lstrip().startswith("-"):
        raise ParseError(path, heading + 2, "a dashed rule under the results table heading")

    iterations: list[Iteration] = []
    counters: dict[str, int] = {}
    idx = heading + 2
    while True:
        if idx >= len(lines):
            raise ParseError(path, len(lines), "the '=====' rule closing the full results table (file truncated?)")
        line = lines[idx]
        stripped = line.strip()
        if stripped and set(stripped) == {"="}:
            break
        row = _txt_row(path, idx + 1, line, kind)
        if isinstance(row, Iteration):
            counters[row.benchmark] = counters.get(row.benchmark, 0) + 1
            row.iteration = counters[row.benchmark]
            iterations.append(row)
        idx += 1

    selected_rows: dict[str, Iteration | str] = {}
    marked = {it.benchmark for it in iterations if it.selected}
    mean = None
    idx += 1
    while idx < len(lines):
        line = lines[idx]
        m = MEAN_RE.match(line) if "base2006" in line else None
        if m:
            mean = (m, idx + 1)
            break
        head = line.split(None, 1)
        if not (head and head[0] in marked):  # a benchmark whose full-table '*' already says it all
            row = _txt_row(path, idx + 1, line, kind)
            if row is not None:
                selected_rows[row if isinstance(row, str) else row.benchmark] = row
        idx += 1
    if mean is None:
        raise ParseError(
            path, len(lines), "the ' SPEC..._base2006' mean line after the selected results table (file truncated?)"
        )

    # The full table's '*' marks the selected iteration; fall back to the selected table when
    # the full table carries no markers (then match the printed values).
    for name, row in selected_rows.items():
        if isinstance(row, Iteration) and row.status == VALID:
            its = [it for it in iterations if it.benchmark == name]
            if its and not any(it.selected for it in its):
                for it in its:
                    if it.ratio == row.ratio and it.run_time == row.run_time:
                        it.selected = True
                        break
            elif not its:  # a selected table without a full table row: take it as the only iteration
                row.iteration = 1
                iterations.append(row)

    m, mean_line = mean
    mean_text = m.group(4).strip()
    base_mean = try_number(mean_text.split()[0])
    estimated = estimated or bool(m.group(1))
    if (m.group(3) is not None) != (kind == "rate"):
        raise ParseError(
            path, mean_line, f"a {'rate' if kind == 'rate' else 'speed'} mean line matching the table heading"
        )
    benchmarks = _group(path, iterations)
    not_run = sorted(name for name, row in selected_rows.items() if isinstance(row, str) and name not in benchmarks)
    copies = None
    if kind == "rate":
        # only valid rows: a CE result prints copies 1 whatever the run's copies (compile_error_result)
        copies_seen = {int(round(_first_number(lines[it.line - 1]))) for it in iterations if it.line and it.status == VALID}
        copies = copies_seen.pop() if len(copies_seen) == 1 else None
    return SpecResult(
        path,
        "txt",
        suite,
        kind,
        copies if kind == "rate" else 1,
        _run_number_from_name(path),
        estimated,
        reasons,
        _bits_from_text(text),
        base_mean,
        mean_text,
        mean_line,
        benchmarks,
        not_run,
    )


def _first_number(line: str) -> float:
    tokens = line.split()
    value = try_number(tokens[1]) if len(tokens) > 1 else None
    return value if value is not None else 0.0


# --------------------------------------------------------------------------- rsf
def parse_rsf(path: Path, text: str) -> SpecResult:
    top: dict[str, tuple[str, int]] = {}
    per_iter: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
    errors: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.rstrip("\r").partition(":")
        if not sep or not RSF_KEY_RE.match(key):
            raise ParseError(path, lineno, "a 'key: value' line of a SPEC raw result file")
        value = value.strip()
        if key.startswith(RSF_RESULT_PREFIX):
            parts = key[len(RSF_RESULT_PREFIX) :].split(".", 3)
            if len(parts) != 4:
                raise ParseError(path, lineno, "a result key 'spec.cpu2006.results.<bench>.<tune>.<iter>.<field>'")
            bench, tune, iteration, fld = parts
            if tune == "base":
                per_iter.setdefault((bench, iteration), {})[fld] = (value, lineno)
        else:
            short = key[len("spec.cpu2006.") :] if key.startswith("spec.cpu2006.") else key
            top[short] = (value, lineno)
            if value and short.startswith("errors") and short[6:].isdigit():
                errors.append(value)
    if "metric" not in top:
        raise ParseError(path, None, "the key 'spec.cpu2006.metric' (CINT2006 or CFP2006)")
    suite = top["metric"][0]
    if suite not in SUITES:
        raise ParseError(path, top["metric"][1], f"spec.cpu2006.metric to be one of {SUITES}, got {suite!r}")
    kind = "rate" if top.get("rate", ("0", 0))[0] == "1" else "speed"
    iterations = []
    for (bench, iteration), fields in per_iter.items():
        if "valid" not in fields:
            first_line = min(line for _, line in fields.values())
            raise ParseError(
                path, first_line, f"a 'valid' status key for {bench} base iteration {iteration} (file truncated?)"
            )
        status, status_line = fields["valid"]
        ratio_text, ratio_line = fields.get("ratio", ("", status_line))
        ratio = try_number(ratio_text)
        if status == VALID and ratio is None:
            raise ParseError(path, ratio_line, f"a numeric ratio for the successful {bench} base iteration {iteration}")
        time_text, time_line = fields.get("reported_time", ("", status_line))
        run_time = try_number(time_text)
        if status == VALID and (run_time is None or run_time <= 0 or ratio <= 0):
            bad_line = ratio_line if ratio is not None and ratio <= 0 else time_line
            raise ParseError(path, bad_line, f"a positive reported_time and ratio for the successful {bench} base "
                                             f"iteration {iteration}, got reported_time={time_text!r}, "
                                             f"ratio={ratio_text!r}")
        errors = [value for key, (value, _) in sorted(fields.items()) if key.startswith("errors") and value]
        name = fields.get("benchmark", ("", 0))[0] or bench.replace("_", ".", 1)
        if not iteration.isdigit():
            raise ParseError(path, status_line, f"a numeric iteration index for {bench}, got {iteration!r}")
        selected = fields.get("selected", ("", 0))[0]
        iterations.append(
            Iteration(
                name,
                int(iteration) + 1,
                status,
                ratio,
                run_time,
                None if selected == "" else selected == "1",
                ratio_line,
                errors,
            )
        )
    iterations.sort(key=lambda it: (it.benchmark, it.iteration))
    mean_text, mean_line = top.get("basemean", ("", None))
    copies_text = top.get("base_copies", ("", 0))[0]
    copies = int(copies_text) if copies_text.isdigit() else (1 if kind == "speed" else None)
    ptr = top.get("sw_base_ptrsize", ("", 0))[0]
    bits = int(ptr[:2]) if ptr[:2] in ("32", "64") else None
    estimated = top.get("invalid", ("0", 0))[0] == "1" or top.get("valid", ("S", 0))[0] == "X"
    lognum = top.get("lognum", ("", 0))[0] or _run_number_from_name(path)
    return SpecResult(
        path,
        "rsf",
        suite,
        kind,
        copies,
        lognum,
        estimated,
        errors,
        bits,
        try_number(mean_text),
        mean_text,
        mean_line,
        _group(path, iterations),
    )


# --------------------------------------------------------------------------- csv
def _csv_row(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _column(header: list[str], *names: str) -> int | None:
    clean = [h.replace("Est. ", "").strip() for h in header]
    for name in names:
        if name in clean:
            return clean.index(name)
    return None


def parse_csv(path: Path, text: str) -> SpecResult:
    lines = text.splitlines()
    first = _csv_row(lines[0]) if lines else []
    if len(first) < 2 or first[0] != "valid" or first[1] not in ("0", "1"):
        raise ParseError(path, 1, "a first line 'valid,0' or 'valid,1' (SPEC CPU2006 CSV report)")
    estimated = first[1] == "0"
    section = None
    header: list[str] | None = None
    kind = "speed"
    full: list[Iteration] = []
    selected: list[Iteration] = []
    mean = None
    run_number = None
    counters: dict[str, int] = {}
    cols: dict[str, int | None] = {}
    for lineno, line in enumerate(lines[1:], 2):
        row = _csv_row(line)
        if not row or not any(cell.strip() for cell in row):
            if section in ("full", "selected") and header is not None:
                section = section + "-done"
            continue
        head = row[0]
        if head == "Full Results Table":
            section, header = "full", None
            continue
        if head == "Selected Results Table":
            section, header = "selected", None
            continue
        if MEAN_RE.match(head + " x") and mean is None:
            mean = (head, row[1] if len(row) > 1 else "", lineno)
            continue
        if head == "Run number:" and len(row) > 1:
            run_number = row[1].strip()
            continue
        if section in ("full", "selected"):
            if header is None:
                if head != "Benchmark":
                    raise ParseError(path, lineno, "a 'Benchmark,...' heading row at the start of a results table")
                header = row
                kind = "rate" if _column(row, "Base # Copies") is not None else "speed"
                cols = {
                    "time": _column(row, "Base Run Time"),
                    "ratio": _column(row, "Base Rate", "Base Ratio"),
                    "selected": _column(row, "Base Selected"),
                    "status": _column(row, "Base Status"),
                    "desc": _column(row, "Description"),
                }
                if cols["ratio"] is None or cols["status"] is None:
                    raise ParseError(
                        path, lineno, "'Base Rate'/'Base Ratio' and 'Base Status' columns in the results heading"
                    )
                continue
            if not BENCH_RE.match(head):
                raise ParseError(path, lineno, "a benchmark row ('NNN.name,...') in the results table")

            def cell(key):
                i = cols.get(key)
                return row[i].strip() if i is not None and i < len(row) else ""

            status = cell("status")
            if status in ("", "NR"):
                continue  # not run in this base tune
            ratio = try_number(cell("ratio"))
            if status == VALID and ratio is None:
                raise ParseError(path, lineno, f"a numeric base ratio for the successful {head} row")
            desc = cell("desc")
            it_match = re.search(r"#(\d+)", desc)
            counters[head] = counters.get(head, 0) + 1
            number_ = int(it_match.group(1)) if it_match else counters[head]
            sel = cell("selected")
            it = Iteration(
                head, number_, status, ratio, try_number(cell("time")), None if sel == "" else sel == "1", lineno
            )
            (full if section == "full" else selected).append(it)
    if header is None and not full and not selected:
        raise ParseError(path, None, "a 'Full Results Table' or 'Selected Results Table' section")
    if mean is None:
        raise ParseError(path, len(lines), "the 'SPEC..._base2006' mean row after the results tables (file truncated?)")
    iterations = full or [
        Iteration(it.benchmark, 1, it.status, it.ratio, it.run_time, True, it.line) for it in selected
    ]
    m = MEAN_RE.match(mean[0] + " x")
    suite = "CINT2006" if m.group(2) == "int" else "CFP2006"
    if (m.group(3) is not None) != (kind == "rate"):
        raise ParseError(path, mean[2], "a mean row matching the table heading (rate vs speed)")
    copies = None
    if kind == "rate":
        copies_col = _column(header or [], "Base # Copies")
        # copies live in the rows; read them back from the file lines we kept
        seen = {
            int(float(_csv_row(lines[it.line - 1])[copies_col]))
            for it in iterations
            if copies_col is not None and try_number(_csv_row(lines[it.line - 1])[copies_col]) is not None
        }
        copies = seen.pop() if len(seen) == 1 else None
    return SpecResult(
        path,
        "csv",
        suite,
        kind,
        copies if kind == "rate" else 1,
        run_number or _run_number_from_name(path),
        estimated,
        [],
        _bits_from_text(text),
        try_number(mean[1]),
        mean[1],
        mean[2],
        _group(path, iterations),
    )


# --------------------------------------------------------------------------- dispatch
def sniff(path: Path, head: str | None = None) -> str | None:
    """Which SPEC CPU2006 file this is: 'txt', 'rsf', 'csv', 'log' or None."""
    if head is None:
        head = peek_text(path)
    if not head:
        return None
    stripped = head.lstrip()
    if LOG_START_RE.match(stripped):
        return "log"
    if stripped.startswith("valid,") and ("Results Table" in head or "SPEC" in head or path.suffix == ".csv"):
        return "csv"
    if "spec.cpu2006." in head and RSF_LINE_RE.match(_first_data_line(head) or ""):
        return "rsf"
    if TXT_HEADER_RE.search(head):
        return "txt"
    return None


def _first_data_line(head: str) -> str | None:
    for line in head.splitlines():
        if line.strip() and not line.startswith("#"):
            return line
    return None


def read_result(path: Path, text: str | None = None) -> SpecResult:
    """Parse one .txt/.rsf/.csv result file into a SpecResult (ParseError if it is not one)."""
    if text is None:
        text = read_text(path)
        kind = sniff(path, text[:8192])
        found = len(result_starts(kind, text.splitlines())) if kind in ("txt", "rsf", "csv") else 1
        if found > 1:  # an HS06 result directory reads each file as one copy's result: never the first of N
            raise ParseError(path, None, f"one SPEC result per file in a result directory, found {found}")
    kind = sniff(path, text[:8192])
    if kind == "txt" or (kind is None and path.suffix == ".txt"):
        return parse_txt(path, text)
    if kind == "rsf":
        return parse_rsf(path, text)
    if kind == "csv":
        return parse_csv(path, text)
    raise ParseError(path, None, "a SPEC CPU2006 result file (.txt report, .rsf raw file or .csv report)")


def result_records(result: SpecResult) -> list[Record]:
    src = str(result.path)
    common = {
        "suite": result.suite,
        "kind": result.kind,
        "run_number": result.run_number,
        "file_format": result.file_format,
    }
    if result.copies is not None:
        common["spec_copies"] = result.copies
    if result.bits is not None:
        common["bits"] = result.bits
    unit = result.unit
    metric = "rate" if result.kind == "rate" else "ratio"
    records: list[Record] = []
    for name in sorted(result.benchmarks):
        bench = result.benchmarks[name]
        for it in bench.iterations:
            ok = it.status == VALID
            extra = dict(
                common,
                iteration=it.iteration,
                spec_status=it.status,
                selected=bench.chosen is it,
                run_time_s=it.run_time,
            )
            records.append(
                Record(
                    name,
                    f"iteration_{metric}",
                    it.ratio if ok else None,
                    unit,
                    True,
                    src,
                    status="ok" if ok else "failed",
                    source_line=it.line,
                    detail="" if ok else f"iteration {it.iteration} status {it.status}",
                    extra=extra,
                )
            )
        chosen = bench.chosen
        records.append(
            Record(
                name,
                metric,
                bench.value,
                unit,
                True,
                src,
                status=bench.status,
                source_line=chosen.line if chosen else (bench.iterations[0].line if bench.iterations else None),
                detail=bench.detail,
                extra=dict(
                    common,
                    selected_iteration=chosen.iteration if chosen else None,
                    selected_by=bench.selected_by,
                    iterations=len(bench.iterations),
                    spec_statuses=[it.status for it in bench.iterations],
                ),
            )
        )
    mean_ok = result.base_mean is not None
    records.append(
        Record(
            result.mean_name,
            "base_mean",
            result.base_mean,
            unit,
            True,
            src,
            status="ok" if mean_ok else "invalid",
            source_line=result.base_mean_line,
            detail=(
                "" if mean_ok else f"suite mean printed as {result.base_mean_text!r}: not every benchmark has a result"
            ),
            extra=dict(
                common, estimated=result.estimated, not_run=result.not_run, invalid_reasons=result.invalid_reasons[:20]
            ),
        )
    )
    return records


# --------------------------------------------------------------------------- log
_LOG_RESULT_RE = re.compile(r"^\s*(Success|Error)\s+(\d{3}\.\w+)\s+base\s+\w+\s+ratio=([^,]*),\s*runtime=([^,]*)")
_LOG_SUMMARY_RE = re.compile(r"^(Success|Error):\s+(.*)$")
_LOG_FINISHED_RE = re.compile(r"^runspec finished at .*;\s*(\d+) total seconds elapsed")


def parse_log(path: Path, text: str) -> list[Record]:
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not LOG_START_RE.match(lines[first]):
        raise ParseError(path, (first or 0) + 1, "a first line 'runspec vNNNN started at ...' (CPU2006.NNN.log)")
    src = str(path)
    run_number = (LOG_NAME_RE.match(path.name) or [None, None])[1]
    info: dict = {"run_number": run_number}
    records: list[Record] = []
    counters: dict[str, int] = {}
    failed_by_summary: list[tuple[str, int]] = []
    miscompare: dict[str, int] = {}
    current = None
    finished = None
    bits = None
    for lineno, line in enumerate(lines, 1):
        if line.startswith("runspec: "):
            info["command"] = line[len("runspec: ") :].strip()
            m = re.search(r"--iterations[= ](\d+)", line)
            if m:
                info["iterations"] = int(m.group(1))
            info["rate"] = "--rate" in line
        elif line.startswith("Action"):
            info["action"] = line.split("=", 1)[-1].strip()
        elif line.startswith("Ext ") or line.startswith("Ext="):
            info["ext"] = line.split("=", 1)[-1].strip()
        elif line.startswith("LINK:") or ("LINK" in line and "g++" in line):
            if "-m32" in line:
                bits = 32
            elif bits is None and ("-m64" in line or "LP64" in line):
                bits = 64
        elif line.startswith("  Running "):
            parts = line.split()
            current = parts[1] if len(parts) > 1 else None
        elif "*** Miscompare of" in line and current:
            miscompare[current] = lineno
        m = _LOG_RESULT_RE.match(line)
        if m:
            outcome, bench, ratio_text, runtime_text = m.groups()
            counters[bench] = counters.get(bench, 0) + 1
            runtime = try_number(runtime_text)
            ok = outcome == "Success" and runtime is not None
            records.append(
                Record(
                    bench,
                    "reported_time",
                    runtime if ok else None,
                    "s",
                    False,
                    src,
                    status="ok" if ok else "failed",
                    source_line=lineno,
                    detail="" if ok else f"runspec reported {outcome} (ratio={ratio_text.strip()})",
                    extra={"iteration": counters[bench], "log_ratio": try_number(ratio_text), **info},
                )
            )
            continue
        m = _LOG_SUMMARY_RE.match(line)
        if m and m.group(1) == "Error":
            for item in m.group(2).split():
                name = item.split("x", 1)[-1]
                if BENCH_RE.match(name):
                    failed_by_summary.append((name, lineno))
            continue
        m = _LOG_FINISHED_RE.match(line)
        if m:
            finished = (int(m.group(1)), lineno)
    if bits is None:
        ext = info.get("ext", "") + " " + info.get("command", "")
        if re.search(r"x32|linux32|32-gcc|_32", ext):
            bits = 32
        elif re.search(r"x64|linux64|64-gcc|_64", ext):
            bits = 64
    if bits is not None:
        info["bits"] = bits
        for record in records:
            record.extra["bits"] = bits
    reported = {r.benchmark for r in records if r.status == "failed"}
    for name, lineno in failed_by_summary:
        if name not in reported:
            detail = "runspec summary line reports an error"
            if name in miscompare:
                detail += f" (miscompare at line {miscompare[name]}: status VE)"
            records.append(
                Record(
                    name,
                    "reported_time",
                    None,
                    "s",
                    False,
                    src,
                    status="failed",
                    source_line=lineno,
                    detail=detail,
                    extra=dict(info),
                )
            )
    if finished:
        records.append(
            Record("runspec", "elapsed", float(finished[0]), "s", False, src, source_line=finished[1], extra=dict(info))
        )
    else:
        records.append(
            Record(
                "runspec",
                "elapsed",
                None,
                "s",
                False,
                src,
                status="failed",
                source_line=len(lines),
                detail="no 'runspec finished at' line: run interrupted or log truncated",
                extra=dict(info),
            )
        )
    return records


def result_starts(kind: str | None, lines: list[str]) -> list[int]:
    """First line of each result of a file holding several (reports concatenated with cat)."""
    if kind == "csv":
        return [i for i, line in enumerate(lines) if line.startswith("valid,")]
    if kind == "rsf":
        first = next((line.split(":", 1)[0] for line in lines if RSF_LINE_RE.match(line)), None)
        starts = []
        for i, line in enumerate(lines):
            if first and line.split(":", 1)[0] == first:
                while i > 0 and lines[i - 1].startswith("#"):  # the comments heading that file
                    i -= 1
                starts.append(i)
        return starts
    starts = []  # txt: the summary header, with the INVALID RUN banner above it
    for i, line in enumerate(lines):
        if TXT_HEADER_RE.search(line) and not line.startswith("#"):
            j = i
            while j > 0 and lines[j - 1].startswith("#"):
                j -= 1
                # the previous report's closing banner ends with a full '#' rule right above ours
                if set(lines[j].strip()) == {"#"} and j > 0 and set(lines[j - 1].strip()) == {"#"}:
                    break
            starts.append(j)
    return starts


def _result_files(directory: Path) -> dict[str, dict[tuple[str, str], Path]]:
    """SPEC result files in `directory` and one level below, by run number -> (suite, ext)."""
    found: dict[str, dict[tuple[str, str], Path]] = {}
    for d in [directory] + sorted(p for p in directory.iterdir() if p.is_dir()):
        for file in sorted(d.iterdir()):
            m = RESULT_NAME_RE.match(file.name)
            if m and file.is_file():
                slot = found.setdefault(m.group(2), {})
                if (m.group(1), m.group(3)) in slot:
                    raise ParseError(file, None, f"each result file once: also at {slot[(m.group(1), m.group(3))]}")
                slot[(m.group(1), m.group(3))] = file
    return found


class SpecCpu2006Parser(Parser):
    """A SPEC CPU2006 file: a .txt/.rsf/.csv result (per-iteration, selected and mean records)
    or a CPU2006.NNN.log (per-benchmark reported times and statuses); or a result directory.

    In a directory each run number's result is read once per suite (txt preferred: what the
    tools printed; else rsf, else csv). One run gives machine-level records (copy None);
    several runs (parallel runspec invocations) give one copy per run number, in order."""

    format = "spec-cpu2006"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        if path.is_dir():
            return bool(_result_files(path))
        return path.is_file() and sniff(path) is not None

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        if path.is_dir():
            return self._parse_dir(path)
        text = read_text(path)
        kind = sniff(path, text[:8192])
        if kind is None and path.suffix != ".txt":
            raise ParseError(path, 1, "a SPEC CPU2006 .txt/.rsf/.csv result file or a CPU2006.NNN.log run log")
        lines = text.splitlines()
        if kind == "log":
            return parse_runs(path, lines, [i for i, line in enumerate(lines) if LOG_START_RE.match(line)], parse_log)
        return parse_runs(path, lines, result_starts(kind, lines),
                          lambda p, chunk: result_records(read_result(p, chunk)))

    def _parse_dir(self, path: Path) -> list[Record]:
        runs = _result_files(path)
        if not runs:
            raise ParseError(path, None, "SPEC CPU2006 result files (CINT2006.NNN.ref.txt, CFP2006.NNN.ref.rsf, ...)")
        records: list[Record] = []
        for copy, nnn in enumerate(sorted(runs)):
            files = runs[nnn]
            for suite in SUITES:
                chosen = next((files[(suite, ext)] for ext in ("txt", "rsf", "csv") if (suite, ext) in files), None)
                if chosen is None:
                    continue
                found = result_records(read_result(chosen))
                if len(runs) > 1:
                    found = [replace(r, copy=copy) for r in found]
                records += found
        return records


PARSER = SpecCpu2006Parser()
