import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from execbench import layout
from execbench.chain import LOCAL as LOCAL_CHAIN, chain_record_path, drop_stale_records
from execbench.config import (
    compose_config,
    config_warnings,
    describe_sources,
    load_config,
    run_matrix,
)
from execbench.errors import ConfigError
from execbench.plan import announce_config

# What the invocation asks for: the default study, or the first --configfile as the whole study
# (or over its `extends` base), later files and --config over it (execbench.config.compose_config;
# Snakemake's own merge of --configfile over the Snakefile's configfile is not used).
# Validation with the project's own loader instead of snakemake.utils.validate:
# same JSON Schema, but errors name the dotted key, and the checks a schema
# cannot express (registered modes/payloads, loopback registry, non-empty
# matrix) run here too, all before any job is scheduled.
try:
    _raw, CONFIG_SOURCES = compose_config(
        workflow.overwrite_configfiles,
        dict(workflow.config_settings.config or {}),
        default=Path(workflow.basedir) / "config" / "config.yaml",
    )
    _validated = load_config(_raw, source_name=describe_sources(CONFIG_SOURCES))
except ConfigError as error:
    raise WorkflowError(f"invalid config: {error}") from None
config.clear()
config.update(_validated)
# Printed once per invocation (not in the jobs) and stored with the results.
if workflow.is_main_process:
    announce_config(
        config,
        CONFIG_SOURCES,
        write=not getattr(workflow.output_settings, "dryrun", False),
    )
for _warning in config_warnings(config):
    print(f"execbench: warning: {_warning}", file=sys.stderr)

# Jobs stop when this Snakemake process is gone (a kill -9 of it leaves its running job behind;
# execbench.runner.stop_with_workflow, issue 13 R5). Loaded again in a batch job's own Snakemake
# on its node, which sets its own pid. Never read from the user: a runner checks it is an ancestor.
os.environ.update(EXECBENCH_WORKFLOW_PID=str(os.getpid()))

RESULTS = config["results"]
# Rules run the package with the interpreter that runs Snakemake (the venv's),
# spelled one way (python vs python3 in a venv): rules pass it as a param, and
# params are a rerun trigger, so a finished benchmark is not redone just because
# Snakemake was started differently.
_python = Path(sys.executable)
PYTHON = str(
    _python.with_name("python") if _python.with_name("python").exists() else _python
)
MATRIX = run_matrix(config)  # the fixed rounds (adaptive rounds are the chain job's)
IMAGE = config["image"]
# One chain per host of cluster.hosts (each host's runs compared with its own bare metal), else
# one chain named "local". A chain is one job: execbench.chain carries its runs out in order.
CLUSTER_HOSTS = config["cluster"]["hosts"]
CHAINS = CLUSTER_HOSTS or [LOCAL_CHAIN]
# A chain whose finished runs were deleted or set aside (execbench redo) is due again: its record
# goes, and the chain resumes for what is missing (the records are targets of rule all).
if not config["from_raw"]:
    for _line in drop_stale_records(
        RESULTS, [None if c == LOCAL_CHAIN else c for c in CHAINS]
    ):
        print(f"execbench: {_line}", file=sys.stderr)


wildcard_constraints:
    chain=layout.NAME_PATTERN,
    image=layout.NAME_PATTERN,


def chain_record(chain):
    return str(chain_record_path(RESULTS, None if chain == LOCAL_CHAIN else chain))


def chain_slurm_extra(wildcards):
    # The chain has its node to itself (--exclusive: nothing else runs there while a payload is
    # measured) and, with cluster.hosts, is pinned to its host. Unquoted: the plugin appends it to
    # the sbatch command line as is (a profile's "'--exclusive'" is a Python expression).
    pin = f" --nodelist={wildcards.chain}" if CLUSTER_HOSTS else ""
    return f"--exclusive{pin}"


# Every run's native logs are parsed in one job into ONE JSON Lines file (one run a line), the
# study's and ingested runs alike: Snakemake then tracks one output whatever the number of runs
# (10,000 archived runs: bench/bench_archive_rebuild.py). The manifest is never read while the
# DAG is built: ingest may turn one row into many runs, and a bad manifest must not stop the DAG.
PARSED_RUNS = f"{RESULTS}/parsed/runs.jsonl"
# the study's own run directories, which an ingest must leave alone
STUDY_RUNS = f"{RESULTS}/ingest/study-runs.txt"


def parsed_runs():
    """Parsed-run files the tables and report are built from."""
    return [PARSED_RUNS]


def raw_runs_fingerprint():
    """A digest of every run.json under results/raw (execbench.parse.raw_fingerprint): a param of
    the rebuild, so adding, removing or rewriting a run reruns it without declaring every run.json.
    """
    from execbench.parse import raw_fingerprint

    return raw_fingerprint(Path(RESULTS) / "raw")
