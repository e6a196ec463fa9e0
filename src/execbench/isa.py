"""x86-64 instruction-set levels: which one a CPU reaches, and how to make programs act as if on a lower one.

Levels as defined by the x86-64 psABI ("x86-64 microarchitecture levels", System V AMD64 ABI,
section 3.1.1; the same levels glibc uses for its glibc-hwcaps directories), in the flag names
of the Linux kernel's /proc/cpuinfo:

    x86-64     cmov cx8 fpu fxsr mmx syscall sse sse2          (the baseline)
    x86-64-v2  + cx16 lahf_lm popcnt pni(SSE3) sse4_1 sse4_2 ssse3
    x86-64-v3  + avx avx2 bmi1 bmi2 f16c fma abm(LZCNT) movbe xsave(OSXSAVE)
    x86-64-v4  + avx512f avx512bw avx512cd avx512dq avx512vl

A payload's answer must not depend on the level (issue: portable payload checks). Masking lets a
test run the payloads as a lower-level CPU would, on a higher-level host, by switching off each
run-time dispatcher the payloads go through:

- glibc (libm and string ifuncs, glibc-hwcaps library selection): the tunable
  ``GLIBC_TUNABLES=glibc.cpu.hwcaps=-FEATURE,...`` (glibc manual, "Hardware Capability Tunables";
  names as in glibc's sysdeps/x86/include/cpu-features.h; unknown names are ignored);
- numpy's SIMD dispatch: ``NPY_DISABLE_CPU_FEATURES`` (numpy docs, "CPU build options",
  runtime dispatch; numpy >= 2.4 groups features as X86_V3, X86_V4, AVX512_ICL, AVX512_SPR);
- OpenBLAS's DYNAMIC_ARCH kernel choice: ``OPENBLAS_CORETYPE``;
- x264's own CPU detection: its ``--asm`` option (list of x264 CPU flag names).
"""

from __future__ import annotations

from pathlib import Path

LEVELS = ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4")
LEVEL_FLAGS: dict[str, frozenset[str]] = {
    "x86-64": frozenset({"cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2"}),
    "x86-64-v2": frozenset({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}),
    "x86-64-v3": frozenset({"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}),
    "x86-64-v4": frozenset({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
}

# Features each level adds, as the run-time dispatchers name them (see the module docstring).
_GLIBC_ABOVE = {
    "x86-64-v2": ["AVX", "AVX2", "BMI1", "BMI2", "F16C", "FMA", "FMA4", "LZCNT", "MOVBE", "XOP", "AVX_VNNI",
                  "VAES", "VPCLMULQDQ"],
    "x86-64-v3": ["AVX512F", "AVX512BW", "AVX512CD", "AVX512DQ", "AVX512VL", "AVX512_VNNI", "AVX512_BF16",
                  "AVX512_FP16", "AVX512_VBMI", "AVX512_VBMI2", "AVX512_IFMA", "AVX512_BITALG",
                  "AVX512_VPOPCNTDQ", "AVX512ER", "AVX512PF"],
}
_NUMPY_ABOVE = {"x86-64-v2": ["X86_V3"], "x86-64-v3": ["X86_V4", "AVX512_ICL", "AVX512_SPR"]}
_OPENBLAS_CORE = {"x86-64-v2": "Nehalem", "x86-64-v3": "Haswell", "x86-64-v4": "SkylakeX"}
_X264_ASM = {
    "x86-64-v2": ["MMX2", "SSE", "SSE2", "SSE2Fast", "SSE3", "SSSE3", "SSE4.1", "SSE4.2"],
    "x86-64-v3": ["LZCNT", "AVX", "FMA3", "BMI1", "BMI2", "AVX2"],
    "x86-64-v4": ["AVX512"],
}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The first CPU's flags in /proc/cpuinfo, sorted ([] where unreadable or not x86)."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() == "flags":
                return sorted(set(value.split()))
    except OSError:
        pass
    return []


def isa_level(flags) -> str | None:
    """The highest psABI level whose flags (and every lower level's) are all in `flags`; None below
    the baseline (or on another architecture)."""
    have, reached = set(flags), None
    for level in LEVELS:
        if not LEVEL_FLAGS[level] <= have:
            break
        reached = level
    return reached


def _levels_above(level: str) -> list[str]:
    if level not in LEVELS[1:]:
        raise ValueError(f"mask level must be one of {list(LEVELS[1:])}, got {level!r}")
    return [lvl for lvl in LEVELS[LEVELS.index(level):] if lvl in _GLIBC_ABOVE]


def mask_environment(level: str) -> dict[str, str]:
    """Environment that makes glibc, numpy and OpenBLAS dispatch as on an `level` CPU.

    Raises ValueError for a level that is not x86-64-v2, -v3 or -v4 (the baseline cannot be
    masked to: numpy >= 2 needs x86-64-v2)."""
    above = _levels_above(level)
    env = {"OPENBLAS_CORETYPE": _OPENBLAS_CORE[level]}
    glibc = [name for lvl in above for name in _GLIBC_ABOVE[lvl]]
    numpy = [name for lvl in above for name in _NUMPY_ABOVE[lvl]]
    if glibc:
        env["GLIBC_TUNABLES"] = "glibc.cpu.hwcaps=" + ",".join(f"-{name}" for name in glibc)
    if numpy:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(numpy)
    return env


def x264_asm(level: str) -> str:
    """x264 --asm flag list for an `level` CPU (x264's names, common/cpu.c x264_cpu_names)."""
    _levels_above(level)
    names = []
    for lvl in LEVELS[1:LEVELS.index(level) + 1]:
        names += _X264_ASM[lvl]
    return ",".join(names)
