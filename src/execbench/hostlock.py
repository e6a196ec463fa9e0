"""The host's one benchmark slot: a lock file no other local user can plant, hold or redirect.

Benchmarks never overlap on a host: every run holds this lock for its whole duration, across
Snakemake processes and checkouts. It lives on the host itself, never in results/ (a filesystem
many nodes share would serialise every node):

    $EXECBENCH_BENCHMARK_LOCK                  if set (tests, a site's own place)
    /run/execbench/benchmark.lock              else (/run: only root creates entries there)

execbench runs as root on nodes other people use, so the lock must not be a tool against root
(issue 13, R1: a world-writable, link-following lock in /run/lock let any user make root
truncate and chmod 0666 any file, and block every benchmark for ever without a message):

- its directory must not be writable by other users (no sticky /tmp, no /run/lock): refused
  with the reason otherwise, so nobody else can plant a link, a FIFO or a file of their own;
- the file is opened with O_NOFOLLOW|O_NONBLOCK relative to that directory's descriptor, then
  checked with fstat: a regular file with one link, owned by root (or the caller), writable by
  no one else; created 0600 (0660 with the group named by EXECBENCH_LOCK_GROUP, for batch users
  who share the slot), never chmod-ed open to all, so no other user can open it to hold it;
- the holder writes a note into it (pid, run, results dir, since when); a waiter reports the
  holder (the kernel's F_GETLK pid, and the note when it is that pid's) and gives up after
  EXECBENCH_BENCHMARK_LOCK_WAIT_S seconds (default 7200) with BenchmarkSlotBusy naming the
  holder, instead of waiting for ever.

POSIX (fcntl) locks are dropped by the kernel when the holder dies; they are also dropped when
the holding process closes ANY descriptor of the file, so the holder never opens it twice.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import json
import os
import socket
import stat
import struct
import sys
import time
from pathlib import Path

from .errors import ExecbenchError
from .fsutil import utc_now

LOCK_ENV = "EXECBENCH_BENCHMARK_LOCK"
WAIT_ENV = "EXECBENCH_BENCHMARK_LOCK_WAIT_S"
GROUP_ENV = "EXECBENCH_LOCK_GROUP"
DEFAULT_LOCK = Path("/run/execbench/benchmark.lock")
DEFAULT_WAIT_S = 7200.0  # longer than any default-size run; a site's full study sets more
POLL_S = 0.5
REPORT_EVERY_S = 60.0
NOTE_MAX = 4096


class BenchmarkSlotBusy(ExecbenchError):
    """Another process held the host's benchmark slot for longer than the wait allows."""


class UnsafeLock(ExecbenchError):
    """The lock's place or file could be controlled by another local user: refused."""


def lock_path() -> Path:
    """$EXECBENCH_BENCHMARK_LOCK, else /run/execbench/benchmark.lock."""
    return Path(os.environ[LOCK_ENV]) if os.environ.get(LOCK_ENV) else DEFAULT_LOCK


def wait_limit_s() -> float:
    value = os.environ.get(WAIT_ENV, "")
    try:
        return max(0.0, float(value)) if value else DEFAULT_WAIT_S
    except ValueError:
        raise ExecbenchError(f"{WAIT_ENV}={value!r}: expected a number of seconds") from None


def _lock_group() -> int | None:
    name = os.environ.get(GROUP_ENV)
    if not name:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ExecbenchError(f"{GROUP_ENV}={name!r}: no such group on this host") from None


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _check_directory(fd: int, path: Path, group: int | None) -> None:
    st = os.fstat(fd)
    if not _trusted_owner(st.st_uid):
        raise UnsafeLock(f"benchmark lock directory {path} is owned by uid {st.st_uid}, not root: another user "
                         f"could replace the lock; use a root-owned directory ({LOCK_ENV})")
    if st.st_mode & stat.S_IWOTH or (st.st_mode & stat.S_IWGRP and st.st_gid != group):
        raise UnsafeLock(f"benchmark lock directory {path} is writable by other users (mode "
                         f"{stat.S_IMODE(st.st_mode):04o}): anyone could plant a link or hold the lock there; "
                         f"use a directory only root can write ({LOCK_ENV}, default {DEFAULT_LOCK.parent})")


def _check_file(fd: int, path: Path, group: int | None) -> None:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeLock(f"benchmark lock {path} is not a regular file")
    if st.st_nlink != 1:
        raise UnsafeLock(f"benchmark lock {path} has {st.st_nlink} hard links: it may be another file's name")
    if not _trusted_owner(st.st_uid):
        raise UnsafeLock(f"benchmark lock {path} is owned by uid {st.st_uid}, not root")
    if st.st_mode & (stat.S_IWOTH | stat.S_IROTH) or (st.st_mode & stat.S_IRWXG and st.st_gid != group):
        raise UnsafeLock(f"benchmark lock {path} is open to other users (mode {stat.S_IMODE(st.st_mode):04o}): "
                         "any of them could hold it and block every benchmark")


def open_lock(path: Path | None = None) -> int:
    """An fd of the lock file, read-write, after every check; the directory is made (0755) when
    missing and we may. Raises UnsafeLock or ExecbenchError naming the path."""
    path = Path(path) if path else lock_path()
    group = _lock_group()
    directory = path.parent
    if not directory.exists():
        try:
            directory.mkdir(mode=0o755, parents=True)
        except OSError as err:
            raise ExecbenchError(f"cannot create the benchmark lock directory {directory} ({err.strerror}); "
                                 f"run once as root, or set {LOCK_ENV}") from None
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise UnsafeLock(f"benchmark lock directory {directory}: {err.strerror}"
                         + (" (a symbolic link: not followed)" if err.errno == errno.ELOOP else "")) from None
    try:
        _check_directory(dfd, directory, group)
        mode = 0o660 if group is not None else 0o600
        try:
            fd = os.open(path.name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         mode, dir_fd=dfd)
        except OSError as err:
            reason = "a symbolic link (not followed)" if err.errno == errno.ELOOP else err.strerror
            raise UnsafeLock(f"benchmark lock {path}: {reason}") from None
    finally:
        os.close(dfd)
    try:
        st = os.fstat(fd)
        if st.st_size == 0 and st.st_uid == os.geteuid():  # ours, maybe just made: exact owner and mode
            if group is not None and os.geteuid() == 0:
                os.fchown(fd, 0, group)
            os.fchmod(fd, mode)
        _check_file(fd, path, group)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _kernel_holder(fd: int) -> int | None:
    """The pid holding a conflicting POSIX lock on fd's file (F_GETLK), or None."""
    request = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, request)
    except OSError:
        return None
    l_type, _, _, _, pid = struct.unpack("hhqqi4x", answer)
    return pid if l_type != fcntl.F_UNLCK and pid > 0 else None


def _note(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, NOTE_MAX, 0).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_HELD: dict = {}  # the note of the slot this process holds, if any (see current_holder)


def current_holder(path: Path | None = None) -> dict | None:
    """The holder's note ({"pid", "run", "results", "since_utc", ...}) when the slot is held, else
    None. A process holding the slot gets its own note without opening the lock again (closing
    any descriptor of the file would drop its POSIX lock)."""
    if _HELD:
        return dict(_HELD)
    fd = open_lock(path)
    try:
        pid = _kernel_holder(fd)
        if pid is None:
            return None
        note = _note(fd)
        return {**note, "pid": pid} if note.get("pid") == pid else {"pid": pid}
    finally:
        os.close(fd)


def holder(fd: int) -> str:
    """Who holds the lock, for a message: 'pid 123 (run x of /r, since 2026-..., 5 min ago)'."""
    pid = _kernel_holder(fd)
    note = _note(fd)
    if pid is None:
        return "a process that just released it"
    text = f"pid {pid}"
    if note.get("pid") == pid:
        run = " ".join(p for p in (f"run {note['run']}" if note.get("run") else "",
                                   f"of {note['results']}" if note.get("results") else "") if p)
        parts = [run, f"since {note['since_utc']}" if note.get("since_utc") else ""]
        if note.get("since_epoch"):
            parts.append(f"{(time.time() - float(note['since_epoch'])) / 60:.0f} min ago")
        text += f" ({', '.join(p for p in parts if p)})"
    return text


# Where checkouts before issue 13 took the slot (a world-writable file in /run/lock, lockf); a
# site may run an older checkout beside this one while it upgrades.
LEGACY_LOCKS = (Path("/run/lock/execbench-benchmark.lock"), Path("/tmp/execbench-benchmark.lock"))


def _legacy_lock(report) -> int | None:
    """Also hold an older checkout's lock file where one exists (never created, never followed
    through a link, a regular file only; O_RDWR because lockf needs it): its benchmarks and ours
    then never overlap. Waits for it as for the slot, at most wait_limit_s(), then raises
    BenchmarkSlotBusy."""
    for legacy in LEGACY_LOCKS:
        try:
            fd = os.open(legacy, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            continue
        said, start = False, time.monotonic()
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    return None
            if time.monotonic() - start >= wait_limit_s():
                os.close(fd)
                raise BenchmarkSlotBusy(f"an older execbench checkout holds {legacy}; gave up after "
                                        f"{wait_limit_s():.0f} s ({WAIT_ENV} sets the wait)")
            if not said:
                report(f"execbench: waiting for an older execbench checkout's benchmark ({legacy} is held)")
                said = True
            time.sleep(POLL_S)
    return None


@contextlib.contextmanager
def benchmark_slot(path: str | Path | None = None, *, note: dict | None = None, wait_s: float | None = None,
                   report=None):
    """Hold the host's one benchmark slot for the with-block.

    `note` (e.g. {"run": run_id, "results": dir}) is written into the lock for waiters to show.
    Waits at most `wait_s` seconds (default: $EXECBENCH_BENCHMARK_LOCK_WAIT_S, else 7200), saying
    who holds it at once and every minute on `report` (default: stderr); then raises
    BenchmarkSlotBusy naming the holder. Raises UnsafeLock when the lock could be another user's."""
    path = Path(path) if path else lock_path()
    wait_s = wait_limit_s() if wait_s is None else wait_s
    report = report or (lambda line: print(line, file=sys.stderr, flush=True))
    fd = open_lock(path)
    try:
        start, next_report = time.monotonic(), 0.0
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            waited = time.monotonic() - start
            if waited >= wait_s:
                raise BenchmarkSlotBusy(f"the host's benchmark slot ({path}) is held by {holder(fd)}; gave up "
                                        f"after {waited:.0f} s ({WAIT_ENV} sets the wait)")
            if waited >= next_report:
                report(f"execbench: waiting for the host's benchmark slot ({path}), held by {holder(fd)}; "
                       f"waited {waited:.0f} s of at most {wait_s:.0f} s")
                next_report = waited + REPORT_EVERY_S
            time.sleep(POLL_S)
        legacy = _legacy_lock(report)  # an older checkout's benchmark must not overlap this one either
        try:
            record = {"pid": os.getpid(), "host": socket.gethostname(), "since_utc": utc_now("seconds"),
                      "since_epoch": time.time(), **(note or {})}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode()[:NOTE_MAX], 0)
            _HELD.update(record)
            yield
        finally:
            if legacy is not None:
                os.close(legacy)  # releases its lockf
            _HELD.clear()
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.lockf(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
