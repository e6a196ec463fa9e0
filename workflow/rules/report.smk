# Report stage: parsed runs -> tables -> figures -> one self-contained index.html (+ report.md).
# Runs no benchmark, so with from_raw (or after an ingest) it rebuilds everything from
# results/raw alone. Needs from common.smk: RESULTS, PYTHON, parsed_runs(); from ingest.smk:
# INGEST_SKIPPED. Figures and tables are registered with report() for `snakemake --report`.

import json
import sys
import time
from pathlib import Path

REPORT_TABLES = f"{RESULTS}/tables"
REPORT_DIR = f"{RESULTS}/report"
REPORT_FIGURES = f"{RESULTS}/report/figures"
# The config files of this invocation (embedded in the report), each once.
REPORT_CONFIGS = list(
    dict.fromkeys(str(Path(c).resolve()) for c in workflow.configfiles)
)


rule combine_tables:
    """Parsed runs -> measurements.csv (tidy), relative.* (mode / bare metal, 95 % CI), scaling.*,
    cross_hosts.* (spread over hosts of the per-host ratios)."""
    input:
        parsed=parsed_runs(),
        # the ingest's skipped-inputs list, when this study ingests logs
        skipped=[INGEST_SKIPPED] if config["ingest"]["manifest"] else [],
    output:
        measurements=report(
            f"{REPORT_TABLES}/measurements.csv",
            caption="../report/measurements.rst",
            category="Tables",
            labels={"table": "measurements (one row per record)"},
        ),
        runs=f"{REPORT_TABLES}/runs.csv",
        relative=report(
            f"{REPORT_TABLES}/relative.csv",
            caption="../report/relative_table.rst",
            category="Tables",
            labels={"table": "relative to bare metal"},
        ),
        relative_json=f"{REPORT_TABLES}/relative.json",
        relative_md=f"{REPORT_TABLES}/relative.md",
        scaling=report(
            f"{REPORT_TABLES}/scaling.csv",
            caption="../report/scaling_table.rst",
            category="Tables",
            labels={"table": "copies scaling"},
        ),
        scaling_json=f"{REPORT_TABLES}/scaling.json",
        scaling_md=f"{REPORT_TABLES}/scaling.md",
        cross_hosts=report(
            f"{REPORT_TABLES}/cross_hosts.csv",
            caption="../report/cross_hosts_table.rst",
            category="Tables",
            labels={"table": "across hosts (spread of per-host ratios)"},
        ),
        cross_hosts_json=f"{REPORT_TABLES}/cross_hosts.json",
        cross_hosts_md=f"{REPORT_TABLES}/cross_hosts.md",
        excluded=f"{REPORT_TABLES}/excluded.json",
        summary=f"{REPORT_TABLES}/summary.json",
        # ingested runs: every copied file with its sha256 and provenance
        inputs=f"{REPORT_TABLES}/inputs.csv",
        # the host audit's findings per host and mode (execbench.findings)
        audit=f"{REPORT_TABLES}/audit.json",
        audit_csv=f"{REPORT_TABLES}/audit.csv",
    log:
        f"{RESULTS}/logs/report/combine_tables.log",
    conda:
        "../../envs/execbench.yaml"
    params:
        python=PYTHON,
        skipped=INGEST_SKIPPED,
        tables=lambda wildcards, output: Path(output.measurements).parent,
    shell:
        "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench tables --out {params.tables:q}"
        " --skipped {params.skipped:q}"
        " {input.parsed:q} 3>&2 > {log:q} 2>&1"


rule report_figures:
    """Tables -> the seed's two charts, copies scaling, start-up latency (PNG + SVG)."""
    input:
        relative=rules.combine_tables.output.relative,
        relative_json=rules.combine_tables.output.relative_json,
        scaling=rules.combine_tables.output.scaling,
        measurements=rules.combine_tables.output.measurements,
        runs=rules.combine_tables.output.runs,
    output:
        suite=report(
            f"{REPORT_FIGURES}/suite_vs_bare.png",
            caption="../report/suite_vs_bare.rst",
            category="Relative to bare metal",
            labels={"figure": "CPU suite score", "copies": "1 and N"},
        ),
        chain=report(
            f"{REPORT_FIGURES}/hepchain_vs_bare.png",
            caption="../report/hepchain_vs_bare.rst",
            category="Relative to bare metal",
            labels={"figure": "HEP chain throughput", "copies": "1 and N"},
        ),
        scaling=report(
            f"{REPORT_FIGURES}/copies_scaling.png",
            caption="../report/copies_scaling.rst",
            category="Copies scaling",
            labels={"figure": "headline vs copies", "copies": "all"},
        ),
        startup=report(
            f"{REPORT_FIGURES}/startup_latency.png",
            caption="../report/startup_latency.rst",
            category="Start-up latency",
            labels={"figure": "start-up latency", "copies": "all"},
        ),
        svgs=[
            f"{REPORT_FIGURES}/{name}.svg"
            for name in (
                "suite_vs_bare",
                "hepchain_vs_bare",
                "copies_scaling",
                "startup_latency",
            )
        ],
        manifest=f"{REPORT_FIGURES}/figures.json",
    log:
        f"{RESULTS}/logs/report/figures.log",
    conda:
        "../../envs/execbench.yaml"
    params:
        python=PYTHON,
        tables=lambda wildcards, input: Path(input.relative).parent,
        figures=lambda wildcards, output: Path(output.manifest).parent,
    shell:
        "EXECBENCH_REASON_FD=3 MPLBACKEND=Agg {params.python:q} -m execbench figures --tables {params.tables:q}"
        " --out {params.figures:q} 3>&2 > {log:q} 2>&1"


rule report:
    """Tables + figures + provenance -> results/report/index.html (self-contained) and report.md."""
    input:
        tables=rules.combine_tables.output,
        figures=rules.report_figures.output,
        relative=rules.combine_tables.output.relative,
        manifest=rules.report_figures.output.manifest,
        configs=REPORT_CONFIGS,
    output:
        html=report(
            f"{REPORT_DIR}/index.html",
            caption="../report/index_html.rst",
            category="Report",
            labels={"document": "self-contained report"},
        ),
        md=f"{REPORT_DIR}/report.md",
    log:
        f"{RESULTS}/logs/report/report.log",
    conda:
        "../../envs/execbench.yaml"
    params:
        python=PYTHON,
        tables=lambda wildcards, input: Path(input.relative).parent,
        figures=lambda wildcards, input: Path(input.manifest).parent,
        out=lambda wildcards, output: Path(output.html).parent,
        configs=[arg for c in REPORT_CONFIGS for arg in ("--config", c)],
        # no benchmark ran: the config is not the runs' and is not shown as theirs
        from_raw=["--from-raw"] if config.get("from_raw") else [],
    shell:
        "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench report --tables {params.tables:q}"
        " --figures {params.figures:q} --out {params.out:q}"
        " {params.configs:q} {params.from_raw:q} 3>&2 > {log:q} 2>&1"


# The end of every study, on the submit host (its output is for the terminal). A final rule, not
# an onsuccess handler: a handler can fail the invocation (by raising) but runs only when jobs
# ran, so the next invocation ("Nothing to be done") would exit 0 and forget, and --no-hooks
# skips it. This job's failure makes the invocation exit non-zero while the tables and report,
# made by jobs before it, stay written; its output is written only when it passes, so every
# later invocation prints the summary and fails again until the study has an answer.
localrules:
    study_summary,


rule study_summary:
    """Summary (runs ok / failed / unavailable per payload and mode, reasons from the payloads' own
    logs) on the terminal; fails when the study has no answer unless fail_without_answer is false.
    """
    input:
        summary=rules.combine_tables.output.summary,
        report=rules.report.output.html,
    output:
        f"{RESULTS}/.execbench/study-answer.txt",
    log:
        f"{RESULTS}/logs/report/study_summary.log",
    conda:
        "../../envs/execbench.yaml"
    params:
        python=PYTHON,
        no_fail=[] if config.get("fail_without_answer", True) else ["--no-fail"],
    shell:
        "{params.python:q} -m execbench study-summary {input.summary:q} --out {output:q} {params.no_fail:q}"
        " 2>&1 | tee {log:q}"


# When the invocation fails, Snakemake's own error report follows the summary: repeat why the
# study has no answer as the last lines (only when the summary rule ran in this invocation).
_STARTED = time.time()


onerror:
    _log = Path(rules.study_summary.log[0])
    _summary = Path(rules.combine_tables.output.summary)
    if _summary.exists() and _log.exists() and _log.stat().st_mtime >= _STARTED:
        from execbench.summary import closing_lines

        for _line in closing_lines(
            json.loads(_summary.read_text()),
            rules.report.output.html,
            str(_summary),
        ):
            print(_line, file=sys.stderr)
