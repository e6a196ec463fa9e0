import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from execbench import layout
from execbench.config import config_warnings, load_config, run_matrix
from execbench.errors import ConfigError

# Validation with the project's own loader instead of snakemake.utils.validate:
# same JSON Schema, but errors name the dotted key, and the checks a schema
# cannot express (registered modes/payloads, loopback registry, non-empty
# matrix) run here too, all before any job is scheduled.
try:
    _validated = load_config(dict(config), source_name="config")
except ConfigError as error:
    raise WorkflowError(f"invalid config: {error}") from None
config.clear()
config.update(_validated)
for _warning in config_warnings(config):
    print(f"execbench: warning: {_warning}", file=sys.stderr)

# Jobs stop when this Snakemake process is gone (a kill -9 of it leaves its running job behind;
# execbench.runner.stop_with_workflow, issue 13 R5). Loaded again in a batch job's own Snakemake
# on its node, which sets its own pid. Never read from the user: a runner checks it is an ancestor.
os.environ["EXECBENCH_WORKFLOW_PID"] = str(os.getpid())

RESULTS = config["results"]
# Rules run the package with the interpreter that runs Snakemake (the venv's),
# spelled one way (python vs python3 in a venv): rules pass it as a param, and
# params are a rerun trigger, so a finished benchmark is not redone just because
# Snakemake was started differently.
_python = Path(sys.executable)
PYTHON = str(
    _python.with_name("python") if _python.with_name("python").exists() else _python
)
MATRIX = run_matrix(config)
IMAGE = config["image"]
# Fan-out over cluster.hosts: every host runs the whole matrix as its own chain,
# under r<rep>@<host>/. Without hosts, one chain and the paths as always.
CLUSTER_HOSTS = config["cluster"]["hosts"]
PAIRING = config["cluster"]["pairing"]
# The run part of every raw/parsed path: execbench.layout is its one spelling.
RUN_PATTERN = layout.RUN_WILDCARDS_AT_HOST if CLUSTER_HOSTS else layout.RUN_WILDCARDS


wildcard_constraints:
    **layout.WILDCARD_CONSTRAINTS,
    image=layout.NAME_PATTERN,


def raw_run_json(key):
    return str(layout.run_json(RESULTS, key))


# Each run waits for the one before it in its host's interleaved order (one
# chain per host of cluster.hosts, else one chain). ancient(): a finished
# earlier run never makes a later finished run out of date.
PREVIOUS_RUN = {}
for _host in dict.fromkeys(cell.host for cell in MATRIX):
    _chain = sorted((c for c in MATRIX if c.host == _host), key=lambda c: c.order_index)
    for _i, _cell in enumerate(_chain):
        PREVIOUS_RUN[_cell.rel_dir] = (
            [ancient(raw_run_json(_chain[_i - 1]))] if _i else []
        )


def previous_run(wildcards):
    return PREVIOUS_RUN.get(RUN_PATTERN.format(**dict(wildcards.items())), [])


# Keeping a host's runs on that host (cluster.pairing). group: the host's whole
# chain is one job group, which a batch executor submits as ONE job (one
# allocation, every mode of every cell on the same node). nodelist: each run is
# its own batch job. Either way the job is pinned to its host (--nodelist) and
# has the node to itself (--exclusive): nothing else runs there while a payload
# is measured.
RUN_GROUP = "runs-{host}" if CLUSTER_HOSTS and PAIRING == "group" else None


def run_slurm_extra(wildcards):
    # Unquoted: the plugin appends it to the sbatch command line as is (a
    # profile's "'--exclusive'" is a Python expression, evaluated to this).
    pin = f" --nodelist={wildcards.host}" if CLUSTER_HOSTS else ""
    return f"--exclusive{pin}"


def parsed_run_json(rel_dir):
    return str(layout.parsed_json(RESULTS, layout.RunKey.from_rel_dir(rel_dir)))


# A study parses each of its runs as it finishes (one parsed JSON per run). A rebuild from raw
# logs (from_raw), and the runs an ingest brings into a study, are parsed in one job into ONE
# JSON Lines file: Snakemake then tracks one output whatever the number of runs (the 10,000-run
# archive: bench/bench_archive_rebuild.py). The manifest is never read while the DAG is built:
# ingest may turn one row into many runs, and a bad manifest must not stop the DAG.
FROM_RAW_PARSED = f"{RESULTS}/parsed/from_raw.jsonl"
INGESTED_PARSED = f"{RESULTS}/parsed/ingested.jsonl"
# the study's own run directories, which an ingest must leave alone
STUDY_RUNS = f"{RESULTS}/ingest/study-runs.txt"


def parsed_runs():
    """Parsed-run files the tables and report are built from."""
    if config["from_raw"]:
        return [FROM_RAW_PARSED]
    ingested = [INGESTED_PARSED] if config["ingest"]["manifest"] else []
    return [parsed_run_json(cell.rel_dir) for cell in MATRIX] + ingested


def raw_runs_fingerprint():
    """A digest of every run.json under results/raw (execbench.parse.raw_fingerprint): a param of
    the rebuild, so adding, removing or rewriting a run reruns it without declaring every run.json.
    """
    from execbench.parse import raw_fingerprint

    return raw_fingerprint(Path(RESULTS) / "raw")
