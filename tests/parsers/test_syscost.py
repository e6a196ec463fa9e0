"""The syscost parser on a log its own driver wrote, and the damaged logs it must refuse by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from execbench import parsers
from execbench.errors import ParseError

FIXTURE = Path(__file__).parent.parent / "fixtures" / "logs" / "execbench" / "syscost.log"


def test_reads_the_drivers_log():
    assert parsers.detect(FIXTURE).format == "syscost"
    records = {r.benchmark: r for r in parsers.get("syscost").parse(FIXTURE)}
    assert list(records) == ["clock_gettime", "getpid", "open_close", "python_call"]
    getpid = records["getpid"]
    assert (getpid.metric, getpid.unit, getpid.higher_is_better) == ("cost", "ns", False)
    assert getpid.value == pytest.approx(430.148 - 68.696) and getpid.source_line == 9
    assert getpid.extra["batches"] == 3 and getpid.extra["calls_per_batch"] == 20000
    assert getpid.extra["median_call_ns"] == pytest.approx(627.480)


@pytest.mark.parametrize("edit, line, words", [
    (lambda t: t.replace("execbench-syscost 1", "execbench-syscost 2"), 1, "format version 1"),
    (lambda t: t.replace("\nend\n", "\n"), 14, "'end' line"),
    (lambda t: t.replace("result getpid 361.452", "result getpid 300.000"), 9, "lowest call batch"),
    (lambda t: t.replace("batch getpid 20000 847.319", "batch getpid 20000 many"), 7, "ns per call"),
    (lambda t: t.replace("result open_close", "resul open_close"), 13, "'batch <op>"),
    (lambda t: "\n".join(l for l in t.splitlines() if not l.startswith("result clock")) + "\n", None,
     "a result for clock_gettime"),
])
def test_damaged_logs_are_refused_naming_the_line(tmp_path, edit, line, words):
    bad = tmp_path / "stdout.log"
    bad.write_text(edit(FIXTURE.read_text()))
    with pytest.raises(ParseError) as err:
        parsers.get("syscost").parse(bad)
    assert err.value.line == line and words in err.value.expected
