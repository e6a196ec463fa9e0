"""HTCondor docker-universe submit descriptions (src/execbench/htcondor.py).

No HTCondor daemons can run here (no Debian package; the PyPI wheel holds the
bindings only), so nothing is submitted. Two checks instead:
- against the documented submit-file syntax (condor_submit man page): a small
  parser of the submit language below, plus the exact text for a known case;
- against HTCondor's own submit-language implementation, which ships in the
  `htcondor` wheel and turns a description into the job ClassAd offline
  (`htcondor.Submit(text).jobs()`), the same code condor_submit runs.
"""

from __future__ import annotations

import os
import re
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execbench.modes.htcondor_submit import (
    SUBMIT_BLANKS,
    DockerJob,
    SubmitDescriptionError,
    launcher_arguments,
    quote_arguments,
    submit_description,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = f"127.0.0.1:5000/execbench/debian12@{DIGEST}"
ARGV = ["python3", "/opt/execbench/db12.py", "--size", "smoke"]


def job(tmp_path=None, **changes) -> DockerJob:
    fields = dict(
        image_ref=IMAGE,
        copies=2,
        payload_argv=ARGV,
        timeout_s=600,
        initialdir=str(tmp_path) if tmp_path else "/shared/execbench/results/raw/db12/htcondor/2c/r1",
        host="wn042.example.org",
        attributes={"ExecbenchRunId": "db12-htcondor-2c-r1"},
    )
    fields.update(changes)
    return DockerJob(**fields)


# --- the documented syntax -------------------------------------------------

# Submit commands this module may write (condor_submit man page), lower case.
KNOWN_COMMANDS = {
    "universe",
    "docker_image",
    "docker_network_type",
    "executable",
    "transfer_executable",
    "arguments",
    "request_cpus",
    "request_memory",
    "requirements",
    "initialdir",
    "should_transfer_files",
    "when_to_transfer_output",
    "transfer_output_files",
    "output",
    "error",
    "log",
}


def parse_submit(text: str) -> tuple[dict[str, str], str]:
    """Minimal reader of the submit language as documented: `#` comment lines,
    `command = value` (command names case-insensitive, value to end of line,
    surrounding blanks dropped), `+Attr = value` for a custom job attribute
    (stored as MY.Attr), and one `queue` statement, which must come last.
    Returns (commands, queue statement); raises AssertionError on anything else."""
    commands: dict[str, str] = {}
    queue = None
    for number, line in enumerate(text.split("\n"), 1):  # lines end at \n only
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        assert queue is None, f"line {number}: {line!r} after the queue statement"
        if re.fullmatch(r"queue(\s+\d+)?", stripped, flags=re.IGNORECASE):
            queue = stripped
            continue
        match = re.fullmatch(r"(\+?)([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)", stripped)
        assert match, f"line {number}: {line!r} is not `command = value`"
        plus, name, value = match.groups()
        key = f"MY.{name}" if plus else name.lower()
        assert key not in commands, f"line {number}: {key} given twice"
        assert plus or key in KNOWN_COMMANDS, f"line {number}: unknown submit command {name!r}"
        commands[key] = value
    assert queue is not None, "no queue statement"
    return commands, queue


def split_new_style_arguments(value: str) -> list[str]:
    """argv from an `arguments` value in the documented "new syntax": the whole
    value in double quotes ("" inside stands for one "), arguments split on
    whitespace, single quotes group (a '' inside them stands for one ')."""
    assert value.startswith('"') and value.endswith('"'), f"not new-style arguments: {value!r}"
    inner = value[1:-1]
    assert re.fullmatch(r'([^"]|"")*', inner), f'a lone " inside the arguments: {value!r}'
    return split_raw_arguments(inner.replace('""', '"'))


def split_raw_arguments(raw: str) -> list[str]:
    """argv from the same syntax without the outer double quotes (the form the
    job ClassAd's Arguments attribute holds)."""
    argv, current, has_arg, quoted, i = [], [], False, False, 0
    while i < len(raw):
        ch = raw[i]
        if quoted:
            if ch == "'" and raw[i + 1 : i + 2] == "'":
                current.append("'")
                i += 1
            elif ch == "'":
                quoted = False
            else:
                current.append(ch)
        elif ch == "'":
            quoted = has_arg = True
        elif ch in SUBMIT_BLANKS:
            if has_arg:
                argv.append("".join(current))
            current, has_arg = [], False
        else:
            current.append(ch)
            has_arg = True
        i += 1
    assert not quoted, f"unterminated single quote in {raw!r}"
    if has_arg:
        argv.append("".join(current))
    return argv


def test_submit_description_exact_text_for_a_known_run_documented_syntax():
    expected = (
        "# execbench: one benchmark run in the HTCondor docker universe\n"
        "universe = docker\n"
        f"docker_image = 127.0.0.1:5000/execbench/debian12@{DIGEST}\n"
        "docker_network_type = none\n"
        "executable = /usr/bin/python3\n"
        "transfer_executable = false\n"
        'arguments = "/opt/execbench/execbench_launch.py --run-dir . --copies 2 --timeout 600 --pin none'
        ' -- python3 /opt/execbench/db12.py --size smoke"\n'
        "request_cpus = 2\n"
        'requirements = (TARGET.HasDocker =?= true) && (TARGET.Machine == "wn042.example.org")\n'
        "initialdir = /shared/execbench/results/raw/db12/htcondor/2c/r1\n"
        "should_transfer_files = YES\n"
        "when_to_transfer_output = ON_EXIT\n"
        "transfer_output_files = copy0, copy1\n"
        "output = condor.stdout\n"
        "error = condor.stderr\n"
        "log = condor.log\n"
        '+ExecbenchRunId = "db12-htcondor-2c-r1"\n'
        "queue 1\n"
    )
    assert submit_description(job()) == expected


def test_submit_description_keys_values_and_queue_documented_syntax():
    commands, queue = parse_submit(submit_description(job(copies=3, request_memory_mb=2048, host=None)))
    assert queue == "queue 1"
    assert commands["universe"] == "docker"
    assert commands["docker_image"] == IMAGE
    assert commands["request_cpus"] == "3"
    assert commands["request_memory"] == "2048"
    # no host: any docker-capable slot
    assert commands["requirements"] == "(TARGET.HasDocker =?= true)"
    assert commands["transfer_output_files"] == "copy0, copy1, copy2"
    assert commands["should_transfer_files"] == "YES"
    assert commands["MY.ExecbenchRunId"] == '"db12-htcondor-2c-r1"'
    assert split_new_style_arguments(commands["arguments"]) == [
        "/opt/execbench/execbench_launch.py",
        "--run-dir",
        ".",
        "--copies",
        "3",
        "--timeout",
        "600",
        "--pin",
        "none",
        "--",
        *ARGV,
    ]


def test_arguments_quoting_of_blanks_and_quotes_documented_syntax():
    # The manual's rules: ' inside single quotes doubled, every " doubled,
    # a blank-holding or empty argument in single quotes; $ as $(DOLLAR).
    assert quote_arguments(["a b", "it's", 'say "hi"', "", "$(HOME)"]) == (
        "\"'a b' 'it''s' 'say \"\"hi\"\"' '' $(DOLLAR)(HOME)\""
    )


def test_bad_inputs_are_refused_with_what_was_expected():
    with pytest.raises(SubmitDescriptionError, match="by digest"):
        submit_description(job(image_ref="127.0.0.1:5000/execbench/debian12:latest"))
    with pytest.raises(SubmitDescriptionError, match="copies 0"):
        submit_description(job(copies=0))
    with pytest.raises(SubmitDescriptionError, match="network 'bridge'"):
        submit_description(job(network="bridge"))
    # a newline would end the line and start a new command (here a second queue)
    with pytest.raises(SubmitDescriptionError, match="no newline or other control"):
        submit_description(job(payload_argv=["python3", "a\nqueue 5"]))
    with pytest.raises(SubmitDescriptionError, match="no newline or other control"):
        submit_description(job(host="wn1\nqueue 5"))
    # condor_submit drops a lone form-feed argument: refused, not silently lost
    with pytest.raises(SubmitDescriptionError, match="no newline or other control"):
        submit_description(job(payload_argv=["python3", "\x0c"]))
    with pytest.raises(SubmitDescriptionError, match="attribute"):
        submit_description(job(attributes={"bad name": "x"}))


# Printable text: control characters are refused (see the test above).
# (C1 controls, NEL, U+2028 and Unicode blanks do pass unchanged and are included.)
ARG_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="".join(map(chr, [*range(32), 127]))),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ARG_TEXT, min_size=1, max_size=5))
def test_any_payload_argv_round_trips_through_the_documented_syntax(argv):
    commands, _ = parse_submit(submit_description(job(payload_argv=argv)))
    # the 10 launcher arguments up to "--" come first; $ stays $(DOLLAR) until condor expands it
    assert split_new_style_arguments(commands["arguments"])[10:] == [a.replace("$", "$(DOLLAR)") for a in argv]


# --- HTCondor's own submit-language implementation (offline) ---------------


def condor_job_ad(text: str):
    """The job ClassAd condor_submit would queue for this text (no schedd needed)."""
    os.environ.setdefault("CONDOR_CONFIG", "/dev/null")  # no pool configuration here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        htcondor = pytest.importorskip("htcondor")
    return next(iter(htcondor.Submit(text).jobs(count=1)))


def test_condor_submit_parser_turns_it_into_a_docker_job_ad(tmp_path):
    ad = condor_job_ad(submit_description(job(tmp_path)))
    # docker universe = vanilla (5) + WantDocker (condor_submit's own mapping)
    assert ad["JobUniverse"] == 5 and ad["WantDocker"] is True
    assert ad["DockerImage"] == IMAGE
    assert ad["DockerNetworkType"] == "none"
    assert ad["Cmd"] == "/usr/bin/python3" and ad["TransferExecutable"] is False
    assert ad["RequestCpus"] == 2
    assert ad["Iwd"] == str(tmp_path)
    assert ad["TransferOutput"] == "copy0,copy1"
    assert ad["ShouldTransferFiles"] == "YES" and ad["WhenToTransferOutput"] == "ON_EXIT"
    assert ad["UserLog"] == str(tmp_path / "condor.log")
    assert ad["ExecbenchRunId"] == "db12-htcondor-2c-r1"
    requirements = str(ad.lookup("Requirements"))
    assert 'TARGET.Machine == "wn042.example.org"' in requirements
    assert "TARGET.HasDocker is true" in requirements
    assert split_raw_arguments(ad["Arguments"]) == launcher_arguments(job(tmp_path))


@settings(max_examples=60, deadline=None)
@given(st.lists(ARG_TEXT, min_size=1, max_size=4))
def test_condor_submit_parser_passes_any_payload_argv_unchanged(tmp_path_factory, argv):
    iwd = tmp_path_factory.mktemp("iwd")
    ad = condor_job_ad(submit_description(job(iwd, payload_argv=argv)))
    # $(DOLLAR) must come back as a plain $: the payload sees its argv exactly
    assert split_raw_arguments(ad["Arguments"])[10:] == argv


# --- the htcondor-docker mode ------------------------------------------------


def run_spec(tmp_path, **changes):
    from helpers import mode_context

    from execbench.modes.base import RunContext

    fields = dict(
        mode=mode_context("htcondor-docker", {"host": "wn042.example.org"}),
        run_id="db12-htcondor-2c-r1",
        image_ref=IMAGE,
        payload="db12",
        copies=2,
        repetition=1,
        argv=ARGV,
        timeout_s=600,
        out_dir=tmp_path,
    )
    fields.update(changes)
    return RunContext(**fields)


def test_mode_writes_the_run_as_one_docker_job_for_its_host(tmp_path):
    from execbench.modes.htcondor_docker import docker_job

    ad = condor_job_ad(submit_description(docker_job(run_spec(tmp_path))))
    assert ad["DockerImage"] == IMAGE and ad["RequestCpus"] == 2 and ad["Iwd"] == str(tmp_path)
    assert 'TARGET.Machine == "wn042.example.org"' in str(ad.lookup("Requirements"))
    assert ad["ExecbenchRunId"] == "db12-htcondor-2c-r1"
    # a payload that needs a network gets HTCondor's NAT, not none
    assert docker_job(run_spec(tmp_path, needs_network=True)).network == "nat"


@pytest.mark.skipif(
    __import__("shutil").which("condor_submit") is not None, reason="an HTCondor AP: mode may be available"
)
def test_mode_is_unavailable_without_an_access_point_and_says_why():
    from helpers import mode_context

    from execbench.modes.htcondor_docker import HTCondorDockerMode

    availability = HTCondorDockerMode().available(mode_context("htcondor-docker"))
    assert availability.ok is False
    assert "condor_submit not found" in availability.reason


def test_htcondor_profile_requirements_is_a_valid_classad_expression():
    import yaml

    from execbench.paths import REPO_ROOT

    os.environ.setdefault("CONDOR_CONFIG", "/dev/null")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classad = pytest.importorskip("classad")
    profile = yaml.safe_load((REPO_ROOT / "profiles" / "htcondor" / "config.yaml").read_text())
    expression = profile["set-resources"]["run_chain"]["requirements"]
    parsed = classad.ExprTree(expression)
    # a whole free docker machine matches, a partly claimed one does not
    free = classad.ClassAd({"HasDocker": True, "Cpus": 8, "TotalCpus": 8})
    busy = classad.ClassAd({"HasDocker": True, "Cpus": 6, "TotalCpus": 8})
    assert parsed.simplify(classad.ClassAd(), free).eval() is True
    assert parsed.simplify(classad.ClassAd(), busy).eval() is False
    with pytest.raises(Exception):
        classad.ExprTree("(TARGET.HasDocker =?= true) && (")
