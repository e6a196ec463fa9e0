"""How fast does this host's speed wander, and what does that cost a paired study (issue 17)?

A fixed piece of CPU work (DB12's inner loop: `work` Gaussian draws, pure Python, about 20 ms) is
repeated back to back for `seconds`; each slice's wall time and CPU time are kept. The host's
speed in slice i is y_i = mean duration / duration_i (fractional speed, mean 1), by the wall
clock and by the process's CPU clock (which other processes' load does not move).

The overlapping Allan deviation of y (allantools.oadev, the metrology standard for the
stability of a rate: IEEE Std 1139) at averaging time tau is, by its definition
sigma_A^2(tau) = 1/2 <(ybar_{k+1} - ybar_k)^2>, the spread of the difference of two ADJACENT
tau-long averages over sqrt(2). That is exactly a paired design's noise: bare metal for tau
seconds, then the mode for tau seconds, compared by their ratio. So, per tau:

    pair SD of the log ratio  ~ sqrt(2) * sigma_A(tau)
    pairs needed for +-T %    = smallest n with t(0.975, n-1) * pair_sd / sqrt(n) <= ln(1 + T/100)
    wall time for one mode    = n * 2 * tau

A sigma_A that falls as tau^-1/2 is white noise (longer units help); one that stops falling is
flicker or drift (nothing but more pairs helps). The guest's steal time (/proc/stat) over the
run says whether the hypervisor admits to the lost time; CPU time / wall time says whether the
lost time is charged to the process (a guest that is descheduled without steal accounting charges
it as CPU time: the CPU clock does not protect DB12 from it).

    .venv/bin/python bench/bench_host_noise.py [--seconds 120] [--work 30000] [--target 2]

Needs allantools (`pip install -e '.[bench]'`, which scripts/setup.sh does). Prints one JSON
line per averaging time, then a summary line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

import allantools

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from execbench import stats  # noqa: E402


def proc_stat_steal_s() -> float:
    """Seconds of steal time of all CPUs so far (/proc/stat `cpu` line, 8th value, USER_HZ)."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def slices(seconds: float, work: int, seed: int = 2012) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each fixed-work slice, back to back, for about `seconds`."""
    normalvariate = random.Random(seed).normalvariate
    wall, cpu = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(work):
            normalvariate(10, 1)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def pairs_needed(pair_sd: float, target_pct: float, max_n: int = 100000) -> int | None:
    """Smallest n with t(0.975, n-1) * pair_sd / sqrt(n) <= ln(1 + target/100) (paired t)."""
    return stats.rounds_for(pair_sd, target_pct, max_rounds=max_n)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="how long to measure (s)")
    parser.add_argument("--work", type=int, default=30000, help="Gaussian draws per slice")
    parser.add_argument("--target", type=float, default=2.0, help="half-width target (%% of relative performance)")
    args = parser.parse_args(argv)

    load0, steal0 = os.getloadavg()[0], proc_stat_steal_s()
    wall, cpu = slices(args.seconds, args.work)
    steal = proc_stat_steal_s() - steal0
    tau0 = statistics.fmean(wall)
    rows = []
    for clock, durations in (("wall", wall), ("cpu", cpu)):
        mean = statistics.fmean(durations)
        speed = [mean / d for d in durations]  # fractional speed by this clock, mean about 1
        taus, adev, _, counts = allantools.oadev(speed, rate=1.0 / tau0, data_type="freq", taus="octave")
        for tau, dev, count in zip(taus, adev, counts):
            if count < 10:  # too few independent differences to mean anything
                continue
            pair_sd = math.sqrt(2.0) * float(dev)
            n = pairs_needed(pair_sd, args.target)
            row = {"clock": clock, "tau_s": round(float(tau), 3), "allan_dev_pct": round(100 * float(dev), 3),
                   "pair_sd_pct": round(100 * pair_sd, 3), "estimates": int(count),
                   f"pairs_for_{args.target:g}pct": n,
                   "minutes_per_mode": None if n is None else round(n * 2 * float(tau) / 60.0, 1)}
            rows.append(row)
            print(json.dumps(row))
    speed = [tau0 / w for w in wall]
    best = min((r for r in rows if r["clock"] == "cpu" and r["minutes_per_mode"] is not None), key=lambda r: r["minutes_per_mode"], default=None)
    print(json.dumps({
        "slices": len(wall), "slice_s": round(tau0, 4), "seconds": round(sum(wall), 1),
        "slice_cv_pct_wall": round(100 * statistics.stdev(speed), 2),
        "slice_cv_pct_cpu": round(100 * statistics.stdev(cpu) / statistics.fmean(cpu), 2),
        "slice_speed_range": [round(min(speed), 3), round(max(speed), 3)],
        "cpu_over_wall": round(sum(cpu) / sum(wall), 4),
        "steal_s": round(steal, 2), "load_1m_start": round(load0, 2), "load_1m_end": round(os.getloadavg()[0], 2),
        "cheapest_unit_for_target_cpu_clock": best,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
