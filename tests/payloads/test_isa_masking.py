"""The CPU suite and the HEP chain validate, with the same answers, whatever x86-64 level the CPU has.

A payload's answer check must give the same verdict on every x86-64 CPU (x86-64-v2 and up). This
host cannot become an older CPU, but every run-time dispatcher the payloads go through can be told
to act as on one (execbench.isa: glibc's hwcaps tunable, numpy's and OpenBLAS's switches, x264's
--asm). Each payload runs at smoke size in a hardened docker container, natively and masked down to
each lower level from this host's own, and must validate every time; the answers of the exact
benchmarks must be identical. A probe run with the same environment shows the masks took effect,
so the test cannot pass by masking nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import DEFAULT_CONFIG, run_payload
from execbench import isa, payloads

pytestmark = pytest.mark.docker

HOST_LEVEL = isa.isa_level(isa.cpu_flags())
# native first, then every masked level below the host's own, down to x86-64-v2
MASKED = [lvl for lvl in reversed(isa.LEVELS[1:]) if HOST_LEVEL and isa.LEVELS.index(lvl) < isa.LEVELS.index(HOST_LEVEL)]
EXACT = ["400.perl", "401.bzip2", "403.gcc", "445.gnugo", "458.stockfish", "464.x264", "483.xalan"]
PROBE = ("/lib64/ld-linux-x86-64.so.2 --list-diagnostics | grep '^dl_hwcaps_subdirs'; "
         "/opt/execbench/venv/bin/python -c 'from numpy._core._multiarray_umath import __cpu_features__ as f; "
         "print(\"numpy\", \" \".join(sorted(k for k, v in f.items() if v)))'")


def masked(argv: list[str], level: str | None) -> list[str]:
    if level is None:
        return argv
    return ["env", *(f"{k}={v}" for k, v in sorted(isa.mask_environment(level).items())), *argv]


def glibc_level(diagnostics: str) -> str | None:
    """Highest glibc-hwcaps level ld.so will use, from `ld.so --list-diagnostics`."""
    subdirs = re.search(r'^dl_hwcaps_subdirs="([^"]*)"', diagnostics, re.M).group(1).split(":")
    active = int(re.search(r"^dl_hwcaps_subdirs_active=(0x[0-9a-f]+)", diagnostics, re.M).group(1), 16)
    on = [name for bit, name in enumerate(subdirs) if active & (1 << bit)]
    return max(on, key=isa.LEVELS.index) if on else "x86-64"


@pytest.fixture(scope="module")
def levels():
    if HOST_LEVEL is None or HOST_LEVEL == "x86-64":
        pytest.skip(f"this host's CPU is below x86-64-v2 (isa level {HOST_LEVEL}): nothing to mask")
    return [None, *MASKED]


def test_masks_take_effect(payload_image, tmp_path, levels):
    for level in levels[1:]:
        out = tmp_path / level
        results, _ = run_payload(payload_image, "docker", "cpusuite", out, argv=masked(["sh", "-c", PROBE], level))
        assert [r.exit_code for r in results] == [0]
        stdout = (out / "copy0" / "stdout.log").read_text()
        assert glibc_level(stdout) == level, stdout
        numpy_features = stdout.split("numpy", 1)[1].split()
        assert "X86_V4" not in numpy_features
        assert ("X86_V3" in numpy_features) == (level == "x86-64-v3"), stdout


def cpusuite_answers(run_dir: Path) -> dict:
    data = json.loads((run_dir / "copy0" / "cpusuite.json").read_text())
    return {name: b["iterations"][0] for name, b in data["benchmarks"].items()}


def native_or_masked(payload_image, smoke_run, tmp_path, payload_name, level, extra=()):
    """The payload's run at smoke size in docker: natively the session's run of it (the one
    test_payloads_run.py asserts on, same command), else its command masked to `level`."""
    if level is None:
        return smoke_run("docker", payload_name)
    out = tmp_path / level
    argv = [*payloads.get(payload_name).argv(DEFAULT_CONFIG["payloads"][payload_name]), *extra]
    return (out, *run_payload(payload_image, "docker", payload_name, out, argv=masked(argv, level)))


def test_cpusuite_validates_at_every_level_with_the_same_answers(payload_image, smoke_run, tmp_path, levels):
    answers = {}
    for level in levels:
        out, results, payload = native_or_masked(payload_image, smoke_run, tmp_path, "cpusuite", level,
                                                 ["--x264-asm", isa.x264_asm(level)] if level else [])
        iterations = cpusuite_answers(out)
        failed = {n: f"{it['status']}: {it['reason']}" for n, it in iterations.items() if it["status"] != "S"}
        assert not failed, f"at {level or 'native ' + HOST_LEVEL}: {failed}"
        assert [r.exit_code for r in results] == [0]
        score = [r for r in payload.parse(out) if r.benchmark == "cpusuite" and r.copy is None]
        assert score[0].status == "ok" and score[0].value > 0
        answers[level or "native"] = {n: it["answer"] for n, it in iterations.items()}
    native = answers.pop("native")
    assert set(native) == set(EXACT) | {"453.povray", "456.hmmer"}
    for level, got in answers.items():
        assert {n: got[n] for n in EXACT} == {n: native[n] for n in EXACT}, level
        assert set(got["456.hmmer"]["hits"]) == set(native["456.hmmer"]["hits"]), level


def test_hepchain_validates_at_every_level(payload_image, smoke_run, tmp_path, levels):
    for level in levels:
        out, results, payload = native_or_masked(payload_image, smoke_run, tmp_path, "hepchain", level)
        log = (out / "copy0" / "hepchain.log").read_text()
        assert [r.exit_code for r in results] == [0], f"at {level or 'native'}:\n{log[-1500:]}"
        chain = [r for r in payload.parse(out) if r.metric == "events_per_s" and r.copy is None]
        assert chain and all(r.status == "ok" for r in chain)
