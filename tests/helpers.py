"""Helpers the tests share (fixtures are in conftest.py).

The mode tests' small real image and the payload image are built by the images stage's own code
(`images.build_and_push`): their base is the debootstrap root filesystem of config/config.yaml
(built once and cached by the hash of its settings, then `docker import`ed), each image is tagged
by the hash of its inputs, pushed to the registry and described by an image record, so the tests
exercise the same by-digest path as the workflow and use no image the project does not build.

Where the tests build and push (CI points both at its own empty ones, .ci/run):
    EXECBENCH_REGISTRY     registry host:port, as for scripts/setup.sh (default 127.0.0.1:5000)
    EXECBENCH_TEST_CACHE   cache of base rootfs tarballs, wheels and exported root
                           filesystems (default .execbench/cache, the default study's)
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import yaml

from execbench import images, modes, payloads
from execbench.config import load_config, mode_settings
from execbench.modes.base import ModeContext, RunContext
from execbench.modes.podman import PodmanMode
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


def payload_image_record() -> dict:
    """The real payload image of config/config.yaml (images stage code; cached by inputs hash,
    so after the first build on a machine this is a registry push of an existing tag)."""
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    spec = images.ImageSpec.from_config(config["image"], config["images"][config["image"]])
    return images.build_and_push(spec, REGISTRY, CACHE)


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
    return ModeContext(name=kind, kind=kind, settings=mode_settings(kind, settings), cache_dir=cache or CACHE)


def run_context(image: dict, kind: str, argv: list[str], out_dir: Path, copies: int = 1,
                settings: dict | None = None, timeout_s: float = 60.0, cache: Path | None = None) -> RunContext:
    """One run of `argv` in mode `kind` (settings validated like the config's) with the test image."""
    return RunContext(mode=mode_context(kind, settings, cache), run_id=f"test-{kind}-{copies}c-{os.getpid()}",
                      image_ref=image["reference"] or "", payload="probe", copies=copies, repetition=1,
                      argv=argv, timeout_s=timeout_s, out_dir=out_dir)


DEFAULT_CONFIG = load_config(REPO_ROOT / "config" / "config.yaml")


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


class ArgvPayload(Payload):
    """A test payload: one fixed argv per copy, no parsing. Runs through the same launcher."""

    name = "argv"
    sizes = ()

    def __init__(self, argv: list[str], timeout_s: float = 60.0):
        self.fixed_argv, self._timeout = list(argv), timeout_s

    def argv(self, settings, unit: str = "") -> list[str]:
        return list(self.fixed_argv)

    def timeout_s(self, settings) -> float:
        return self._timeout

    def parse(self, run_dir):
        return []


# What a payload sees of its environment, printed as JSON by the image's own python3.
PROBE = r"""
import errno, json, os
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
mounts = [line.split() for line in open("/proc/self/mounts")]
try:
    open("/usr/execbench-probe", "w"); root_write = "ok"
except OSError as err:
    root_write = errno.errorcode[err.errno]
writable = []
for d in ("/tmp", "/var/tmp", "/run", "/home/execbench", "/dev/shm", "/opt/execbench"):
    try:
        open(f"{d}/probe-{os.getpid()}", "w").close()
        writable.append(d)
    except OSError:
        pass
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "cap_eff": status["CapEff"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(), "root_write": root_write,
    "root_opts": [m[3] for m in mounts if m[1] == "/"],
    "net": sorted(os.listdir("/sys/class/net")), "cwd": os.getcwd(),
    "run_mounted": any(m[1] == "/execbench/run" for m in mounts),
    "cpus": sorted(os.sched_getaffinity(0)), "writable": writable,
    "ns": {n: os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "mnt", "net", "user")},
    "max_processes": [l.split()[2] for l in open("/proc/self/limits") if l.startswith("Max processes")][0],
    "pids_max": next((open(p).read().strip() for p in ("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max")
                      if os.path.exists(p)), None),
    "memory_max": next((open(p).read().strip() for p in ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                                           "/sys/fs/cgroup/memory.max") if os.path.exists(p)), None),
}))
"""

PROBE_ARGV = ["python3", "-c", PROBE]


def probe(out_dir: Path, copy: int = 0) -> dict:
    return json.loads((out_dir / f"copy{copy}" / "stdout.log").read_text())

def assert_hardened(seen: dict) -> None:
    assert seen["uid"] == 10001 and seen["gid"] == 10001
    assert int(seen["cap_eff"], 16) == 0
    assert seen["no_new_privs"] == "1"
    assert seen["root_write"] == "EROFS" and "ro" in seen["root_opts"][-1].split(",")
    assert seen["net"] == ["lo"]
    assert seen["cwd"] == "/execbench/run/copy0" and seen["run_mounted"]
    assert seen["writable"] == ["/tmp", "/dev/shm"]  # scratch only, the same in every mode


def podman_or_skip() -> PodmanMode:
    mode = PodmanMode()
    availability = mode.available(mode_context("podman"))
    if not availability.ok:
        # not faked: the reason is what a run.json would carry
        assert availability.reason
        pytest.skip(f"rootless podman unavailable here: {availability.reason}")
    return mode


def world_writable(root: Path) -> list[str]:
    """Entries below `root` that any local user could write (issue 13: none that execbench makes
    as root): world-writable files, and world-writable directories without the sticky bit."""
    import stat as stat_module

    found = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if stat_module.S_ISLNK(st.st_mode) or not st.st_mode & 0o002:
            continue
        if stat_module.S_ISDIR(st.st_mode) and st.st_mode & stat_module.S_ISVTX:
            continue
        found.append(str(path.relative_to(root)))
    return found
