"""Property tests: no input may crash a parser with anything but the project's ParseError.

Random bytes, truncations of every fixture at any offset, and fixtures with one line
replaced by junk go to every registered parser: detect() must return a bool without raising,
parse() must return schema-valid Records or raise execbench.errors.ParseError.
"""

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execbench.errors import ParseError
from execbench.parsers import PARSERS, get
from execbench.records import Record, validate_record

from _parser_helpers import FIXTURES

FORMATS = sorted(PARSERS)
FILES = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".py")
DIRS = [FIXTURES / "spec_cpu2006" / "hs06_valid_2copies", FIXTURES / "kv" / "four_instances"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_contract(fmt: str, path: Path) -> None:
    parser = get(fmt)
    assert parser.detect(path) in (True, False)
    try:
        records = parser.parse(path)
    except ParseError as exc:
        assert exc.path and exc.expected  # names the file and what was expected
        return
    assert isinstance(records, list)
    for record in records:
        assert isinstance(record, Record)
        validate_record(record)


@SETTINGS
@given(
    data=st.binary(max_size=4096),
    fmt=st.sampled_from(FORMATS),
    name=st.sampled_from(
        [
            "CFP2006.002.ref.txt",
            "CINT2006.002.ref.rsf",
            "CFP2006.001.ref.csv",
            "CPU2006.002.log",
            "out_1.log",
            "hepscore_result.json",
            "db12.txt",
            "stream.txt",
            "fio.json",
            "x",
        ]
    ),
)
def test_random_bytes(data, fmt, name):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        check_contract(fmt, path)


@SETTINGS
@given(source=st.sampled_from(FILES), fraction=st.floats(0, 1), fmt=st.sampled_from(FORMATS))
def test_truncated_fixtures(source, fraction, fmt):
    data = source.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / source.name
        path.write_bytes(data[: int(len(data) * fraction)])
        check_contract(fmt, path)


@SETTINGS
@given(source=st.sampled_from(FILES), line=st.integers(0, 400), junk=st.text(max_size=80), fmt=st.sampled_from(FORMATS))
def test_one_line_replaced(source, line, junk, fmt):
    lines = source.read_text(errors="replace").splitlines()
    if lines:
        lines[line % len(lines)] = junk
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / source.name
        path.write_text("\n".join(lines))
        check_contract(fmt, path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(DIRS), pick=st.integers(0, 100), fraction=st.floats(0, 1), fmt=st.sampled_from(FORMATS))
def test_directories_with_a_damaged_file(source, pick, fraction, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / source.name
        shutil.copytree(source, run)
        files = sorted(p for p in run.rglob("*") if p.is_file())
        victim = files[pick % len(files)]
        data = victim.read_bytes()
        victim.write_bytes(data[: int(len(data) * fraction)])
        check_contract(fmt, run)


def test_missing_path_and_empty_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for fmt in FORMATS:
        check_contract(fmt, tmp_path / "does-not-exist")
        check_contract(fmt, empty)
