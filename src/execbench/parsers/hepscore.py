"""HEP-Benchmark-Suite reports and HEPscore results, every generation found in archives.

Generations read (`extra["generation"]` of the score record; fixtures in docs/log-formats.md):

| generation | shape | source of the layout |
|---|---|---|
| `v0` HEPscore19 0.x | `benchmarks.<wl>.report.run<k>.wl-scores`, `benchmarks.<wl>.ref_scores`, top-level `score`, `name`, `scaling` | hep-score 0.x `hepscore.py` (code index) |
| `v1` hep-score 1.0 - 1.5 | `benchmarks.<wl>.run<k>.report.{wl-scores, log}`, top-level `wl-scores.<wl>{<sub>, <sub>_ref}`, `score`, `status`, `error`, `settings`, `app_info` | NikitaP2001/hep-score-energy `hepscore/hepscore.py` (ChangeLog to 1.5) |
| `v2` hep-score 2.x | as v1; `app_info.hepscore_ver` 2.x, a `weight` per workload, no `ref_scores`, `environment.duration`; a nested `report.score` is accepted too | Codemeister14/HEPscoreUpdated `hep-score-v2.0rc6/hepscore/hepscore.py` |
| `summary` benchmarking-DB summary | a suite report whose `profiles.hepscore` lost `benchmarks` (logstash `copy_only_summary`), optionally inside an Elasticsearch hit (`_source`) and logstash's `message` | hep-benchmark-suite `tests/docker_compose_amq_to_es/` (vmspec-consumer.conf, ref_summary_output.json) |

Suite reports (`bmkrun_report.json`, suite v2.0 `json_version` "v2.0-dev"/"v2.0" with
`<uid>_<timestamp>` ids, suite v3 with `plugins` and uuid ids):
`host{hostname, SW{...}, HW{CPU{...}, MEMORY{...}}}`, `suite{version, flags}`,
`profiles{hepscore, hs06_32|hs06_64|hs06, spec2017, DB12|db12, kv}`. The parts a suite run directory
holds (`HS06/hs06_result.json` = `{"hs06_32": {...}}`, `SPEC2017/spec2017_result.json`) are read
alone too. HS06 and DB12 sections are re-emitted with the suite's own calibration ("est. HS06"
for the suite's DB12, which is not comparable with DIRAC DB12 values).

Validity of the score, whatever the tool's `status` string says (kept as `extra["tool_status"]`
beside the parsed status): `status == "failed"` or `score == -1` or no numeric score -> `failed`;
a score <= 0, no workloads, a failed workload, or a score that does not follow from the
workloads the result lists (HEPscore's own formula, `recomputed_score`, 0.1 % tolerance: a
workload is missing) -> `invalid`. Neither has a value: there is no partial HEPscore.
Failures are never zeros: a workload run without a report, or a workload missing from
`wl-scores`, gives `failed` workload records with value None.
"""

from __future__ import annotations

import math
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


def _generation(data: dict, benchmarks: dict | None, layouts: set) -> str:
    """Which report generation a HEPscore result is (module docstring)."""
    if benchmarks is None:
        return "summary"
    if "v0" in layouts:
        return "v0"
    version = str((data.get("app_info") or {}).get("hepscore_ver") or "") if isinstance(data.get("app_info"), dict) else ""
    return "v2" if version.startswith("2") or isinstance(data.get("report"), dict) else "v1"


def recomputed_score(data: dict, benchmarks: dict | None, top_wl: dict) -> float | None:
    """HEPscore's own formula from the workloads the result lists: per workload the geometric mean
    of its sub-scores / reference, each rounded to 4 decimals; the weighted geometric mean over
    workloads times `scaling` (hep-score hepscore.py `_proc_results`, `gen_score`). None when the
    result does not carry what the formula needs (method, scaling, a reference per sub-score)."""
    settings = data.get("settings") if isinstance(data.get("settings"), dict) else data
    scaling = try_number(settings.get("scaling"))
    if settings.get("method", "geometric_mean") != "geometric_mean" or not scaling or not top_wl:
        return None
    logs, weights = 0.0, 0.0
    for wl_name, scores in top_wl.items():
        if not isinstance(scores, dict):
            return None
        subs = [k for k in scores if not str(k).endswith("_ref")]
        ratios = []
        for sub in subs:
            value, ref = try_number(scores.get(sub)), try_number(scores.get(f"{sub}_ref"))
            if value is None or not ref or value <= 0 or ref <= 0:
                return None
            ratios.append(round(value / ref, 4))
        if not ratios or min(ratios) <= 0:
            return None
        wl = (benchmarks or {}).get(wl_name) if isinstance(benchmarks, dict) else None
        weight = try_number(wl.get("weight")) if isinstance(wl, dict) and wl.get("weight") is not None else 1.0
        if not weight or weight <= 0:
            return None
        logs += weight * math.fsum(math.log(r) for r in ratios) / len(ratios)
        weights += weight
    return math.exp(logs / weights) * scaling


SCORE_TOLERANCE = 1e-3  # relative: hep-score rounds ratios and the score to 4 decimals


def hepscore_records(path: Path, data: dict, prefix: str = "") -> list[Record]:
    src = str(path)
    benchmarks = data.get("benchmarks")
    top_wl_raw = data.get("wl-scores")
    report = data.get("report") if isinstance(data.get("report"), dict) else {}
    if not isinstance(top_wl_raw, dict):
        top_wl_raw = report.get("wl-scores") if isinstance(report.get("wl-scores"), dict) else None
    if benchmarks is None and top_wl_raw is not None:
        pass  # a benchmarking-DB summary: the per-run workload reports were removed, wl-scores kept
    elif not isinstance(benchmarks, dict):
        raise ParseError(path, None, f"{prefix}'benchmarks' as a JSON object in a HEPscore result (or "
                                     f"{prefix}'wl-scores' in a benchmarking-DB summary)")
    top_wl = top_wl_raw or {}
    settings = data.get("settings") if isinstance(data.get("settings"), dict) else data
    app_info = data.get("app_info") if isinstance(data.get("app_info"), dict) else {}
    name = str(app_info.get("name") or settings.get("name") or data.get("name") or "HEPscore")
    score = data.get("score", report.get("score"))
    tool_status = data.get("status", report.get("status"))
    status = str(tool_status or "")
    common = {
        "hepscore_name": name,
        "hepscore_version": app_info.get("hepscore_ver", data.get("version")),
        "method": settings.get("method"),
        "scaling": settings.get("scaling"),
        "repetitions": settings.get("repetitions"),
    }
    records: list[Record] = []
    failed_wls: list[str] = []
    layouts = set()
    workload_names = sorted(benchmarks) if isinstance(benchmarks, dict) else sorted(top_wl)
    for wl_name in workload_names:
        if isinstance(benchmarks, dict):
            wl = benchmarks[wl_name]
            if not isinstance(wl, dict):
                raise ParseError(path, None, f"{prefix}benchmarks.{wl_name} as a JSON object")
            runs, layout = _runs(wl, path)
            layouts.add(layout)
        else:
            wl, runs = {}, []
        refs = wl.get("ref_scores") if isinstance(wl.get("ref_scores"), dict) else {}
        run_info = wl.get("run_info") if isinstance(wl.get("run_info"), dict) else {}
        wl_extra = {
            **common,
            "workload": wl_name,
            "copies": run_info.get("copies"),
            "threads_per_copy": run_info.get("threads_per_copy"),
            "version": wl.get("version"),
            "weight": wl.get("weight"),
        }
        per_sub: dict[str, list[float]] = {}
        problems = []
        if isinstance(benchmarks, dict) and not runs:
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
        if top_wl and not final:
            problems.append("missing from wl-scores")
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
    generation = _generation(data, benchmarks if isinstance(benchmarks, dict) else None, layouts)
    score_value = try_number(score)
    error = data.get("error", report.get("error"))
    # The tool's status string is kept, never trusted alone: a "success" without workloads, with a
    # score <= 0, or with a score its own workloads do not give is not a HEPscore.
    why_failed, why_invalid = [], []
    if status.lower() == "failed" or score_value == -1:
        why_failed.append(f"status={status or 'missing'}, score={score!r}")
    elif score_value is None:
        why_failed.append(f"no numeric score (score={score!r})")
    elif score_value <= 0:
        why_invalid.append(f"score {score_value:g} <= 0 although status={status or 'missing'}")
    if not workload_names:
        why_invalid.append("no workloads in the result")
    if failed_wls:
        (why_failed if why_failed else why_invalid).append("failed workloads: " + ", ".join(failed_wls))
    expected = recomputed_score(data, benchmarks if isinstance(benchmarks, dict) else None, top_wl)
    if (not why_failed and not why_invalid and expected is not None and score_value
            and abs(score_value - expected) > SCORE_TOLERANCE * abs(expected)):
        why_invalid.append(f"score {score_value:g} does not follow from the workloads in the result "
                           f"({expected:.4f}): a workload is missing or was changed")
    if error and (why_failed or why_invalid):
        (why_failed or why_invalid).append(f"error={error}")
    parsed_status = "failed" if why_failed else ("invalid" if why_invalid else "ok")
    records.append(
        Record(
            name,
            "score",
            score_value if parsed_status == "ok" else None,
            "HEPscore",
            True,
            src,
            status=parsed_status,
            detail="" if parsed_status == "ok" else f"HEPscore {parsed_status}: " + "; ".join(why_failed + why_invalid),
            extra={
                **common,
                "generation": generation,
                "tool_status": tool_status,
                "reported_score": score,
                "recomputed_score": expected,
                "failed_workloads": failed_wls,
                "workloads": len(workload_names),
            },
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


def section_records(path: Path, key: str, section: dict) -> list[Record]:
    """A suite profile section that is a SPEC score: hs06 / hs06_32 / hs06_64 or spec2017."""
    if key in ("hs06", "hs06_32", "hs06_64"):
        return hs06_section_records(path, key, section)
    score = try_number(section.get("score"))
    ok = score is not None and score > 0
    return [Record("SPEC2017", "score", score if ok else None, "SPECrate2017", True, str(path),
                   status="ok" if ok else "failed", detail="" if ok else f"score {section.get('score')!r}",
                   extra={"bset": section.get("bset"), "copies": section.get("copies"), "section": key})]


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
            records += section_records(path, lowered, section)
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
            needles = ('"profiles"', f'"{extra["section"]}"') if suite else (f'"{extra["section"]}"',)
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


SUITE_PART_KEYS = {"hs06", "hs06_32", "hs06_64", "spec2017"}


def unwrap(data):
    """A benchmarking-DB document as exported: an Elasticsearch hit (`_source`) and/or logstash's
    `message` field around the suite report (hep-benchmark-suite
    tests/docker_compose_amq_to_es/logstash_conf/vmspec-consumer.conf). Returns (report, wrappers)."""
    wrappers = []
    while isinstance(data, dict) and kind_of(data, unwrap_first=False) is None:
        key = next((k for k in ("_source", "message") if isinstance(data.get(k), dict)), None)
        if key is None:
            break
        data = data[key]
        wrappers.append(key)
    return data, wrappers


def kind_of(data, unwrap_first: bool = True) -> str | None:
    if not isinstance(data, dict):
        return None
    if unwrap_first:
        data, _ = unwrap(data)
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
    if isinstance(data.get("wl-scores"), dict) and "score" in data and ("app_info" in data or "settings" in data):
        return "hepscore"  # the benchmarking-DB summary: benchmarks removed
    if data and set(data) <= SUITE_PART_KEYS and all(isinstance(v, dict) and "score" in v for v in data.values()):
        return "suite-part"  # HS06/hs06_result.json or SPEC2017/spec2017_result.json of a suite run directory
    return None


class HepscoreParser(Parser):
    format = "hepscore"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        if not path.is_file():
            return False
        head = peek_text(path, 4096).lstrip()
        if not head.startswith("{") or not any(
            key in head for key in ('"profiles"', '"benchmarks"', '"host"', '"wl-scores"', '"hs06', '"spec2017"')
        ):
            return False
        return kind_of(load_json(path)) is not None

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        text = read_text(path)
        data, wrappers = unwrap(json_object(path, load_json(path, text), "the top level"))
        kind = kind_of(data, unwrap_first=False)
        if kind == "suite":
            records = locate(text, suite_records(path, data), suite=True)
        elif kind == "hepscore":
            records = locate(text, hepscore_records(path, data), suite=False)
        elif kind == "suite-part":
            records = []
            for key, section in data.items():
                records += (section_records(path, key.lower(), section))
            records = locate(text, records, suite=False)
        else:
            raise ParseError(
                path, 1, "a hep-benchmark-suite report ('host', 'profiles'), a HEPscore result ('benchmarks', "
                         "'score'), a benchmarking-DB summary ('wl-scores', 'score') or a suite result part "
                         "({'hs06_32': ...}, {'spec2017': ...})"
            )
        if wrappers:
            for record in records:
                record.extra["document"] = "benchmarking DB (" + " > ".join(wrappers) + ")"
        return records


PARSER = HepscoreParser()
