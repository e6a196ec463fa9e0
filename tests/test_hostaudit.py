"""Host security facts (execbench.hostaudit), read from the real host: sockets, listeners, the
registry, the engine's daemon, containers.conf."""

from __future__ import annotations

import json
import os
import socket

import pytest
from helpers import REGISTRY

from execbench import hostaudit


def test_an_engine_socket_says_who_may_write_it(tmp_path):
    path = tmp_path / "engine.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        os.chown(path, 0, 0)
        path.chmod(0o660)
        facts = hostaudit.socket_facts(path)
        assert (facts["owner"], facts["mode"], facts["group_writable"], facts["world_writable"]) == (
            "root", "0660", True, False)
        assert facts["group"]["name"] == "root" and "root" in facts["group"]["members"]  # root's own group
        path.chmod(0o666)
        assert hostaudit.socket_facts(path)["world_writable"] is True
        assert str(path) in [s["path"] for s in hostaudit.container_sockets(extra=[str(path)])]
    plain = tmp_path / "plain"
    plain.write_text("")
    assert hostaudit.socket_facts(plain) is None and hostaudit.socket_facts(tmp_path / "none") is None


def test_a_listening_socket_is_found_with_its_address():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert {"address": "127.0.0.1", "port": port, "loopback": True} in hostaudit.tcp_listeners({port})
    assert hostaudit.tcp_listeners({port}) == []  # closed


def test_proc_net_tcp_addresses():
    assert hostaudit._hex_address("0100007F:1388") == ("127.0.0.1", 5000)
    assert hostaudit._hex_address("00000000000000000000000001000000:0050") == ("::1", 80)
    assert hostaudit._hex_address("00000000:0977") == ("0.0.0.0", 2423)


def test_dockerd_flags_in_every_spelling():
    argv = ["dockerd", "-H", "tcp://0.0.0.0:2375", "--host=unix:///run/d.sock", "--userns-remap=default",
            "--no-new-privileges", "--tlsverify"]
    assert hostaudit._flag_values(argv, ("-H", "--host")) == ["tcp://0.0.0.0:2375", "unix:///run/d.sock"]
    assert hostaudit._flag_values(argv, ("--userns-remap",)) == ["default"]
    assert hostaudit._flag_values(argv, ("--no-new-privileges",)) == ["true"]
    assert hostaudit._flag_values(argv, ("--tlsverify",)) == ["true"]


def test_containers_conf_later_file_and_only_its_containers_section(tmp_path):
    first, second = tmp_path / "a.conf", tmp_path / "b.conf"
    first.write_text('[containers]\nno_new_privileges = false\n[engine]\nno_new_privileges = true\n')
    second.write_text('# site\n[containers]\nno_new_privileges = true  # hardening\nseccomp_profile = "/x.json"\n')
    assert hostaudit.containers_conf((str(first), str(second), str(tmp_path / "missing"))) == [
        {"path": str(first), "containers": {"no_new_privileges": "false"}},
        {"path": str(second), "containers": {"no_new_privileges": "true", "seccomp_profile": "/x.json"}}]


def test_the_registry_is_probed_without_changing_it():
    facts = hostaudit.registry_facts(REGISTRY)
    assert facts["v2"]["status"] in (200, 401), facts  # a registry answered
    # the DELETE of a digest no manifest can have: only enabled (404/202) or disabled (405)
    assert facts["delete_probe"]["status"] in (202, 404, 405, 401), facts
    port = int(REGISTRY.rsplit(":", 1)[1])
    assert any(entry["port"] == port for entry in facts["listeners"])
    assert hostaudit.registry_address(f"{REGISTRY}/execbench/x@sha256:{'a' * 64}") == REGISTRY
    assert hostaudit.registry_address("debian:12") is None
    quiet = hostaudit.registry_facts(REGISTRY, probe=False)  # payloads.audit.probe_registry: false
    assert quiet["probed"] is False and "v2" not in quiet and quiet["listeners"] == facts["listeners"]


def test_a_registry_that_does_not_answer_is_recorded_not_raised():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        facts = hostaudit.registry_facts(f"127.0.0.1:{port}")
    assert facts["v2"]["status"] is None and "error" in facts["v2"]


@pytest.mark.docker
def test_the_running_dockerd_is_seen_with_its_configuration():
    daemons = hostaudit.docker_daemons()
    assert daemons and all(d["argv"][0].endswith("dockerd") for d in daemons)
    assert all(d["hosts"] and isinstance(d["no_new_privileges"], bool) for d in daemons)


def test_host_facts_are_json_and_name_the_run_dirs_filesystem(tmp_path):
    facts = hostaudit.host_security_facts(f"{REGISTRY}/execbench/x@sha256:{'a' * 64}", tmp_path)
    json.dumps(facts)
    assert facts["format"] == hostaudit.FORMAT and facts["filesystems"]["run_dir"]["fstype"]
    assert facts["cgroup"]["version"] in (1, 2, "hybrid") and facts["registry"]["address"] == REGISTRY
