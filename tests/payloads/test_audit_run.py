"""The audit payload run for real, through the chain runner as a study runs it: on this host in bare,
docker and rootless podman, and on a real XFS filesystem whose inode numbers exceed 2^32 (an
image on a loop device, mounted inode64, as the 2015 study's SL7 hosts were), where the 32-bit
probe must fail with EOVERFLOW, the 64-bit one must not, and the report must say so on its first
screen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import make_config

from execbench import layout, parse
from execbench.chain import Chain
from execbench.config import run_matrix
from execbench.findings import read_audit_table
from execbench.modes.common import HARDENING
from execbench.parsers.audit import INODE_32_LIMIT, read_probe_log
from execbench.report import write_report
from execbench.runner import LOCK_ENV
from execbench.tables import write_tables


def run_study(config: dict) -> list[Path]:
    """The config's runs carried out as the study's chain job does (execbench.chain.Chain, one
    host), each parsed; the parsed-run JSONs. Checks the chain's order: the host audit first,
    once per mode, before any other payload."""
    record = Chain(config, progress=lambda *args: None).run()
    parsed, runs = [], []
    for cell in run_matrix(config):
        run = json.loads(layout.run_json(config["results"], cell).read_text())
        assert run["status"] in ("ok", "unavailable"), (cell.run_id, run["reason"])
        runs.append(run)
        out = layout.parsed_json(config["results"], cell)
        parse.write_parsed(layout.raw_dir(config["results"], cell), out)
        parsed.append(out)
    assert sorted(record["runs"]) == sorted(r["run_id"] for r in runs)
    audits = [r for r in runs if r["payload"] == "audit"]
    assert {r["repetition"] for r in audits} == {1} and len({r["mode"] for r in audits}) == len(audits)
    others = [r["order_index"] for r in runs if r["payload"] != "audit"]
    assert max(r["order_index"] for r in audits) < min(others, default=len(runs))
    return parsed


def verdicts(parsed_json: Path) -> dict[str, dict]:
    doc = json.loads(parsed_json.read_text())
    assert doc["errors"] == [], doc["errors"]
    return {r["benchmark"]: r["extra"] for r in doc["records"] if r["metric"] == "verdict"}


def build_report(results: Path, parsed: list[Path]) -> tuple[dict, str]:
    from execbench.figures import write_figures

    write_tables(parsed, results / "tables")
    write_figures(results / "tables", results / "report" / "figures")
    html = write_report(results / "tables", results / "report" / "figures", results / "report")["html"]
    return read_audit_table(results / "tables" / "audit.json"), html.read_text()


@pytest.mark.docker
@pytest.mark.podman
def test_audit_in_bare_docker_and_podman_reads_the_hardening_back_from_the_engine(payload_image, shared_dir,
                                                                                    monkeypatch):
    monkeypatch.setenv(LOCK_ENV, str(shared_dir / "audit.lock"))
    results = shared_dir / "audit-modes"
    config = make_config(results, payload_image,
                         modes={"docker": {"kind": "docker"}, "podman": {"kind": "podman"}},
                         payloads={"audit": {"copies": [1]}})
    parsed = run_study(config)
    runs = {json.loads(p.read_text())["run"]["mode"]: p for p in parsed}
    assert sorted(runs) == ["bare", "docker", "podman"]  # once per mode (repetitions: 2 in this config)
    for mode in ("docker", "podman"):
        run = json.loads((layout.raw_dir(results, next(c for c in run_matrix(config) if c.mode == mode))
                          / "run.json").read_text())
        [readback] = run["factors"]["engine_readback"]  # in the run's provenance, as the engine says
        assert readback["user"] == HARDENING["user"] and readback["ReadonlyRootfs"] is True
        assert run["factors"]["host_security"]["registry"]["address"] == config["registry"]["address"]
        found = verdicts(runs[mode])
        assert found["mode.engine_readback"]["verdict"] == "ok", found["mode.engine_readback"]
        for item in ("mode.capabilities", "mode.no_new_privileges", "mode.seccomp", "mode.readonly_root",
                     "mode.network", "mode.namespaces"):
            assert found[item]["verdict"] == "ok", (mode, item, found[item])
    assert "a user namespace" in verdicts(runs["podman"])["mode.user"]["summary"]  # rootless: remapped
    assert "no user namespace" in verdicts(runs["docker"])["mode.user"]["summary"]
    for mode, path in runs.items():
        found = verdicts(path)
        assert {f"abi.{fs}" for fs in ("run_dir", "root", "tmp")} <= set(found)
        assert found["abi.root"]["fstype"] == ("overlay" if mode != "bare" else found["abi.root"]["fstype"])
        assert found["abi.tmp"]["fstype"] == "tmpfs"
    table, html = build_report(results, parsed)
    [host] = table["hosts"]
    assert sorted(r["mode"] for r in host["runs"]) == ["bare", "docker", "podman"]
    assert "<details id='audit'><summary><h2>Host audit" in html and "Hardening read back from the engine" in html


def _run(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise OSError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


@pytest.fixture
def xfs_inode64(shared_dir):
    """A real XFS mounted inode64 whose new directories get inode numbers above 2^32: a 2047 GiB
    sparse image (about 70 MB written) in 3 allocation groups of 1023 GiB, so that inode numbers
    (AG number << 31 | inode in AG) of AG 2 start at 2^32; XFS inode64 places each new directory
    in the next AG. Skips, saying what is missing, where the machine cannot loop-mount XFS."""
    if os.geteuid() != 0:
        pytest.skip("needs root to attach a loop device and mount XFS")
    if not Path("/dev/loop-control").exists():
        pytest.skip("no /dev/loop-control: this machine gives no loop devices")
    if shutil.which("mkfs.xfs") is None:
        pytest.skip("mkfs.xfs not installed (xfsprogs, scripts/setup/debian-packages.txt)")
    if "xfs" not in Path("/proc/filesystems").read_text().split():
        pytest.skip("the kernel has no XFS (/proc/filesystems)")
    image, mount_point = shared_dir / "xfs-inode64.img", shared_dir / "xfs-inode64"
    mount_point.mkdir(exist_ok=True)
    with open(image, "wb") as fh:
        fh.truncate(2047 * 2 ** 30)
    _run("mkfs.xfs", "-q", "-f", "-K", "-d", "agsize=1023g", "-i", "size=512", "-l", "size=64m", str(image))
    try:
        loop = _run("losetup", "--find", "--show", str(image))
    except OSError as err:
        image.unlink()
        pytest.skip(f"cannot attach a loop device here: {err}")
    try:
        _run("mount", "-t", "xfs", "-o", "inode64", loop, str(mount_point))
        mount_point.chmod(0o755)
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], capture_output=True)
        subprocess.run(["losetup", "--detach", loop], capture_output=True)
        image.unlink()


@pytest.mark.docker
def test_audit_reproduces_32bit_eoverflow_on_a_real_xfs_inode64_loop_device(payload_image, xfs_inode64,
                                                                           monkeypatch, shared_dir):
    """bare and docker (the run dir bind-mounted from the XFS). Rootless podman is left out: its
    mount namespace (held by its pause process since its first use on this machine) was made
    before this mount and does not see it; on a site's XFS, mounted at boot, it would."""
    monkeypatch.setenv(LOCK_ENV, str(shared_dir / "audit.lock"))
    results = xfs_inode64 / "results"
    config = make_config(results, payload_image, modes={"docker": {"kind": "docker"}},
                         payloads={"audit": {"copies": [1]}, "startup": {"samples": 1, "copies": [1]}})
    config["study"]["repetitions"] = 1
    parsed = run_study(config)
    audits = {json.loads(p.read_text())["run"]["mode"]: p for p in parsed if "/audit/" in str(p)}
    for mode, path in audits.items():
        copy = layout.raw_dir(results, next(c for c in run_matrix(config) if (c.payload, c.mode) == ("audit", mode)))
        p32 = read_probe_log(copy / "copy0" / "abi-probe-32.log")
        p64 = read_probe_log(copy / "copy0" / "abi-probe-64.log")
        on_xfs = [d for d in p64.dirs if d.startswith("/execbench/run")]
        big = [d for d in on_xfs if int(p64.dirs[d]["ino"]) >= INODE_32_LIMIT]
        assert big, f"{mode}: no directory with an inode above 2^32 on the XFS"
        # the 32-bit program: EOVERFLOW; the 64-bit one: the inode number, and every entry
        assert all(p32.dirs[d]["stat"] == "EOVERFLOW" for d in big)
        assert all(p64.dirs[d]["stat"] == "ok" and p64.dirs[d]["readdir"] == "ok" for d in on_xfs)
        assert int(p32.end["eoverflow"]) > 0 and p64.end["eoverflow"] == "0"
        found = verdicts(path)
        assert found["abi.run_dir"]["verdict"] == "blocking" and found["abi.run_dir"]["fstype"] == "xfs"
        assert "inode64" in found["abi.run_dir"]["super_options"]
        assert "EOVERFLOW" in found["abi.run_dir"]["summary"] and "64-bit programs are fine" in found["abi.run_dir"]["summary"]
        assert found["abi.root"]["verdict"] == found["abi.tmp"]["verdict"] == "ok"  # not on the XFS
    # the report marks it: on the first screen, in the audit section, and the runs of those modes
    table, html = build_report(results, parsed)
    [host] = table["hosts"]
    assert sorted(b["mode"] for b in host["abi"]["broken"]) == ["bare", "docker"]
    assert host["abi"]["affected_runs"] == {"bare": ["startup-bare-1c-r1"], "docker": ["startup-docker-1c-r1"]}
    first_screen = html[:html.index("<details id='summary'>")]  # the first screen, before the folded sections
    assert 'class="audit-blocking"' in first_screen
    assert "32-bit ABI: run directory" in first_screen and "(bare, docker)" in first_screen
    assert "Breaks on the run dir (xfs, inode64) in bare, docker" in html
