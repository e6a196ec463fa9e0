"""Results WLCG can take (execbench.wlcg): each host's results in the HEP-Benchmark-Suite report
shape, valid against workflow/schemas/wlcg-report.schema.json, read back."""

import copy
import json

import jsonschema
import pandas as pd
import pytest
import synthetic_runs

from execbench import tables, wlcg
from execbench.parsers.hepscore import suite_records


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("wlcg")
    paths = synthetic_runs.write_parsed_runs(root / "parsed")
    tables.write_tables(paths, root / "tables")
    written = wlcg.write_exports(root / "tables", root / "export", tags={"site": "BNL"})
    return root, written


def test_one_document_per_host_with_the_suites_top_level_shape(exported):
    root, written = exported
    assert [p.name for p in written] == ["synth-host.json"]
    doc = json.loads(written[0].read_text())  # read back from disk
    wlcg.validate(doc)
    assert list(doc)[:7] == ["host", "suite", "_id", "_timestamp", "_timestamp_end", "json_version", "execbench"]
    assert doc["json_version"] == "3.0" and doc["_id"] == f"synth-host_{doc['_timestamp']}"
    assert doc["host"]["hostname"] == "synth-host" and doc["host"]["tags"]["site"] == "BNL"
    cpu = doc["host"]["HW"]["CPU"]
    assert cpu["CPU_Model"] == "Synthetic CPU @ 2.20GHz" and cpu["Sockets"] == "not_available"
    assert doc["suite"]["flags"] == {"ncores": 2, "run_mode": "execbench"}


def test_one_profile_per_mode_and_copy_count_matching_the_tables(exported):
    root, written = exported
    doc = json.loads(written[0].read_text())
    assert sorted(doc["profiles"]) == ["bare_1c", "bare_2c", "docker_1c", "docker_2c", "podman_1c", "podman_2c"]
    relative = pd.read_csv(root / "tables" / "relative.csv")
    for key, profile in doc["profiles"].items():
        assert key == f"{profile['mode']}_{profile['copies']}c"
        cpu = profile["benchmarks"]["cpusuite"]
        assert cpu["value"] == pytest.approx(sum(cpu["runs"]) / len(cpu["runs"]))
        if profile["mode"] == "bare":
            assert cpu["relative_to_bare"] is None
            continue
        row = relative[(relative["payload"] == "cpusuite") & (relative["benchmark"] == "cpusuite")
                       & (relative["mode"] == profile["mode"]) & (relative["copies"] == profile["copies"])].iloc[0]
        assert cpu["relative_to_bare"]["percent_of_bare"] == pytest.approx(row["percent_of_bare"])
        assert cpu["relative_to_bare"]["ci95_percent"] == pytest.approx([100 * row["perf_ci_low"],
                                                                          100 * row["perf_ci_high"]])
    # the failed run (cpusuite docker 2 copies r2) is not among the repetitions' values
    assert len(doc["profiles"]["docker_2c"]["benchmarks"]["cpusuite"]["runs"]) == 2
    assert doc["profiles"]["docker_1c"]["startup_added_ms"]["added_ms"] > 0


def test_the_projects_own_suite_report_parser_reads_the_host_back(exported):
    _, written = exported
    records = suite_records(written[0], json.loads(written[0].read_text()))
    host = {r.metric: r for r in records if r.benchmark == "host"}
    assert host["logical_cpus"].value == 2 and host["logical_cpus"].status == "ok"
    assert host["logical_cpus"].extra["hostname"] == "synth-host"


@pytest.mark.parametrize("break_it, where", [
    (lambda d: d.pop("json_version"), "json_version"),
    (lambda d: d["profiles"].__setitem__("docker", d["profiles"]["docker_1c"]), "docker"),
    (lambda d: d["profiles"]["docker_1c"]["benchmarks"]["cpusuite"].__setitem__("runs", []), "runs"),
    (lambda d: d["host"]["HW"]["CPU"].pop("CPU_Model"), "CPU_Model"),
])
def test_the_schema_refuses_a_document_that_breaks_the_shape(exported, break_it, where):
    doc = json.loads(exported[1][0].read_text())
    broken = copy.deepcopy(doc)
    break_it(broken)
    with pytest.raises(jsonschema.ValidationError, match=where):
        wlcg.validate(broken)


def test_tags_come_from_the_suites_environment_variables_too():
    assert wlcg.tags_from_env({"BMKSUITE_TAG_SITE": "BNL", "BMKSUITE_TAG_Rack": "12", "OTHER": "x"}) == \
        {"site": "BNL", "rack": "12"}
