import json
from pathlib import Path

# Benchmark runs: one job per matrix cell, chained in the recorded interleaved
# order (config.run_matrix) so they execute one at a time in that order. Each
# run also takes the host's global benchmark lock (execbench.runner), so no two
# benchmarks overlap even across Snakemake processes. A failed or unavailable
# run still writes its run.json: the chain and the DAG go on.


# The runner's entry point, found from this file so any working directory works.
RUN_SCRIPT = str(
    Path(workflow.current_basedir, "..", "..", "scripts", "run_payload.py").resolve()
)


# The interpreter that runs Snakemake, spelled one way (python vs python3 in a venv).
RUN_PYTHON = (
    str(Path(PYTHON).with_name("python"))
    if Path(PYTHON).with_name("python").exists()
    else PYTHON
)


# Each run waits for the one before it in the interleaved order. ancient():
# a finished earlier run never makes a later finished run out of date.
RUN_ORDER = sorted(MATRIX, key=lambda c: c.order_index)
PREVIOUS_RUN = {
    cell.rel_dir: ([ancient(raw_run_json(RUN_ORDER[i - 1]))] if i else [])
    for i, cell in enumerate(RUN_ORDER)
}


rule run_config:
    """The validated config the runs read (rewritten when the config changes; the
    runs take it as ancient, so an edit does not by itself redo finished runs)."""
    output:
        f"{RESULTS}/.execbench/run-config.json",
    log:
        f"{RESULTS}/logs/run/run-config.log",
    params:
        text=lambda wildcards: json.dumps(config, indent=1, sort_keys=True, default=str),
    run:
        Path(output[0]).write_text(f"{params.text}\n")
        Path(log[0]).write_text(f"wrote {output[0]}\n")


rule run_payload:
    """One run (payload x mode x copies x repetition) -> native logs per copy + run.json."""
    input:
        config=ancient(f"{RESULTS}/.execbench/run-config.json"),
        image=f"{RESULTS}/images/{IMAGE}.json",
        previous=lambda w: PREVIOUS_RUN.get(
            f"{w.payload}/{w.mode}/{w.copies}c/r{w.rep}", []
        ),
    output:
        f"{RESULTS}/raw/{{payload}}/{{mode}}/{{copies}}c/r{{rep}}/run.json",
    log:
        f"{RESULTS}/logs/run/{{payload}}/{{mode}}/{{copies}}c/r{{rep}}.log",
    conda:
        "../../envs/execbench.yaml"
    resources:
        benchmark_slot=1,
    params:
        # params are a rerun trigger: keep them stable so a finished benchmark is not
        # redone just because Snakemake was started as `python` instead of `python3`
        python=RUN_PYTHON,
        script=RUN_SCRIPT,
    shell:
        "{params.python:q} {params.script:q} --validated-config {input.config:q} --payload {wildcards.payload:q}"
        " --mode {wildcards.mode:q} --copies {wildcards.copies} --rep {wildcards.rep} > {log} 2>&1"
