"""fio results: `--output-format=json` (fio 2.x and 3.x) and the classic "normal" text output.

Per job and direction (read/write/trim) that moved data: bandwidth (MiB/s), IOPS, and mean
total latency (us). A job with a non-zero `error` gives failed records naming the error.

JSON: `jobs[].{jobname, error, read|write|trim{io_bytes|io_kbytes, bw (KiB/s), iops,
lat_ns{mean} (fio 3) | lat{mean} in us (fio 2)}}`; fio may print warning lines before the JSON.
Text (fio 3): `name: (groupid=0, jobs=1): err= 0: pid=...`, then
`  read: IOPS=1510, BW=1510MiB/s (1584MB/s)(64.0MiB/42msec)` and `     lat (usec): min=.., avg=..`;
(fio 2): `  read : io=65536KB, bw=1234.5KB/s, iops=308, runt= 53087msec`.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import guarded_detect, guarded_parse, json_object, load_json, peek_text, read_text, try_number

DIRECTIONS = ("read", "write", "trim")
JOB_RE = re.compile(r"^(?P<name>[^\s:][^:]*): \(groupid=(?P<gid>\d+), jobs=(?P<jobs>\d+)\): err=\s*(?P<err>-?\d+)")
DIR3_RE = re.compile(
    r"^\s+(?P<dir>read|write|trim)\s*: IOPS=(?P<iops>[\d.]+[kKmM]?), BW=(?P<bw>[\d.]+)(?P<unit>[KMGT]?i?B/s)"
)
DIR2_RE = re.compile(
    r"^\s+(?P<dir>read|write|trim)\s*: io=\S+, bw=(?P<bw>[\d.]+)(?P<unit>[KMGT]?B/s), iops=(?P<iops>[\d.]+[kKmM]?)"
)
LAT_RE = re.compile(r"^\s+lat \((?P<unit>nsec|usec|msec)\): min=\s*\S+, max=\s*\S+, avg=\s*(?P<avg>[\d.]+)")
BW_TO_MIB = {
    "B/s": 1 / 1048576,
    "KiB/s": 1 / 1024,
    "MiB/s": 1.0,
    "GiB/s": 1024.0,
    "TiB/s": 1048576.0,
    "kB/s": 1000 / 1048576,
    "KB/s": 1 / 1024,
    "MB/s": 1e6 / 1048576,
    "GB/s": 1e9 / 1048576,
}
LAT_TO_US = {"nsec": 1e-3, "usec": 1.0, "msec": 1e3}


def _si(token: str) -> float | None:
    scale = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}.get(token[-1:], 1.0)
    value = try_number(token[:-1] if scale != 1.0 else token)
    return None if value is None else value * scale


def _direction_records(src: str, bench: str, line: int | None, bw_mib, iops, lat_us, extra) -> list[Record]:
    records = [
        Record(bench, "bandwidth", bw_mib, "MiB/s", True, src, source_line=line, extra=extra),
        Record(bench, "iops", iops, "IO/s", True, src, source_line=line, extra=extra),
    ]
    if lat_us is not None:
        records.append(Record(bench, "latency_mean", lat_us, "us", False, src, source_line=line, extra=extra))
    return records


def _failed(src: str, bench: str, line: int | None, detail: str, extra) -> list[Record]:
    return [
        Record(bench, metric, None, unit, hib, src, status="failed", source_line=line, detail=detail, extra=extra)
        for metric, unit, hib in (("bandwidth", "MiB/s", True), ("iops", "IO/s", True))
    ]


def _unique_names(names: list[str]) -> list[str]:
    counts = {n: names.count(n) for n in names}
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if counts[n] > 1:
            seen[n] = seen.get(n, 0) + 1
            out.append(f"{n}#{seen[n]}")
        else:
            out.append(n)
    return out


def parse_json(path: Path, text: str) -> list[Record]:
    # fio prints warnings ("note: ...", "fio: ...") before the JSON document
    start = len(text) - len(text.lstrip())
    if not text.startswith("{", start):
        start = text.find("\n{") + 1
        if start <= 0:
            raise ParseError(path, None, "fio JSON output (a line starting with '{')")
    skipped_lines = text.count("\n", 0, start)
    try:
        data = load_json(path, text[start:])
    except ParseError as exc:
        raise ParseError(path, (exc.line or 0) + skipped_lines, exc.expected) from None
    data = json_object(path, data, "the top level")
    jobs = data.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise ParseError(path, None, "a non-empty 'jobs' list in fio JSON output")
    src = str(path)
    version = data.get("fio version")
    names = _unique_names(
        [str(j.get("jobname", f"job{i}")) if isinstance(j, dict) else f"job{i}" for i, j in enumerate(jobs)]
    )
    records = []
    job_lines, pos = [], start
    for _ in jobs:  # the line of each job's "jobname" key, for source_line
        pos = text.find('"jobname"', pos + 1)
        job_lines.append(text.count("\n", 0, pos) + 1 if pos >= 0 else None)
    for name, job, job_line in zip(names, jobs, job_lines):
        job = json_object(path, job, f"jobs[] entry {name!r}")
        extra = {"fio_version": version, "groupid": job.get("groupid"), "job_options": job.get("job options")}
        error = job.get("error", 0)
        if error not in (0, None):
            records += _failed(src, name, job_line, f"fio job error={error}", extra)
            continue
        moved = False
        for direction in DIRECTIONS:
            d = job.get(direction)
            if not isinstance(d, dict):
                continue
            io = try_number(d.get("io_bytes", (try_number(d.get("io_kbytes")) or 0) * 1024)) or 0
            if io <= 0:
                continue
            moved = True
            bw_kib = try_number(d.get("bw"))
            iops = try_number(d.get("iops"))
            if bw_kib is None or iops is None:
                raise ParseError(path, None, f"numeric 'bw' and 'iops' for job {name!r} {direction}")
            lat = d.get("lat_ns")
            lat_us = None
            if isinstance(lat, dict) and try_number(lat.get("mean")) is not None:
                lat_us = try_number(lat.get("mean")) / 1000.0
            elif isinstance(d.get("lat"), dict) and try_number(d["lat"].get("mean")) is not None:
                lat_us = try_number(d["lat"].get("mean"))  # fio 2.x: microseconds
            records += _direction_records(
                src,
                f"{name}.{direction}",
                _line_after(text, job_line, direction),
                bw_kib / 1024.0,
                iops,
                lat_us,
                dict(extra, io_bytes=io, runtime_ms=try_number(d.get("runtime"))),
            )
        if not moved:
            records += _failed(src, name, job_line, "job moved no data in any direction", extra)
    return records


def _line_after(text: str, line: int | None, key: str) -> int | None:
    """Line of the first JSON key `key` (as `"key" :`) at or after 1-based `line`."""
    offset = 0
    for _ in range((line or 1) - 1):
        offset = text.find("\n", offset) + 1
    m = re.compile(rf'"{re.escape(key)}"\s*:').search(text, offset)
    return None if m is None else text.count("\n", 0, m.start()) + 1


def parse_text(path: Path, text: str) -> list[Record]:
    src = str(path)
    lines = text.splitlines()
    records: list[Record] = []
    fio_errors = [
        (i + 1, line.strip())
        for i, line in enumerate(lines)
        if line.startswith("fio:") and ("err" in line or "error" in line)
    ]
    jobs: list[dict] = []
    current = None
    direction = None
    version = next((line.strip() for line in lines if re.fullmatch(r"fio-\d[\w.\-]*", line.strip())), None)
    for lineno, line in enumerate(lines, 1):
        m = JOB_RE.match(line)
        if m:
            current = {"name": m.group("name"), "err": int(m.group("err")), "line": lineno, "dirs": {}}
            jobs.append(current)
            direction = None
            continue
        if current is None:
            continue
        if line.startswith("Run status group") or line.startswith("Disk stats"):
            current = None
            continue
        m = DIR3_RE.match(line) or DIR2_RE.match(line)
        if m:
            direction = m.group("dir")
            unit = m.group("unit")
            bw = try_number(m.group("bw"))
            iops = _si(m.group("iops"))
            if bw is None or iops is None or unit not in BW_TO_MIB:
                raise ParseError(path, lineno, "a numeric bandwidth with a known unit and IOPS")
            factor = BW_TO_MIB[unit]
            if m.re is DIR2_RE and unit == "MB/s":
                factor = 1.0  # fio 2.x used MB for MiB
            current["dirs"][direction] = {"bw": bw * factor, "iops": iops, "line": lineno, "lat": None}
            continue
        m = LAT_RE.match(line)
        if m and direction and direction in current["dirs"]:
            current["dirs"][direction]["lat"] = float(m.group("avg")) * LAT_TO_US[m.group("unit")]
    if not jobs:
        if fio_errors:
            return [
                Record(
                    "fio",
                    "bandwidth",
                    None,
                    "MiB/s",
                    True,
                    src,
                    status="failed",
                    source_line=fio_errors[0][0],
                    detail="fio reported errors and no job results: " + " | ".join(e for _, e in fio_errors[:5]),
                )
            ]
        raise ParseError(path, None, "a fio job result header 'name: (groupid=N, jobs=N): err= N: ...'")
    names = _unique_names([job["name"] for job in jobs])
    for name, job in zip(names, jobs):
        extra = {"fio_version": version}
        if job["err"] != 0:
            detail = f"fio job err={job['err']}"
            if fio_errors:
                detail += ": " + " | ".join(e for _, e in fio_errors[:3])
            records += _failed(src, name, job["line"], detail, extra)
            continue
        if not job["dirs"]:
            raise ParseError(
                path,
                job["line"] + 1,
                f"a '  read: IOPS=..., BW=...' or '  write: ...' line for job {name!r} (file truncated?)",
            )
        for direction, d in job["dirs"].items():
            records += _direction_records(src, f"{name}.{direction}", d["line"], d["bw"], d["iops"], d["lat"], extra)
    return records


class FioParser(Parser):
    format = "fio"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        head = peek_text(path, 16384)
        if not head:
            return False
        if '"fio version"' in head:
            return True
        return any(JOB_RE.match(line) for line in head.splitlines()) or bool(re.search(r"^fio-\d", head, re.M))

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        text = read_text(path)
        if '"fio version"' in text[:16384] or text.lstrip().startswith("{"):
            return parse_json(path, text)
        return parse_text(path, text)


PARSER = FioParser()
