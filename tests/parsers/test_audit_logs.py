"""The audit payload's logs -> verdicts (execbench.parsers.audit).

Two real audit runs (tests/fixtures/logs/audit/, README there): docker on ext4 (nothing
blocking) and bare on a real XFS mounted inode64 (the 32-bit probe's EOVERFLOW). Each rule is
then checked by changing one fact in a copy of the docker run's logs: the verdict must follow.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from execbench import parsers
from execbench.errors import ParseError
from execbench.parsers.audit import INODE_32_LIMIT, read_probe_log
from execbench.payloads.audit import Audit

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs" / "audit"


def verdicts(records) -> dict[str, tuple[str, str]]:
    """item -> (verdict, summary + evidence)"""
    return {r.benchmark: (r.extra["verdict"], f"{r.extra['summary']} | {r.extra['evidence']}")
            for r in records if r.metric == "verdict"}


def copy_of(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_docker_on_ext4_nothing_blocking_and_the_engine_applied_the_hardening():
    records = Audit().parse(FIXTURES / "docker-ext4")
    found = verdicts(records)
    assert {v for v, _ in found.values()} <= {"ok", "warning"}
    assert found["mode.engine_readback"][0] == "ok" and "CapDrop=ALL" in found["mode.engine_readback"][1]
    assert found["mode.user"] == ("ok", found["mode.user"][1]) and "uid 10001" in found["mode.user"][1]
    for item in ("mode.capabilities", "mode.no_new_privileges", "mode.seccomp", "mode.readonly_root",
                 "mode.network", "mode.namespaces", "abi.run_dir", "abi.root", "abi.tmp"):
        assert found[item][0] == "ok", (item, found[item])
    assert "overlay" in found["abi.root"][1] and "xino off" in found["abi.root"][1]
    counts = {r.metric: r.value for r in records if r.benchmark == "audit"}
    assert counts == {"blocking": 0.0, "warnings": float(sum(v == "warning" for v, _ in found.values()))}
    assert all(Path(r.source_file).exists() for r in records)  # every verdict names its native log


def test_bare_on_xfs_inode64_32bit_eoverflow_is_blocking_and_64bit_is_fine():
    records = Audit().parse(FIXTURES / "bare-xfs-inode64")
    run_dir = next(r for r in records if r.benchmark == "abi.run_dir")
    assert run_dir.extra["verdict"] == "blocking" and run_dir.value == 2.0
    assert run_dir.extra["fstype"] == "xfs" and "inode64" in run_dir.extra["super_options"]
    assert run_dir.extra["eoverflow_32"] > 0 and run_dir.extra["eoverflow_64"] == 0
    assert run_dir.extra["inodes_above_2_32"] > 0 and run_dir.extra["max_inode"] >= INODE_32_LIMIT
    assert run_dir.extra["unreached_32"] > 0  # readdir() stops at the first big inode: the "missing" files
    assert "EOVERFLOW (inode numbers above 2^32)" in run_dir.extra["summary"]
    assert "64-bit programs are fine" in run_dir.extra["summary"] and run_dir.extra["readdir_stops_by_offset"] == 0
    assert run_dir.source_file.endswith("abi-probe-32.log")
    # the other filesystems (ext4 image root, tmpfs /tmp) are fine, so only the run dir blocks
    found = verdicts(records)
    assert found["abi.root"][0] == found["abi.tmp"][0] == "ok"
    assert [r.value for r in records if (r.benchmark, r.metric) == ("audit", "blocking")] == [1.0]
    # bare metal is a chroot: no namespaces, no seccomp, no no-new-privileges, the host network
    assert found["mode.namespaces"][0] == found["mode.seccomp"][0] == found["mode.network"][0] == "warning"
    assert "mode.engine_readback" not in found  # no engine to ask


def test_vm_9p_share_32bit_readdir_fails_on_directory_offsets_not_inodes():
    """Found by this audit on its own development machine: over virtio-9p the guest gets the host's
    64-bit ext4 directory-hash offsets, so a 32-bit readdir() fails although every inode fits."""
    records = Audit().parse(FIXTURES / "vm-9p-tcg")
    run_dir = next(r for r in records if r.benchmark == "abi.run_dir")
    assert run_dir.extra["verdict"] == "blocking" and run_dir.extra["fstype"] == "9p"
    assert run_dir.extra["inodes_above_2_32"] == 0 and run_dir.extra["max_inode"] < INODE_32_LIMIT
    assert run_dir.extra["readdir_stops_by_offset"] > 0 and run_dir.extra["eoverflow_64"] == 0
    assert "directory offsets (d_off) above 2^31; the inode numbers fit" in run_dir.extra["summary"]
    found = verdicts(records)
    assert found["abi.root"][0] == found["abi.tmp"][0] == "ok"
    assert "mode.namespaces" not in found  # a guest kernel's namespace ids say nothing about the host


def test_the_probe_logs_are_what_the_verdict_says():
    """Read straight from the probes: 32-bit stat() EOVERFLOW where 64-bit stat() gives an inode >= 2^32."""
    copy = FIXTURES / "bare-xfs-inode64" / "copy0"
    p32, p64 = read_probe_log(copy / "abi-probe-32.log"), read_probe_log(copy / "abi-probe-64.log")
    assert (p32.header["bits"], p32.header["ino_t"], p64.header["bits"], p64.header["ino_t"]) == ("32", "4", "64", "8")
    big = [d for d, info in p64.dirs.items() if info["ino"].isdigit() and int(info["ino"]) >= INODE_32_LIMIT]
    assert big and all(p32.dirs[d]["stat"] == "EOVERFLOW" for d in big)
    assert all(info["stat"] == "ok" for info in p64.dirs.values() if info["path"].startswith("/execbench/run"))
    assert p64.end["eoverflow"] == "0" and int(p32.end["eoverflow"]) > 0


def _socket(data, **change):
    data["container_sockets"][0].update(change)


RULES = [
    # (which log, change, item, verdict, words the summary or evidence must hold)
    ("host-audit.json", lambda d: _socket(d, mode="0666", world_writable=True),
     "host.container_starters", "blocking", "every user"),
    ("host-audit.json", lambda d: d["container_sockets"][0]["group"].update(members=["alice", "bob"]),
     "host.container_starters", "warning", "alice, bob (docker group = root)"),
    ("host-audit.json", lambda d: d.update(engine_tcp_listeners=[{"address": "0.0.0.0", "port": 2375,
                                                                   "loopback": False}]),
     "host.container_starters", "blocking", "TCP 0.0.0.0:2375"),
    ("host-audit.json", lambda d: d["docker_daemons"][0].update(userns_remap="default"),
     "host.userns_remap", "ok", "userns-remap=default"),
    ("host-audit.json", lambda d: d.update(docker_daemons=[]), "host.userns_remap", "warning",
     "no dockerd process is visible"),
    ("host-audit.json", lambda d: (d["docker_daemons"][0].update(no_new_privileges=True),
                                   d["containers_conf"][-1]["containers"].update(no_new_privileges="true")),
     "host.no_new_privileges_default", "ok", "no-new-privileges=true"),
    ("host-audit.json", lambda d: d["rootless"].update(podman=None), "host.rootless_podman", "warning",
     "podman is not installed"),
    ("host-audit.json", lambda d: d["cgroup"].update(version=2), "host.cgroup", "ok", "cgroup v2"),
    ("host-audit.json", lambda d: d["lsm"].update(apparmor_enabled="Y"), "host.mac", "ok", "AppArmor confines"),
    ("host-audit.json", lambda d: d["lsm"].update(selinux_enforce="0"), "host.mac", "warning", "permissive"),
    ("host-audit.json", lambda d: d["registry"].update(listeners=[{"address": "0.0.0.0", "port": 5000,
                                                                   "loopback": False}]),
     "host.registry", "blocking", "anyone on the network can push and delete"),
    ("host-audit.json", lambda d: (d["registry"].update(listeners=[{"address": "0.0.0.0", "port": 5000,
                                                                    "loopback": False}]),
                                   d["registry"]["v2"].update(status=401)),
     "host.registry", "ok", "authentication required"),
    ("host-audit.json", lambda d: d["registry"]["delete_probe"].update(status=405), "host.registry", "ok",
     "deletion disabled"),
    ("host-audit.json", lambda d: d["registry"].update(v2={"status": None, "error": "URLError: refused"}),
     "host.registry", "warning", "did not answer"),
    ("host-audit.json", lambda d: d.update(registry={k: v for k, v in d["registry"].items()
                                                    if k not in ("v2", "delete_probe")} | {"probed": False}),
     "host.registry", "warning", "probe_registry is false"),
    ("copy0/audit.json", lambda d: d["process"]["status"].update(Uid="0\t0\t0\t0"), "mode.user", "blocking",
     "runs as root"),
    ("copy0/audit.json", lambda d: d["process"]["status"].update(CapEff="0000000000000401"),
     "mode.capabilities", "warning", "chown, net_bind_service"),
    ("copy0/audit.json", lambda d: d["process"]["status"].update(NoNewPrivs="0"), "mode.no_new_privileges",
     "warning", "NoNewPrivs 0"),
    ("copy0/audit.json", lambda d: d["process"]["status"].update(Seccomp="0"), "mode.seccomp", "warning",
     "every system call"),
    ("copy0/audit.json", lambda d: d.update(root_write="ok"), "mode.readonly_root", "warning", "can write"),
    ("copy0/audit.json", lambda d: d.update(network_interfaces=["eth0", "lo"]), "mode.network", "warning",
     "eth0, lo"),
    ("copy0/audit.json", lambda d: d["process"]["lsm"].update(attr_current="docker-default (enforce)"),
     "mode.lsm", "ok", "docker-default (enforce)"),
    ("engine-readback.json", lambda d: d["engine_readback"][0].update(Privileged=True),
     "mode.engine_readback", "blocking", "Privileged=true"),
    ("engine-readback.json", lambda d: d["engine_readback"][0].update(CapAdd=["SYS_ADMIN"]),
     "mode.engine_readback", "blocking", "CapAdd=['SYS_ADMIN']"),
    ("engine-readback.json", lambda d: d["engine_readback"][0].update(SecurityOpt=[]),
     "mode.engine_readback", "blocking", "lacks no-new-privileges"),
    ("engine-readback.json", lambda d: d["engine_readback"][0].update(NetworkMode="bridge"),
     "mode.engine_readback", "blocking", "NetworkMode='bridge' (asked 'none')"),
    ("engine-readback.json", lambda d: d["engine_readback"][0]["mounts"].append(
        {"source": "/etc", "destination": "/host/etc", "rw": True, "type": "bind"}),
     "mode.engine_readback", "blocking", "/etc:/host/etc"),
    ("engine-readback.json", lambda d: d.update(engine_readback=[{"container": "x", "error": "NotFound: gone"}]),
     "mode.engine_readback", "warning", "could not be read back"),
]


@pytest.mark.parametrize("log, change, item, verdict, words", RULES,
                         ids=[f"{r[2]}-{r[3]}-{i}" for i, r in enumerate(RULES)])
def test_each_rule_follows_its_fact(tmp_path, log, change, item, verdict, words):
    run = copy_of(tmp_path, "docker-ext4")
    before = verdicts(Audit().parse(run))[item]
    assert words not in before[1]  # the words come from the changed fact
    edit(run / log, change)
    after = verdicts(Audit().parse(run))[item]
    assert after[0] == verdict and words in after[1], after


def test_a_missing_probe_is_a_warning_per_filesystem(tmp_path):
    run = copy_of(tmp_path, "docker-ext4")
    edit(run / "copy0" / "audit.json", lambda d: d["probes"].update(
        {"32": {"binary": "/usr/local/bin/execbench-abiprobe32", "log": None, "exit_code": None,
                "error": "/usr/local/bin/execbench-abiprobe32 not found"}}))
    found = verdicts(Audit().parse(run))
    assert all(found[f"abi.{fs}"][0] == "warning" and "not probed" in found[f"abi.{fs}"][1]
               for fs in ("run_dir", "root", "tmp"))


def test_a_file_bind_mounted_from_the_same_device_is_no_inode_disagreement(tmp_path):
    """Bare mode bind-mounts its /etc/group copy over the image's (same ext4): readdir() gives the
    covered file's inode, stat() the mounted one's, on the same st_dev, so the probe says match=no.
    A mount point of the environment's mountinfo is left out; any other such entry is a warning."""
    run = copy_of(tmp_path, "docker-ext4")
    line = "path=/etc/group\td_ino=1886127\td_off={}\tlstat=ok\tino={}\ttype=reg\topen=ok\tfstat=ok\tmatch={}"
    for bits in ("32", "64"):  # both programs see the same two inodes
        log = run / "copy0" / f"abi-probe-{bits}.log"
        d_off = re.search(r"path=/etc/group\td_ino=1886127\td_off=(\d+)", log.read_text()).group(1)
        log.write_text(log.read_text().replace(line.format(d_off, 1886127, "yes"), line.format(d_off, 7555000, "no")))
    verdict, text = verdicts(Audit().parse(run))["abi.root"]
    assert verdict == "warning" and "d_ino != lstat st_ino for 1, e.g. /etc/group" in text
    mountinfo = run / "copy0" / "mountinfo.txt"
    mountinfo.write_text(mountinfo.read_text() + "150 109 254:0 /srv/etc-group /etc/group ro,nosuid,nodev,relatime "
                                                  "- ext4 /dev/vda rw\n")
    verdict, text = verdicts(Audit().parse(run))["abi.root"]
    assert verdict == "ok" and "1 mount points not compared (e.g. /etc/group)" in text


def test_a_cut_probe_log_is_a_parse_error_naming_file_and_line(tmp_path):
    run = copy_of(tmp_path, "docker-ext4")
    log = run / "copy0" / "abi-probe-32.log"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n")  # no end line: the probe was killed
    with pytest.raises(ParseError) as err:
        Audit().parse(run)
    assert err.value.path == str(log) and err.value.line == len(lines) - 1 and "'end' line" in err.value.expected
    log.write_text("probe\tversion=2\tbits=32\nentry\tpath=/x\n")
    with pytest.raises(ParseError) as err:
        read_probe_log(log)
    assert err.value.line == 2 and "'dir' line before" in err.value.expected


def test_host_log_of_another_format_is_a_parse_error(tmp_path):
    run = copy_of(tmp_path, "docker-ext4")
    edit(run / "host-audit.json", lambda d: d.update(format="something-else"))
    with pytest.raises(ParseError) as err:
        Audit().parse(run)
    assert err.value.path.endswith("host-audit.json") and "execbench-host-audit" in err.value.expected


def test_a_file_name_with_a_tab_stays_one_path(tmp_path):
    log = tmp_path / "p.log"
    log.write_text("probe\tversion=2\tbits=64\tino_t=8\toff_t=8\td_ino=8\n"
                   "dir\tpath=/d\tstat=ok\tino=5\tdev=1\treaddir=ok\tentries=1\tdot_ino=5\tdotdot_ino=2\n"
                   "entry\tpath=/d/a\tb\td_ino=7\td_off=9\tlstat=ok\tino=7\ttype=reg\topen=ok\tfstat=ok\tmatch=yes\n"
                   "end\tdirs=1\tentries=1\teoverflow=0\tmismatches=0\n")
    assert read_probe_log(log).dirs["/d"]["listed"][0]["path"] == "/d/a\tb"


def test_version_1_probe_logs_still_read(tmp_path):
    """Probe version 1 (before d_off, "." and ".." were recorded) is read as it was written."""
    log = tmp_path / "p.log"
    log.write_text("probe\tversion=1\tbits=32\tino_t=4\toff_t=4\td_ino=4\n"
                   "dir\tpath=/d\tstat=ok\tino=5\tdev=1\treaddir=EOVERFLOW\tentries=0\n"
                   "end\tdirs=1\tentries=0\teoverflow=1\tmismatches=0\n")
    assert read_probe_log(log).dirs["/d"]["readdir"] == "EOVERFLOW"
    log.write_text("probe\tversion=9\tbits=32\n")
    with pytest.raises(ParseError, match="probe version"):
        read_probe_log(log)


def test_detect_knows_an_audit_run_and_nothing_else():
    parser = parsers.get("execbench-audit")
    assert all(parser.detect(FIXTURES / name) for name in ("docker-ext4", "bare-xfs-inode64", "vm-9p-tcg"))
    assert not parser.detect(FIXTURES.parent / "runs" / "db12_timeout")
    assert parsers.detect(FIXTURES / "docker-ext4") is parser
