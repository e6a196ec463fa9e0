"""scripts/setup.sh, run for real: what it installed, that a rerun is a no-op,
and its registry start path on a spare port with its own storage."""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.request import urlopen

import pytest

from execbench.paths import REPO_ROOT

SETUP = REPO_ROOT / "scripts" / "setup.sh"


def run_setup(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SETUP)], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listed_packages() -> list[str]:
    lines = (REPO_ROOT / "scripts/setup/debian-packages.txt").read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def test_every_listed_debian_package_is_installed():
    skipped_engine = {"docker.io"} if os.environ.get("DOCKER_HOST") else set()
    missing = []
    for package in set(listed_packages()) - skipped_engine:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Status}", package], capture_output=True, text=True
        ).stdout
        if status != "installed":
            missing.append(package)
    assert missing == []


def test_venv_stamp_matches_pyproject_and_the_cluster_plugin_list():
    stamp = REPO_ROOT / ".venv" / ".execbench-venv.sha256"
    lists = ["pyproject.toml", "scripts/setup/cluster-plugins.txt"]
    if shutil.which("condor_submit"):  # an HTCondor access point gets that plugin too
        lists.append("scripts/setup/cluster-plugins-htcondor.txt")
    inputs = b"".join((REPO_ROOT / name).read_bytes() for name in lists)
    assert stamp.read_text().strip() == hashlib.sha256(inputs).hexdigest()
    assert Path(sys.prefix).resolve() == (REPO_ROOT / ".venv").resolve()


def test_cluster_executor_plugins_are_off_the_default_import_path():
    """A local Snakemake start imports no cluster plugin (the SLURM one asks `scontrol` at import);
    with .venv/cluster-plugins on PYTHONPATH the SLURM plugin is there, its dependencies met."""
    find = "import importlib.util as u; print(u.find_spec('snakemake_executor_plugin_slurm') is not None)"
    default = subprocess.run([sys.executable, "-c", find], capture_output=True, text=True, check=True,
                             env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert default.stdout.strip() == "False"
    plugins = REPO_ROOT / ".venv" / "cluster-plugins"
    cluster = subprocess.run([sys.executable, "-c", find], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(plugins)})
    assert cluster.stdout.strip() == "True"
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(plugins)})
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.docker
def test_rerun_reuses_everything_and_starts_nothing():
    result = run_setup()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "setup: Debian packages: all present" in lines
    assert "setup: venv: up to date (.venv)" in lines
    assert any(line.startswith("setup: docker engine: answering") for line in lines)
    assert any(line.startswith("setup: registry: answering at") for line in lines)
    assert not [line for line in lines if "starting" in line or "installing" in line]


@pytest.mark.docker
def test_registry_is_started_on_a_free_port_with_its_own_storage(tmp_path):
    port = free_loopback_port()
    address = f"127.0.0.1:{port}"
    storage, state = tmp_path / "registry-storage", tmp_path / "state"
    env = {
        "EXECBENCH_REGISTRY": address,
        "EXECBENCH_REGISTRY_STORAGE": str(storage),
        "EXECBENCH_STATE": str(state),
        "EXECBENCH_SKIP_PODMAN": "1",
    }
    pid_file = state / f"registry-{port}.pid"
    result = run_setup(**env)
    try:
        assert result.returncode == 0, result.stderr
        assert f"setup: registry: starting docker-registry at {address}, storage {storage}" in result.stdout
        with urlopen(f"http://{address}/v2/", timeout=10) as response:
            assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
        config = (state / f"registry-{port}.yml").read_text()
        assert f"rootdirectory: {storage}" in config and f"addr: {address}" in config
        # another local user (any user reaches a loopback port) cannot delete from it (issue 13)
        delete = subprocess.run(["runuser", "-u", "nobody", "--", "curl", "-sS", "-o", "/dev/null", "-w",
                                 "%{http_code}", "-X", "DELETE",
                                 f"http://{address}/v2/execbench/debian12/manifests/sha256:{'0' * 64}"],
                                capture_output=True, text=True, timeout=30)
        assert delete.stdout == "405", delete.stdout + delete.stderr  # UNSUPPORTED: deletes are off
        assert not storage.stat().st_mode & 0o022

        again = run_setup(**env)
        assert again.returncode == 0, again.stderr
        assert f"setup: registry: answering at {address}" in again.stdout
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
            pid_file.unlink()


class NotARegistry(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.docker
def test_port_taken_by_something_else_is_reported_not_reused(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), NotARegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        result = run_setup(
            EXECBENCH_REGISTRY=address,
            EXECBENCH_REGISTRY_STORAGE=str(tmp_path / "storage"),
            EXECBENCH_STATE=str(tmp_path / "state"),
            EXECBENCH_SKIP_PODMAN="1",
        )
    finally:
        server.shutdown()
    assert result.returncode != 0
    assert f"something that is not a registry listens at {address}" in result.stderr


def test_unreachable_docker_host_is_refused_not_replaced(tmp_path):
    socket_path = tmp_path / "no-engine.sock"
    result = run_setup(
        DOCKER_HOST=f"unix://{socket_path}", EXECBENCH_STATE=str(tmp_path / "state"), EXECBENCH_SKIP_PODMAN="1"
    )
    assert result.returncode != 0
    assert f"DOCKER_HOST=unix://{socket_path} does not answer" in result.stderr


@pytest.mark.podman
def test_rootless_podman_user_uses_native_overlay():
    result = subprocess.run(
        ["su", "-", "execbench", "-c", "podman info --format '{{.Store.GraphDriverName}}'"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "overlay"


# What a fresh machine sees, without stopping this machine's engine or registry:
# new mount, PID and network namespaces with empty /run and /var/lib/docker,
# so no socket answers and port 5000 is free. Everything started inside dies
# with the namespace's init when the script ends.
FRESH_NAMESPACE_SCRIPT = """
set -e
ip link set lo up
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib/docker
bash "$SETUP"
bash "$SETUP"
curl -fsS --unix-socket /var/run/docker.sock http://engine/_ping; echo
curl -fsS http://127.0.0.1:5000/v2/; echo
"""


@pytest.mark.docker
def test_fresh_namespace_gets_dockerd_and_registry_started_then_reused(tmp_path):
    storage, state = tmp_path / "registry", tmp_path / "state"
    result = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--net", "--mount-proc", "bash", "-c", FRESH_NAMESPACE_SCRIPT],
        env={
            # a fresh machine: no engine or registry chosen by the caller (CI points these at its own)
            **{k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "EXECBENCH_REGISTRY")},
            "SETUP": str(SETUP),
            "EXECBENCH_REGISTRY_STORAGE": str(storage),
            "EXECBENCH_STATE": str(state),
            "EXECBENCH_SKIP_PODMAN": "1",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    first, second = lines[: lines.index("setup: done") + 1], lines[lines.index("setup: done") + 1 :]
    assert f"setup: docker engine: starting dockerd (log: {state}/logs/dockerd.log)" in first
    assert "setup: docker engine: ready" in first
    assert f"setup: registry: starting docker-registry at 127.0.0.1:5000, storage {storage} (log: {state}/logs/registry.log)" in first
    assert "setup: registry: ready" in first
    assert "setup: docker engine: answering (unix:///var/run/docker.sock)" in second
    assert "setup: registry: answering at 127.0.0.1:5000" in second
    assert second[-2:] == ["OK", "{}"]
    assert (state / "registry-5000.pid").is_file() and storage.is_dir()
