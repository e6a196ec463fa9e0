"""HEP-Benchmark-Suite `bmkrun_report.json` and HEPscore `hepscore_result.json`.

Shapes read (shared/research/log-formats.md §3):
- suite report: `host{hostname, SW{...}, HW{CPU{...}, MEMORY{...}}}`, `suite{version, flags}`,
  `profiles{hepscore, hs06_32|hs06_64|hs06, spec2017, DB12|db12, kv}`;
- HEPscore, generation "v0" (HEPscore19 0.x): `benchmarks.<wl>.report.run<k>.wl-scores` and
  `benchmarks.<wl>.ref_scores`, top-level `score`;
- HEPscore, generation "v1" (hep-score <= 1.5): `benchmarks.<wl>.run<k>.report.wl-scores`,
  top-level `wl-scores.<wl>{<sub>, <sub>_ref}`, `score`, `status`, `error`;
- hep-score v2 (schema not public): the same with the score under `report.score`; accepted.

Failures are never zeros: `score == -1`, `status == "failed"`, a workload run without a
report, or a workload missing from `wl-scores` all become `failed` records with value None.
HS06 and DB12 sections of the suite report are re-emitted with the suite's own calibration
("est. HS06" for the suite's DB12, which is not comparable with DIRAC DB12 values).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import guarded_detect, guarded_parse, json_object, line_of, load_json, peek_text, read_text, try_number

RUN_KEY = re.compile(r"^run(\d+)$")


def _flat(prefix: str, data, out: dict) -> dict:
    """Flatten nested metadata into 'a.b.c' keys with scalar values (for Record.extra)."""
    if isinstance(data, dict):
        for key, value in data.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), value, out)
    elif isinstance(data, (str, int, float, bool)) or data is None:
        out[prefix] = data
    return out


def host_metadata(report: dict) -> dict:
    """Host, software and hardware facts of a suite report as one flat dict."""
    host = report.get("host") if isinstance(report.get("host"), dict) else {}
    meta = {}
    for key in ("hostname", "ip"):
        if key in host:
            meta[key] = host[key]
    sw = host.get("SW") if isinstance(host.get("SW"), dict) else {}
    hw = host.get("HW") if isinstance(host.get("HW"), dict) else {}
    _flat("SW", sw, meta)
    cpu = hw.get("CPU") if isinstance(hw.get("CPU"), dict) else {}
    _flat("HW.CPU", cpu, meta)
    mem = hw.get("MEMORY") if isinstance(hw.get("MEMORY"), dict) else {}
    _flat("HW.MEMORY", mem, meta)
    suite = report.get("suite") if isinstance(report.get("suite"), dict) else {}
    _flat("suite", suite, meta)
    for key in ("_id", "_timestamp", "_timestamp_end", "json_version"):
        if key in report:
            meta[key] = report[key]
    return meta


def _runs(wl: dict, path: Path) -> tuple[list[tuple[int, dict | None]], str]:
    """[(k, report-or-None)] for a workload, and which generation's layout it used."""
    runs = []
    generation = "v1"
    for key, value in wl.items():
        m = RUN_KEY.match(str(key))
        if m and isinstance(value, dict):
            report = value.get("report") if isinstance(value.get("report"), dict) else None
            runs.append((int(m.group(1)), report))
    nested = wl.get("report")
    if not runs and isinstance(nested, dict):
        generation = "v0"
        for key, value in nested.items():
            m = RUN_KEY.match(str(key))
            if m:
                runs.append((int(m.group(1)), value if isinstance(value, dict) else None))
    runs.sort(key=lambda item: item[0])
    return runs, generation


def _median(values: list[float]) -> float:
    """hep-score's median over repetitions: the mean of the two middle values for even counts."""
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def hepscore_records(path: Path, data: dict, prefix: str = "") -> list[Record]:
    src = str(path)
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, dict):
        raise ParseError(path, None, f"{prefix}'benchmarks' as a JSON object in a HEPscore result")
    settings = data.get("settings") if isinstance(data.get("settings"), dict) else data
    app_info = data.get("app_info") if isinstance(data.get("app_info"), dict) else {}
    name = str(app_info.get("name") or settings.get("name") or data.get("name") or "HEPscore")
    report = data.get("report") if isinstance(data.get("report"), dict) else {}
    score = data.get("score", report.get("score"))
    status = str(data.get("status", report.get("status", "")) or "")
    top_wl = (
        data.get("wl-scores")
        if isinstance(data.get("wl-scores"), dict)
        else (report.get("wl-scores") if isinstance(report.get("wl-scores"), dict) else {})
    )
    common = {
        "hepscore_name": name,
        "hepscore_version": app_info.get("hepscore_ver", data.get("version")),
        "method": settings.get("method"),
        "scaling": settings.get("scaling"),
        "repetitions": settings.get("repetitions"),
    }
    records: list[Record] = []
    failed_wls: list[str] = []
    generations = set()
    for wl_name in sorted(benchmarks):
        wl = benchmarks[wl_name]
        if not isinstance(wl, dict):
            raise ParseError(path, None, f"{prefix}benchmarks.{wl_name} as a JSON object")
        runs, generation = _runs(wl, path)
        generations.add(generation)
        refs = wl.get("ref_scores") if isinstance(wl.get("ref_scores"), dict) else {}
        run_info = wl.get("run_info") if isinstance(wl.get("run_info"), dict) else {}
        wl_extra = {
            **common,
            "workload": wl_name,
            "copies": run_info.get("copies"),
            "threads_per_copy": run_info.get("threads_per_copy"),
            "version": wl.get("version"),
        }
        per_sub: dict[str, list[float]] = {}
        problems = []
        if not runs:
            problems.append("no run<k> entries")
        for k, run_report in runs:
            scores = run_report.get("wl-scores") if isinstance(run_report, dict) else None
            log = run_report.get("log") if isinstance(run_report, dict) else None
            if not isinstance(scores, dict) or not scores or (log not in (None, "ok")):
                problems.append(
                    f"run{k}: " + ("no report" if run_report is None else f"log={log!r}, wl-scores={scores!r}")
                )
                continue
            for sub, value in scores.items():
                v = try_number(value)
                if v is None or v <= 0:
                    problems.append(f"run{k}: {sub}={value!r}")
                    continue
                per_sub.setdefault(str(sub), []).append(v)
                records.append(
                    Record(
                        f"{wl_name}.{sub}",
                        "events_per_s_rep",
                        v,
                        "events/s",
                        True,
                        src,
                        extra={**wl_extra, "repetition": k},
                    )
                )
        final = top_wl.get(wl_name) if isinstance(top_wl.get(wl_name), dict) else {}
        subs = sorted(set(per_sub) | {k for k in final if not str(k).endswith("_ref")} | set(refs))
        if not subs:
            subs = ["score"]
        for sub in subs:
            values = per_sub.get(sub, [])
            ref = try_number(final.get(f"{sub}_ref", refs.get(sub)))
            reported = try_number(final.get(sub))
            value = reported if reported is not None else (_median(values) if values else None)
            ok = not problems and value is not None and value > 0
            detail = "" if ok else "workload failed: " + ("; ".join(problems) or "no score")
            records.append(
                Record(
                    f"{wl_name}.{sub}",
                    "events_per_s",
                    value if ok else None,
                    "events/s",
                    True,
                    src,
                    status="ok" if ok else "failed",
                    detail=detail,
                    extra={
                        **wl_extra,
                        "runs": len(values),
                        "reference": ref,
                        "from": "wl-scores" if reported is not None else "median of runs",
                    },
                )
            )
            if ref and ok:
                records.append(
                    Record(
                        f"{wl_name}.{sub}",
                        "ratio_to_reference",
                        value / ref,
                        "ratio",
                        True,
                        src,
                        extra={**wl_extra, "reference": ref},
                    )
                )
            if not ok:
                failed_wls.append(f"{wl_name}.{sub}")
    score_value = try_number(score)
    failed = status.lower() == "failed" or score_value is None or score_value < 0 or (status == "" and failed_wls)
    error = data.get("error", report.get("error"))
    detail = ""
    if failed:
        parts = [f"status={status or 'missing'}", f"score={score!r}"]
        if error:
            parts.append(f"error={error}")
        if failed_wls:
            parts.append("failed workloads: " + ", ".join(failed_wls))
        detail = "HEPscore failed: " + "; ".join(parts)
    elif failed_wls:
        detail = "score reported although workloads failed: " + ", ".join(failed_wls)
    records.append(
        Record(
            name,
            "score",
            None if failed else score_value,
            "HEPscore",
            True,
            src,
            status="failed" if failed else ("invalid" if failed_wls else "ok"),
            detail=detail,
            extra={**common, "generation": "/".join(sorted(generations)) or "v1", "failed_workloads": failed_wls},
        )
    )
    return records


def hs06_section_records(path: Path, key: str, section: dict) -> list[Record]:
    src = str(path)
    bits = 64 if key.endswith("64") else (32 if key.endswith("32") else None)
    extra = {
        "section": key,
        "bits": bits,
        "bset": section.get("bset"),
        "copies": section.get("copies"),
        "runcpu_args": section.get("runcpu_args"),
        "source": "hep-benchmark-suite (bc-truncated)",
    }
    records = []
    bmks = section.get("bmks") if isinstance(section.get("bmks"), dict) else {}
    for bench, values in sorted(bmks.items()):
        if not isinstance(values, list):
            continue
        for copy, value in enumerate(values):
            v = try_number(value)
            records.append(
                Record(
                    bench,
                    "ratio",
                    v,
                    "ratio",
                    True,
                    src,
                    copy=copy,
                    status="ok" if v is not None and v > 0 else "failed",
                    detail="" if v is not None and v > 0 else f"ratio {value!r}",
                    extra=extra,
                )
            )
    score = try_number(section.get("score"))
    ok = score is not None and score > 0
    num = section.get("num_bmks")
    complete = isinstance(num, int) and num == 7
    records.append(
        Record(
            "HS06" if bits != 64 else "HS06_64",
            "score",
            score if ok else None,
            "HS06",
            True,
            src,
            status=("ok" if complete else "invalid") if ok else "failed",
            detail=(
                ""
                if ok and complete
                else (
                    f"suite HS06 over {num} benchmarks ({section.get('bset')}), not the 7 of all_cpp"
                    if ok
                    else f"no valid score ({section.get('score')!r})"
                )
            ),
            extra={**extra, "avg_core_score": try_number(section.get("avg_core_score"))},
        )
    )
    return records


def suite_records(path: Path, report: dict) -> list[Record]:
    src = str(path)
    profiles = report.get("profiles")
    if not isinstance(profiles, dict):
        raise ParseError(path, None, "'profiles' as a JSON object in a hep-benchmark-suite report")
    meta = host_metadata(report)
    records: list[Record] = []
    cpus = try_number(meta.get("HW.CPU.CPU"))
    records.append(
        Record(
            "host",
            "logical_cpus",
            cpus,
            "cpus",
            True,
            src,
            status="ok" if cpus is not None else "invalid",
            detail="" if cpus is not None else "host.HW.CPU.CPU missing",
            extra=meta,
        )
    )
    mem = try_number(meta.get("HW.MEMORY.Mem_Total"))
    if mem is not None:
        records.append(Record("host", "memory_total", mem, "kB", True, src, extra={"hostname": meta.get("hostname")}))
    for key, section in profiles.items():
        lowered = str(key).lower()
        if not isinstance(section, dict):
            continue
        if lowered == "hepscore":
            records += hepscore_records(path, section, prefix="profiles.hepscore.")
        elif lowered in ("hs06", "hs06_32", "hs06_64"):
            records += hs06_section_records(path, lowered, section)
        elif lowered == "db12":
            from .db12 import suite_db12_records

            records += suite_db12_records(path, section)
        elif lowered == "spec2017":
            score = try_number(section.get("score"))
            records.append(
                Record(
                    "SPEC2017",
                    "score",
                    score,
                    "SPECrate2017",
                    True,
                    src,
                    status="ok" if score and score > 0 else "failed",
                    detail="" if score and score > 0 else f"score {section.get('score')!r}",
                    extra={"bset": section.get("bset"), "copies": section.get("copies")},
                )
            )
        elif lowered == "kv":
            from .kitvalidation import summary_records

            records += summary_records(path, section)
    for record in records:  # every record names the host it came from
        record.extra.setdefault("hostname", meta.get("hostname"))
    return records


def locate(text: str, records: list[Record], suite: bool) -> list[Record]:
    """Point each record at the JSON key it came from (approximate, by text search)."""
    base = ('"profiles"', '"hepscore"') if suite else ()
    out = []
    for r in records:
        extra = r.extra
        if "workload" in extra:
            needles = base + (f'"{extra["workload"]}"',)
            if "repetition" in extra:
                needles += (f'"run{extra["repetition"]}"',)
            line = line_of(text, *needles)
        elif r.benchmark == "host":
            line = line_of(text, '"host"', '"MEMORY"' if r.metric == "memory_total" else '"CPU"')
        elif "section" in extra:
            needles = ('"profiles"', f'"{extra["section"]}"')
            line = line_of(text, *needles, f'"{r.benchmark}"') if r.copy is not None else line_of(text, *needles)
        elif r.metric == "score" and r.unit == "HEPscore":
            line = line_of(text, *base) if suite else line_of(text, '"score"', last=True)
        elif r.benchmark in ("DB12", "SPEC2017"):
            line = line_of(text, '"profiles"', f'"{r.benchmark}"') or line_of(
                text, '"profiles"', f'"{r.benchmark.lower()}"'
            )
        else:
            line = r.source_line
        out.append(replace(r, source_line=line) if line is not None and r.source_line is None else r)
    return out


def kind_of(data) -> str | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("profiles"), dict) and ("host" in data or "suite" in data):
        return "suite"
    if isinstance(data.get("benchmarks"), dict) and (
        "score" in data
        or "wl-scores" in data
        or "app_info" in data
        or "settings" in data
        or isinstance(data.get("report"), dict)
    ):
        return "hepscore"
    return None


class HepscoreParser(Parser):
    format = "hepscore"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        if not path.is_file():
            return False
        head = peek_text(path, 4096).lstrip()
        if not head.startswith("{") or not ('"profiles"' in head or '"benchmarks"' in head or '"host"' in head):
            return False
        return kind_of(load_json(path)) is not None

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        text = read_text(path)
        data = json_object(path, load_json(path, text), "the top level")
        kind = kind_of(data)
        if kind == "suite":
            return locate(text, suite_records(path, data), suite=True)
        if kind == "hepscore":
            return locate(text, hepscore_records(path, data), suite=False)
        raise ParseError(
            path, 1, "a hep-benchmark-suite report ('host', 'profiles') or a HEPscore result ('benchmarks', 'score')"
        )


PARSER = HepscoreParser()
