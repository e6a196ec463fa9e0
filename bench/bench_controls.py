"""Resolving power on this host (issue 17): how often the paired analysis detects an injected
slowdown of 1, 2 and 5 %, how large it estimates it, and how often an A/A comparison (no slowdown)
comes out "significant" (the false-positive rate, nominal 5 %).

The noise is this host's, measured: DB12 at smoke size (the payload the default study's negative
control runs), copy A and copy B run back to back, alternating which goes first (ABBA), `pairs`
times, timed inside the program: its own NORM (DB12 as defined) and, from the same copy, its
fastest-slice score (payloads/db12.py: the pace of its fastest 50,000-draw slice), each replayed
on its own. Then a replay: a study of n rounds draws n of the
measured A/B pairs (with replacement, each read A/B or B/A at random: A and B are the same
program, so the null is exact), multiplies B by (1 - slowdown), and is judged by
stats.paired_ratio exactly as relative_table judges a cell. The replay is faithful to the pair
noise and its outliers; it does not reproduce a slow drift over the hours of a long study (the
pairs are minutes apart here), which pairing cancels anyway (bench_ci_coverage.py).

    .venv/bin/python bench/bench_controls.py [--pairs 40] [--rounds 3 5 10] [--studies 2000]
        [--measured FILE.json]   # replay earlier measurements instead of measuring again

Prints JSON lines: the measured pairs' spread, then per (rounds, slowdown) the detection rate,
the mean estimated slowdown and the mean half-width.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from execbench import stats  # noqa: E402
from execbench.payloads.db12 import fastest_slice_record  # noqa: E402

DB12 = ROOT / "src" / "execbench" / "inimage" / "db12.py"


ESTIMATORS = ("db12", "db12_fastest_slice")


def db12_once() -> dict[str, float]:
    """One DB12 smoke copy: its DB12 score and its fastest-slice score (payloads/db12.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        slices = Path(tmp) / "db12-slices.json"
        out = subprocess.run([sys.executable, str(DB12), "--size", "smoke", "--slices", str(slices)],
                             capture_output=True, text=True, check=True)
        fastest = fastest_slice_record(slices, 0).value
    return {"db12": float(out.stdout.strip()), "db12_fastest_slice": fastest}


def measure(pairs: int) -> dict[str, list[tuple[float, float]]]:
    """`pairs` (A, B) DB12 copies, A and B back to back, the order alternated (ABBA); per
    estimator the list of (A, B) values."""
    out = {name: [] for name in ESTIMATORS}
    for i in range(pairs):
        if i % 2 == 0:
            a, b = db12_once(), db12_once()
        else:
            b, a = db12_once(), db12_once()
        for name in ESTIMATORS:
            out[name].append((a[name], b[name]))
        print(json.dumps({"pair": i + 1, "a": a, "b": b}), file=sys.stderr, flush=True)
    return out


def replay(pairs: list[tuple[float, float]], rounds: int, slowdown: float, studies: int, seed: int) -> dict:
    rng = random.Random(f"{seed}/{rounds}/{slowdown}")
    detected = significant = 0
    estimates, widths = [], []
    for _ in range(studies):
        # A and B are the same program, so each pair may be read either way round: drawing its
        # orientation at random (a sign flip of the log ratio) makes the null exact, instead of
        # replaying the few measured pairs' chance mean as if it were a real difference
        drawn = [(a, b) if rng.random() < 0.5 else (b, a) for a, b in (rng.choice(pairs) for _ in range(rounds))]
        base = {i: a for i, (a, _) in enumerate(drawn)}
        mode = {i: b * (1.0 - slowdown) for i, (_, b) in enumerate(drawn)}
        result = stats.paired_ratio(mode, base, True)
        if result.verdict == "slower":
            detected += 1
        if result.verdict in ("slower", "faster"):
            significant += 1
        estimates.append(1.0 - result.relative_performance)
        if result.half_width_pct is not None:
            widths.append(result.half_width_pct)
    return {"rounds": rounds, "slowdown_pct": 100 * slowdown, "studies": studies,
            "detected_slower": detected / studies, "significant_any_direction": significant / studies,
            "mean_estimated_slowdown_pct": 100 * statistics.fmean(estimates),
            "median_half_width_pct": statistics.median(widths) if widths else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--rounds", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--measured", type=Path, help="JSON list of [a, b] pairs measured before")
    parser.add_argument("--save", type=Path, help="write the measured pairs here")
    parser.add_argument("--seed", type=int, default=2015)
    args = parser.parse_args()
    if args.measured:
        loaded = json.loads(args.measured.read_text())
        # an earlier file of this script: {estimator: pairs}, or a bare list of DB12 pairs
        by_estimator = loaded if isinstance(loaded, dict) else {"db12": loaded}
        by_estimator = {k: [tuple(p) for p in v] for k, v in by_estimator.items()}
    else:
        by_estimator = measure(args.pairs)
    if args.save:
        args.save.write_text(json.dumps(by_estimator))
    for estimator, pairs in by_estimator.items():
        logs = [math.log(b / a) for a, b in pairs]
        print(json.dumps({"estimator": estimator, "measured_pairs": len(pairs),
                          "a_cv_pct": 100 * statistics.stdev(a for a, _ in pairs) / statistics.fmean(a for a, _ in pairs),
                          "pair_log_ratio_sd_pct": 100 * statistics.stdev(logs)}))
        for rounds in args.rounds:
            for slowdown in (0.0, 0.01, 0.02, 0.05):
                print(json.dumps({"estimator": estimator, **replay(pairs, rounds, slowdown, args.studies, args.seed)}),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
