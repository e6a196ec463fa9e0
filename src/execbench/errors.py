"""The project's own errors: each names the file, line or key and what was expected."""

from __future__ import annotations


class ExecbenchError(Exception):
    """Base class: anything the workflow reports instead of crashing."""


class ConfigError(ExecbenchError):
    """A config value is wrong. `key` is the dotted path of the offending key."""

    def __init__(self, key: str, expected: str, got: object = None, source: str = "config"):
        self.key, self.expected, self.got, self.source = key, expected, got, source
        got_part = "" if got is None else f", got {got!r}"
        super().__init__(f"{source}: key '{key}': expected {expected}{got_part}")

    def from_source(self, source: str) -> "ConfigError":
        """This error, said of `source` (the file or "config" it came from)."""
        self.source = source
        got_part = "" if self.got is None else f", got {self.got!r}"
        self.args = (f"{source}: key '{self.key}': expected {self.expected}{got_part}",)
        return self


class ParseError(ExecbenchError):
    """A raw log does not have the shape its format promises.

    `line` is 1-based, or None when the problem is the file as a whole
    (empty, missing, binary)."""

    def __init__(self, path, line: int | None, expected: str):
        self.path, self.line, self.expected = str(path), line, expected
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: expected {expected}")
