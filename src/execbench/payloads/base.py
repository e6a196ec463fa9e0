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
WHOLE = ""  # the unit of a payload run in one go
UNIT_DIR_PREFIX = "unit-"
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
    # True: one run per mode at the head of each host's chain (repetition 1 only), before every
    # benchmark: a check of the host (the audit), not a measurement to repeat.
    runs_once_first: ClassVar[bool] = False
    # False: its records are findings, not performance: never divided by bare metal, and a
    # missing bare-metal run of it does not leave the study without an answer.
    compared_with_bare: ClassVar[bool] = True
    log_file: ClassVar[str] = ""  # each copy's native log, under copy<i>/
    parser_format: ClassVar[str] = ""  # the registered parser that reads log_file
    summed_metrics: ClassVar[frozenset[str]] = frozenset()  # machine value = sum over copies (HS06's rule)
    # what a copy that left no log counts as: (benchmark, metric, unit, higher_is_better)
    missing_record: ClassVar[tuple[str, str, str, bool]] = ("", "", "", True)

    def units(self, settings: Mapping) -> list[str]:
        """The pieces a run is carried out in, in order: [WHOLE] (the default) for a run in one go.
        A payload whose pass takes minutes splits itself (the CPU suite per benchmark at standard
        size) so the runner can alternate the modes piece by piece: the two halves of a pair with
        bare metal are then seconds apart, not minutes. Each unit's files are under unit_dir()."""
        return [WHOLE]

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        """The command one copy runs inside the image for `unit` (WHOLE: the whole payload), with
        its copy dir as cwd; COPY_PLACEHOLDER in an argument is replaced by the copy index."""
        raise NotImplementedError(f"payload {self.name!r} does not implement argv()")

    def combine_units(self, per_copy: list[Record], copies: int) -> list[Record]:
        """The per-copy records of every unit of a run, made into the run's per-copy records (e.g.
        the CPU suite's score from the units' benchmark ratios). Default: as they are."""
        return per_copy

    def timeout_s(self, settings: Mapping) -> float:
        """Seconds per copy before it is killed: settings `timeout_s`, else default_timeout_s (of the
        size, when it is given per size)."""
        if settings.get("timeout_s") is not None:
            return float(settings["timeout_s"])
        default = self.default_timeout_s
        return float(default[settings["size"]] if isinstance(default, Mapping) else default)

    def scratch_bytes(self, settings: Mapping) -> int | None:
        """Bytes of data one copy writes at most at once into its scratch directory
        ($EXECBENCH_SCRATCH when the mode gives one, else its copy dir); None (the default): the
        payload is no I/O payload and puts no bulk data there. A mode that gives copies a scratch
        file system of their own (the VM's `scratch: virtio-disk`) sizes it from this."""
        return None

    def threads_per_copy(self, settings: Mapping) -> int | None:
        """Threads one copy runs (copies x threads must fit the usable cores); None: the payload's
        runtime sizes itself from the CPUs it sees. The count it really used is in its own log."""
        return 1

    def parse(self, run_dir: Path) -> list[Record]:
        """Records from the native logs of a run (raises ParseError on bad logs): each unit's copy
        logs (unit_dir(run_dir, unit)/copy<i>/log_file) through the registered parser, combined
        (combine_units), plus the machine-level values (records.machine_level)."""
        run_dir = Path(run_dir)
        copies = len(copy_dirs(run_dir))
        per_copy: list[Record] = []
        for unit in run_units(run_dir):
            per_copy += copy_records(unit_dir(run_dir, unit), self.log_file, self.parser_format,
                                     self.missing_record, copies)
        per_copy = self.combine_units(per_copy, copies)
        return per_copy + machine_level(per_copy, copies, set(self.summed_metrics), source=run_dir)

    def run_host(self, mode: "Mode", ctx: "RunContext", settings: Mapping) -> "RunOutcome":
        """A host-driven payload's run (host_driven = True): ask the mode for what it measures."""
        raise NotImplementedError(f"payload {self.name!r} is not host-driven")


# --- the copy directories a run leaves -------------------------------------------------------

def unit_dir(run_dir: Path, unit: str) -> Path:
    """Where a unit's files are: the run dir itself for WHOLE, else run_dir/unit-<unit>/."""
    return Path(run_dir) if unit == WHOLE else Path(run_dir) / f"{UNIT_DIR_PREFIX}{unit}"


def run_units(run_dir: Path) -> list[str]:
    """The units a run was carried out in: from run.json ("units"), else the unit dirs on disk,
    else [WHOLE]."""
    run_dir = Path(run_dir)
    run_json = run_dir / "run.json"
    if run_json.is_file():
        try:
            units = json.loads(run_json.read_text()).get("units")
        except (ValueError, AttributeError):
            units = None
        if isinstance(units, list) and units:
            return [u.get("unit", WHOLE) if isinstance(u, dict) else str(u) for u in units]
    found = sorted(p.name[len(UNIT_DIR_PREFIX):] for p in run_dir.glob(f"{UNIT_DIR_PREFIX}*") if p.is_dir())
    return found or [WHOLE]


def copy_dirs(run_dir: Path, copies: int | None = None) -> list[tuple[int, Path]]:
    """(index, path) of every copy<i>/ under run_dir, in index order. The expected count is
    `copies`, else run.json's, so a copy that left no directory is still accounted for."""
    run_dir = Path(run_dir)
    found = {}
    for path in (run_dir.iterdir() if run_dir.is_dir() else ()):
        if path.is_dir() and path.name.startswith("copy") and path.name[4:].isdigit():
            found[int(path.name[4:])] = path
    expected = copies
    run_json = run_dir / "run.json"
    if expected is None and run_json.is_file():
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


def copy_records(directory: Path, log_name: str, parser_format: str, missing: tuple[str, str, str, bool],
                 copies: int | None = None) -> list[Record]:
    """Per-copy records from directory/copy<i>/<log_name> through the registered parser, each
    attributed to copy i. A copy without its log gives one failed record `missing` =
    (benchmark, metric, unit, higher_is_better) naming why; a log that is there but malformed
    raises the parser's ParseError."""
    from .. import parsers

    parser = parsers.get(parser_format)
    per_copy: list[Record] = []
    for index, copy_dir in copy_dirs(Path(directory), copies):
        log = copy_dir / log_name
        if not log.is_file():
            per_copy.append(failed_record(*missing, log, index, f"no {log_name}: {copy_failure(copy_dir)}"))
            continue
        per_copy += [r.with_copy(index) for r in parser.parse(log)]
    return per_copy
