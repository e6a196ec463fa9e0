"""Host provenance: CPU model, OS release, and the batch job around a run."""

from __future__ import annotations

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
