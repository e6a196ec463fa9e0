"""A registry of plugins by name: "name" -> "module:attribute", imported only when asked for, so
one broken or slow plugin module cannot stop the others (or slow down a command that never uses
it). Modes, payloads and log parsers each keep one (their package's __init__.py): adding a
plugin is one module plus one line there."""

from __future__ import annotations

import importlib


class Registry:
    def __init__(self, package: str, what: str, entries: dict[str, str]):
        self.package, self.what, self.entries = package, what, entries

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self):
        return iter(self.entries)

    def names(self) -> list[str]:
        return list(self.entries)

    def load(self, name: str):
        """The registered class (or object) itself; KeyError naming the known names."""
        try:
            module_name, attr = self.entries[name].split(":")
        except KeyError:
            raise KeyError(f"unknown {self.what} {name!r}; known: {sorted(self.entries)}") from None
        return getattr(importlib.import_module(module_name, self.package), attr)

    def get(self, name: str):
        """An instance: a registered class is instantiated (a fresh one per call), a registered
        object is returned as is."""
        found = self.load(name)
        return found() if isinstance(found, type) else found
