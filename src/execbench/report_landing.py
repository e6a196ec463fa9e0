"""What `snakemake --report` opens on: the answer, not the job graph.

Snakemake's HTML report opens on the rule graph unless it is given report metadata
(`--report-metadata FILE`, a YTE template; snakemake/report/__init__.py); then it opens on the
workflow's description (workflow/report/workflow.rst) followed by that metadata. The template
workflow/report/metadata.yaml calls landing(), which reads the study's tables and gives the
first screen of the study's own report (execbench.glance) as flat key -> text or list of text,
the only shape Snakemake accepts there. `bash scripts/run.sh --report FILE` adds the template
and names the results directory in EXECBENCH_RESULTS (default: results).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import glance, tables

RESULTS_ENV = "EXECBENCH_RESULTS"


def landing(results: str | Path | None = None) -> dict:
    """{'Answer': [line per mode and workload], 'Controls': str, 'Study': str, 'Read more': str}."""
    results = Path(results or os.environ.get(RESULTS_ENV) or "results")
    tables_dir = results / "tables"
    if not (tables_dir / "relative.csv").exists():
        return {"Answer": f"no tables under {tables_dir} yet (run the study first: bash scripts/run.sh)"}
    screen = glance.first_screen(tables.read_tables(tables_dir))
    lines = glance.render_text(screen).splitlines()
    answer = [line for line in lines[1:] if line != screen.controls]
    return {
        "Study": screen.headline,
        "Answer": answer or ["no mode could be compared with bare metal"],
        "Controls": screen.controls,
        "Read more": (f"the full report: {results}/report/index.html (first screen as above, then every table, "
                      "figure and the provenance); the figures and tables are under Results, left"),
    }
