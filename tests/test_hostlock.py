"""The host's benchmark slot (execbench.hostlock), tried as another local user would (issue 13, R1):
real users through runuser, real links, a real second process holding the lock."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from execbench.hostlock import DEFAULT_LOCK, GROUP_ENV, BenchmarkSlotBusy, UnsafeLock, open_lock
from execbench.paths import REPO_ROOT
from execbench.runner import LOCK_ENV, benchmark_slot, lock_path

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"),
                                reason="tries the lock as root against another real user (runuser)")


@pytest.fixture
def scratch():
    """A directory other users can reach (pytest's tmp_path is 0700), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="execbench-lock-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "nobody", "--", *argv], capture_output=True, text=True,
                          timeout=60, **kwargs)


def victim_file(scratch: Path) -> Path:
    victim = scratch / "victim"
    victim.write_text("root-only\n")
    victim.chmod(0o600)
    return victim


def assert_untouched(victim: Path) -> None:
    st = victim.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    assert victim.read_text() == "root-only\n"


def test_r1_link_planted_by_another_user_in_a_sticky_dir_never_reaches_the_victim(scratch, monkeypatch):
    """R1's reproducer: nobody plants sticky/lock -> victim; root takes the slot there."""
    sticky = scratch / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    victim = victim_file(scratch)
    assert as_nobody("ln", "-s", str(victim), str(sticky / "lock")).returncode == 0
    monkeypatch.setenv(LOCK_ENV, str(sticky / "lock"))
    with pytest.raises(UnsafeLock, match="writable by other users"):
        with benchmark_slot():
            pass
    assert_untouched(victim)


def test_r1_a_link_in_the_lock_directory_itself_is_not_followed(scratch, monkeypatch):
    victim = victim_file(scratch)
    lock_dir = scratch / "locks"
    lock_dir.mkdir(mode=0o755)
    (lock_dir / "benchmark.lock").symlink_to(victim)
    monkeypatch.setenv(LOCK_ENV, str(lock_dir / "benchmark.lock"))
    with pytest.raises(UnsafeLock, match="symbolic link"):
        with benchmark_slot():
            pass
    assert_untouched(victim)


def test_r1_a_hard_link_or_a_fifo_is_refused(scratch, monkeypatch):
    victim = victim_file(scratch)
    lock_dir = scratch / "locks"
    lock_dir.mkdir(mode=0o755)
    os.link(victim, lock_dir / "hard.lock")  # fs.protected_hardlinks=0 lets any user do this to root's files
    with pytest.raises(UnsafeLock, match="2 hard links"):
        open_lock(lock_dir / "hard.lock")
    assert_untouched(victim)
    os.mkfifo(lock_dir / "fifo.lock")
    with pytest.raises(UnsafeLock, match="not a regular file"):  # and no hang on the FIFO
        open_lock(lock_dir / "fifo.lock")


def test_r1_another_user_cannot_open_the_lock_to_block_every_benchmark(scratch, monkeypatch):
    lock = scratch / "locks" / "benchmark.lock"
    monkeypatch.setenv(LOCK_ENV, str(lock))
    with benchmark_slot():
        pass
    st = lock.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    assert stat.S_IMODE(lock.parent.stat().st_mode) == 0o755
    hold = as_nobody("/usr/bin/python3", "-c", f"import fcntl; fcntl.lockf(open({str(lock)!r}, 'r+'), fcntl.LOCK_EX)")
    assert hold.returncode != 0 and "Permission denied" in hold.stderr


def test_a_named_group_shares_the_slot_and_no_one_else_can(scratch, monkeypatch):
    """EXECBENCH_LOCK_GROUP: a site's batch users (here: nobody's group) share the one slot."""
    lock = scratch / "locks" / "benchmark.lock"
    monkeypatch.setenv(LOCK_ENV, str(lock))
    monkeypatch.setenv(GROUP_ENV, "nogroup")
    with benchmark_slot():
        pass
    st = lock.stat()
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == 65534
    take = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(REPO_ROOT / 'src')!r})
        from execbench.hostlock import benchmark_slot
        with benchmark_slot({str(lock)!r}, wait_s=0):
            print("held")
    """)
    member = as_nobody("/usr/bin/python3", "-c", take, env={**os.environ, GROUP_ENV: "nogroup"})
    assert member.stdout.strip() == "held", member.stderr


def test_a_held_slot_names_its_holder_and_the_wait_is_bounded(scratch, monkeypatch):
    lock = scratch / "locks" / "benchmark.lock"
    monkeypatch.setenv(LOCK_ENV, str(lock))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from execbench.runner import benchmark_slot
        with benchmark_slot(note={{"run": "db12-docker-1c-r1", "results": "/site/results"}}):
            print("held", flush=True)
            sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        said = []
        with pytest.raises(BenchmarkSlotBusy) as busy:
            with benchmark_slot(wait_s=1.0, report=said.append):
                pytest.fail("took a slot another process holds")
        message = str(busy.value)
        assert f"pid {holder.pid}" in message and "run db12-docker-1c-r1 of /site/results" in message
        assert "since 20" in message and "EXECBENCH_BENCHMARK_LOCK_WAIT_S" in message
        assert said and f"held by pid {holder.pid}" in said[0]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with benchmark_slot(wait_s=0):  # released: free at once
        assert lock.stat().st_size > 0  # the note of the current holder (us)
    assert lock.stat().st_size == 0


def test_the_default_lock_is_host_local_where_only_root_creates_entries(monkeypatch):
    # results/ may be shared by every node of a cluster: the lock lives on the host, not in /tmp
    monkeypatch.delenv(LOCK_ENV, raising=False)
    assert lock_path() == DEFAULT_LOCK == Path("/run/execbench/benchmark.lock")
    fd = open_lock()  # the checks pass on this host (only opened: never taken here)
    os.close(fd)
    mode = stat.S_IMODE(DEFAULT_LOCK.parent.stat().st_mode)
    assert not mode & 0o022 and DEFAULT_LOCK.parent.stat().st_uid == 0


def test_an_older_checkouts_lock_is_held_too_so_their_benchmarks_never_overlap(tmp_path, monkeypatch):
    import fcntl
    import multiprocessing

    from execbench import hostlock

    legacy = tmp_path / "execbench-benchmark.lock"
    legacy.write_text("")
    monkeypatch.setattr(hostlock, "LEGACY_LOCKS", (tmp_path / "absent.lock", legacy))
    fd = hostlock._legacy_lock(lambda line: None)
    assert fd is not None

    def try_lock(path, out):  # an older checkout's lockf, from another process
        with open(path, "r+") as fh:
            try:
                fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                out.put("got it")
            except OSError:
                out.put("busy")

    out = multiprocessing.Queue()
    child = multiprocessing.Process(target=try_lock, args=(legacy, out))
    child.start(), child.join(10)
    assert out.get(timeout=5) == "busy"
    os.close(fd)
    child = multiprocessing.Process(target=try_lock, args=(legacy, out))
    child.start(), child.join(10)
    assert out.get(timeout=5) == "got it"
    # a link where the old lock was is never followed
    legacy.unlink()
    legacy.symlink_to(tmp_path / "victim")
    (tmp_path / "victim").write_text("")
    assert hostlock._legacy_lock(lambda line: None) is None
