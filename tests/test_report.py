"""The report from (synthetic, fake) parsed runs: figures, self-contained HTML, Markdown, the Snakemake
rules, `snakemake --report`, and a look in a real headless Chromium."""

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import synthetic_runs
from synthetic_runs import build_all

from execbench import browser, figures
from execbench.paths import REPO_ROOT

SKIPPED = [{"path": "site/hs06/2014-03/result/CFP2006.009.ref.txt", "row": 4,
            "reason": "file missing: listed in manifest but not found"}]
CONFIG_TEXT = "study: {name: synthetic-report-test, repetitions: 3, copies: [1, all], seed: 2015}\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake_report")
    paths = synthetic_runs.write_parsed_runs(root / "parsed")
    (root / "ingest").mkdir()
    (root / "ingest" / "skipped.json").write_text(json.dumps({"skipped": SKIPPED}))
    config = root / "config.yaml"
    config.write_text(CONFIG_TEXT)
    out = build_all(paths, root, config_path=config)
    return root, out


def test_fake_figures_exist_as_png_and_svg(built):
    root, out = built
    names = [f.name for f in out["figures"]]
    assert names == ["relative_overview", "suite_vs_bare", "hepchain_vs_bare", "copies_scaling", "startup_latency"]
    for fig in out["figures"]:
        png, svg = Path(fig.files["png"]), Path(fig.files["svg"])
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert ET.parse(svg).getroot().tag.endswith("svg")
        assert "synth-host" in fig.caption and "2026-11-29" in fig.caption
    manifest = json.loads((root / "report" / "figures" / "figures.json").read_text())
    assert [m["name"] for m in manifest] == names


def test_fake_seed_chart_shows_score_per_copies_and_mode_with_error_bars(built):
    _, out = built
    svg = Path(out["figures"][1].files["svg"]).read_text()
    # the seed's chart: the score per copies group, one bar per mode (legend), each bar's % of bare metal
    for text in ("1 copy", "2 copies", "bare", "docker", "podman", "= 100 %", "99.0 %", "machine total",
                 "copies run at once", "HS06 rule"):
        assert text in svg, text


def test_fake_overview_puts_every_mode_on_one_axis_that_holds_100_percent(built):
    _, out = built
    svg = Path(out["figures"][0].files["svg"]).read_text()
    # one row per mode, payload and copies (start-up has its own figure), the VM says why it has no number
    for text in ("Docker · CPU suite (HS06-like) · 1c", "Podman · HEP chain · 2c", "99.0 % [98.7, 99.2]",
                 "VM · every payload", "not measured: no usable KVM", "100 % = bare metal"):
        assert text in svg, text
    assert "start-up · 1c" not in svg


def test_fake_report_html_is_self_contained(built):
    root, out = built
    html = Path(out["report"]["html"]).read_text()
    srcs = re.findall(r'\b(?:src|href)="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") or s.startswith("#") for s in srcs)
    assert "<script" not in html and "<link" not in html
    assert html.count("<figure") == 5


def test_fake_report_holds_question_answer_provenance_and_exclusions(built):
    root, out = built
    html = Path(out["report"]["html"]).read_text()
    for text in (
        "Question.", "paired t on log ratios", "Fieller",  # question, the method and its cross-check
        "Synthetic CPU @ 2.20GHz", "6.1.0-synthetic", "Debian GNU/Linux 12",  # host provenance
        "20.10.24", "4.3.1",  # engine versions
        "127.0.0.1:5000/execbench/debian12@sha256:" + "ab" * 32,  # image by digest
        "cd" * 32, "synthetic-report-test",  # config hash and the config file itself
        "cpusuite-docker-2c-r2", "copy 1 exited with code 1",  # failed run and why
        "cpusuite-vm-1c-r1", "no usable KVM",  # unavailable run and why
        "a &#x27;reco&#x27; step entry with events_per_s",  # parse error
        "output mismatch (VE)",  # failed record
        "CFP2006.009.ref.txt", "file missing",  # skipped ingest input
    ):
        assert text in html, text
    assert re.search(r"On synth-host, cpusuite \(cpusuite score\) in docker runs at 9\d\.\d\d %", html)
    # start-up as added milliseconds per start, paired by round (synthetic truth: 450 - 2 ms)
    assert re.search(r"startup \(startup latency_median\) in docker adds \+4[3-6]\d\.\d ms at 1 copy "
                     r"\(95 % CI \+4\d\d\.\d to \+4\d\d\.\d ms; ", html)


def test_fake_report_markdown_links_existing_figures(built):
    root, out = built
    md = Path(out["report"]["md"]).read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == 5
    assert all((root / "report" / link).is_file() for link in links)
    assert "| synth-host | cpusuite | cpusuite/score | 1 | docker |" in md
    assert "copy 1 exited with code 1" in md


def test_fake_single_host_report_says_cross_host_summary_needs_two_hosts(built):
    root, out = built
    sentence = ("A cross-host summary needs per-host comparisons from at least 2 hosts; this study has them "
                "from 1 host (synth-host).")
    html = Path(out["report"]["html"]).read_text()
    assert "<details id='across-hosts'><summary><h2>Across hosts</h2></summary>" in html and sentence in html
    assert 'class="cross-hosts"' not in html
    assert "class='host'" not in html  # one host: the answer keeps its single table, no per-host heading
    md = Path(out["report"]["md"]).read_text()
    assert "## Across hosts\n\n" + sentence in md and "### Host " not in md


def test_fake_two_host_report_groups_answer_by_host_and_summarises_across_hosts(tmp_path):
    # Per-host ratios by hand (tests/test_tables.py, TWO_HOSTS): A 97.97 % (not significant), B 95.00 %
    # (slower); median 96.49 %, min 95.00 %, max 97.97 %.
    paths = synthetic_runs.write_fixed_value_runs(
        tmp_path / "parsed" / "A", "synth-host-A", {"bare": [9.9, 10.0, 10.1], "docker": [9.5, 9.8, 10.1]})
    paths += synthetic_runs.write_fixed_value_runs(
        tmp_path / "parsed" / "B", "synth-host-B", {"bare": [19.8, 20.0, 20.2], "docker": [18.8, 19.0, 19.2]})
    out = build_all(paths, tmp_path)
    html = Path(out["report"]["html"]).read_text()
    answer = html[html.index("<details id='answer-detail'>"):html.index("<details id='figures'>")]
    a, b = answer.index("<h3 class='host'>Host synth-host-A</h3>"), answer.index("<h3 class='host'>Host synth-host-B</h3>")
    assert a < answer.index("On synth-host-A, cpusuite") < b < answer.index("On synth-host-B, cpusuite")
    assert "synth-host-B" not in answer[a:b]  # A's section holds only A's rows
    across = html[html.index("<details id='across-hosts'>"):html.index("<details id='relative'>")]
    assert 'class="cross-hosts"' in across and "needs per-host comparisons" not in across
    row = ("<td>cpusuite</td><td>cpusuite/score</td><td>1</td><td>docker</td><td>2</td><td>96.49 %</td>"
           "<td>95.00 %</td><td>97.97 %</td><td>— (needs ≥ 4 hosts)</td>"
           "<td>1 slower, 0 faster, 1 not significant, 0 no interval</td><td>synth-host-A, synth-host-B</td>")
    assert row in across
    md = Path(out["report"]["md"]).read_text()
    assert md.index("### Host synth-host-A") < md.index("### Host synth-host-B") < md.index("## Across hosts")
    assert "| cpusuite | cpusuite/score | 1 | docker | 2 | 96.49 % | 95.00 % | 97.97 % |" in md
    # the first screen: one block per host and mode, B's docker slower, A's not significant
    glance = html[html.index("<section id='answer'"):html.index("</section>")]
    assert glance.index("Docker on synth-host-A") < glance.index("Docker on synth-host-B")
    assert "costs 5.0 %" in glance[glance.index("Docker on synth-host-B"):]


def test_headline_table_shows_the_resolving_power_when_the_relative_table_has_it(tmp_path):
    # relative.csv of the paired analysis (issue 17) carries n_pairs, half_width_pct, mde_pct,
    # rounds_needed; the answer in detail shows them beside each headline interval
    from execbench import report, tables

    tables.write_tables(synthetic_runs.write_parsed_runs(tmp_path / "parsed"), tmp_path / "tables")
    rel_path = tmp_path / "tables" / "relative.csv"
    rel = pd.read_csv(rel_path)
    rel["n_pairs"], rel["half_width_pct"], rel["mde_pct"], rel["rounds_needed"] = 3, 2.9, 4.2, float("nan")
    rel.to_csv(rel_path, index=False)
    figures.write_figures(tmp_path / "tables", tmp_path / "figures")
    data = report.ReportData(tmp_path / "tables", tmp_path / "figures")
    headers, rows = data.headline_rows("md")
    # then the environment's differences from bare metal (issue 18), last
    assert headers[-5:] == ["± (half-width)", "MDE", "rounds needed", "verdict", "environment differs in"]
    assert rows and all(r[-5:-2] == ["2.9 %", "4.2 %", "—"] and r[-6].endswith(", 3 pairs") for r in rows)


def test_missing_payload_gives_placeholder_figure_not_a_crash(tmp_path):
    paths = synthetic_runs.write_parsed_runs(tmp_path / "parsed", payloads=("cpusuite",), failed=False,
                                             unavailable_vm=False)
    out = build_all(paths, tmp_path)
    chain = next(f for f in out["figures"] if f.name == "hepchain_vs_bare")
    assert "no machine-level headline record for payload 'hepchain'" in chain.caption
    assert Path(chain.files["png"]).is_file()
    assert "hepchain" not in json.loads((tmp_path / "tables" / "relative.json").read_text())["headline"]


def test_figures_are_reproducible_byte_for_byte(built, tmp_path):
    root, out = built
    again = figures.write_figures(root / "tables", tmp_path)
    for first, second in zip(out["figures"], again):
        assert Path(first.files["svg"]).read_bytes() == Path(second.files["svg"]).read_bytes()


requires_chromium = pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium not installed")


@requires_chromium
def test_fake_report_renders_in_headless_chromium(built):
    root, out = built
    shot = root / "report" / "index.screenshot.png"
    result = browser.check_report(out["report"]["html"], shot)
    assert result["ok"], result["problems"]
    assert result["images"] == result["images_loaded"] == 5
    assert result["min_natural_width"] > 300
    assert result["headline_rows"] == 12 and result["relative_rows"] > 12
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # keep the screenshot where a human (and CI artefacts) can look at it
    keep = REPO_ROOT / "results" / "test-artifacts"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, keep / "report-fake.screenshot.png")


@requires_chromium
def test_first_screen_at_phone_width_is_a_390_px_picture_of_the_answer(built, tmp_path):
    root, out = built
    png = browser.screenshot(out["report"]["html"], tmp_path / "phone.png", *browser.PHONE)
    width, height = struct.unpack(">II", png.read_bytes()[16:24])  # the PNG's IHDR
    assert (width, height) == browser.PHONE
    # nothing on the first screen is wider than the window (no sideways scrolling on a phone)
    probe = subprocess.run([browser.find_chromium(), *browser.CHROMIUM_FLAGS, f"--user-data-dir={tmp_path}/p",
                            f"--window-size={browser.PHONE[0]},{browser.PHONE[1]}", "--dump-dom",
                            _with_width_probe(out["report"]["html"], tmp_path).as_uri()],
                           capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="w">(\d+) (\d+)</pre>', probe.stdout)
    assert found and int(found.group(1)) <= int(found.group(2)), probe.stdout[-500:]


def _with_width_probe(html: Path, tmp_path: Path) -> Path:
    page = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load',function(){var p=document.createElement('pre');p.id='w';"
              "var g=document.querySelector('section.glance');"
              "p.textContent=g.scrollWidth+' '+document.documentElement.clientWidth;document.body.appendChild(p);});"
              "</script>")
    page.write_text(Path(html).read_text().replace("</body>", script + "</body>", 1))
    return page


@requires_chromium
def test_browser_check_fails_on_a_broken_figure(built, tmp_path):
    _, out = built
    html = Path(out["report"]["html"]).read_text()
    broken = tmp_path / "index.html"
    broken.write_text(html.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1))
    result = browser.check_report(broken)
    assert not result["ok"]
    assert "1 of 5 images failed to load" in result["problems"]


MINI_SNAKEFILE = """
import sys
from pathlib import Path

config.setdefault("ingest", {{"manifest": None}})
config.setdefault("study", {{"name": "synthetic"}})
RESULTS = "results"
PYTHON = sys.executable
INGEST_SKIPPED = f"{{RESULTS}}/ingest/skipped.json"


def parsed_runs():
    return sorted(str(p) for p in Path(RESULTS, "parsed").rglob("*.json"))


include: "{rules}"


rule all:
    default_target: True
    input:
        f"{{RESULTS}}/report/index.html",
"""


def test_fake_report_rules_run_in_snakemake_and_build_its_report(tmp_path):
    """The real report.smk rules (combine -> figures -> report) driven by Snakemake on fake parsed runs,
    then `snakemake --report` with the registered captions."""
    synthetic_runs.write_parsed_runs(tmp_path / "results" / "parsed", payloads=("cpusuite", "startup"))
    (tmp_path / "Snakefile").write_text(MINI_SNAKEFILE.format(rules=REPO_ROOT / "workflow/rules/report.smk"))
    snakemake = [sys.executable, "-m", "snakemake", "--cores", "1", "--workflow-profile", "none"]
    run = subprocess.run(snakemake, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for rel in ("tables/measurements.csv", "tables/relative.csv", "report/figures/suite_vs_bare.svg",
                "report/index.html", "report/report.md", "logs/report/combine_tables.log"):
        assert (tmp_path / "results" / rel).is_file(), rel
    rep = subprocess.run([*snakemake, "--report", "snakemake-report.html"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert rep.returncode == 0, rep.stderr[-3000:]
    page = (tmp_path / "snakemake-report.html").read_text()
    assert "Relative to bare metal" in page and "suite_vs_bare.png" in page


FIXTURE_LOGS = REPO_ROOT / "tests" / "fixtures" / "logs" / "spec_cpu2006"


def test_rebuild_from_raw_fixture_logs_through_manifest_ingest_to_report(tmp_path):
    """Fixture HS06 logs -> manifest ingest -> `snakemake` with from_raw (parse, tables, figures, report),
    no benchmark run. The tables are golden (regenerate: EXECBENCH_REGEN_GOLDEN=1)."""
    from execbench.ingest import ingest

    archive = tmp_path / "archive"
    for name in ("bare-r1", "bare-r2", "docker-r1"):
        shutil.copytree(FIXTURE_LOGS / "hs06_valid_2copies", archive / name)
    shutil.copytree(FIXTURE_LOGS / "hs06_failed_benchmark", archive / "docker-r2")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "path,host,mode,payload,copies,repetition,label,format,copy\n"
        "archive/bare-r1,wn01,bare,hs06,2,1,racf-2015,,\n"
        "archive/bare-r2,wn01,bare,hs06,2,2,racf-2015,,\n"
        "archive/docker-r1,wn01,docker,hs06,2,1,racf-2015,,\n"
        "archive/docker-r2,wn01,docker,hs06,2,2,racf-2015,,\n"  # copy 1's 450.soplex fails
        "archive/missing,wn01,docker,hs06,2,3,racf-2015,,\n"  # points nowhere -> skipped + failed run
    )
    results = tmp_path / "results"
    ingest(manifest, results)
    config = tmp_path / "config.yaml"
    config.write_text(f"from_raw: true\nresults: {results}\ningest: {{manifest: {manifest}}}\n")
    run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile",
                          str(REPO_ROOT / "config" / "config.yaml"), str(config)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "run_payload" not in run.stderr and "build_image" not in run.stderr  # nothing was benchmarked
    html = (results / "report" / "index.html").read_text()
    assert "the manifest row points nowhere" in html  # the skipped input, from results/ingest/skipped.json
    assert "450.soplex" in html  # the failed benchmark record
    # cases logs.md item 10: reported as an ingest, not as a run of the default config
    manifest_sha = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert "runs ingested from existing logs" in html and f"{manifest} (sha256 {manifest_sha})" in html
    inputs = pd.read_csv(results / "tables" / "inputs.csv")
    copied = results / "raw" / "hs06" / "bare" / "2c" / "r1" / "machine" / "bare-r1" / "CFP2006.002.ref.txt"
    row = inputs[inputs["copied"] == "machine/bare-r1/CFP2006.002.ref.txt"].iloc[0]
    assert row["sha256"] == hashlib.sha256(copied.read_bytes()).hexdigest() and row["manifest_line"] == 2
    assert row["sha256"] in html and str(archive / "bare-r1" / "CFP2006.002.ref.txt") in html
    assert "Config file <code>" not in html and "Rebuilt from raw logs (from_raw)" in html
    assert 'id="fig-suite_vs_bare"' in html  # the HS06 chart has data
    assert 'id="fig-startup_latency"' not in html and "Not drawn, no data in these runs" in html
    rel = (results / "tables" / "relative.csv").read_text()
    for name, produced in (("from_raw_relative.csv", rel),
                           ("from_raw_scaling.csv", (results / "tables" / "scaling.csv").read_text())):
        golden = Path(__file__).parent / "golden" / name
        if os.environ.get("EXECBENCH_REGEN_GOLDEN") == "1":
            golden.write_text(produced)
        assert produced == golden.read_text(), f"{name} differs from {golden} (regenerate and review)"


def test_environment_differences_are_listed_beside_the_numbers(built):
    """Each container copy saw a seccomp filter and a 64 MiB /dev/shm that bare metal's did not:
    environment.csv says so, the report lists both and names them in the comparison rows."""
    root, _ = built
    env = pd.read_csv(root / "tables" / "environment.csv")
    differing = env[env["differs"]]
    assert set(differing["mode"]) == {"docker", "podman"}
    assert set(differing["key"]) == {"seccomp", "seccomp_filters", "shm_bytes"}
    md = (root / "report" / "report.md").read_text()
    assert "## Environment seen by the payloads: differences from bare metal" in md
    assert "| synth-host | docker | shm_bytes | 67108864 | 8589934592 |" in md
    assert "seccomp, seccomp_filters, shm_bytes" in md  # the relative rows' last column
    html = (root / "report" / "index.html").read_text()
    assert "id='environment'" in html and "environment differs from bare metal in" in html


def _with_control(paths, mode, control, virt_vm=None):
    """Mark the synthetic runs of `mode` as a control (modes.<mode>.control), and every run's host
    as a guest of `virt_vm` when given."""
    for path in paths:
        doc = json.loads(Path(path).read_text())
        if doc["run"]["mode"] == mode:
            doc["run"]["mode_settings"]["control"] = control
            doc["run"]["mode_kind"] = "bare"
        if virt_vm:
            doc["run"]["host"]["virtualization"] = {"vm": virt_vm, "container": None, "evidence": ["test"]}
        Path(path).write_text(json.dumps(doc))


def test_controls_are_shown_apart_from_the_answer_and_judged(tmp_path):
    # bare-aa is bare metal again (A/A): ratios 1.00, 1.00, 1.00 → not significant, as it must be.
    # bare-quota is a known 5 % slowdown: 0.95 in every round → slower, detected.
    # bare-loose is a positive control the study misses: ratios around 1 → "NOT detected".
    values = {"bare": [10.0, 10.2, 9.8, 10.1], "docker": [9.9, 10.1, 9.7, 10.0], "bare-aa": [10.0, 10.21, 9.79, 10.1],
              "bare-quota": [9.5, 9.69, 9.31, 9.595], "bare-loose": [10.3, 9.9, 9.9, 10.4]}
    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host", values)
    _with_control(paths, "bare-aa", "negative", virt_vm="kvm")
    _with_control(paths, "bare-quota", "positive")
    _with_control(paths, "bare-loose", "positive")
    for path in paths:  # "none", the setting's default, is recorded by every other run: no control
        doc = json.loads(Path(path).read_text())
        doc["run"]["mode_settings"].setdefault("control", "none")
        Path(path).write_text(json.dumps(doc))
    out = build_all(paths, tmp_path)
    html = Path(out["report"]["html"]).read_text()
    answer = html[html.index("<details id='answer-detail'>"):html.index("<details id='figures'>")]
    controls = answer[answer.index('<ul class="controls">'):]
    controls = controls[:controls.index("</ul>")]
    assert "Negative control bare-aa (bare metal under a second label (A/A))" in controls
    assert "not significant): as it must: no difference found where there is none." in controls
    assert "Positive control bare-quota (a known slowdown)" in controls and "slower): detected, as it must be." in controls
    assert "Positive control bare-loose" in controls and "NOT detected" in controls
    # the controls are not answers: no sentence or headline row calls them a mode's cost
    before_controls = answer[:answer.index('<ul class="controls">')]
    assert "in docker runs at" in before_controls
    assert "bare-aa" not in before_controls and "bare-quota" not in before_controls
    # the baseline is a KVM guest: said beside the number and in the hosts' provenance
    assert "of bare-metal performance (bare metal here: host is a KVM guest)" in answer
    assert "<td>host is a KVM guest</td>" in html
    md = Path(out["report"]["md"]).read_text()
    assert "**Controls** (what this study can resolve on this host):" in md
    # the first screen: the controls in its one controls line, never a block of their own; the
    # baseline's being a guest said on it
    glance = html[html.index("<section id='answer'"):html.index("</section>")]
    assert "<h3>Docker</h3>" in glance and "bare-aa" not in glance.split('<p class="controls">')[0]
    line = glance[glance.index('<p class="controls">'):]
    assert "A/A bare vs bare: 0 of 1 cells significant (expected about 5 %, as it must)" in line
    assert "; known slowdown detected in 1 of 2 cells, measured −5.0 % to −5.0 %" in line
    assert "Bare metal on synth-host: host is a KVM guest" in glance
    # the overview figure draws them as grey control rows, not as modes
    svg = Path(out["figures"][0].files["svg"]).read_text()
    assert "A/A bare vs bare: cpusuite 1c (control)" in svg and "known slowdown: cpusuite 1c (control)" in svg
    assert "bare-aa ·" not in svg and "bare-quota ·" not in svg


def test_timing_checks_list_the_flagged_times(tmp_path):
    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host",
                                                  {"bare": [10.0, 10.1], "docker": [9.9, 10.0]})
    doc = json.loads(Path(paths[0]).read_text())
    base = {"metric": "run_time", "unit": "s", "higher_is_better": False, "status": "ok", "copy": 0,
            "source_file": "copy0/cpusuite.log", "source_line": 5, "detail": ""}
    doc["records"] += [dict(base, benchmark="povray", value=0.79, extra={"cpu_s": 0.12, "time_quantum_s": 1e-3}),
                       dict(base, benchmark="bzip2", value=2.5, extra={"cpu_s": 2.49, "time_quantum_s": 1e-6})]
    Path(paths[0]).write_text(json.dumps(doc))
    out = build_all(paths, tmp_path)
    html = Path(out["report"]["html"]).read_text()
    section = html[html.index("<details id='clock'>"):html.index("<details id='excluded'>")]
    assert "1 of 2 timed values flagged" in section
    assert "povray" in section and "CPU/wall 0.15 &lt; 0.9; resolution 0.13 % &gt; 0.1 %" in section
    assert "bzip2" not in section


def test_a_wide_interval_says_too_noisy_and_how_many_more_rounds(tmp_path):
    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host",
                                                  {"bare": [10.0, 11.0, 9.5], "docker": [9.0, 11.5, 9.9]})
    out = build_all(paths, tmp_path)
    html = Path(out["report"]["html"]).read_text()
    relative = pd.read_csv(tmp_path / "tables" / "relative.csv")
    row = relative[(relative["benchmark"] == "cpusuite") & (relative["mode"] == "docker")].iloc[0]
    more = int(row["rounds_needed"]) - int(row["n_pairs"])
    assert row["half_width_pct"] > 2 and more > 0
    assert (f"not significant; could have seen a difference of {row['mde_pct']:.1f} % or more; "
            f"too noisy for ±2 %: about {more} more rounds needed") in html
