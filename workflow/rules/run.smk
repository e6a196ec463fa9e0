import json
import os

from execbench.chain import plan_digest

# Benchmark runs: one job per host chain (execbench.chain), which carries the host's runs out one
# unit at a time in the paired, interleaved order, under the host's benchmark lock (no two
# benchmarks overlap, even across Snakemake processes). A failed or unavailable run still writes
# its run.json: the chain goes on. The run directories are not the job's outputs, so Snakemake
# never deletes a finished run; the job's output is the chain's record, written last.

# The validated config reaches the chain job through the environment, set again wherever the
# workflow is loaded (a batch job loads it on its node): a command-line argument would be long,
# and what matters for a rerun is the plan digest (a param). The variable is set here, never
# read from the user; its name is spelled out in the job's command.
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


rule run_chain:
    """One host's chain of runs (execbench.chain): every round in the paired, interleaved order,
    extra rounds where a cell is too wide (study.adaptive), resumed after a kill (finished runs are
    never measured again); its record raw/.chains/<chain>.json is written last."""
    input:
        image=f"{RESULTS}/images/{IMAGE}.json",
    output:
        f"{RESULTS}/raw/.chains/{{chain}}.json",
    log:
        f"{RESULTS}/logs/run/{{chain}}.log",
    conda:
        "../../envs/execbench.yaml"
    # All of the local cores: no parse or report job shares the host while a payload is
    # measured. (On a cluster, slurm_extra's --exclusive does that.)
    threads: BENCHMARK_THREADS
    resources:
        benchmark_slot=1,
        slurm_extra=chain_slurm_extra,
    params:
        python=PYTHON,
        host=lambda w: ["--host", w.chain] if CLUSTER_HOSTS else [],
        # a rerun trigger: what decides the chain's runs (config, host); the chain then resumes
        plan=lambda w: plan_digest(config, w.chain if CLUSTER_HOSTS else None),
    shell:
        "{params.python:q} -m execbench chain --validated-config-env EXECBENCH_VALIDATED_CONFIG"
        " {params.host:q} 2>&1 | tee {log:q}"
