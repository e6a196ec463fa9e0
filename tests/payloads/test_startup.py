"""The startup payload's native log (startup_samples.csv) and its medians."""

from __future__ import annotations

from pathlib import Path

import pytest

from execbench.errors import ParseError
from execbench.payloads.startup import COLUMNS, Startup


def write_samples(path: Path, rows: list[tuple]) -> None:
    path.mkdir(parents=True)
    lines = [",".join(COLUMNS)] + [",".join(map(str, r)) for r in rows]
    (path / "startup_samples.csv").write_text("\n".join(lines) + "\n")

def test_startup_parse_medians(tmp_path):
    write_samples(tmp_path / "copy0", [(0, 1, "t", 0.5, "ok", ""), (1, 0, "t", 0.2, "ok", ""),
                                       (2, 0, "t", 0.4, "ok", ""), (3, 0, "t", 0.3, "ok", "")])
    write_samples(tmp_path / "copy1", [(0, 1, "t", 0.1, "ok", ""), (1, 0, "t", 0.6, "ok", ""),
                                       (2, 0, "t", 0.2, "ok", "")])
    records = {r.copy: r for r in Startup().parse(tmp_path)}
    assert records[0].value == pytest.approx(0.3)  # median(0.2, 0.4, 0.3); warm-up 0.5 left out
    assert records[1].value == pytest.approx(0.4)  # median(0.6, 0.2) = (0.2 + 0.6) / 2
    # machine level: median(0.2, 0.4, 0.3, 0.6, 0.2) = sorted[2] of (0.2, 0.2, 0.3, 0.4, 0.6)
    assert records[None].value == pytest.approx(0.3)
    assert all(r.unit == "s" and r.higher_is_better is False for r in records.values())

def test_startup_parse_failed_sample_and_bad_line(tmp_path):
    write_samples(tmp_path / "ok" / "copy0", [(0, 1, "t", 0.5, "ok", ""), (1, 0, "t", "", "failed", "boom")])
    records = Startup().parse(tmp_path / "ok")
    assert [r.status for r in records] == ["failed", "failed"] and "boom" in records[0].detail
    write_samples(tmp_path / "bad" / "copy0", [(0, 1, "t", 0.5, "ok", ""), (1, 0, "t", "fast", "ok", "")])
    with pytest.raises(ParseError) as err:
        Startup().parse(tmp_path / "bad")
    assert err.value.line == 3 and "seconds" in err.value.expected
