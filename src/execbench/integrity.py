"""Raw logs sealed at the end of every run, and checked before they are parsed (issue 13, R3).

The payload writes its native logs as an unprivileged user (uid 10001 in a container, bare
mode's own id, the rootless user's subordinate id, the VM's qemu user), so without a seal that
user, or anyone who later gets it, could rewrite a finished run's numbers unnoticed. At the end
of each run, after every payload process is gone, `seal_run_dir`:

- makes every file root's and read-only (0444) and every directory root's 0755 (as root; as
  another user it only removes write bits), opening each entry with O_NOFOLLOW|O_NONBLOCK, so a
  link or FIFO a payload left behind is never followed nor waited on;
- records the sha256 and size of every regular file (run.json's `sealed.files`, keyed by the
  path relative to the run dir), and names any entry that is not a regular file or directory
  (`sealed.not_regular`: a payload's symlink could otherwise make the root-run parser read, and
  an error echo, a file its owner could not read).

`check_run_dir` (called by the parse stage before any parser opens a file) compares the run dir
with that record, or with ingest's per-file sha256 for an ingested run, and returns one error
per problem: a changed, missing or added file is "tampered" and named, and so is any symlink,
FIFO or device anywhere in the run dir (also in runs sealed before this check existed). A run
with any problem gives no records: its files are not trusted, and not read.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from .fsutil import utc_now

RUN_JSON = "run.json"
UNSEALED = {RUN_JSON, "ingest.json"}  # written by the harness after the seal (they record it)
FILE_MODE, DIR_MODE = 0o444, 0o755


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    while chunk := os.read(fd, 1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def _entries(run_dir: Path):
    """(relative path, lstat) of everything below run_dir, links never followed, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(run_dir):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            out.append((os.path.relpath(path, run_dir), os.lstat(path)))
    return sorted(out)


def seal_run_dir(run_dir: str | Path) -> dict:
    """Seal a finished run dir (module docstring); returns run.json's `sealed` record:
    {"utc", "owner", "files": {rel: {"sha256", "bytes"}}, "not_regular": {rel: kind}}.
    Raises OSError when a file cannot be read or changed."""
    run_dir = Path(run_dir)
    as_root = os.geteuid() == 0
    files, not_regular = {}, {}
    for rel, st in _entries(run_dir):
        path = run_dir / rel
        if stat.S_ISDIR(st.st_mode):
            if as_root:
                os.lchown(path, 0, 0)
            os.chmod(path, DIR_MODE if as_root else stat.S_IMODE(st.st_mode) & ~0o222 | 0o700)
        elif stat.S_ISREG(st.st_mode):
            if rel in UNSEALED:
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                if as_root:
                    os.fchown(fd, 0, 0)
                os.fchmod(fd, FILE_MODE)
                files[rel] = {"sha256": _hash_fd(fd), "bytes": os.fstat(fd).st_size}
            finally:
                os.close(fd)
        else:
            if as_root:
                os.lchown(path, 0, 0)  # a link's own owner; its target is never touched
            not_regular[rel] = _kind(st.st_mode)
    if as_root:
        os.lchown(run_dir, 0, 0)
    os.chmod(run_dir, DIR_MODE)
    return {"utc": utc_now(), "owner": "root" if as_root else f"uid {os.geteuid()}", "files": files,
            "not_regular": not_regular}


def recorded_files(run: dict, run_dir: Path) -> dict[str, str] | None:
    """{relative path: sha256} the run's record vouches for, or None when it has no record
    (a run from before sealing): a measured run's `sealed.files`, an ingested run's copied files."""
    if isinstance(run.get("sealed"), dict):
        return {rel: entry.get("sha256") for rel, entry in run["sealed"].get("files", {}).items()}
    if run.get("ingested"):
        files = {}
        for item in (run.get("ingest") or {}).get("inputs") or []:
            for entry in item.get("files") or []:
                files[str(entry.get("path"))] = entry.get("sha256")
        return files
    return None


def _error(run_dir: Path, rel: str, expected: str) -> dict:
    return {"path": str(run_dir / rel), "line": None, "expected": expected, "tampered": True}


def check_run_dir(run_dir: str | Path, run: dict) -> list[dict]:
    """Problems of a run dir against its record, one error dict {path, line, expected,
    tampered: True} each (the parse stage's error shape); [] when it is intact."""
    run_dir = Path(run_dir)
    recorded = recorded_files(run, run_dir)
    problems, seen = [], set()
    when = run["sealed"].get("utc", "the end of the run") if isinstance(run.get("sealed"), dict) else "ingest"
    for rel, st in _entries(run_dir):
        if stat.S_ISDIR(st.st_mode):
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(_error(run_dir, rel, f"only regular files in a run directory (found a {_kind(st.st_mode)}"
                                                 ", not followed): the run's files are not read"))
            continue
        if rel in UNSEALED or recorded is None:
            continue
        seen.add(rel)
        if rel not in recorded:
            problems.append(_error(run_dir, rel, f"no file beyond those sealed at {when}: this one was added "
                                                 "later (tampered)"))
            continue
        problems += _check_file(run_dir, rel, recorded[rel], when)
    for rel in sorted(set(recorded or {}) - seen):
        if _in_sibling_run(run_dir, rel):  # a later run of a many-runs file names the first run's copy
            problems += _check_file(run_dir, rel, recorded[rel], when)
        else:
            problems.append(_error(run_dir, rel, f"the file sealed at {when}; it is gone (tampered)"))
    return problems


def _in_sibling_run(run_dir: Path, rel: str) -> bool:
    """True if `rel` (as ingest records the file of another run of the same many-runs input,
    e.g. ../r1/machine/loop.log) stays below the run's <payload>/<mode>/<copies>c directory."""
    normal = os.path.normpath(rel)
    return normal.startswith(".." + os.sep) and not normal.startswith(".." + os.sep + "..")


def _check_file(run_dir: Path, rel: str, sha256: str | None, when: str) -> list[dict]:
    """[] if the file `rel` (a regular file, never followed) has `sha256`, else one tampered error."""
    try:
        fd = os.open(run_dir / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return [_error(run_dir, rel, f"the file sealed at {when}; it is gone (tampered)")]
    except OSError as err:
        return [_error(run_dir, rel, f"a readable sealed file ({errno.errorcode.get(err.errno, err)})")]
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return [_error(run_dir, rel, "a regular file (found something else, not read)")]
        actual = _hash_fd(fd)
    finally:
        os.close(fd)
    if actual != sha256:
        return [_error(run_dir, rel, f"the content sealed at {when} (sha256 {sha256}); "
                                     f"it is now {actual}: the file changed after the run (tampered)")]
    return []
