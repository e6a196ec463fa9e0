"""Small file-system and clock helpers every stage shares (one of each, so they cannot drift)."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from pathlib import Path


def utc_now(timespec: str = "microseconds") -> str:
    """The current time as ISO 8601 UTC with offset, e.g. 2026-11-30T11:24:00.123456+00:00."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec=timespec)


def utc_stamp() -> str:
    """A compact UTC stamp for file names, e.g. 20261130T112400.123456Z."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def sha256_file(path: str | Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in blocks (raises OSError if unreadable)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_text(path: str | Path, text: str, *, mode: int | None = None) -> Path:
    """Write `text` to `path` so a reader sees the old file or the whole new one, never a part:
    a temporary file in the same directory (created if missing), flushed, then renamed over.
    `mode`: the file's permission bits (default: 0666 minus the umask). On any error (a full
    disk: ENOSPC) the temporary file is removed and the old file, if any, stays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def atomic_write_json(path: str | Path, data, *, indent: int = 1, sort_keys: bool = False,
                      mode: int | None = None) -> Path:
    """atomic_write_text of `data` as JSON with a final newline."""
    return atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n", mode=mode)


@contextlib.contextmanager
def file_lock(path: str | Path):
    """An exclusive fcntl lock on `path` (created if missing) for the with-block; the kernel
    drops it if the process dies. For locks between execbench's own processes on one host."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def try_file_lock(path: str | Path):
    """file_lock without waiting: yields True holding the lock, or False when another process
    holds it (then nothing is held)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN)
