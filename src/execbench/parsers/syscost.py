"""execbench syscost logs: nanoseconds per clock read and per cheap system call.

Variant read (the only one; written by src/execbench/inimage/syscost.py, whose docstring is the
format's definition):

| variant | first line | lines |
|---|---|---|
| execbench-syscost 1 | `execbench-syscost 1 python=<version> batches=<n> clock=CLOCK_MONOTONIC` | `batch <op> <calls> <call ns> <no-op ns>` per batch, `result <op> <ns> <lowest call ns> <lowest no-op ns>` per op, `end` |

Records: one per operation (clock_gettime, getpid, open_close, python_call), metric `cost`, unit
`ns` (per call, the interpreter's share subtracted), lower is better; `extra` holds the lowest
call and no-op batches, the median call batch, the batch count and the calls per batch.
Refused with a ParseError naming the line: another format version, a line of no known kind, a
result that does not follow from its batches (lowest call - lowest no-op), an operation without
its result, a log without its `end` line (the copy was killed while measuring). A cost <= 0
(noise larger than the operation) fails the unit's physical range in the parse stage.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import number, peek_text, read_text

MAGIC = "execbench-syscost"
VERSION = "1"
OPERATIONS = ("clock_gettime", "getpid", "open_close")
TOLERANCE_NS = 0.002  # the log prints 3 decimals


class SyscostParser(Parser):
    format = "syscost"
    variants = ("execbench-syscost 1 (src/execbench/inimage/syscost.py)",)

    def detect(self, path: Path) -> bool:
        return peek_text(path).startswith(MAGIC + " ")

    def parse(self, path: Path) -> list[Record]:
        lines = read_text(path).splitlines()
        if not lines or not lines[0].startswith(MAGIC + " "):
            raise ParseError(path, 1, f"a first line '{MAGIC} {VERSION} ...'")
        head = lines[0].split()
        if head[1] != VERSION:
            raise ParseError(path, 1, f"format version {VERSION}, got {head[1]!r}")
        facts = dict(tok.split("=", 1) for tok in head[2:] if "=" in tok)
        batches: dict[str, list[tuple[int, float, float]]] = {}
        results: dict[str, tuple[int, float, float, float]] = {}
        ended = False
        for lineno, line in enumerate(lines[1:], 2):
            tokens = line.split()
            if not tokens:
                continue
            if ended:
                raise ParseError(path, lineno, "nothing after 'end'")
            if tokens[0] == "batch" and len(tokens) == 5:
                batches.setdefault(tokens[1], []).append((
                    int(number(tokens[2], path, lineno, "calls per batch")),
                    number(tokens[3], path, lineno, "ns per call"), number(tokens[4], path, lineno, "ns per no-op")))
            elif tokens[0] == "result" and len(tokens) == 5:
                results[tokens[1]] = (lineno, *(number(t, path, lineno, "ns") for t in tokens[2:]))
            elif tokens == ["end"]:
                ended = True
            else:
                raise ParseError(path, lineno, "a 'batch <op> <calls> <ns> <ns>', 'result <op> <ns> <ns> <ns>' "
                                               f"or 'end' line, got {line[:60]!r}")
        if not ended:
            raise ParseError(path, len(lines), "the 'end' line (the log stops early: the copy was killed?)")
        records = []
        for op in OPERATIONS:
            if op not in results or op not in batches:
                raise ParseError(path, None, f"batches and a result for {op}")
            lineno, net, low_call, low_noop = results[op]
            calls = [b[1] for b in batches[op]]
            noops = [b[2] for b in batches[op]]
            if (not math.isclose(low_call, min(calls), abs_tol=TOLERANCE_NS)
                    or not math.isclose(low_noop, min(noops), abs_tol=TOLERANCE_NS)
                    or not math.isclose(net, low_call - low_noop, abs_tol=2 * TOLERANCE_NS)):
                raise ParseError(path, lineno, f"{op}'s result = lowest call batch ({min(calls):.3f}) - lowest "
                                               f"no-op batch ({min(noops):.3f})")
            records.append(self._record(path, lineno, op, net, {
                "lowest_call_ns": low_call, "lowest_noop_ns": low_noop,
                "median_call_ns": statistics.median(calls), "batches": len(calls),
                "calls_per_batch": batches[op][0][0], "python": facts.get("python", "")}))
        if "python_call" in results:
            lineno, net, *_ = results["python_call"]
            records.append(self._record(path, lineno, "python_call", net, {"python": facts.get("python", "")}))
        return records

    @staticmethod
    def _record(path: Path, lineno: int, op: str, value: float, extra: dict) -> Record:
        return Record(benchmark=op, metric="cost", value=value, unit="ns", higher_is_better=False,
                      source_file=str(path), source_line=lineno, detail="execbench-syscost 1", extra=extra)


PARSER = SyscostParser()
