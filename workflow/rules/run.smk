import json
from pathlib import Path

# Benchmark runs: one job per matrix cell, chained in the recorded interleaved
# order (config.run_matrix) so they execute one at a time in that order. Each
# run also takes the host's global benchmark lock (execbench.runner), so no two
# benchmarks overlap even across Snakemake processes. A failed or unavailable
# run still writes its run.json: the chain and the DAG go on.


# A local run job takes every core Snakemake was given (--cores); with a batch
# executor (no local cores) the job asks for 1 and --exclusive gives it the node.
BENCHMARK_THREADS = (
    workflow.resource_settings.cores
    if workflow.local_exec and workflow.resource_settings.cores
    else 1
)


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
        previous=previous_run,
    output:
        f"{RESULTS}/raw/{RUN_PATTERN}/run.json",
    log:
        f"{RESULTS}/logs/run/{RUN_PATTERN}.log",
    group:
        RUN_GROUP
    conda:
        "../../envs/execbench.yaml"
    # All of the local cores: no parse or report job shares the host while a
    # payload is measured. (On a cluster, slurm_extra's --exclusive does that.)
    threads: BENCHMARK_THREADS
    resources:
        benchmark_slot=1,
        slurm_extra=run_slurm_extra,
    params:
        python=PYTHON,
        host=lambda w: ["--host", w.host] if CLUSTER_HOSTS else [],
    shell:
        "{params.python:q} -m execbench run --validated-config {input.config:q} --payload {wildcards.payload:q}"
        " --mode {wildcards.mode:q} --copies {wildcards.copies:q} --rep {wildcards.rep:q} {params.host:q}"
        " > {log:q} 2>&1"
