"""The plugin contracts: every registered mode, payload and log parser keeps them, and a new one
is one module plus one registry line.

Conformance (over each registry, so a new plugin is checked by registering it): the class is the
contract's subclass, its name matches its registry key, its settings are JSON Schema fragments
with a default and a description, and it behaves on failure as the contract says (a mode's
available() answers instead of raising, a payload's parse() of a run that left no log gives a
failed record naming why, a parser's detect() never raises and parse() raises only ParseError).

Extension: tests/fixtures/plugins/ holds a tiny example of each (a mode running copies as host
processes, a word-count payload, its log format). Registered with one line each, they reach the
config schema, config/README.md, the run matrix, the runner and the parse stage with no other
file touched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

from execbench import config as config_module
from execbench import modes, parsers, payloads, schema_doc
from execbench.errors import ConfigError, ParseError
from execbench.modes.base import Availability, Mode, ModeContext, ModeError
from execbench.parsers.base import Parser
from execbench.paths import REPO_ROOT
from execbench.payloads.base import Payload

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
DEFAULT = config_module.load_config(REPO_ROOT / "config" / "config.yaml")


def check_settings_schema(owner: str, settings_schema: dict) -> None:
    for key, fragment in settings_schema.items():
        assert "description" in fragment and fragment["description"].strip(), f"{owner}.{key}: no description"
        assert "default" in fragment, f"{owner}.{key}: no default"
        jsonschema.Draft7Validator.check_schema(fragment)
        jsonschema.validate(fragment["default"], fragment)  # the default is itself a valid value


@pytest.mark.parametrize("kind", modes.MODES.names())
def test_every_mode_keeps_the_contract(kind, shared_dir):
    cls = modes.MODES.load(kind)
    assert issubclass(cls, Mode) and cls.kind == kind and cls.description
    check_settings_schema(f"modes.<{kind}>", cls.settings_schema)
    settings = config_module.load_config({**DEFAULT, "modes": {"bare": {"kind": "bare"}, "x": {"kind": kind}}})["modes"]["x"]
    # the VM mode's check boots a guest once per host boot: the session's VM cache keeps the verdict
    ctx = ModeContext(name="x", kind=kind, settings=settings, cache_dir=shared_dir / "vm-cache")
    availability = cls().available(ctx)  # answers, whatever this host lacks
    assert isinstance(availability, Availability)
    assert availability.ok or availability.reason  # not available: says why


def test_a_mode_without_start_up_measurement_says_so():
    with pytest.raises(ModeError, match="cannot measure start-up"):
        Mode().startup_sample(None, ["/bin/true"])


@pytest.mark.parametrize("name", payloads.PAYLOADS.names())
def test_every_payload_keeps_the_contract(name, tmp_path):
    cls = payloads.PAYLOADS.load(name)
    assert issubclass(cls, Payload) and cls.name == name and cls.description
    check_settings_schema(f"payloads.{name}", cls.settings_schema)
    payload, settings = cls(), DEFAULT["payloads"][name]
    argv = payload.argv(settings)
    assert argv and all(isinstance(a, str) for a in argv)
    assert payload.timeout_s(settings) > 0
    scratch = payload.scratch_bytes(settings)  # None, or the bytes a copy's data need (sizes a VM scratch disk)
    assert scratch is None or (isinstance(scratch, int) and scratch > 0)
    if not cls.host_driven:
        assert cls.log_file and cls.parser_format in parsers.PARSERS
    # a run whose copy left no log: a failed record naming why, never an exception
    (tmp_path / "run.json").write_text(json.dumps({"copies": 1}))
    (tmp_path / "copy0").mkdir()
    records = payload.parse(tmp_path)
    assert records and all(r.status == "failed" and r.value is None for r in records)
    assert any("copy0" in r.detail for r in records)


BAD_INPUTS = {"empty": b"", "binary": bytes(range(256)) * 8, "text": b"hello world\n" * 20,
              "json": b'{"a": [1, 2, {"b": null}]}'}


@pytest.mark.parametrize("fmt", parsers.PARSERS.names())
def test_every_parser_keeps_the_contract(fmt, tmp_path):
    parser = parsers.get(fmt)
    assert isinstance(parser, Parser) and parser.format == fmt
    for name, data in BAD_INPUTS.items():
        path = tmp_path / f"{name}.log"
        path.write_bytes(data)
        assert parser.detect(path) in (True, False)
        try:
            parser.parse(path)
        except ParseError as err:
            assert err.path.startswith(str(path))  # the file, or the file it looked for inside it
    assert parser.detect(tmp_path / "missing") is False
    assert parser.detect(tmp_path) in (True, False)  # a directory
    with pytest.raises(ParseError):
        parser.parse(tmp_path / "missing")


@pytest.fixture
def example_plugins(monkeypatch):
    """The example plugins registered with one line each (the whole change a new plugin needs)."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setitem(modes.MODES.entries, "host-process", "example_mode:HostProcessMode")
    monkeypatch.setitem(payloads.PAYLOADS.entries, "wordcount", "example_payload:WordCount")
    monkeypatch.setitem(parsers.PARSERS.entries, "wordcount-json", "example_parser:PARSER")
    config_module._schema.cache_clear()
    yield
    config_module._schema.cache_clear()
    for module in ("example_mode", "example_payload", "example_parser"):
        sys.modules.pop(module, None)


def test_a_new_mode_payload_and_format_are_one_module_and_one_line_each(example_plugins, tmp_path, monkeypatch):
    from execbench import layout, parse
    from execbench.config import run_matrix
    from execbench.runner import LOCK_ENV, run_cell

    assert sorted(p.name for p in PLUGINS.glob("*.py")) == ["example_mode.py", "example_parser.py",
                                                           "example_payload.py"]
    monkeypatch.setenv(LOCK_ENV, str(tmp_path / "benchmark.lock"))
    raw = {**DEFAULT, "results": str(tmp_path / "results"), "study": {"repetitions": 1, "copies": [2]},
           "modes": {"bare": {"kind": "bare", "enabled": True}, "hp": {"kind": "host-process", "nice": 5}},
           "payloads": {"wordcount": {"words": 5000}}}
    config = config_module.load_config(raw)
    # the config schema and its reference page know the plugins' own settings and defaults
    assert config["payloads"]["wordcount"] == {"words": 5000, "enabled": True, "timeout_s": None}
    assert config["modes"]["hp"]["nice"] == 5
    with pytest.raises(ConfigError, match=r"modes\.hp\.network.*a factor of kind 'host-process'"):
        config_module.load_config({**raw, "modes": {**raw["modes"], "hp": {"kind": "host-process", "network": "none"}}})
    page = schema_doc.render()
    assert "`payloads.wordcount.words`" in page and "kind host-process: niceness of the copies" in page
    # the matrix, the runner and the parse stage take them as they take the built-in ones
    cells = [c for c in run_matrix(config) if c.mode == "hp"]
    assert [(c.payload, c.copies) for c in cells] == [("wordcount", 2)]
    record = run_cell(config, cells[0])
    assert record["status"] == "ok", record["reason"]
    assert record["factors"]["nice"] == 5 and record["argv"][-1] == "5000"
    parsed = parse.parse_run_dir(layout.raw_dir(config["results"], cells[0]))
    assert parsed["errors"] == []
    by_copy = {r["copy"]: r for r in parsed["records"]}
    assert set(by_copy) == {0, 1, None} and by_copy[None]["detail"] == "sum over 2 copies"
    assert by_copy[None]["value"] == pytest.approx(by_copy[0]["value"] + by_copy[1]["value"])
