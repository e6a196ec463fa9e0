"""The Payload contract: real work run by N copies, leaving logs in its native format.

A payload is a small class overriding only what differs from the defaults here: most give the
command one copy runs (`argv`), the native log each copy leaves (`log_file`), the parser that
reads it (`parser_format`) and which metrics add up over copies (`summed_metrics`).

A payload owns its settings: `settings_schema` maps each of its own keys to a JSON Schema fragment
with its default and description; `size` (when `sizes` is not empty), `enabled`, `copies` and
`timeout_s` are common to every payload (execbench.config assembles the config schema from these).
Methods receive the payload's validated settings, defaults filled in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Mapping

from ..records import Record, failed_record, machine_level

if TYPE_CHECKING:  # pragma: no cover
    from ..modes.base import Mode, RunContext, RunOutcome

SIZES = ("smoke", "standard")
INIMAGE_DIR = "/opt/execbench"  # where src/execbench/inimage/ sits inside the image
VENV_PYTHON = "/opt/execbench/venv/bin/python"  # the image's venv (hepchain's packages)
COPY_PLACEHOLDER = "{copy}"  # replaced by the copy index inside the environment (the launcher)


class Payload:
    """Base class of every payload. Override `argv` (or `run_host` for a host-driven payload)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings_schema: ClassVar[dict[str, dict]] = {}  # its own keys -> JSON Schema fragment
    sizes: ClassVar[tuple[str, ...]] = SIZES  # () = the payload has no size setting
    # seconds per copy before it is killed: one number, or one per size
    default_timeout_s: ClassVar[float | Mapping[str, float]] = {"smoke": 900.0, "standard": 3600.0}
    needs_network: ClassVar[bool] = False  # False for every CPU/memory/IO payload
    # True: the runner hands the payload the mode (run_host) instead of starting copies through
    # the in-image launcher: what it measures is the mode's own start path.
    host_driven: ClassVar[bool] = False
    log_file: ClassVar[str] = ""  # each copy's native log, under copy<i>/
    parser_format: ClassVar[str] = ""  # the registered parser that reads log_file
    summed_metrics: ClassVar[frozenset[str]] = frozenset()  # machine value = sum over copies (HS06's rule)
    # what a copy that left no log counts as: (benchmark, metric, unit, higher_is_better)
    missing_record: ClassVar[tuple[str, str, str, bool]] = ("", "", "", True)

    def argv(self, settings: Mapping) -> list[str]:
        """The command one copy runs inside the image, with its copy dir as cwd; COPY_PLACEHOLDER
        in an argument is replaced by the copy index."""
        raise NotImplementedError(f"payload {self.name!r} does not implement argv()")

    def timeout_s(self, settings: Mapping) -> float:
        """Seconds per copy before it is killed: settings `timeout_s`, else default_timeout_s (of the
        size, when it is given per size)."""
        if settings.get("timeout_s") is not None:
            return float(settings["timeout_s"])
        default = self.default_timeout_s
        return float(default[settings["size"]] if isinstance(default, Mapping) else default)

    def threads_per_copy(self, settings: Mapping) -> int | None:
        """Threads one copy runs (copies x threads must fit the usable cores); None: the payload's
        runtime sizes itself from the CPUs it sees. The count it really used is in its own log."""
        return 1

    def parse(self, run_dir: Path) -> list[Record]:
        """Records from the native logs under run_dir/copy<i>/ (raises ParseError on bad logs):
        each copy's log through the registered parser, plus the machine-level values."""
        return parse_copies(run_dir, self.log_file, self.parser_format, self.summed_metrics, self.missing_record)

    def run_host(self, mode: "Mode", ctx: "RunContext", settings: Mapping) -> "RunOutcome":
        """A host-driven payload's run (host_driven = True): ask the mode for what it measures."""
        raise NotImplementedError(f"payload {self.name!r} is not host-driven")


# --- the copy directories a run leaves -------------------------------------------------------

def copy_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    """(index, path) of every copy<i>/ of a run, in index order. The expected count comes from
    run.json when it is there, so a copy that left no directory is still accounted for."""
    run_dir = Path(run_dir)
    found = {}
    for path in run_dir.iterdir():
        if path.is_dir() and path.name.startswith("copy") and path.name[4:].isdigit():
            found[int(path.name[4:])] = path
    expected = None
    run_json = run_dir / "run.json"
    if run_json.is_file():
        try:
            expected = int(json.loads(run_json.read_text()).get("copies"))
        except (ValueError, TypeError, json.JSONDecodeError):
            expected = None
    indices = range(expected) if expected else sorted(found)
    return [(i, found.get(i, run_dir / f"copy{i}")) for i in indices]


def copy_failure(copy_dir: Path) -> str:
    """Why a copy left no usable log, from the launcher's launch.json when present."""
    launch = copy_dir / "launch.json"
    if not launch.is_file():
        return f"{copy_dir.name}: no launch.json (the copy did not run)"
    try:
        info = json.loads(launch.read_text())
    except json.JSONDecodeError:
        return f"{copy_dir.name}: launch.json is not valid JSON"
    if info.get("timed_out"):
        return f"{copy_dir.name}: timed out after {info.get('wall_s')} s"
    return f"{copy_dir.name}: exit code {info.get('exit_code')}"


def parse_copies(run_dir: Path, log_name: str, parser_format: str, summed_metrics,
                 missing: tuple[str, str, str, bool]) -> list[Record]:
    """Per-copy records from copy<i>/<log_name> through the registered parser (each attributed to
    copy i), plus the machine-level values of `summed_metrics` (records.machine_level). A copy
    without its log gives one failed record `missing` naming why; a log that is there but
    malformed raises the parser's ParseError."""
    from .. import parsers

    parser = parsers.get(parser_format)
    per_copy: list[Record] = []
    copies = copy_dirs(Path(run_dir))
    for index, directory in copies:
        log = directory / log_name
        if not log.is_file():
            per_copy.append(failed_record(*missing, log, index, f"no {log_name}: {copy_failure(directory)}"))
            continue
        per_copy += [r.with_copy(index) for r in parser.parse(log)]
    return per_copy + machine_level(per_copy, len(copies), set(summed_metrics))
