"""A small real test image for the mode tests: the study's base + python3 + the launcher.

Built by the images stage's own code (`images.build_and_push`), like the payload
image: its base is the debootstrap root filesystem of config/config.yaml (built
once and cached by the hash of its settings, then `docker import`ed), the image is
tagged by the hash of its inputs (tests/images/modes/ + src/execbench/inimage),
pushed to the registry and described by an image record (images.write_record), so the
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
from execbench.modes.base import ModeContext, RunContext
from execbench.paths import REPO_ROOT
from execbench.payloads.base import Payload

REGISTRY = os.environ.get("EXECBENCH_REGISTRY", "127.0.0.1:5000")
CACHE = Path(os.environ.get("EXECBENCH_TEST_CACHE", REPO_ROOT / ".execbench" / "cache"))
DEFINITION = Path(__file__).parent / "images" / "modes"


def study_base() -> dict:
    """The base of the default study's image (config/config.yaml), normalised."""
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    return images.normalise_base(config["images"][config["image"]]["base"])


def rootfs_mounts(image_record: dict) -> list[str]:
    """Mount points below the bare mode's export of this image (none once a run is cleaned up)."""
    from execbench.rootfs import _mount_points, digest_hex

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
    """A config validated like the workflow's (defaults filled in), with the test image record in
    place. Payloads that are not registered (a test's own, run with run_cell(payload=...)) are
    added after validation with their settings as given."""
    from execbench.config import load_config
    from execbench.payloads import PAYLOADS

    records = results / "images"
    records.mkdir(parents=True, exist_ok=True)
    (records / f"{image_record['name']}.json").write_text(json.dumps(image_record))
    payloads = payloads or {"startup": {"samples": 2}}
    raw = {
        "study": {"name": "test", "repetitions": 2, "copies": [1], "seed": 7},
        "results": str(results),
        "cache": str(cache or CACHE),
        "registry": {"address": REGISTRY, "storage": "unused", "allow_non_loopback": False},
        "image": image_record["name"],
        "images": {image_record["name"]: {"base": study_base(), "definition": str(DEFINITION)}},
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

    return ModeContext(name=kind, kind=kind, settings=mode_settings(kind, settings), cache_dir=cache or CACHE)


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
