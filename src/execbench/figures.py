"""The report's figures, from the tables (matplotlib, Agg backend, PNG + SVG).

- `relative_overview`: every mode's headline numbers as % of bare metal on one shared axis that
  includes 100 % (bars from 100 %, 95 % interval whiskers, emulated rows hatched, rows without a
  number saying why, the controls in grey when the study has them);
- `<name>_vs_bare`: the seed's two charts redrawn from data — the CPU suite score and the HEP chain
  throughput per copy count, one bar per mode, bars from 0, each labelled with its % of bare metal;
- `copies_scaling`: each payload's headline number against copies, per mode;
- `startup_latency`: distribution of process start-up latency per mode.

Every figure states host(s) and run dates in a footer, so a printed page stands alone.
Emulated (TCG) modes are hatched and labelled: they are not comparable to bare metal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless, deterministic; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import stats  # noqa: E402
from .tables import read_tables  # noqa: E402

# Stable SVG element ids, so the same tables give byte-identical SVGs (diffable, cacheable).
matplotlib.rcParams["svg.hashsalt"] = "execbench"

# Stable colours per mode (colour-blind-safe Okabe-Ito palette).
MODE_COLOURS = {"bare": "#000000", "docker": "#0072B2", "podman": "#E69F00", "vm": "#CC79A7"}
FALLBACK_COLOURS = ["#56B4E9", "#D55E00", "#F0E442", "#009E73", "#999999"]
FORMATS = ("png", "svg")
# Figures reproducing the seed: (name, candidate payloads in order, title per payload). The first
# payload with a headline record is drawn, so ingested HS06 / KitValidation logs give the seed's
# own charts and the open payloads stand in where those are absent.
SEED_CHARTS = (
    ("suite_vs_bare", ("cpusuite", "hs06", "spec-cpu2006", "hepscore"),
     {"cpusuite": "CPU suite score per copies and mode (SPEC CPU2006-like, HS06 rule: sum over copies)",
      "hs06": "HEP-SPEC06 per copies and mode (sum over copies)"}),
    ("hepchain_vs_bare", ("hepchain", "kv", "kitvalidation"),
     {"hepchain": "HEP chain throughput per copies and mode (KitValidation-like: gen → sim → digi → reco)",
      "kv": "ATLAS KitValidation per copies and mode"}),
)
STARTUP_PAYLOAD = "startup"


@dataclass
class Figure:
    name: str
    title: str
    caption: str
    files: dict  # format -> path
    has_data: bool = True  # False: a placeholder saying why there is nothing to draw


def mode_colour(mode: str, modes: list[str]) -> str:
    if mode in MODE_COLOURS:
        return MODE_COLOURS[mode]
    others = [m for m in modes if m not in MODE_COLOURS]
    return FALLBACK_COLOURS[others.index(mode) % len(FALLBACK_COLOURS)] if mode in others else "#777777"


def provenance_line(runs: pd.DataFrame, hosts=None) -> str:
    """'host X (CPU, kernel); runs 2026-11-29 .. 2026-11-30' for a figure footer."""
    sel = runs if hosts is None else runs[runs["host"].isin(hosts)]
    parts = []
    for host, rows in sel.groupby("host", sort=True):
        cpu = next((c for c in rows["cpu_model"].dropna() if c), "unknown CPU")
        kernel = next((k for k in rows["kernel"].dropna() if k), "")
        parts.append(f"host {host} ({cpu}{', kernel ' + kernel if kernel else ''})")
    dates = sorted(str(d)[:10] for d in sel["started_utc"].dropna() if str(d))
    span = "" if not dates else (dates[0] if dates[0] == dates[-1] else f"{dates[0]} .. {dates[-1]}")
    return "; ".join(parts) + (f"; runs {span}" if span else "")


def _save(fig, out_dir: Path, name: str) -> dict:
    files = {}
    for fmt in FORMATS:
        path = out_dir / f"{name}.{fmt}"
        # Fixed metadata: the same inputs give byte-identical files (no dates in the SVG/PNG).
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(path, format=fmt, dpi=110, bbox_inches="tight", metadata=meta)
        files[fmt] = path
    plt.close(fig)
    return files


def _placeholder(out_dir: Path, name: str, title: str, why: str) -> dict:
    fig, ax = plt.subplots(figsize=(7, 2.2))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True)
    return _save(fig, out_dir, name)


def _headline(relative_json: dict, payload: str) -> tuple[str, str] | None:
    key = relative_json.get("headline", {}).get(payload)
    return tuple(key) if key else None


def _headline_rows(relative: pd.DataFrame, relative_json: dict, payload: str) -> pd.DataFrame:
    key = _headline(relative_json, payload)
    if key is None:
        return relative.iloc[0:0]
    return relative[(relative["payload"] == payload) & (relative["benchmark"] == key[0])
                    & (relative["metric"] == key[1])]


def seed_score_chart(scaling: pd.DataFrame, relative: pd.DataFrame, runs: pd.DataFrame, headline, payload: str,
                     name: str, title: str, out_dir: Path) -> Figure:
    """The seed's chart, redrawn from data: the payload's headline score (machine total, summed
    over the copies run at once) per copy count, one bar per mode, 95 % t interval of the mean over
    repetitions; bars start at 0 and each is labelled with its % of bare metal (relative.csv)."""
    if headline is None:
        why = f"no machine-level headline record for payload '{payload}' in ok runs"
        return Figure(name, title, why, _placeholder(out_dir, name, title, why), has_data=False)
    benchmark, metric = headline
    data = scaling[(scaling["payload"] == payload) & (scaling["benchmark"] == benchmark)
                   & (scaling["metric"] == metric)] if not scaling.empty else scaling
    if data.empty:
        why = f"no ok runs with {payload} {benchmark}/{metric}"
        return Figure(name, title, why, _placeholder(out_dir, name, title, why), has_data=False)
    rel = relative[(relative["payload"] == payload) & (relative["benchmark"] == benchmark)
                   & (relative["metric"] == metric)]
    hosts = sorted(data["host"].unique())
    fig, axes = plt.subplots(1, len(hosts), figsize=(2.6 + 3.6 * len(hosts), 4.4), squeeze=False, sharey=True)
    modes = sorted(data["mode"].unique(), key=lambda m: (m != "bare", m))
    unit = data["unit"].iloc[0]
    for ax, host in zip(axes[0], hosts):
        h = data[data["host"] == host]
        copies = sorted(h["copies"].unique())
        width = 0.8 / max(len(modes), 1)
        for i, mode in enumerate(modes):
            for j, c in enumerate(copies):
                r = h[(h["mode"] == mode) & (h["copies"] == c)]
                if r.empty:
                    continue
                r = r.iloc[0]
                x = j + (i - (len(modes) - 1) / 2) * width
                emulated = bool(r["emulated"])
                ax.bar(x, r["mean"], width * 0.92, color=mode_colour(mode, modes), hatch="//" if emulated else None,
                       edgecolor="black", linewidth=0.5,
                       label=(mode + (" (emulated, TCG)" if emulated else "")) if j == 0 else None)
                if pd.notna(r["ci_low"]):
                    ax.errorbar(x, r["mean"], yerr=[[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]],
                                fmt="none", ecolor="black", capsize=3, linewidth=1)
                pct = rel[(rel["host"] == host) & (rel["mode"] == mode) & (rel["copies"] == c)]
                label = ("= 100 %" if mode == "bare" else
                         f"{100 * pct['relative_performance'].iloc[0]:.1f} %" if not pct.empty else "")
                if emulated:
                    label += "\nTCG"
                ax.annotate(label, (x, 0), textcoords="offset points", xytext=(0, 3), ha="center", va="bottom",
                            fontsize=6.5, rotation=90 if len(modes) > 3 else 0, color="white" if mode == "bare"
                            else "black", bbox=None)
        ax.set_xticks(range(len(copies)), [f"{c} cop{'y' if c == 1 else 'ies'}" for c in copies])
        ax.set_xlabel("copies run at once (one per logical core = the HS06 rule)")
        ax.set_title(host, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"{benchmark} {metric} [{unit}], machine total (higher = better)")
    axes[0][0].legend(fontsize=8, loc="upper left", framealpha=0.9)
    fig.suptitle(title, fontsize=10)
    prov = provenance_line(runs, hosts)
    caption = (f"The headline score summed over the copies run at once, per copy count and mode (bars from 0; "
               f"error bars: 95 % t interval of the mean over repetitions; the number in each bar: % of bare "
               f"metal on the same host). {prov}.")
    fig.text(0.01, -0.02, _wrap(prov + "; error bars: 95 % t interval over repetitions; in-bar: % of bare metal",
                                110), fontsize=7, va="top")
    return Figure(name, title, caption, _save(fig, out_dir, name))


def _controls_rows(controls: dict | None) -> list[dict]:
    """controls.json (glance.CONTROLS_SHAPE) as overview rows, drawn in grey."""
    rows = []
    for kind, label in (("negative", "A/A bare vs bare"), ("positive", "known slowdown")):
        for c in (controls or {}).get(kind) or []:
            if c.get("effect_percent") is None:
                continue
            extra = f" {c['injected_percent']:+g} %" if kind == "positive" and c.get("injected_percent") is not None else ""
            rows.append({"label": f"{label}{extra}: {c.get('payload', '')} {c.get('copies', '')}c (control)",
                         "y": 100 + c["effect_percent"],
                         "lo": 100 + c["ci_low_percent"] if c.get("ci_low_percent") is not None else None,
                         "hi": 100 + c["ci_high_percent"] if c.get("ci_high_percent") is not None else None,
                         "colour": "#999999", "hatch": None, "note": ""})
    return rows


def relative_overview_chart(relative: pd.DataFrame, relative_json: dict, summary: dict | None,
                            controls: dict | None, runs: pd.DataFrame, out_dir: Path,
                            name: str = "relative_overview", control_modes=frozenset()) -> Figure:
    """Every mode's headline numbers as % of bare metal on ONE shared axis that includes 100 %.

    One row per (mode, payload, copies): a bar from 100 % to the value (its length is the effect),
    the 95 % interval as a whisker, emulated rows hatched and labelled, rows without a number
    written out with why, the controls (`controls`: glance.CONTROLS_SHAPE) in grey at the bottom,
    never as modes of their own (`control_modes`). Intervals beyond the axis are cut at its edge with
    an arrow and their bound written."""
    from .glance import _label, _mode_unavailable, _payload_order, mode_title  # the first screen's names and order

    title = "Performance relative to bare metal on the same host (headline of each payload)"
    headline = relative_json.get("headline", {})
    rows = []
    modes = [m for m in (summary or {}).get("modes", sorted(set(relative["mode"])))
             if m != "bare" and m not in control_modes]
    modes += [m for m in sorted(set(relative["mode"])) if m not in modes and m not in control_modes]
    payloads = _payload_order(sorted(set(headline) | {p["payload"] for p in (summary or {}).get("payloads", [])}))
    why = {(n["payload"], n["mode"]): n["why"] for n in (summary or {}).get("no_number", [])}
    hosts = sorted(set(relative["host"].astype(str)))
    for mode in modes:
        unavailable = _mode_unavailable(summary, mode)
        if unavailable:  # one row for a mode that gave no number at all
            rows.append({"label": f"{mode_title(mode)} · every payload", "y": None, "lo": None, "hi": None,
                         "colour": mode_colour(mode, modes), "hatch": None,
                         "note": "not measured: " + unavailable.split(":")[0][:70]})
            continue
        for payload in payloads:
            if payload == STARTUP_PAYLOAD:  # a time per start, not a throughput: its own figure
                continue
            sel = _headline_rows(relative, relative_json, payload)
            sel = sel[sel["mode"] == mode]
            if sel.empty:
                if (payload, mode) in why:
                    rows.append({"label": f"{mode_title(mode)} · {_label(payload)}", "y": None, "lo": None, "hi": None,
                                 "colour": mode_colour(mode, modes), "hatch": None,
                                 "note": "no number: " + why[(payload, mode)][:70]})
                continue
            for r in sel.sort_values(["host", "copies"]).itertuples():
                has_ci = pd.notna(r.perf_ci_low) and np.isfinite(r.perf_ci_low) and np.isfinite(r.perf_ci_high)
                where = f" · {r.host}" if len(hosts) > 1 else ""
                rows.append({"label": f"{mode_title(mode)} · {_label(payload)} · {r.copies}c{where}",
                             "y": 100 * r.relative_performance, "lo": 100 * r.perf_ci_low if has_ci else None,
                             "hi": 100 * r.perf_ci_high if has_ci else None, "colour": mode_colour(mode, modes),
                             "hatch": "//" if r.emulated else None,
                             "note": "emulated (TCG): not comparable" if r.emulated else
                             ("" if has_ci else ("n=1: no interval" if r.verdict == stats.NO_INTERVAL_N1
                                                 else "unbounded interval"))})
    rows += _controls_rows(controls)
    if not rows:
        why_none = "no mode could be compared with bare metal"
        return Figure(name, title, why_none, _placeholder(out_dir, name, title, why_none), has_data=False)
    values = [v for r in rows for v in (r["y"], r["lo"], r["hi"]) if v is not None]
    low = max(min(values + [98.0]) - 2, 0.0)
    high = min(max(values + [102.0]) + 2, 200.0)
    height = 1.2 + 0.28 * len(rows)
    fig, ax = plt.subplots(figsize=(9, height))
    right = ax.get_yaxis_transform()  # x in axes fraction, y in data: the numbers column right of the axis
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        if r["y"] is None:
            ax.text(1.02, y, r["note"], va="center", ha="left", fontsize=6.5, color="#555555", transform=right)
            continue
        value = min(max(r["y"], low), high)
        ax.barh(y, value - 100, left=100, height=0.6, color=r["colour"], hatch=r["hatch"], edgecolor="black",
                linewidth=0.4, alpha=0.85)
        if r["lo"] is not None:
            lo, hi = max(r["lo"], low), min(r["hi"], high)
            ax.plot([lo, hi], [y, y], color="black", linewidth=1)
            for end, bound, cut in ((lo, r["lo"], r["lo"] < low), (hi, r["hi"], r["hi"] > high)):
                if cut:  # the interval goes on past the axis: an arrow head instead of a cap
                    ax.plot([end], [y], marker="<" if end == low else ">", color="black", markersize=4)
                else:
                    ax.plot([end, end], [y - 0.18, y + 0.18], color="black", linewidth=1)
        text = f"{r['y']:.1f} %" + (f" [{r['lo']:.1f}, {r['hi']:.1f}]" if r["lo"] is not None else "")
        if r["note"]:
            text += f"  {r['note']}"
        ax.text(1.02, y, text, va="center", ha="left", fontsize=6.5, color="#222222", transform=right)
    ax.axvline(100, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)), [r["label"] for r in reversed(rows)], fontsize=7)
    ax.set_xlim(low, high)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("% of bare-metal performance (100 % = bare metal; left = slower); whiskers: 95 % interval"
                  + ("; ▸ interval runs on past the axis" if any(
                      r["lo"] is not None and (r["lo"] < low or r["hi"] > high) for r in rows) else ""))
    fig.subplots_adjust(top=1 - 0.55 / height, bottom=0.7 / height)
    ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    prov = provenance_line(runs, hosts)
    caption = (f"Every mode's headline number against bare metal on one shared axis that includes 100 %: the bar "
               f"runs from 100 % to the measured value, the whisker is the {int(stats.CONFIDENCE * 100)} % "
               f"{stats.METHOD} interval; hatched rows are emulated guests (not a VM overhead), rows without a "
               f"number say why, grey rows are the study's controls when it has them. {prov}.")
    fig.text(0.01, 0.1 / height, _wrap(prov, 120), fontsize=7, va="bottom")  # under the x label
    return Figure(name, title, caption, _save(fig, out_dir, name))


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def scaling_chart(scaling: pd.DataFrame, runs: pd.DataFrame, out_dir: Path, name: str = "copies_scaling") -> Figure:
    title = "Headline number against copies run at once, per mode"
    data = scaling[scaling["higher_is_better"].astype(bool)] if not scaling.empty else scaling
    if data.empty:
        why = "no throughput-like headline numbers in ok runs"
        return Figure(name, title, why, _placeholder(out_dir, name, title, why), has_data=False)
    panels = sorted({(h, p) for h, p in zip(data["host"], data["payload"])})
    fig, axes = plt.subplots(1, len(panels), figsize=(1 + 4.2 * len(panels), 4.2), squeeze=False)
    modes = sorted(data["mode"].unique())
    for ax, (host, payload) in zip(axes[0], panels):
        p = data[(data["host"] == host) & (data["payload"] == payload)]
        for mode in modes:
            m = p[p["mode"] == mode].sort_values("copies")
            if m.empty:
                continue
            lo = (m["mean"] - m["ci_low"]).fillna(0)
            hi = (m["ci_high"] - m["mean"]).fillna(0)
            emulated = bool(m["emulated"].any())
            ax.errorbar(m["copies"], m["mean"], yerr=[lo, hi], marker="o", capsize=3,
                        color=mode_colour(mode, modes), linestyle=":" if emulated else "-",
                        label=mode + (" (emulated, TCG)" if emulated else ""))
        one = p[(p["mode"] == "bare") & (p["copies"] == 1)]
        if not one.empty:
            xs = sorted(p["copies"].unique())
            ax.plot(xs, [one["mean"].iloc[0] * x for x in xs], color="grey", linestyle="--", linewidth=0.8,
                    label="ideal (bare, 1 copy × N)")
        unit = p["unit"].iloc[0]
        ax.set_xlabel("copies run at once")
        ax.set_ylabel(f"{p['benchmark'].iloc[0]} {p['metric'].iloc[0]} [{unit}] (machine total)")
        ax.set_xticks(sorted(p["copies"].unique()))
        if (p["mean"] > 0).all():  # a score or a rate cannot be negative, whatever a t interval says
            ax.set_ylim(bottom=0)
        ax.set_title(f"{payload} — {host}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    prov = provenance_line(runs, sorted({h for h, _ in panels}))
    fig.suptitle(title, fontsize=10)
    fig.text(0.01, -0.02, _wrap(prov + "; error bars: 95 % t interval of the mean over repetitions", 120),
             fontsize=7, va="top")
    caption = (f"Machine total summed over copies; error bars are 95 % t intervals of the mean over "
               f"repetitions; the dashed grey line is perfect scaling from bare metal at 1 copy. {prov}.")
    return Figure(name, title, caption, _save(fig, out_dir, name))


def startup_chart(measurements: pd.DataFrame, runs: pd.DataFrame, out_dir: Path,
                  name: str = "startup_latency") -> Figure:
    title = "Start-up latency of a trivial process, per mode"
    m = measurements
    sel = m[(m["payload"] == STARTUP_PAYLOAD) & (m["run_status"] == "ok") & (m["status"] == "ok")
            & m["value"].notna()]
    # Per-copy records (e.g. a copy's median over its samples); machine-level ones only if none.
    per_copy = sel[sel["copy"].notna() & (sel["unit"] == "s")]
    sel = per_copy if not per_copy.empty else sel[sel["unit"] == "s"]
    # One metric only: raw samples ("latency") if a parser emits them, else the per-copy medians.
    metrics = set(sel["metric"])
    if len(metrics) > 1:
        sel = sel[sel["metric"] == ("latency" if "latency" in metrics else sorted(metrics)[0])]
    if sel.empty:
        why = f"no ok '{STARTUP_PAYLOAD}' samples"
        return Figure(name, title, why, _placeholder(out_dir, name, title, why), has_data=False)
    hosts = sorted(sel["host"].unique())
    fig, axes = plt.subplots(1, len(hosts), figsize=(1.5 + 4.5 * len(hosts), 4.2), squeeze=False)
    modes = sorted(sel["mode"].unique(), key=lambda mo: (mo != "bare", mo))
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    for ax, host in zip(axes[0], hosts):
        h = sel[sel["host"] == host]
        data = [h[h["mode"] == mo]["value"].to_numpy() * 1e3 for mo in modes]
        ax.boxplot(data, positions=range(len(modes)), widths=0.5, showfliers=False)
        for i, (mo, vals) in enumerate(zip(modes, data)):
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(vals)), vals, s=8, alpha=0.6,
                       color=mode_colour(mo, modes), label=f"{mo} (n={len(vals)}, median {np.median(vals):.3g} ms)"
                       if len(vals) else mo)
        ax.set_xticks(range(len(modes)), modes)
        ax.set_yscale("log")
        ax.set_ylabel("start-up latency [ms] (log scale, lower = better)")
        ax.set_xlabel("execution mode")
        ax.set_title(host, fontsize=9)
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
    prov = provenance_line(runs, hosts)
    fig.suptitle(title, fontsize=10)
    fig.text(0.01, -0.02, _wrap(prov + f"; points: per-copy {', '.join(sorted(set(sel['metric'])))}; boxes: quartiles, whiskers 1.5 IQR", 120),
             fontsize=7, va="top")
    metrics = ", ".join(sorted(set(sel["metric"])))
    caption = (f"Each point is one copy's '{metrics}' record (one per copy per run), boxes are quartiles; "
               f"log scale. {prov}.")
    return Figure(name, title, caption, _save(fig, out_dir, name))


def write_figures(tables_dir: str | Path, out_dir: str | Path, seed_charts=SEED_CHARTS) -> list[Figure]:
    """Figures from results/tables/* into out_dir; writes out_dir/figures.json (name, title, caption, files)."""
    tables_dir, out_dir = Path(tables_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = read_tables(tables_dir)
    relative, relative_json, scaling = tables.relative, tables.relative_meta, tables.scaling
    measurements, runs = tables.measurements, tables.runs
    from .glance import _controls_from_tables, control_modes

    kinds = control_modes(tables)  # the study's control modes (modes.<name>.control) and controls.json
    controls = {**_controls_from_tables(tables, kinds), **(tables.controls or {})}
    figures = [relative_overview_chart(relative, relative_json, tables.summary, controls, runs, out_dir,
                                       control_modes=set(kinds))]
    for name, candidates, titles in seed_charts:
        payload = next((p for p in candidates if _headline(relative_json, p)), candidates[0])
        title = titles.get(payload, f"{payload} headline")
        figures.append(seed_score_chart(scaling, relative, runs, _headline(relative_json, payload), payload, name,
                                        title, out_dir))
    figures.append(scaling_chart(scaling, runs, out_dir))
    figures.append(startup_chart(measurements, runs, out_dir))
    (out_dir / "figures.json").write_text(json.dumps(
        [{"name": f.name, "title": f.title, "caption": f.caption, "has_data": f.has_data,
          "files": {k: Path(v).name for k, v in f.files.items()}} for f in figures], indent=1) + "\n")
    return figures
