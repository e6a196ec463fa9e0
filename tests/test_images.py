"""Images stage: inputs hash, context staging, record writing, and a real
build -> push -> delete -> pull by digest -> run against the local registry."""

import json
import uuid
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from helpers import CACHE, REGISTRY  # the tests' registry and cache (EXECBENCH_REGISTRY, EXECBENCH_TEST_CACHE)
from execbench import images
from execbench.errors import ConfigError, ExecbenchError

DEFAULT_BASE = {"debootstrap": {"suite": "bookworm", "variant": "minbase", "mirror": "http://deb.debian.org/debian"}}

TINY_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN groupadd --gid 10001 execbench && useradd --uid 10001 --gid 10001 --create-home execbench
COPY greeting.txt /opt/greeting.txt
COPY inimage/ /opt/execbench/
USER execbench
"""


def make_definition(root: Path, dockerfile: str = TINY_DOCKERFILE) -> images.ImageSpec:
    definition, inimage = root / "definition", root / "inimage"
    definition.mkdir(parents=True)
    inimage.mkdir()
    (definition / "Dockerfile").write_text(dockerfile)
    (definition / "greeting.txt").write_text("hello from the execbench test image\n")
    (inimage / "whoami.sh").write_text('#!/bin/sh\necho "$(id -u) $(cat /opt/greeting.txt)"\n')
    name = f"test-{uuid.uuid4().hex[:8]}"
    return images.ImageSpec(name=name, base=images.normalise_base(DEFAULT_BASE), definition=definition, inimage=inimage)


# --- inputs hash ------------------------------------------------------------------


def test_inputs_hash_is_stable_when_nothing_changes(tmp_path):
    spec = make_definition(tmp_path)
    assert images.inputs_sha256(spec) == images.inputs_sha256(spec)


def test_inputs_hash_follows_every_context_file_and_comes_back_when_reverted(tmp_path):
    spec = make_definition(tmp_path)
    original = images.inputs_sha256(spec)
    greeting = spec.definition / "greeting.txt"
    script = spec.inimage / "whoami.sh"

    greeting.write_text("changed\n")
    changed_definition = images.inputs_sha256(spec)
    greeting.write_text("hello from the execbench test image\n")
    assert images.inputs_sha256(spec) == original

    script.write_text("#!/bin/sh\necho changed\n")
    changed_inimage = images.inputs_sha256(spec)
    assert len({original, changed_definition, changed_inimage}) == 3


def test_inputs_hash_sees_added_files_renames_and_the_executable_bit(tmp_path):
    spec = make_definition(tmp_path)
    original = images.inputs_sha256(spec)
    script = spec.inimage / "whoami.sh"

    script.chmod(0o755)
    assert images.inputs_sha256(spec) != original
    script.chmod(0o644)
    assert images.inputs_sha256(spec) == original

    (spec.definition / "build").mkdir()
    (spec.definition / "build" / "extra.sh").write_text("true\n")
    with_extra = images.inputs_sha256(spec)
    (spec.definition / "build" / "extra.sh").rename(spec.definition / "build" / "other.sh")
    assert len({original, with_extra, images.inputs_sha256(spec)}) == 3


def test_inputs_hash_ignores_python_caches(tmp_path):
    spec = make_definition(tmp_path)
    original = images.inputs_sha256(spec)
    (spec.inimage / "__pycache__").mkdir()
    (spec.inimage / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (spec.inimage / "stray.pyc").write_bytes(b"\0")
    assert images.inputs_sha256(spec) == original


def test_inputs_hash_follows_the_base_settings(tmp_path):
    spec = make_definition(tmp_path)
    other_suite = images.ImageSpec(
        name=spec.name,
        base=images.normalise_base({"debootstrap": {"suite": "trixie"}}),
        definition=spec.definition,
        inimage=spec.inimage,
    )
    assert images.inputs_sha256(spec) != images.inputs_sha256(other_suite)


def test_base_defaults_are_filled_so_equal_bases_share_a_cache_key():
    assert images.normalise_base({"debootstrap": {}}) == DEFAULT_BASE
    assert images.base_key({"debootstrap": {}}) == images.base_key(DEFAULT_BASE)
    assert images.base_key({"debootstrap": {"suite": "trixie"}}) != images.base_key(DEFAULT_BASE)
    assert images.normalise_base({"reference": "example.org/sl6@sha256:ab"}) == {"reference": "example.org/sl6@sha256:ab"}


@pytest.mark.parametrize(
    "base, key",
    [
        ({"debootstrap": {}, "reference": "x"}, "images.img.base"),
        ({}, "images.img.base"),
        ({"reference": ""}, "images.img.base"),
        ({"debootstrap": {"sute": "bookworm"}}, "images.img.base.debootstrap"),
    ],
)
def test_bad_base_is_rejected_naming_the_key(base, key):
    with pytest.raises(ConfigError) as error:
        images.normalise_base(base, key="images.img.base")
    assert error.value.key == key


def test_definition_without_dockerfile_is_rejected_naming_the_key(tmp_path):
    with pytest.raises(ConfigError) as error:
        images.ImageSpec.from_config("img", {"base": DEFAULT_BASE, "definition": str(tmp_path)})
    assert error.value.key == "images.img.definition"


def test_the_shipped_definition_hashes_and_tags(tmp_path):
    spec = images.ImageSpec.from_config("debian12", {"base": {"debootstrap": {}}, "definition": "envs/images/debian12"})
    files = images.context_files(spec)
    assert "Dockerfile" in files and "inimage/execbench_launch.py" in files
    tag = images.image_tag(spec, "127.0.0.1:5000")
    assert tag == f"127.0.0.1:5000/execbench/debian12:{images.inputs_sha256(spec)[:12]}"


# --- context and small parsers -------------------------------------------------------


def test_staged_context_holds_definition_inimage_and_empty_wheels(tmp_path):
    spec = make_definition(tmp_path / "src")
    context = images.stage_context(spec, tmp_path / "context", tmp_path / "cache")
    staged = sorted(str(p.relative_to(context)) for p in context.rglob("*"))
    assert staged == ["Dockerfile", "build", "greeting.txt", "inimage", "inimage/whoami.sh", "wheels"]
    assert (context / "inimage/whoami.sh").read_bytes() == (spec.inimage / "whoami.sh").read_bytes()


def test_requirements_drop_comments_and_blank_lines(tmp_path):
    (tmp_path / "requirements.txt").write_text("# header\nnumpy==2.4.6  # why\n\n  uproot==5.7.7\n")
    assert images.requirements(tmp_path) == ["numpy==2.4.6", "uproot==5.7.7"]
    assert images.requirements(tmp_path / "missing") == []


def test_parse_os_release_unquotes_like_the_shell():
    text = (
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n# comment\n\nEMPTY=\n'
        "NAME='Scientific Linux'\nBROKEN=\"unterminated\n"
    )
    assert images.parse_os_release(text) == {
        "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)",
        "ID": "debian",
        "VERSION_ID": "12",
        "EMPTY": "",
        "NAME": "Scientific Linux",
        "BROKEN": "unterminated",
    }


def test_security_mirror_follows_debian_layout():
    assert images.security_mirror("http://deb.debian.org/debian/") == "http://deb.debian.org/debian-security"


# --- record ------------------------------------------------------------------------------


def sample_record():
    digest = "sha256:" + "ab" * 32
    return {
        "name": "debian12",
        "reference": f"127.0.0.1:5000/execbench/debian12@{digest}",
        "digest": digest,
        "tag": "127.0.0.1:5000/execbench/debian12:0123456789ab",
        "os_release": {"ID": "debian", "VERSION_ID": "12"},
        "size_bytes": 123,
        "build_seconds": 1.5,
        "inputs_sha256": "0123456789ab" + "0" * 52,
        "base": DEFAULT_BASE,
        "built_utc": "2026-11-29T04:00:00+00:00",
    }


def test_record_is_written_whole_and_reads_back(tmp_path):
    path = tmp_path / "images" / "debian12.json"
    images.write_record(sample_record(), path)
    assert images.read_record(path) == sample_record()
    assert [p.name for p in path.parent.iterdir()] == ["debian12.json"]  # no temp file left


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.pop("digest"),
        lambda r: r.pop("os_release"),
        lambda r: r.update(reference=r["tag"]),  # a mutable tag is not a reference
        lambda r: r.update(reference="127.0.0.1:5000/execbench/other@" + r["digest"]),
    ],
)
def test_incomplete_or_inconsistent_record_is_refused(tmp_path, change):
    record = sample_record()
    change(record)
    path = tmp_path / "debian12.json"
    with pytest.raises(ExecbenchError):
        images.write_record(record, path)
    assert not path.exists()


# --- real build, push, pull by digest, run ----------------------------------------------------


def registry_request(method: str, path: str) -> dict:
    request = Request(
        f"http://{REGISTRY}{path}",
        method=method,
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urlopen(request, timeout=30) as response:
        return dict(response.headers)


@pytest.mark.docker
def test_small_image_is_built_pushed_and_pulled_back_by_digest(tmp_path):
    import docker.errors

    client = images.docker_client()
    spec = make_definition(tmp_path)
    record = images.build_and_push(spec, REGISTRY, CACHE, client)
    repo_path = f"execbench/{spec.name}"
    try:
        images.write_record(record, tmp_path / "record.json")
        assert record["tag"] == f"{REGISTRY}/{repo_path}:{images.inputs_sha256(spec)[:12]}"
        assert record["reference"] == f"{REGISTRY}/{repo_path}@{record['digest']}"
        # The registry itself serves that digest for the tag.
        headers = registry_request("HEAD", f"/v2/{repo_path}/manifests/{record['tag'].rsplit(':', 1)[1]}")
        assert headers["Docker-Content-Digest"] == record["digest"]
        assert record["os_release"]["ID"] == "debian"
        assert record["os_release"]["VERSION_ID"] == "12"
        assert record["size_bytes"] > 50_000_000  # a Debian minbase is ~200 MB

        # Unchanged inputs: the same tag, and the layer cache gives the same digest.
        again = images.build_and_push(spec, REGISTRY, CACHE, client)
        assert (again["tag"], again["digest"]) == (record["tag"], record["digest"])
        assert (record["build_cached"], again["build_cached"]) == (False, True)

        client.images.remove(client.images.get(record["tag"]).id, force=True)
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(record["reference"])

        client.images.pull(record["reference"])
        output = client.containers.run(
            record["reference"],
            ["sh", "/opt/execbench/whoami.sh"],
            remove=True,
            network_mode="none",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
        )
        assert output.decode() == "10001 hello from the execbench test image\n"
    finally:
        try:
            client.images.remove(record["reference"], force=True)
        except docker.errors.ImageNotFound:
            pass
        try:
            registry_request("DELETE", f"/v2/{repo_path}/manifests/{record['digest']}")
        except HTTPError as err:  # setup's registry takes no deletes (issue 13): nothing to clean then
            assert err.code == 405, err



# --- what the Snakemake rule reads --------------------------------------------------------


def test_rule_inputs_are_the_context_files_and_base_param_is_normalised(tmp_path):
    spec = make_definition(tmp_path)
    config = {"images": {"img": {"base": {"debootstrap": {}}, "definition": str(spec.definition)}}}
    inputs = images.rule_input_files(config, "img")
    # The rule's spec reads the package's own inimage dir, not the test's.
    assert inputs[:2] == [str(spec.definition / "Dockerfile"), str(spec.definition / "greeting.txt")]
    assert all(Path(p).is_file() for p in inputs)
    assert any(p.endswith("inimage/execbench_launch.py") for p in inputs)
    explicit = {"images": {"img": {"base": DEFAULT_BASE, "definition": str(spec.definition)}}}
    assert images.rule_base_param(config, "img") == images.rule_base_param(explicit, "img")
    assert json.loads(images.rule_base_param(config, "img")) == DEFAULT_BASE
