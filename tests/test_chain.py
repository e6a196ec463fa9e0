"""The host chain (execbench.chain): the order its units run in, the adaptive rounds' decisions,
the headline number they are decided on. The chain's real runs (order, kill and resume through
Snakemake) are in test_runner.py; a whole study with adaptive rounds in test_study_end.py."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from execbench import chain as chain_module
from execbench import layout, stats
from execbench.chain import Chain, _headline, chain_record_path, plan_digest, round_steps
from execbench.config import load_config
from execbench.paths import REPO_ROOT


def _merged(over: dict) -> dict:
    """config/config.yaml with `over` merged in (two levels deep, as Snakemake merges --configfile)."""
    raw = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            for sub, v in value.items():
                raw[key][sub] = {**raw[key][sub], **v} if isinstance(v, dict) and isinstance(raw[key].get(sub), dict) else v
        else:
            raw[key] = value
    return raw


def _config(tmp_path, **study) -> dict:
    raw = {
        "results": str(tmp_path / "results"),
        "study": {"repetitions": 2, "copies": [1], **study},
        "modes": {"podman": {"enabled": True}, "vm": {"enabled": False}, "bare-aa": {"enabled": False},
                  "bare-quota": {"enabled": False}},
        "payloads": {"cpusuite": {"size": "standard"}, "db12": {}, "hepchain": {"enabled": False},
                     "fio": {"enabled": False}, "startup": {"enabled": False}, "stream": {"enabled": False}},
    }
    return load_config(_merged(raw))


def test_units_alternate_the_modes_with_bare_metal_in_the_middle(tmp_path):
    config = _config(tmp_path)
    for repetition in (1, 2):
        steps = round_steps(config, repetition, None, cores=2)
        cpu = [s for s in steps if s.cell.payload == "cpusuite"]
        units = list(dict.fromkeys(s.unit for s in cpu))
        assert len(units) > 1  # the CPU suite at standard size runs benchmark by benchmark
        by_unit = {u: [s.cell.mode for s in cpu if s.unit == u] for u in units}
        for i, unit in enumerate(units):
            modes = by_unit[unit]
            assert sorted(modes) == ["bare", "docker", "podman"] and modes[1] == "bare"  # one unit, every mode
            if i:  # ABBA: the next unit runs the modes in the reverse order
                assert modes == by_unit[units[i - 1]][::-1]
        # every unit of a run happens before the next (payload, copies) starts: cells stay together
        payload_seq = [s.cell.payload for s in steps]
        assert payload_seq == sorted(payload_seq, key=lambda p: payload_seq.index(p))
    # round 2 starts where round 1 ended: the first unit's order is round 1's reversed
    r1 = [s.cell.mode for s in round_steps(config, 1, None, cores=2) if s.cell.payload == "db12"]
    r2 = [s.cell.mode for s in round_steps(config, 2, None, cores=2) if s.cell.payload == "db12"]
    assert r2 == r1[::-1]


def test_a_mode_limited_to_some_payloads_runs_only_those(tmp_path):
    raw = {"results": str(tmp_path / "r"), "study": {"repetitions": 1, "copies": [1]},
           "modes": {"vm": {"enabled": False}, "podman": {"enabled": False}, "bare-quota": {"enabled": False},
                     "bare-aa": {"kind": "bare", "payloads": ["db12"], "control": "negative"}},
           "payloads": {"cpusuite": {}, "db12": {}, "hepchain": {"enabled": False}, "fio": {"enabled": False},
                        "startup": {"enabled": False}, "stream": {"enabled": False}}}
    steps = round_steps(load_config(_merged(raw)), 1, None, cores=2)
    assert {s.cell.mode for s in steps if s.cell.payload == "db12"} == {"bare", "docker", "bare-aa"}
    assert {s.cell.mode for s in steps if s.cell.payload == "cpusuite"} == {"bare", "docker"}


def test_plan_digest_changes_with_the_study_and_the_host(tmp_path):
    config = _config(tmp_path)
    more = {**config, "study": {**config["study"], "repetitions": 3}}
    assert plan_digest(config, None) == plan_digest(json.loads(json.dumps(config)), None)
    assert plan_digest(config, None) != plan_digest(more, None)
    assert plan_digest(config, "wn001") != plan_digest(config, "wn002")


class _Scripted(Chain):
    """A chain whose rounds are not run: each round's paired half-widths come from a script, so
    the decisions (the logic under test) are checked without benchmarks. Rounds take 60 s."""

    def __init__(self, config, widths_after_round):
        super().__init__(config, progress=lambda *a: None, cores=2)
        self.script, self.rounds, self.now = widths_after_round, [], 0.0
        self.clock = lambda: self.now

    def _run_round(self, repetition, only):
        self.rounds.append((repetition, None if only is None else sorted(only)))
        steps = len(round_steps(self.config, repetition, None, only, 2))
        self.unit_seconds = [60.0 / steps] * steps  # the ETA of the next round: 60 s
        self.now += 60.0

    def half_widths(self, rounds):
        return self.script[rounds]


def _adaptive(tmp_path, **adaptive):
    return _config(tmp_path, adaptive={"target_half_width_pct": 2.0, "max_repetitions": 6,
                                       "max_extra_minutes": 100, **adaptive})


def test_adaptive_rounds_go_on_for_the_wide_cells_only_until_they_are_narrow(tmp_path):
    config = _adaptive(tmp_path)
    wide, narrow = {"docker": 5.0, "podman": 1.0}, {"docker": 1.5, "podman": 1.2}
    script = {2: {("cpusuite", 1): wide, ("db12", 1): narrow},
              3: {("cpusuite", 1): {"docker": 2.5, "podman": None}, ("db12", 1): narrow},
              4: {("cpusuite", 1): narrow, ("db12", 1): narrow}}
    chain = _Scripted(config, script)
    record = chain.run()
    assert chain.rounds == [(1, None), (2, None), (3, [("cpusuite", 1)]), (4, [("cpusuite", 1)])]
    assert [d["round"] for d in record["decisions"]] == [3, 4] and all(d["added"] for d in record["decisions"])
    assert "docker ±5.00 %" in record["decisions"][0]["why"] and "podman" not in record["decisions"][0]["why"]
    assert "podman ±? %" in record["decisions"][1]["why"]  # no interval yet counts as too wide
    assert json.loads(chain_record_path(config["results"], None).read_text())["decisions"] == record["decisions"]


def test_adaptive_rounds_stop_at_max_repetitions_and_at_the_time_budget(tmp_path):
    # just above the target, so every cell could still reach it (not futile)
    always_wide = {r: {("cpusuite", 1): {"docker": 2.5}, ("db12", 1): {"docker": 2.5}} for r in range(1, 10)}
    capped = _Scripted(_adaptive(tmp_path, max_repetitions=4), always_wide)
    capped.run()
    assert [r for r, _ in capped.rounds] == [1, 2, 3, 4]
    # each round takes 60 s: a 2.5 min budget pays for two extra rounds, the third is refused
    budget = _Scripted(_adaptive(tmp_path, max_extra_minutes=2.5), always_wide)
    record = budget.run()
    assert [r for r, _ in budget.rounds] == [1, 2, 3, 4]
    last = record["decisions"][-1]
    assert last["round"] == 5 and last["added"] is False and "max_extra_minutes" in last["why"]
    # without a target, only the fixed rounds run
    fixed = _Scripted(_config(tmp_path, adaptive={"target_half_width_pct": None, "max_repetitions": 6}), always_wide)
    assert [r for r, _ in (fixed.run(), fixed.rounds)[1]] == [1, 2]


def test_adaptive_targets_only_the_named_payloads_and_copies(tmp_path):
    always_wide = {r: {("cpusuite", 1): {"docker": 9.0}, ("db12", 1): {"docker": 9.0}} for r in range(1, 10)}
    chain = _Scripted(_adaptive(tmp_path, payloads=["db12"], max_repetitions=3), always_wide)
    chain.run()
    assert chain.rounds[-1] == (3, [("db12", 1)])


def test_half_widths_are_the_paired_intervals_of_the_runs_on_disk(tmp_path, monkeypatch):
    config = _config(tmp_path, repetitions=3)
    values = {"bare": [100.0, 102.0, 98.0], "docker": [99.0, 100.5, 97.4], "podman": [98.0, 101.0, 96.0]}
    chain = Chain(config, progress=lambda *a: None, cores=2)
    by_dir = {}
    for repetition in (1, 2, 3):
        for cell in chain_module.cells_of_round(config, repetition, None, 2):
            run_dir = layout.raw_dir(config["results"], cell)
            run_dir.mkdir(parents=True)
            (run_dir / layout.RUN_JSON).write_text("{}")
            by_dir[str(run_dir)] = {"run": {"payload": "db12", "status": "ok"}, "records": [
                {"copy": None, "status": "ok", "benchmark": "DB12", "metric": "db12",
                 "value": values[cell.mode][repetition - 1], "higher_is_better": True}]}
    monkeypatch.setattr(chain_module, "parse_run_dir", lambda d: by_dir[str(d)])
    widths = chain.half_widths(3)
    bare = dict(enumerate(values["bare"], 1))
    for mode in ("docker", "podman"):
        expected = stats.paired_ratio(dict(enumerate(values[mode], 1)), bare, True).half_width_pct
        assert widths[("db12", 1)][mode] == pytest.approx(expected)
        assert widths[("cpusuite", 1)][mode] == pytest.approx(expected)  # both payloads' runs read alike
    assert set(widths[("db12", 1)]) == {"docker", "podman"}  # bare metal is the reference, not a cell


def _parsed(payload, records, status="ok"):
    return {"run": {"payload": payload, "status": status},
            "records": [{"copy": None, "status": "ok", "higher_is_better": True, **r} for r in records]}


def test_headline_is_the_payloads_own_record_else_the_geomean_of_its_benchmarks():
    cpu = _parsed("cpusuite", [{"benchmark": "cpusuite", "metric": "score", "value": 12.0},
                               {"benchmark": "bzip2", "metric": "ratio", "value": 9.0}])
    assert _headline(cpu) == (12.0, True)
    stream = _parsed("stream", [{"benchmark": k, "metric": "bandwidth", "value": v}
                                for k, v in (("copy", 8.0), ("scale", 2.0), ("add", 4.0), ("triad", 4.0))])
    value, higher = _headline(stream)
    assert value == pytest.approx(math.prod([8.0, 2.0, 4.0, 4.0]) ** 0.25) and higher is True
    assert _headline(_parsed("db12", [{"benchmark": "DB12", "metric": "db12", "value": 3.0}], status="failed")) is None
    assert _headline(_parsed("odd", [{"benchmark": "x", "metric": "m", "value": 1.0}])) is None


def test_default_study_plans_its_chain_within_the_budget_of_the_readme():
    """The default config's fixed rounds: every enabled mode of every payload, bare metal in each."""
    config = load_config(REPO_ROOT / "config" / "config.yaml")
    steps = [s for r in range(1, config["study"]["repetitions"] + 1) for s in round_steps(config, r, None, cores=2)]
    cells = {s.cell for s in steps}
    assert {c.mode for c in cells} >= {"bare", "docker"}
    for payload in {c.payload for c in cells}:
        assert any(c.mode == "bare" and c.payload == payload for c in cells)


def test_the_host_audit_heads_round_1_only_and_no_adaptive_round_repeats_it(tmp_path):
    config = _adaptive(tmp_path, payloads=None, copies=None)  # every payload and copies count targeted
    first = round_steps(config, 1, None, cores=2)
    audited = [s.cell.mode for s in first if s.cell.payload == "audit"]
    assert sorted(audited) == ["bare", "docker", "podman"] and [s.cell.payload for s in first[:3]] == ["audit"] * 3
    assert not [s for s in round_steps(config, 2, None, cores=2) if s.cell.payload == "audit"]
    # the audit's records are findings, never a paired interval: "no interval" must not buy it a round
    narrow = {"docker": 1.0, "podman": 1.0}
    script = {r: {("audit", 1): {"docker": None, "podman": None}, ("cpusuite", 1): narrow, ("db12", 1): narrow}
              for r in range(1, 7)}
    chain = _Scripted(config, script)
    record = chain.run()
    assert ("audit", 1) not in chain._targeted()
    assert chain.rounds == [(1, None), (2, None)] and record["decisions"] == []


def test_a_chain_whose_run_is_gone_is_due_again_and_redo_names_the_old_logs(tmp_path):
    from execbench.chain import drop_stale_records
    from execbench.runner import move_aside, set_aside_by_redo

    results = tmp_path / "results"
    key = layout.RunKey("db12", "docker", 1, 2)
    for rel in ("db12/bare/1c/r2", key.rel_dir):
        (results / "raw" / rel).mkdir(parents=True)
        (results / "raw" / rel / "run.json").write_text("{}")
    record = chain_record_path(results, None)
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"runs": ["db12-bare-1c-r2", key.run_id],
                                  "run_dirs": ["db12/bare/1c/r2", key.rel_dir]}))
    assert drop_stale_records(results, [None]) == [] and record.exists()  # all there: nothing due
    assert set_aside_by_redo(results, key) is None
    moved = move_aside(results, key, force=True)  # what `execbench redo` does
    said = drop_stale_records(results, [None])
    assert not record.exists() and len(said) == 1 and "1 of its runs are gone" in said[0] and key.rel_dir in said[0]
    assert set_aside_by_redo(results, key) == moved  # the next attempt's previous_attempt


def test_a_cell_that_cannot_reach_the_target_within_the_cap_gets_no_more_rounds(tmp_path):
    # after 2 rounds: cpusuite ±40 % (SD of its log ratios about 0.024 at best: about 10 rounds
    # for ±2 %, over the cap of 6), db12 ±3 % (reachable): only db12 gets round 3, and the
    # futile cell's decision says why
    script = {r: {("cpusuite", 1): {"docker": 40.0}, ("db12", 1): {"docker": 3.0}} for r in range(1, 10)}
    chain = _Scripted(_adaptive(tmp_path), script)
    record = chain.run()
    assert chain.rounds[2] == (3, [("db12", 1)])
    futile = [d for d in record["decisions"] if "futile" in d["why"]]
    assert futile and futile[0]["cells"] == ["cpusuite/1c"] and futile[0]["added"] is False
    assert "rounds even at its best" in futile[0]["why"]


def test_rounds_at_best_follows_the_half_width_and_the_rounds_so_far():
    from execbench import stats

    # ±40 % after 3 rounds: s = ln 1.4 * sqrt 3 / t(0.975, 2) = 0.1354; lower bound
    # 0.1354 * sqrt(2 / 5.991) = 0.0782; ±2 % (ln 1.02 = 0.0198) then needs about 64 rounds
    assert 55 <= stats.rounds_at_best(40.0, 3, 2.0) <= 70
    assert stats.rounds_at_best(3.0, 3, 2.0) <= 4
    with pytest.raises(ValueError):
        stats.rounds_at_best(5.0, 1, 2.0)
