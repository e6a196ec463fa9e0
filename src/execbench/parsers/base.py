"""The Parser interface: one module per raw log format, registered in parsers/__init__.py."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..records import Record


class Parser(Protocol):
    #: short format name used in manifests and payload definitions, e.g. "spec-cpu2006"
    format: str

    def detect(self, path: Path) -> bool:
        """True when `path` (a file or a directory) looks like this format. Never raises."""

    def parse(self, path: Path) -> list[Record]:
        """All records in `path`; raises execbench.errors.ParseError(path, line, expected)
        for input that is not of this format. Must not modify `path`."""
