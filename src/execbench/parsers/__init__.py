"""Raw log parsers, one module per format. Register a new format with one line in PARSERS."""

from __future__ import annotations

from pathlib import Path

from ..errors import ParseError
from .base import Parser

# format name -> "module:attribute" of a Parser instance (imported lazily so one
# broken or slow module cannot stop the others).
PARSERS: dict[str, str] = {
    "ingested": ".ingested:PARSER",  # first: a run dir written by execbench.ingest
    "hs06": ".hs06:PARSER",
    "kitvalidation": ".kitvalidation:PARSER",
    "hepscore": ".hepscore:PARSER",
    "db12": ".db12:PARSER",
    "spec-cpu2006": ".spec_cpu2006:PARSER",
    "stream": ".stream:PARSER",
    "fio": ".fio:PARSER",
    "cpusuite": ".cpusuite:PARSER",
    "hepchain": ".hepchain:PARSER",
    "hs06-legacy": ".hs06:LEGACY_PARSER",
    "hs06-full-precision": ".hs06:FULL_PRECISION_PARSER",
}


def get(format_name: str) -> Parser:
    import importlib

    try:
        module_name, attr = PARSERS[format_name].split(":")
    except KeyError:
        raise KeyError(f"unknown log format {format_name!r}; known: {sorted(PARSERS)}") from None
    return getattr(importlib.import_module(module_name, __name__), attr)


def detect(path: Path) -> Parser:
    """The parser whose detect() accepts `path`; ParseError naming the file otherwise."""
    for name in PARSERS:
        parser = get(name)
        if parser.detect(path):
            return parser
    raise ParseError(path, None, f"a file or directory in one of the known formats {sorted(PARSERS)}")
