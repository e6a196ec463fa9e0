"""The report: results/report/index.html (one self-contained file) and report.md.

index.html embeds every figure (base64 PNG), so it can be mailed or archived alone. It holds the
question, the answer tables (from relative.csv; one sub-section per host when there are several),
the cross-host summary (from cross_hosts.csv: the spread of the per-host ratios), the figures, provenance (hosts, CPUs, kernels,
engine/runtime versions, image digests, config) and everything that was left out with the reason
(failed and unavailable runs, parse errors, failed records, skipped ingest inputs).

Rebuilding from raw logs alone is the workflow's `--config from_raw=true`: the only rebuild path.
"""

from __future__ import annotations

import base64
import html
import json
import math
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from . import __version__, environment, figures, findings, glance, startup_cost, stats, tables
from .hostinfo import baseline_label
from . import summary as summary_module
from .paths import REPO_ROOT

QUESTION = ("What does it cost to run HEP/NP batch workloads in a container (Docker, rootless Podman) "
            "or a VM instead of on bare metal, on the same host and the same userland?")


def _e(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return html.escape(str(x))


def _pct(x, decimals: int = 2) -> str:
    """A fraction (1.0 = bare metal) as a percent."""
    return _pct_points(None if x is None else 100 * x, decimals)


def _pct_points(x, decimals: int = 2) -> str:
    """A value already in percent (cross_hosts.csv)."""
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "—"
    return f"{x:.{decimals}f} %"


def _plain_pct(x) -> str:
    """'1.3 %' for a value already in percent (a half-width, an MDE); '—' when missing."""
    return "—" if x is None or pd.isna(x) or not math.isfinite(float(x)) else f"{float(x):.1f} %"


def _times(x, significant: int = 4) -> str:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "—"
    return f"{x:.{significant}g}×"


def _pct_bounds(lo, hi) -> tuple[str, str]:
    """An interval of fractions as percents, with as many decimals as it takes to stay on the side of
    100 % its verdict says (stats.interval_digits)."""
    d = stats.interval_digits(100 * lo, 100 * hi, 100.0, 2)
    return _pct(lo, d), _pct(hi, d)


def _times_bounds(lo, hi) -> tuple[str, str]:
    d = stats.interval_digits(lo, hi, 1.0, 4, significant=True)
    return _times(lo, d), _times(hi, d)


def _ci(lo, hi, verdict: str = stats.NO_INTERVAL_N1) -> str:
    if lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return "no interval (n=1)" if verdict == stats.NO_INTERVAL_N1 else "unbounded"
    low, high = _pct_bounds(lo, hi)
    return f"[{low}, {high}]"


def _ratio_ci(r) -> str:
    """The metric's own ratio (e.g. 1.012× the bare-metal time) with its interval."""
    if pd.isna(r.ratio_ci_low):
        return f"{_times(r.ratio)} ({_ci(None, None, r.verdict)})"
    low, high = _times_bounds(r.ratio_ci_low, r.ratio_ci_high)
    return f"{_times(r.ratio)} [{low}, {high}]"


def _html_table(headers: list[str], rows: list[list], css: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _md_table(headers: list[str], rows: list[list]) -> str:
    def cell(c):
        return str(c).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def _verdict_html(verdict: str, flag: str) -> str:
    cls = {"slower": "slower", "faster": "faster"}.get(verdict, "ns")
    text = f'<span class="{cls}">{_e(verdict)}</span>'
    return text + (f'<br><span class="flag">{_e(flag)}</span>' if flag else "")


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class ReportData:
    """The tables and figure list a report is rendered from."""

    def __init__(self, tables_dir: Path, figures_dir: Path, config_path: Path | None = None, from_raw: bool = False):
        self.tables_dir, self.figures_dir = Path(tables_dir), Path(figures_dir)
        self.from_raw = from_raw
        read = self.tables = tables.read_tables(self.tables_dir)
        self.relative, self.relative_meta, self.scaling = read.relative, read.relative_meta, read.scaling
        self.cross_hosts, self.runs, self.measurements = read.cross_hosts, read.runs, read.measurements
        self.excluded, self.summary, self.inputs = read.excluded, read.summary, read.inputs
        self.environment = read.environment
        self.env_differences = environment.differences(read.environment)
        self.clock = read.clock
        figures_list = json.loads((self.figures_dir / "figures.json").read_text())
        # only figures with data are shown; the others are named in one line
        self.figures = [f for f in figures_list if f.get("has_data", True)]
        self.figures_without_data = [f for f in figures_list if not f.get("has_data", True)]
        paths = [] if not config_path else [config_path] if isinstance(config_path, (str, Path)) else config_path
        self.configs = [(str(p), Path(p).read_text()) for p in paths if Path(p).is_file()]

    # --- sections as (headers, rows) so HTML and Markdown share them -------------------------

    def compared_hosts(self) -> list[str]:
        """The hosts with at least one comparison with their own bare metal."""
        return sorted(set(self.relative["host"].astype(str)))

    def control_modes(self) -> dict[str, str]:
        """mode -> "negative" | "positive": the modes that are controls of the study's resolving
        power (modes.<name>.control), never answers."""
        return glance.control_modes(self.tables)  # "none" (the config's default) is no control

    def _headline_cells(self, payload: str, benchmark: str, metric: str, host: str | None,
                        controls: bool = False) -> pd.DataFrame:
        rel = self.relative
        sel = rel[(rel["payload"] == payload) & (rel["benchmark"] == benchmark) & (rel["metric"] == metric)]
        is_control = sel["mode"].astype(str).isin(set(self.control_modes()))
        sel = sel[is_control] if controls else sel[~is_control]
        return sel if host is None else sel[sel["host"].astype(str) == host]

    def control_sentences(self) -> list[str]:
        """One sentence per control cell at a headline: its number and whether it came out as a
        control must (negative: not significant; positive: slower)."""
        out, kinds = [], self.control_modes()
        for payload, (benchmark, metric) in sorted(self.relative_meta.get("headline", {}).items()):
            for r in self._headline_cells(payload, benchmark, metric, None, controls=True).itertuples():
                kind = kinds.get(str(r.mode), "")
                ci = ("" if pd.isna(r.perf_ci_low) else
                      "95 % CI {}–{}, ".format(*_pct_bounds(r.perf_ci_low, r.perf_ci_high)))
                if kind == "negative":
                    what = "bare metal under a second label (A/A)"
                    ok = r.verdict == "not significant"
                    judged = ("as it must: no difference found where there is none" if ok else
                              "NOT as it must: a difference found where there is none; the intervals of this "
                              "study are too narrow or the host changed between rounds")
                else:
                    what = "a known slowdown"
                    ok = r.verdict == "slower"
                    judged = ("detected, as it must be" if ok else
                              "NOT detected: this study cannot resolve a slowdown of this size")
                if r.verdict == stats.NO_INTERVAL_N1:
                    judged = "no interval: too few rounds to judge"
                out.append(f"{kind.capitalize()} control {r.mode} ({what}) on {r.host}: {payload} "
                           f"({benchmark} {metric}) at {r.copies} cop{'y' if r.copies == 1 else 'ies'} "
                           f"{_pct(r.relative_performance)} of bare metal ({ci}{r.verdict}): {judged}.")
        return out

    def headline_rows(self, fmt: str, host: str | None = None):
        """The headline comparisons, of one host or (host=None) of all."""
        # the paired analysis's resolving power (issue 17), when the table has it
        power = "mde_pct" in self.relative.columns
        headers = ["host", "payload", "headline", "copies", "mode", "% of bare metal", "95 % CI",
                   "mode ÷ bare [95 % CI]", "n (mode/bare)"] + (
                      ["± (half-width)", "MDE", "rounds needed"] if power else []) + ["verdict", "environment differs in"]
        rows = []
        for payload, (benchmark, metric) in sorted(self.relative_meta.get("headline", {}).items()):
            sel = self._headline_cells(payload, benchmark, metric, host)
            for r in sel.itertuples():
                verdict = (_verdict_html(r.verdict, r.flag) if fmt == "html"
                           else r.verdict + (f" — {r.flag}" if r.flag else ""))
                n = f"{r.n_mode}/{r.n_bare}" + (f", {int(r.n_pairs)} pairs" if power and pd.notna(r.n_pairs) else "")
                extra = [_plain_pct(r.half_width_pct), _plain_pct(r.mde_pct),
                         "—" if pd.isna(r.rounds_needed) else f"{int(r.rounds_needed)}"] if power else []
                rows.append([_e(r.host), _e(payload), _e(f"{benchmark}/{metric}"), r.copies, _e(r.mode),
                             _pct(r.relative_performance), _ci(r.perf_ci_low, r.perf_ci_high, r.verdict),
                             _ratio_ci(r), n, *extra, verdict, _e(self.env_keys(r.host, r.mode))])
        return headers, rows

    def cross_host_rows(self):
        """The cross-host summary of the headline cells: spread of the hosts' own % of bare metal."""
        headers = ["payload", "headline", "copies", "mode", "hosts", "median % of bare metal", "min", "max",
                   "q25–q75", "per-host verdicts", "host list"]
        ch = self.cross_hosts
        rows = []
        for payload, (benchmark, metric) in sorted(self.relative_meta.get("headline", {}).items()):
            sel = ch[(ch["payload"] == payload) & (ch["benchmark"] == benchmark) & (ch["metric"] == metric)]
            for r in sel.itertuples():
                iqr = ("— (needs ≥ 4 hosts)" if pd.isna(r.q25_percent_of_bare)
                       else f"{_pct_points(r.q25_percent_of_bare)}–{_pct_points(r.q75_percent_of_bare)}")
                verdicts = (f"{r.n_slower} slower, {r.n_faster} faster, {r.n_not_significant} not significant, "
                            f"{r.n_no_interval} no interval")
                mode = r.mode + (f" ({r.flag})" if r.flag else "")
                rows.append([_e(payload), _e(f"{benchmark}/{metric}"), r.copies, _e(mode), r.hosts,
                             _pct_points(r.median_percent_of_bare), _pct_points(r.min_percent_of_bare),
                             _pct_points(r.max_percent_of_bare), iqr, verdicts,
                             _e(r.host_list.replace(",", ", "))])
        return headers, rows

    def cross_host_note(self) -> str | None:
        """The sentence that stands for the summary when fewer than 2 hosts have comparisons, else None."""
        hosts = self.compared_hosts()
        if len(hosts) > 1:
            return None
        which = f" ({hosts[0]})" if hosts else ""
        return (f"A cross-host summary needs per-host comparisons from at least 2 hosts; this study has them "
                f"from {len(hosts)} host{'' if len(hosts) == 1 else 's'}{which}.")

    def env_keys(self, host, mode) -> str:
        """The environment keys in which `mode` differs from bare metal on `host` (for the tables)."""
        found = self.env_differences.get((str(host), str(mode)), [])
        return ", ".join(d.split(" ", 1)[0] for d in found) or "—"

    def environment_rows(self):
        """Every key in which a mode's environment differed from bare metal's, with both values."""
        headers = ["host", "mode", "key", "value in the mode", "value in bare metal", "copies seen"]
        env = self.environment
        rows = [[_e(r.host), _e(r.mode), _e(r.key), _e(r.value), _e(r.bare_value), r.copies_seen]
                for r in env[env["differs"].astype(str).isin(["True", "true", "1"])].itertuples()]
        return headers, rows

    def relative_rows(self, fmt: str):
        headers = ["host", "payload", "benchmark", "metric", "copies", "mode", "mean (mode)", "mean (bare)",
                   "unit", "% of bare metal", "95 % CI", "mode ÷ bare [95 % CI]", "n", "verdict", "note",
                   "environment differs from bare metal in"]
        rows = []
        for r in self.relative.itertuples():
            verdict = (_verdict_html(r.verdict, r.flag) if fmt == "html"
                       else r.verdict + (f" — {r.flag}" if r.flag else ""))
            note = r.note + (f" geomean of {r.geomean_of}" if r.geomean_of else "")
            rows.append([_e(r.host), _e(r.payload), _e(r.benchmark), _e(r.metric), r.copies, _e(r.mode),
                         f"{r.mean_mode:.5g}", f"{r.mean_bare:.5g}", _e(r.unit), _pct(r.relative_performance),
                         _ci(r.perf_ci_low, r.perf_ci_high, r.verdict), _ratio_ci(r), f"{r.n_mode}/{r.n_bare}", verdict,
                         _e(note), _e(self.env_keys(r.host, r.mode))])
        return headers, rows

    def scaling_rows(self):
        headers = ["host", "payload", "headline [unit]", "mode", "copies", "mean", "95 % CI", "n", "per copy",
                   "scaling efficiency"]
        rows = []
        for r in self.scaling.itertuples():
            ci = "no interval" if pd.isna(r.ci_low) else f"[{r.ci_low:.4g}, {r.ci_high:.4g}]"
            eff = "—" if pd.isna(r.scaling_efficiency) else f"{100 * r.scaling_efficiency:.1f} %"
            mode = r.mode + (" (emulated, TCG)" if r.emulated else "")
            rows.append([_e(r.host), _e(r.payload), _e(f"{r.benchmark}/{r.metric} [{r.unit}]"), _e(mode), r.copies,
                         f"{r.mean:.4g}", ci, r.n, f"{r.per_copy:.4g}", eff])
        return headers, rows

    def startup_rows(self):
        m = self.measurements
        sel = m[(m["payload"] == figures.STARTUP_PAYLOAD) & (m["run_status"] == "ok") & (m["status"] == "ok")
                & m["copy"].notna() & (m["unit"] == "s")]
        headers = ["host", "mode", "samples", "median [ms]", "10th pct [ms]", "90th pct [ms]", "max [ms]"]
        rows = []
        for (host, mode), g in sel.groupby(["host", "mode"], sort=True):
            v = g["value"] * 1e3
            rows.append([_e(host), _e(mode), len(v), f"{v.median():.4g}", f"{v.quantile(0.1):.4g}",
                         f"{v.quantile(0.9):.4g}", f"{v.max():.4g}"])
        return headers, rows

    def startup_cost_rows(self):
        """Milliseconds each mode adds per start against bare metal (startup.csv)."""
        headers = ["host", "copies", "mode", "median start (mode)", "median start (bare)", "added per start",
                   "95 % CI", "rounds (mode/bare, pairs)", "interval", "verdict"]
        st = self.tables.startup
        rows = []
        for r in ([] if st is None else st.itertuples()):
            ci = ("—" if pd.isna(r.ci_low_ms) else
                  f"[{startup_cost.format_ms(r.ci_low_ms)}, {startup_cost.format_ms(r.ci_high_ms)}]")
            mode = r.mode + (" (emulated, TCG)" if r.emulated else "")
            rows.append([_e(r.host), r.copies, _e(mode), startup_cost.format_ms(r.median_mode_ms, signed=False),
                         startup_cost.format_ms(r.median_bare_ms, signed=False), startup_cost.format_ms(r.added_ms),
                         ci, f"{r.n_mode}/{r.n_bare}, {r.n_pairs}", _e(r.method), _e(r.verdict)])
        return headers, rows
    def baseline_note(self, host: str) -> str:
        """"bare metal here: host is a KVM guest" when this host's baseline is itself a virtual
        machine (run.json host.virtualization, hostinfo.virtualization), else ""."""
        if "baseline_vm" not in self.runs:
            return ""
        vms = {str(v) for v in self.runs.loc[self.runs["host"] == host, "baseline_vm"].dropna() if str(v)}
        label = baseline_label({"vm": sorted(vms)[0]}) if vms else None
        return f"bare metal here: {label}" if label else ""

    def host_rows(self):
        headers = ["host", "CPU", "logical cores", "kernel", "OS", "bare metal is", "runs", "first run (UTC)",
                   "last run (UTC)"]
        rows = []
        for host, g in self.runs.groupby("host", sort=True):
            starts = sorted(s for s in g["started_utc"] if s)
            note = self.baseline_note(host).removeprefix("bare metal here: ")
            rows.append([_e(host), _e(_first(g["cpu_model"])), _e(_first(g["logical_cores"])),
                         _e(_first(g["kernel"])), _e(_first(g["os"])), _e(note or "hardware (no hypervisor found)"),
                         len(g), _e(starts[0] if starts else ""), _e(starts[-1] if starts else "")])
        return headers, rows

    def version_rows(self):
        headers = ["host", "mode", "mode kind", "engine / runtime versions"]
        rows = []
        for (host, mode), g in self.runs.groupby(["host", "mode"], sort=True):
            versions = sorted({v for v in g["versions"] if v})
            rows.append([_e(host), _e(mode), _e(_first(g["mode_kind"])),
                         "<br>".join(_e(v) for v in versions) or "—"])
        return headers, rows

    def image_rows(self):
        headers = ["image", "reference (by digest)", "digest", "runs"]
        rows = []
        for (name, ref, digest), g in self.runs.groupby(["image_name", "image_reference", "image_digest"], sort=True):
            rows.append([_e(name), _e(ref), _e(digest), len(g)])
        return headers, rows

    def ingest_only(self) -> bool:
        """Every run of the report came from an ingest of existing logs: no benchmark ran here."""
        return len(self.runs) > 0 and self.runs.get("ingested", pd.Series(dtype=str)).astype(str).eq("True").all()

    def ingest_summary(self) -> str | None:
        """One sentence naming what an ingest-only report is built from, or None."""
        if not self.ingest_only():
            return None
        manifests = sorted({(m, s) for m, s in zip(self.inputs["manifest"], self.inputs["manifest_sha256"])})
        which = "; ".join(f"{m} (sha256 {s})" for m, s in manifests) or "an ingest manifest"
        return (f"This report is built from {len(self.runs)} runs ingested from existing logs ({len(self.inputs)} "
                f"files) through {which}; no benchmark ran here. Every file, its sha256 and where it came from: "
                f"Provenance, below, and tables/inputs.csv.")

    INPUT_ROWS_SHOWN = 200

    def ingest_rows(self):
        """The ingest's provenance: per manifest, then the files (the first INPUT_ROWS_SHOWN)."""
        manifests = []
        for (manifest, sha), g in self.inputs.groupby(["manifest", "manifest_sha256"], sort=True):
            manifests.append([_e(manifest), _e(sha), g["run_id"].nunique(), len(g),
                              _e(", ".join(sorted(set(g["label"])))) if "label" in g else ""])
        headers = ["run", "manifest line", "label", "format", "source", "copied as", "sha256", "bytes"]
        rows = [[_e(r.run_id), _e(r.manifest_line), _e(r.label), _e(r.format), _e(r.source), _e(r.copied),
                 _e(r.sha256), _e(r.bytes)] for r in self.inputs.head(self.INPUT_ROWS_SHOWN).itertuples()]
        return (["manifest", "sha256", "runs", "files", "labels"], manifests), (headers, rows)

    def config_note(self) -> str | None:
        """Why the config files of this invocation are not shown as the runs' config (from_raw)."""
        if not self.from_raw:
            return None
        return ("Rebuilt from raw logs (from_raw): no benchmark ran in this invocation, so its config files are "
                "not the runs' configuration and are not shown. Each measured run names its own config by sha256 "
                "(table above); ingested runs have none.")

    def config_rows(self):
        headers = ["config sha256", "runs"]
        return headers, [[_e(h or "unknown"), len(g)] for h, g in self.runs.groupby("config_sha256", sort=True)]

    def clock_rows(self):
        """The timed values a clock check flagged (tables/clock.csv): CPU/wall below 0.9, or a
        clock step above 0.1 % of the value. At most 50 rows; the file has them all."""
        headers = ["run", "copy", "benchmark", "wall [s]", "CPU [s]", "CPU/wall", "step [% of value]", "flags"]
        if self.clock is None or not len(self.clock):
            return headers, [], 0, 0
        flagged = self.clock[self.clock["flags"].astype(str) != ""]
        rows = [[_e(r.run_id), _e(r.copy), _e(r.benchmark), _e(r.wall_s), _e(r.cpu_s), _e(r.cpu_per_wall),
                 _e(r.quantum_pct), _e(r.flags)] for r in flagged.head(50).itertuples()]
        return headers, rows, len(flagged), len(self.clock)

    def excluded_sections(self):
        ex = self.excluded
        out = []
        out.append(("Runs not in any ratio (failed or unavailable)",
                    ["run", "payload", "mode", "copies", "rep", "status", "reason (run.json)",
                     "why (the payload's own log)"],
                    [[_e(r["run_id"]), _e(r["payload"]), _e(r["mode"]), r["copies"], r["repetition"],
                      _e(r["status"]), _e(r["reason"]), _e(r.get("log_reason", ""))] for r in ex["runs_not_ok"]]))
        if ex.get("runs_pairing_broken"):  # fan-out studies only
            out.append(("Runs that left their cluster host (pairing broken: never compared across nodes)",
                        ["run", "payload", "mode", "copies", "rep", "meant for", "ran on"],
                        [[_e(r["run_id"]), _e(r["payload"]), _e(r["mode"]), r["copies"], r["repetition"],
                          _e(r["cluster_host"]), _e(r["host"])] for r in ex["runs_pairing_broken"]]))
        out.append(("Parse errors (the rest of each log went on)", ["run", "file", "line", "expected"],
                    [[_e(r["run_id"]), _e(r["path"]), _e(r["line"]), _e(r["expected"])]
                     for r in ex["parse_errors"]]))
        out.append(("Failed or invalid records", ["run", "benchmark", "metric", "copy", "status", "detail", "file"],
                    [[_e(r["run_id"]), _e(r["benchmark"]), _e(r["metric"]), _e(r["copy"]), _e(r["status"]),
                      _e(r["detail"]), _e(r["source_file"])] for r in ex["failed_records"]]))
        out.append(("Unreadable parsed-run files", ["file", "reason"],
                    [[_e(r["path"]), _e(r["reason"])] for r in ex["unreadable_parsed_files"]]))
        out.append(("Cells without a bare-metal baseline on the same host",
                    ["host", "payload", "benchmark", "metric", "copies", "mode", "reason"],
                    [[_e(r["host"]), _e(r["payload"]), _e(r["benchmark"]), _e(r["metric"]), r["copies"],
                      _e(r["mode"]), _e(r["reason"])] for r in ex["cells_without_baseline"]]))
        skipped = ex.get("skipped_ingest_inputs") or []
        keys = sorted({k for s in skipped if isinstance(s, dict) for k in s}) or ["input"]
        out.append(("Skipped ingest inputs (results/ingest/skipped.json)", keys,
                    [[_e(s.get(k, "")) if isinstance(s, dict) else _e(s) for k in keys] for s in skipped]))
        return out

    def summary_rows(self, fmt: str):
        """Runs ok / failed / unavailable per payload (rows) and mode (columns)."""
        modes = self.summary["modes"]
        rows = []
        for p in self.summary["payloads"]:
            row = [_e(p["payload"])]
            for mode in modes:
                cell = p["modes"].get(mode)
                text = summary_module.cell_text(cell)
                if fmt == "html" and cell:
                    css = ("na" if cell["unavailable"] == cell["runs"] else "bad" if cell["ok"] == 0
                           else "part" if cell["ok"] < cell["runs"] else "ok")
                    text = f'<span class="cell-{css}">{_e(text)}</span>'
                row.append(text)
            rows.append(row)
        return ["payload", *modes], rows

    def summary_reasons(self) -> list[tuple[str, dict]]:
        return summary_module.reason_lines(self.summary) if self.summary else []

    def no_number_sentences(self) -> list[str]:
        """One sentence per payload and mode that gave no number in the answer, with why."""
        if not self.summary:
            return []
        return [f"{n['payload']} in {n['mode']} gave no number: {n['why']}." for n in self.summary["no_number"]]

    def answer_sentences(self, host: str | None = None) -> list[str]:
        """One plain sentence per (host, headline payload, mode), of one host or (host=None) of all."""
        out = []
        for payload, (benchmark, metric) in sorted(self.relative_meta.get("headline", {}).items()):
            sel = self._headline_cells(payload, benchmark, metric, host)
            for (host, mode), g in sel.groupby(["host", "mode"], sort=True):
                parts = []
                hib = bool(g["higher_is_better"].iloc[0])
                for r in g.sort_values("copies").itertuples():
                    where = f"at {r.copies} cop{'y' if r.copies == 1 else 'ies'}"
                    if hib:
                        ci = ("" if pd.isna(r.perf_ci_low) and r.verdict == stats.NO_INTERVAL_N1
                              else "unbounded interval; " if pd.isna(r.perf_ci_low)
                              else "95 % CI {}–{}; ".format(*_pct_bounds(r.perf_ci_low, r.perf_ci_high)))
                        parts.append(f"{_pct(r.relative_performance)} {where} ({ci}{r.verdict}{_resolving(r)})")
                    elif r.unit == "s" and not pd.isna(r.added):  # start-up: added milliseconds per start
                        ci = ("" if pd.isna(r.added_ci_low) else
                              f"95 % CI {1e3 * r.added_ci_low:+.1f} to {1e3 * r.added_ci_high:+.1f} ms; ")
                        parts.append(f"{1e3 * r.added:+.1f} ms {where} ({ci}{_times(r.ratio)} the bare-metal time; "
                                     f"{r.verdict})")
                    else:  # a time: "N x bare metal" reads better than "0.4 % of bare-metal speed"
                        ci = ("" if pd.isna(r.ratio_ci_low) and r.verdict == stats.NO_INTERVAL_N1
                              else "unbounded interval; " if pd.isna(r.ratio_ci_low)
                              else "95 % CI {}–{}; ".format(*_times_bounds(r.ratio_ci_low, r.ratio_ci_high)))
                        parts.append(f"{_times(r.ratio)} {where} ({ci}{r.verdict})")
                flag = f" [{g['flag'].iloc[0]}]" if g["flag"].iloc[0] else ""
                added = (not hib and g["unit"].iloc[0] == "s" and g["added"].notna().any())
                what = ("of bare-metal performance" if hib else "per start over bare metal" if added
                        else f"the bare-metal {metric} ({g['unit'].iloc[0]})")
                if self.baseline_note(host):  # the baseline is itself a guest: say so beside the number
                    what += f" ({self.baseline_note(host)})"
                verb = "runs at" if hib else "adds" if added else "takes"
                out.append(f"On {host}, {payload} ({benchmark} {metric}) in {mode} {verb} "
                           + "; ".join(parts) + f" {what}{flag}.")
        return out


def _resolving(r) -> str:
    """What a cell could have seen: its minimum detectable effect when nothing was found, and how
    many more rounds an interval too wide for the target needs ("too noisy")."""
    out = ""
    if r.verdict == "not significant" and not pd.isna(r.mde_pct):
        out += f"; could have seen a difference of {r.mde_pct:.1f} % or more"
    if not pd.isna(r.half_width_pct) and r.half_width_pct > tables.DEFAULT_TARGET_HALF_WIDTH_PCT:
        more = (f"about {int(r.rounds_needed - r.n_pairs)} more rounds needed" if not pd.isna(r.rounds_needed)
                and r.rounds_needed > r.n_pairs else "more rounds needed")
        out += f"; too noisy for ±{tables.DEFAULT_TARGET_HALF_WIDTH_PCT:g} %: {more}"
    return out


def _first(series):
    for v in series:
        if v is not None and v == v and v != "":
            return v
    return ""


METHOD_TEXT = (
    "Every round of the study runs each mode once, close in time; a mode is compared with bare metal within "
    "each round (the log of their ratio of the machine-level number, summed over the copies run at once), then "
    f"across rounds: the {int(stats.CONFIDENCE * 100)} % interval is {stats.METHOD} (Student's t), back-transformed, "
    "so the relative performance is the geometric mean of the rounds' ratios and its interval never reaches zero. "
    "Drift of the host between rounds cancels within a round; the unpaired Fieller (Welch df) interval is kept as a "
    "cross-check, and is the answer only where fewer than two rounds pair up. '±' is the half-width the cell "
    "resolved, 'MDE' the smallest effect it would detect with 80 % power. Rounds whose ratio is an outlier (modified "
    "z-score > 3.5) are flagged and kept, their influence shown. '% of bare metal' is performance: the ratio for "
    "higher-is-better metrics, its inverse for times. Verdict: 'slower' or 'faster' when the whole interval is "
    "below or above 100 %, 'not significant' when it contains 100 %; with one pair there is no interval. Suite "
    "summaries ('geomean') are geometric means over the benchmarks sharing a metric, as SPEC does. Failed and "
    "unavailable runs are never in a ratio; they are listed below with the reason."
)

ENVIRONMENT_TEXT = (
    "Taken inside each environment by the launcher, per copy, and compared with bare metal's copies on "
    "the same host (tables/environment.csv holds every key): seccomp and the speculative store bypass "
    "mitigation, cgroup limits, /dev/shm, rlimits, transparent huge pages, visible CPUs, clocksource and "
    "the cost of one clock_gettime, the vsyscall page, the ISA level the userland sees, and the CFS "
    "throttling counters over the run. Each can explain a ratio above; the last column of the comparison "
    "tables names them."
)
CROSS_HOSTS_TEXT = (
    "Each host is compared only with its own bare metal (above). This summarises those per-host numbers: for "
    "each headline cell and mode, the median, minimum and maximum over the hosts of their % of bare metal "
    "(quartiles, linear interpolation, with 4 hosts or more) and how many hosts' own verdicts were slower, faster, "
    "not significant or without an interval. Raw values are never pooled across hosts. Every benchmark: "
    "tables/cross_hosts.csv."
)

STARTUP_TEXT = (
    "Time a mode adds to every start of a job, against bare metal on the same host: per run, the median "
    "over its samples (warm-up excluded); per repetition round, mode minus bare metal; the mean of those "
    "differences with a 95 % Student t interval (SciPy; Welch's interval when the rounds cannot be paired). "
    "A cost paid once per job, so it is given in time, not as a percentage.")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#111;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em;display:block;overflow-x:auto;max-width:100%}
td:last-child{min-width:12em}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#eef}tbody tr:nth-child(even){background:#f8f8f8}
.slower{color:#a00;font-weight:600}.faster{color:#060;font-weight:600}.ns{color:#555}
.flag{color:#a50;font-size:.85em}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.85em;color:#333;max-width:900px}
pre{background:#f4f4f4;padding:.8em;overflow:auto;font-size:.8em}
.q{font-size:1.1em;background:#f3f7ff;padding:.6em 1em;border-left:4px solid #36c}
.empty{color:#666;font-style:italic}
.noanswer{background:#fff0f0;border-left:4px solid #c00;padding:.5em 1em;margin:.8em 0}
.answered{background:#f0fff0;border-left:4px solid #393;padding:.5em 1em;margin:.8em 0}
.cell-ok{color:#060}.cell-part{color:#a50;font-weight:600}.cell-bad{color:#a00;font-weight:600}.cell-na{color:#777}
ul.reasons{font-size:.9em;margin-top:.3em}ul.reasons code{font-size:.85em;color:#444}
.glance .modes{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,34em),1fr));gap:.6em 1.2em}
.glance .mode{border:1px solid #ccd;border-radius:6px;padding:.2em .8em .4em}
.glance .mode h3{margin:.3em 0}.glance .nums{font-size:.88em;color:#333}.glance ul{margin:.2em 0;padding-left:1.1em}.glance li{margin:.25em 0}
.glance .legend,.glance .toc{font-size:.85em;color:#333}.glance .controls{background:#f6f6f6;padding:.4em .8em}
.tone-ok .verdict{color:#060}.tone-cost .verdict{color:#a00;font-weight:600}.tone-faster .verdict{color:#06c}
.tone-unclear .verdict{color:#a50;font-weight:600}
.notmeasured{border-left:4px solid #999;background:#f6f6f6;padding:.3em .8em;margin:.4em 0}.tone-emulated .verdict{color:#a50}.tone-none{color:#777}
details{margin:.3em 0}details>summary{cursor:pointer}details>summary h2{display:inline;font-size:1.2em;border:0}
details[open]>summary h2{border-bottom:1px solid #ccc}
@media (max-width:600px){body{margin:.5em auto;padding:0 .6em}h1{font-size:1.25em}.q{font-size:.95em}}
"""


def _summary_html(data: ReportData) -> list[str]:
    """The study summary for the first screen: whether there is an answer, runs per payload and
    mode, and why runs gave no number."""
    summary = data.summary
    if summary is None:
        return []
    out = ["<h2 id='summary'>Study summary</h2>"]
    if summary["problems"]:
        out.append('<div class="noanswer"><b>No answer</b> from this study for:<ul>'
                   + "".join(f"<li>{_e(p)}</li>" for p in summary["problems"]) + "</ul></div>")
    else:
        out.append('<p class="answered">Every payload has a valid bare-metal run and modes were compared with it.</p>')
    out.append(f"<p>{summary['runs']} runs: {summary['ok']} ok, {summary['failed']} failed, "
               f"{summary['unavailable']} unavailable (ok = the run gave its payload's headline number).</p>")
    h, rows = data.summary_rows("html")
    out.append(_html_table(h, rows, "summary"))
    reasons = data.summary_reasons()
    if reasons:
        items = []
        for where, entry in reasons:
            source = _source_text(entry)
            items.append(f"<li><b>{_e(entry['outcome'])}</b>: {_e(entry['reason'])} <i>({_e(where)})</i>"
                         + (f"<br><code>{_e(source)}</code>" if source else "") + "</li>")
        out.append("<p>Why runs gave no number (the payloads' own logs, where they say):</p>"
                   f'<ul class="reasons">{"".join(items)}</ul>')
    return out


def _source_text(entry: dict) -> str:
    if not entry.get("source_file"):
        return ""
    line = entry.get("source_line")
    where = entry["source_file"] + ("" if line in (None, "") else f":{line}")
    return where + (f": {entry['detail']}" if entry.get("detail") else "")


def _summary_md(data: ReportData) -> list[str]:
    summary = data.summary
    if summary is None:
        return []
    out = ["## Study summary", ""]
    if summary["problems"]:
        out += ["**No answer** from this study for:", ""] + [f"- {p}" for p in summary["problems"]] + [""]
    else:
        out += ["Every payload has a valid bare-metal run and modes were compared with it.", ""]
    out += [f"{summary['runs']} runs: {summary['ok']} ok, {summary['failed']} failed, "
            f"{summary['unavailable']} unavailable (ok = the run gave its payload's headline number).", ""]
    h, rows = data.summary_rows("md")
    out += [_md_table(h, _md_plain(rows))]
    reasons = data.summary_reasons()
    if reasons:
        out += ["Why runs gave no number (the payloads' own logs, where they say):", ""]
        for where, entry in reasons:
            source = _source_text(entry)
            out.append(f"- **{entry['outcome']}**: {entry['reason']} ({where})" + (f"; `{source}`" if source else ""))
        out.append("")
    return out


# --- the host audit (execbench.findings; tables/audit.json) ------------------------------------

AUDIT_TEXT = (
    "The 2015 RACF study's two surprises were not benchmark numbers: whoever can start a Docker container is "
    "root on the host (\"docker group = root\"), and 32-bit software in an SL6 container on an XFS host mounted "
    "inode64 failed with EOVERFLOW from stat() (\"missing\" files). The audit payload checks both on every host "
    "and in every mode before the benchmarks run: the host's security posture, what each mode's payload really "
    "got (seen from inside, and read back from the engine, not taken from our own configuration), and a 32-bit "
    "and a 64-bit program that stat(), readdir() and open() files on every filesystem a payload uses. "
    "Verdicts: ok, warning, blocking; the evidence comes from the audit's native logs under "
    "results/raw/audit/. Machine-readable: tables/audit.json and audit.csv; two hosts are compared with "
    "`python -m execbench audit-diff`."
)
AUDIT_CSS = (".audit .v-ok{color:#060;font-weight:600}.audit .v-warning{color:#a50;font-weight:600}"
             ".audit .v-blocking{color:#fff;background:#c00;padding:0 .3em;font-weight:600}"
             ".audit .ev{color:#555;font-size:.85em;overflow-wrap:anywhere}"
             ".audit-blocking{background:#fff0f0;border-left:4px solid #c00;padding:.5em 1em;margin:.8em 0}"
             ".audit-clear{background:#f7f7f7;border-left:4px solid #999;padding:.3em 1em;margin:.8em 0}")


def _verdict_badge(verdict: str | None) -> str:
    return f'<span class="v-{_e(verdict)}">{_e(verdict)}</span>' if verdict else "—"


def _audit_abi_sentence(entry: dict) -> str:
    """Which modes and filesystems would break 32-bit software on this host."""
    abi = [f for f in entry["findings"] if f["scope"] == "abi"]
    if not abi:
        return "No ABI probe result on this host."
    broken = entry["abi"]["broken"]
    if not broken:
        return (f"Would not break here: in {', '.join(sorted({f['mode'] for f in abi}))} the 32-bit and the 64-bit "
                "probe saw the same files on every filesystem probed (run directory, the environment's root, /tmp).")
    where: dict[tuple, list[str]] = {}
    for b in broken:
        options = f"{b.get('fstype')}" + (", inode64" if "inode64" in (b.get("evidence") or "") else "")
        where.setdefault((b["filesystem"].replace("_", " "), options), []).append(b["mode"])
    places = "; ".join(f"the {fs} ({options}) in {', '.join(sorted(modes))}" for (fs, options), modes in where.items())
    runs = sum(len(v) for v in entry["abi"]["affected_runs"].values())
    marked = (f"the {runs} other runs of those modes used the same filesystems and are marked in tables/audit.json "
              "(abi.affected_runs)" if runs else "no other run of those modes is in this study")
    return (f"Breaks on {places}: {broken[0]['summary']}. Every payload of this study is 64-bit and not affected; "
            f"{marked}.")


def _audit_first_screen_html(data: ReportData) -> list[str]:
    """First screen: a host whose audit found something blocking, in one box (or a one-line all-clear)."""
    table = findings.read_audit_table(data.tables_dir / "audit.json")
    if not table or not table["hosts"]:
        return []
    lines = findings.blocking_lines(table)
    if lines:
        return [f"<style>{AUDIT_CSS}</style>", '<div class="audit-blocking"><b>Host audit: blocking</b><ul>'
                + "".join(f"<li>{_e(line)}</li>" for line in lines) + '</ul><a href="#audit">the audit</a></div>']
    counts = ", ".join(f"{h['host']}: {h['counts']['warning']} warnings" for h in table["hosts"])
    return [f"<style>{AUDIT_CSS}</style>", f'<p class="audit-clear">Host audit: nothing blocking ({_e(counts)}; '
            '<a href="#audit">the audit</a>).</p>']


def _audit_section_html(data: ReportData) -> list[str]:
    """The host audit: per host, the host's posture, what each mode's payload got, and the 32-bit
    ABI per filesystem; with several hosts, what differs between them."""
    table = findings.read_audit_table(data.tables_dir / "audit.json")
    out = [f"<style>{AUDIT_CSS}</style>",
           f"<p>{_e(AUDIT_TEXT)}</p>"]
    if not table or not table["hosts"]:
        return out + ['<p class="empty">No audit in this study (payload audit not run).</p>']
    for entry in table["hosts"]:
        counts = entry["counts"]
        runs = "; ".join(f"{r['mode']} ({r['status']}{': ' + r['reason'] if r['status'] != 'ok' else ''})"
                         for r in entry["runs"])
        out.append(f"<h3>Host {_e(entry['host'])}</h3><p>{counts['blocking']} blocking, {counts['warning']} "
                   f"warnings, {counts['ok']} ok. Audit runs: {_e(runs)}.</p>")
        out.append(f"<p><b>32-bit software.</b> {_e(_audit_abi_sentence(entry))}</p>")
        items = findings.host_items(entry)
        variants = {f["item"]: sum(x["item"] == f["item"] for x in items) for f in items}
        host_rows = [[_e(f["title"]), _verdict_badge(f["verdict"]),
                      _e(f["summary"]) + (f" <i>(in the audit of {_e(', '.join(f['modes']))})</i>"
                                          if variants[f["item"]] > 1 else ""),
                      f'<span class="ev">{_e(f["evidence"])}</span>'] for f in items]
        out.append("<h4>The host</h4>" + _html_table(["item", "verdict", "summary", "evidence"], host_rows, "audit"))
        modes = [r["mode"] for r in entry["runs"] if r["status"] == "ok"]
        by_item: dict[str, dict[str, dict]] = {}
        for f in entry["findings"]:
            if f["scope"] == "mode":
                by_item.setdefault(f["title"], {})[f["mode"]] = f
        mode_rows = [[_e(title)] + [(_verdict_badge(cells[m]["verdict"]) + " " + _e(cells[m]["summary"])
                                     + f'<br><span class="ev">{_e(cells[m]["evidence"])}</span>')
                                    if m in cells else "—" for m in modes] for title, cells in by_item.items()]
        out.append("<h4>What the payload got, per mode (seen from inside; engines: read back from the engine)</h4>"
                   + (_html_table(["item", *modes], mode_rows, "audit") if mode_rows else
                      '<p class="empty">no mode was audited</p>'))
        abi_rows = [[_e(f["mode"]), _e(f"{(f.get('filesystem') or '').replace('_', ' ')}: {f.get('path')}"),
                     _e(f.get("fstype")),
                     _verdict_badge(f["verdict"]), _e(f["summary"]) + f'<br><span class="ev">{_e(f["evidence"])}</span>']
                    for f in entry["findings"] if f["scope"] == "abi"]
        out.append("<h4>32-bit and 64-bit stat(), readdir(), open() per filesystem</h4>"
                   + (_html_table(["mode", "filesystem", "type", "verdict", "what the probes saw"], abi_rows, "audit")
                      if abi_rows else '<p class="empty">no ABI probe ran</p>'))
    if len(table["hosts"]) > 1:
        first = table["hosts"][0]["host"]
        for other in table["hosts"][1:]:
            rows = [[_e(r["scope"]), _e(r["mode"]), _e(r["title"]), _verdict_badge(r["verdict_a"]),
                     _verdict_badge(r["verdict_b"]), _e(r["summary_a"] or "—"), _e(r["summary_b"] or "—")]
                    for r in findings.diff_hosts(table, first, table, other["host"])]
            out.append(f"<h3>Differences between {_e(first)} and {_e(other['host'])}</h3>"
                       + (_html_table(["scope", "mode", "item", first, other["host"], f"summary on {first}",
                                       f"summary on {other['host']}"], rows, "audit") if rows
                          else '<p class="empty">none: the same verdicts on both hosts</p>'))
    return [f'<div class="audit">{"".join(out)}</div>']


def _audit_first_screen_md(data: ReportData) -> list[str]:
    table = findings.read_audit_table(data.tables_dir / "audit.json")
    if not table or not table["hosts"]:
        return []
    lines = findings.blocking_lines(table)
    if lines:
        return ["**Host audit: blocking**", ""] + [f"- {line}" for line in lines] + [""]
    return ["Host audit: nothing blocking (" + ", ".join(f"{h['host']}: {h['counts']['warning']} warnings"
                                                        for h in table["hosts"]) + ").", ""]


def _audit_section_md(data: ReportData) -> list[str]:
    table = findings.read_audit_table(data.tables_dir / "audit.json")
    out = ["## Host audit: security posture and the 32-bit ABI", "", AUDIT_TEXT, ""]
    if not table or not table["hosts"]:
        return out + ["No audit in this study (payload audit not run).", ""]
    for entry in table["hosts"]:
        counts = entry["counts"]
        out += [f"### Host {entry['host']}", "", f"{counts['blocking']} blocking, {counts['warning']} warnings, "
                f"{counts['ok']} ok.", "", f"**32-bit software.** {_audit_abi_sentence(entry)}", ""]
        rows = [[f["title"], f["verdict"], f["summary"], f["evidence"]] for f in findings.host_items(entry)]
        out += [_md_table(["item", "verdict", "summary", "evidence"], rows)]
        rows = [[f["mode"], f["title"], f["verdict"], f["summary"], f["evidence"]]
                for f in entry["findings"] if f["scope"] in ("mode", "abi")]
        out += [_md_table(["mode", "item", "verdict", "summary", "evidence"], rows)]
    return out



def glance_html(screen: glance.FirstScreen, notes: list[str] = ()) -> str:
    """The first screen: the answer per mode and workload class, `notes` (e.g. what an ingest-only
    study read), the controls line, the links below."""
    out = ["<section id='answer' class='glance'>"]
    status = "answered" if screen.answered else "noanswer"
    out.append(f'<p class="{status}"><b>{_e(screen.headline)}</b>'
               + ("".join(f"<br>No answer: {_e(p)}" for p in screen.problems)) + "</p>")
    out.append('<p class="legend">Per mode and workload: the verdict in plain words, then the effect on '
               "throughput against bare metal on the same host (negative = slower) with its 95 % interval "
               "in brackets; start-up is the time added per start.</p>")
    for block in (b for b in screen.blocks if b.not_measured):  # first: which modes have no answer at all
        title = glance.mode_title(block.mode) + (f" on {block.host}" if block.host else "")
        out.append(f'<p class="notmeasured"><b>{_e(title)}: not measured</b> — {_e(block.not_measured)}</p>')
    out.append('<div class="modes">')
    for block in screen.blocks:
        if block.not_measured:
            continue
        title = glance.mode_title(block.mode) + (f" on {block.host}" if block.host else "")
        out.append(f'<div class="mode"><h3>{_e(title)}</h3>')
        items = []
        for line in block.lines:
            if line.tone == "none":
                items.append(f'<li class="tone-none"><b>{_e(line.label)}</b>: no number — {_e(line.verdict)}</li>')
            else:
                items.append(f'<li class="tone-{_e(line.tone)}"><b>{_e(line.label)}</b>: '
                             f'<span class="verdict">{_e(line.verdict)}</span><br>'
                             f'<span class="nums">{_e(line.text)}</span>'
                             + (f'<br><span class="nums robust">{_e(line.robust)}</span>' if line.robust else "")
                             + '</li>')
        out.append("<ul>" + "".join(items) + "</ul></div>" if items else
                   '<p class="empty">no payload compared</p></div>')
    out.append("</div>")
    for line in notes:
        out.append(f'<p class="ingest">{_e(line)}</p>')
    for line in screen.context:
        out.append(f'<p class="context">{_e(line)}</p>')
    out.append(f'<p class="controls">{_e(screen.controls)}</p>')
    links = " · ".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title, _ in SECTIONS)
    out.append(f'<p class="toc">Below, folded: {links}.</p></section>')
    return "\n".join(out)


def _section(sid: str, title: str, body: str, open_: bool = False) -> str:
    return (f"<details id='{sid}'{' open' if open_ else ''}><summary><h2>{_e(title)}</h2></summary>\n"
            f"{body}\n</details>")


def _summary_section(data: ReportData) -> str:
    return "\n".join(_summary_html(data)[1:])  # without its own heading


def _answer_detail_section(data: ReportData) -> str:
    parts = []
    hosts = data.compared_hosts()
    for host in hosts if len(hosts) > 1 else [None]:  # one host: no sub-heading
        if host is not None:
            parts.append(f"<h3 class='host'>Host {_e(host)}</h3>")
        sentences = data.answer_sentences(host)
        parts.append("<ul>" + "".join(f"<li>{_e(s)}</li>" for s in sentences) + "</ul>" if sentences
                     else '<p class="empty">No mode could be compared with bare metal.</p>')
        h, rows = data.headline_rows("html", host)
        parts.append(_html_table(h, rows, "headline") if rows else '<p class="empty">No headline comparisons.</p>')
    controls = data.control_sentences()
    if controls:
        parts.append("<p><b>Controls</b> (what this study can resolve on this host):</p>"
                     '<ul class="controls">' + "".join(f"<li>{_e(s)}</li>" for s in controls) + "</ul>")
    missing = data.no_number_sentences()
    if missing:
        parts.append("<p><b>No number</b> (failed or unavailable, why from the payloads' own logs):</p>"
                     '<ul class="no-number">' + "".join(f"<li>{_e(s)}</li>" for s in missing) + "</ul>")
    parts.append(f"<p><b>Method.</b> {_e(METHOD_TEXT)}</p>")
    return "\n".join(parts)


def _across_hosts_section(data: ReportData) -> str:
    note = data.cross_host_note()
    if note:
        return f'<p class="empty">{_e(note)}</p>'
    h, rows = data.cross_host_rows()
    return f"<p>{_e(CROSS_HOSTS_TEXT)}</p>" + (_html_table(h, rows, "cross-hosts") if rows else
                                               '<p class="empty">No headline comparisons.</p>')


def _figures_section(data: ReportData) -> str:
    parts = []
    if data.figures_without_data:
        parts.append('<p class="empty">Not drawn, no data in these runs: '
                     + "; ".join(_e(f["title"]) for f in data.figures_without_data) + ".</p>")
    for fig in data.figures:
        png = data.figures_dir / fig["files"]["png"]
        b64 = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f'<figure id="fig-{_e(fig["name"])}"><img alt="{_e(fig["title"])}" '
                     f'src="data:image/png;base64,{b64}"><figcaption><b>{_e(fig["title"])}.</b> '
                     f'{_e(fig["caption"])}</figcaption></figure>')
    return "\n".join(parts) or '<p class="empty">No figures.</p>'


def _relative_section(data: ReportData) -> str:
    h, rows = data.relative_rows("html")
    return _html_table(h, rows, "relative") if rows else '<p class="empty">No comparisons.</p>'


def _environment_section(data: ReportData) -> str:
    h, rows = data.environment_rows()
    return f"<p>{_e(ENVIRONMENT_TEXT)}</p>" + (
        _html_table(h, rows, "environment") if rows else
        '<p class="empty">No difference from bare metal seen (or no fingerprints recorded).</p>')


def _scaling_section(data: ReportData) -> str:
    h, rows = data.scaling_rows()
    return _html_table(h, rows, "scaling") if rows else '<p class="empty">No scaling data.</p>'


def _startup_section(data: ReportData) -> str:
    h, rows = data.startup_cost_rows()
    parts = [f"<p>{_e(STARTUP_TEXT)}</p>",
             _html_table(h, rows, "startup-cost") if rows else '<p class="empty">No start-up comparison.</p>']
    h, rows = data.startup_rows()
    parts.append("<p>Per-copy medians of each run:</p>" + _html_table(h, rows, "startup") if rows else
                 '<p class="empty">No start-up samples.</p>')
    return "\n".join(parts)


def _provenance_section(data: ReportData) -> str:
    parts = []
    for title, (h, rows) in (("Hosts", data.host_rows()), ("Engines and runtimes", data.version_rows()),
                             ("Images", data.image_rows()), ("Configuration", data.config_rows())):
        parts.append(f"<h3>{_e(title)}</h3>" + (_html_table(h, rows, "prov") if rows else
                                                 '<p class="empty">none recorded</p>'))
    if len(data.inputs):
        (mh, mrows), (fh, frows) = data.ingest_rows()
        parts.append("<h3>Ingested logs</h3>" + _html_table(mh, mrows, "prov"))
        more = f" (the first {len(frows)} of {len(data.inputs)}; all in tables/inputs.csv)" if len(
            data.inputs) > len(frows) else ""
        parts.append(f"<p>Files copied into results/raw/{_e(more)}:</p>" + _html_table(fh, frows, "prov"))
    if data.config_note():
        parts.append(f'<p class="empty">{_e(data.config_note())}</p>')
    else:
        for path, text in data.configs:
            parts.append(f"<p>Config file <code>{_e(path)}</code>:</p><pre class='config'>{_e(text)}</pre>")
    return "\n".join(parts)


def _clock_section(data: ReportData) -> str:
    h, rows, flagged, timed = data.clock_rows()
    parts = [f"<p>{flagged} of {timed} timed values flagged (tables/clock.csv): a single-threaded CPU "
             "benchmark below 0.9 CPU seconds per wall second waited for something other than the CPU; a "
             "clock step above 0.1 % of the value is a step of the clock, not a measurement.</p>"]
    if rows:
        parts.append(_html_table(h, rows, "clock"))
    return "\n".join(parts)


def _excluded_section(data: ReportData) -> str:
    parts = []
    for title, h, rows in data.excluded_sections():
        parts.append(f"<h3>{_e(title)} ({len(rows)})</h3>" + (_html_table(h, rows, "excluded") if rows else
                                                                '<p class="empty">none</p>'))
    return "\n".join(parts)


# Everything below the first screen, folded (<details>), in this order: (id, title, body(data) -> html).
# Another module adds a section by appending to this list.
SECTIONS: list[tuple[str, str, object]] = [
    ("summary", "Runs per payload and mode, and why runs gave no number", _summary_section),
    ("answer-detail", "The answer in detail (headline numbers, method)", _answer_detail_section),
    ("figures", "Figures", _figures_section),
    ("across-hosts", "Across hosts", _across_hosts_section),
    ("relative", "All comparisons with bare metal (relative.csv)", _relative_section),
    ("environment", "Environment seen by the payloads: differences from bare metal", _environment_section),
    ("scaling", "Copies scaling", _scaling_section),
    ("startup", "Start-up latency", _startup_section),
    ("audit", "Host audit: security posture and the 32-bit ABI", lambda data: "".join(_audit_section_html(data))),
    ("provenance", "Provenance", _provenance_section),
    ("clock", "Timing checks", _clock_section),
    ("excluded", "Left out, and why", _excluded_section),
]


def render_html(data: ReportData, generated_utc: str) -> str:
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>execbench report</title>", f"<style>{CSS}</style></head><body>",
        "<h1>The cost of containers and VMs against bare metal</h1>",
        f'<p class="q"><b>Question.</b> {_e(QUESTION)}</p>',
        *_audit_first_screen_html(data),  # a blocking finding of the host audit before anything else
        glance_html(glance.first_screen(data.tables), [s for s in [data.ingest_summary()] if s]),
    ]
    for sid, title, body in SECTIONS:
        parts.append(_section(sid, title, body(data)))
    parts.append(f"<p class='generated'>Report generated {_e(generated_utc)} by execbench {_e(__version__)}, "
                 f"commit <code>{_e(_git_commit())}</code>, from {len(data.runs)} parsed runs.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_plain(rows):
    return [[html.unescape(str(c)).replace("<br>", "; ") for c in row] for row in rows]


def render_markdown(data: ReportData, generated_utc: str, figures_rel: str = "figures") -> str:
    screen = glance.render_text(glance.first_screen(data.tables)).splitlines()
    out = ["# The cost of containers and VMs against bare metal", "", f"**Question.** {QUESTION}", "",
           *_audit_first_screen_md(data), "## Answer", "", *[f"- {line}" for line in screen]]
    if data.ingest_summary():
        out += [f"- {data.ingest_summary()}"]
    out += ["", *_summary_md(data), "## The answer in detail", ""]
    hosts = data.compared_hosts()
    for host in hosts if len(hosts) > 1 else [None]:  # one host: no sub-heading
        if host is not None:
            out += [f"### Host {host}", ""]
        out += [f"- {s}" for s in data.answer_sentences(host)] or ["No mode could be compared with bare metal."]
        h, rows = data.headline_rows("md", host)
        out += ["", _md_table(h, _md_plain(rows))]
    controls = data.control_sentences()
    if controls:
        out += ["**Controls** (what this study can resolve on this host):", ""] + [f"- {s}" for s in controls] + [""]
    missing = data.no_number_sentences()
    if missing:
        out += ["**No number** (failed or unavailable, why from the payloads' own logs):", ""]
        out += [f"- {s}" for s in missing] + [""]
    out += [f"**Method.** {METHOD_TEXT}", "", "## Across hosts", ""]
    note = data.cross_host_note()
    if note:
        out += [note, ""]
    else:
        h, rows = data.cross_host_rows()
        out += [CROSS_HOSTS_TEXT, "", _md_table(h, _md_plain(rows)) if rows else "No headline comparisons.", ""]
    out += ["## Figures", ""]
    if data.figures_without_data:
        out += ["Not drawn, no data in these runs: " + "; ".join(f["title"] for f in data.figures_without_data)
                + ".", ""]
    for fig in data.figures:
        out += [f"![{fig['title']}]({figures_rel}/{fig['files']['png']})", "", f"*{fig['caption']}*", ""]
    out += _audit_section_md(data)
    for title, (h, rows) in (("All comparisons with bare metal", data.relative_rows("md")),
                             ("Environment seen by the payloads: differences from bare metal", data.environment_rows()),
                             ("Copies scaling", data.scaling_rows()),
                             ("Start-up cost per mode", data.startup_cost_rows()),
                             ("Start-up latency", data.startup_rows()),
                             ("Provenance: hosts", data.host_rows()), ("Provenance: engines", data.version_rows()),
                             ("Provenance: images", data.image_rows()), ("Provenance: config", data.config_rows())):
        out += [f"## {title}", "", _md_table(h, _md_plain(rows)) if rows else "none", ""]
    if len(data.inputs):
        (mh, mrows), (fh, frows) = data.ingest_rows()
        out += ["## Provenance: ingested logs", "", _md_table(mh, _md_plain(mrows)), "",
                f"Files copied into results/raw/ ({len(frows)} of {len(data.inputs)}; all in tables/inputs.csv):",
                "", _md_table(fh, _md_plain(frows)), ""]
    if data.config_note():
        out += [data.config_note(), ""]
    else:
        for path, text in data.configs:
            out += [f"Config file `{path}`:", "", "```yaml", text.rstrip(), "```", ""]
    out += ["## Left out, and why", ""]
    for title, h, rows in data.excluded_sections():
        out += [f"### {title} ({len(rows)})", "", _md_table(h, _md_plain(rows)) if rows else "none", ""]
    out.append(f"Generated {generated_utc} by execbench {__version__} from {len(data.runs)} parsed runs.")
    return "\n".join(out) + "\n"


def write_report(tables_dir, figures_dir, out_dir, config_path=None, generated_utc: str | None = None,
                 from_raw: bool = False) -> dict:
    """Render index.html and report.md; config_path is one config file or a list (embedded verbatim,
    unless `from_raw`: then no benchmark ran with it and it is not shown as the runs' config)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = ReportData(Path(tables_dir), Path(figures_dir), config_path, from_raw)
    stamp = generated_utc or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    index, md = out_dir / "index.html", out_dir / "report.md"
    index.write_text(render_html(data, stamp))
    rel = Path(figures_dir).resolve()
    try:
        figures_rel = str(rel.relative_to(out_dir.resolve()))
    except ValueError:
        figures_rel = str(rel)
    md.write_text(render_markdown(data, stamp, figures_rel))
    return {"html": index, "md": md}
