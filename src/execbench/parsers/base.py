"""The Parser contract: one module per raw log format, registered in parsers/__init__.py.

A parser is a small class with its `format` name, the tool versions and output `variants` it
reads (its docstring says where each layout is documented), `detect(path)` and `parse(path)`.
The base class keeps the contract at the boundary for every subclass: detect() never raises
(anything unexpected is a "no"), and parse() raises only ParseError(path, line, expected), so a
bug on an odd input names the file instead of stopping the whole ingest or parse stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from ..records import Record
from ._common import guarded_detect, guarded_parse


class Parser:
    #: short format name used in manifests and payload definitions, e.g. "spec-cpu2006"
    format: ClassVar[str] = ""
    #: the tool versions and output variants read, one line each (documentation and tests)
    variants: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # guard each class's own detect/parse once (the guards are idempotent anyway)
        if "detect" in cls.__dict__ and not getattr(cls.__dict__["detect"], "_guarded", False):
            cls.detect = guarded_detect(cls.__dict__["detect"])
        if "parse" in cls.__dict__ and not getattr(cls.__dict__["parse"], "_guarded", False):
            cls.parse = guarded_parse(cls.__dict__["parse"])

    def detect(self, path: Path) -> bool:
        """True when `path` (a file or a directory) looks like this format. Never raises."""
        return False

    def parse(self, path: Path) -> list[Record]:
        """All records in `path`; raises execbench.errors.ParseError(path, line, expected) for input
        that is not of this format. Must not modify `path`."""
        raise NotImplementedError(f"parser {self.format!r} does not implement parse()")
