"""`python -m execbench <verb>`: the one command-line entry."""

from __future__ import annotations

import subprocess
import sys

from execbench.cli import main, parser

VERBS = {"build-image", "run", "ingest", "parse", "tables", "figures", "report", "study-summary", "sweep",
         "check-config", "check-report", "schema-doc"}


def test_every_verb_is_listed_and_bad_arguments_exit_2():
    help_text = subprocess.run([sys.executable, "-m", "execbench", "--help"], capture_output=True, text=True).stdout
    assert all(verb in help_text for verb in VERBS)
    assert set(parser()._subparsers._group_actions[0].choices) == VERBS
    no_verb = subprocess.run([sys.executable, "-m", "execbench"], capture_output=True, text=True)
    assert no_verb.returncode == 2 and "VERB" in no_verb.stderr


def test_run_refuses_a_cell_outside_the_matrix(tmp_path, capsys):
    assert main(["run", "--config", "config/config.yaml", "--payload", "db12", "--mode", "nope", "--copies", "1",
                 "--rep", "1"]) == 2
    assert "no run db12/nope/1c/r1 in this config's matrix" in capsys.readouterr().err


def test_run_without_the_workflow_environment_says_so(capsys, monkeypatch):
    monkeypatch.delenv("EXECBENCH_VALIDATED_CONFIG", raising=False)
    assert main(["run", "--validated-config-env", "EXECBENCH_VALIDATED_CONFIG", "--payload", "db12", "--mode", "bare",
                 "--copies", "1", "--rep", "1"]) == 2
    assert "EXECBENCH_VALIDATED_CONFIG is not set" in capsys.readouterr().err


def test_schema_doc_prints_the_config_reference(capsys):
    assert main(["schema-doc"]) == 0
    from pathlib import Path

    assert capsys.readouterr().out == (Path(__file__).parents[1] / "config" / "README.md").read_text()
