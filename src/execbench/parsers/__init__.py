"""Raw log parsers: one module per format (a parsers.base.Parser subclass), one line in PARSERS."""

from __future__ import annotations

from pathlib import Path

from ..errors import ParseError
from ..registry import Registry
from .base import Parser

# format name -> "module:attribute" of a Parser instance, in detection order
PARSERS = Registry(__name__, "log format", {
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
    "syscost": ".syscost:PARSER",
    "execbench-audit": ".audit:PARSER",
    "hs06-legacy": ".hs06:LEGACY_PARSER",
    "hs06-full-precision": ".hs06:FULL_PRECISION_PARSER",
})
get = PARSERS.get


def detect(path: Path) -> Parser:
    """The parser whose detect() accepts `path`; ParseError naming the file otherwise."""
    for name in PARSERS:
        parser = get(name)
        if parser.detect(path):
            return parser
    raise ParseError(path, None, f"a file or directory in one of the known formats {sorted(PARSERS.names())}")
