"""The host audit across a study: findings per host and mode, the runs an ABI finding marks, the
first-screen lines of a host with a blocking finding, and the difference between two hosts.

    parsed audit runs (records of execbench.parsers.audit) ─► results/tables/audit.json  (AUDIT_FORMAT)
                                                          └► results/tables/audit.csv   (COLUMNS, one row
                                                                                          per finding)

audit.json, per host: the audit runs (mode, status, reason, counts), every finding (scope host,
mode or abi; item, title, verdict, summary, evidence, its native log), the blocking ones, and
`abi`: the filesystems on which 32-bit software breaks, per mode, with the run ids of every run
of that host and mode (all of them used those filesystems: the same results tree, image and
/tmp). Two hosts are compared item by item with `diff_hosts` (`python -m execbench audit-diff`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

AUDIT_PAYLOAD = "audit"
AUDIT_FORMAT = "execbench-audit-table"
VERDICTS = ("ok", "warning", "blocking")
COLUMNS = ["host", "mode", "mode_kind", "scope", "item", "title", "verdict", "summary", "evidence", "run_id",
           "source_file"]
SCOPES = ("host", "mode", "abi")


def _host(run: dict) -> str:
    host = run.get("host")
    return str(host.get("hostname", "unknown")) if isinstance(host, dict) else str(host or "unknown")


def audit_table(parsed_paths: Iterable[str | Path]) -> dict:
    """audit.json's content from parsed runs: parsed-run JSONs and batch JSON Lines files alike
    (execbench.parse.read_parsed; any payload). Unreadable runs are skipped: the tables stage
    lists them."""
    from .tables import _parsed_entries  # tables imports this module

    hosts: dict[str, dict] = {}
    runs_by_host_mode: dict[tuple[str, str], list[str]] = {}
    for _where, doc in _parsed_entries(parsed_paths):
        run = doc.get("run") if isinstance(doc, dict) else None  # doc: a parsed run or the reader's error
        if not isinstance(run, dict):
            continue
        host, mode = _host(run), str(run.get("mode"))
        if run.get("payload") != AUDIT_PAYLOAD:
            runs_by_host_mode.setdefault((host, mode), []).append(str(run.get("run_id")))
            continue
        entry = hosts.setdefault(host, {"host": host, "runs": [], "findings": []})
        records = [r for r in doc.get("records") or [] if isinstance(r, dict)]
        counts = next((r.get("extra", {}) for r in records if r.get("benchmark") == "audit"), {})
        entry["runs"].append({"mode": mode, "mode_kind": run.get("mode_kind") or mode,
                              "run_id": run.get("run_id"), "status": run.get("status"),
                              "reason": run.get("reason") or "",
                              "parse_errors": [e.get("expected") for e in doc.get("errors") or []],
                              "counts": {v: counts.get(v, 0) for v in VERDICTS}})
        for record in records:
            extra = record.get("extra") or {}
            if record.get("metric") != "verdict" or extra.get("scope") not in SCOPES:
                continue
            entry["findings"].append({
                "host": host, "mode": mode, "mode_kind": run.get("mode_kind") or mode, "scope": extra["scope"],
                "item": record["benchmark"], "title": extra.get("title", record["benchmark"]),
                "verdict": extra.get("verdict"), "summary": extra.get("summary", ""),
                "evidence": extra.get("evidence", ""), "run_id": run.get("run_id"),
                "source_file": record.get("source_file", ""),
                **{k: extra[k] for k in ("filesystem", "path", "fstype", "mount_options", "super_options")
                   if k in extra}})
    out = []
    for host in sorted(hosts):
        entry = hosts[host]
        entry["runs"].sort(key=lambda r: r["mode"])
        # host items once per host (every mode's audit run records them), the rest per mode
        distinct = host_items(entry) + [f for f in entry["findings"] if f["scope"] != "host"]
        entry["counts"] = {v: sum(f["verdict"] == v for f in distinct) for v in VERDICTS}
        entry["blocking"] = [f for f in distinct if f["verdict"] == "blocking"]
        broken = [f for f in entry["findings"] if f["scope"] == "abi" and f["verdict"] == "blocking"]
        entry["abi"] = {
            "broken": [{k: f.get(k) for k in ("mode", "filesystem", "path", "fstype", "summary", "evidence")}
                       for f in broken],
            "affected_runs": {mode: sorted(runs_by_host_mode.get((host, mode), []))
                              for mode in sorted({f["mode"] for f in broken})},
        }
        out.append(entry)
    return {"format": AUDIT_FORMAT, "version": 1, "verdicts": list(VERDICTS), "hosts": out}


def write_audit_tables(parsed_paths: Iterable[str | Path], out_dir: str | Path) -> dict[str, Path]:
    """results/tables/audit.json and audit.csv (written even when no audit ran: then empty)."""
    out = Path(out_dir)
    table = audit_table(parsed_paths)
    files = {"audit_json": out / "audit.json", "audit_csv": out / "audit.csv"}
    files["audit_json"].write_text(json.dumps(table, indent=1) + "\n")
    with open(files["audit_csv"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for host in table["hosts"]:
            writer.writerows(host["findings"])
    return files


def read_audit_table(path: str | Path) -> dict | None:
    """audit.json, or None when the tables predate the audit."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def host_items(entry: dict) -> list[dict]:
    """The host-scope findings of one host, once per item: the same facts are recorded by the
    audit run of every mode; where modes disagree (a setting changed between runs) each
    distinct verdict is kept with the modes that saw it."""
    grouped: dict[str, dict[tuple, dict]] = {}
    for finding in entry["findings"]:
        if finding["scope"] != "host":
            continue
        key = (finding["verdict"], finding["summary"])
        seen = grouped.setdefault(finding["item"], {}).setdefault(key, {**finding, "modes": []})
        seen["modes"].append(finding["mode"])
    return [seen for variants in grouped.values() for seen in variants.values()]


def blocking_lines(table: dict | None) -> list[str]:
    """One sentence per host with a blocking finding (the report's first screen)."""
    lines = []
    for entry in (table or {}).get("hosts", []):
        if not entry["blocking"]:
            continue
        by_item: dict[str, dict] = {}
        for finding in entry["blocking"]:
            seen = by_item.setdefault(finding["item"], {**finding, "modes": []})
            seen["modes"] += finding.get("modes") or [finding["mode"]]
        parts = [f"{f['title']} ({', '.join(sorted(set(f['modes'])))}): {f['summary']}" for f in by_item.values()]
        lines.append(f"Host {entry['host']}: {len(by_item)} blocking audit finding"
                     f"{'' if len(by_item) == 1 else 's'}. " + " ".join(p.rstrip(".") + "." for p in parts))
    return lines


def diff_hosts(table_a: dict, host_a: str, table_b: dict | None = None, host_b: str | None = None) -> list[dict]:
    """Items whose verdict or summary differ between two hosts (of one audit.json, or of two),
    host items once per host, mode and ABI items per mode. Rows: {scope, mode, item, title,
    verdict_a, verdict_b, summary_a, summary_b, evidence_a, evidence_b}; an item one host lacks has
    verdict None there. Raises KeyError naming a host that is not in its table."""
    table_b = table_b or table_a

    def items(table: dict, host: str) -> dict:
        entry = next((h for h in table["hosts"] if h["host"] == host), None)
        if entry is None:
            raise KeyError(f"host {host!r} not in the audit table (hosts: {[h['host'] for h in table['hosts']]})")
        found = {("host", "", f["item"]): f for f in host_items(entry)}
        found.update({(f["scope"], f["mode"], f["item"]): f for f in entry["findings"] if f["scope"] != "host"})
        return found

    a, b = items(table_a, host_a), items(table_b, host_b or host_a)
    rows = []
    for key in sorted(set(a) | set(b)):
        fa, fb = a.get(key), b.get(key)
        # the summary, not the evidence: evidence holds pids, container names and file counts
        if fa and fb and (fa["verdict"], fa["summary"]) == (fb["verdict"], fb["summary"]):
            continue
        rows.append({"scope": key[0], "mode": key[1], "item": key[2], "title": (fa or fb)["title"],
                     "verdict_a": fa and fa["verdict"], "verdict_b": fb and fb["verdict"],
                     "summary_a": fa and fa["summary"], "summary_b": fb and fb["summary"],
                     "evidence_a": fa and fa["evidence"], "evidence_b": fb and fb["evidence"]})
    return rows
