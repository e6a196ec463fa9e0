"""Load and check a study config, and expand it into the ordered run matrix.

Validation happens here, before any job runs: the JSON Schema
(workflow/schemas/config.schema.yaml) catches shapes and unknown keys, and
the checks below catch what a schema cannot (names that must exist in the
registries, kind-specific factors, the loopback rule). Every error names the
dotted key and what was expected.

Values are taken as a user types them on `--config`: Snakemake's parser
(snakemake/cli.py, parse_config) makes a top-level value an int, a float,
True/False (only those spellings) or else reads it with YAML's BaseLoader, in
which every scalar is a string. So `from_raw=true` arrives as 'true' and
`study='{copies: [1, 99]}'` as {'copies': ['1', '99']}. Before validation a
string where the schema accepts no string (a boolean, integer, number or null
key) is read as YAML would read it (yaml.safe_load: true/false, 3, 2.5, null)
and kept only if that gives a type the schema accepts there; anything else is
left as it was, so the error still names the key and shows the value.
"""

from __future__ import annotations

import copy as copy_module
import hashlib
import ipaddress
import json
import os
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from . import modes as modes_registry
from . import payloads as payloads_registry
from .errors import ConfigError
from .paths import SCHEMAS

# Factors each mode kind understands, with their defaults. A factor given to a
# kind that ignores it is an error: it would be recorded but have no effect.
MODE_KIND_DEFAULTS: dict[str, dict] = {
    "bare": {"variant": "image-rootfs", "cpuset": "none"},
    "docker": {"network": "none", "cpuset": "none", "copies_per_container": "all"},
    "podman": {"user": "execbench", "network": "none", "cpuset": "none", "copies_per_container": "all"},
    "vm": {"allow_emulation": False, "cpu_model": "host", "pin_vcpus": True, "memory_mb": 2048},
    # the batch system starts the image itself (HTCondor docker universe)
    "htcondor-docker": {"network": "none", "queue_wait_s": 3600},
}
# Factors a kind understands that have no default (absent = the mode decides:
# vcpus = the run's copies; no extra requirements / memory request).
MODE_KIND_OPTIONAL: dict[str, set[str]] = {
    "vm": {"vcpus"},
    "htcondor-docker": {"host", "requirements", "request_memory_mb"},
}
MODE_COMMON_KEYS = {"kind", "enabled"}
BASELINE_MODE = "bare"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


@dataclass(frozen=True)
class RunCell:
    """One run of the matrix: (payload, mode, copies, repetition[, host]) and its place in the order.

    `host` is set only when the study fans out over cluster.hosts; it is then part of the run's
    id and directory (r<rep>@<host>), and order_index counts within that host's own chain."""

    payload: str
    mode: str
    copies: int
    repetition: int  # 1-based
    order_index: int  # 0-based position in the executed order (of this host's chain)
    host: str | None = None

    @property
    def _at_host(self) -> str:
        return f"@{self.host}" if self.host else ""

    @property
    def run_id(self) -> str:
        return f"{self.payload}-{self.mode}-{self.copies}c-r{self.repetition}{self._at_host}"

    @property
    def rel_dir(self) -> str:
        return f"{self.payload}/{self.mode}/{self.copies}c/r{self.repetition}{self._at_host}"


@cache
def _schema() -> dict:
    return yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())


def _validator_filling_defaults():
    """A Draft-7 validator that also fills in each property's `default`."""
    base = jsonschema.Draft7Validator

    def properties_with_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy_module.deepcopy(subschema["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": properties_with_defaults})


def _resolve(schema: dict) -> dict:
    """A subschema with its local $ref (#/definitions/NAME) followed, sibling keys kept."""
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**_schema()["definitions"][name], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


def _alternatives(schema: dict) -> list[dict]:
    schema = _resolve(schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    return [alt for branch in branches for alt in _alternatives(branch)] if branches else [schema]


YAML_NULLS = {"null", "Null", "NULL", "~"}
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", type(None): "null"}


def _accepts(schema: dict, value) -> bool:
    """Whether `value`'s JSON type (and, for const/enum, the value itself) fits `schema`."""
    if "const" in schema:
        return schema["const"] == value and type(schema["const"]) is type(value)
    if "enum" in schema:
        return any(v == value and type(v) is type(value) for v in schema["enum"])
    wanted = schema.get("type")
    if wanted is None:
        return True
    wanted = {wanted} if isinstance(wanted, str) else set(wanted)
    kind = "string" if isinstance(value, str) else _JSON_TYPES.get(type(value))
    return kind in wanted or (kind == "integer" and "number" in wanted)


def typed_strings(value, schema: dict):
    """`value` with every string the schema wants as a boolean/integer/number/null read as YAML.

    `schema` is a (sub)schema of config.schema.yaml. Mappings and lists are walked by the
    schema's properties / additionalProperties / items; a string that the schema accepts as a
    string (also "all" of copies) or that does not read as an accepted type is left alone; where
    the schema allows null, YAML's null spellings are None."""
    alternatives = _alternatives(schema)
    if isinstance(value, str):
        if value in YAML_NULLS and any(_accepts(alt, None) for alt in alternatives):
            return None  # e.g. ingest='{manifest: null}': no manifest (a file named so: ./null)
        if any(_accepts(alt, value) for alt in alternatives):
            return value
        try:
            typed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if isinstance(typed, (dict, list, str)) or not any(_accepts(alt, typed) for alt in alternatives):
            return value
        return typed
    objects = [alt for alt in alternatives if alt.get("type") == "object"]
    if isinstance(value, dict) and objects:
        out = {}
        for key, item in value.items():
            sub = next((o["properties"][key] for o in objects if key in o.get("properties", {})), None)
            if sub is None:
                sub = next((o["additionalProperties"] for o in objects
                            if isinstance(o.get("additionalProperties"), dict)), None)
            out[key] = item if sub is None else typed_strings(item, sub)
        return out
    arrays = [alt for alt in alternatives if alt.get("type") == "array" and isinstance(alt.get("items"), dict)]
    if isinstance(value, list) and arrays:
        return [typed_strings(item, arrays[0]["items"]) for item in value]
    return value


def _dotted(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _explain(error: jsonschema.ValidationError) -> ConfigError:
    """Turn a jsonschema error into one that names the key and what was expected."""
    # anyOf/oneOf: the alternatives' own errors are partial; the schema's
    # description of the whole value says what was expected.
    if error.validator in ("anyOf", "oneOf") and isinstance(error.schema, dict):
        if "description" in error.schema:
            return ConfigError(_dotted(error.absolute_path), error.schema["description"], error.instance)
        error = jsonschema.exceptions.best_match(error.context) or error
    key = _dotted(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        where = f"{key}." if error.absolute_path else ""
        return ConfigError(f"{where}{extra[0] if extra else '?'}", f"no unknown key (allowed here: {allowed})")
    if kind == "enum":
        return ConfigError(key, f"one of {schema['enum']}", error.instance)
    if kind == "const":
        return ConfigError(key, f"{schema['const']!r}", error.instance)
    if kind == "type":
        return ConfigError(key, f"a value of type {schema['type']}", error.instance)
    if kind in ("minimum", "exclusiveMinimum"):
        return ConfigError(key, f"a number {'>=' if kind == 'minimum' else '>'} {schema[kind]}", error.instance)
    if kind in ("minProperties", "minItems"):
        return ConfigError(key, f"at least {schema[kind]} entr{'y' if schema[kind] == 1 else 'ies'}", error.instance)
    if kind == "maxProperties":
        return ConfigError(key, f"at most {schema[kind]} of {sorted(schema.get('properties', {}))}", error.instance)
    if kind == "required":
        return ConfigError(key, error.message)
    if kind == "pattern":
        hint = schema.get("description", "host:port")
        return ConfigError(key, f"a string matching {schema['pattern']} ({hint})", error.instance)
    return ConfigError(key, error.message)


def is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_modes(config: dict) -> None:
    for name, settings in config["modes"].items():
        kind = settings.setdefault("kind", name)
        key = f"modes.{name}"
        if kind not in MODE_KIND_DEFAULTS:
            raise ConfigError(f"{key}.kind", f"one of {sorted(MODE_KIND_DEFAULTS)} (or a mode named after one)", kind)
        allowed = MODE_COMMON_KEYS | set(MODE_KIND_DEFAULTS[kind]) | MODE_KIND_OPTIONAL.get(kind, set())
        for factor in settings:
            if factor not in allowed:
                raise ConfigError(f"{key}.{factor}", f"a factor of kind '{kind}' ({sorted(allowed)})")
        for factor, default in MODE_KIND_DEFAULTS[kind].items():
            settings.setdefault(factor, default)
        settings.setdefault("enabled", True)
        if settings["enabled"] and kind not in modes_registry.MODES:
            raise ConfigError(f"{key}.kind", f"a mode kind implemented here {sorted(modes_registry.MODES)}", kind)
    baseline = config["modes"].get(BASELINE_MODE)
    if not baseline or baseline["kind"] != "bare" or not baseline["enabled"]:
        raise ConfigError(
            f"modes.{BASELINE_MODE}", "an enabled mode named 'bare' of kind bare: the baseline every ratio divides by"
        )


def _check_names(config: dict) -> None:
    if config["image"] not in config["images"]:
        raise ConfigError("image", f"a key of images ({sorted(config['images'])})", config["image"])
    for name in config["payloads"]:
        if name not in payloads_registry.PAYLOADS:
            raise ConfigError(f"payloads.{name}", f"a known payload ({sorted(payloads_registry.PAYLOADS)})")
    if not is_loopback(config["registry"]["address"]) and not config["registry"]["allow_non_loopback"]:
        raise ConfigError(
            "registry.address",
            "a loopback address (127.0.0.1, ::1, localhost) unless registry.allow_non_loopback is true",
            config["registry"]["address"],
        )


def load_config(source: str | Path | dict, *, source_name: str | None = None) -> dict:
    """Validated config with defaults filled in. Raises ConfigError naming the key."""
    if isinstance(source, dict):
        data, name = copy_module.deepcopy(source), source_name or "config"
    else:
        path = Path(source)
        name = source_name or str(path)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ConfigError("(file)", "an existing config file", str(path), source=name) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark else ""
            raise ConfigError(f"(YAML{line})", f"valid YAML ({getattr(exc, 'problem', exc)})", source=name) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("(top level)", "a mapping of keys", type(data).__name__, source=name)
    data = typed_strings(data, _schema())
    try:
        errors = sorted(_validator_filling_defaults()(_schema()).iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            raise _explain(errors[0])
        _check_modes(data)
        _check_names(data)
        if not run_matrix(data):
            raise ConfigError("payloads/modes", "at least one enabled payload and one enabled mode (the matrix is empty)")
    except ConfigError as exc:
        exc.source = name
        exc.args = (f"{name}: key '{exc.key}': expected {exc.expected}" + ("" if exc.got is None else f", got {exc.got!r}"),)
        raise
    return data


def logical_cores() -> int:
    """Logical cores this process may use (the HS06 'all' copies)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def resolve_copies(values: list, cores: int | None = None) -> list[int]:
    cores = cores or logical_cores()
    resolved = [cores if v == "all" else int(v) for v in values]
    return sorted(dict.fromkeys(resolved))


def enabled(section: dict) -> list[str]:
    return [name for name, settings in section.items() if settings.get("enabled", True)]


def run_matrix(config: dict, cores: int | None = None) -> list[RunCell]:
    """Every run in execution order (per host, when the study fans out over cluster.hosts).

    Blocks: repetition -> payload -> copies -> modes in a seeded shuffle. All
    modes of one (payload, copies) run back to back, and repetition r of every
    mode finishes before r+1 starts, so slow drift of the machine lands on
    every mode alike instead of masquerading as overhead. Each host of
    cluster.hosts gets the whole matrix as its own chain (order_index from 0),
    shuffled with the host in the seed; the hosts run in parallel.
    """
    hosts = config.get("cluster", {}).get("hosts") or [None]
    return [cell for host in hosts for cell in _host_chain(config, host, cores)]


def _host_chain(config: dict, host: str | None, cores: int | None) -> list[RunCell]:
    study = config["study"]
    payload_names = enabled(config["payloads"])
    mode_names = enabled(config["modes"])
    cells: list[RunCell] = []
    for rep in range(1, study["repetitions"] + 1):
        for payload in payload_names:
            copies_list = config["payloads"][payload].get("copies", study["copies"])
            for copies in resolve_copies(copies_list, cores):
                order = list(mode_names)
                seed = f"{study['seed']}/{rep}/{payload}/{copies}" + (f"/{host}" if host else "")
                random.Random(seed).shuffle(order)
                for mode in order:
                    cells.append(RunCell(payload, mode, copies, rep, len(cells), host))
    return cells


def config_sha256(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
