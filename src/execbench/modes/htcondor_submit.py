"""HTCondor submit descriptions for one benchmark run in the docker universe.

The 2015 study also ran its payloads as HTCondor docker-universe jobs: the
batch system itself starts the benchmark image. This module writes that job
as a submit description (the condor_submit language, HTCondor manual
"Docker Universe Applications" and the condor_submit man page):

    universe      = docker
    docker_image  = <registry>/<repo>@sha256:<digest>     the image by digest only
    executable    = /usr/bin/python3                       absolute: taken from the image
    arguments     = "<launcher> --run-dir . --copies N ... -- <payload argv>"
    request_cpus  = N                                      one core per copy
    requirements  = HasDocker, plus Machine == "<host>" for per-host pairing
    should_transfer_files / when_to_transfer_output / transfer_output_files
    output / error / log

HTCondor bind-mounts the job's scratch directory into the container at the
same path and makes it the working directory, so the launcher writes
copy<i>/ there (`--run-dir .`); transfer_output_files brings those
directories back into `initialdir` (the run's own directory) on the submit
host. Subdirectories are not transferred unless listed, hence the list.

Nothing here talks to a schedd: the text is the whole product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ExecbenchError
from .common import LAUNCHER

# An image reference pinned by digest: [registry/]repo@sha256:<64 hex>.
DIGEST_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*@sha256:[0-9a-f]{64}$")
# docker_network_type values the condor_starter always allows (others need the admin).
DOCKER_NETWORKS = ("none", "host", "nat")
# What condor_submit splits arguments on (C isspace; Python's str.isspace also
# counts \x1c-\x1f and Unicode blanks, which HTCondor passes through).
SUBMIT_BLANKS = " \t\n\v\f\r"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# ClassAd attribute names for `+Name = value` (custom job attributes).
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SubmitDescriptionError(ExecbenchError):
    """A value cannot be written into a submit description as asked."""


@dataclass(frozen=True)
class DockerJob:
    """One run as one docker-universe job (all copies in one container)."""

    image_ref: str  # registry/repo@sha256:<hex>, never a tag
    copies: int
    payload_argv: list[str]  # argv of one copy inside the image ({copy} = copy index)
    timeout_s: float
    initialdir: str  # the run's directory on the submit host; outputs land here
    host: str | None = None  # Machine name of the execute node (per-host pairing)
    network: str = "none"  # docker_network_type
    request_memory_mb: int | None = None
    python: str = "/usr/bin/python3"  # the image's interpreter, absolute (from the image)
    launcher: str = LAUNCHER
    extra_requirements: str | None = None  # a site's own ClassAd expression, ANDed in
    attributes: dict[str, str | int | float | bool] = field(default_factory=dict)  # +Name = value


def quote_argument(arg: str) -> str:
    """One argument in the condor_submit "new syntax" for `arguments`.

    Within the double-quoted value, whitespace separates arguments; an argument
    holding whitespace or quotes is put in single quotes, a single quote inside
    them is written twice, and every double quote is written twice."""
    if CONTROL.search(arg):
        # condor_submit reads lines and drops or mangles control characters
        # (a lone form feed argument vanishes): refuse rather than pass another argv
        raise SubmitDescriptionError(
            f"argument {arg!r}: expected printable text (no newline or other control character)"
        )
    # `$(NAME)` is macro expansion in the submit language; $(DOLLAR) is a literal $.
    arg = arg.replace("$", "$(DOLLAR)")
    arg = arg.replace('"', '""')
    if arg == "" or any(ch in SUBMIT_BLANKS or ch == "'" for ch in arg):
        arg = "'" + arg.replace("'", "''") + "'"
    return arg


def quote_arguments(argv: list[str]) -> str:
    return '"' + " ".join(quote_argument(a) for a in argv) + '"'


def classad_string(value: str) -> str:
    """A ClassAd string literal (backslash escapes)."""
    if CONTROL.search(value):
        raise SubmitDescriptionError(
            f"value {value!r}: expected printable text (no newline or other control character)"
        )
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def classad_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return classad_string(value)


def requirements(job: DockerJob) -> str:
    """ClassAd expression a slot must satisfy: docker-capable, and the paired host if given."""
    terms = ["(TARGET.HasDocker =?= true)"]
    if job.host:
        terms.append(f"(TARGET.Machine == {classad_string(job.host)})")
    if job.extra_requirements:
        terms.append(f"({job.extra_requirements})")
    return " && ".join(terms)


def launcher_arguments(job: DockerJob) -> list[str]:
    """The in-image launcher's argv (without the interpreter), as every mode runs it."""
    # No --start-at: the copies share one container, so they start together.
    return [
        job.launcher,
        "--run-dir",
        ".",
        "--copies",
        str(job.copies),
        "--timeout",
        f"{job.timeout_s:g}",
        "--pin",
        "none",
        "--",
        *job.payload_argv,
    ]


def submit_description(job: DockerJob) -> str:
    """The submit description text for one run, ending in `queue 1`."""
    if not DIGEST_REFERENCE.match(job.image_ref):
        raise SubmitDescriptionError(
            f"image {job.image_ref!r}: expected a reference by digest, <registry>/<repo>@sha256:<64 hex>"
        )
    if job.copies < 1:
        raise SubmitDescriptionError(f"copies {job.copies}: expected an integer >= 1")
    if job.network not in DOCKER_NETWORKS:
        raise SubmitDescriptionError(f"network {job.network!r}: expected one of {', '.join(DOCKER_NETWORKS)}")
    if not job.python.startswith("/"):
        raise SubmitDescriptionError(f"python {job.python!r}: expected an absolute path inside the image")
    for name in job.attributes:
        if not ATTRIBUTE_NAME.match(name):
            raise SubmitDescriptionError(f"attribute {name!r}: expected a ClassAd attribute name")
    outputs = ", ".join(f"copy{i}" for i in range(job.copies))
    lines = [
        "# execbench: one benchmark run in the HTCondor docker universe",
        "universe = docker",
        f"docker_image = {job.image_ref}",
        f"docker_network_type = {job.network}",
        f"executable = {job.python}",
        # The interpreter lives in the image: nothing to send from the submit host.
        "transfer_executable = false",
        f"arguments = {quote_arguments(launcher_arguments(job))}",
        f"request_cpus = {job.copies}",
    ]
    if job.request_memory_mb is not None:
        lines.append(f"request_memory = {int(job.request_memory_mb)}")
    lines += [
        f"requirements = {requirements(job)}",
        f"initialdir = {job.initialdir}",
        "should_transfer_files = YES",
        "when_to_transfer_output = ON_EXIT",
        f"transfer_output_files = {outputs}",
        "output = condor.stdout",
        "error = condor.stderr",
        "log = condor.log",
    ]
    lines += [f"+{name} = {classad_value(value)}" for name, value in sorted(job.attributes.items())]
    lines.append("queue 1")
    for line in lines:
        if "\n" in line:
            raise SubmitDescriptionError(f"line {line!r}: a value holds a newline")
    return "\n".join(lines) + "\n"
