"""ATLAS KitValidation (KV): step logs per instance, PerfMon summaries, and atlas-kv summary JSON.

Inputs (shared/research/log-formats.md §3.3, §4):
- a directory with one sub-directory per instance: `proc_<i>/` (hep-workloads atlas-kv-bmk) or
  `KV.thr.<i>/` (sw-mgr `--tthreads`, under `kvtest_<id>/`), each holding step logs;
- one step log: the transform's stdout (`Original job transform command:` ... the Athena
  output with the PerfMonSvc finalize block ... `===== Job Report produced by <trf> ...`
  with `ExitCode=`, `ErrorCode=`, `athAcronym=`), or a bare Athena log;
- `PerfMon_summary_<date>.out` written by the CERN KV wrapper (`grep -H PerfMon` of all step
  logs, each line prefixed with its `path:`);
- the hep-workloads summary JSON `<wl>_summary.json`, all three generations (flat; with
  `run_info`/`report`; the "new" one with `ncopies` and `status.status_copy`).

Per step and instance the PerfMonSvc `Statistics for 'evt'` block gives the mean CPU (`<cpu>`)
and wall (`<real>`) time per event in ms (the first event excluded). Fields are matched by
their tags, never by line offsets (later releases add `<cpu_user>`, `<cpu_sys>`).
Throughput is reported both ways and named: `events_per_s_wall` = 1000/<real>,
`events_per_s_cpu` = 1000/<cpu>; they differ by 2x under contention, so never mix them.

A step is failed when its job report has ExitCode != 0, Athena left with a non-zero code,
neither exit marker is present (truncated), or the 'evt' block is missing. A failed step of
one instance gives failed records (value None) for that instance and is excluded from the
machine-level numbers, which then say so: sums over instances become `invalid` (they no
longer cover the machine), means over instances stay `ok` and name the excluded instances.
Several step logs (or PerfMon summaries) concatenated in one file give one run each: a step
log's run begins at its transform command banner, else after each `Py:Athena ... leaving with
code`; a summary's at each `host_ip:` line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import (
    guarded_detect,
    guarded_parse,
    json_object,
    line_of,
    load_json,
    parse_runs,
    peek_text,
    read_text,
    try_number,
)

INSTANCE_DIR_RE = re.compile(r"^(?:proc_|KV\.thr\.)(\d+)$")
STATS_RE = re.compile(r"PerfMonSvc\s+INFO\s+Statistics for '(\w+)':\s*\(nbr entries\s*=\s*(\d+)\s*\)")
FIELD_RE = re.compile(r"PerfMonSvc\s+INFO\s+<(\w+)>:\s*\(\s*(\S+)\s*\+/-\s*(\S+)\s*\)\s*(\S+)")
EVENTS_RE = re.compile(r"PerfMonSvc\s+INFO\s+Events processed:\s*(\d+)")
JOB_REPORT_RE = re.compile(r"^===== Job Report produced by (\S+)")
ATHENA_EXIT_RE = re.compile(r"Py:Athena\s+INFO\s+leaving with code (-?\d+):\s*\"?([^\"]*)")
TIMER_RE = re.compile(
    r"Transform Timer report \[(\S+)\] wall-time: (\d+) hrs (\d+) mins (\d+) secs,"
    r" cpu-time: (\d+) hrs (\d+) mins (\d+) secs"
)
KV_MARKERS = ("PerfMonSvc", "Job Report produced by", "Original job transform command")
STEP_METRICS = (
    ("cpu_per_event", "ms/event", False),
    ("wall_per_event", "ms/event", False),
    ("events_per_s_cpu", "events/s", True),
    ("events_per_s_wall", "events/s", True),
)


@dataclass
class StepResult:
    source: str
    step: str
    trf: str | None = None
    exit_code: int | None = None
    error_code: str | None = None
    acronym: str | None = None
    athena_exit: int | None = None
    events: int | None = None
    stats: dict = field(default_factory=dict)  # tag -> {"entries", "line", fields: {name: (v, err, unit)}}
    timer: dict | None = None
    report_line: int | None = None
    status: str = "ok"
    detail: str = ""

    @property
    def evt(self):
        return self.stats.get("evt")


def parse_step_lines(source: str, lines, default_step: str) -> StepResult:
    """Read one step's log lines (line numbers kept) into a StepResult."""
    result = StepResult(source, default_step)
    current = None
    in_report = False
    for lineno, line in lines:
        m = STATS_RE.search(line)
        if m:
            current = {"entries": int(m.group(2)), "line": lineno, "fields": {}}
            result.stats[m.group(1)] = current
            continue
        if current is not None:
            m = FIELD_RE.search(line)
            if m:
                value, err = try_number(m.group(2)), try_number(m.group(3))
                current["fields"][m.group(1)] = (value, err, m.group(4))
                continue
            current = None
        m = EVENTS_RE.search(line)
        if m:
            result.events = int(m.group(1))
            continue
        m = JOB_REPORT_RE.match(line)
        if m:
            # the transform prints a job report early (setup) and the final one at the end;
            # only the last one carries the ExitCode we want.
            result.trf, in_report, result.report_line = m.group(1), True, lineno
            result.exit_code = result.error_code = result.acronym = None
            continue
        if in_report:
            if line.startswith("ExitCode="):
                tokens = line.split("=", 1)[1].split()
                code = try_number(tokens[0]) if tokens else None
                result.exit_code = int(code) if code is not None else -1  # unreadable code: not a success
                result.report_line = lineno
            elif line.startswith("ErrorCode="):
                result.error_code = line.split("=", 1)[1].strip()
            elif line.startswith("athAcronym="):
                result.acronym = line.split("=", 1)[1].strip()
        m = ATHENA_EXIT_RE.search(line)
        if m:
            result.athena_exit = int(m.group(1))
            continue
        m = TIMER_RE.search(line)
        if m and result.trf in (None, m.group(1)):
            g = [int(x) for x in m.groups()[1:]]
            result.timer = {
                "wall_s": g[0] * 3600 + g[1] * 60 + g[2],
                "cpu_s": g[3] * 3600 + g[4] * 60 + g[5],
                "line": lineno,
            }
    if result.trf and default_step.startswith("?"):
        result.step = result.trf
    elif default_step.startswith("?"):
        result.step = default_step[1:]
    problems = []
    if result.exit_code is not None and result.exit_code != 0:
        problems.append(
            f"job report ExitCode={result.exit_code}, ErrorCode={result.error_code}, athAcronym={result.acronym}"
        )
    if result.exit_code is None and result.athena_exit not in (None, 0):
        problems.append(f"Athena left with code {result.athena_exit}")
    if result.exit_code is None and result.athena_exit is None and result.trf is None:
        problems.append("neither a job report ExitCode nor an Athena exit line (step interrupted or log truncated)")
    elif result.exit_code is None and result.athena_exit is None:
        problems.append("job report without an ExitCode line (log truncated?)")
    evt = result.evt
    if evt is None:
        problems.append("no PerfMonSvc \"Statistics for 'evt'\" block")
    else:
        for tag in ("cpu", "real"):
            value = evt["fields"].get(tag, (None,))[0]
            if value is None or value <= 0:
                problems.append(f"PerfMonSvc 'evt' <{tag}> missing or not positive")
    if problems:
        result.status, result.detail = "failed", "; ".join(problems)
    return result


def step_records(step: StepResult, copy: int | None, instance: str | None) -> list[Record]:
    evt = step.evt
    line = (evt or {}).get("line") or step.report_line
    extra = {
        "step": step.step,
        "trf": step.trf,
        "instance": instance,
        "exit_code": step.exit_code,
        "athena_exit": step.athena_exit,
        "events": step.events,
        "evt_entries": (evt or {}).get("entries"),
    }
    if step.timer:
        extra.update(step_wall_s=step.timer["wall_s"], step_cpu_s=step.timer["cpu_s"])
    bench = f"kv.{step.step}"
    if step.status != "ok":
        return [
            Record(
                bench,
                metric,
                None,
                unit,
                hib,
                step.source,
                copy=copy,
                status="failed",
                source_line=line,
                detail=step.detail,
                extra=extra,
            )
            for metric, unit, hib in STEP_METRICS
        ]
    cpu, cpu_err, _ = evt["fields"]["cpu"]
    real, real_err, _ = evt["fields"]["real"]
    extra.update(cpu_err_ms=cpu_err, real_err_ms=real_err)
    values = {
        "cpu_per_event": cpu,
        "wall_per_event": real,
        "events_per_s_cpu": 1000.0 / cpu,
        "events_per_s_wall": 1000.0 / real,
    }
    return [
        Record(bench, metric, values[metric], unit, hib, step.source, copy=copy, source_line=line, extra=extra)
        for metric, unit, hib in STEP_METRICS
    ]


def machine_records(steps: dict[tuple[int, str], StepResult], labels: dict[int, str], src: str) -> list[Record]:
    """Per step: sum over instances of throughput, mean over instances of time per event."""
    records = []
    copies = sorted(labels)
    for step_name in sorted({s for _, s in steps}):
        ok = {
            c: steps[(c, step_name)] for c in copies if (c, step_name) in steps and steps[(c, step_name)].status == "ok"
        }
        bad = [c for c in copies if c not in ok]
        why = "; ".join(
            f"instance {labels[c]}: "
            + (steps[(c, step_name)].detail if (c, step_name) in steps else "step log missing")
            for c in bad
        )
        for metric, unit, hib in STEP_METRICS:
            if not ok:
                records.append(
                    Record(
                        f"kv.{step_name}",
                        metric,
                        None,
                        unit,
                        hib,
                        src,
                        status="failed",
                        detail=f"no instance completed this step: {why}",
                        extra={"instances": len(copies), "instances_ok": 0},
                    )
                )
                continue
            per = []
            for s in ok.values():
                cpu, real = s.evt["fields"]["cpu"][0], s.evt["fields"]["real"][0]
                per.append(
                    {
                        "cpu_per_event": cpu,
                        "wall_per_event": real,
                        "events_per_s_cpu": 1000.0 / cpu,
                        "events_per_s_wall": 1000.0 / real,
                    }[metric]
                )
            if hib:  # throughput: the machine's is the sum over its instances
                value, agg = math.fsum(per), "sum over instances"
                status = "ok" if not bad else "invalid"
            else:
                value, agg = math.fsum(per) / len(per), "mean over instances"
                status = "ok"
            detail = "" if not bad else f"excluded failed instances ({why}); {agg} of {len(ok)} of {len(copies)}"
            records.append(
                Record(
                    f"kv.{step_name}",
                    metric,
                    value,
                    unit,
                    hib,
                    src,
                    status=status,
                    detail=detail,
                    extra={
                        "aggregate": agg,
                        "instances": len(copies),
                        "instances_ok": len(ok),
                        "excluded": [labels[c] for c in bad],
                    },
                )
            )
    return records


# --------------------------------------------------------------------------- inputs
def _is_step_log(path: Path) -> bool:
    head = peek_text(path, 65536)
    if not head:
        return False
    if any(marker in head for marker in KV_MARKERS):
        return True
    # PerfMonSvc's block sits at the very end of long logs; look at the tail too
    size = path.stat().st_size
    if size > 65536:
        with open(path, "rb") as fh:
            fh.seek(size - 65536)
            tail = fh.read().decode("utf-8", errors="replace")
        return any(marker in tail for marker in KV_MARKERS)
    return False


def _step_from_path(path: Path, instance_dir: Path) -> str:
    parts = path.relative_to(instance_dir).parts
    if "data" in parts[:-1]:
        i = parts.index("data")
        if i + 1 < len(parts) - 1:
            return parts[i + 1]
    return "?" + path.stem


def _instance_steps(instance_dir: Path) -> list[StepResult]:
    logs = sorted(
        p for p in instance_dir.rglob("*") if p.is_file() and p.suffix in (".log", ".out", ".txt") and _is_step_log(p)
    )
    results = [
        parse_step_lines(str(p), enumerate(read_text(p).splitlines(), 1), _step_from_path(p, instance_dir))
        for p in logs
    ]
    # The transform's stdout (with a job report) and the Athena log it scanned describe the
    # same step: keep the one with the job report.
    with_report = {r.trf for r in results if r.trf}
    kept = [r for r in results if r.trf or Path(r.source).stem not in with_report]
    return kept


def parse_instance_dir(path: Path) -> list[Record]:
    by_number: dict[int, list[Path]] = {}
    for p in sorted(path.rglob("*")):
        m = INSTANCE_DIR_RE.match(p.name)
        if not (m and p.is_dir()):
            continue
        number = int(m.group(1))
        for other in by_number.get(number, []):
            # sw-mgr writes one kvtest_<id>/KV.thr.<i> per test (merged below); the same
            # instance twice in one place, or under two naming styles, is a copy present twice
            if other.parent == p.parent or other.name.split("_")[0] != p.name.split("_")[0]:
                raise ParseError(
                    p, None, f"each KV instance once: instance {number} is also at " f"{other} (a copy present twice)"
                )
        by_number.setdefault(number, []).append(p)
    if not by_number:
        raise ParseError(path, None, "instance directories proc_<i>/ or KV.thr.<i>/ holding KV step logs")
    labels = {copy: str(number) for copy, number in enumerate(sorted(by_number))}
    steps: dict[tuple[int, str], StepResult] = {}
    records: list[Record] = []
    for copy, number in enumerate(sorted(by_number)):
        for d in by_number[number]:
            for step in _instance_steps(d):
                key = (copy, step.step)
                if key in steps:
                    raise ParseError(
                        step.source,
                        None,
                        f"step {step.step} of instance {number} once; "
                        f"also in {steps[key].source} (a copy present twice)",
                    )
                steps[key] = step
                records += step_records(step, copy, str(number))
    if not steps:
        raise ParseError(
            path,
            None,
            "KV step logs (transform stdout with a Job Report, or PerfMonSvc output) in the instance directories",
        )
    # an instance with no step logs at all is a failed instance, not a missing one
    for copy in labels:
        for step_name in {s for _, s in steps}:
            if (copy, step_name) not in steps:
                records += [
                    Record(
                        f"kv.{step_name}",
                        metric,
                        None,
                        unit,
                        hib,
                        str(by_number[int(labels[copy])][0]),
                        copy=copy,
                        status="failed",
                        detail=f"no log for step {step_name} in this instance",
                        extra={"instance": labels[copy]},
                    )
                    for metric, unit, hib in STEP_METRICS
                ]
    return records + machine_records(steps, labels, str(path))


def parse_perfmon_summary(path: Path, text: str) -> list[Record]:
    """The CERN KV wrapper's PerfMon_summary file: `path:line` lines of every step log."""
    groups: dict[str, list[tuple[int, str]]] = {}
    meta = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith(("host_ip:", "start sw-mgr", "end sw-mgr", "KV cpu performance")):
            key = line.split(":", 1)[0] if line.startswith("host_ip") else line.split(" [")[0].rsplit(" ", 1)[0]
            meta[key.strip()] = line
            continue
        if ":" in line and "/" in line.split(":", 1)[0]:
            source, content = line.split(":", 1)
            groups.setdefault(source, []).append((lineno, content))
    if not groups:
        raise ParseError(path, None, "'<step log path>:<PerfMon line>' lines (grep -H PerfMon output)")
    numbers: dict[int, str] = {}
    raw: list[tuple[int, StepResult]] = []
    for source, lines in groups.items():
        m = re.search(r"KV\.thr\.(\d+)", source) or re.search(r"proc_(\d+)", source)
        number = int(m.group(1)) if m else 0
        step_m = re.search(r"/data/([^/]+)/", source)
        step = parse_step_lines(f"{path}", lines, step_m.group(1) if step_m else "?" + Path(source).stem)
        # grep kept only PerfMon lines: no job report, no Athena exit line; judge by PerfMon
        if step.evt is not None and all((step.evt["fields"].get(t, (None,))[0] or 0) > 0 for t in ("cpu", "real")):
            step.status, step.detail = "ok", ""
        else:
            step.detail = "no complete PerfMonSvc 'evt' block for this step"
        numbers[number] = source
        raw.append((number, step))
    labels = {copy: str(number) for copy, number in enumerate(sorted(numbers))}
    copy_of = {int(label): copy for copy, label in labels.items()}
    steps: dict[tuple[int, str], StepResult] = {}
    records = []
    for number, step in raw:
        key = (copy_of[number], step.step)
        if key in steps:
            raise ParseError(
                path, None, f"one PerfMon block per step and instance; {step.step} of instance {number} twice"
            )
        steps[key] = step
        records += step_records(step, copy_of[number], str(number))
    for record in records:
        record.extra.update(wrapper=meta)
    return records + machine_records(steps, labels, str(path))


def summary_records(path: Path, data: dict, workload: str = "atlas-kv") -> list[Record]:
    """hep-workloads `<wl>_summary.json`, any of the three generations."""
    src = str(path)
    report = data.get("report") if isinstance(data.get("report"), dict) else data
    run_info = data.get("run_info") if isinstance(data.get("run_info"), dict) else data
    scores = report.get("wl-scores")
    if not isinstance(scores, dict):
        raise ParseError(path, None, "'wl-scores' (top level or under 'report') in a hep-workloads summary")
    copies = run_info.get("copies", data.get("ncopies"))
    stats = report.get("wl-stats") if isinstance(report.get("wl-stats"), dict) else {}
    log = report.get("log", "ok")
    status_block = data.get("status") if isinstance(data.get("status"), dict) else {}
    copy_status = status_block.get("status_copy") if isinstance(status_block.get("status_copy"), list) else []
    bad_copies = [i for i, s in enumerate(copy_status) if str(s).lower() not in ("0", "ok", "success", "succeeded")]
    ratio = status_block.get("successful/all")
    if isinstance(ratio, str) and "/" in ratio:
        good, _, total = ratio.partition("/")
        if good.strip().isdigit() and total.strip().isdigit() and int(good) < int(total) and not bad_copies:
            bad_copies = [f"{int(total) - int(good)} of {total}"]
    generation = "new" if "ncopies" in data or status_block else ("report" if "report" in data else "flat")
    app = data.get("app") if isinstance(data.get("app"), dict) else {}
    extra = {
        "workload": workload,
        "generation": generation,
        "copies": copies,
        "threads_per_copy": run_info.get("threads_per_copy"),
        "events_per_thread": run_info.get("events_per_thread"),
        "app_version": app.get("version"),
        "description": app.get("description"),
        "per_copy_stats": {k: v for k, v in stats.items() if not isinstance(v, dict)},
    }
    records = []
    for sub, value in sorted(scores.items()):
        v = try_number(value)
        problems = []
        if log != "ok":
            problems.append(f"log={log!r}")
        if v is None or v <= 0:
            problems.append(f"wl-scores.{sub}={value!r}")
        if bad_copies:
            problems.append(f"failed copies: {bad_copies}")
        status = "ok" if not problems else ("invalid" if v and v > 0 and log == "ok" else "failed")
        records.append(
            Record(
                f"{workload}.{sub}",
                "events_per_s",
                v if status != "failed" else None,
                "events/s",
                True,
                src,
                status=status,
                detail="; ".join(problems),
                extra=dict(extra, aggregate="sum over copies (as reported by the workload)"),
            )
        )
        mean = try_number(stats.get("avg")) if not isinstance(stats.get("avg"), dict) else None
        if mean is not None and status == "ok":
            records.append(
                Record(
                    f"{workload}.{sub}",
                    "events_per_s_per_copy_mean",
                    mean,
                    "events/s",
                    True,
                    src,
                    extra=dict(extra, aggregate="mean over copies (as reported)"),
                )
            )
    return records


def _summary_kind(data) -> bool:
    if not isinstance(data, dict):
        return False
    report = data.get("report") if isinstance(data.get("report"), dict) else data
    return isinstance(report.get("wl-scores"), dict) and "benchmarks" not in data and "profiles" not in data


class KitValidationParser(Parser):
    format = "kitvalidation"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        if path.is_dir():
            return any(INSTANCE_DIR_RE.match(p.name) and p.is_dir() for p in path.rglob("*"))
        head = peek_text(path, 4096)
        if head.lstrip().startswith("{"):
            return '"wl-scores"' in head and _summary_kind(load_json(path))
        if head.startswith("host_ip:") or "PerfMon_summary" in path.name:
            return True
        return _is_step_log(path)

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        if path.is_dir():
            return parse_instance_dir(path)
        text = read_text(path)
        if text.lstrip().startswith("{"):
            data = json_object(path, load_json(path, text), "the top level")
            if not _summary_kind(data):
                raise ParseError(path, 1, "a hep-workloads summary JSON with 'wl-scores'")
            stem = path.stem.replace("_summary_new", "").replace("_summary", "")
            records = summary_records(path, data, stem if stem and stem != path.stem else "atlas-kv")
            line = line_of(text, '"wl-scores"')
            return [replace(r, source_line=line) for r in records]
        lines = text.splitlines()
        if text.startswith("host_ip:") or re.search(r"^[^\n:]*/[^\n:]*:.*PerfMonSvc", text[:65536], re.M):
            starts = [i for i, line in enumerate(lines) if line.startswith("host_ip:")]
            return parse_runs(path, lines, starts, parse_perfmon_summary)
        if not any(marker in text for marker in KV_MARKERS):
            raise ParseError(
                path, 1, "an ATLAS transform/Athena step log (PerfMonSvc block or 'Job Report produced by')"
            )
        return parse_runs(path, lines, step_log_starts(lines), self._one_step)

    @staticmethod
    def _one_step(path: Path, text: str) -> list[Record]:
        step = parse_step_lines(str(path), enumerate(text.splitlines(), 1), "?" + path.stem)
        return step_records(step, None, None)


def step_log_starts(lines: list[str]) -> list[int]:
    """Where each run of a step log that holds several begins: at every transform command banner
    (`####`, `Original job transform command:`), else after each `Py:Athena ... leaving with code`."""
    starts = []
    for i, line in enumerate(lines):
        if line.startswith("Original job transform command:"):
            starts.append(i - 1 if i and set(lines[i - 1].strip()) == {"#"} else i)
    if starts:
        return starts
    ends = [i for i, line in enumerate(lines) if ATHENA_EXIT_RE.search(line)]
    return [0] + [i + 1 for i in ends[:-1]]


PARSER = KitValidationParser()
