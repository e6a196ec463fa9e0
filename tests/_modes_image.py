"""A small real test image for the mode tests: the dev base + python3 + the launcher.

Built once (cached by the hash of its inputs), pushed to the local registry and
described by an image record like the images stage writes (CONTRACTS.md), so
the tests exercise the same by-digest path as the workflow.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest

from execbench.paths import INIMAGE

BASE = os.environ.get("EXECBENCH_TEST_BASE", "execbench-dev/bookworm-minbase:dev")
REGISTRY = os.environ.get("EXECBENCH_TEST_REGISTRY", "127.0.0.1:5000")
REPO = f"{REGISTRY}/execbench-test/modes"

DOCKERFILE = f"""\
FROM {BASE}
RUN apt-get update && apt-get install -y --no-install-recommends python3 \\
 && rm -rf /var/lib/apt/lists/* \\
 && groupadd -g 10001 execbench && useradd -u 10001 -g 10001 -m execbench
COPY execbench_launch.py /opt/execbench/execbench_launch.py
ENV LANG=C.UTF-8
"""


def _context() -> tuple[bytes, str]:
    launcher = (INIMAGE / "execbench_launch.py").read_bytes()
    digest = hashlib.sha256(DOCKERFILE.encode() + b"\0" + launcher).hexdigest()[:12]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", DOCKERFILE.encode()), ("execbench_launch.py", launcher)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), digest


def ensure_test_image(results_dir: Path, name: str = "modes-test") -> dict:
    """Build/push the test image if needed; write results_dir/images/<name>.json; return it."""
    import docker

    client = docker.from_env()
    context, inputs = _context()
    tag = f"{REPO}:{inputs}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True)
    for line in client.images.push(REPO, tag=inputs, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"push {tag}: {line['error']}")
    image = client.images.get(tag)
    digest = image.attrs["RepoDigests"][0].split("@", 1)[1]
    record = {
        "name": name,
        "reference": f"{REPO}@{digest}",
        "digest": digest,
        "tag": tag,
        "os_release": {"ID": "debian", "VERSION_ID": "12"},
        "size_bytes": image.attrs["Size"],
        "build_seconds": 0.0,
        "inputs_sha256": inputs,
        "base": {"reference": BASE},
        "built_utc": image.attrs["Created"],
    }
    images = results_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    (images / f"{name}.json").write_text(json.dumps(record, indent=1))
    return record


# --- fixtures shared by the mode/runner tests (imported into each test module) ---------


@pytest.fixture(scope="session")
def shared_dir():
    """A world-traversable scratch dir: rootless podman (as user execbench) must reach the
    run dirs it bind-mounts, which pytest's 0700 tmp_path does not allow."""
    path = Path(tempfile.mkdtemp(prefix="execbench-modes-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def modes_image(shared_dir):
    """Image record of the small real test image (built/pushed once, by digest)."""
    return ensure_test_image(shared_dir / "image-record")


def make_config(results: Path, image_record: dict, modes: dict | None = None, payloads: dict | None = None,
                cache: Path | None = None) -> dict:
    """A validated-shape config for the runner, with the test image record in place."""
    images = results / "images"
    images.mkdir(parents=True, exist_ok=True)
    (images / f"{image_record['name']}.json").write_text(json.dumps(image_record))
    return {
        "study": {"name": "test", "repetitions": 2, "copies": [1], "seed": 7},
        "results": str(results),
        "cache": str(cache or results.parent / "cache"),
        "registry": {"address": REGISTRY, "storage": "unused", "allow_non_loopback": False},
        "image": image_record["name"],
        "images": {image_record["name"]: {"base": {"reference": BASE}, "definition": "envs/images/debian12"}},
        "modes": modes or {"bare": {"kind": "bare", "variant": "image-rootfs", "cpuset": "none", "enabled": True},
                           "docker": {"kind": "docker", "network": "none", "cpuset": "none",
                                      "copies_per_container": "all", "enabled": True}},
        "payloads": payloads or {"startup": {"samples": 2, "enabled": True, "size": "smoke"}},
        "from_raw": False,
        "ingest": {"manifest": None},
    }


class ArgvPayload:
    """A test payload: one fixed argv per copy, no parsing. Runs through the same launcher."""

    name = "argv"
    needs_network = False

    def __init__(self, argv: list[str], timeout_s: float = 60.0):
        self.argv, self._timeout = argv, timeout_s

    def copy_argv(self, copies: int, settings: dict) -> list[list[str]]:
        return [list(self.argv) for _ in range(copies)]

    def timeout_s(self, settings: dict) -> float:
        return self._timeout

    def parse(self, run_dir):
        return []
