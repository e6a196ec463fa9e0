#!/usr/bin/env python3
"""execbench open CPU suite: SPEC CPU2006-like benchmarks from the upstream programs Debian ships.

Runs in the current directory (the copy's output dir), stdlib only. Each benchmark:
  prepare  generate its fixed inputs (seeded, not timed) and check them against recorded hashes
  run      run the program(s) single-threaded; wall time = the benchmark's run time
  verify   compare the benchmark's answer with the one recorded for this size (like SPEC's
           compare step: a wrong answer is status VE, never a silent number); how each answer is
           made the same on every x86-64 CPU is said at ANSWERS below
Scoring as SPEC CPU2006 speed runs / HEP-SPEC06: ratio = reference seconds / run seconds,
median iteration selected (lower median), copy score = geometric mean of the ratios, valid only
when every benchmark is valid; the machine score (sum over copies) is computed by the parser.

Writes cpusuite.log (SPEC-like text, read by execbench.parsers.cpusuite) and cpusuite.json.
`--record-expected` (maintainers only) rewrites inputs/cpusuite/expected.json from this image.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs" / "cpusuite"
X264_ASM = ""  # --x264-asm: x264's own CPU dispatch restricted to these flags ("" = all it finds)
FORMAT_VERSION = 1  # of cpusuite.log / cpusuite.json
# The suite itself (work and checks): 2 = 464.x264 with --cpu-independent, answers compared per
# benchmark (exact / image / hits). Written in the log header as suite=<n>.
SUITE_VERSION = 2

# Work per size. smoke: ~0.5 s per benchmark on a 2020s x86 core (the default study runs
# it 18 times); standard: >= 30 s.
SIZES = {
    "smoke": {
        "400.perl": {"messages": 1750},
        "401.bzip2": {"megabytes": 2, "passes": 2},
        "403.gcc": {"functions": 20, "passes": 1},
        "445.gnugo": {"moves": 5},
        "453.povray": {"width": 136, "height": 102},
        "456.hmmer": {"sequences": 800},
        "458.stockfish": {"depth": 9},
        "464.x264": {"frames": 90, "preset": "slow"},
        "483.xalan": {"items": 15000, "passes": 1},
    },
    "standard": {
        "400.perl": {"messages": 100000},
        "401.bzip2": {"megabytes": 16, "passes": 16},
        "403.gcc": {"functions": 200, "passes": 6},
        "445.gnugo": {"moves": 80},
        "453.povray": {"width": 3200, "height": 2400},
        "456.hmmer": {"sequences": 50000},
        "458.stockfish": {"depth": 20},
        "464.x264": {"frames": 1800, "preset": "veryslow"},
        "483.xalan": {"items": 100000, "passes": 1},
    },
}
LANGUAGE = {
    "400.perl": "C", "401.bzip2": "C", "403.gcc": "C++", "445.gnugo": "C",
    "453.povray": "C++", "456.hmmer": "C", "458.stockfish": "C++", "464.x264": "C",
    "483.xalan": "C++",
}


class BenchmarkError(Exception):
    """status code (SPEC's RE/VE, plus IE = input check failed) and a one-line reason"""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def sha256_file(path: Path, skip_hash_lines: bool = False) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if skip_hash_lines:  # PPM comments and HMMER tblout headers hold dates and paths
            for line in handle:
                if not line.startswith(b"#"):
                    digest.update(line)
        else:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(argv: list[str], work: Path, stdin=None, stdout=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=work, stdin=stdin, stdout=stdout or subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise BenchmarkError("RE", f"{Path(argv[0]).name} exited {proc.returncode}: {tail[0][:200]}")
    return proc


# ---------------------------------------------------------------- input generators (seeded)

def word_list(rng: random.Random, count: int) -> list[str]:
    syllables = "ka ri to me na su lo pe di vu ra ne mo ti ba ze qu ox ly in ar el ho".split()
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(count)]


def gen_bzip2_input(path: Path, megabytes: int) -> None:
    """Text with a Zipf-like word mix, interleaved with incompressible blocks (as 401's inputs mix
    text, source and binaries)."""
    rng = random.Random(401)
    words = word_list(rng, 5000)
    weights = [1.0 / (i + 1) for i in range(len(words))]
    target = megabytes * 1_000_000
    with open(path, "wb") as out:
        written = 0
        while written < target:
            text = (" ".join(rng.choices(words, weights, k=20000)) + "\n").encode()
            noise = rng.randbytes(16384)
            out.write(text)
            out.write(noise)
            written += len(text) + len(noise)


def gen_c_source(path: Path, functions: int) -> None:
    """A synthetic C translation unit: loops, switches, structs, inlining opportunities."""
    rng = random.Random(403)
    ops = ["+", "-", "*", "^", "|", "&"]
    lines = ["#include <stddef.h>", "struct vec { long x, y, z; double w; };",
             "static inline long mix(long a, long b) { return (a << 7) ^ (b >> 3) ^ (a * 31 + b); }"]
    for f in range(functions):
        body = [f"long f{f}(const long *v, size_t n, struct vec *s) {{", "  long acc = 0, t = 1;",
                "  for (size_t i = 0; i < n; i++) {"]
        for k in range(rng.randint(4, 10)):
            op = rng.choice(ops)
            body.append(f"    t = mix(t {op} v[i] * {rng.randint(2, 99)}, acc + {k});")
            if rng.random() < 0.5:
                body.append(f"    if ((t & {rng.randint(1, 63)}) == {rng.randint(0, 7)}) acc -= t >> {rng.randint(1, 9)};")
        body.append("    switch ((t ^ i) & 7) {")
        for case in range(8):
            body.append(f"      case {case}: acc += s[i & 3].{'xyz'[case % 3]} * {rng.randint(1, 50)}; "
                        f"s[(i + {case}) & 3].w += (double)acc / {rng.randint(2, 9)}.0; break;")
        body.append("    }")
        body.append("  }")
        if f > 0:
            body.append(f"  acc += f{rng.randrange(f)}(v, n / 2, s);")
        body += ["  return acc ^ t;", "}"]
        lines += body
    path.write_text("\n".join(lines) + "\n")


def gen_gnugo_script(path: Path, moves: int) -> None:
    lines = ["boardsize 19", "clear_board", "komi 6.5"]
    for m in range(moves):
        lines.append("genmove " + ("black" if m % 2 == 0 else "white"))
    lines += ["showboard", "quit"]
    path.write_text("\n".join(lines) + "\n")


AMINO = "ACDEFGHIKLMNPQRSTVWY"


def gen_hmmer_inputs(msa: Path, db: Path, sequences: int) -> None:
    """A protein family (Stockholm alignment) and a database of random sequences, 1 % of which
    carry a mutated family member: hmmsearch has real hits to find among much noise."""
    rng = random.Random(456)
    consensus = "".join(rng.choice(AMINO) for _ in range(180))

    def mutate(seq: str, rate: float) -> str:
        return "".join(rng.choice(AMINO) if rng.random() < rate else ch for ch in seq)

    with open(msa, "w") as out:
        out.write("# STOCKHOLM 1.0\n")
        for i in range(40):
            out.write(f"fam{i:03d} {mutate(consensus, 0.25)}\n")
        out.write("//\n")
    with open(db, "w") as out:
        for i in range(sequences):
            length = rng.randint(120, 400)
            seq = "".join(rng.choices(AMINO, k=length))
            if i % 100 == 7:
                cut = rng.randint(0, length // 2)
                seq = seq[:cut] + mutate(consensus, 0.4) + seq[cut:]
            out.write(f">seq{i:06d}\n")
            for start in range(0, len(seq), 60):
                out.write(seq[start:start + 60] + "\n")


def gen_y4m(path: Path, frames: int, width: int = 352, height: int = 288) -> None:
    """CIF video panning over a smooth procedural texture with noise (a camera pan, as in the
    foreman/akiyo-style clips of 464's inputs)."""
    rng = random.Random(464)
    tw, th = width * 2, height * 2
    noise = rng.randbytes(tw * th)
    texture = bytearray(tw * th)
    for y in range(th):
        row = y * tw
        sy = math.sin(y / 23.0) * 40
        for x in range(tw):
            texture[row + x] = int(128 + 60 * math.sin(x / 17.0 + sy / 30.0) + sy) + (noise[row + x] & 15) & 0xFF
    chroma_w, chroma_h = width // 2, height // 2
    u_plane = bytes((96 + (x * 64) // chroma_w) for x in range(chroma_w)) * chroma_h
    v_plane = bytes((160 - (y * 64) // chroma_h) for y in range(chroma_h) for _ in range(chroma_w))
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\n".encode())
        for f in range(frames):
            dx = int((width - 1) * (0.5 + 0.5 * math.sin(f / 40.0)))
            dy = (f * 2) % height
            out.write(b"FRAME\n")
            for y in range(height):
                start = (y + dy) * tw + dx
                out.write(texture[start:start + width])
            out.write(u_plane)
            out.write(v_plane)


def gen_catalog(path: Path, items: int) -> None:
    rng = random.Random(483)
    words = word_list(rng, 3000)
    categories = [w.capitalize() for w in words[:40]]
    suppliers = [f"{w}-{rng.randint(1, 99)}" for w in words[40:640]]
    with open(path, "w") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<catalog>\n')
        for i in range(items):
            name = " ".join(rng.choices(words, k=rng.randint(1, 4)))
            out.write(f'  <item id="i{i:07d}" category="{rng.choice(categories)}">'
                      f"<name>{name}</name><price>{rng.randint(1, 999999) / 100:.2f}</price>"
                      f"<supplier>{rng.choice(suppliers)}</supplier><rating>{rng.randint(0, 5)}</rating></item>\n")
        out.write("</catalog>\n")


# ---------------------------------------------------------------- benchmarks
# Each benchmark: prepare(work, params) -> dict of input digests; execute(work, params) -> None;
# output_digest(work, params) -> str. Only execute() is timed.

def perl_prepare(work, p):
    shutil.copy(INPUTS / "perlbench.pl", work / "perlbench.pl")
    return {"perlbench.pl": sha256_file(work / "perlbench.pl")}


def perl_execute(work, p):
    with open(work / "perl.out", "wb") as out:
        run(["perl", "perlbench.pl", str(p["messages"])], work, stdout=out)


def bzip2_prepare(work, p):
    gen_bzip2_input(work / "input.dat", p["megabytes"])
    return {"input.dat": sha256_file(work / "input.dat")}


def bzip2_execute(work, p):
    # SPEC's 401 compresses and decompresses at several block sizes; so do we
    for n in range(p["passes"]):
        level = (9, 6, 3, 1)[n % 4]
        with open(work / "input.dat", "rb") as src, open(work / "input.bz2", "wb") as dst:
            run(["bzip2", f"-{level}", "-c"], work, stdin=src, stdout=dst)
        with open(work / "input.bz2", "rb") as src, open(work / "output.dat", "wb") as dst:
            run(["bzip2", "-d", "-c"], work, stdin=src, stdout=dst)
        if sha256_file(work / "output.dat") != sha256_file(work / "input.dat"):
            raise BenchmarkError("VE", f"bzip2 -{level} round trip changed the data")


def gcc_prepare(work, p):
    gen_c_source(work / "unit.c", p["functions"])
    return {"unit.c": sha256_file(work / "unit.c")}


def gcc_execute(work, p):
    for _ in range(p["passes"]):
        run(["gcc", "-O2", "-S", "-o", "unit.s", "unit.c"], work)


def gnugo_prepare(work, p):
    gen_gnugo_script(work / "game.gtp", p["moves"])
    return {"game.gtp": sha256_file(work / "game.gtp")}


def gnugo_execute(work, p):
    with open(work / "gnugo.out", "wb") as out:
        run(["/usr/games/gnugo", "--mode", "gtp", "--gtp-input", "game.gtp", "--seed", "445",
             "--level", "10"], work, stdout=out)


def povray_prepare(work, p):
    shutil.copy(INPUTS / "scene.pov", work / "scene.pov")
    return {"scene.pov": sha256_file(work / "scene.pov")}


def povray_execute(work, p):
    run(["povray", "-D", "+WT1", "+A0.3", "+R3", "+FP", f"+W{p['width']}", f"+H{p['height']}",
         "+Iscene.pov", "+Oscene.ppm"], work)


def hmmer_prepare(work, p):
    gen_hmmer_inputs(work / "family.sto", work / "db.fa", p["sequences"])
    run(["hmmbuild", "--cpu", "0", "--seed", "456", "family.hmm", "family.sto"], work)
    return {"family.sto": sha256_file(work / "family.sto"), "db.fa": sha256_file(work / "db.fa")}


def hmmer_execute(work, p):
    # --max: no heuristic filters, full Forward/Backward on every sequence (compute-bound)
    run(["hmmsearch", "--cpu", "0", "--max", "--seed", "456", "-Z", "10000", "--noali",
         "--tblout", "hits.tbl", "-o", "hmmsearch.out", "family.hmm", "db.fa"], work)


def stockfish_prepare(work, p):
    return {}


def stockfish_execute(work, p):
    # bench <hash MB> <threads> <limit> <positions> <limit type>; stats go to stderr
    proc = run(["/usr/games/stockfish", "bench", "16", "1", str(p["depth"]), "default", "depth"], work)
    (work / "bench.out").write_bytes(proc.stderr)


def x264_prepare(work, p):
    gen_y4m(work / "clip.y4m", p["frames"])
    return {"clip.y4m": sha256_file(work / "clip.y4m")}


def x264_execute(work, p):
    # --cpu-independent: x264 still runs its SIMD code (as fast as without the flag), but the few
    # functions whose results differ between instruction sets (AVX-512 vs AVX2 vs SSE2) use their
    # exact variants, so the bitstream is the same on every CPU. --asm (maintainers and the ISA
    # masking test only) restricts x264's own CPU dispatch to a subset.
    asm = ["--asm", X264_ASM] if X264_ASM else []
    run(["x264", "--threads", "1", "--lookahead-threads", "1", "--preset", p["preset"], "--crf", "23",
         "--cpu-independent", *asm, "--no-progress", "--quiet", "-o", "clip.264", "clip.y4m"], work)


def xalan_prepare(work, p):
    shutil.copy(INPUTS / "catalog.xsl", work / "catalog.xsl")
    gen_catalog(work / "catalog.xml", p["items"])
    return {"catalog.xsl": sha256_file(work / "catalog.xsl"), "catalog.xml": sha256_file(work / "catalog.xml")}


def xalan_execute(work, p):
    for _ in range(p["passes"]):
        run(["Xalan", "-o", "catalog.html", "catalog.xml", "catalog.xsl"], work)


def stockfish_digest(work: Path) -> str:
    # the node count is the deterministic answer; timing lines are not
    lines = [l for l in (work / "bench.out").read_text().splitlines() if l.startswith("Nodes searched")]
    if len(lines) != 1:
        raise BenchmarkError("VE", "stockfish printed no 'Nodes searched' line")
    return sha256_bytes(lines[0].encode())


# ---------------------------------------------------------------- ANSWERS
# A benchmark's answer must get the same verdict on every x86-64 CPU (x86-64-v2 and up) the suite
# runs on, whatever SIMD code paths the programs and glibc (libm and string functions are chosen
# per CPU through ifuncs; FMA changes floating-point results) pick at run time. None of povray,
# hmmsearch, stockfish, gnugo or Xalan does its own CPU dispatch (Debian builds them for the
# x86-64 baseline); x264 does. tests/payloads/test_isa_masking.py runs the suite with the CPU
# features masked down to x86-64-v3 and -v2 and asserts the same verdicts and answers. Per benchmark:
#   exact  sha256 of an output with no floating-point rounding in it: integer work and text (perl,
#          bzip2, Xalan), a compiler's assembly (gcc, no -march=native), GNU Go's moves, Stockfish's
#          node count (integer search and evaluation, one thread), x264's bitstream with
#          --cpu-independent;
#   image  POV-Ray renders through libm: the image is compared as block means within a tolerance,
#          for the reason SPEC CPU2017's 511.povray_r compares its image per 8x8 block (SSIM >= 0.996)
#          instead of byte by byte;
#   hits   HMMER's answer is its significant hits: the same sequences, bit scores within a tolerance,
#          as SPEC's specdiff compares numbers with relative/absolute tolerances.

IMAGE_GRID = (32, 24)  # blocks across, down (independent of the render size)
IMAGE_TOLERANCE = 1.0  # largest allowed difference of a block's mean, in levels of 255
HITS_EVALUE = 1e-5  # the hits recorded: full-sequence E-value at most this
HITS_TOLERANCE = (0.2, 1e-3)  # bit score: absolute, relative


def read_ppm(path: Path) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of a binary PPM (P6, maxval 255) as POV-Ray writes it with +FP
    (its # comment lines hold the render date). Raises BenchmarkError VE on anything else."""
    data = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while end < len(data) and not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise BenchmarkError("VE", f"scene.ppm is not a P6 PPM with maxval 255 ({fields[0]!r}, {fields[3]!r})")
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1:pos + 1 + 3 * width * height]
    if len(pixels) != 3 * width * height:
        raise BenchmarkError("VE", f"scene.ppm holds {len(pixels)} bytes of pixels, expected {3 * width * height}")
    return width, height, pixels


def image_answer(path: Path) -> dict:
    """The render as {width, height, grid, means}: means = per block (row-major over IMAGE_GRID) and
    channel (R, G, B), the mean level x 100, rounded to an integer."""
    width, height, pixels = read_ppm(path)
    gx, gy = IMAGE_GRID
    xs = [width * i // gx for i in range(gx + 1)]
    ys = [height * j // gy for j in range(gy + 1)]
    sums = [0] * (gx * gy * 3)
    for y in range(height):
        by = next(j for j in range(gy) if ys[j] <= y < ys[j + 1])
        row = pixels[3 * width * y:3 * width * (y + 1)]
        for bx in range(gx):
            part = row[3 * xs[bx]:3 * xs[bx + 1]]
            base = 3 * (by * gx + bx)
            for channel in range(3):
                sums[base + channel] += sum(part[channel::3])
    means = []
    for by in range(gy):
        for bx in range(gx):
            count = (xs[bx + 1] - xs[bx]) * (ys[by + 1] - ys[by])
            means += [round(100 * sums[3 * (by * gx + bx) + c] / count) if count else 0 for c in range(3)]
    return {"width": width, "height": height, "grid": [gx, gy], "means": means}


def image_check(got: dict, want: dict) -> str | None:
    if (got["width"], got["height"], got["grid"]) != (want["width"], want["height"], want["grid"]):
        return (f"image {got['width']}x{got['height']} (grid {got['grid']}) differs from the recorded "
                f"{want['width']}x{want['height']} (grid {want['grid']})")
    worst = max(range(len(want["means"])), key=lambda i: abs(got["means"][i] - want["means"][i]))
    delta = abs(got["means"][worst] - want["means"][worst]) / 100
    if delta > IMAGE_TOLERANCE:
        block, channel = divmod(worst, 3)
        return (f"image differs from the recorded answer: block {block} channel {'RGB'[channel]} mean off by "
                f"{delta:.2f} levels (tolerance {IMAGE_TOLERANCE})")
    return None


def hits_answer(path: Path, evalue_max: float = HITS_EVALUE) -> dict:
    """HMMER --tblout: {target name: full-sequence bit score} of the hits with E-value <= evalue_max."""
    hits = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split()
        try:
            evalue, score = float(cols[4]), float(cols[5])
        except (IndexError, ValueError):
            raise BenchmarkError("VE", f"hits.tbl line not in HMMER's tblout layout: {line[:80]!r}") from None
        if evalue <= evalue_max:
            hits[cols[0]] = score
    return {"evalue_max": evalue_max, "hits": hits}


def hits_check(got: dict, want: dict) -> str | None:
    missing = sorted(set(want["hits"]) - set(got["hits"]))
    extra = sorted(set(got["hits"]) - set(want["hits"]))
    if missing or extra:
        return f"significant hits differ from the recorded answer: missing {missing[:5]}, extra {extra[:5]}"
    absolute, relative = HITS_TOLERANCE
    for name, score in sorted(want["hits"].items()):
        if abs(got["hits"][name] - score) > absolute + relative * abs(score):
            return f"hit {name} bit score {got['hits'][name]} differs from the recorded {score} (tolerance {absolute} + {relative:g} x score)"
    return None


def exact_check(got: str, want: str) -> str | None:
    if got == want:
        return None
    return f"output sha256 {got[:16]}... differs from the recorded answer {str(want)[:16]}..."


def file_sha256(name: str):
    return lambda work: sha256_file(work / name)


# name: (prepare, execute, answer(work) -> JSON value, check(got, want) -> None or why not)
BENCHMARKS = {
    "400.perl": (perl_prepare, perl_execute, file_sha256("perl.out"), exact_check),
    "401.bzip2": (bzip2_prepare, bzip2_execute, file_sha256("input.bz2"), exact_check),
    "403.gcc": (gcc_prepare, gcc_execute, file_sha256("unit.s"), exact_check),
    "445.gnugo": (gnugo_prepare, gnugo_execute, file_sha256("gnugo.out"), exact_check),
    "453.povray": (povray_prepare, povray_execute, lambda w: image_answer(w / "scene.ppm"), image_check),
    "456.hmmer": (hmmer_prepare, hmmer_execute, lambda w: hits_answer(w / "hits.tbl"), hits_check),
    "458.stockfish": (stockfish_prepare, stockfish_execute, stockfish_digest, exact_check),
    "464.x264": (x264_prepare, x264_execute, file_sha256("clip.264"), exact_check),
    "483.xalan": (xalan_prepare, xalan_execute, file_sha256("catalog.html"), exact_check),
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_iteration(name: str, params: dict, work_root: Path, expected: dict | None) -> dict:
    """One timed iteration; expected=None records hashes instead of checking them."""
    prepare, execute, answer, check = BENCHMARKS[name]
    work = work_root / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    result = {"status": "S", "seconds": None, "cpu_seconds": None, "reason": ""}
    try:
        inputs = prepare(work, params)
        result["inputs"] = inputs
        want_inputs = {} if expected is None else expected.get("inputs", {})
        for file, got in sorted(inputs.items()) if expected is not None else ():
            if file not in want_inputs:
                raise BenchmarkError("IE", f"no recorded hash for input {file}")
            if want_inputs[file] != got:
                raise BenchmarkError("IE", f"input {file} sha256 {got[:16]}... != recorded {want_inputs[file][:16]}...")
        cpu0, t0 = children_cpu(), time.perf_counter()
        execute(work, params)
        result["seconds"] = time.perf_counter() - t0
        result["cpu_seconds"] = children_cpu() - cpu0
        got = answer(work)
        result["answer"] = got
        if expected is None:
            return result
        if "answer" not in expected:
            raise BenchmarkError("VE", "no recorded answer for this size")
        why = check(got, expected["answer"])
        if why:
            raise BenchmarkError("VE", why)
    except BenchmarkError as err:
        result["status"], result["reason"] = err.status, err.reason
    except OSError as err:  # a missing program or unwritable dir is a run-time error
        result["status"], result["reason"] = "RE", f"{type(err).__name__}: {err}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def dump_answers(answers: dict) -> str:
    """expected.json's text: indented, but a list of numbers on one line (an image's block means
    would otherwise take thousands of lines)."""
    text = json.dumps(answers, indent=1, sort_keys=True)
    def one_line(match):
        return "[" + ", ".join(item.strip(",") for item in match.group(0)[1:-1].split()) + "]"

    return re.sub(r"\[[\s\d.,eE+-]+\]", one_line, text) + "\n"


def lower_median_index(values: list[float]) -> int:
    order = sorted(range(len(values)), key=lambda i: values[i])
    return order[(len(values) - 1) // 2]


def fmt(value, spec):
    return format(value, spec) if value is not None else "--"


def main(argv=None) -> int:
    global INPUTS, X264_ASM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--copy", default="0")
    parser.add_argument("--benchmarks", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--inputs", type=Path, default=INPUTS, help="directory with expected.json, reference.json")
    parser.add_argument("--record-expected", action="store_true", help="(maintainers) rewrite recorded answers")
    parser.add_argument("--x264-asm", default="", metavar="FLAGS",
                        help="(tests) x264 --asm: restrict its CPU dispatch, e.g. SSE2,SSSE3,SSE4.2")
    args = parser.parse_args(argv)
    INPUTS = args.inputs  # the prepare steps copy shipped inputs (scene, script, stylesheet) from here
    X264_ASM = args.x264_asm

    names = [n for n in args.benchmarks.split(",") if n] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; known: {list(BENCHMARKS)}")
    expected_path = args.inputs / "expected.json"
    expected_all = json.loads(expected_path.read_text()) if expected_path.exists() else {}
    expected = expected_all.get(args.size, {})
    reference = json.loads((args.inputs / "reference.json").read_text())["seconds"][args.size]

    # children inherit a writable HOME (povray keeps a user config dir; rootfs may be read-only)
    work_root = Path.cwd() / "cpusuite-work"
    os.environ["HOME"] = str(work_root / "home")
    (work_root / "home").mkdir(parents=True, exist_ok=True)
    os.environ["OMP_NUM_THREADS"] = "1"

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    results = {}
    for name in names:
        its = []
        for _ in range(args.iterations):
            want = None if args.record_expected else expected.get(name, {})
            its.append(run_iteration(name, SIZES[args.size][name], work_root, want))
        results[name] = its
    ended = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    shutil.rmtree(work_root, ignore_errors=True)

    if args.record_expected:
        expected_all.setdefault(args.size, {})  # --benchmarks re-records only those
        for name, its in results.items():
            it = its[0]
            if it["status"] == "RE":
                print(f"{name}: {it['reason']}", file=sys.stderr)
                return 1
            print(f"{name}: {it['seconds']:.2f} s", file=sys.stderr)
            expected_all[args.size][name] = {"inputs": it.get("inputs") or {}, "answer": it.get("answer")}
        expected_path.write_text(dump_answers(expected_all))
        return 0

    write_reports(args, names, results, reference, started, ended)
    return 0 if all(it["status"] == "S" for its in results.values() for it in its) else 1


def write_reports(args, names, results, reference, started, ended) -> None:
    selected = {}
    for name in names:
        its = results[name]
        ref = reference.get(name)
        for i, it in enumerate(its, 1):
            it["iteration"] = i
            it["reference_seconds"] = ref
            it["ratio"] = ref / it["seconds"] if (it["status"] == "S" and ref) else None
            if it["status"] == "S" and not ref:
                it["status"], it["reason"] = "VE", "no reference time for this benchmark and size"
        valid = [it for it in its if it["status"] == "S"]
        if len(valid) == len(its):
            selected[name] = its[lower_median_index([it["seconds"] for it in its])]
        else:
            selected[name] = next(it for it in its if it["status"] != "S")

    all_valid = all(selected[n]["status"] == "S" for n in names)
    score = math.exp(sum(math.log(selected[n]["ratio"]) for n in names) / len(names)) if all_valid else None

    head = "Benchmark        Lang  Iter    Ref(s)    Run(s)     Ratio    CPU(s)  Status"
    lines = [f"execbench cpusuite {FORMAT_VERSION} size={args.size} copy={args.copy} "
             f"iterations={args.iterations} suite={SUITE_VERSION} started={started}",
             f"# open SPEC CPU2006-like suite; ratio = reference seconds / run seconds; host={platform.node()}",
             head, "-" * len(head)]

    def row(name, it, mark):
        return (f"{name:<16} {LANGUAGE[name]:<4} {mark:>5} {fmt(it['reference_seconds'], '9.3f')} "
                f"{fmt(it['seconds'], '9.6f')} {fmt(it['ratio'], '9.4f')} {fmt(it['cpu_seconds'], '9.6f')}  {it['status']}")

    for name in names:
        for it in results[name]:
            lines.append(row(name, it, str(it["iteration"])))
            if it["status"] != "S":
                lines.append(f"! {name} iteration {it['iteration']}: {it['status']}: {it['reason']}")
    lines.append("=" * len(head))
    for name in names:
        lines.append(row(name, selected[name], "*"))
    lines.append(f"Score (geometric mean of {len(names)} ratios): {fmt(score, '.4f')}")
    lines.append(f"Status: {'valid' if all_valid else 'invalid'}")
    lines.append(f"ended={ended}")
    Path("cpusuite.log").write_text("\n".join(lines) + "\n")
    Path("cpusuite.json").write_text(json.dumps({
        "format": "execbench-cpusuite", "version": FORMAT_VERSION, "suite_version": SUITE_VERSION,
        "size": args.size, "copy": args.copy,
        "iterations": args.iterations, "started_utc": started, "ended_utc": ended,
        "score": score, "valid": all_valid,
        "benchmarks": {n: {"language": LANGUAGE[n], "params": SIZES[args.size][n], "iterations": results[n]}
                       for n in names}}, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
