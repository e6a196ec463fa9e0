"""The real payload image and one payload run through a mode, for the payload tests."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from execbench import modes, payloads
from execbench.modes.base import RunSpec
from execbench.paths import REPO_ROOT

# Where the tests build and push (as in tests/_modes_image.py; CI sets its own empty ones).
CACHE = Path(os.environ.get("EXECBENCH_TEST_CACHE", REPO_ROOT / ".execbench" / "cache"))
REGISTRY = os.environ.get("EXECBENCH_REGISTRY", "127.0.0.1:5000")
MODE_SETTINGS = {"bare": {"kind": "bare", "variant": "image-rootfs"},
                 "docker": {"kind": "docker", "network": "none", "cpuset": "none", "copies_per_container": "all"}}


@pytest.fixture(scope="session")
def payload_image():
    """The real payload image of config/config.yaml (images stage code; cached by inputs hash,
    so after the first build on a machine this is a registry push of an existing tag)."""
    import yaml

    from execbench import images

    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    spec = images.ImageSpec.from_config("debian12", config["images"]["debian12"])
    return images.build_and_push(spec, REGISTRY, CACHE)


def run_payload(image: dict, mode: str, payload_name: str, out_dir: Path, copies: int = 1,
                argv: list[list[str]] | None = None, settings: dict | None = None):
    payload = payloads.get(payload_name)
    settings = settings or {"size": "smoke"}
    spec = RunSpec(run_id=f"test-{payload_name}-{mode}-{uuid.uuid4().hex[:6]}", image_ref=image["reference"],
                   mode=mode, mode_settings=MODE_SETTINGS[mode], payload=payload_name, copies=copies,
                   repetition=1, copy_argv=argv or payload.copy_argv(copies, settings),
                   timeout_s=payload.timeout_s(settings), needs_network=payload.needs_network,
                   cache_dir=str(CACHE))
    mode_impl = modes.get(MODE_SETTINGS[mode]["kind"])
    available = mode_impl.available(MODE_SETTINGS[mode])
    if not available.ok:
        pytest.skip(f"mode {mode} unavailable here: {available.reason}")
    results = mode_impl.run(spec, out_dir)
    (out_dir / "run.json").write_text(json.dumps({"copies": copies}))
    return results, payload
