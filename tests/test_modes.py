"""Mode plumbing without an engine: the in-environment launcher (run with the host's
python3, it is stdlib only), hardening options, id mapping, result collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from execbench.errors import ParseError
from execbench.hostinfo import cpu_model, os_release
from execbench.modes import common, docker, podman
from execbench.modes.base import ModeContext, RunContext
from execbench.paths import INIMAGE
from execbench.payloads.startup import COLUMNS, Startup
from execbench.runner import validate_run

LAUNCHER = INIMAGE / "execbench_launch.py"


def launch(run_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LAUNCHER), "--run-dir", str(run_dir), *args],
                          capture_output=True, text=True, timeout=60)


def launch_json(run_dir: Path, copy: int) -> dict:
    return json.loads((run_dir / f"copy{copy}" / "launch.json").read_text())


DOCKER_SETTINGS = {"kind": "docker", "network": "none", "cpuset": "none", "copies_per_container": "all",
                   "enabled": True}


def spec(settings: dict | None = None, **overrides) -> RunContext:
    """A run context of a 2-copy docker run (settings: factors over the docker defaults)."""
    mode = ModeContext(name="docker", kind="docker", settings={**DOCKER_SETTINGS, **(settings or {})})
    values = dict(mode=mode, run_id="p-docker-2c-r1", image_ref="127.0.0.1:5000/x@sha256:" + "a" * 64,
                  payload="p", copies=2, repetition=1, argv=["python3", "run.py", "--copy", "{copy}"],
                  timeout_s=30.0, out_dir=Path("/nonexistent"))
    values.update(overrides)
    return RunContext(**values)


def test_launcher_barrier_templating_and_per_copy_logs(tmp_path):
    start_at = time.time() + 1.0
    proc = launch(tmp_path, "--copies", "2", "--start-at", f"{start_at}", "--timeout", "20",
                  "--", "sh", "-c", "echo copy {copy}; echo err {copy} >&2; exit {copy}")
    assert proc.returncode == 1  # copy 1 exits 1
    for i in (0, 1):
        info = launch_json(tmp_path, i)
        assert info["exit_code"] == i and info["timed_out"] is False
        assert (tmp_path / f"copy{i}" / "stdout.log").read_text() == f"copy {i}\n"
        assert (tmp_path / f"copy{i}" / "stderr.log").read_text() == f"err {i}\n"
        # started at the barrier, not before it; lag small
        assert 0.0 <= info["start_lag_s"] < 0.5
        assert info["wall_s"] >= 0 and info["cpu_user_s"] is not None


def test_launcher_kills_a_copy_past_its_timeout(tmp_path):
    t0 = time.monotonic()
    proc = launch(tmp_path, "--copies", "1", "--timeout", "1", "--", "sleep", "30")
    assert time.monotonic() - t0 < 10
    info = launch_json(tmp_path, 0)
    assert proc.returncode == 1
    assert info["timed_out"] is True and info["exit_code"] == -9
    assert 1.0 <= info["wall_s"] < 5.0


def test_launcher_reports_a_missing_binary_as_exit_127(tmp_path):
    proc = launch(tmp_path, "--copies", "1", "--timeout", "5", "--", "/no/such/payload")
    assert proc.returncode == 1
    assert launch_json(tmp_path, 0)["exit_code"] == 127
    assert "/no/such/payload" in (tmp_path / "copy0" / "stderr.log").read_text()


def test_launcher_runs_only_the_selected_copy_and_pins_per_copy(tmp_path):
    cpus = sorted(os.sched_getaffinity(0))
    proc = launch(tmp_path, "--copies", "3", "--copy", "2", "--pin", "per-copy", "--timeout", "10",
                  "--", sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "copy0").exists() and not (tmp_path / "copy1").exists()
    assert (tmp_path / "copy2" / "stdout.log").read_text().strip() == str([cpus[2 % len(cpus)]])


def test_docker_hardening_defaults(tmp_path):
    kwargs = docker.hardened_kwargs(spec(), tmp_path)
    assert kwargs["user"] == "10001:10001"
    assert kwargs["cap_drop"] == ["ALL"]
    assert kwargs["security_opt"] == ["no-new-privileges"]
    assert kwargs["read_only"] is True
    assert list(kwargs["tmpfs"]) == ["/tmp"]
    assert kwargs["network_mode"] == "none"
    # the run's own dir is the only host path in the container
    assert kwargs["volumes"] == {str(tmp_path.resolve()): {"bind": "/execbench/run", "mode": "rw"}}
    assert docker.hardened_kwargs(spec(needs_network=True), tmp_path)["network_mode"] == "bridge"
    assert docker.hardened_kwargs(spec({"network": "host"}), tmp_path)["network_mode"] == "host"


def test_podman_hardening_defaults(tmp_path):
    opts = podman.hardened_options(spec(), tmp_path)
    pairs = list(zip(opts, opts[1:]))
    for pair in [("--user", "10001:10001"), ("--cap-drop", "ALL"), ("--security-opt", "no-new-privileges"),
                 ("--network", "none"), ("--volume", f"{tmp_path.resolve()}:/execbench/run:rw")]:
        assert pair in pairs
    assert "--read-only" in opts
    assert sum(o == "--volume" for o in opts) == 1


def test_container_groups_and_launcher_argv():
    assert common.container_groups(spec()) == [[0, 1]]
    assert common.container_groups(spec({"copies_per_container": "one"})) == [[0], [1]]
    argv = common.launcher_argv(spec(), [1], 123.5, pin=True)
    assert argv[:2] == ["python3", "/opt/execbench/execbench_launch.py"]
    assert argv[argv.index("--copy") + 1] == "1" and argv[argv.index("--pin") + 1] == "per-copy"
    assert argv[argv.index("--") + 1:] == ["python3", "run.py", "--copy", "{copy}"]


def test_rootless_id_mapping(tmp_path):
    subuid = tmp_path / "subuid"
    subuid.write_text("other:200000:65536\nexecbench:100000:65536\n")
    # container uid 0 is the user itself; container uid k>=1 is start + k - 1
    assert podman.host_id_for(10001, "execbench", str(subuid)) == 100000 + 10001 - 1 == 110000
    with pytest.raises(Exception, match="no range"):
        podman.host_id_for(10001, "nobody-here", str(subuid))


def test_collect_names_a_copy_without_launch_json(tmp_path):
    (tmp_path / "copy0").mkdir()
    (tmp_path / "copy0" / "launch.json").write_text(json.dumps(
        {"copy": 0, "exit_code": 0, "wall_s": 2.5, "cpu_user_s": 2.0, "cpu_sys_s": 0.25, "timed_out": False}))
    results = common.collect(tmp_path, 2, {0: 0, 1: 137}, killed={1})
    assert results[0].exit_code == 0 and results[0].wall_s == 2.5 and results[0].cpu_s == 2.25  # 2.0 + 0.25
    assert results[1].exit_code is None and results[1].timed_out is True
    assert "no launch.json" in results[1].detail and "137" in results[1].detail


def write_samples(path: Path, rows: list[tuple]) -> None:
    path.mkdir(parents=True)
    lines = [",".join(COLUMNS)] + [",".join(map(str, r)) for r in rows]
    (path / "startup_samples.csv").write_text("\n".join(lines) + "\n")


def test_startup_parse_medians(tmp_path):
    write_samples(tmp_path / "copy0", [(0, 1, "t", 0.5, "ok", ""), (1, 0, "t", 0.2, "ok", ""),
                                       (2, 0, "t", 0.4, "ok", ""), (3, 0, "t", 0.3, "ok", "")])
    write_samples(tmp_path / "copy1", [(0, 1, "t", 0.1, "ok", ""), (1, 0, "t", 0.6, "ok", ""),
                                       (2, 0, "t", 0.2, "ok", "")])
    records = {r.copy: r for r in Startup().parse(tmp_path)}
    assert records[0].value == pytest.approx(0.3)  # median(0.2, 0.4, 0.3); warm-up 0.5 left out
    assert records[1].value == pytest.approx(0.4)  # median(0.6, 0.2) = (0.2 + 0.6) / 2
    # machine level: median(0.2, 0.4, 0.3, 0.6, 0.2) = sorted[2] of (0.2, 0.2, 0.3, 0.4, 0.6)
    assert records[None].value == pytest.approx(0.3)
    assert all(r.unit == "s" and r.higher_is_better is False for r in records.values())


def test_startup_parse_failed_sample_and_bad_line(tmp_path):
    write_samples(tmp_path / "ok" / "copy0", [(0, 1, "t", 0.5, "ok", ""), (1, 0, "t", "", "failed", "boom")])
    records = Startup().parse(tmp_path / "ok")
    assert [r.status for r in records] == ["failed", "failed"] and "boom" in records[0].detail
    write_samples(tmp_path / "bad" / "copy0", [(0, 1, "t", 0.5, "ok", ""), (1, 0, "t", "fast", "ok", "")])
    with pytest.raises(ParseError) as err:
        Startup().parse(tmp_path / "bad")
    assert err.value.line == 3 and "seconds" in err.value.expected


def minimal_run(**overrides) -> dict:
    run = {"schema_version": 1, "run_id": "x", "payload": "p", "mode": "bare", "mode_kind": "bare",
           "mode_settings": {}, "copies": 1, "repetition": 1, "order_index": 0, "seed": 1, "status": "ok",
           "reason": "", "emulated": False,
           "host": {"hostname": "h", "cpu_model": "c", "logical_cores": 2, "kernel": "k", "os": "o"},
           "versions": {}, "image": {"name": "i", "reference": None, "digest": None},
           "started_utc": "2026-01-01T00:00:00.000001+00:00", "ended_utc": "2026-01-01T00:00:01+00:00",
           "wall_s": 1.0, "copies_result": [{"copy": 0, "exit_code": 0, "wall_s": 1.0, "timed_out": False,
                                              "cpu_s": None}],
           "config_sha256": "0" * 64}
    run.update(overrides)
    return run


def test_run_schema_rejects_failed_without_reason_and_unknown_status():
    validate_run(minimal_run())
    with pytest.raises(jsonschema.ValidationError):
        validate_run(minimal_run(status="failed", reason=""))
    with pytest.raises(jsonschema.ValidationError):
        validate_run(minimal_run(status="skipped", reason="why"))
    with pytest.raises(jsonschema.ValidationError):
        validate_run(minimal_run(copies_result=[]))  # ok with no copy is not ok


def test_hostinfo_parsers(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU @ 2.0GHz\n")
    assert cpu_model(tmp_path / "cpuinfo") == "Test CPU @ 2.0GHz"
    (tmp_path / "os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    assert os_release(tmp_path / "os-release") == {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian"}


def fake_rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    for sub in ("execbench/run", "proc", "sys", "dev/shm", "tmp"):
        (root / sub).mkdir(parents=True)
    for name in ("null", "zero", "random", "urandom"):
        (root / "dev" / name).touch()
    return root


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
def test_bare_mounts_are_removed_even_when_the_run_raises(tmp_path):
    from execbench.modes.bare import environment_mounts
    from execbench.rootfs import _mount_points

    root, run_dir = fake_rootfs(tmp_path), tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "marker").write_text("x")
    under = lambda: [p for p in _mount_points() if p == str(root) or p.startswith(f"{root}/")]  # noqa: E731
    with pytest.raises(RuntimeError, match="payload blew up"):
        with environment_mounts(root, run_dir):
            assert (root / "execbench/run/marker").read_text() == "x"  # the run dir is visible inside
            assert (root / "proc/self").exists()
            with pytest.raises(OSError):  # the image's files are read-only
                (root / "newfile").write_text("no")
            assert len(under()) == 10  # root(ro) run tmp proc sys 4 devices shm
            raise RuntimeError("payload blew up")
    assert under() == []
    assert (run_dir / "marker").read_text() == "x"  # unmounting never touches the run's files


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
def test_bare_mounts_half_done_are_undone(tmp_path):
    from execbench.modes.bare import environment_mounts
    from execbench.modes.base import ModeError
    from execbench.rootfs import _mount_points

    root = fake_rootfs(tmp_path)
    with pytest.raises(ModeError, match="mount"):
        with environment_mounts(root, tmp_path / "no-such-run-dir"):
            pass
    assert [p for p in _mount_points() if p == str(root) or p.startswith(f"{root}/")] == []
