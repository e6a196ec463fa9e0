"""Host provenance: CPU model, OS release, and the batch job around a run."""

from __future__ import annotations

import pytest

from execbench.hostinfo import batch_context, cpu_model, os_release


def test_hostinfo_parsers(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU @ 2.0GHz\n")
    assert cpu_model(tmp_path / "cpuinfo") == "Test CPU @ 2.0GHz"
    (tmp_path / "os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    assert os_release(tmp_path / "os-release") == {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian"}


def test_batch_context_from_slurm_environment():
    env = {"SLURM_JOB_ID": "4711", "SLURMD_NODENAME": "wn001"}
    assert batch_context(env) == {"system": "slurm", "job_id": "4711", "node": "wn001"}
    assert batch_context({}) == {"system": None, "job_id": None, "node": None}

def test_batch_context_from_htcondor_job_ad(tmp_path):
    ad = tmp_path / ".job.ad"
    ad.write_text('ClusterId = 123\nProcId = 4\nOwner = "alice"\nRemoteHost = "slot1@wn002.example.org"\n')
    assert batch_context({"_CONDOR_JOB_AD": str(ad)}) == {
        "system": "htcondor", "job_id": "123.4", "node": "slot1@wn002.example.org"}
    ad.write_text("ClusterId = 123\n")  # no ProcId, no RemoteHost
    assert batch_context({"_CONDOR_JOB_AD": str(ad)}) == {"system": "htcondor", "job_id": "123", "node": None}


def test_a_guest_is_found_by_its_cpu_flag_and_dmi_without_systemd_detect_virt(tmp_path, monkeypatch):
    from execbench import hostinfo

    monkeypatch.setattr(hostinfo.shutil, "which", lambda name: None)  # a minimal node: no systemd tools
    dmi = tmp_path / "class" / "dmi" / "id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("QEMU\n")
    (dmi / "product_name").write_text("Standard PC (Q35 + ICH9, 2009)\n")
    guest = hostinfo.virtualization(["fpu", "hypervisor", "avx2"], sys_root=tmp_path)
    assert guest["vm"] == "qemu" and guest["container"] is None
    assert any("hypervisor" in e for e in guest["evidence"]) and any("DMI sys_vendor: QEMU" in e for e in guest["evidence"])
    assert hostinfo.baseline_label(guest) == "host is a QEMU guest"
    # hardware: no flag, a board vendor's DMI
    (dmi / "sys_vendor").write_text("Dell Inc.\n")
    (dmi / "product_name").write_text("PowerEdge R650\n")
    metal = hostinfo.virtualization(["fpu", "avx2"], sys_root=tmp_path)
    assert metal == {"vm": None, "container": None, "evidence": []}
    assert hostinfo.baseline_label(metal) is None
    # the flag alone still marks the baseline
    (dmi / "sys_vendor").write_text("\n")
    assert hostinfo.baseline_label(hostinfo.virtualization(["hypervisor"], sys_root=tmp_path)) == \
        "host is a virtual machine"


def test_this_host_records_what_systemd_detect_virt_says(tmp_path):
    import shutil
    import subprocess

    from execbench import hostinfo

    tool = shutil.which("systemd-detect-virt")
    if tool is None:
        pytest.skip("systemd-detect-virt not installed")
    said = subprocess.run([tool, "--vm"], capture_output=True, text=True).stdout.strip()
    found = hostinfo.virtualization()
    if said == "none":
        assert not any(e.startswith("systemd-detect-virt --vm") for e in found["evidence"])
    else:
        assert found["vm"] == said and f"systemd-detect-virt --vm: {said}" in found["evidence"]


def test_host_state_delta_gives_steal_time_and_context_switches(tmp_path):
    from execbench import hostinfo

    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 0 0 0 50 0 0\nctxt 1000\n")
    before = {"stat": hostinfo._proc_stat(stat), "load_1m": 0.5}
    stat.write_text("cpu  200 0 100 1500 0 0 0 200 0 0\nctxt 4000\n")
    after = {"stat": hostinfo._proc_stat(stat), "load_1m": 0.9}
    cpu = tmp_path / "sys" / "devices" / "system" / "cpu"
    (cpu / "cpu0" / "cpufreq").mkdir(parents=True)
    (cpu / "cpu0" / "cpufreq" / "scaling_cur_freq").write_text("2400000\n")
    (cpu / "cpu0" / "cpufreq" / "scaling_governor").write_text("performance\n")
    (cpu / "smt").mkdir()
    (cpu / "smt" / "active").write_text("1\n")
    delta = hostinfo.host_state_delta(before, after, sys_root=tmp_path / "sys")
    # 150 of the 1000 jiffies that passed were stolen by the hypervisor
    assert delta["steal_pct"] == pytest.approx(15.0)
    assert delta["context_switches"] == 3000 and delta["load_1m"] == 0.5
    assert delta["cpu_khz"] == 2400000 and delta["governor"] == "performance" and delta["smt_active"] is True
    empty = hostinfo.host_state_delta(before, after, sys_root=tmp_path / "nothing")
    assert empty["cpu_khz"] is None and empty["governor"] is None and empty["smt_active"] is None
