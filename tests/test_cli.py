"""`python -m execbench <verb>`: the one command-line entry."""

from __future__ import annotations

import subprocess
import sys

from execbench.cli import main, parser

VERBS = {"build-image", "chain", "redo", "run", "ingest", "parse", "tables", "figures", "report", "study-summary",
         "sweep", "check-config", "check-report", "audit-diff", "schema-doc", "plan", "follow", "export-wlcg"}


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


def test_redo_sets_a_finished_run_aside_and_makes_its_chain_run_again(tmp_path, capsys):
    import json

    results = tmp_path / "results"
    run_dir = results / "raw" / "db12" / "docker" / "1c" / "r2"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"status": "ok"}))
    (run_dir / "db12.log").write_text("DB12 score 12.3\n")
    record = results / "raw" / ".chains" / "local.json"
    record.parent.mkdir(parents=True)
    record.write_text("{}")
    assert main(["redo", "--results", str(results), "db12/docker/1c/r2", "db12/bare/1c/r9"]) == 0
    out = capsys.readouterr().out
    assert "db12/docker/1c/r2: set aside in" in out and "db12/bare/1c/r9: not on disk" in out
    assert not run_dir.exists() and not record.exists()  # the next invocation reruns the chain
    kept = list((results / "raw" / ".incomplete").rglob("db12.log"))
    assert [p.read_text() for p in kept] == ["DB12 score 12.3\n"]  # never deleted
    assert main(["redo", "--results", str(results), "db12/docker/one/r2"]) == 2


def test_plan_names_what_the_config_was_made_of_and_hints_extends_only_for_a_whole_study(tmp_path, capsys):
    extended = tmp_path / "extended.yaml"
    extended.write_text("extends: default\nstudy: {repetitons: 5}\n")
    assert main(["plan", "--configfile", str(extended)]) != 0
    err = capsys.readouterr().err
    # the typo is in the file that extends the default study: name both, and no "add extends" hint
    assert f"config/config.yaml (the default study), extended by {extended} (study): key 'study.repetitons'" in err
    assert "add `extends: default`" not in err
    whole = tmp_path / "whole.yaml"
    whole.write_text("study: {repetitions: 2}\n")
    assert main(["plan", "--configfile", str(whole)]) != 0
    err = capsys.readouterr().err
    assert f"{whole} (the whole study: config/config.yaml is not read): key" in err
    assert "add `extends: default` to it" in err
