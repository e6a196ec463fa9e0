"""Images: base -> docker build -> push to the local registry -> digest record.

The pipeline for one image (config `images.<name>`):

1. **base**: either a Debian root filesystem built here with debootstrap
   (cached as `<cache>/bases/<key>.tar`, `key` = hash of the base settings,
   then `docker import`ed), or a registry reference that is pulled (for sites
   that can pull e.g. an SL6/EL9 base).
2. **context**: the definition directory + `src/execbench/inimage/` as
   `inimage/` + `wheels/` (PyPI wheels for CPython 3.11 manylinux downloaded on
   the host from the definition's `requirements.txt`: a container build does
   not trust the host's TLS-intercepting proxy, the host does).
3. **build** with the Docker SDK (legacy builder, API 1.41), tagged
   `<registry>/execbench/<name>:<inputs-hash-12>`; **push**; read the digest.
4. **record** `results/images/<name>.json` (keys: images.RECORD_KEYS): every later stage
   refers to the image by `reference` = repo@digest only.

The inputs hash covers the base settings and every file of the build context
except the wheels, which are a function of the (pinned) requirements.txt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .errors import ConfigError, ExecbenchError
from .fsutil import atomic_write_json
from .paths import INIMAGE, REPO_ROOT

log = logging.getLogger(__name__)

DOCKER_API_VERSION = "1.41"  # Debian 12's engine 20.10; legacy builder
DOCKER_TIMEOUT_S = 3600  # a quiet build step (compiling) must not look like a dead engine
DEBOOTSTRAP_DEFAULTS = {"suite": "bookworm", "variant": "minbase", "mirror": "http://deb.debian.org/debian"}
# Suites without -updates / -security pockets.
ROLLING_SUITES = {"sid", "unstable", "experimental"}
# Files in a definition or inimage dir that are build by-products, not inputs.
IGNORED_NAMES = {"__pycache__", ".pytest_cache"}
IGNORED_SUFFIXES = {".pyc", ".pyo"}
# What `pip download` may fetch for the image's Python (Debian 12: CPython
# 3.11, glibc 2.36): pip does not widen manylinux_2_X tags by itself.
WHEEL_PYTHON = "3.11"
WHEEL_ABI = "cp311"
WHEEL_PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]


@dataclass(frozen=True)
class ImageSpec:
    """One image as the config describes it."""

    name: str
    base: dict  # normalised: {"debootstrap": {suite, variant, mirror}} or {"reference": str}
    definition: Path
    description: str = ""
    inimage: Path = field(default=INIMAGE)

    @classmethod
    def from_config(cls, name: str, section: dict, repo_root: Path = REPO_ROOT) -> "ImageSpec":
        definition = Path(section["definition"])
        if not definition.is_absolute():
            definition = repo_root / definition
        if not (definition / "Dockerfile").is_file():
            raise ConfigError(f"images.{name}.definition", "a directory holding a Dockerfile", str(definition))
        return cls(
            name=name,
            base=normalise_base(section["base"], key=f"images.{name}.base"),
            definition=definition,
            description=section.get("description", ""),
        )


def normalise_base(base: dict, key: str = "base") -> dict:
    """The base settings with defaults filled in, so equal bases hash equally."""
    if set(base) == {"reference"} and isinstance(base["reference"], str) and base["reference"]:
        return {"reference": base["reference"]}
    if set(base) == {"debootstrap"} and isinstance(base["debootstrap"], dict):
        unknown = set(base["debootstrap"]) - set(DEBOOTSTRAP_DEFAULTS)
        if unknown:
            raise ConfigError(f"{key}.debootstrap", f"only keys {sorted(DEBOOTSTRAP_DEFAULTS)}", sorted(unknown))
        return {"debootstrap": {**DEBOOTSTRAP_DEFAULTS, **base["debootstrap"]}}
    raise ConfigError(key, "exactly one of {debootstrap: {...}} or {reference: <registry reference>}", base)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def base_key(base: dict) -> str:
    """Cache key of a base: 16 hex digits of the hash of its normalised settings."""
    return hashlib.sha256(canonical_json(normalise_base(base)).encode()).hexdigest()[:16]


# --- inputs -------------------------------------------------------------------------


def _tree_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_NAMES)
        for name in sorted(filenames):
            if Path(name).suffix not in IGNORED_SUFFIXES:
                files.append(Path(dirpath) / name)
    return files


def context_files(spec: ImageSpec) -> dict[str, Path]:
    """Build-context path -> source file, for every input file of the context."""
    files = {str(p.relative_to(spec.definition)): p for p in _tree_files(spec.definition)}
    for p in _tree_files(spec.inimage):
        files[f"inimage/{p.relative_to(spec.inimage)}"] = p
    return dict(sorted(files.items()))


def inputs_sha256(spec: ImageSpec) -> str:
    """Hash of everything the image is made from: base settings + context files.

    Each file contributes its context path, executable bit and content hash,
    so a rename, a chmod +x of a build script or an edit all change it."""
    digest = hashlib.sha256()
    digest.update(b"base\0" + canonical_json(spec.base).encode() + b"\0")
    for context_path, source in context_files(spec).items():
        executable = b"x" if os.access(source, os.X_OK) else b"-"
        digest.update(context_path.encode() + b"\0" + executable + b"\0")
        digest.update(hashlib.sha256(source.read_bytes()).hexdigest().encode() + b"\0")
    return digest.hexdigest()


def repository(spec: ImageSpec, registry: str) -> str:
    return f"{registry}/execbench/{spec.name}"


def image_tag(spec: ImageSpec, registry: str, inputs_hash: str | None = None) -> str:
    return f"{repository(spec, registry)}:{(inputs_hash or inputs_sha256(spec))[:12]}"


def requirements(definition: Path) -> list[str]:
    """Requirement lines of the definition's requirements.txt (comments dropped)."""
    path = definition / "requirements.txt"
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


# --- helpers ------------------------------------------------------------------------


def _run(argv: list[str], what: str) -> None:
    """Run a command, its output into the log; fail with the last lines."""
    log.info("$ %s", shlex.join(argv))
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout.splitlines():
        log.debug("  %s", line)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        raise ExecbenchError(f"{what} failed (exit {proc.returncode}): {shlex.join(argv)}\n{tail}")


def docker_client():
    import docker  # imported late: unit tests of hashing need no engine

    return docker.from_env(version=DOCKER_API_VERSION, timeout=DOCKER_TIMEOUT_S)


# --- 1. base --------------------------------------------------------------------------


def security_mirror(mirror: str) -> str:
    """Debian's layout: <host>/debian -> <host>/debian-security."""
    return mirror.rstrip("/") + "-security"


def debootstrap_tarball(settings: dict, cache: Path) -> Path:
    """The base rootfs as a tar, built once per settings (debootstrap needs root)."""
    tarball = cache / "bases" / f"{base_key({'debootstrap': settings})}.tar"
    if tarball.is_file():
        log.info("base rootfs cached: %s", tarball)
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{tarball.stem}.", dir=tarball.parent))
    try:
        rootfs = workdir / "rootfs"
        suite, mirror = settings["suite"], settings["mirror"]
        _run(["debootstrap", f"--variant={settings['variant']}", suite, str(rootfs), mirror], "debootstrap")
        if suite not in ROLLING_SUITES:
            # Same package versions as an up-to-date host: point releases and security fixes.
            with open(rootfs / "etc/apt/sources.list", "a") as sources:
                sources.write(f"deb {mirror} {suite}-updates main\n")
                sources.write(f"deb {security_mirror(mirror)} {suite}-security main\n")
        for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftovers).glob("*"):
                if path.is_file():
                    path.unlink()
        partial = workdir / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], "tar of the base rootfs")
        os.replace(partial, tarball)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log.info("base rootfs built: %s (%d bytes)", tarball, tarball.stat().st_size)
    return tarball


def ensure_base(base: dict, cache: Path, client) -> str:
    """A local image reference to build FROM."""
    import docker.errors

    base = normalise_base(base)
    if "reference" in base:
        reference = base["reference"]
        if "@sha256:" in reference:  # immutable: a local copy is as good as a pull
            try:
                client.images.get(reference)
                return reference
            except docker.errors.ImageNotFound:
                pass
        log.info("pulling base %s", reference)
        client.images.pull(reference)
        return reference

    settings = base["debootstrap"]
    local = f"execbench-base/{settings['suite']}-{settings['variant']}:{base_key(base)}"
    try:
        client.images.get(local)
        log.info("base image present: %s", local)
        return local
    except docker.errors.ImageNotFound:
        pass
    tarball = debootstrap_tarball(settings, cache)
    repo, tag = local.rsplit(":", 1)
    log.info("docker import %s -> %s", tarball, local)
    client.api.import_image_from_file(str(tarball), repository=repo, tag=tag, changes=['CMD ["/bin/bash"]'])
    return local


# --- 2. context -------------------------------------------------------------------------


def download_wheels(lines: list[str], cache: Path) -> Path:
    """Wheels for the image's Python, downloaded once per requirement set."""
    key = hashlib.sha256(canonical_json([lines, WHEEL_ABI, WHEEL_PLATFORMS]).encode()).hexdigest()[:16]
    target = cache / "wheels" / key
    if (target / ".complete").is_file():
        log.info("wheels cached: %s", target)
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    requirements_file = target / "requirements.txt"
    requirements_file.write_text("\n".join(lines) + "\n")
    platforms = [arg for p in WHEEL_PLATFORMS for arg in ("--platform", p)]
    _run(
        [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--implementation", "cp",
         "--python-version", WHEEL_PYTHON, "--abi", WHEEL_ABI, *platforms,
         "--dest", str(target), "-r", str(requirements_file)],
        "pip download of the image's wheels",
    )  # fmt: skip
    (target / ".complete").touch()
    return target


def stage_context(spec: ImageSpec, dest: Path, cache: Path) -> Path:
    """Lay out the build context in `dest` (created, must not exist)."""
    dest.mkdir(parents=True)
    for context_path, source in context_files(spec).items():
        target = dest / context_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # The Dockerfile COPYs these; they exist even when empty.
    (dest / "build").mkdir(exist_ok=True)
    wheels = dest / "wheels"
    wheels.mkdir()
    lines = requirements(spec.definition)
    if lines:
        for wheel in download_wheels(lines, cache).glob("*.whl"):
            try:  # same filesystem as the cache: no need to copy ~50 MB per build
                os.link(wheel, wheels / wheel.name)
            except OSError:
                shutil.copy2(wheel, wheels / wheel.name)
    return dest


# --- 3. build, push ---------------------------------------------------------------------


def _follow(stream, what: str) -> list[dict]:
    """Log a decoded docker progress stream; raise on its error message."""
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if "error" in chunk:
            tail = "".join(c.get("stream", "") for c in chunks[-20:])
            raise ExecbenchError(f"{what} failed: {chunk['error'].strip()}\n{tail}")
        if chunk.get("progressDetail"):  # byte counters of a layer upload: noise in a log
            continue
        text = chunk.get("stream") or chunk.get("status")
        if text and text.strip():
            log.debug("  %s", text.rstrip())
    return chunks


def parse_os_release(text: str) -> dict:
    """/etc/os-release (shell-style KEY=value lines) -> dict."""
    fields = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        try:
            fields[key] = " ".join(shlex.split(value))
        except ValueError:  # unbalanced quote: keep the text as written
            fields[key] = value.strip("\"'")
    return fields


def read_os_release(client, reference: str) -> dict:
    output = client.containers.run(
        reference, ["cat", "/etc/os-release"], entrypoint=[], network_mode="none", remove=True
    )
    return parse_os_release(output.decode())


def build_and_push(spec: ImageSpec, registry: str, cache: Path, client=None) -> dict:
    """Build the image, push it, and return its record (RECORD_KEYS, written by write_record)."""
    import docker.errors

    client = client or docker_client()
    cache = Path(cache)
    inputs_hash = inputs_sha256(spec)
    tag = image_tag(spec, registry, inputs_hash)
    timings = {}

    started = time.monotonic()
    base_image = ensure_base(spec.base, cache, client)
    timings["base_s"] = time.monotonic() - started

    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".context-{spec.name}-", dir=cache) as tmp:
        started = time.monotonic()
        context = stage_context(spec, Path(tmp) / "context", cache)
        timings["stage_s"] = time.monotonic() - started

        try:  # same inputs built before: the layer cache may rebuild nothing
            previous_id = client.images.get(tag).id
        except docker.errors.ImageNotFound:
            previous_id = None
        log.info("docker build %s FROM %s", tag, base_image)
        started = time.monotonic()
        _follow(
            client.api.build(
                path=str(context),
                tag=tag,
                buildargs={"BASE_IMAGE": base_image},
                labels={"io.execbench.image": spec.name, "io.execbench.inputs-sha256": inputs_hash},
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
            ),
            f"docker build of image {spec.name}",
        )
        timings["build_s"] = time.monotonic() - started

    log.info("docker push %s", tag)
    started = time.monotonic()
    repo, tag_name = tag.rsplit(":", 1)
    pushed = _follow(client.api.push(repo, tag=tag_name, stream=True, decode=True), f"docker push of {tag}")
    timings["push_s"] = time.monotonic() - started

    image = client.images.get(tag)
    # build_seconds of an all-cached rebuild is not a build duration: say so.
    build_cached = image.id == previous_id
    digest = next((d.split("@", 1)[1] for d in image.attrs.get("RepoDigests", []) if d.startswith(repo + "@")), None)
    digest = digest or next((c["aux"]["Digest"] for c in pushed if "Digest" in c.get("aux", {})), None)
    if not digest:
        raise ExecbenchError(f"docker push of {tag}: the registry returned no digest")
    reference = f"{repo}@{digest}"
    return {
        "name": spec.name,
        "reference": reference,
        "digest": digest,
        "tag": tag,
        "os_release": read_os_release(client, reference),
        "size_bytes": int(image.attrs["Size"]),
        "build_seconds": round(timings["build_s"], 3),
        "build_cached": build_cached,
        "inputs_sha256": inputs_hash,
        "base": {**spec.base, "image": base_image},
        "built_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "description": spec.description,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


# --- 4. record ----------------------------------------------------------------------------

RECORD_KEYS = ("name", "reference", "digest", "tag", "os_release", "size_bytes", "build_seconds",
               "inputs_sha256", "base", "built_utc")  # fmt: skip


def write_record(record: dict, path: Path) -> None:
    """Write the image record atomically, after checking the contract's keys."""
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise ExecbenchError(f"image record for {path}: missing keys {missing}")
    if record["reference"] != f"{record['tag'].rsplit(':', 1)[0]}@{record['digest']}":
        raise ExecbenchError(f"image record for {path}: reference {record['reference']!r} is not repo@digest")
    atomic_write_json(path, record, indent=2, sort_keys=True)


def read_record(path: Path) -> dict:
    return json.loads(Path(path).read_text())


# --- what the Snakemake rule needs ---------------------------------------------------------


def rule_input_files(config: dict, name: str) -> list[str]:
    """The image rule's inputs: every context file (definition dir + inimage).

    An edited, added or removed file reruns the build; the wheels follow from
    requirements.txt, which is one of these files."""
    spec = ImageSpec.from_config(name, config["images"][name])
    return [str(path) for path in context_files(spec).values()]


def rule_base_param(config: dict, name: str) -> str:
    """The normalised base settings as JSON: a params change reruns the build."""
    return canonical_json(normalise_base(config["images"][name]["base"], key=f"images.{name}.base"))
