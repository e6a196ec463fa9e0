"""Render config/README.md from the config JSON Schema, so the docs name every key.

The schema is the assembled one (execbench.config.config_schema): the shared keys from
workflow/schemas/config.schema.yaml plus each registered mode's and payload's own settings, so a
new plugin's settings appear here without editing this page by hand.

    python -m execbench schema-doc > config/README.md
"""

from __future__ import annotations

import json

from .config import config_schema

HEADER = """# Configuration

`config/config.yaml` is the default quick study; `config/full.yaml` the real
one; `config/examples/` holds variants (e.g. a base image pulled from a site
registry). Choose one with `bash scripts/run.sh --configfile FILE`, or change a
value with `--config key=value` (nested: `--config study='{copies: [1, 99]}'`).
Values are taken as typed: where a key wants a boolean, a number or null,
`true`/`false`, `3`, `2.5` and `null` are read as such, also inside a mapping
(Snakemake's own `--config` parser leaves them strings).

The config is checked against `workflow/schemas/config.schema.yaml` before any
job runs: an unknown key, a wrong type, an unknown mode kind or payload, an
empty matrix, copies < 1, or a registry off loopback without
`registry.allow_non_loopback` stops the workflow with a message naming the key.

This page is generated from the schema and the registered modes and payloads
(`python -m execbench schema-doc > config/README.md`); a test checks it is
current.

| key | type | default | description |
|---|---|---|---|
"""


def _resolve(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        merged = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**root["definitions"][name], **merged}
    return schema


def _type(schema: dict, root: dict) -> str:
    schema = _resolve(schema, root)
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_type(s, root) for s in schema["anyOf"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), root)}"
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _row(key: str, sub: dict, root: dict, note: str = "") -> str:
    default = f"`{json.dumps(sub['default'])}`" if "default" in sub else ""
    desc = " ".join(f"{note}{sub.get('description', '')}".split())
    return f"| `{key}` | {_type(sub, root)} | {default} | {desc} |"


def _rows(schema: dict, root: dict, prefix: str, skip: frozenset = frozenset()):
    for name, sub in schema.get("properties", {}).items():
        if name in skip:
            continue
        sub = _resolve(sub, root)
        key = f"{prefix}{name}"
        yield _row(key, sub, root)
        yield from _rows(sub, root, f"{key}.")
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict):
            extra = _resolve(extra, root)
            yield f"| `{key}.<name>` | {_type(extra, root)} | | {' '.join(str(extra.get('description', '')).split())} |"
            yield from _rows(extra, root, f"{key}.<name>.")
            # a plugin's own settings (modes: per kind, in if/then branches)
            for branch in extra.get("allOf", []):
                then = branch.get("then", {})
                kind = branch.get("if", {}).get("properties", {}).get("kind", {}).get("const", "?")
                for factor, factor_schema in then.get("properties", {}).items():
                    if factor not in ("kind", "enabled"):
                        yield _row(f"{key}.<name>.{factor}", _resolve(factor_schema, root), root, f"kind {kind}: ")


def render() -> str:
    root = config_schema()
    return HEADER + "\n".join(_rows(root, root, "")) + "\n"
