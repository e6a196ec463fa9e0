"""Config loading, validation messages and the run matrix."""

from __future__ import annotations

import copy
import os
import itertools
from pathlib import Path

import pytest
import yaml

from execbench import payloads as payloads_registry
from execbench.config import compose_config, describe_sources, is_loopback, load_config, resolve_copies, run_matrix
from execbench.errors import ConfigError
from execbench.paths import REPO_ROOT

DEFAULT = REPO_ROOT / "config" / "config.yaml"


@pytest.fixture
def raw_default() -> dict:
    return yaml.safe_load(DEFAULT.read_text())


def test_default_config_loads_with_defaults_filled():
    config = load_config(DEFAULT)
    assert config["study"]["repetitions"] >= 3
    assert config["modes"]["bare"]["kind"] == "bare"
    assert config["modes"]["docker"]["network"] == "none"  # hardened default
    assert config["from_raw"] is False
    assert config["ingest"]["manifest"] is None
    assert config["payloads"]["cpusuite"]["enabled"] is True


def _mutated(raw: dict, path: str, value) -> dict:
    data = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


BAD_CONFIGS = [
    # (what is wrong, mutation path, value, key the message must name, words it must contain)
    ("unknown top-level key", "studdy", {"repetitions": 3}, "studdy", "no unknown key"),
    ("wrong type", "study.repetitions", "three", "study.repetitions", "type integer"),
    ("copies < 1", "study.copies", [1, 0], "study.copies[1]", "an integer 1-1024"),
    ("zero repetitions", "study.repetitions", 0, "study.repetitions", ">= 1"),
    ("unknown mode kind", "modes.kvm", {}, "modes.kvm.kind", "bare"),
    ("unknown payload", "payloads.hs07", {"size": "smoke"}, "payloads.hs07", "a registered payload"),
    ("factor of another kind", "modes.bare.network", "host", "modes.bare.network", "factor of kind 'bare'"),
    ("bad enum", "modes.docker.network", "overlay", "modes.docker.network", "['none', 'host', 'bridge']"),
    ("registry off loopback", "registry.address", "10.1.2.3:5000", "registry.address", "loopback"),
    ("registry without port", "registry.address", "127.0.0.1", "registry.address", "host:port"),
    ("image not defined", "image", "sl6", "image", "a key of images"),
    ("unknown image key", "images.debian12.dockerfile", "x", "images.debian12.dockerfile", "no unknown key"),
    ("cluster hosts not a list", "cluster.hosts", "wn001", "cluster.hosts", "type array"),
    ("cluster host not a name", "cluster.hosts", ["wn001", "a/b"], "cluster.hosts[1]", "a name that becomes a path part"),
    ("cluster host twice", "cluster.hosts", ["wn001", "wn001"], "cluster.hosts", "non-unique"),
    ("unknown cluster key", "cluster.nodes", 4, "cluster.nodes", "no unknown key"),
    ("mode limited to an unknown payload", "modes.docker.payloads", ["db12", "hs07"], "modes.docker.payloads[1]",
     "a registered payload"),
    ("baseline limited to some payloads", "modes.bare.payloads", ["db12"], "modes.bare.payloads",
     "the baseline runs every payload"),
    ("unknown control", "modes.docker.control", "aa", "modes.docker.control", "['none', 'negative', 'positive']"),
    ("adaptive target zero", "study.adaptive", {"target_half_width_pct": 0}, "study.adaptive.target_half_width_pct",
     "0"),
    ("adaptive unknown payload", "study.adaptive", {"payloads": ["hs07"]}, "study.adaptive.payloads[0]",
     "a registered payload"),
    ("adaptive unknown key", "study.adaptive", {"rounds": 3}, "study.adaptive.rounds", "no unknown key"),
    ("results at /", "results", "/", "results", "not / nor under a system directory"),
    ("results in /etc", "results", "/etc", "results", "not / nor under a system directory"),
    ("results in the sources", "results", "src", "results", "not the checkout, its sources"),
    ("results in the cache", "results", ".execbench/cache/x", "results", "nor the cache"),
    ("results empty", "results", " ", "results", "a directory path (not empty)"),
]


@pytest.mark.parametrize("what,path,value,key,words", BAD_CONFIGS, ids=[b[0] for b in BAD_CONFIGS])
def test_bad_config_is_rejected_naming_the_key(raw_default, what, path, value, key, words):
    with pytest.raises(ConfigError) as info:
        load_config(_mutated(raw_default, path, value))
    assert info.value.key == key
    assert words in str(info.value)
    assert f"key '{key}'" in str(info.value)


def test_empty_matrix_is_rejected(raw_default):
    for payload in raw_default["payloads"].values():
        payload["enabled"] = False
    with pytest.raises(ConfigError, match="matrix is empty"):
        load_config(raw_default)


def test_missing_baseline_is_rejected(raw_default):
    del raw_default["modes"]["bare"]
    with pytest.raises(ConfigError) as info:
        load_config(raw_default)
    assert info.value.key == "modes.bare"


def test_non_loopback_registry_needs_explicit_opt_in(raw_default):
    raw_default["registry"] = {"address": "registry.site.example:5000", "allow_non_loopback": True}
    assert load_config(raw_default)["registry"]["address"] == "registry.site.example:5000"


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("study:\n  repetitions: 3\n  copies: [1, all\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert str(bad) in str(info.value) and "line" in info.value.key


@pytest.mark.parametrize(
    "address,loopback",
    [("127.0.0.1:5000", True), ("localhost:5000", True), ("[::1]:5000", True), ("127.8.0.1:1", True),
     ("0.0.0.0:5000", False), ("10.0.0.1:5000", False), ("myhost:5000", False)],
)
def test_loopback_detection(address, loopback):
    assert is_loopback(address) is loopback


def test_copies_all_is_one_per_logical_core_and_deduplicated():
    assert resolve_copies([1, "all"], cores=8) == [1, 8]
    assert resolve_copies([1, "all", 1], cores=1) == [1]
    assert resolve_copies([4, 2], cores=2) == [2, 4]


def test_matrix_size_and_interleaving(raw_default):
    config = load_config(raw_default)
    cells = run_matrix(config, cores=2)
    modes = [m for m, s in config["modes"].items() if s["enabled"]]
    once = [p for p in config["payloads"] if payloads_registry.PAYLOADS.load(p).runs_once_first]
    assert once == ["audit"]
    payloads = [p for p in config["payloads"] if p not in once]

    def modes_of(payload, copies):  # a mode limited to some payloads or copies (the controls) runs only those
        return [m for m in modes if payload in (config["modes"][m]["payloads"] or [payload])
                and copies in (config["modes"][m]["copies"] or [copies])]

    def cells_of(names):
        return sum(len(modes_of(p, c)) for p in names
                   for c in resolve_copies(config["payloads"][p].get("copies", [1, "all"]), 2))

    assert len(cells) == config["study"]["repetitions"] * cells_of(payloads) + cells_of(once)
    assert {c.mode for c in cells if c.payload not in ("db12", "cpusuite")} == set(modes) - {"bare-aa", "bare-quota"}
    assert [c.order_index for c in cells] == list(range(len(cells)))
    # Repetition r of every mode finishes before r+1 starts.
    reps = [c.repetition for c in cells]
    assert reps == sorted(reps)
    # Every (rep, payload, copies) block holds each mode exactly once, back to back.
    for (_, payload, copies), block in itertools.groupby(cells, key=lambda c: (c.repetition, c.payload, c.copies)):
        assert sorted(c.mode for c in block) == sorted(modes_of(payload, copies))
    # the controls run at 1 copy only (modes.<name>.copies)
    assert {c.copies for c in cells if c.mode in ("bare-aa", "bare-quota")} == {1}
    assert len({c.run_id for c in cells}) == len(cells)


def test_the_audit_heads_each_host_chain_once(raw_default):
    """The host audit runs before any benchmark on a host, once per mode (repetition 1 only),
    whatever its place in the config."""
    raw_default["payloads"] = {"db12": {}, "audit": {"copies": [1]}}
    raw_default["study"] = {"repetitions": 3, "copies": [1, "all"]}
    raw_default["cluster"] = {"hosts": ["wn001", "wn002"]}
    config = load_config(raw_default)
    cells = run_matrix(config, cores=2)
    # every enabled mode but one limited to other payloads (the negative control runs DB12 only)
    modes = sorted(m for m, s in config["modes"].items() if s["enabled"] and "audit" in (s["payloads"] or ["audit"]))
    assert "bare" in modes and "bare-aa" not in modes
    for host in ("wn001", "wn002"):
        chain = sorted((c for c in cells if c.host == host), key=lambda c: c.order_index)
        head = chain[:len(modes)]
        assert sorted(c.mode for c in head) == modes
        assert {(c.payload, c.repetition, c.copies) for c in head} == {("audit", 1, 1)}
        assert [c for c in chain[len(modes):] if c.payload == "audit"] == []
        assert {c.repetition for c in chain if c.payload == "db12"} == {1, 2, 3}


def test_mode_order_is_seeded_abba_with_bare_metal_in_the_middle(raw_default):
    config = load_config(raw_default)
    orders = lambda cfg: [c.mode for c in run_matrix(cfg, cores=2)]  # noqa: E731
    assert orders(config) == orders(copy.deepcopy(config))  # same seed, same order
    blocks = lambda cfg: {(c.repetition, c.payload, c.copies): [] for c in run_matrix(cfg, cores=2)}  # noqa: E731
    by_block = blocks(config)
    for c in run_matrix(config, cores=2):
        by_block[(c.repetition, c.payload, c.copies)].append(c.mode)
    for (rep, payload, copies), modes in by_block.items():
        assert modes.index("bare") == (len(modes) - 1) // 2 or modes.index("bare") == len(modes) // 2
        if (rep + 1, payload, copies) in by_block:  # the next round runs the same order reversed
            assert by_block[(rep + 1, payload, copies)] == modes[::-1]
    # the seed decides the order of the other modes: some seed gives another order
    others = set()
    for seed in range(8):
        other = copy.deepcopy(config)
        other["study"]["seed"] = seed
        others.add(tuple(orders(other)))
    assert len(others) > 1
    # and it varies between payloads (not one fixed order for the whole study)
    assert len({tuple(m) for (rep, _, _), m in by_block.items() if rep == 1}) > 1


def test_cluster_defaults_to_no_fan_out(raw_default):
    config = load_config(raw_default)
    assert config["cluster"] == {"hosts": []}
    assert {c.host for c in run_matrix(config, cores=2)} == {None}
    assert all("@" not in c.rel_dir and "@" not in c.run_id for c in run_matrix(config, cores=2))


def test_matrix_with_two_hosts_is_one_full_interleaved_chain_per_host(raw_default):
    single = run_matrix(load_config(raw_default), cores=2)
    modes_of = {}  # (payload, copies) -> its modes (the controls run one payload each, at 1 copy)
    for c in single:
        modes_of.setdefault((c.payload, c.copies), set()).add(c.mode)
    raw_default["cluster"] = {"hosts": ["wn001", "wn002"]}
    cells = run_matrix(load_config(raw_default), cores=2)
    assert len(cells) == 2 * len(single)
    for host in ("wn001", "wn002"):
        chain = [c for c in cells if c.host == host]
        # its own order from 0, every run of the single-host matrix exactly once
        assert [c.order_index for c in chain] == list(range(len(single)))
        assert sorted((c.payload, c.mode, c.copies, c.repetition) for c in chain) == sorted(
            (c.payload, c.mode, c.copies, c.repetition) for c in single)
        # interleaved as ever: repetitions in order, each (rep, payload, copies) block holds every mode once
        assert [c.repetition for c in chain] == sorted(c.repetition for c in chain)
        for (_, payload, copies), block in itertools.groupby(chain, key=lambda c: (c.repetition, c.payload, c.copies)):
            assert sorted(c.mode for c in block) == sorted(modes_of[(payload, copies)])
        assert all(c.rel_dir == f"{c.payload}/{c.mode}/{c.copies}c/r{c.repetition}@{host}" for c in chain)
        assert all(c.run_id.endswith(f"-r{c.repetition}@{host}") for c in chain)
    # each host is shuffled with its own seed: the two chains do not share one mode order
    orders = {h: [c.mode for c in cells if c.host == h] for h in ("wn001", "wn002")}
    assert orders["wn001"] != orders["wn002"]
    assert len({c.rel_dir for c in cells}) == len(cells)


def test_payload_copies_override(raw_default):
    config = load_config(raw_default)
    startup = {c.copies for c in run_matrix(config, cores=2) if c.payload == "startup"}
    assert startup == {1}


@pytest.mark.parametrize("name", ["config.yaml", "full.yaml"])
def test_loading_a_loaded_config_changes_nothing(name):
    # Snakemake hands common.smk a config that may already be a loaded one
    # (run-config.json): defaults must not pile up or turn invalid.
    once = load_config(REPO_ROOT / "config" / name)
    assert load_config(once) == once


def test_registry_base_gets_no_debootstrap_default(raw_default):
    raw_default["images"]["debian12"]["base"] = {"reference": "example.org/sl6@sha256:ab"}
    loaded = load_config(raw_default)
    assert loaded["images"]["debian12"]["base"] == {"reference": "example.org/sl6@sha256:ab"}
    assert load_config(loaded) == loaded


def test_optional_factors_default_to_null_and_are_checked(raw_default):
    raw_default["modes"]["vm"] = {"kind": "vm"}
    assert load_config(raw_default)["modes"]["vm"]["vcpus"] is None  # null: the mode decides
    raw_default["modes"]["vm"]["vcpus"] = 4
    assert load_config(raw_default)["modes"]["vm"]["vcpus"] == 4
    raw_default["modes"]["vm"]["vcpus"] = 0
    with pytest.raises(ConfigError, match=r"modes\.vm\.vcpus"):
        load_config(raw_default)


def test_htcondor_docker_mode_is_a_known_kind_with_its_own_factors(raw_default):
    raw_default["modes"]["condor"] = {"kind": "htcondor-docker", "host": "wn001", "request_memory_mb": 2000}
    mode = load_config(raw_default)["modes"]["condor"]
    assert mode["network"] == "none" and mode["queue_wait_s"] == 3600 and mode["host"] == "wn001"
    raw_default["modes"]["condor"]["cpuset"] = "per-copy"
    with pytest.raises(ConfigError, match=r"modes\.condor\.cpuset"):
        load_config(raw_default)


def test_cluster_example_fans_out_over_its_two_nodes():
    config, _ = compose_config([REPO_ROOT / "config/examples/cluster-two-nodes.yaml"])
    cells = run_matrix(load_config(config), cores=2)
    # (2 payloads x 2 modes + the negative control on DB12) x 2 copies counts (1, 4) x 3 repetitions
    # = 30 per node, after the host audit of each of the 2 modes (1 copy, once) at the head of each
    # node's chain (the negative control runs DB12 only)
    assert {h: sum(c.host == h for c in cells) for h in ("wn001", "wn002")} == {"wn001": 32, "wn002": 32}
    assert len(cells) == 64
    assert {c.payload for c in cells if c.order_index < 2} == {"audit"}


# --config values exactly as Snakemake 9's own parser hands them over (snakemake.cli.parse_config):
# only True/False become booleans, and everything inside a mapping or list stays a string.
CLI_CONFIGS = [
    (["from_raw=true"], lambda c: c["from_raw"] is True),
    (["from_raw=false"], lambda c: c["from_raw"] is False),
    (["study={copies: [1, 99]}"], lambda c: c["study"]["copies"] == [1, 99]),
    (["study={copies: [1, all], repetitions: 2, seed: 7}"],
     lambda c: c["study"]["copies"] == [1, "all"] and c["study"]["repetitions"] == 2 and c["study"]["seed"] == 7),
    (["modes={vm: {enabled: false, memory_mb: 4096}}"],
     lambda c: c["modes"]["vm"]["enabled"] is False and c["modes"]["vm"]["memory_mb"] == 4096),
    (["payloads={db12: {timeout_s: 2.5}}"], lambda c: c["payloads"]["db12"]["timeout_s"] == 2.5),
    (["ingest={manifest: null}"], lambda c: c["ingest"]["manifest"] is None),
    (["study={name: 2015}"], lambda c: c["study"]["name"] == "2015"),  # a string key stays a string
    (["registry={allow_non_loopback: yes}"], lambda c: c["registry"]["allow_non_loopback"] is True),
]


@pytest.mark.parametrize("args,check", CLI_CONFIGS, ids=[" ".join(a) for a, _ in CLI_CONFIGS])
def test_config_values_are_taken_as_typed_on_the_command_line(raw_default, args, check):
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    overrides = parse_config(args)
    update_config(raw_default, overrides)
    assert check(load_config(raw_default))


@pytest.mark.parametrize("args,key,got", [
    (["from_raw=maybe"], "from_raw", "'maybe'"),
    (["study={copies: [1, x]}"], "study.copies[1]", "'x'"),
    (["study={repetitions: 2.5}"], "study.repetitions", "'2.5'"),  # a number, not an integer: left as typed
    (["study={repetitions: 0}"], "study.repetitions", "0"),
])
def test_command_line_value_of_the_wrong_kind_still_names_the_key(raw_default, args, key, got):
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    update_config(raw_default, parse_config(args))
    with pytest.raises(ConfigError) as info:
        load_config(raw_default)
    assert info.value.key == key
    assert f"got {got}" in str(info.value)


# --- where the config comes from: a site file replaces the default study, or extends it explicitly ---

SITE = "study: {repetitions: 2, copies: [1]}\nmodes: {bare: {}, docker: {}}\npayloads: {db12: {}}\n"


def test_a_site_file_without_extends_is_the_whole_study(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(SITE)
    raw, sources = compose_config([site])
    cells = run_matrix(load_config(raw), cores=2)
    assert len(cells) == 4  # 2 modes x 1 payload x 1 copy count x 2 repetitions: what the file asks for
    assert {c.mode for c in cells} == {"bare", "docker"} and {c.payload for c in cells} == {"db12"}
    assert load_config(raw)["images"]["debian12"]["definition"] == "envs/images/debian12"  # schema default
    assert describe_sources(sources).endswith("(the whole study: config/config.yaml is not read)")


def test_extends_default_merges_the_site_file_over_the_default_study(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("extends: default\n" + SITE)
    raw, sources = compose_config([site], {"results": "elsewhere"})
    config = load_config(raw)
    default = load_config(REPO_ROOT / "config" / "config.yaml")
    assert set(config["modes"]) == set(default["modes"]) and set(config["payloads"]) == set(default["payloads"])
    assert config["study"]["repetitions"] == 2 and config["study"]["seed"] == default["study"]["seed"]
    assert config["results"] == "elsewhere"  # --config over both
    assert [s.kind for s in sources] == ["default", "file", "--config"]
    assert describe_sources(sources) == (f"config/config.yaml (the default study), extended by "
                                         f"{sources[1].name} (study, modes, payloads), then --config (results)")


def test_extends_a_path_relative_to_the_file_and_refuses_cycles(tmp_path):
    (tmp_path / "base.yaml").write_text("extends: default\nstudy: {name: base}\n")
    (tmp_path / "site.yaml").write_text("extends: base.yaml\nstudy: {repetitions: 1}\n")
    raw, sources = compose_config([tmp_path / "site.yaml"])
    assert raw["study"]["name"] == "base" and raw["study"]["repetitions"] == 1 and "vm" in raw["modes"]
    assert [s.kind for s in sources] == ["default", "extended", "file"]
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="extends.*cycle"):
        compose_config([tmp_path / "a.yaml"])


def test_only_the_first_config_file_may_extend(tmp_path):
    (tmp_path / "a.yaml").write_text(SITE)
    (tmp_path / "b.yaml").write_text("extends: default\n")
    with pytest.raises(ConfigError, match="extends only in the first config file"):
        compose_config([tmp_path / "a.yaml", tmp_path / "b.yaml"])


def test_no_config_file_is_the_default_study_and_config_values_go_over_it():
    raw, sources = compose_config([], {"from_raw": True})
    assert raw["from_raw"] is True and raw["study"]["name"] == "quick"
    assert [s.kind for s in sources] == ["default", "--config"]


@pytest.mark.parametrize("example", ["htcondor-docker-universe", "kubernetes-quota", "factors-study",
                                     "podman-rootless-site"])
def test_site_factor_examples_are_valid_studies(example):
    """The site-factor examples (docs/factors.md) load as `run.sh --configfile <example>` loads
    them (compose_config: the file and its `extends`) and set what they say."""
    config, _ = compose_config([REPO_ROOT / f"config/examples/{example}.yaml"])
    loaded = load_config(config)
    limits = {name: m.get("cpu_limit", {}).get("kind") for name, m in loaded["modes"].items() if m["enabled"]}
    expected = {"htcondor-docker-universe": {"docker-condor-defaults": "shares", "docker-condor-pinned": "cpuset"},
                "kubernetes-quota": {"docker-k8s-limits": "quota"},
                "factors-study": {"docker-quota1": "quota", "docker-cpuset1": "cpuset", "bare-quota": "quota"},
                "podman-rootless-site": {"podman-hepscore": "none", "podman-slot-pinned": "cpuset"}}[example]
    assert {k: limits[k] for k in expected} == expected
    assert run_matrix(loaded, cores=2)


@pytest.mark.parametrize("example", sorted(p.name for p in (REPO_ROOT / "config" / "examples").glob("*.yaml")))
def test_every_example_loads_as_its_documented_command_loads_it(example):
    # each example's header says `bash scripts/run.sh --configfile config/examples/<it>`: that is
    # compose_config over that one file, whatever it extends
    config, _ = compose_config([REPO_ROOT / "config" / "examples" / example])
    assert run_matrix(load_config(config), cores=2)


def test_cpu_limit_settings_are_checked_per_kind():
    raw = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    raw["modes"]["docker"]["cpu_limit"] = {"kind": "shares"}
    with pytest.raises(ConfigError, match=r"modes\.docker\.cpu_limit\.shares"):
        load_config(raw)
    raw["modes"]["docker"]["cpu_limit"] = {"kind": "quota", "cpus": 0.5}
    raw["modes"]["bare"]["cpu_limit"] = {"kind": "shares", "shares": 100}  # bare metal has nothing to share with
    with pytest.raises(ConfigError, match=r"modes\.bare\.cpu_limit\.kind"):
        load_config(raw)


def test_the_baseline_runs_every_copy_count(raw_default):
    raw_default["modes"]["bare"]["copies"] = [1]
    with pytest.raises(ConfigError) as err:
        load_config(raw_default)
    assert err.value.key == "modes.bare.copies"


# --- results and cache: no other local user can redirect them (issue 13's threat model) ----------

NOBODY = 65534


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Path:
    """A sticky world-writable directory of root's, like /tmp, for another user's links."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    return shared


def _refused(raw: dict, key: str, value: str) -> ConfigError:
    raw[key] = value
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert info.value.key == key and f"key '{key}'" in str(info.value)
    return info.value


@pytest.mark.parametrize("key", ["results", "cache"])
def test_a_link_planted_by_another_user_is_refused(raw_default, shared_tmp, tmp_path, key):
    target = tmp_path / "root-only"
    target.mkdir(mode=0o700)
    link = shared_tmp / "res-evil"
    # another user's link (made here and handed to nobody with lchown: pytest's tmp dirs are 0700,
    # so nobody could not reach the shared dir to run ln itself); fs.protected_symlinks=0 lets root follow it
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)
    assert link.lstat().st_uid == NOBODY
    error = _refused(raw_default, key, str(link))
    assert f"{link} is a symbolic link owned by uid {NOBODY}" in str(error)
    assert "expected a directory no other user can redirect" in str(error)
    assert list(target.iterdir()) == []


def test_a_directory_of_another_user_is_refused(raw_default, shared_tmp):
    theirs = shared_tmp / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    error = _refused(raw_default, "results", str(theirs / "results"))
    assert f"{theirs} sits in {shared_tmp}" in str(error) and f"owned by uid {NOBODY}" in str(error)


def test_a_final_directory_of_another_user_is_refused(raw_default, tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    error = _refused(raw_default, "results", str(theirs))
    assert f"{theirs} is owned by uid {NOBODY} (nobody), not by root" in str(error)


def test_a_results_dir_still_to_be_made_in_a_shared_directory_is_refused(raw_default, shared_tmp):
    error = _refused(raw_default, "results", str(shared_tmp / "new"))
    assert f"{shared_tmp / 'new'} does not exist yet and {shared_tmp} is writable by other users" in str(error)


def test_a_link_resolving_into_a_system_directory_is_refused(raw_default, tmp_path):
    link = tmp_path / "res-evil2"
    link.symlink_to("/usr/share/doc")
    error = _refused(raw_default, "results", str(link))
    assert "not / nor under a system directory" in str(error) and "resolves to /usr/share/doc" in str(error)


def test_a_results_path_that_is_a_file_is_refused(raw_default, tmp_path):
    file = tmp_path / "results"
    file.write_text("not a directory\n")
    error = _refused(raw_default, "results", str(file))
    assert f"{file} is a regular file; expected a directory" in str(error)


def test_a_root_owned_link_and_new_dirs_are_accepted(raw_default, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "work").symlink_to(data)  # as /work -> /data on a site's node
    raw_default["results"] = str(tmp_path / "work" / "results" / "new")
    raw_default["cache"] = str(tmp_path / "work" / "cache")
    assert load_config(raw_default)["results"] == str(tmp_path / "work" / "results" / "new")
    raw_default["results"], raw_default["cache"] = "results", ".execbench/cache"  # relative, in the checkout
    assert load_config(raw_default)["results"] == "results"
