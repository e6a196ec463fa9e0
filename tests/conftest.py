"""Fixtures the tests share: scratch space the rootless-Podman user can reach, the images the
project builds itself (helpers.py says how), the VM mode's cache."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers import ensure_test_image, payload_image_record, run_payload


@pytest.fixture(scope="session")
def shared_dir():
    """A world-traversable scratch dir: rootless podman (as user execbench) must reach the
    run dirs it bind-mounts, which pytest's 0700 tmp_path does not allow."""
    path = Path(tempfile.mkdtemp(prefix="execbench-modes-", dir=os.environ.get("TMPDIR", "/var/tmp")))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def modes_image(shared_dir):
    """Image record of the small real test image (the study's base + python3 + the launcher)."""
    return ensure_test_image(shared_dir / "image-record")


@pytest.fixture(scope="session")
def payload_image():
    """Image record of the real payload image of config/config.yaml."""
    return payload_image_record()


@pytest.fixture(scope="session")
def smoke_run(payload_image, tmp_path_factory):
    """smoke_run(mode, payload) -> (run dir, copies' results, payload): that payload run once per
    session through `mode` with the default config's settings (helpers.run_payload), for every
    test that asserts on that same run (tests/payloads/test_payloads_run.py and the native runs
    of test_isa_masking.py): a CPU suite or HEP chain run takes tens of seconds on 2 cores.
    A test that changes the run (its argv, settings or inputs) runs its own."""
    done = {}

    def run(mode: str, payload_name: str):
        if (mode, payload_name) not in done:
            out = tmp_path_factory.mktemp(f"smoke-{payload_name}-{mode}") / "run"
            done[mode, payload_name] = (out, *run_payload(payload_image, mode, payload_name, out))
        return done[mode, payload_name]

    return run


@pytest.fixture(scope="session")
def vm_cache(shared_dir):
    """One VM cache for the session: the kernel is downloaded, the initramfs built and the
    readiness verdict taken once."""
    path = shared_dir / "vm-cache"
    path.mkdir(exist_ok=True)
    return path
