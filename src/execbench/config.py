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
import math
import os
import pwd
import random
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from . import modes as modes_registry
from . import payloads as payloads_registry
from .errors import ConfigError
from .layout import NAME_SCHEMA, RunKey
from .paths import REPO_ROOT, SCHEMAS

BASELINE_MODE = "bare"
DEFAULT_CONFIG = REPO_ROOT / "config" / "config.yaml"
EXTENDS_DEFAULT = "default"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
# Bounds on a config before it is read further (issue 13): a config is a few kB; these stop a
# YAML alias bomb ("billion laughs": aliases count once per use), a nesting that would
# exhaust the recursion of every later walk, and a file or value of megabytes.
MAX_CONFIG_BYTES = 1 << 20
MAX_VALUES = 100_000  # mappings, lists and scalars, each alias use counted
MAX_DEPTH = 32
MAX_STRING = 65_536


@dataclass(frozen=True)
class RunCell(RunKey):
    """One run of the matrix (a layout.RunKey) and its place in the executed order.

    `host` is set only when the study fans out over cluster.hosts; it is then part of the run's
    id and directory (r<rep>@<host>), and order_index counts within that host's own chain."""

    order_index: int = 0  # 0-based position in the executed order (of this host's chain)


COMMON_MODE_SETTINGS = {
    "kind": {"description": "How copies are started: a registered mode kind; defaults to the mode's name."},
    "enabled": {"type": "boolean", "default": True, "description": "Run this mode."},
    "payloads": {"type": ["array", "null"], "items": {"type": "string", "maxLength": 64}, "maxItems": 64,
                 "uniqueItems": True, "default": None,
                 "description": "Run this mode for these payloads only (null: every enabled payload); e.g. "
                                "the controls for the CPU-bound payloads only."},
    "copies": {"type": ["array", "null"], "items": {"type": "integer", "minimum": 1, "maximum": 4096},
               "maxItems": 64, "uniqueItems": True, "default": None,
               "description": "Run this mode at these copy counts only (null: every copy count of the payload); "
                              "e.g. the controls at 1 copy, where they cost least."},
    "control": {"enum": ["none", "negative", "positive"], "default": "none",
                "description": "A control of the study's resolving power rather than an answer: negative = a "
                               "second label of bare metal (A/A), which must come out not significant at the "
                               "nominal rate; positive = a known, real slowdown (bare metal under a CPU quota) "
                               "the study must detect with the right size."},
}
COMMON_PAYLOAD_SETTINGS = {
    "enabled": {"type": "boolean", "default": True, "description": "Run this payload."},
    "copies": {"$ref": "#/definitions/copies_list",
               "description": "Copy counts for this payload only (default: study.copies)."},
    "timeout_s": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 7 * 86400, "default": None,
                  "description": "Seconds before a copy is killed and the run marked failed "
                                 "(null: the payload's own default for its size)."},
}
SIZE_SETTING = {"description": "smoke: seconds per benchmark (CI, quick study); standard: >= 30 s per benchmark.",
                "default": "smoke"}


def _mode_schema() -> dict:
    """definitions.mode: kind and enabled, then per kind (if/then) exactly that kind's factors, each
    with its default: a factor given to a kind that ignores it is an error."""
    kinds = modes_registry.MODES.names()
    branches = []
    for kind in kinds:
        cls = modes_registry.MODES.load(kind)
        properties = {**COMMON_MODE_SETTINGS, "kind": {"const": kind}, **cls.settings_schema}
        branches.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                         "then": {"description": f"kind {kind}: {cls.description}", "properties": properties,
                                  "x-expected": f"a factor of kind '{kind}'",
                                  "additionalProperties": False}})
    return {"type": "object", "description": "One execution mode instance. Factors not used by its kind are rejected.",
            "required": ["kind"],
            "properties": {**COMMON_MODE_SETTINGS, "kind": {"enum": kinds, **COMMON_MODE_SETTINGS["kind"]}},
            "allOf": branches}


def _payload_schema(name: str) -> dict:
    cls = payloads_registry.PAYLOADS.load(name)
    properties = dict(COMMON_PAYLOAD_SETTINGS)
    if cls.sizes:
        properties["size"] = {"enum": list(cls.sizes), **SIZE_SETTING}
    properties.update(cls.settings_schema)
    return {"type": "object", "description": f"{name}: {cls.description}", "additionalProperties": False,
            "properties": properties}


@cache
def _schema() -> dict:
    """The whole config schema: workflow/schemas/config.schema.yaml plus what each registered mode
    and payload says about its own settings (settings_schema)."""
    schema = yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())
    schema["definitions"]["name"] = dict(NAME_SCHEMA)
    schema["definitions"]["mode"] = _mode_schema()
    payloads = schema["properties"]["payloads"]
    payloads["properties"] = {name: _payload_schema(name) for name in payloads_registry.PAYLOADS}
    payloads["additionalProperties"] = False
    payloads["x-expected"] = "a registered payload"  # the message of an unknown name (_explain)
    return schema


def config_schema() -> dict:
    """A copy of the assembled config schema (for documentation: execbench.schema_doc)."""
    return copy_module.deepcopy(_schema())


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
        if any(_accepts(alt, value) for alt in alternatives) or len(value) > 64:  # no scalar is longer
            return value
        try:
            typed = yaml.safe_load(value)
        except (yaml.YAMLError, RecursionError):
            return value
        if isinstance(typed, (dict, list, str)) or not any(_accepts(alt, typed) for alt in alternatives):
            return value
        return typed
    objects = [alt for alt in alternatives if alt.get("type") == "object"]
    if isinstance(value, dict) and objects:
        # a plugin's own settings sit in if/then branches (a mode kind's factors): the branches
        # whose condition the mapping meets count as its properties too
        objects = objects + [branch["then"] for o in objects for branch in o.get("allOf", [])
                             if "then" in branch and jsonschema.Draft7Validator(branch.get("if", {})).is_valid(value)]
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
    if "propertyNames" in error.absolute_schema_path:  # a name (mode, image) that becomes a path part
        key = f"{key}.{error.instance}" if error.absolute_path else str(error.instance)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        where = f"{key}." if error.absolute_path else ""
        what = schema.get("x-expected", "no unknown key")  # e.g. "a registered payload"
        return ConfigError(f"{where}{extra[0] if extra else '?'}", f"{what} (allowed here: {allowed})")
    if kind == "enum":
        return ConfigError(key, f"one of {schema['enum']}", error.instance)
    if kind == "const":
        return ConfigError(key, f"{schema['const']!r}", error.instance)
    if kind == "type":
        return ConfigError(key, f"a value of type {schema['type']}", error.instance)
    if kind in ("minimum", "exclusiveMinimum"):
        return ConfigError(key, f"a number {'>=' if kind == 'minimum' else '>'} {schema[kind]}", error.instance)
    if kind in ("maximum", "exclusiveMaximum"):
        return ConfigError(key, f"a number {'<=' if kind == 'maximum' else '<'} {schema[kind]}", _short(error.instance))
    if kind == "minLength":
        return ConfigError(key, f"at least {schema[kind]} character{'s' if schema[kind] > 1 else ''}", error.instance)
    if kind in ("maxLength", "maxItems"):
        what = "characters" if kind == "maxLength" else "entries"
        return ConfigError(key, f"at most {schema[kind]} {what}", _short(error.instance))
    if kind in ("minProperties", "minItems"):
        return ConfigError(key, f"at least {schema[kind]} entr{'y' if schema[kind] == 1 else 'ies'}", error.instance)
    if kind == "maxProperties":
        if schema.get("properties"):
            return ConfigError(key, f"at most {schema[kind]} of {sorted(schema.get('properties', {}))}", error.instance)
        return ConfigError(key, f"at most {schema[kind]} entries", _short(error.instance))
    if kind == "required":
        return ConfigError(key, error.message)
    if kind == "pattern":
        hint = schema.get("description", "host:port")
        return ConfigError(key, f"a string matching {schema['pattern']} ({hint})", _short(error.instance))
    return ConfigError(key, _short(error.message))


def _short(value, limit: int = 200):
    """A value as an error may show it: long strings and containers cut (an error never carries
    a whole file, nor a megabyte of one value)."""
    if isinstance(value, (dict, list)):
        text = repr(value)
        return value if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}... ({len(value)} characters)"
    return value


def _size_error(path: list, kind: str, got=None) -> ConfigError:
    key = _dotted(path)
    if kind == "values":
        return ConfigError(key, f"a config of at most {MAX_VALUES} values (a YAML alias counts once per use)",
                           f"more than {MAX_VALUES}")
    if kind == "depth":
        return ConfigError(key, f"at most {MAX_DEPTH} levels of nesting", got)
    if kind == "string":
        return ConfigError(key, f"a string of at most {MAX_STRING} characters", f"{got} characters")
    if kind == "key":
        return ConfigError(key, "string keys only", _short(got))
    return ConfigError(key, "a finite number", got)


def check_size(data, path: list | None = None) -> None:
    """Raise ConfigError when `data` (a loaded config: dicts, lists, scalars) exceeds the bounds
    above, holds a non-string key or a non-finite number. Stops at the first excess, so a bomb
    costs MAX_VALUES steps, not its expansion."""
    count, stack = 0, [(data, list(path or []))]
    while stack:
        node, where = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise _size_error([], "values")
        if len(where) > MAX_DEPTH:
            raise _size_error(where[:MAX_DEPTH], "depth", f"deeper than {MAX_DEPTH}")
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    raise _size_error(where, "key", key)
                if len(key) > MAX_STRING:
                    raise _size_error(where, "string", len(key))
                stack.append((value, where + [key]))
        elif isinstance(node, list):
            stack.extend((item, where + [i]) for i, item in enumerate(node))
        elif isinstance(node, str) and len(node) > MAX_STRING:
            raise _size_error(where, "string", len(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise _size_error(where, "number", node)


def _check_nodes(node) -> None:
    """check_size's value count and depth on a composed YAML node graph, before anything is built
    from it (an alias is the same node object, visited once per use)."""
    count, stack = 0, [(node, 0)]
    while stack:
        current, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise _size_error([], "values")
        if depth > MAX_DEPTH:
            raise ConfigError(f"(YAML line {current.start_mark.line + 1})", f"at most {MAX_DEPTH} levels of nesting")
        if isinstance(current, yaml.MappingNode):
            seen: dict = {}
            for key, _ in current.value:  # a key twice: YAML keeps the last silently, a typo's twin wins
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise ConfigError(f"(YAML line {key.start_mark.line + 1})",
                                          f"each key once in a mapping: {key.value[:40]!r} is already given on "
                                          f"line {seen[key.value]}")
                    seen[key.value] = key.start_mark.line + 1
            stack.extend((part, depth + 1) for pair in current.value for part in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in current.value)


def read_config_file(path: Path, name: str):
    """The YAML document of a config file, bounded and UTF-8 (a BOM and CRLF line ends are fine).
    Raises ConfigError naming the file and, for YAML errors, the line; never shows the file's
    contents beyond the YAML parser's one-line problem."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("(file)", "an existing config file", str(path), source=name) from None
    except OSError as err:
        raise ConfigError("(file)", f"a readable config file ({err.strerror})", str(path), source=name) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError("(file)", f"a config file of at most {MAX_CONFIG_BYTES} bytes", "a larger file", source=name)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError("(file)", "UTF-8 text", "a UTF-16 or UTF-32 byte order mark", source=name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError("(file)", "UTF-8 text", f"a byte that is not UTF-8 at offset {err.start}", source=name) from None
    try:  # nesting first, from the event stream (the composer would recurse once per level)
        depth, events = 0, 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            events += 1
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError(f"(YAML line {event.start_mark.line + 1})",
                                      f"at most {MAX_DEPTH} levels of nesting", source=name)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if events > 4 * MAX_VALUES:
                raise _size_error([], "values")
    except yaml.YAMLError:
        pass  # reported with its line by the loader below
    except ConfigError as exc:
        raise exc.from_source(name) from None
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # its reader already refuses non-printable characters
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"(YAML{line})", f"valid YAML ({getattr(exc, 'problem', None) or exc})", source=name) from None
    except ConfigError as exc:
        raise exc.from_source(name) from None
    finally:
        if loader is not None:
            loader.dispose()


def is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fill_mode_kinds(config: dict) -> None:
    """A mode's kind defaults to its name (before validation: the schema's per-kind factors hang on it)."""
    for name, settings in (config.get("modes") or {}).items():
        if isinstance(settings, dict) and "kind" not in settings:
            if name not in modes_registry.MODES:
                raise ConfigError(f"modes.{name}.kind", f"one of {modes_registry.MODES.names()} "
                                                        "(or a mode named after one)")
            settings["kind"] = name


def _check_baseline(config: dict) -> None:
    baseline = config["modes"].get(BASELINE_MODE)
    if not baseline or baseline["kind"] != "bare" or not baseline["enabled"]:
        raise ConfigError(
            f"modes.{BASELINE_MODE}", "an enabled mode named 'bare' of kind bare: the baseline every ratio divides by"
        )


SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr")
SOURCE_DIRS = ("src", "workflow", "config", "envs", "scripts", "profiles", "tests", "bench", "docs", ".git")


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _owner(uid: int) -> str:
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def _kind(mode: int) -> str:
    return ("a regular file" if stat.S_ISREG(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a directory")


def _unsafe_component(where: str) -> str | None:
    """Why another local user could redirect root's writes to `where` (absolute, as typed), or None.

    The threat model of hostlock (issue 13, R1): execbench runs as root on nodes other users
    share, and fs.protected_symlinks may be 0. The path is walked as the kernel resolves it,
    one component at a time (a link's target spliced in, `..` taken after the link), and
    refused when an existing component is a symbolic link owned by neither root nor the caller,
    when an existing component sits in a world-writable directory its owner or anyone could
    swap it in (no sticky bit, or owned by another user), when the final directory is another
    user's or writable by all, or when a component still to be created sits in a directory
    other users can write (they could plant a link there before the workflow makes it)."""
    parts = [p for p in where.split("/") if p]
    current, links = "/", 0
    while parts:
        name = parts.pop(0)
        if name == ".":
            continue
        if name == "..":
            current = os.path.dirname(current)
            continue
        parent = os.lstat(current)
        path = os.path.join(current, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if parent.st_mode & stat.S_IWOTH or not _trusted_owner(parent.st_uid):
                return (f"{path} does not exist yet and {current} is writable by other users "
                        f"(mode {stat.S_IMODE(parent.st_mode):04o}, owner {_owner(parent.st_uid)}): anyone could "
                        f"plant a link there before the workflow creates it; create {path} first as root, "
                        "or use a directory only root can write")
            return None  # the rest is made by root (mkdir -p) below a directory no one else can write
        except OSError as err:
            return f"{path}: {err.strerror}"
        if stat.S_ISLNK(st.st_mode) and not _trusted_owner(st.st_uid):
            return (f"{path} is a symbolic link owned by {_owner(st.st_uid)}, not root: another user "
                    "chooses where it points; expected a real directory or a link owned by root")
        if parent.st_mode & stat.S_IWOTH and (not parent.st_mode & stat.S_ISVTX or not _trusted_owner(parent.st_uid)
                                              or not _trusted_owner(st.st_uid)):
            return (f"{path} sits in {current}, writable by other users (mode {stat.S_IMODE(parent.st_mode):04o}, "
                    f"owner {_owner(parent.st_uid)}), and is owned by {_owner(st.st_uid)}: another user could "
                    "replace it with a link; expected every component owned by root in a directory only root "
                    "can write, or in a sticky directory of root's")
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 40:
                return f"{path}: too many levels of symbolic links"
            target = os.readlink(path)
            parts = [p for p in target.split("/") if p] + parts
            current = "/" if target.startswith("/") else current
            continue
        if not stat.S_ISDIR(st.st_mode):
            return f"{path} is {_kind(st.st_mode)}; expected a directory"
        current = path
    st = os.lstat(current)
    if not _trusted_owner(st.st_uid):
        return (f"{current} is owned by {_owner(st.st_uid)}, not by root (uid {os.geteuid()} runs execbench): "
                "its owner could plant links in it; expected a directory of root's own")
    if st.st_mode & stat.S_IWOTH:
        return (f"{current} is writable by other users (mode {stat.S_IMODE(st.st_mode):04o}): anyone could plant "
                "links in it; expected a directory only root can write")
    return None


def _check_place(key: str, given: object) -> Path:
    """`given` (results or cache, relative to the checkout) as an absolute path, checked: not "/"
    nor a system directory, neither as typed nor where it resolves, and no other user able to
    redirect it (_unsafe_component). Raises ConfigError naming the key, the path and the component."""
    if not str(given).strip():
        raise ConfigError(key, "a directory path (not empty)", given)
    typed = os.path.join(REPO_ROOT, os.path.expanduser(str(given)))
    where = Path(os.path.abspath(typed))
    for candidate in (where, Path(os.path.realpath(typed))):
        if candidate == Path("/") or any(candidate == Path(d) or Path(d) in candidate.parents for d in SYSTEM_DIRS):
            resolved = "" if candidate == where else f" (it resolves to {candidate})"
            raise ConfigError(key, f"a directory of its own, not / nor under a system directory "
                                   f"({', '.join(SYSTEM_DIRS)}){resolved}", given)
    why = _unsafe_component(typed)
    if why:
        raise ConfigError(key, f"a directory no other user can redirect: {why}", given)
    return where


def _check_results(config: dict) -> None:
    """results and cache: directories of their own, never "/", a system directory (as typed or
    resolved) or a place another user could redirect (_check_place); results is neither the
    checkout's own sources nor the cache (the workflow writes, seals and sets files aside there)."""
    given = config["results"]
    where = _check_place("results", given)
    cache = _check_place("cache", config["cache"])
    resolved = Path(os.path.realpath(where))
    mine = [REPO_ROOT / d for d in SOURCE_DIRS] + [cache]
    mine += [Path(os.path.realpath(d)) for d in mine]
    root = {REPO_ROOT, Path(os.path.realpath(REPO_ROOT))}
    for candidate in (where, resolved):
        if candidate in root or any(candidate == d or d in candidate.parents for d in mine):
            raise ConfigError("results", "a directory of its own, not the checkout, its sources "
                                         f"({', '.join(SOURCE_DIRS)}) nor the cache ({config['cache']})", given)


def _check_names(config: dict) -> None:
    # a registered payload the study leaves out is fine (the mode runs nothing of it); a typo is not
    known = payloads_registry.PAYLOADS.names()
    for name, settings in config["modes"].items():
        for i, payload in enumerate(settings.get("payloads") or []):
            if payload not in known:
                raise ConfigError(f"modes.{name}.payloads[{i}]", f"a registered payload ({known})", payload)
    if config["modes"][BASELINE_MODE].get("payloads") is not None:
        raise ConfigError(f"modes.{BASELINE_MODE}.payloads", "null: the baseline runs every payload",
                          config["modes"][BASELINE_MODE]["payloads"])
    if config["modes"][BASELINE_MODE].get("copies") is not None:
        raise ConfigError(f"modes.{BASELINE_MODE}.copies", "null: the baseline runs every copy count",
                          config["modes"][BASELINE_MODE]["copies"])
    adaptive = config["study"].get("adaptive") or {}
    for i, payload in enumerate(adaptive.get("payloads") or []):
        if payload not in known:
            raise ConfigError(f"study.adaptive.payloads[{i}]", f"a registered payload ({known})", payload)
    if config["image"] not in config["images"]:
        raise ConfigError("image", f"a key of images ({sorted(config['images'])})", config["image"])
    port = int(config["registry"]["address"].rsplit(":", 1)[1])
    if not 1 <= port <= 65535:
        raise ConfigError("registry.address", "host:port with a port 1-65535", config["registry"]["address"])
    if not is_loopback(config["registry"]["address"]) and not config["registry"]["allow_non_loopback"]:
        raise ConfigError(
            "registry.address",
            "a loopback address (127.0.0.1, ::1, localhost) unless registry.allow_non_loopback is true",
            config["registry"]["address"],
        )


def load_config(source: str | Path | dict, *, source_name: str | None = None) -> dict:
    """Validated config with defaults filled in. Raises ConfigError naming the key."""
    if isinstance(source, dict):
        name = source_name or "config"
        try:
            check_size(source)  # before the deep copy: a bomb must not be expanded
        except ConfigError as exc:
            raise exc.from_source(name) from None
        data = copy_module.deepcopy(source)
    else:
        path = Path(source)
        name = source_name or str(path)
        data = read_config_file(path, name)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("(top level)", "a mapping of keys", type(data).__name__, source=name)
    try:
        check_size(data)
        _fill_mode_kinds(data)  # first: a mode's factors are typed by its kind's schema
        data = typed_strings(data, _schema())
        errors = sorted(_validator_filling_defaults()(_schema()).iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            raise _explain(errors[0])
        _check_baseline(data)
        _check_names(data)
        _check_results(data)
        if not run_matrix(data):
            raise ConfigError("payloads/modes", "at least one enabled payload and one enabled mode (the matrix is empty)")
    except ConfigError as exc:
        raise exc.from_source(name) from None
    return data


# --- where a study's config comes from ------------------------------------------------------------


@dataclass(frozen=True)
class ConfigSource:
    """One layer of a study's config, in merge order (later layers win)."""

    kind: str  # "default" (config/config.yaml), "extended" (a base named by `extends`), "file", "--config"
    name: str  # path as given, or the --config arguments
    keys: tuple[str, ...]  # the top-level keys this layer sets

    def describe(self) -> str:
        return f"{self.name} ({', '.join(self.keys) or 'nothing'})"


def deep_merge(base: dict, over: dict) -> dict:
    """`over` merged into a copy of `base`: mappings key by key (recursively), anything else replaced
    (Snakemake's own rule for configfiles, snakemake.utils.update_config)."""
    out = copy_module.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy_module.deepcopy(value)
    return out


def _read_mapping(path: Path, name: str) -> dict:
    """A config file's top-level mapping, read within execbench's bounds (read_config_file)."""
    data = read_config_file(Path(path), name)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("(top level)", "a mapping of keys", type(data).__name__, source=name)
    return data


def _shown(path: Path) -> str:
    """A path as a person typed it: relative to the working directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _with_bases(path: Path, default: Path, seen: tuple = ()) -> tuple[dict, list[ConfigSource]]:
    """A config file with the chain of files its `extends` names merged under it."""
    name = _shown(path)
    if path.resolve() in seen:
        raise ConfigError("extends", "no cycle of files extending each other", " -> ".join(map(str, seen + (path,))),
                          source=name)
    data = _read_mapping(path, name)
    base = data.pop("extends", None)
    kind = "file" if not seen else "extended"
    if base is None:
        return data, [ConfigSource("default" if path.resolve() == default.resolve() else kind, name, tuple(data))]
    if not isinstance(base, str) or not base:
        raise ConfigError("extends", f"'{EXTENDS_DEFAULT}' (config/config.yaml) or the path of a config file",
                          base, source=name)
    base_path = default if base == EXTENDS_DEFAULT else (path.parent / base)
    merged, sources = _with_bases(base_path, default, seen + (path.resolve(),))
    return deep_merge(merged, data), sources + [ConfigSource(kind, name, tuple(data))]


def compose_config(configfiles, cli: dict | None = None, default: Path = DEFAULT_CONFIG) -> tuple[dict, list[ConfigSource]]:
    """The raw (unvalidated) config an invocation asks for, and where each layer came from.

    - No config file: the default study, config/config.yaml.
    - Config files (--configfile A B ...): the first is the whole study; its sections left out take
      the schema's defaults (config/README.md), the default study is NOT read. With a top-level
      `extends: default` (or `extends: <path>`, relative to the file) the first file is merged
      over that config instead (mappings key by key, the file wins; `enabled: false` takes a mode
      or payload out of the matrix). Later files are merged over the earlier ones, as Snakemake
      merges them; only the first may extend.
    - --config values (`cli`) last.
    Raises ConfigError naming the file and key (an unreadable file, `extends` in a later file, a cycle)."""
    default = Path(default)
    files = [Path(f) for f in configfiles or []] or [default]
    merged, sources = _with_bases(files[0], default)
    for path in files[1:]:
        data = _read_mapping(path, _shown(path))
        if "extends" in data:
            raise ConfigError("extends", f"extends only in the first config file ({files[0]})", data["extends"],
                              source=str(path))
        merged = deep_merge(merged, data)
        sources.append(ConfigSource("file", _shown(path), tuple(data)))
    if cli:
        merged = deep_merge(merged, dict(cli))
        sources.append(ConfigSource("--config", " ".join(f"{k}=..." for k in cli), tuple(cli)))
    return merged, sources


def describe_sources(sources: list[ConfigSource]) -> str:
    """'config/config.yaml (the default study), extended by site.yaml (study, modes), then --config (results)'."""
    out, top_seen = [], False
    for i, source in enumerate(sources):
        keys = f" ({', '.join(source.keys)})" if source.keys else ""
        if source.kind == "--config":
            out.append(f"then --config{keys}")
        elif top_seen:
            out.append(f"then {source.name}{keys}")
        elif i == 0:
            top_seen = source.kind == "file"
            out.append(source.name + (" (the default study)" if source.kind == "default" else
                                      " (the whole study: config/config.yaml is not read)" if top_seen else ""))
        else:
            top_seen = source.kind == "file"
            out.append(f"extended by {source.name}{keys}")
    return ", ".join(out)


def config_warnings(config: dict, cores: int | None = None) -> list[str]:
    """What a valid config asks that may not be what was meant, one sentence each (printed when
    the workflow starts; the run is not refused). Today: more copies than this host's logical
    cores. Not an error: copies above the core count is a legitimate experiment
    (oversubscription), and a cluster's submit host may have fewer cores than its nodes
    (no warning with cluster.hosts). Every run records `factors.oversubscribed` on its own host."""
    if config.get("cluster", {}).get("hosts"):
        return []
    cores = cores or logical_cores()
    places = [("study.copies", config["study"]["copies"])] + [
        (f"payloads.{name}.copies", settings["copies"]) for name, settings in config["payloads"].items()
        if settings.get("enabled", True) and "copies" in settings]
    out = []
    for where, values in places:
        over = sorted({int(v) for v in values if v != "all" and int(v) > cores})
        if over:
            out.append(f"{where} asks for {', '.join(map(str, over))} copies on a host with {cores} logical cores: "
                       "copies will share cores (oversubscribed). Runs say so (factors.oversubscribed) and ratios "
                       "stay paired per host, but per-copy scores then measure the sharing ('all' = one per core, "
                       "the HS06 rule).")
    return out


def mode_settings(kind: str, given: dict | None = None) -> dict:
    """One mode of `kind` as a study config gives it to the mode: `given` checked against the kind's
    settings schema, defaults filled in (for scripts and tests that drive a mode directly).
    Raises ConfigError naming modes.<kind>.<key>."""
    raw = {"images": {"x": {"base": {"reference": "x"}, "definition": "."}}, "image": "x",
           "modes": {BASELINE_MODE: {"kind": "bare"}, kind: {**(given or {}), "kind": kind}},
           "payloads": {"startup": {}}}
    return load_config(raw, source_name="mode settings")["modes"][kind]


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


def mode_order(config: dict, repetition: int, payload: str, copies: int, host: str | None = None,
               turn: int = 0) -> list[str]:
    """The enabled modes of a (payload, copies) cell in the order they run in a round.

    A seeded shuffle (study.seed, the cell, the host: recorded, reproducible), with bare metal
    moved to the middle so every mode runs next to it or one away: the two halves of a pair are
    close in time. The same order is reversed every other round and `turn` (a payload's units):
    A B C, then C B A (the ABBA design), so a drift that is linear in time cancels over two. Modes
    limited to other payloads or copy counts (modes.<name>.payloads, .copies) are left out."""
    names = [m for m in enabled(config["modes"])
             if payload in (config["modes"][m].get("payloads") or [payload])
             and copies in (config["modes"][m].get("copies") or [copies])]
    seed = f"{config['study']['seed']}/{payload}/{copies}" + (f"/{host}" if host else "")
    random.Random(seed).shuffle(names)
    if BASELINE_MODE in names:
        names.remove(BASELINE_MODE)
        names.insert(len(names) // 2, BASELINE_MODE)
    return names[::-1] if (repetition + turn) % 2 == 0 else names


def run_matrix(config: dict, cores: int | None = None, repetitions: int | None = None) -> list[RunCell]:
    """Every run of the study's fixed rounds (study.repetitions, or `repetitions`), in the order
    they start, per host of cluster.hosts (else one host).

    Blocks: repetition -> payload -> copies -> modes (mode_order). All modes of one (payload,
    copies) run back to back and repetition r of every mode finishes before r+1 starts, so slow
    drift lands on every mode alike instead of masquerading as overhead; a payload run unit by unit
    alternates the modes per unit (execbench.chain). Each host gets the whole matrix as its own
    chain (order_index from 0); the hosts run in parallel. Adaptive rounds beyond these are added
    by the chain job (study.adaptive). A payload that `runs_once_first` (the host audit) heads
    each chain, in repetition 1 only: the host is checked before any number is taken on it."""
    hosts = config.get("cluster", {}).get("hosts") or [None]
    return [cell for host in hosts for cell in _host_chain(config, host, cores, repetitions)]


def cells_of_round(config: dict, repetition: int, host: str | None = None, cores: int | None = None,
                   only: set | None = None) -> list[RunCell]:
    """The runs of one round on one host, in start order (order_index 0-based within the round);
    `only`: the (payload, copies) pairs to include (all when None)."""
    study = config["study"]
    names = enabled(config["payloads"])
    # a payload that runs_once_first (the host audit) heads round 1 and is in no other round
    first = [p for p in names if p in payloads_registry.PAYLOADS and payloads_registry.PAYLOADS.load(p).runs_once_first]
    rest = [p for p in names if p not in first]
    cells: list[RunCell] = []
    for payload in first + rest if repetition == 1 else rest:
        copies_list = config["payloads"][payload].get("copies") or study["copies"]
        for copies in resolve_copies(copies_list, cores):
            if only is not None and (payload, copies) not in only:
                continue
            for mode in mode_order(config, repetition, payload, copies, host):
                cells.append(RunCell(payload, mode, copies, repetition, host, order_index=len(cells)))
    return cells


def _host_chain(config: dict, host: str | None, cores: int | None, repetitions: int | None = None) -> list[RunCell]:
    cells: list[RunCell] = []
    for rep in range(1, (repetitions or config["study"]["repetitions"]) + 1):
        for cell in cells_of_round(config, rep, host, cores):
            cells.append(RunCell(cell.payload, cell.mode, cell.copies, rep, host, order_index=len(cells)))
    return cells


def config_sha256(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
