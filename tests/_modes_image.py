"""A small real test image for the mode tests: the study's base + python3 + the launcher.

Built by the images stage's own code (`images.build_and_push`), like the payload
image: its base is the debootstrap root filesystem of config/config.yaml (built
once and cached by the hash of its settings, then `docker import`ed), the image is
tagged by the hash of its inputs (tests/images/modes/ + src/execbench/inimage),
pushed to the registry and described by an image record (CONTRACTS.md), so the
tests exercise the same by-digest path as the workflow and use no image the
project does not build itself.

Where the tests build and push (CI points both at its own empty ones, .ci/run):
    EXECBENCH_REGISTRY     registry host:port, as for scripts/setup.sh (default 127.0.0.1:5000)
    EXECBENCH_TEST_CACHE   cache of base rootfs tarballs, wheels and exported root
                           filesystems (default .execbench/cache, the default study's)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from execbench import images
from execbench.paths import REPO_ROOT

REGISTRY = os.environ.get("EXECBENCH_REGISTRY", "127.0.0.1:5000")
CACHE = Path(os.environ.get("EXECBENCH_TEST_CACHE", REPO_ROOT / ".execbench" / "cache"))
DEFINITION = Path(__file__).parent / "images" / "modes"


def study_base() -> dict:
    """The base of the default study's image (config/config.yaml), normalised."""
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    return images.normalise_base(config["images"][config["image"]]["base"])


def rootfs_mounts(image_record: dict) -> list[str]:
    """Mount points below the bare mode's export of this image (none once a run is cleaned up)."""
    from execbench.modes.bare import _mount_points, digest_hex

    root = CACHE.resolve() / "rootfs" / digest_hex(image_record["reference"])
    return [p for p in _mount_points() if p.startswith(f"{root}/")]


def ensure_test_image(results_dir: Path, name: str = "modes-test") -> dict:
    """Build (or find cached) and push the test image; write results_dir/images/<name>.json; return it."""
    spec = images.ImageSpec(name=name, base=study_base(), definition=DEFINITION)
    record = images.build_and_push(spec, REGISTRY, CACHE)
    images.write_record(record, results_dir / "images" / f"{name}.json")
    return record


# --- fixtures shared by the mode/runner tests (imported into each test module) ---------


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
    """Image record of the small real test image (built/pushed once, by digest)."""
    return ensure_test_image(shared_dir / "image-record")


def make_config(results: Path, image_record: dict, modes: dict | None = None, payloads: dict | None = None,
                cache: Path | None = None) -> dict:
    """A validated-shape config for the runner, with the test image record in place."""
    records = results / "images"
    records.mkdir(parents=True, exist_ok=True)
    (records / f"{image_record['name']}.json").write_text(json.dumps(image_record))
    return {
        "study": {"name": "test", "repetitions": 2, "copies": [1], "seed": 7},
        "results": str(results),
        "cache": str(cache or CACHE),
        "registry": {"address": REGISTRY, "storage": "unused", "allow_non_loopback": False},
        "image": image_record["name"],
        "images": {image_record["name"]: {"base": study_base(), "definition": str(DEFINITION)}},
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
