"""fio results in every output format fio 2.0 to 3.x writes, alone or several in one file.

Per job and direction (read/write/trim) that moved data: `bandwidth` (MiB/s), `iops` (IO/s) and,
when printed, `latency_mean` (total latency, us). A job with a non-zero error gives failed records
naming it. Layouts (fio's own sources, axboe/fio at the tags named; fixtures in docs/log-formats.md):

- JSON, `--output-format=json` (fio 2.1+) and `json+` (same document plus latency bins):
  `jobs[].{jobname, groupid, error, read|write|trim{io_bytes|io_kbytes, bw (KiB/s), iops, runtime
  (ms), lat_ns{mean} (fio 3) | lat{mean} (us, fio 2)}}`; warning lines may come before it.
- normal text, fio 2.17 - 3.x (stat.c `show_ddir_status`): `  read: IOPS=1510, BW=1510MiB/s
  (1584MB/s)(64.0MiB/42msec)` and `     lat (usec): min=.., max=.., avg=..`;
- normal text, fio 2.1 - 2.16: `  read : io=65536KB, bw=1234.5KB/s, iops=308, runt= 53087msec`
  (KB = KiB: kb_base 1024);
- normal text, fio 2.0.x: the same with num2str's trailing blank (`iops=308 , runt=`, `min=3 ,
  max=120001 ,`) and, up to 2.0.14, the version line bare (`2.0.8`, not `fio-2.0.8`);
- terse (`--minimal`, `--output-format=terse`), versions 3, 4 and 5 (HOWTO "Terse output"):
  `3;fio-3.33;name;groupid;error;` then per direction io (KiB), bw (KiB/s), iops, runtime (ms),
  slat/clat (4 each), 20 clat percentiles, lat min/max/mean/dev (us), bw min/max/agg/mean/dev
  (+ samples and 5 IOPS fields in v5); v3 has read and write, v4 and v5 add trim. Terse v2 has
  no fio version field and is refused by name.
- several formats in one file (`--output-format=json,normal`, `terse,json`, `json+,normal`, in any
  order, after any messages): every JSON document is found wherever it lies; the numbers come
  from the most precise half (JSON, then terse, then normal) and every other half must agree
  with it (within its printed rounding), else the file is refused.

Several runs per file: every fio invocation (a JSON document, a normal report followed by its
`Run status group` summary, a set of terse lines whose job names do not repeat) is a run; a job
name that appears in several job groups of one invocation (a stonewalled repeat of the same job)
is one run per group. Records are then tagged `run_in_file`/`runs_in_file` (parsers._common).
Clones of one job in one group (`numjobs`) are named `job#1`, `job#2`, ... in the same run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import guarded_detect, guarded_parse, json_object, peek_text, read_text, tag_runs, try_number

DIRECTIONS = ("read", "write", "trim")
JOB_RE = re.compile(r"^(?P<name>[^\s:][^:]*): \(groupid=(?P<gid>\d+), jobs=(?P<jobs>\d+)\): err=\s*(?P<err>-?\d+)")
JOB_DESC_RE = re.compile(r"^[^\s:][^:]*: \(g=\d+\): rw=")
DIR3_RE = re.compile(
    r"^\s+(?P<dir>read|write|trim)\s*: IOPS=(?P<iops>[\d.]+)(?P<iops_unit>[kKmM]?),"
    r" BW=(?P<bw>[\d.]+)(?P<unit>[KMGTP]?i?B/s)"
)
DIR2_RE = re.compile(
    r"^\s+(?P<dir>read|write|trim)\s*: io=[^,]*,\s*bw=(?P<bw>[\d.]+)\s*(?P<unit>[KMGTP]?B/s),"
    r"\s*iops=(?P<iops>[\d.]+)\s*(?P<iops_unit>[kKmM]?)\s*,"
)
LAT_RE = re.compile(
    r"^\s+lat \((?P<unit>nsec|usec|msec)\)\s*: min=\s*[^,]*,\s*max=\s*[^,]*,\s*avg=\s*(?P<avg>[\d.]+)"
)
VERSION_RE = re.compile(r"^(?:fio-)?\d+\.\d+(?:\.\d+)*(?:-[\w.\-]+)?$")
TERSE_RE = re.compile(r"^(?P<ver>\d);")
SUMMARY_RE = re.compile(r"^(Run status group \d+|\s+(READ|WRITE|TRIM|MIXED):|Disk stats|\s+\S+: ios=)")
# fio 3 prints IEC units (MiB/s), fio 2 prints K/M/G with kb_base 1024 (KB = KiB)
BW_TO_MIB = {
    "B/s": 1 / 1048576, "KiB/s": 1 / 1024, "MiB/s": 1.0, "GiB/s": 1024.0, "TiB/s": 1048576.0,
    "KB/s": 1 / 1024, "MB/s": 1.0, "GB/s": 1024.0, "TB/s": 1048576.0,
}
SI = {"": 1.0, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}
LAT_TO_US = {"nsec": 1e-3, "usec": 1.0, "msec": 1e3}
TERSE_DIR_FIELDS = {3: 41, 4: 41, 5: 47}
TERSE_DIRECTIONS = {3: ("read", "write"), 4: DIRECTIONS, 5: DIRECTIONS}
TERSE_TAIL = 5 + 7 + 10 + 12  # cpu, io depths, lat us, lat ms: always printed after the directions


@dataclass
class Direction:
    bw_mib: float
    iops: float
    lat_us: float | None
    line: int | None
    bw_tolerance: float = 0.0  # half a unit of the last printed digit (text), 0 for JSON
    iops_tolerance: float = 0.0
    extra: dict = field(default_factory=dict)


@dataclass
class Job:
    name: str
    groupid: int | None
    error: int
    line: int | None
    dirs: dict[str, Direction] = field(default_factory=dict)
    detail: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Invocation:
    """One run of fio as one output format printed it."""

    kind: str  # json | terse | normal
    jobs: list[Job]
    version: str | None
    first_line: int
    last_line: int


def _half_unit(token: str) -> float:
    decimals = len(token.split(".", 1)[1]) if "." in token else 0
    return 0.5 * 10 ** -decimals


# --------------------------------------------------------------------------- JSON
def _json_documents(path: Path, text: str) -> tuple[list[Invocation], str]:
    """Every top-level JSON object in the file (fio's document), and the text with them blanked out."""
    decoder = json.JSONDecoder()
    found: list[Invocation] = []
    pieces = []
    pos = 0
    for m in re.finditer(r"^\{", text, re.M):
        if m.start() < pos:
            continue
        try:
            data, end = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError as exc:
            if '"jobs"' in text[m.start():m.start() + 65536] or '"fio version"' in text[m.start():m.start() + 4096]:
                raise ParseError(path, exc.lineno, f"valid fio JSON ({exc.msg} at column {exc.colno})") from None
            continue
        first = text.count("\n", 0, m.start()) + 1
        last = first + text.count("\n", m.start(), end)
        found.append(_json_invocation(path, text, data, m.start(), first, last))
        pieces.append(text[pos:m.start()])
        pieces.append("\n" * text.count("\n", m.start(), end))  # keep line numbers of the rest
        pos = end
    pieces.append(text[pos:])
    return found, "".join(pieces)


def _json_invocation(path: Path, text: str, data, start: int, first: int, last: int) -> Invocation:
    data = json_object(path, data, "the fio JSON document", first)
    jobs = data.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        what = " (fio client/server output: only 'client_stats', which is not read)" if "client_stats" in data else ""
        raise ParseError(path, first, f"a non-empty 'jobs' list in fio JSON output{what}")
    version = data.get("fio version")
    out = []
    pos = start
    for i, job in enumerate(jobs):
        pos = text.find('"jobname"', pos + 1)
        job_line = text.count("\n", 0, pos) + 1 if 0 <= pos else None
        job = json_object(path, job, f"jobs[{i}]", job_line)
        name = str(job.get("jobname", f"job{i}"))
        groupid = job.get("groupid") if isinstance(job.get("groupid"), int) else None
        error = job.get("error", 0)
        result = Job(name, groupid, 0 if error in (0, None) else error, job_line,
                     extra={"fio_version": version, "groupid": groupid, "job_options": job.get("job options")})
        if result.error:
            result.detail = f"fio job error={error}"
        for direction in DIRECTIONS:
            d = job.get(direction)
            if not isinstance(d, dict):
                continue
            # fio 3 writes io_bytes in bytes (and io_kbytes); fio 2.x wrote KiB under the name io_bytes
            io = try_number(d.get("io_bytes")) or 0
            if "io_kbytes" not in d and "lat_ns" not in d:
                io *= 1024
            if io == 0:
                continue
            line = _line_after(text, job_line, direction)
            bw_kib, iops, runtime = try_number(d.get("bw")), try_number(d.get("iops")), try_number(d.get("runtime"))
            if bw_kib is None or iops is None:
                raise ParseError(path, line, f"numeric 'bw' and 'iops' for job {name!r} {direction}")
            if io < 0 or runtime is None or runtime <= 0:
                raise ParseError(path, line, f"a positive io size and runtime (ms) for job {name!r} {direction}, "
                                             f"got io={io}, runtime={d.get('runtime')!r}")
            lat_us = None
            if isinstance(d.get("lat_ns"), dict) and try_number(d["lat_ns"].get("mean")) is not None:
                lat_us = try_number(d["lat_ns"].get("mean")) / 1000.0
            elif isinstance(d.get("lat"), dict) and try_number(d["lat"].get("mean")) is not None:
                lat_us = try_number(d["lat"].get("mean"))  # fio 2.x: microseconds
            result.dirs[direction] = Direction(bw_kib / 1024.0, iops, lat_us, line,
                                               extra={"io_bytes": io, "runtime_ms": runtime})
        out.append(result)
    plus = any(_has_bins(j.get(d)) for j in jobs if isinstance(j, dict) for d in DIRECTIONS)
    return Invocation("json+" if plus else "json", out, version, first, last)


def _has_bins(direction) -> bool:
    if not isinstance(direction, dict):
        return False
    return any(isinstance(v, dict) and "bins" in v for v in direction.values())


def _line_after(text: str, line: int | None, key: str) -> int | None:
    """Line of the first JSON key `key` (as `"key" :`) at or after 1-based `line`."""
    offset = 0
    for _ in range((line or 1) - 1):
        offset = text.find("\n", offset) + 1
    m = re.compile(rf'"{re.escape(key)}"\s*:').search(text, offset)
    return None if m is None else text.count("\n", 0, m.start()) + 1


# --------------------------------------------------------------------------- terse
def _terse(path: Path, lines: list[str]) -> tuple[list[Invocation], list[str]]:
    """Terse lines grouped into runs (a new run when a job name and group repeat), and the other lines."""
    runs: list[Invocation] = []
    rest = list(lines)
    current: Invocation | None = None
    seen: set = set()
    for i, line in enumerate(lines):
        m = TERSE_RE.match(line)
        if not m or line.count(";") < 30:
            continue
        rest[i] = ""
        version = int(m.group("ver"))
        if version == 2:
            raise ParseError(path, i + 1, "fio terse output version 3, 4 or 5 (found terse v2, whose lines "
                                          "carry no fio version: not read)")
        if version not in TERSE_DIR_FIELDS:
            raise ParseError(path, i + 1, f"fio terse output version 3, 4 or 5, got {version}")
        job = _terse_job(path, i + 1, line.split(";"), version)
        key = (job.name, job.groupid)
        if current is None or key in seen:
            current = Invocation(f"terse v{version}", [], job.extra["fio_version"], i + 1, i + 1)
            runs.append(current)
            seen = set()
        seen.add(key)
        current.jobs.append(job)
        current.last_line = i + 1
    return runs, rest


def _terse_job(path: Path, lineno: int, fields: list[str], version: int) -> Job:
    per_dir = TERSE_DIR_FIELDS[version]
    directions = TERSE_DIRECTIONS[version]
    need = 5 + per_dir * len(directions) + TERSE_TAIL
    if len(fields) < need:
        raise ParseError(path, lineno, f"a terse v{version} line of at least {need} ';'-separated fields, "
                                       f"got {len(fields)} (truncated?)")
    groupid = int(fields[3]) if fields[3].isdigit() else None
    error = int(fields[4]) if fields[4].lstrip("-").isdigit() else None
    if error is None:
        raise ParseError(path, lineno, f"an integer error field (5th) in a terse v{version} line, got {fields[4]!r}")
    job = Job(fields[2], groupid, error, lineno,
              extra={"fio_version": fields[1], "groupid": groupid, "terse_version": version})
    if error:
        job.detail = f"fio job error={error}"
    for k, direction in enumerate(directions):
        base = 5 + k * per_dir
        io_kib, bw_kib, iops, runtime = (try_number(fields[base + j]) for j in range(4))
        lat_mean = try_number(fields[base + 34])
        if None in (io_kib, bw_kib, iops, runtime):
            raise ParseError(path, lineno, f"numeric io, bw, iops and runtime for {direction} in a terse "
                                           f"v{version} line (fields {base + 1}-{base + 4})")
        if io_kib == 0:
            continue
        if runtime <= 0:
            raise ParseError(path, lineno, f"a positive {direction} runtime (ms, field {base + 4}), got {runtime}")
        job.dirs[direction] = Direction(bw_kib / 1024.0, iops, lat_mean if lat_mean else None, lineno,
                                        bw_tolerance=0.5 / 1024, iops_tolerance=0.5, extra={"io_bytes": io_kib * 1024, "runtime_ms": runtime})
    return job


# --------------------------------------------------------------------------- normal text
def _normal(path: Path, lines: list[str]) -> list[Invocation]:
    """Normal reports, one run per report: a new run starts at the first line after a report's
    'Run status group' / 'Disk stats' summary that is not part of that summary."""
    runs: list[Invocation] = []
    starts = [0]
    in_summary = False
    for i, line in enumerate(lines):
        if SUMMARY_RE.match(line):
            in_summary = True
        elif in_summary and line.strip():
            starts.append(i)
            in_summary = False
    bounds = starts + [len(lines)]
    for a, b in zip(bounds, bounds[1:]):
        inv = _normal_run(path, lines, a, b)
        if inv is not None:
            runs.append(inv)
    return runs


def _normal_run(path: Path, lines: list[str], a: int, b: int) -> Invocation | None:
    jobs: list[Job] = []
    version = None
    current: Job | None = None
    direction = None
    fio_errors = [line.strip() for line in lines[a:b] if line.startswith("fio:") and "err" in line]
    for lineno in range(a + 1, b + 1):
        line = lines[lineno - 1]
        if version is None and not jobs and VERSION_RE.match(line.strip()):
            version = line.strip()
            continue
        m = JOB_RE.match(line)
        if m:
            current = Job(m.group("name"), int(m.group("gid")), int(m.group("err")), lineno)
            if current.error:
                current.detail = f"fio job err={current.error}" + (": " + " | ".join(fio_errors[:3]) if fio_errors else "")
            jobs.append(current)
            direction = None
            continue
        if current is None:
            continue
        if SUMMARY_RE.match(line):
            current = None
            continue
        m = DIR3_RE.match(line) or DIR2_RE.match(line)
        if m:
            direction = m.group("dir")
            unit = m.group("unit")
            bw, iops = try_number(m.group("bw")), try_number(m.group("iops"))
            if bw is None or iops is None or unit not in BW_TO_MIB:
                raise ParseError(path, lineno, "a numeric bandwidth with a known unit and IOPS")
            factor = BW_TO_MIB[unit]
            iops_scale = SI[m.group("iops_unit")]
            current.dirs[direction] = Direction(bw * factor, iops * iops_scale, None, lineno,
                                                _half_unit(m.group("bw")) * factor,
                                                _half_unit(m.group("iops")) * iops_scale, extra={"iops_printed": m.group("iops") + m.group("iops_unit")})
            continue
        m = LAT_RE.match(line)
        if m and direction and direction in current.dirs:
            current.dirs[direction].lat_us = float(m.group("avg")) * LAT_TO_US[m.group("unit")]
    if not jobs:
        if fio_errors:
            job = Job("fio", None, 1, a + 1 + next(i for i, line in enumerate(lines[a:b]) if line.startswith("fio:")),
                      detail="fio reported errors and no job results: " + " | ".join(fio_errors[:5]))
            return Invocation("normal", [job], version, a + 1, b)
        return None
    for job in jobs:
        job.extra = {"fio_version": version, "groupid": job.groupid}
        if not job.error and not job.dirs:
            raise ParseError(path, job.line + 1, f"a '  read: IOPS=..., BW=...' or '  read : io=..., bw=...' line "
                                                 f"for job {job.name!r} (file truncated?)")
    return Invocation("normal", jobs, version, a + 1, b)


# --------------------------------------------------------------------------- records
def _runs(invocations: list[Invocation]) -> list[tuple[Invocation, list[Job]]]:
    """Split invocations into runs: a job name found in k job groups gives k runs of that job."""
    out = []
    for inv in invocations:
        groups: dict[str, list] = {}
        for job in inv.jobs:
            seen = groups.setdefault(job.name, [])
            if job.groupid not in seen:
                seen.append(job.groupid)
        count = max((len(g) for g in groups.values()), default=1)
        runs: list[list[Job]] = [[] for _ in range(count)]
        for job in inv.jobs:
            runs[groups[job.name].index(job.groupid)].append(job)
        out += [(inv, jobs) for jobs in runs]
    return out


def _unique(jobs: list[Job]) -> list[tuple[str, Job]]:
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.name] = counts.get(job.name, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for job in jobs:
        if counts[job.name] > 1:
            seen[job.name] = seen.get(job.name, 0) + 1
            out.append((f"{job.name}#{seen[job.name]}", job))
        else:
            out.append((job.name, job))
    return out


def _run_records(src: str, inv: Invocation, jobs: list[Job], formats: str) -> list[Record]:
    records = []
    for name, job in _unique(jobs):
        extra = dict(job.extra, output_format=inv.kind, formats_in_file=formats)
        if job.error:
            records += [Record(name, metric, None, unit, True, src, status="failed", source_line=job.line,
                               detail=job.detail, extra=extra)
                        for metric, unit in (("bandwidth", "MiB/s"), ("iops", "IO/s"))]
            continue
        for direction, d in job.dirs.items():
            bench, dx = f"{name}.{direction}", dict(extra, **d.extra)
            records.append(Record(bench, "bandwidth", d.bw_mib, "MiB/s", True, src, source_line=d.line, extra=dx))
            records.append(Record(bench, "iops", d.iops, "IO/s", True, src, source_line=d.line, extra=dx))
            if d.lat_us is not None:
                records.append(Record(bench, "latency_mean", d.lat_us, "us", False, src, source_line=d.line, extra=dx))
    return records


def _agree(path: Path, primary: list[tuple[Invocation, list[Job]]], other: list[tuple[Invocation, list[Job]]]) -> None:
    """Every number of a less precise half must match the most precise half within its rounding."""
    kind, first_kind = other[0][0].kind, primary[0][0].kind
    if len(other) != len(primary):
        raise ParseError(path, other[0][0].first_line,
                         f"as many runs in the {kind} output as in the {first_kind} output of the same file "
                         f"({len(primary)} {first_kind}, {len(other)} {kind})")
    for k, ((_, jobs), (_, theirs)) in enumerate(zip(primary, other), 1):
        mine = {name: job for name, job in _unique(jobs)}
        for name, job in _unique(theirs):
            ref = mine.get(name)
            for direction, d in job.dirs.items():
                r = ref.dirs.get(direction) if ref else None
                for what, value, expected, unit, printed in (
                        ("bandwidth", d.bw_mib, r and r.bw_mib, "MiB/s", d.bw_tolerance),
                        ("iops", d.iops, r and r.iops, "IO/s", d.iops_tolerance)):
                    tolerance = max(0.005 * abs(expected or 0), printed, 1e-9)
                    if expected is None or abs(value - expected) > tolerance:
                        raise ParseError(path, d.line, f"the {kind} output to agree with the {first_kind} output of "
                                                       f"run {k}: {name}.{direction} {what} {value:g} {unit} here, "
                                                       f"{'missing' if expected is None else f'{expected:g}'} there")


class FioParser(Parser):
    format = "fio"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        head = peek_text(path, 16384)
        if not head:
            return False
        if '"fio version"' in head:
            return True
        return any(JOB_RE.match(line) or JOB_DESC_RE.match(line) or (TERSE_RE.match(line) and line.count(";") >= 30)
                   for line in head.splitlines()) or bool(re.search(r"^fio-\d", head, re.M))

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        text = read_text(path)
        json_runs, rest = _json_documents(path, text)
        terse_runs, lines = _terse(path, rest.splitlines())
        normal_runs = _normal(path, lines)
        halves = [_runs(inv) for inv in (json_runs, terse_runs, normal_runs) if inv]
        if not halves:
            raise ParseError(path, None, "fio output: a JSON document with 'jobs', terse lines ('3;fio-...;'), or a "
                                         "job result header 'name: (groupid=N, jobs=N): err= N: ...'")
        for other in halves[1:]:
            _agree(path, halves[0], other)
        formats = ",".join(dict.fromkeys(run[0][0].kind for run in halves))
        src = str(path)
        per_run = [_run_records(src, inv, jobs, formats) for inv, jobs in halves[0]]
        spans = [(inv.first_line, inv.last_line) for inv, _ in halves[0]]
        return tag_runs(per_run, spans)


PARSER = FioParser()
