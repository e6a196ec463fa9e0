#!/usr/bin/env python3
"""execbench syscost: what one clock read and one cheap system call cost in this environment.

Stdlib only (runs with the image's python3, and on the host for bare `variant: host`). Times, in
batches, a loop of N calls of each operation and the same loop calling a no-op builtin of the
same arity (the interpreter's share), and prints nanoseconds per call with that share
subtracted: per batch (call and no-op, ns per call), and as the result, the lowest call batch
minus the lowest no-op batch (the lowest is the least disturbed, as timeit's documentation
recommends for micro-timings):

  clock_gettime  time.clock_gettime_ns(CLOCK_MONOTONIC): the vDSO path; hundreds of ns when the
                 clocksource falls back to a system call (madgraph5/madgraph4gpu#116)
  getpid         os.getpid(): a real system call (glibc >= 2.25 no longer caches it), so it
                 carries the seccomp filter's cost (moby/moby#41389) and entry/exit mitigations
  open_close     os.open("/dev/null") + os.close(): path lookup and two system calls
  python_call    the no-op builtin of getpid's loop (sys.getrecursionlimit), for reference

The log (stdout, parsed by execbench.parsers.syscost) is line oriented:

  execbench-syscost 1 python=3.11.2 batches=11 clock=CLOCK_MONOTONIC
  batch <op> <calls> <ns per call> <ns per no-op call>   one per op and batch
  result <op> <ns> <lowest call ns> <lowest no-op ns>     one per op, after its batches
  end

Usage: syscost.py [--batches 11] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

FORMAT_VERSION = 1
CALLS = {"clock_gettime": 200_000, "getpid": 200_000, "open_close": 20_000}


def _loop_ns(fn, arg, calls: int) -> int:
    t0 = time.perf_counter_ns()
    if arg is None:
        for _ in range(calls):
            fn()
    else:
        for _ in range(calls):
            fn(arg)
    return time.perf_counter_ns() - t0


def _open_close(path: str) -> None:
    os.close(os.open(path, os.O_RDONLY))


def _noop(path: str) -> None:  # the same Python-level call and two builtin calls, no system call
    abs(len(path))


# op -> (the call, its argument, a no-op builtin of the same calling convention)
OPERATIONS = {
    "clock_gettime": (time.clock_gettime_ns, time.CLOCK_MONOTONIC, abs),  # both METH_O builtins
    "getpid": (os.getpid, None, sys.getrecursionlimit),  # both METH_NOARGS builtins
    "open_close": (_open_close, "/dev/null", _noop),
}
SLICES = 10  # call and no-op alternate in slices, so a change of load hits both alike


def measure(op: str, calls: int) -> tuple[float, float]:
    """(ns per call, ns per no-op call) of one batch."""
    fn, arg, noop = OPERATIONS[op]
    per_slice = max(1, calls // SLICES)
    cost = base = 0
    for _ in range(SLICES):
        cost += _loop_ns(fn, arg, per_slice)
        base += _loop_ns(noop, arg, per_slice)
    calls = per_slice * SLICES
    return cost / calls, base / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=11)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the calls per batch")
    opts = parser.parse_args(argv)
    print(f"execbench-syscost {FORMAT_VERSION} python={platform.python_version()} batches={opts.batches} "
          f"clock=CLOCK_MONOTONIC", flush=True)
    python_call = []
    for op, calls in CALLS.items():
        calls = max(SLICES, int(calls * opts.scale))
        costs, bases = [], []
        for _ in range(opts.batches):
            cost, base = measure(op, calls)
            costs.append(cost)
            bases.append(base)
            print(f"batch {op} {calls} {cost:.3f} {base:.3f}")
        if op == "getpid":
            python_call = bases
        # the lowest batch is the least disturbed (timeit's rule), for the call and the no-op alike
        print(f"result {op} {min(costs) - min(bases):.3f} {min(costs):.3f} {min(bases):.3f}", flush=True)
    print(f"result python_call {min(python_call):.3f} {min(python_call):.3f} 0.000")
    print("end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
