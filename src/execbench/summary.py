"""The study summary: runs ok / failed / unavailable per payload and mode, why, and whether the
study has an answer at all.

Printed at the end of every study (`python -m execbench study-summary`, the workflow's last rule), shown on
the report's first screen and kept as results/tables/summary.json. A run counts as

  ok           its status is ok and it gave its payload's headline number (tables.headline_keys);
  failed       its status is failed, or it ran but gave no headline number (invalid score,
               parse error); the reason is taken from the payload's own log (execbench.diagnose),
               else from the parse errors, else from run.json;
  unavailable  the mode could not run on the host (run.json's reason).

The study has no answer (and the invocation exits non-zero unless `fail_without_answer: false`)
when a payload that ran has no ok bare-metal run, or when no mode could be compared with bare
metal at all (relative.csv is empty).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pandas as pd

OUTCOMES = ("ok", "failed", "unavailable")
BASELINE = "bare"


def _is_baseline(run: dict) -> bool:
    return run["mode"] == BASELINE or run.get("mode_kind") == BASELINE


def _mode_order(runs: list[dict]) -> list[str]:
    modes = sorted({r["mode"] for r in runs})
    baseline = sorted({r["mode"] for r in runs if _is_baseline(r)})
    return baseline + [m for m in modes if m not in baseline]


def _runs_with_headline(measurements: pd.DataFrame, headline: dict[str, tuple[str, str]]) -> set[str]:
    """run_ids that hold an ok machine-level value of their payload's headline number (of a
    payload without one, e.g. ingested KV logs of a single step: any ok machine-level value)."""
    if measurements is None or measurements.empty:
        return set()
    m = measurements[(measurements["status"] == "ok") & measurements["copy"].isna() & measurements["value"].notna()]
    found = set()
    for payload, rows in m.groupby("payload"):
        if payload not in headline:
            found |= set(rows["run_id"])
            continue
        benchmark, metric = headline[payload]
        rows = rows[rows["metric"] == metric]
        if benchmark == "geomean":  # a suite without its own score: >= 2 benchmarks of that metric
            counts = rows.groupby("run_id")["benchmark"].nunique()
            found |= set(counts[counts >= 2].index)
        else:
            found |= set(rows.loc[rows["benchmark"] == benchmark, "run_id"])
    return found


def _run_reasons(run: dict, log_reasons: list[dict], parse_errors: list[dict], has_number: bool,
                 headline: tuple[str, str] | None) -> tuple[str, list[dict]]:
    """(outcome, reasons) of one run."""
    if run["status"] == "unavailable":
        return "unavailable", [{"reason": run.get("reason") or "mode unavailable", "detail": "",
                                "source_file": "", "source_line": None}]
    if run["status"] == "ok" and has_number:
        return "ok", []
    if log_reasons:
        return "failed", log_reasons
    if parse_errors:
        first = parse_errors[0]
        where = f"{first['path']}" + ("" if first.get("line") in (None, "") else f":{first['line']}")
        return "failed", [{"reason": f"log not readable: expected {first['expected']}"[:300], "detail": where,
                           "source_file": first["path"], "source_line": first.get("line")}]
    if run["status"] != "ok":
        return "failed", [{"reason": run.get("reason") or "failed", "detail": "recorded by the harness (run.json)",
                           "source_file": "", "source_line": None}]
    what = f"{headline[0]}/{headline[1]}" if headline else "machine-level number"
    return "failed", [{"reason": f"no valid {what} in its logs", "detail": "", "source_file": "",
                       "source_line": None}]


def study_summary(runs: list[dict], measurements: pd.DataFrame, relative: pd.DataFrame,
                  headline: dict[str, tuple[str, str]], log_reasons: dict[str, list[dict]],
                  parse_errors: list[dict], not_compared: set[str] = frozenset()) -> dict:
    """The summary as JSON-ready data.

    runs: tables.ParsedRuns.runs rows (run_id, payload, mode, mode_kind, status, reason, ...);
    measurements: measurements.csv; relative: relative.csv; headline: payload -> (benchmark, metric);
    log_reasons: run_id -> parse.parse_run_dir's log_reasons; parse_errors: [{run_id, path, line,
    expected}]; not_compared: payloads that are never divided by bare metal (the audit): their
    runs are counted, but they need no bare-metal run and no comparison. Returns {runs, ok, failed, unavailable, modes, payloads: [{payload, modes: {mode:
    {runs, ok, failed, unavailable, compared, reasons: [{reason, outcome, runs, run_ids, detail,
    source_file, source_line}]}}}], no_number: [{payload, mode, why}], problems: [str], answer}."""
    with_number = _runs_with_headline(measurements, headline)
    errors_of = defaultdict(list)
    for error in parse_errors:
        errors_of[error["run_id"]].append(error)
    compared = set()
    if relative is not None and not relative.empty:
        for payload, mode in relative[["payload", "mode"]].itertuples(index=False):
            compared.add((payload, mode))
    modes = _mode_order(runs)
    cells: dict[str, dict[str, dict]] = defaultdict(dict)
    totals = Counter()
    for run in sorted(runs, key=lambda r: (r["payload"], r["mode"], r.get("copies") or 0, str(r.get("repetition")))):
        outcome, reasons = _run_reasons(run, log_reasons.get(run["run_id"], []), errors_of.get(run["run_id"], []),
                                        run["run_id"] in with_number, headline.get(run["payload"]))
        cell = cells[run["payload"]].setdefault(run["mode"], {
            "runs": 0, **{o: 0 for o in OUTCOMES}, "baseline": _is_baseline(run),
            "compared": (run["payload"], run["mode"]) in compared, "reasons": {}})
        cell["runs"] += 1
        cell[outcome] += 1
        totals[outcome] += 1
        for reason in reasons:
            entry = cell["reasons"].setdefault(reason["reason"], {
                "reason": reason["reason"], "outcome": outcome, "runs": 0, "run_ids": [],
                "detail": reason.get("detail", ""), "source_file": reason.get("source_file", ""),
                "source_line": reason.get("source_line")})
            if run["run_id"] not in entry["run_ids"]:
                entry["runs"] += 1
                entry["run_ids"].append(run["run_id"])
    payloads, no_number, problems = [], [], []
    for payload in sorted(cells):
        by_mode = cells[payload]
        for cell in by_mode.values():
            cell["reasons"] = sorted(cell["reasons"].values(), key=lambda e: (-e["runs"], e["reason"]))
        payloads.append({"payload": payload, "modes": {m: by_mode[m] for m in modes if m in by_mode}})
        bare_ok = sum(c["ok"] for c in by_mode.values() if c["baseline"])
        for mode in (m for m in modes if m in by_mode):
            cell = by_mode[mode]
            why = _why_no_number(cell, bare_ok, payload in not_compared)
            if why:
                no_number.append({"payload": payload, "mode": mode, "why": why})
        if not bare_ok and payload not in not_compared:
            bare = [c for c in by_mode.values() if c["baseline"]]
            why = "; ".join(r["reason"] for c in bare for r in c["reasons"][:2]) or "no bare-metal run at all"
            problems.append(f"{payload}: no valid bare-metal run ({why})")
    if runs and not compared:
        problems.append("no mode could be compared with bare metal at all")
    if not runs:
        problems.append("no runs at all")
    return {"runs": len(runs), **{o: totals[o] for o in OUTCOMES}, "modes": modes, "payloads": payloads,
            "no_number": no_number, "problems": problems, "answer": not problems}


def _why_no_number(cell: dict, bare_ok: int, not_compared: bool = False) -> str | None:
    """Why a payload x mode gave no number in the answer, or None when it gave one."""
    reasons = "; ".join(f"{r['reason']} ({r['runs']} of {cell['runs']} runs)" for r in cell["reasons"][:3])
    if cell["ok"] == 0:
        kind = "unavailable" if cell["unavailable"] == cell["runs"] else "every run failed"
        return f"{kind}: {reasons}" if reasons else kind
    if cell["baseline"] or cell["compared"] or not_compared:
        return None
    if not bare_ok:
        return "no valid bare-metal run to compare with"
    return "no bare-metal run with the same copies on the same host to compare with"


# --- rendering ---------------------------------------------------------------------------------


def cell_text(cell: dict | None) -> str:
    """'3 ok', '0 ok, 3 failed', '3 unavailable', '1 ok, 2 failed' ..."""
    if not cell:
        return "—"
    if cell["unavailable"] == cell["runs"]:
        return f"{cell['runs']} unavailable"
    parts = [f"{cell['ok']} ok"]
    parts += [f"{cell[o]} {o}" for o in ("failed", "unavailable") if cell[o]]
    return ", ".join(parts)


def reason_lines(summary: dict) -> list[tuple[str, dict]]:
    """(where, reason entry) per distinct reason: where = 'cpusuite: bare 2, docker 2' (runs per
    payload and mode); one reason shared by every payload is listed once."""
    grouped: dict[str, dict] = {}
    for p in summary["payloads"]:
        for mode, cell in p["modes"].items():
            for r in cell["reasons"]:
                entry = grouped.setdefault(r["reason"], {**r, "runs": 0, "where": defaultdict(dict)})
                entry["runs"] += r["runs"]
                entry["where"][p["payload"]][mode] = r["runs"]
    all_payloads = {p["payload"] for p in summary["payloads"]}
    out = []
    for entry in sorted(grouped.values(), key=lambda e: (e["outcome"] != "failed", -e["runs"], e["reason"])):
        where = entry.pop("where")
        mode_sets = {tuple(sorted(m)) for m in where.values()}
        if len(all_payloads) > 1 and set(where) == all_payloads and len(mode_sets) == 1:
            text = f"{', '.join(next(iter(mode_sets)))}, every payload"
        else:
            text = "; ".join(f"{p}: " + ", ".join(f"{m} {n}" for m, n in sorted(ms.items()))
                             for p, ms in sorted(where.items()))
        out.append((text, entry))
    return out


def _source(entry: dict) -> str:
    if not entry.get("source_file"):
        return ""
    line = entry.get("source_line")
    return f"{entry['source_file']}" + ("" if line in (None, "") else f":{line}")


def render_text(summary: dict, fail_without_answer: bool = True, summary_path: str = "") -> str:
    """The terminal summary (plain text, fixed-width table)."""
    modes = summary["modes"]
    head = (f"execbench study summary: {summary['runs']} runs: {summary['ok']} ok, {summary['failed']} failed, "
            f"{summary['unavailable']} unavailable" + (f"  ({summary_path})" if summary_path else ""))
    rows = [["payload", *modes]] + [[p["payload"], *(cell_text(p["modes"].get(m)) for m in modes)]
                                    for p in summary["payloads"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [head, ""] + ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    reasons = reason_lines(summary)
    if reasons:
        lines += ["", "Why runs gave no number (from the payloads' own logs where they say):"]
        for where, entry in reasons:
            lines.append(f"  {entry['outcome']}: {entry['reason']}")
            lines.append(f"      runs: {where}")
            source = _source(entry)
            if source:
                lines.append(f"      e.g. {source}" + (f": {entry['detail']}" if entry.get("detail") else ""))
    if summary["problems"]:
        lines += ["", "NO ANSWER: " + summary["problems"][0]] + [f"           {p}" for p in summary["problems"][1:]]
        lines.append("The study exits non-zero; tables and report are written. (fail_without_answer: false "
                     "keeps the exit status 0.)" if fail_without_answer else
                     "fail_without_answer is false: the exit status stays 0.")
    else:
        lines += ["", "Every payload has a valid bare-metal run and modes were compared with it."]
    return "\n".join(lines) + "\n"


def closing_lines(summary: dict, report_html: str, summary_json: str) -> list[str]:
    """The last lines of a failed invocation (the workflow's onerror handler): why the study has
    no answer and where to look; [] when it has one."""
    if not summary["problems"]:
        return []
    return [f"execbench: NO ANSWER: {p}" for p in summary["problems"]] + [
        f"execbench: summary above and in {summary_json}; report: {report_html}"]
