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

from execbench.modes.base import ModeContext, RunContext
from execbench.paths import INIMAGE
from execbench.payloads.base import Payload

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
    """A config validated like the workflow's (defaults filled in), with the test image record in
    place. Payloads that are not registered (a test's own, run with run_cell(payload=...)) are
    added after validation with their settings as given."""
    from execbench.config import load_config
    from execbench.payloads import PAYLOADS

    images = results / "images"
    images.mkdir(parents=True, exist_ok=True)
    (images / f"{image_record['name']}.json").write_text(json.dumps(image_record))
    payloads = payloads or {"startup": {"samples": 2}}
    raw = {
        "study": {"name": "test", "repetitions": 2, "copies": [1], "seed": 7},
        "results": str(results),
        "cache": str(cache or results.parent / "cache"),
        "registry": {"address": REGISTRY, "storage": "unused", "allow_non_loopback": False},
        "image": image_record["name"],
        "images": {image_record["name"]: {"base": {"reference": BASE}, "definition": "envs/images/debian12"}},
        # bare: the baseline every config must have (the tests run whichever modes they name)
        "modes": {"bare": {"kind": "bare"}, **(modes or {"docker": {"kind": "docker"}})},
        "payloads": {k: v for k, v in payloads.items() if k in PAYLOADS} or {"startup": {"samples": 2}},
    }
    config = load_config(raw)
    config["payloads"].update({k: v for k, v in payloads.items() if k not in PAYLOADS})
    return config


def mode_context(kind: str, settings: dict | None = None, cache: Path | None = None) -> ModeContext:
    """A mode instance of `kind` with its settings validated as the config would (defaults filled)."""
    from execbench.config import mode_settings

    return ModeContext(name=kind, kind=kind, settings=mode_settings(kind, settings),
                       cache_dir=cache or Path("/var/tmp/execbench-test-cache"))


def run_context(image: dict, kind: str, argv: list[str], out_dir: Path, copies: int = 1,
                settings: dict | None = None, timeout_s: float = 60.0, cache: Path | None = None) -> RunContext:
    """One run of `argv` in mode `kind` (settings validated like the config's) with the test image."""
    return RunContext(mode=mode_context(kind, settings, cache), run_id=f"test-{kind}-{copies}c-{os.getpid()}",
                      image_ref=image["reference"] or "", payload="probe", copies=copies, repetition=1,
                      argv=argv, timeout_s=timeout_s, out_dir=out_dir)


class ArgvPayload(Payload):
    """A test payload: one fixed argv per copy, no parsing. Runs through the same launcher."""

    name = "argv"
    sizes = ()

    def __init__(self, argv: list[str], timeout_s: float = 60.0):
        self.fixed_argv, self._timeout = list(argv), timeout_s

    def argv(self, settings) -> list[str]:
        return list(self.fixed_argv)

    def timeout_s(self, settings) -> float:
        return self._timeout

    def parse(self, run_dir):
        return []
