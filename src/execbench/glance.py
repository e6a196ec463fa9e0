"""The answer at a glance: the report's first screen, and the lines the terminal prints.

For every mode compared with bare metal, one line per workload class:

    Docker   CPU suite (HS06-like)  −0.4 % [−1.1, +0.3] at 1 copy; +0.2 % [−0.9, +1.3] at 2 copies — no measurable cost
             start-up               +160 ms per job [+150, +170]
    VM       not measured — KVM guests cannot boot on this host (no /dev/kvm)

The effect is on throughput against bare metal on the same host, in % (negative = slower), with
the 95 % interval of relative.csv (perf_ci_low/high: paired over rounds, stats.paired_ratio; the
unpaired Fieller interval where fewer than two rounds pair up); start-up is milliseconds added per start
(startup.csv, execbench.startup_cost), never a percentage. A cell without a number says why, in
the payload's own words (summary.json's no_number, execbench.summary). The controls line reads the
control modes' headline cells of relative.csv (modes.<name>.control: negative = A/A bare metal,
positive = a known slowdown; runs.csv `control`) and tables/controls.json when a study writes one
(CONTROLS_SHAPE below), with the headline cells' minimum detectable effect; without controls it
says so. Control modes never get a block of their own: they are not answers.

Verdict words (plain, one per cell; `verdict_words`):
  slower, whole interval below 0          "costs X %"
  faster, whole interval above 0          "faster by X %"
  interval holds 0, lower end < -2 %      "inconclusive: a cost up to Y % is not ruled out" (the line
                                          adds "(this study detects only effects above M % here)")
  interval holds 0, lower end >= -2 %,    "not resolved: only effects above M % would be detected (a cost
    but MDE > 2 %                         above Y % is ruled out; about R rounds would resolve 2 %)"
  interval holds 0, lower end >= -2 %     "no measurable cost (a cost above Y % is ruled out)"
  start-up: "adds X per job", or with an interval holding 0 "no measurable start-up cost" when its
  upper end is at most RESOLVED_MS (50 ms), else "inconclusive: up to +Y per job not ruled out"
  emulated guest (TCG)                    "emulated (TCG): not a VM overhead"
  one repetition / unbounded interval     "one repetition: no interval" / "too noisy: no bounded interval"
The 2 % is RESOLVED_PERCENT, the middle of the 1-3 % a site cares about: an interval reaching
further below 0, or a cell whose minimum detectable effect (relative.csv mde_pct: the paired
design's MDE at 80 % power, stats.paired_ratio; rounds_needed for the target half-width) is larger,
cannot call a cost "none". Tables made before those columns existed fall back to the interval alone.

Other modules add context lines without touching this one: append a function
`(tables: execbench.tables.Tables) -> list[str]` to CONTEXT_LINES (e.g. the host audit: "bare
metal here is itself a KVM guest").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from . import startup_cost, stats
from .hostinfo import baseline_label

RESOLVED_PERCENT = 2.0
RESOLVED_MS = 50.0  # a start-up interval reaching further above 0 than this cannot call the cost "none"
MINUS = "−"  # U+2212: a minus sign that does not read as a hyphen


@dataclass(frozen=True)
class WorkloadClass:
    key: str
    label: str
    payloads: tuple[str, ...]  # payload names in this class (run or ingested), in preference order


# The issue's classes, in reading order. Ingested logs use the tools' own names (manifest `payload`).
WORKLOAD_CLASSES = (
    WorkloadClass("cpu", "CPU suite (HS06-like)", ("cpusuite", "hs06", "hs06_32", "hs06_64", "spec-cpu2006",
                                                   "spec2017", "hepscore", "hepscore23")),
    WorkloadClass("hep", "HEP chain", ("hepchain", "kv", "kitvalidation")),
    WorkloadClass("db12", "DB12", ("db12",)),
    WorkloadClass("memory", "memory bandwidth", ("stream",)),
    WorkloadClass("io", "storage I/O", ("fio",)),
    WorkloadClass("startup", "start-up", (startup_cost.PAYLOAD,)),
)
# A payload's second estimate of the same comparison, shown under its line (never tallied as a
# comparison of its own): (benchmark, metric) in relative.csv, and what it is in words.
COMPANIONS = {
    "db12": (("DB12", "db12_fastest_slice"),
             "at its fastest slices' pace (robust to host noise, blind to a cost that comes and goes)"),
}
PAYLOAD_LABELS = {"hs06": "HS06", "hs06_32": "HS06 (32-bit)", "hs06_64": "HS06 (64-bit)",
                  "spec-cpu2006": "SPEC CPU2006", "spec2017": "SPEC CPU2017", "hepscore": "HEPscore",
                  "hepscore23": "HEPscore23", "kv": "ATLAS KitValidation", "kitvalidation": "ATLAS KitValidation"}

# The shape of tables/controls.json this module reads (written by the study's controls, issue 17).
# Every key optional; percentages are effects on throughput (negative = slower), like the lines.
CONTROLS_SHAPE = {
    "negative": "[{host, payload, benchmark, metric, copies, mode, effect_percent, ci_low_percent, "
                "ci_high_percent, verdict}]  A/A: a second label of bare metal; verdict should be "
                "'not significant'",
    "positive": "[{host, payload, benchmark, metric, copies, mode, injected_percent, effect_percent, "
                "ci_low_percent, ci_high_percent, verdict}]  a known slowdown (e.g. a 98 % CPU quota: "
                "injected_percent -2.0)",
    "resolving": "[{host, payload, benchmark, metric, copies, mode, half_width_percent, mde_percent}]  per cell: "
                 "the interval's half-width and the minimum detectable effect",
    "expected_false_positive_rate": "0.05",
}


@dataclass
class Line:
    """One line of the first screen: a workload class (or payload) in one mode."""

    label: str
    text: str  # the numbers: effect [interval] per copies, or "+160 ms per job [...]"
    verdict: str  # plain words
    tone: str  # "ok" | "cost" | "faster" | "unclear" | "none" (no number) | "emulated"
    why: str = ""  # for a cell without a number
    robust: str = ""  # the same cells by a noise-robust estimator of the payload's (COMPANIONS), if any


@dataclass
class ModeBlock:
    mode: str
    lines: list[Line] = field(default_factory=list)
    not_measured: str = ""  # the whole mode gave no number: why (then lines is empty)
    host: str | None = None


@dataclass
class FirstScreen:
    headline: str  # one sentence: does the study answer, how many runs
    blocks: list[ModeBlock]
    controls: str
    context: list[str]
    answered: bool  # every payload compared and at least one interval narrow enough for a verdict
    problems: list[str]


def baseline_context(tables) -> list[str]:
    """'Bare metal on vm is itself a KVM guest: ...' per host whose baseline is a virtual machine
    (runs.csv baseline_vm, hostinfo.virtualization)."""
    runs = tables.runs
    if runs is None or "baseline_vm" not in runs:
        return []
    out = []
    for host, g in runs.groupby("host", sort=True):
        vms = sorted({str(v) for v in g["baseline_vm"].dropna() if str(v)})
        label = baseline_label({"vm": vms[0]}) if vms else None
        if label:
            out.append(f"Bare metal on {host}: {label}; every number here is against that guest, not real "
                       "hardware (a hypervisor's own cost is not in it).")
    return out


CONTEXT_LINES: list[Callable] = [baseline_context]


def signed_percent(x: float, digits: int = 1) -> str:
    """'+0.3 %', '−1.1 %' from a value already in percent."""
    if x is None or not math.isfinite(x):
        return "—"
    text = f"{abs(x):.{digits}f}"
    if float(text) == 0:
        return f"{0:.{digits}f} %"
    return ("+" if x > 0 else MINUS) + text + " %"


def _bound(x: float, digits: int = 1) -> str:
    return signed_percent(x, digits).replace(" %", "")


def _digits(lo: float, hi: float) -> int:
    """Decimals enough to show the interval's width (0.1 % steps, 0.01 % for narrow intervals)."""
    return 2 if abs(hi - lo) < 0.5 else 1


def _finite(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def verdict_words(effect: float, lo: float | None, hi: float | None, verdict: str, emulated: bool,
                  mde: float | None = None, rounds_needed: float | None = None) -> tuple[str, str]:
    """(words, tone) for one cell; effect, lo, hi in % of throughput change (negative = slower);
    mde: the cell's minimum detectable effect in % (None when the table has none); rounds_needed:
    the rounds its spread needs to resolve the target half-width (None when reached or unknown)."""
    if emulated:
        return "emulated (TCG): not a VM overhead", "emulated"
    if verdict == stats.NO_INTERVAL_N1:
        return "one repetition: no interval", "unclear"
    if lo is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "too noisy: no bounded interval", "unclear"
    if hi < 0:
        return f"costs {abs(effect):.1f} %", "cost"
    if lo > 0:
        return f"faster by {effect:.1f} %", "faster"
    mde = _finite(mde)
    rounds = _finite(rounds_needed)
    more = f"; about {int(math.ceil(rounds))} rounds would resolve {RESOLVED_PERCENT:g} %" if rounds else ""
    if lo < -RESOLVED_PERCENT:  # the line adds the smallest effect it detects (relative_line)
        return f"inconclusive: a cost up to {abs(lo):.1f} % is not ruled out", "unclear"
    if mde is not None and mde > RESOLVED_PERCENT:
        return (f"not resolved: only effects above {mde:.1f} % would be detected (a cost above {abs(lo):.1f} % "
                f"is ruled out{more})"), "unclear"
    return f"no measurable cost (a cost above {abs(lo):.1f} % is ruled out)", "ok"


def class_of(payload: str) -> WorkloadClass:
    for wc in WORKLOAD_CLASSES:
        if payload.lower() in wc.payloads:
            return wc
    return WorkloadClass(payload, payload, (payload,))


def _label(payload: str) -> str:
    wc = class_of(payload)
    if payload.lower() in PAYLOAD_LABELS:
        return f"{wc.label.split(' (')[0]}: {PAYLOAD_LABELS[payload.lower()]}"
    return wc.label


def _copies_text(copies: int) -> str:
    return f"{copies} cop{'y' if copies == 1 else 'ies'}"


def _worst(tones: list[str]) -> str:
    for tone in ("cost", "unclear", "emulated", "faster", "ok"):
        if tone in tones:
            return tone
    return "ok"


def relative_line(rows: pd.DataFrame, payload: str) -> Line:
    """The line of one payload in one mode on one host, from its headline rows of relative.csv
    (one per copies value)."""
    parts, words, tones, unresolved = [], [], [], []
    for r in rows.sort_values("copies").itertuples():
        effect = 100 * (r.relative_performance - 1)
        has_ci = pd.notna(r.perf_ci_low) and math.isfinite(r.perf_ci_low) and math.isfinite(r.perf_ci_high)
        lo = 100 * (r.perf_ci_low - 1) if has_ci else None
        hi = 100 * (r.perf_ci_high - 1) if has_ci else None
        d = _digits(lo, hi) if has_ci else 1
        interval = f" [{_bound(lo, d)}, {_bound(hi, d)}]" if has_ci else ""
        parts.append(f"{signed_percent(effect, d)}{interval} at {_copies_text(int(r.copies))}")
        mde = _finite(getattr(r, "mde_pct", None))
        w, tone = verdict_words(effect, lo, hi, r.verdict, bool(r.emulated), mde, getattr(r, "rounds_needed", None))
        if w.startswith("inconclusive") and mde is not None and mde > RESOLVED_PERCENT:
            unresolved.append((int(r.copies), mde))
        words.append((int(r.copies), w))
        tones.append(tone)
    verdict = _joined(words, tones)
    if unresolved:  # once per line: why an inconclusive cell cannot say "no cost" (each cell its own)
        if len(unresolved) == 1:
            verdict += f" (this study detects only effects above {unresolved[0][1]:.1f} % here)"
        else:
            verdict += (" (this study detects only effects above "
                        + ", ".join(f"{mde:.1f} % at {_copies_text(c)}" for c, mde in unresolved) + " here)")
    return Line(_label(payload), "; ".join(parts), verdict, _worst(tones))


def _joined(words: list[tuple[int, str]], tones: list[str]) -> str:
    """One verdict for the copies values of a line: 'costs 1.0 % at 1 copy, 0.8 % at 2 copies'."""
    if len({w for _, w in words}) == 1:
        return words[0][1]
    for prefix, suffix in (("costs ", ""), ("faster by ", ""), ("inconclusive: a cost up to ", " is not ruled out"),
                           ("no measurable cost (a cost above ", " is ruled out)")):
        if all(w.startswith(prefix) and w.endswith(suffix) for _, w in words):
            amounts = ", ".join(f"{w[len(prefix):len(w) - len(suffix)]} at {_copies_text(c)}" for c, w in words)
            return prefix + amounts + suffix
    return "; ".join(f"{w} at {_copies_text(c)}" for c, w in words)


def startup_line(rows: pd.DataFrame) -> Line:
    """'+160 ms per job [+150, +170]' per copies value, from startup.csv rows of one mode and host."""
    parts, words, tones = [], [], []
    for r in rows.sort_values("copies").itertuples():
        interval = ("" if pd.isna(r.ci_low_ms) else
                    f" [{startup_cost.format_ms(r.ci_low_ms)}, {startup_cost.format_ms(r.ci_high_ms)}]")
        per = "per job" if r.copies == 1 else f"per start of {r.copies} at once"
        parts.append(f"{startup_cost.format_ms(r.added_ms)} {per}{interval}")
        if r.emulated:
            w, tone = "emulated (TCG): not a VM start-up", "emulated"
        elif r.verdict == "adds":
            w, tone = f"adds {startup_cost.format_ms(r.added_ms, signed=False)} {per}", "cost"
        elif r.verdict == "saves":
            w, tone = f"starts {startup_cost.format_ms(-r.added_ms, signed=False)} faster {per}", "faster"
        elif r.verdict == "not significant" and r.ci_high_ms <= RESOLVED_MS:
            w, tone = f"no measurable start-up cost (more than {startup_cost.format_ms(r.ci_high_ms)} ruled out)", "ok"
        elif r.verdict == "not significant":
            w, tone = f"inconclusive: up to {startup_cost.format_ms(r.ci_high_ms)} {per} not ruled out", "unclear"
        else:
            w, tone = "one repetition: no interval", "unclear"
        words.append(w)
        tones.append(tone)
    verdict = words[0] if len(set(words)) == 1 else "; ".join(words)
    return Line("start-up", "; ".join(parts), verdict, _worst(tones))


def _no_number(summary: dict | None) -> dict[tuple[str, str], str]:
    if not summary:
        return {}
    return {(n["payload"], n["mode"]): n["why"] for n in summary.get("no_number", [])}


def _mode_unavailable(summary: dict | None, mode: str) -> str:
    """Why a mode gave no number at all (every run of every payload unavailable), else ''."""
    if not summary:
        return ""
    cells = [p["modes"][mode] for p in summary["payloads"] if mode in p["modes"]]
    if not cells or any(c["unavailable"] != c["runs"] for c in cells):
        return ""
    reasons = list(dict.fromkeys(r["reason"] for c in cells for r in c["reasons"]))
    return "; ".join(reasons) or "unavailable on this host"


def _payload_order(payloads: list[str]) -> list[str]:
    def key(p):
        for i, wc in enumerate(WORKLOAD_CLASSES):
            if p.lower() in wc.payloads:
                return (i, wc.payloads.index(p.lower()), p)
        return (len(WORKLOAD_CLASSES), 0, p)

    return sorted(payloads, key=key)


def _baseline_modes(summary: dict | None) -> set[str]:
    if not summary:
        return {"bare"}
    return {m for p in summary["payloads"] for m, c in p["modes"].items() if c.get("baseline")} or {"bare"}


def _cell_rows(rel: pd.DataFrame, payload: str, mode: str, host, benchmark: str, metric: str) -> pd.DataFrame:
    """relative.csv's rows of one number of one payload in one mode on one host (one per copies)."""
    return rel[(rel["payload"] == payload) & (rel["mode"] == mode) & (rel["benchmark"] == benchmark)
               & (rel["metric"] == metric) & (rel["host"].astype(str) == str(host))]


def _compared(payload: str) -> bool:
    """Whether a payload's runs are compared with bare metal (Payload.compared_with_bare); an
    ingested tool's name that is no registered payload is."""
    from . import payloads as registry

    return payload not in registry.PAYLOADS.names() or registry.PAYLOADS.load(payload).compared_with_bare


def mode_blocks(tables) -> list[ModeBlock]:
    """Per host (when several) and mode, the first screen's lines (see the module docstring)."""
    rel, meta, summary = tables.relative, tables.relative_meta, tables.summary
    startup = tables.startup if tables.startup is not None else pd.DataFrame(columns=startup_cost.COLUMNS)
    headline = meta.get("headline", {})
    why = _no_number(summary)
    baselines = _baseline_modes(summary) | set(control_modes(tables))  # controls: the controls line, not answers
    modes = [m for m in (summary["modes"] if summary else sorted(set(rel["mode"]))) if m not in baselines]
    modes += [m for m in sorted(set(rel["mode"])) if m not in modes and m not in baselines]
    payloads = _payload_order(list(dict.fromkeys(
        [p["payload"] for p in (summary or {}).get("payloads", [])] + sorted(set(rel["payload"])))))
    hosts = sorted(set(rel["host"].astype(str)) | set(startup["host"].astype(str))) or [None]
    blocks = []
    for host in hosts:
        for mode in modes:
            block = ModeBlock(mode, host=host if len(hosts) > 1 else None)
            unavailable = _mode_unavailable(summary, mode)
            if unavailable:
                block.not_measured = unavailable
                blocks.append(block)
                continue
            for payload in payloads:
                if not _compared(payload):  # the host audit: its findings have their own line, not a comparison
                    continue
                if payload == startup_cost.PAYLOAD:
                    rows = startup[(startup["mode"] == mode) & (startup["host"].astype(str) == str(host))
                                   & (startup["metric"] == startup_cost.METRIC)]
                    if not rows.empty:
                        block.lines.append(startup_line(rows))
                        continue
                elif payload in headline:
                    rows = _cell_rows(rel, payload, mode, host, *headline[payload])
                    if not rows.empty:
                        line = relative_line(rows, payload)
                        if payload in COMPANIONS:
                            (c_bench, c_metric), words = COMPANIONS[payload]
                            c_rows = _cell_rows(rel, payload, mode, host, c_bench, c_metric)
                            if not c_rows.empty:
                                sub = relative_line(c_rows, payload)
                                line.robust = f"{words}: {sub.text} — {sub.verdict}"
                        block.lines.append(line)
                        continue
                reason = why.get((payload, mode))
                ran = any(p["payload"] == payload and mode in p["modes"] for p in (summary or {}).get("payloads", []))
                if reason or ran:
                    block.lines.append(Line(_label(payload), "no number", reason or "not compared with bare metal",
                                            "none", why=reason or ""))
            blocks.append(block)
    return blocks


def control_modes(tables) -> dict[str, str]:
    """mode -> "negative" | "positive" for the study's control modes (modes.<name>.control, runs.csv
    `control`): controls of its resolving power, never answers."""
    runs = tables.runs
    if runs is None or "control" not in runs:
        return {}
    rows = runs[runs["control"].fillna("").astype(str).isin(("negative", "positive"))]
    return {str(m): str(c) for m, c in zip(rows["mode"], rows["control"])}


def _headline_rows(tables) -> pd.DataFrame:
    """The rows of relative.csv at each payload's headline number (the cells the first screen shows)."""
    rel, headline = tables.relative, (tables.relative_meta or {}).get("headline", {})
    keys = {(p, b, m) for p, (b, m) in headline.items()}
    mask = [(p, b, m) in keys for p, b, m in zip(rel["payload"], rel["benchmark"], rel["metric"])]
    return rel[mask] if len(rel) else rel


def resolving_power(rows: pd.DataFrame) -> str:
    """'smallest detectable effect 0.6–4.2 % (median 1.3 %) over 14 cells; 3 of 14 cannot resolve a 2 %
    effect' from relative.csv's mde_pct over the given measured (not emulated) throughput cells
    (start-up is in ms, in its own table); '' when the table has none."""
    if "mde_pct" not in rows.columns or rows.empty:
        return ""
    mdes = [m for m, emulated, payload in zip(rows["mde_pct"], rows["emulated"], rows["payload"])
            if _finite(m) is not None and not bool(emulated) and payload != startup_cost.PAYLOAD]
    if not mdes:
        return ""
    wide = sum(1 for m in mdes if m > RESOLVED_PERCENT)
    text = (f"smallest detectable effect {min(mdes):.1f}–{max(mdes):.1f} % (median "
            f"{pd.Series(mdes).median():.1f} %) over {len(mdes)} headline cells")
    if wide:
        text += f"; {wide} of {len(mdes)} cannot resolve a {RESOLVED_PERCENT:g} % effect"
    return text


def _controls_from_tables(tables, kinds: dict[str, str]) -> dict:
    """The control modes' headline cells of relative.csv in the CONTROLS_SHAPE lists."""
    out: dict = {}
    for r in _headline_rows(tables).itertuples():
        kind = kinds.get(str(r.mode))
        if kind not in ("negative", "positive"):
            continue
        has_ci = _finite(r.perf_ci_low) is not None and _finite(r.perf_ci_high) is not None
        out.setdefault(kind, []).append({
            "host": r.host, "payload": r.payload, "copies": int(r.copies), "mode": r.mode,
            "effect_percent": 100 * (r.relative_performance - 1),
            "ci_low_percent": 100 * (r.perf_ci_low - 1) if has_ci else None,
            "ci_high_percent": 100 * (r.perf_ci_high - 1) if has_ci else None, "verdict": r.verdict})
    return out


def controls_line(controls: dict | None, relative: pd.DataFrame, tables=None) -> str:
    """The controls and the study's resolving power in one line (see CONTROLS_SHAPE): the control
    modes' headline cells of relative.csv (`tables` given), and tables/controls.json when written."""
    kinds = control_modes(tables) if tables is not None else {}
    answers = relative[~relative["mode"].astype(str).isin(set(kinds))] if len(relative) else relative
    widths = []  # half-widths in % of each cell's own estimate; start-up is in ms (its own table), not here
    for r in answers.itertuples():
        if (pd.notna(r.perf_ci_low) and math.isfinite(r.perf_ci_low) and math.isfinite(r.perf_ci_high)
                and not r.emulated and r.payload != startup_cost.PAYLOAD and r.relative_performance > 0):
            widths.append(100 * (r.perf_ci_high - r.perf_ci_low) / 2 / r.relative_performance)
    span = (f"interval half-widths {min(widths):.1f}–{max(widths):.1f} % (median {pd.Series(widths).median():.1f} %)"
            if widths else "no interval in this study")
    heads = _headline_rows(tables) if tables is not None else relative
    power = resolving_power(heads[~heads["mode"].astype(str).isin(set(kinds))] if len(heads) else heads)
    controls = {**_controls_from_tables(tables, kinds), **(controls or {})} if tables is not None else controls
    if not controls:
        return (f"No controls in this study (no A/A bare-metal or known-slowdown runs), so its resolving power is "
                f"read from its own cells: {power or span}.")
    parts = []
    negative = controls.get("negative") or []
    if negative:
        flagged = sum(1 for n in negative if n.get("verdict") in ("slower", "faster"))
        rate = float(controls.get("expected_false_positive_rate", 0.05))
        parts.append(f"A/A bare vs bare: {flagged} of {len(negative)} cells significant (expected about "
                     f"{rate * 100:.0f} %{'' if flagged else ', as it must'})")
    positive = controls.get("positive") or []
    if positive:
        found = [p for p in positive if p.get("verdict") == "slower"]
        injected = sorted({p.get("injected_percent") for p in positive if p.get("injected_percent") is not None})
        sizes = "".join(" " + signed_percent(x) for x in injected[:1]) + "".join(", " + signed_percent(x) for x in injected[1:])
        effects = [p["effect_percent"] for p in found if p.get("effect_percent") is not None]
        measured = (f", measured {signed_percent(min(effects))} to {signed_percent(max(effects))}" if effects else "")
        parts.append(f"known slowdown{sizes} detected in {len(found)} of {len(positive)} cells{measured}"
                     + ("" if len(found) == len(positive) else ", NOT as it must"))
    resolving = [r["mde_percent"] for r in controls.get("resolving") or [] if r.get("mde_percent") is not None]
    if resolving:
        parts.append(f"smallest detectable effect {min(resolving):.1f}–{max(resolving):.1f} % per cell")
    else:
        parts.append(power or span)
    return "Controls: " + "; ".join(parts) + "."


def first_screen(tables) -> FirstScreen:
    """Everything the first screen shows, from the tables (execbench.tables.read_tables)."""
    summary = tables.summary or {}
    problems = list(summary.get("problems", []))
    runs = summary.get("runs")
    blocks = mode_blocks(tables)
    measured = [line.tone for b in blocks for line in b.lines if line.tone not in ("none", "emulated")]
    firm = any(t in ("cost", "faster", "ok") for t in measured)
    kinds = control_modes(tables)
    controls = _controls_from_tables(tables, kinds)
    aa_failed = [c for c in controls.get("negative", []) if c["verdict"] in ("slower", "faster")]
    missed = [c for c in controls.get("positive", []) if c["verdict"] != "slower"]
    if runs is None:
        headline = "Tables without a study summary (made by an older execbench)."
    else:
        if problems:
            answer = "No answer for part of this study (below)."
        elif aa_failed:  # bare metal against itself came out different: no verdict here can be trusted
            answer = (f"Not to be trusted yet: the A/A control (bare metal against itself) found a difference in "
                      f"{len(aa_failed)} cell{'s' if len(aa_failed) != 1 else ''} where there is none.")
            firm = False
        elif missed:  # a known slowdown went unseen: "inconclusive" and "no cost" below cannot be relied on
            answer = (f"Not resolving enough: the known slowdown (positive control) was not detected in "
                      f"{len(missed)} of {len(controls['positive'])} cell{'s' if len(controls['positive']) != 1 else ''}, "
                      f"so this host hides effects of that size; read every verdict below with that in mind.")
            firm = False
        elif measured and not firm:  # every cell has a number, yet no interval says anything
            answer = "No firm answer yet: no comparison is resolved."
        elif any(line.tone == "none" for b in blocks for line in b.lines):
            answer = "Part of the study has no number (why: below)."
        else:
            answer = "Every payload was compared with bare metal."
            missing = [mode_title(b.mode) for b in blocks if b.not_measured]
            if missing:
                shown = list(dict.fromkeys(mode_title(b.mode) for b in blocks if not b.not_measured))
                answer = (f"Every payload was compared with bare metal in {' and '.join(shown) or 'no mode'}; "
                          f"{' and '.join(dict.fromkeys(missing))} not measured.")
        headline = (f"{answer} {runs} runs: {summary['ok']} ok, {summary['failed']} failed, "
                    f"{summary['unavailable']} unavailable. {verdict_tally(blocks)}").rstrip()
    context = [line for fn in CONTEXT_LINES for line in fn(tables)]
    return FirstScreen(headline, blocks, controls_line(tables.controls, tables.relative, tables), context,
                       not problems and firm, problems)


TALLY_WORDS = (("cost", "shows a cost", "show a cost"), ("faster", "is faster", "are faster"),
               ("ok", "shows no measurable cost", "show no measurable cost"),
               ("unclear", "is inconclusive", "are inconclusive"), ("emulated", "is emulated", "are emulated"),
               ("none", "has no number", "have no number"))


def verdict_tally(blocks: list[ModeBlock]) -> str:
    """'Of 12 comparisons, 1 shows a cost, 11 are inconclusive.' over the lines of every block."""
    tones = [line.tone for b in blocks for line in b.lines]
    if not tones:
        return ""
    parts = [f"{tones.count(t)} {one if tones.count(t) == 1 else many}" for t, one, many in TALLY_WORDS
             if tones.count(t)]
    return f"Of {len(tones)} comparison{'' if len(tones) == 1 else 's'}, " + ", ".join(parts) + "."


def mode_title(mode: str) -> str:
    """'docker' -> 'Docker', 'vm' -> 'VM', 'podman' -> 'Podman', others as written."""
    return {"vm": "VM", "docker": "Docker", "podman": "Podman"}.get(mode, mode)


def render_text(screen: FirstScreen) -> str:
    """The first screen as plain lines (terminal, report.md)."""
    out = [screen.headline]
    for block in screen.blocks:
        title = mode_title(block.mode) + (f" on {block.host}" if block.host else "")
        if block.not_measured:
            out.append(f"{title}: not measured — {block.not_measured}")
            continue
        for line in block.lines:
            out.append(f"{title}: {line.label} {line.text} — {line.verdict}" if line.tone != "none"
                       else f"{title}: {line.label}: no number — {line.verdict}")
            if line.robust:
                out.append(f"{title}: {line.label} {line.robust}")
    out += screen.context
    out.append(screen.controls)
    return "\n".join(out) + "\n"
