"""Every config input bounded and typed (issue 13, item 5; R9's names, R14): hostile values one by
one, hostile files (encodings, sizes, YAML alias bombs, nesting), the oversubscription warning,
and a property test (hypothesis) over config loading with time and memory bounds."""

from __future__ import annotations

import collections
import copy
import math
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execbench.config import MAX_CONFIG_BYTES, config_warnings, load_config, run_matrix
from execbench.errors import ConfigError
from execbench.layout import is_name
from execbench.paths import REPO_ROOT

DEFAULT = REPO_ROOT / "config" / "config.yaml"
RAW = yaml.safe_load(DEFAULT.read_text())


def mutated(path: tuple, value) -> dict:
    data = copy.deepcopy(RAW)
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return data


def renamed(section: str, old: str, new: str) -> dict:
    data = copy.deepcopy(RAW)
    data[section][new] = data[section].pop(old)
    if section == "images":
        data["image"] = new
    return data


def nested(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


BAD = [  # (what, config, key named, words of the expectation)
    ("R14 port out of range", mutated(("registry", "address"), "127.0.0.1:99999"), "registry.address", "port 1-65535"),
    ("port zero", mutated(("registry", "address"), "127.0.0.1:0"), "registry.address", "port 1-65535"),
    ("copies above the bound", mutated(("study", "copies"), [2000]), "study.copies[0]", "an integer 1-1024"),
    ("too many copy counts", mutated(("study", "copies"), list(range(1, 100))), "study.copies", "at most 64 entries"),
    ("huge repetitions", mutated(("study", "repetitions"), 10**30), "study.repetitions", "<= 1000"),
    ("negative repetitions", mutated(("study", "repetitions"), -1), "study.repetitions", ">= 1"),
    ("negative seed", mutated(("study", "seed"), -5), "study.seed", ">= 0"),
    ("seed beyond 64 bits", mutated(("study", "seed"), 2**70), "study.seed", "<= 9223372036854775807"),
    ("study name with a newline", mutated(("study", "name"), "a\nb"), "study.name", "a string matching"),
    ("study name of 300 characters", mutated(("study", "name"), "x" * 300), "study.name", "at most 200 characters"),
    ("results with NUL", mutated(("results",), "res\x00x"), "results", "no control characters"),
    ("results with a newline", mutated(("results",), "res\nx"), "results", "no control characters"),
    ("results of 5000 characters", mutated(("results",), "r" * 5000), "results", "at most 4096 characters"),
    ("empty results", mutated(("results",), ""), "results", "at least 1 character"),
    ("R9 mode named ..", renamed("modes", "docker", ".."), "modes...", "a name that becomes a path part"),
    ("R9 mode with a command substitution", renamed("modes", "docker", "d$(touch X)"), "modes.d$(touch X)",
     "a name that becomes a path part"),
    ("mode with a slash", renamed("modes", "docker", "a/b"), "modes.a/b", "a name that becomes a path part"),
    ("mode name of 100 characters", renamed("modes", "docker", "m" * 100), "modes." + "m" * 100, "at most 64"),
    ("image key climbing out", {**RAW, "images": {**RAW["images"], "../x": RAW["images"]["debian12"]}}, "images.../x",
     "a name that becomes a path part"),
    ("image name climbing out", mutated(("image",), "../x"), "image", "a name that becomes a path part"),
    ("host of 300 characters", mutated(("cluster", "hosts"), ["h" * 300]), "cluster.hosts[0]", "at most 64 characters"),
    ("host with ..", mutated(("cluster", "hosts"), ["a..b"]), "cluster.hosts[0]", "a name that becomes a path part"),
    ("no vcpus", mutated(("modes", "vm", "vcpus"), 0), "modes.vm.vcpus", ">= 1"),
    ("5000 vcpus", mutated(("modes", "vm", "vcpus"), 5000), "modes.vm.vcpus", "<= 1024"),
    ("10 MiB guest", mutated(("modes", "vm", "memory_mb"), 10), "modes.vm.memory_mb", ">= 256"),
    ("R9 qemu option in the CPU model", mutated(("modes", "vm", "cpu_model"), "host,kvm=off"), "modes.vm.cpu_model",
     "a string matching"),
    ("podman user with a shell line", mutated(("modes", "podman", "user"), "root; rm -rf /"), "modes.podman.user",
     "a string matching"),
    ("bare payload uid of root's range", mutated(("modes", "bare", "payload_uid"), 0), "modes.bare.payload_uid",
     ">= 1000"),
    ("no startup samples", mutated(("payloads", "startup", "samples"), 0), "payloads.startup.samples", ">= 1"),
    ("a billion startup samples", mutated(("payloads", "startup", "samples"), 10**9), "payloads.startup.samples",
     "<= 10000"),
    ("negative timeout", mutated(("payloads", "db12", "timeout_s"), -1), "payloads.db12.timeout_s", "> 0"),
    ("NaN timeout", mutated(("payloads", "db12", "timeout_s"), math.nan), "payloads.db12.timeout_s", "a finite number"),
    ("infinite timeout", mutated(("payloads", "db12", "timeout_s"), math.inf), "payloads.db12.timeout_s",
     "a finite number"),
    ("mirror with a space", mutated(("images", "debian12", "base", "debootstrap", "mirror"), "http://x y"),
     "images.debian12.base.debootstrap.mirror", "a string matching"),
    ("suite with a shell line", mutated(("images", "debian12", "base", "debootstrap", "suite"), "bookworm; id"),
     "images.debian12.base.debootstrap.suite", "a string matching"),
    ("manifest path with a newline", mutated(("ingest",), {"manifest": "a\nb"}), "ingest.manifest", "CSV manifest"),
    ("a key that is not a string", {**copy.deepcopy(RAW), 1: 2}, "(top level)", "string keys only"),
    ("a string of 100 k characters", mutated(("study", "name"), "x" * 100_000), "study.name", "at most 65536"),
    ("nesting 40 deep", mutated(("study", "name"), nested(40)), "study.name" + "[0]" * 30, "at most 32 levels"),
]


@pytest.mark.parametrize("what,config,key,words", BAD, ids=[b[0] for b in BAD])
def test_a_bad_value_is_a_clear_error_naming_its_key(what, config, key, words):
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.key == key, str(info.value)
    assert words in str(info.value)
    assert len(str(info.value)) < 1000  # never a whole value or file echoed back


def write(tmp_path: Path, data: bytes, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_utf8_with_a_bom_and_crlf_line_ends_read_as_plain_utf8(tmp_path):
    plain = load_config(DEFAULT)
    windows = write(tmp_path, b"\xef\xbb\xbf" + DEFAULT.read_bytes().replace(b"\n", b"\r\n"))
    assert load_config(windows) == plain


def alias_bomb(levels: int = 9, width: int = 9) -> bytes:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return ("\n".join(lines) + f"\nstudy: {{copies: *a{levels - 1}}}\n").encode()


BAD_FILES = [  # (what, bytes, words)
    ("latin-1 bytes", b"study:\n  name: caf\xe9\n", "UTF-8 text"),
    ("UTF-16 with a BOM", "study: {}\n".encode("utf-16"), "UTF-16 or UTF-32 byte order mark"),
    ("larger than 1 MiB", b"# " + b"x" * MAX_CONFIG_BYTES + b"\n", f"at most {MAX_CONFIG_BYTES} bytes"),
    ("billion laughs", alias_bomb(), "at most 100000 values"),
    ("5000 levels of nesting", b"study: " + b"[" * 5000 + b"]" * 5000 + b"\n", "at most 32 levels of nesting"),
    ("a list that holds itself", b"study: &a [*a]\n", "at most 32 levels"),
    ("an unhashable key", b"? [a, b]\n: 1\n", "valid YAML"),
    ("a Python object tag", b"study: !!python/object/apply:os.system ['touch X']\n", "valid YAML"),
    ("a tab for indentation", b"study:\n\trepetitions: 2\n", "valid YAML"),
    ("not a mapping", b"- 1\n- 2\n", "a mapping of keys"),
    ("a key twice", b"study:\n  repetitions: 2\n  repetitions: 5\n", "'repetitions' is already given on line 2"),
]


@pytest.mark.parametrize("what,data,words", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_a_clear_error_naming_the_file(tmp_path, what, data, words):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: key '") and words in str(info.value), str(info.value)
    assert not (REPO_ROOT / "X").exists() and len(str(info.value)) < 1000


def test_run_sh_reads_config_files_with_the_bounds_before_snakemake_does(tmp_path):
    """Snakemake parses --configfile itself (a 5000-deep list ends in its RecursionError):
    scripts/run.sh checks each file first and stops with the reason."""
    deep = write(tmp_path, b"study: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    proc = subprocess.run(["bash", str(REPO_ROOT / "scripts/run.sh"), "-n", "--configfile", str(deep)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert f"check-config: {deep}: key '(YAML line 1)': expected at most 32 levels of nesting" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_r14_more_copies_than_cores_is_a_warning_not_an_error():
    config = load_config(mutated(("study", "copies"), [1, 64]))  # valid: oversubscription is an experiment
    [warning] = config_warnings(config, cores=2)
    assert warning.startswith("study.copies asks for 64 copies on a host with 2 logical cores")
    assert config_warnings(load_config(DEFAULT), cores=2) == []  # [1, all]
    fanned = load_config({**mutated(("study", "copies"), [64]), "cluster": {"hosts": ["wn001"]}})
    assert config_warnings(fanned, cores=2) == []  # the submit host is not where runs go


def test_r14_the_workflow_says_so_when_it_starts(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--config",
                           "study={copies: [64]}", f"results={tmp_path / 'results'}"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "execbench: warning: study.copies asks for 64 copies" in proc.stderr


# --- property test -------------------------------------------------------------------------

LEAVES = []


def _leaves(node, path=()):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _leaves(value, path + (key,))
    else:
        LEAVES.append(path)


_leaves(RAW)
NASTY_TEXT = st.sampled_from(["..", "../../etc", "$(touch INJECTED)", "`id`", "a b", "a,b", "<script>", "|",
                              "\x00", "\r\n", "\ufeff", "é", "all", "true", "null", "1e999", "-0", "0x10", "~",
                              "127.0.0.1:99999", "x" * 70_000])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**80, max_value=2**80),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=50), NASTY_TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                        st.dictionaries(st.text(max_size=8) | NASTY_TEXT, inner,
                                                                        max_size=5)),
                      max_leaves=20)
FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SECONDS_EACH = 10  # no example may take longer (a hang fails the test)
MEGABYTES_EACH = 64  # nor allocate more


def bounded(call):
    """Run call() with a time alarm and a memory measurement; return (result or exception)."""
    def alarm(signum, frame):
        raise TimeoutError(f"config loading took more than {SECONDS_EACH} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(SECONDS_EACH)
    tracemalloc.start()
    try:
        try:
            outcome = call()
        except ConfigError as err:
            outcome = err
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert peak < MEGABYTES_EACH * 2**20, f"peak {peak / 2**20:.0f} MiB"
    return outcome


def check(outcome, counts: collections.Counter) -> None:
    """A config either loads into something usable, or fails with an error naming a key."""
    counts["tried"] += 1
    if isinstance(outcome, ConfigError):
        counts["clear error"] += 1
        assert " key '" in str(outcome) and outcome.expected and len(str(outcome)) < 2000
        return
    counts["accepted"] += 1
    assert all(is_name(m) for m in outcome["modes"]) and is_name(outcome["image"])
    assert run_matrix(outcome)  # the matrix can be built from it


def test_fuzz_mutated_configs_load_or_fail_clearly():
    counts = collections.Counter()

    @FUZZ
    @given(path=st.sampled_from(LEAVES), value=VALUES, extra=st.booleans(), bom=st.booleans(), crlf=st.booleans())
    def one(path, value, extra, bom, crlf):
        data = mutated(path[:-1] + (path[-1],), value) if not extra else mutated(path[:-1] + ("extra key",), value)
        text = yaml.safe_dump(data, allow_unicode=True)
        raw = ("\ufeff" if bom else "").encode() + (text.replace("\n", "\r\n") if crlf else text).encode()
        if not any(isinstance(v, float) and not math.isfinite(v) for v in [value]):
            check(bounded(lambda: load_config(data)), counts)  # as Snakemake hands it over (a dict)
        path_file = Path(f"/tmp/execbench-fuzz-{id(counts)}.yaml")
        path_file.write_bytes(raw)
        try:
            check(bounded(lambda: load_config(path_file)), counts)  # as a file
        finally:
            path_file.unlink()

    one()
    print(f"\nmutated configs: {dict(counts)}")
    assert counts["tried"] >= 400 and counts["clear error"] > 0 and counts["accepted"] > 0
    assert counts["tried"] == counts["clear error"] + counts["accepted"]  # nothing else came out


def test_fuzz_arbitrary_text_and_alias_bombs_load_or_fail_clearly(tmp_path):
    counts = collections.Counter()
    target = tmp_path / "fuzz.yaml"

    @FUZZ
    @given(text=st.text(max_size=3000) | st.binary(max_size=3000),
           bomb=st.tuples(st.integers(1, 12), st.integers(1, 12)), use_bomb=st.booleans())
    def one(text, bomb, use_bomb):
        if use_bomb:
            target.write_bytes(alias_bomb(*bomb))
        else:
            target.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
        check(bounded(lambda: load_config(target)), counts)

    one()
    print(f"\narbitrary text and alias bombs: {dict(counts)}")
    assert counts["tried"] >= 400 and counts["clear error"] > 0
    assert counts["tried"] == counts["clear error"] + counts["accepted"]
