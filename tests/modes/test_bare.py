"""Bare mode: the chroot's mounts (always undone), the same binaries as the containers, no
namespaces, and the host-binaries variant."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import PROBE_ARGV, ArgvPayload, probe, run_context

from execbench.config import RunCell
from execbench.modes.bare import BARE_UID, BareMode, id_conflict, kernel_has_private_proc_options
from execbench.modes.docker import DockerMode
from execbench.rootfs import _mount_points, export_rootfs
from execbench.runner import run_cell


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


@pytest.mark.docker
def test_same_binaries_in_bare_and_docker_and_bare_has_no_namespaces(modes_image, shared_dir):
    files = ["/usr/bin/python3.11", "/lib/x86_64-linux-gnu/libc.so.6", "/opt/execbench/execbench_launch.py"]
    argv = ["sha256sum", *files]
    sums = {}
    for mode_name, mode in (("bare", BareMode()), ("docker", DockerMode())):
        out = shared_dir / f"checksum-{mode_name}"
        assert mode.run(run_context(modes_image, mode_name, argv, out)).copies[0].exit_code == 0
        sums[mode_name] = (out / "copy0" / "stdout.log").read_text()
    assert sums["bare"] == sums["docker"] and len(sums["bare"].splitlines()) == 3
    # ... and it is the image's launcher, not the host's copy being run
    launcher_sum = hashlib.sha256(Path(__file__).parents[2].joinpath(
        "src/execbench/inimage/execbench_launch.py").read_bytes()).hexdigest()
    assert launcher_sum in sums["bare"]

    out = shared_dir / "bare-probe"
    ctx = run_context(modes_image, "bare", PROBE_ARGV, out)
    result = BareMode().run(ctx).copies[0]
    assert result.exit_code == 0
    assert result.env_cgroup_cpu_s is None  # no cgroup of its own: not the whole machine's either
    seen = probe(out)
    assert seen["uid"] == BARE_UID and int(seen["cap_eff"], 16) == 0
    assert seen["root_write"] == "EROFS"  # the cached image files cannot change between runs
    assert seen["writable"] == ["/tmp", "/dev/shm"]  # as in the containers
    assert seen["cwd"] == "/execbench/run/copy0" and seen["run_mounted"]
    assert seen["ns"] == {n: os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "mnt", "net", "user")}
    root, _ = export_rootfs(ctx.image_ref, ctx.mode.cache_dir)
    assert not [p for p in _mount_points() if p.startswith(str(root) + "/")]  # all mounts gone again

def test_bare_variant_host_runs_host_binaries(shared_dir, tmp_path):
    """variant host: no image, host binaries (recorded as such), still the bare payload id."""
    from helpers import make_config

    config = make_config(shared_dir / "host-variant", {"name": "none", "reference": None, "digest": None},
                         modes={"bare-host": {"kind": "bare", "variant": "host", "cpuset": "none"}})
    payload = ArgvPayload(["sh", "-c", "id -u; sha256sum /usr/bin/sha256sum"])
    run = run_cell(config, RunCell("argv", "bare-host", 1, 1), payload=payload)
    assert run["status"] == "ok", run["reason"]
    assert run["factors"]["variant"] == "host" and "host binaries" in run["reason"]
    out = (shared_dir / "host-variant/raw/argv/bare-host/1c/r1/copy0/stdout.log").read_text().splitlines()
    assert out[0] == str(BARE_UID)
    assert out[1].split()[0] == hashlib.sha256(Path("/usr/bin/sha256sum").read_bytes()).hexdigest()


@pytest.mark.docker
def test_bare_cpu_quota_is_the_positive_control_seen_inside_and_read_back(modes_image, shared_dir):
    """cpu_limit quota on bare metal: a cgroup of the host's made for the run, its limit read back
    from the kernel, seen by the launcher inside the chroot, throttling counted; and removed."""
    from execbench.cpulimit import cpu_controller_dir

    if cpu_controller_dir() is None:
        pytest.skip("no writable cgroup cpu controller on this host")
    out = shared_dir / "bare-quota"
    settings = {"cpu_limit": {"kind": "quota", "cpus": 0.1}}
    ctx = run_context(modes_image, "bare", ["python3", "-c", "import time\nwhile time.process_time() < 0.3: pass"],
                      out, settings=settings)
    outcome = BareMode().run(ctx)
    assert outcome.copies[0].exit_code == 0, (out / "launcher-0.log").read_text()
    kernel = outcome.factors["cpu_limit_read_back"]
    assert (kernel["cpu_quota_us"], kernel["cpu_period_us"]) == (10_000, 100_000)
    assert kernel["cpu_stat"]["nr_throttled"] >= 3
    seen = outcome.copies[0].environment
    assert seen["cgroup"]["cpu_quota_us"] == 10_000  # the launcher, inside the chroot, sees it
    assert outcome.copies[0].cpu_throttling["nr_throttled"] >= 3
    assert not Path(kernel["cgroup"]).exists()  # the run's cgroup is gone
    root, _ = export_rootfs(ctx.image_ref, ctx.mode.cache_dir)
    assert not [p for p in _mount_points() if p.startswith(str(root) + "/")]

    out = shared_dir / "bare-cpuset"
    ctx = run_context(modes_image, "bare", ["true"], out, settings={"cpu_limit": {"kind": "cpuset", "cpus": 1}})
    outcome = BareMode().run(ctx)
    first = sorted(os.sched_getaffinity(0))[0]
    assert outcome.copies[0].environment["visible_cpus"] == [first]
    assert outcome.factors["cpu_limit_applied"] == {"affinity": [first]}

    # per_copy: the run's quota is cpus x copies (each copy gets its share at every copy count)
    out = shared_dir / "bare-quota-per-copy"
    settings = {"cpu_limit": {"kind": "quota", "cpus": 0.5, "per_copy": True}}
    ctx = run_context(modes_image, "bare", ["true"], out, settings=settings, copies=2)
    outcome = BareMode().run(ctx)
    assert outcome.factors["cpu_limit_read_back"]["cpu_quota_us"] == 100_000  # 2 copies x 0.5 CPU


# --- confinement (issue 13, R2) ---------------------------------------------------------

# Run in bare mode by the image's python3: what a payload can see of the host's processes.
R2_PROBE = r"""
import json, os, pwd, sys
visible = {}
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            status = open(f"/proc/{pid}/status").read()
        except OSError:
            continue
        visible[pid] = int(status.split("Uid:")[1].split()[0])
reached = []
for pid in sys.argv[1:]:
    try:
        reached.append((pid, open(f"/proc/{pid}/root/etc/hostname").read()))
    except OSError:
        pass
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
options = {m.split()[1]: m.split()[3] for m in open("/proc/self/mounts")}
print(json.dumps({"visible": visible, "reached": reached, "no_new_privs": status["NoNewPrivs"].strip(),
                  "uid": os.getuid(), "name": pwd.getpwuid(os.getuid()).pw_name, "home": os.path.expanduser("~"),
                  "options": {p: options.get(p, "") for p in ("/", "/execbench/run", "/dev/null", "/tmp", "/proc")}}))
"""


def catatonit_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"catatonit"):
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


@pytest.mark.docker
@pytest.mark.skipif(os.geteuid() != 0, reason="bare mode needs root")
def test_r2_a_bare_payload_sees_no_host_process_and_cannot_reach_the_host_root(modes_image, shared_dir):
    """R2's probe: processes of the rootless-Podman user (uid 10001: its catatonit pause process,
    and a sentinel here) and of root stay invisible and their /proc/<pid>/root closed."""
    podman_user = subprocess.Popen(["sleep", "300"], user=10001, group=10001, extra_groups=[])
    root_process = subprocess.Popen(["sleep", "300"])
    try:
        watched = [podman_user.pid, root_process.pid, 1, *catatonit_pids()]
        out = shared_dir / "bare-r2"
        ctx = run_context(modes_image, "bare", ["python3", "-c", R2_PROBE, *map(str, watched)], out)
        assert BareMode().run(ctx).copies[0].exit_code == 0, (out / "copy0/stderr.log").read_text()
        seen = json.loads((out / "copy0/stdout.log").read_text())
    finally:
        for proc in (podman_user, root_process):
            proc.kill()
            proc.wait()
    assert seen["reached"] == []
    assert not set(map(str, watched)) & set(seen["visible"])
    assert set(seen["visible"].values()) == {BARE_UID}  # its own processes, and only those
    assert seen["uid"] == BARE_UID != 10001
    assert seen["name"] == "execbench" and seen["home"] == "/home/execbench"  # as in a container
    assert seen["no_new_privs"] == "1"
    for point in ("/", "/execbench/run", "/tmp"):
        assert {"nosuid", "nodev"} <= set(seen["options"][point].split(",")), (point, seen["options"])
    assert {"ro"} <= set(seen["options"]["/"].split(","))
    assert "nosuid" in seen["options"]["/dev/null"].split(",")
    assert "hidepid=invisible" in seen["options"]["/proc"].split(",")


def test_the_bare_payload_id_is_no_host_account_subordinate_range_or_other_mode(tmp_path, monkeypatch):
    assert id_conflict(BARE_UID) is None  # free on this host (passwd, group, subuid, subgid)
    assert "root" in id_conflict(0)
    assert "uses 10001" in id_conflict(10001, {"the containers' payload user": 10001})
    subuid = tmp_path / "subuid"
    subuid.write_text("execbench:100000:65536\n")
    monkeypatch.setattr("execbench.modes.bare.SUBID_FILES", (str(subuid),))
    assert "execbench 100000-165535" in id_conflict(100042)


@pytest.mark.skipif(os.geteuid() != 0, reason="bare mode needs root")
def test_bare_mode_is_unavailable_when_its_payload_id_is_taken():
    from helpers import mode_context

    availability = BareMode().available(mode_context("bare", {"payload_uid": 10001}))
    assert not availability.ok and "payload_uid 10001 is not free" in availability.reason


def test_hidepid_needs_a_kernel_where_each_proc_mount_has_its_own_options():
    assert not kernel_has_private_proc_options("5.4.0-150-generic")
    assert kernel_has_private_proc_options("5.8.0") and kernel_has_private_proc_options("6.18.44-fc-v657")
