"""Plan before running (execbench.plan): the matrix, the estimated wall time from earlier runs on this
host or reference times, disk use, where the config came from."""

import json
import socket

import pytest

from execbench import layout, plan
from execbench.config import RunCell, compose_config, load_config

SITE = ("study: {repetitions: 2, copies: [1, 2]}\nmodes: {bare: {}, docker: {}, vm: {}}\n"
        "payloads: {db12: {}, startup: {samples: 4}}\n")


def _earlier_run(results, payload, mode, kind, copies, rep, wall_s, status="ok", settings=None, size=1000):
    cell = RunCell(payload, mode, copies, rep)
    path = layout.run_json(results, cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "copy0").mkdir()
    (path.parent / "copy0" / "log.txt").write_bytes(b"x" * size)
    path.write_text(json.dumps({"payload": payload, "mode": mode, "mode_kind": kind, "copies": copies,
                                "status": status, "wall_s": wall_s, "host": {"hostname": socket.gethostname()},
                                "payload_settings": settings or {"size": "smoke"}, "mode_settings": {}}))


@pytest.fixture
def study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site.yaml"
    site.write_text(SITE + f"results: {tmp_path / 'results'}\n")
    raw, sources = compose_config([site])
    config = load_config(raw)
    earlier = tmp_path / "results-earlier"
    for rep, wall in ((1, 4.0), (2, 6.0), (3, 50.0)):  # median 6 s
        _earlier_run(earlier, "db12", "bare", "bare", 1, rep, wall)
    _earlier_run(earlier, "db12", "docker", "docker", 2, 1, 8.0)
    _earlier_run(earlier, "db12", "vm", "vm", 1, 1, 0.3, status="unavailable")
    _earlier_run(earlier, "startup", "docker", "docker", 1, 1, 11.0, settings={"samples": 10})  # 1 s a sample
    return config, sources, earlier


def test_estimates_come_from_earlier_runs_on_this_host_in_order_of_preference(study):
    config, _, earlier = study
    dirs = plan.history_dirs(config)
    assert str(earlier) in dirs  # every results* tree of the working directory counts
    by_cell = {(e.cell.payload, e.cell.mode, e.cell.copies): e
               for e in plan.estimate(config, plan.read_history(dirs), cores=2)}
    assert (by_cell["db12", "bare", 1].wall_s, by_cell["db12", "bare", 1].source) == (6.0, "this host")
    # two copies on two cores run side by side: the 1-copy time
    assert (by_cell["db12", "bare", 2].wall_s, by_cell["db12", "bare", 2].source) == (6.0, "this host, other copies")
    assert by_cell["db12", "docker", 2].wall_s == 8.0
    assert by_cell["db12", "vm", 1].source == "unavailable here" and by_cell["db12", "vm", 1].wall_s == 0.3
    assert by_cell["startup", "docker", 1].wall_s == pytest.approx(5.0)  # 1 s a sample x (4 + 1 warm-up)
    assert by_cell["startup", "bare", 1].source == "reference"
    assert by_cell["db12", "bare", 1].disk_bytes >= 1000


def test_the_plan_prints_the_matrix_the_sources_and_the_total(study):
    config, sources, _ = study
    dirs = plan.history_dirs(config)
    history = plan.read_history(dirs)
    text = plan.render(config, sources, plan.estimate(config, history, cores=2), history, cores=2)
    assert "(the whole study: config/config.yaml is not read)" in text
    assert "matrix: 24 runs = 2 payloads x 3 modes x copies [1, 2] x 2 repetitions" in text
    db12 = next(line for line in text.splitlines() if line.strip().startswith("db12"))
    assert db12.split()[:7] == ["db12", "smoke", "1,", "2", "bare", "docker", "vm"]
    assert "estimated wall time:" in text and "earlier runs read: 5 on this host" in text
    assert "adaptive rounds" not in text  # the site file asks for none
    config["study"]["adaptive"] = {"target_half_width_pct": 2.0, "max_repetitions": 6, "max_extra_minutes": 3}
    text = plan.render(config, sources, plan.estimate(config, history, cores=2), history, cores=2)
    assert ("plus adaptive rounds (study.adaptive) where a cell is wider than ±2 %: up to 6 rounds, at most "
            "3 min 00 s more per host chain") in text


@pytest.mark.parametrize("seconds, text", [(42, "42 s"), (581, "9 min 41 s"), (3 * 3600 + 300, "3 h 05 min")])
def test_durations_read_as_a_person_says_them(seconds, text):
    assert plan.duration(seconds) == text
