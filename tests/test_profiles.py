"""The shipped Snakemake profiles: every key is an option the pinned Snakemake
(with its executor plugins) knows, and every key carries a comment; the cluster
plugins are loaded exactly when a profile or executor is asked for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from execbench.paths import REPO_ROOT

PROFILES = ["default", "slurm", "htcondor"]
# scripts/setup.sh installs the cluster executor plugins here, off the default import path
CLUSTER_PLUGINS = REPO_ROOT / ".venv" / "cluster-plugins"
SLURM_SETTINGS = "slurm executor plugin settings"


@pytest.fixture(scope="module")
def snakemake_help() -> str:
    result = subprocess.run([sys.executable, "-m", "snakemake", "--help"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(CLUSTER_PLUGINS)})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", PROFILES)
def test_profile_keys_are_known_snakemake_options(name, snakemake_help):
    profile = yaml.safe_load((REPO_ROOT / "profiles" / name / "config.yaml").read_text())
    executor = profile.get("executor")
    if executor == "htcondor" and not (CLUSTER_PLUGINS / "snakemake_executor_plugin_htcondor").is_dir():
        # installed on an HTCondor access point only (its import warns about a missing CONDOR_CONFIG)
        pytest.skip("snakemake-executor-plugin-htcondor is installed only where condor_submit is")
    if executor in ("slurm", "htcondor"):
        # the plugin must be installed, or its settings are not options at all
        assert f"{executor} executor plugin settings" in snakemake_help, f"snakemake-executor-plugin-{executor}?"
    unknown = [key for key in profile if f"--{key}" not in snakemake_help]
    assert not unknown, f"profiles/{name}: unknown options {unknown}"


@pytest.mark.parametrize("name", ["slurm", "htcondor"])
def test_every_profile_key_is_commented(name):
    lines = (REPO_ROOT / "profiles" / name / "config.yaml").read_text().splitlines()
    for number, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        # a key: an inline comment, or a comment line right above it
        above = next((lines[i] for i in range(number - 1, -1, -1) if lines[i].strip()), "")
        assert " #" in line or above.lstrip().startswith(
            "#"
        ), f"profiles/{name}/config.yaml:{number + 1}: {line.strip()!r} has no comment"


def test_slurm_profile_leaves_the_runs_exclusive_pin_to_the_rule_and_polls_squeue():
    profile = yaml.safe_load((REPO_ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    # common.smk gives run_chain slurm_extra --exclusive[ --nodelist=<host>] (checked by the dry
    # runs in test_workflow.py); a profile value would replace it, node pin included.
    assert "slurm_extra" not in profile["set-resources"]["run_chain"]
    assert profile["slurm-status-command"] == "squeue"  # no accounting database needed
    assert profile["slurm-no-account"] is True


def run_sh_help(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SNAKEMAKE_PROFILE")}
    result = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "run.sh"), *args, "--help"], capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_run_sh_loads_the_slurm_plugin_only_for_a_profile_or_an_executor():
    # a local run never imports it (it asks `scontrol` at import: 10 s where no controller answers)
    assert SLURM_SETTINGS not in run_sh_help()
    assert SLURM_SETTINGS not in run_sh_help("-n", "--configfile", "config/examples/slurm-smoke.yaml")
    # (each of these pays the plugin's scontrol probe: 10 s while no controller answers)
    assert SLURM_SETTINGS in run_sh_help("--profile", "profiles/slurm")
    assert SLURM_SETTINGS in run_sh_help("--executor=slurm")
