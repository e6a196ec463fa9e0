"""The Payload interface: real work run by N copies, leaving logs in its native format."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..records import Record


class Payload(Protocol):
    name: str
    needs_network: bool  # False for every CPU/memory/IO payload

    def copy_argv(self, copies: int, settings: dict) -> list[list[str]]:
        """argv for each copy, run inside the image with the copy's output dir as cwd."""

    def timeout_s(self, settings: dict) -> float: ...

    def parse(self, run_dir: Path) -> list[Record]:
        """Records from the native logs under run_dir/copy<i>/ (raises ParseError on bad logs)."""
