"""Coverage of the ratio interval: Fieller-Welch (what stats.py uses) vs a percentile bootstrap.

Reproduces the numbers quoted in the docstring of src/execbench/stats.py:
normal data, CV 2 %, n = 3 repetitions per side, true ratio 0.99, seed 2015.

    .venv/bin/python bench/bench_ci_coverage.py [--cells 4000] [--n 3]
"""

import argparse

import numpy as np

from execbench.stats import ratio_ci


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=4000)
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(2015)
    true, n = 0.99, args.n
    fieller = boot = 0
    for _ in range(args.cells):
        a, b = rng.normal(true * 100, 2.0, n), rng.normal(100, 2.0, n)
        r = ratio_ci(a, b, higher_is_better=True)
        fieller += r.ratio_ci_low <= true <= r.ratio_ci_high
        ia, ib = rng.integers(0, n, (args.resamples, n)), rng.integers(0, n, (args.resamples, n))
        lo, hi = np.percentile(a[ia].mean(1) / b[ib].mean(1), [2.5, 97.5])
        boot += lo <= true <= hi
    print(f"n={n} per side, {args.cells} cells: nominal 95 %")
    print(f"  Fieller-Welch coverage:         {100 * fieller / args.cells:.1f} %")
    print(f"  percentile bootstrap coverage:  {100 * boot / args.cells:.1f} %")


if __name__ == "__main__":
    main()
