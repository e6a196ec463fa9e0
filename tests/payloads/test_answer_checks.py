"""The payload drivers' answer checks: exact where no rounding enters, tolerances where it does,
and the x86-64 level arithmetic the masking test relies on. No engine needed."""

from __future__ import annotations

import importlib.util
import json

import pytest

from execbench import isa
from execbench.paths import INIMAGE


def driver(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_driver", INIMAGE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cpusuite = driver("cpusuite")
hepchain = driver("hepchain")


def ppm(tmp_path, width, height, pixel):
    path = tmp_path / "scene.ppm"
    body = bytes(c for y in range(height) for x in range(width) for c in pixel(x, y))
    path.write_bytes(b"P6\n# Rendered 2026-11-30 by POV-Ray\n%d %d\n255\n" % (width, height) + body)
    return path


def test_image_answer_block_means_and_tolerance(tmp_path):
    # 64 x 48 image, grid 32 x 24: every block is 2 x 2 pixels
    answer = cpusuite.image_answer(ppm(tmp_path, 64, 48, lambda x, y: (x, y, 200)))
    assert (answer["width"], answer["height"], answer["grid"]) == (64, 48, [32, 24])
    assert answer["means"][:3] == [50, 50, 20000]  # block (0, 0): x in {0, 1}, y in {0, 1} -> 0.5, 0.5, 200
    assert cpusuite.image_check(answer, answer) is None
    # one pixel of one block off by 4 levels: the block mean moves by 1.0, at the tolerance
    nudged = json.loads(json.dumps(answer))
    nudged["means"][5] += 100
    assert cpusuite.image_check(nudged, answer) is None
    nudged["means"][5] += 1
    why = cpusuite.image_check(nudged, answer)
    assert why and "block 1 channel B" in why
    other = cpusuite.image_answer(ppm(tmp_path, 64, 46, lambda x, y: (x, y, 200)))
    assert "64x46" in cpusuite.image_check(other, answer)


def test_read_ppm_refuses_other_images(tmp_path):
    path = tmp_path / "scene.ppm"
    path.write_bytes(b"P3\n2 2\n255\n0 0 0\n")
    with pytest.raises(cpusuite.BenchmarkError, match="not a P6 PPM"):
        cpusuite.read_ppm(path)
    path.write_bytes(b"P6\n2 2\n255\n\x00\x00")
    with pytest.raises(cpusuite.BenchmarkError, match="holds 2 bytes"):
        cpusuite.read_ppm(path)


TBLOUT = """\
#                                                               --- full sequence ---- --- best 1 domain ---- --- domain number estimation ----
# target name        accession  query name           accession    E-value  score  bias   E-value  score  bias   exp reg clu  ov env dom rep inc description of target
#------------------- ---------- -------------------- ---------- --------- ------ ----- --------- ------ -----   --- --- --- --- --- --- --- --- ---------------------
seq000107            -          family               -            6.9e-88  292.3   0.1   7.7e-88  292.1   0.1   1.0   1   0   0   1   1   1   1 -
seq000007            -          family               -            1.9e-76  255.0   0.0   2.2e-76  254.8   0.0   1.0   1   0   0   1   1   1   1 -
seq000777            -          family               -                1.2    8.0   0.0       1.3    7.9   0.0   1.0   1   0   0   1   1   1   0 -
"""


def test_hits_answer_keeps_significant_hits_and_compares_with_tolerance(tmp_path):
    path = tmp_path / "hits.tbl"
    path.write_text(TBLOUT)
    want = cpusuite.hits_answer(path)
    assert want == {"evalue_max": 1e-5, "hits": {"seq000107": 292.3, "seq000007": 255.0}}
    near = {"evalue_max": 1e-5, "hits": {"seq000107": 292.4, "seq000007": 254.9}}  # last printed digit
    assert cpusuite.hits_check(near, want) is None
    far = {"evalue_max": 1e-5, "hits": {"seq000107": 293.0, "seq000007": 255.0}}
    assert "seq000107 bit score 293.0" in cpusuite.hits_check(far, want)
    lost = {"evalue_max": 1e-5, "hits": {"seq000107": 292.3}}
    assert "missing ['seq000007']" in cpusuite.hits_check(lost, want)
    path.write_text("seq1 - family - not-a-number 3.0\n")
    with pytest.raises(cpusuite.BenchmarkError, match="tblout"):
        cpusuite.hits_answer(path)


def test_exact_check_names_both_hashes():
    assert cpusuite.exact_check("ab" * 32, "ab" * 32) is None
    assert cpusuite.exact_check("c1" * 32, "81" * 32).startswith("output sha256 c1c1")


def test_every_benchmark_has_a_recorded_answer_for_every_size():
    recorded = json.loads((INIMAGE / "inputs" / "cpusuite" / "expected.json").read_text())
    for size in cpusuite.SIZES:
        assert set(recorded[size]) == set(cpusuite.BENCHMARKS), size
        assert all("answer" in entry and entry["answer"] for entry in recorded[size].values()), size
    chain = json.loads((INIMAGE / "inputs" / "hepchain" / "expected.json").read_text())
    for size in hepchain.SIZES:
        assert set(chain["answer"][size]) == set(hepchain.ANSWER_TOLERANCE), size


def test_hepchain_answer_tolerances():
    want = {"events": 150, "particles": 74555, "towers": 120461, "jets": 543, "sum_jet_pt": 43651.2048,
            "mean_leading_jet_pt": 128.5020}
    # what masking the CPU down to x86-64-v2 changed here (measured): 5 towers, pT in the 7th digit
    assert hepchain.answer_differs({**want, "towers": 120466, "sum_jet_pt": 43651.1945}, want) is None
    assert "jets = 480" in hepchain.answer_differs({**want, "jets": 480}, want)
    assert "events" in hepchain.answer_differs({**want, "events": 149}, want)
    assert hepchain.answer_differs(want, None) == "no recorded answer for this size"


@pytest.mark.parametrize("flags, level", [
    ("fpu cmov cx8 fxsr mmx syscall sse sse2", "x86-64"),
    ("fpu cmov cx8 fxsr mmx syscall sse sse2 cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3", "x86-64-v2"),
    ("fpu cmov cx8 fxsr mmx syscall sse sse2 cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3 "
     "avx avx2 bmi1 bmi2 f16c fma abm movbe xsave", "x86-64-v3"),
    # AVX-512 without AVX2 does not make a v4 (levels are cumulative)
    ("fpu cmov cx8 fxsr mmx syscall sse sse2 cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3 "
     "avx512f avx512bw avx512cd avx512dq avx512vl", "x86-64-v2"),
    ("neon asimd", None),
])
def test_isa_level_from_flags(flags, level):
    assert isa.isa_level(flags.split()) == level


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nflags\t\t: sse2 avx fpu\nprocessor\t: 1\nflags\t: x\n")
    assert isa.cpu_flags(tmp_path / "cpuinfo") == ["avx", "fpu", "sse2"]
    assert isa.cpu_flags(tmp_path / "missing") == []


def test_mask_environment_per_level():
    v2 = isa.mask_environment("x86-64-v2")
    assert "-AVX2" in v2["GLIBC_TUNABLES"] and "-FMA" in v2["GLIBC_TUNABLES"] and "-AVX512F" in v2["GLIBC_TUNABLES"]
    assert v2["NPY_DISABLE_CPU_FEATURES"].split() == ["X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"]
    v3 = isa.mask_environment("x86-64-v3")
    assert "-AVX512F" in v3["GLIBC_TUNABLES"] and "-AVX2," not in v3["GLIBC_TUNABLES"] + ","
    assert "GLIBC_TUNABLES" not in isa.mask_environment("x86-64-v4")
    assert isa.x264_asm("x86-64-v2").split(",")[-1] == "SSE4.2"
    assert "AVX2" in isa.x264_asm("x86-64-v3") and "AVX512" not in isa.x264_asm("x86-64-v3")
    with pytest.raises(ValueError, match="mask level"):
        isa.mask_environment("x86-64")
