"""Coverage and width of the ratio intervals on a drifting host: paired t on log ratios (the answer,
stats.paired_ratio), the same without flagged outlier rounds, and unpaired Fieller-Welch
(stats.ratio_ci, the cross-check), plus a percentile bootstrap for reference.

The host model, as measured on this kind of machine (default study, STREAM and DB12 at smoke size):
- slow drift shared by everything run close in time: a random walk between rounds with step
  `--drift` (default 5 %: bare-metal STREAM varied 15-21 % across 3 rounds here),
- per-run noise, independent per run (`--noise`, default 1.5 %: docker/bare within a round 1.6-3 %),
- occasional outliers: with probability `--outlier-p` a run's value is multiplied by `--outlier-x`
  (one fio round came out at 3.14x bare metal).
The true ratio (mode/bare) is `--true` (0.98). Each simulated cell has n rounds, both modes in
every round sharing that round's drift.

    .venv/bin/python bench/bench_ci_coverage.py [--cells 4000] [--n 3 5 10]
"""

import argparse
import math

import numpy as np

from execbench import stats


def simulate(rng, n: int, args) -> tuple[dict, dict]:
    walk = np.cumsum(rng.normal(0.0, args.drift, n))
    bare, mode = {}, {}
    for i in range(n):
        level = math.exp(walk[i])
        b = 100.0 * level * rng.lognormal(0.0, args.noise)
        m = 100.0 * args.true * level * rng.lognormal(0.0, args.noise)
        if rng.random() < args.outlier_p:
            m *= args.outlier_x
        if rng.random() < args.outlier_p:
            b *= args.outlier_x
        bare[i], mode[i] = b, m
    return mode, bare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=4000)
    ap.add_argument("--n", type=int, nargs="+", default=[3, 5, 10])
    ap.add_argument("--true", type=float, default=0.98)
    ap.add_argument("--drift", type=float, default=0.05)
    ap.add_argument("--noise", type=float, default=0.015)
    ap.add_argument("--outlier-p", type=float, default=0.02)
    ap.add_argument("--outlier-x", type=float, default=3.0)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2015)
    args = ap.parse_args()
    print(f"true ratio {args.true}, drift {args.drift:.1%}/round, noise {args.noise:.1%}/run, outliers "
          f"{args.outlier_p:.0%} x{args.outlier_x}; {args.cells} cells per n; nominal 95 %")
    print(f"{'n':>3} {'method':<34} {'coverage':>9} {'median width':>13} {'slower called':>14}")
    for n in args.n:
        rng = np.random.default_rng(args.seed + n)
        tally = {k: [0, [], 0] for k in ("paired t (answer)", "paired t without outliers",
                                         "Fieller unpaired (cross-check)", "percentile bootstrap")}
        for _ in range(args.cells):
            mode, bare = simulate(rng, n, args)
            p = stats.paired_ratio(mode, bare, higher_is_better=True)
            robust = (p.robust_perf_ci_low, p.robust_perf_ci_high) if p.outlier_rounds else (p.perf_ci_low, p.perf_ci_high)
            u = stats.ratio_ci(list(mode.values()), list(bare.values()), higher_is_better=True)
            a, b = np.array(list(mode.values())), np.array(list(bare.values()))
            ia, ib = rng.integers(0, n, (args.resamples, n)), rng.integers(0, n, (args.resamples, n))
            boot = tuple(np.percentile(a[ia].mean(1) / b[ib].mean(1), [2.5, 97.5]))
            for key, (lo, hi) in (("paired t (answer)", (p.perf_ci_low, p.perf_ci_high)),
                                  ("paired t without outliers", robust),
                                  ("Fieller unpaired (cross-check)", (u.perf_ci_low, u.perf_ci_high)),
                                  ("percentile bootstrap", boot)):
                if lo is None or hi is None:
                    continue
                t = tally[key]
                t[0] += lo <= args.true <= hi
                t[1].append(hi - lo)
                t[2] += hi < 1.0
        for key, (covered, widths, slower) in tally.items():
            cells = len(widths)
            print(f"{n:>3} {key:<34} {100 * covered / cells:8.1f}% {100 * float(np.median(widths)):12.2f}% "
                  f"{100 * slower / cells:13.1f}%")


if __name__ == "__main__":
    main()
