"""The report's figures, from the tables (matplotlib, Agg backend, PNG + SVG).

- `<name>_vs_bare`: the seed's two charts — the CPU suite score and the HEP chain throughput
  as % of bare metal per mode, at 1 copy and at N copies, with 95 % CI error bars;
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
     {"cpusuite": "CPU suite score (SPEC CPU2006-like, one copy per core)",
      "hs06": "HEP-SPEC06 (one copy per core)"}),
    ("hepchain_vs_bare", ("hepchain", "kv", "kitvalidation"),
     {"hepchain": "HEP chain throughput (KitValidation-like: gen → sim → digi → reco)",
      "kv": "ATLAS KitValidation"}),
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


def percent_of_bare_chart(relative: pd.DataFrame, runs: pd.DataFrame, headline, payload: str,
                          name: str, title: str, out_dir: Path) -> Figure:
    """Grouped bars: % of bare-metal performance per mode, one group per copies value (1 and max)."""
    if headline is None:
        why = f"no machine-level headline record for payload '{payload}' in ok runs"
        return Figure(name, title, why, _placeholder(out_dir, name, title, why), has_data=False)
    benchmark, metric = headline
    rows = relative[(relative["payload"] == payload) & (relative["benchmark"] == benchmark)
                    & (relative["metric"] == metric)]
    if rows.empty:
        why = f"no comparison with bare metal for {payload} {benchmark}/{metric}"
        return Figure(name, title, why, _placeholder(out_dir, name, title, why), has_data=False)
    hosts = sorted(rows["host"].unique())
    fig, axes = plt.subplots(1, len(hosts), figsize=(3.2 + 3.3 * len(hosts), 4.4), squeeze=False)
    modes = sorted(rows["mode"].unique())
    for ax, host in zip(axes[0], hosts):
        h = rows[rows["host"] == host]
        copies = sorted(h["copies"].unique())
        shown = sorted({copies[0], copies[-1]})
        width = 0.8 / max(len(modes), 1)
        ys, ci_lows, ci_highs, labels = [], [], [], []
        for i, mode in enumerate(modes):
            for j, c in enumerate(shown):
                r = h[(h["mode"] == mode) & (h["copies"] == c)]
                if r.empty:
                    continue
                r = r.iloc[0]
                x = j + (i - (len(modes) - 1) / 2) * width
                y = 100 * r["relative_performance"]
                has_ci = pd.notna(r["perf_ci_low"]) and np.isfinite(r["perf_ci_high"])
                ax.bar(x, y, width * 0.92, color=mode_colour(mode, modes), hatch="//" if r["emulated"] else None,
                       edgecolor="black", linewidth=0.5,
                       label=(mode + (" (emulated, TCG)" if r["emulated"] else "")) if j == 0 else None)
                if has_ci:
                    lo, hi = 100 * r["perf_ci_low"], 100 * r["perf_ci_high"]
                    ax.errorbar(x, y, yerr=[[y - lo], [hi - y]], fmt="none", ecolor="black", capsize=3, linewidth=1)
                    ci_lows.append(lo)
                    ci_highs.append(hi)
                    text = f"{y:.1f}\n[{lo:.1f}, {hi:.1f}]"
                else:
                    text = f"{y:.1f}\n" + ("(n=1)" if r["verdict"] == stats.NO_INTERVAL_N1 else "(unbounded)")
                ys.append(y)
                labels.append((x, text))
        ax.axhline(100, color="black", linestyle="--", linewidth=1, label="bare metal = 100 %")
        ax.set_xticks(range(len(shown)), [f"{c} cop{'y' if c == 1 else 'ies'}" for c in shown])
        # Zoomed so that 1 % differences are visible (the dashed line marks bare metal), but never so
        # far that one uninformative interval squashes the bars: such error bars run off the axis,
        # and the printed numbers under each bar give the interval anyway.
        top_data = max(ys + [100.0])
        top = min(max(ci_highs + [top_data]) + 2, top_data * 1.25 + 2)
        bottom_data = min(ys + [100.0])
        bottom = max(min(ci_lows + [bottom_data]) - 2, bottom_data * 0.75 - 2)
        bottom = 0.0 if bottom < 50 else bottom
        ax.set_ylim(bottom, max(top, 101.5))
        for x, text in labels:
            ax.annotate(text, (x, bottom), textcoords="offset points", xytext=(0, 4), ha="center", va="bottom",
                        fontsize=6.5, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.85, "lw": 0})
        ax.set_ylabel(f"{benchmark} {metric} as % of bare metal (higher = better)")
        ax.set_xlabel("copies run at once")
        ax.set_title(host, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper right", framealpha=0.9)
    fig.suptitle(title, fontsize=10)
    prov = provenance_line(runs, hosts)
    caption = (f"Performance relative to bare metal on the same host, per execution mode, at 1 copy "
               f"and at the maximum copies; error bars are the {int(stats.CONFIDENCE * 100)} % "
               f"{stats.METHOD} interval over paired rounds (geometric mean of the rounds' ratios). {prov}.")
    fig.text(0.01, -0.02, _wrap(prov + f"; error bars and [bracketed] numbers: 95 % {stats.METHOD} CI",
                                110), fontsize=7, va="top")
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
    figures = []
    for name, candidates, titles in seed_charts:
        payload = next((p for p in candidates if _headline(relative_json, p)), candidates[0])
        title = titles.get(payload, f"{payload} headline")
        figures.append(percent_of_bare_chart(relative, runs, _headline(relative_json, payload), payload, name,
                                             title, out_dir))
    figures.append(scaling_chart(scaling, runs, out_dir))
    figures.append(startup_chart(measurements, runs, out_dir))
    (out_dir / "figures.json").write_text(json.dumps(
        [{"name": f.name, "title": f.title, "caption": f.caption, "has_data": f.has_data,
          "files": {k: Path(v).name for k, v in f.files.items()}} for f in figures], indent=1) + "\n")
    return figures
