"""The real payload image and one payload run through a mode, for the payload tests."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from execbench import modes, payloads
from execbench.config import load_config
from execbench.modes.base import ModeContext, RunContext
from execbench.paths import REPO_ROOT

# Where the tests build and push (as in tests/_modes_image.py; CI sets its own empty ones).
CACHE = Path(os.environ.get("EXECBENCH_TEST_CACHE", REPO_ROOT / ".execbench" / "cache"))
REGISTRY = os.environ.get("EXECBENCH_REGISTRY", "127.0.0.1:5000")
DEFAULT_CONFIG = load_config(REPO_ROOT / "config" / "config.yaml")


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
                argv: list[str] | None = None, settings: dict | None = None):
    """Run `payload_name` (or `argv` instead of its own command) through `mode` of the default
    config, with the payload's default-config settings updated by `settings`."""
    payload = payloads.get(payload_name)
    settings = {**DEFAULT_CONFIG["payloads"][payload_name], **(settings or {})}
    mode_settings = DEFAULT_CONFIG["modes"][mode]
    mode_ctx = ModeContext(name=mode, kind=mode_settings["kind"], settings=mode_settings, cache_dir=CACHE)
    mode_impl = modes.get(mode_settings["kind"])
    available = mode_impl.available(mode_ctx)
    if not available.ok:
        pytest.skip(f"mode {mode} unavailable here: {available.reason}")
    ctx = RunContext(mode=mode_ctx, run_id=f"test-{payload_name}-{mode}-{uuid.uuid4().hex[:6]}",
                     image_ref=image["reference"], payload=payload_name, copies=copies, repetition=1,
                     argv=argv or payload.argv(settings), timeout_s=payload.timeout_s(settings), out_dir=out_dir,
                     needs_network=payload.needs_network)
    outcome = mode_impl.run(ctx)
    (out_dir / "run.json").write_text(json.dumps({"copies": copies}))
    return outcome.copies, payload
