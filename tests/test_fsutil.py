"""The shared file-system and clock helpers."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time

from execbench import fsutil


def test_atomic_write_leaves_no_temporary_file_and_replaces_whole(tmp_path):
    target = tmp_path / "deep" / "run.json"
    fsutil.atomic_write_json(target, {"a": 1})
    fsutil.atomic_write_json(target, {"b": [1, 2]}, sort_keys=True)
    assert json.loads(target.read_text()) == {"b": [1, 2]} and target.read_text().endswith("\n")
    assert os.listdir(target.parent) == ["run.json"]


def test_sha256_file_matches_hashlib(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read block
    (tmp_path / "blob").write_bytes(data)
    assert fsutil.sha256_file(tmp_path / "blob") == hashlib.sha256(data).hexdigest()


def _hold(path, seconds):
    with fsutil.file_lock(path):
        time.sleep(seconds)


def test_file_lock_excludes_another_process(tmp_path):
    lock = tmp_path / "x.lock"
    holder = multiprocessing.Process(target=_hold, args=(lock, 1.0))
    holder.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    with fsutil.file_lock(lock):
        waited = time.monotonic() - t0
    holder.join()
    assert waited > 0.3  # it had to wait for the holder to let go


def test_utc_stamps():
    assert fsutil.utc_now().endswith("+00:00")
    stamp = fsutil.utc_stamp()
    assert stamp.endswith("Z") and "T" in stamp and "/" not in stamp
