"""Where a run's files live: the one spelling of the results tree, for Python and for the rules.

    <results>/raw/<payload>/<mode>/<copies>c/r<rep>[@<host>]/    native logs (copy<i>/...) + run.json
    <results>/raw/.incomplete/<run id>-<UTC stamp>/               an interrupted attempt, moved aside
    <results>/parsed/<payload>/<mode>/<copies>c/r<rep>[@<host>].json
    <results>/logs/<stage>/...                                    one log per job

`@<host>` appears only when a study fans out over cluster.hosts. Every name that becomes a path
part (payload, mode, host) matches NAME_PATTERN, so no value can climb out of the tree.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
NAME_MAX = 64
_NAME = re.compile(rf"^{NAME_PATTERN}$")
# The config schema's `name` (modes, images, hosts): NAME_PATTERN, no "..", at most NAME_MAX long.
NAME_SCHEMA = {"type": "string", "pattern": rf"^(?!.*\.\.){NAME_PATTERN}$", "maxLength": NAME_MAX,
               "description": "a name that becomes a path part: letters, digits, '.', '_', '-' (not '..'), "
                              f"starting with a letter or digit, at most {NAME_MAX} characters"}
RAW, PARSED, LOGS, INCOMPLETE = "raw", "parsed", "logs", ".incomplete"
RUN_JSON = "run.json"
REL_DIR_RE = re.compile(rf"^(?P<payload>{NAME_PATTERN})/(?P<mode>{NAME_PATTERN})/(?P<copies>[0-9]+)c/"
                        rf"r(?P<rep>[0-9]+)(?:@(?P<host>{NAME_PATTERN}))?$")
# Snakemake: the run part of a path, and the constraints of its wildcards
RUN_WILDCARDS = "{payload}/{mode}/{copies}c/r{rep}"
RUN_WILDCARDS_AT_HOST = RUN_WILDCARDS + "@{host}"
WILDCARD_CONSTRAINTS = {
    "payload": NAME_PATTERN,
    "mode": NAME_PATTERN,
    "copies": r"[0-9]+",
    "rep": r"[0-9]+",
    "host": NAME_PATTERN,
    "run": rf"r[0-9]+(@{NAME_PATTERN})?",  # the last path part: r<rep>[@<host>]
}


def is_name(value: object) -> bool:
    """True if `value` may be a path part: a payload, mode, host or label name."""
    return isinstance(value, str) and _NAME.match(value) is not None and ".." not in value and len(value) <= NAME_MAX


@dataclass(frozen=True)
class RunKey:
    """Which run: (payload, mode, copies, repetition[, host]). Repetition counts from 1."""

    payload: str
    mode: str
    copies: int
    repetition: int
    host: str | None = None

    def __post_init__(self):
        for field, value in (("payload", self.payload), ("mode", self.mode)) + (
                (("host", self.host),) if self.host is not None else ()):
            if not is_name(value):
                raise ValueError(f"run {field} {value!r} is not a name matching {NAME_PATTERN}")

    @property
    def _at_host(self) -> str:
        return f"@{self.host}" if self.host else ""

    @property
    def run_id(self) -> str:
        return f"{self.payload}-{self.mode}-{self.copies}c-r{self.repetition}{self._at_host}"

    @property
    def rel_dir(self) -> str:
        return f"{self.payload}/{self.mode}/{self.copies}c/r{self.repetition}{self._at_host}"

    @classmethod
    def from_rel_dir(cls, rel_dir: str | Path) -> "RunKey":
        """Parse `<payload>/<mode>/<copies>c/r<rep>[@<host>]`; ValueError naming what was expected."""
        match = REL_DIR_RE.match(str(rel_dir).strip("/"))
        if not match:
            raise ValueError(f"{rel_dir!r} is not a run directory <payload>/<mode>/<copies>c/r<rep>[@<host>]")
        return cls(match["payload"], match["mode"], int(match["copies"]), int(match["rep"]), match["host"])


def raw_root(results: str | Path) -> Path:
    return Path(results) / RAW


def raw_dir(results: str | Path, key: RunKey) -> Path:
    return raw_root(results) / key.rel_dir


def run_json(results: str | Path, key: RunKey) -> Path:
    return raw_dir(results, key) / RUN_JSON


def parsed_json(results: str | Path, key: RunKey) -> Path:
    return Path(results) / PARSED / f"{key.rel_dir}.json"


def incomplete_dir(results: str | Path) -> Path:
    return raw_root(results) / INCOMPLETE


def results_of_raw_dir(run_dir: str | Path) -> Path:
    """The results root a run directory belongs to (…/<results>/raw/<p>/<m>/<c>c/r<n>)."""
    return Path(run_dir).parents[4]


def results_of_run_dir(run_dir: str | Path) -> Path:
    """The results root of a run dir shaped <results>/raw/<payload>/<mode>/<copies>c/r<rep>[@<host>],
    else the run dir itself (a mode driven directly, as in the mode tests)."""
    run_dir = Path(run_dir).resolve()
    parts = run_dir.parts
    if len(parts) > 5 and parts[-5] == RAW and REL_DIR_RE.match("/".join(parts[-4:])):
        return run_dir.parents[4]
    return run_dir


def instance_tag(results: str | Path) -> str:
    """A short id of one results directory on this host (12 hex digits of the sha256 of its
    resolved path): part of every container's and guest's name and label, so two checkouts, or
    two results dirs of one checkout, never touch each other's containers (issue 13, R13)."""
    return hashlib.sha256(str(Path(results).resolve()).encode()).hexdigest()[:12]


def runs_on_disk(results: str | Path) -> list[RunKey]:
    """Every run directory under <results>/raw holding a run.json (finished or ingested), in
    path order; .incomplete/ and anything not shaped like a run directory are left out."""
    raw = raw_root(results)
    keys = []
    for path in sorted(raw.glob(f"*/*/*c/r*/{RUN_JSON}")):
        try:
            keys.append(RunKey.from_rel_dir(path.parent.relative_to(raw).as_posix()))
        except ValueError:
            continue
    return keys
