import json
import os
from pathlib import Path

# Benchmark runs: one job per matrix cell, chained in the recorded interleaved
# order (config.run_matrix) so they execute one at a time in that order. Each
# run also takes the host's global benchmark lock (execbench.runner), so no two
# benchmarks overlap even across Snakemake processes. A failed or unavailable
# run still writes its run.json: the chain and the DAG go on.

# The validated config reaches the runs through the environment, set again wherever
# the workflow is loaded (a batch job loads it on its node), not through a job that
# reruns when the config changes: a config edit must neither redo finished runs (as a
# param would) nor make a job upstream of the runs run. Snakemake does not re-check
# the jobs downstream of a job that must run when the edge is ancient()
# (snakemake/snakemake#4166): with such a job an edited config (a payload enabled,
# more repetitions, config/full.yaml after the quick study) ran that one job and
# stopped with exit 0, the new runs not started.
# The variable is set here, never read from the user; its name is spelled out in
# the run job's command (a param would be a rerun trigger).
VALIDATED_CONFIG_JSON = json.dumps(config, indent=1, sort_keys=True, default=str)
os.environ.update(EXECBENCH_VALIDATED_CONFIG=VALIDATED_CONFIG_JSON)


# A local run job takes every core Snakemake was given (--cores); with a batch
# executor (no local cores) the job asks for 1 and --exclusive gives it the node.
BENCHMARK_THREADS = (
    workflow.resource_settings.cores
    if workflow.local_exec and workflow.resource_settings.cores
    else 1
)


# Leftovers of killed earlier invocations on this host, for this results dir only (containers,
# qemu guests, bare mounts; execbench.sweep): removed, and named, before any job runs. Snakemake
# calls this when it has jobs to run (not on a dry run or with --no-hooks). Arguments as a list:
# no shell, so no path is ever parsed by one.
SWEEP = [PYTHON, "-m", "execbench", "sweep", "--results", RESULTS]
SWEEP += ["--cache", config["cache"]]
SWEEP += [
    arg
    for settings in config["modes"].values()
    if settings["kind"] == "podman" and settings.get("enabled", True)
    for arg in ("--podman-user", settings["user"])
]


onstart:
    import subprocess

    subprocess.run(SWEEP, check=False)


rule run_config:
    """A record of the config this results directory's runs were first started with, made once.
    The runs take the current config from the environment (EXECBENCH_VALIDATED_CONFIG); this
    file stays an input of every run (ancient), so runs made when they read it keep their
    recorded inputs (the `input` rerun trigger would redo them all otherwise)."""
    output:
        f"{RESULTS}/.execbench/run-config.json",
    log:
        f"{RESULTS}/logs/run/run-config.log",
    run:
        Path(output[0]).write_text(VALIDATED_CONFIG_JSON)
        Path(log[0]).write_text(f"wrote {output[0]}\n")


rule run_payload:
    """One run (payload x mode x copies x repetition) -> native logs per copy + run.json."""
    input:
        config=ancient(rules.run_config.output[0]),
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
        "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench run --validated-config-env EXECBENCH_VALIDATED_CONFIG"
        " --payload {wildcards.payload:q} --mode {wildcards.mode:q} --copies {wildcards.copies:q}"
        " --rep {wildcards.rep:q} {params.host:q} 3>&2 > {log:q} 2>&1"
