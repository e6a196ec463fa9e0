"""The one spelling of the results tree (execbench.layout), for Python and the rules."""

from __future__ import annotations

import re

import pytest

from execbench import layout
from execbench.layout import RunKey


def test_run_key_paths_and_ids_round_trip(tmp_path):
    key = RunKey("cpusuite", "docker", 2, 3)
    assert key.rel_dir == "cpusuite/docker/2c/r3" and key.run_id == "cpusuite-docker-2c-r3"
    assert RunKey.from_rel_dir("cpusuite/docker/2c/r3") == key
    on_host = RunKey("db12", "bare", 1, 1, host="wn001.example.org")
    assert on_host.rel_dir == "db12/bare/1c/r1@wn001.example.org"
    assert RunKey.from_rel_dir(on_host.rel_dir) == on_host
    assert layout.raw_dir(tmp_path, key) == tmp_path / "raw/cpusuite/docker/2c/r3"
    assert layout.parsed_json(tmp_path, key) == tmp_path / "parsed/cpusuite/docker/2c/r3.json"
    assert layout.results_of_raw_dir(layout.raw_dir(tmp_path, key)) == tmp_path


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "a..b", "d$(touch X)", "with space", "-dash"])
def test_names_that_would_leave_the_tree_or_reach_a_shell_are_refused(bad):
    assert not layout.is_name(bad)
    with pytest.raises(ValueError, match="not a name"):
        RunKey("cpusuite", bad, 1, 1)
    with pytest.raises(ValueError):
        RunKey.from_rel_dir(f"cpusuite/{bad}/1c/r1")


def test_snakemake_wildcard_constraints_accept_exactly_the_layout():
    run = re.compile(layout.WILDCARD_CONSTRAINTS["run"])
    assert run.fullmatch("r12") and run.fullmatch("r1@wn001") and not run.fullmatch("r1@../x")
    assert layout.RUN_WILDCARDS.format(payload="p", mode="m", copies=2, rep=1) == "p/m/2c/r1"


def test_runs_on_disk_lists_run_dirs_with_a_run_json_only(tmp_path):
    for rel in ("stream/bare/1c/r1", "stream/docker/1c/r1@wn1", "stream/docker/1c/r2"):
        (tmp_path / "raw" / rel).mkdir(parents=True)
    (tmp_path / "raw/stream/bare/1c/r1/run.json").write_text("{}")
    (tmp_path / "raw/stream/docker/1c/r1@wn1/run.json").write_text("{}")
    (tmp_path / "raw/.incomplete/stream-bare-1c-r1-x").mkdir(parents=True)
    (tmp_path / "raw/.incomplete/stream-bare-1c-r1-x/run.json").write_text("{}")
    assert [k.rel_dir for k in layout.runs_on_disk(tmp_path)] == ["stream/bare/1c/r1", "stream/docker/1c/r1@wn1"]
