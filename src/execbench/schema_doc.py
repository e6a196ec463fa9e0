"""Render config/README.md from the config JSON Schema, so the docs name every key.

    python -m execbench.schema_doc > config/README.md
"""

from __future__ import annotations

import json

import yaml

from .paths import SCHEMAS

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

This page is generated from the schema (`python -m execbench.schema_doc >
config/README.md`); a test checks it is current.

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


def _rows(schema: dict, root: dict, prefix: str):
    for name, sub in schema.get("properties", {}).items():
        sub = _resolve(sub, root)
        key = f"{prefix}{name}"
        default = f"`{json.dumps(sub['default'])}`" if "default" in sub else ""
        desc = " ".join(str(sub.get("description", "")).split())
        yield f"| `{key}` | {_type(sub, root)} | {default} | {desc} |"
        yield from _rows(sub, root, f"{key}.")
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict):
            extra = _resolve(extra, root)
            yield f"| `{key}.<name>` | {_type(extra, root)} | | {' '.join(str(extra.get('description', '')).split())} |"
            yield from _rows(extra, root, f"{key}.<name>.")


def render() -> str:
    root = yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())
    return HEADER + "\n".join(_rows(root, root, "")) + "\n"


if __name__ == "__main__":
    print(render(), end="")
