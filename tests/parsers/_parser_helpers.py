from pathlib import Path

from execbench.records import validate_record

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"


def pick(records, benchmark, metric, copy=None):
    """The one record with this benchmark/metric/copy (fails loudly when not exactly one)."""
    found = [r for r in records if r.benchmark == benchmark and r.metric == metric and r.copy == copy]
    assert len(found) == 1, f"{len(found)} records for {benchmark}/{metric}/copy={copy}"
    return found[0]


def all_valid(records):
    for record in records:
        validate_record(record)
        assert record.source_file
    return True
