"""Every command in the shell blocks of README.md and docs/*.md works as written.

The blocks (```sh, ```bash, ```shell, ```console with `$ ` prompts) are read from the files, so a
command added to the docs is checked without touching this test. Each command must match exactly
one RULE below, which says how it is checked and why:

  as is          run exactly as written (cheap, or read-only)
  dry run        `-n` added after the program: the real thing runs benchmarks for minutes to hours,
                 the dry run plans exactly the same jobs with the same config and profile
  collect only   `--collect-only -q` added to a pytest invocation: the suite takes 12+ minutes, and
                 the golden-file command would rewrite golden files
  not here       needs what this kind of machine cannot have (an HTCondor pool); checked as far
                 as it can be, and the reason is in the rule

A command that matches no rule, or more than one, fails: a new documented command needs a
decision here. Commands run from a plain shell (PATH without the venv, HOME a fresh directory)
in a sandbox: a copy of this working tree (its own git repository, its own results/), with
.venv linked to this checkout's, so no command touches this checkout's results/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from execbench.paths import REPO_ROOT

DOC_FILES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
SHELL_LANGS = {"sh", "bash", "shell", "console"}
PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# the environment a user may have set (README "Environment variables"), passed through
PASSED_ENV = ("DOCKER_HOST", "TMPDIR", "LANG")
EXAMPLE_INGEST = "bash scripts/run.sh --config from_raw=true ingest='{manifest: tests/fixtures/logs/manifest-example.csv}'"
# docs/cluster.md's site profile: a site keeps its own; here a minimal one of the kind it describes
SITE_PROFILE = {"default-resources": {"slurm_partition": "debug", "runtime": 60}}


@dataclass(frozen=True)
class DocCommand:
    file: str
    line: int
    command: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.command}"


def _strip_comment(line: str) -> str:
    """`line` without a trailing shell comment (a # at a word start, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def doc_commands(paths=DOC_FILES) -> list[DocCommand]:
    """Every command of every shell block: comments dropped, backslash continuations joined, in a
    console block only the `$ ` lines (the rest is output)."""
    out = []
    for path in paths:
        lines = path.read_text().splitlines()
        lang, pending, start = None, "", 0
        for number, line in enumerate(lines, start=1):
            fence = re.match(r"^\s*```\s*([\w-]*)", line)
            if fence:
                lang = None if lang is not None else fence.group(1).lower()
                continue
            if lang not in SHELL_LANGS:
                continue
            text = line.strip()
            if lang == "console":
                if not pending and not text.startswith("$ "):
                    continue
                text = text[2:] if not pending else text
            text = _strip_comment(text)
            if not pending:
                start = number
            if text.endswith("\\"):
                pending += text[:-1].rstrip() + " "
                continue
            command = " ".join((pending + text).split())
            pending = ""
            if command:
                name = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
                out.append(DocCommand(name, start, command))
    return out


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: str  # re.fullmatch on the command
    how: str  # "as is" | "dry run" | "collect only" | "not here"
    why: str
    marks: tuple = ()


RULES = [
    Rule("study, dry", r"bash scripts/run\.sh(?!.* -n\b)(?!.*from_raw=true)(?!.*--report)(?!.*--profile)( .*)?",
         "dry run",
         "a study runs benchmarks (9 min for the default one, hours for config/full.yaml); -n plans the same jobs"),
    Rule("study dry run as written", r"bash scripts/run\.sh -n", "as is", "a dry run already"),
    Rule("rebuild from raw logs", r"bash scripts/run\.sh --config from_raw=true( ingest='[^']*')?", "as is",
         "runs no benchmark and builds no image: seconds"),
    Rule("snakemake --report", r"bash scripts/run\.sh --report \S+\.zip", "as is",
         "packages files that exist; seconds"),
    Rule("unlock", r"\.venv/bin/snakemake --unlock", "as is", "removes a stale lock, if any"),
    Rule("redo a run", r"\.venv/bin/python -m execbench redo --results results( [\w./@-]+)+", "as is",
         "sets runs aside (moves, never deletes); seconds. The sandbox's ingested runs are other runs: it says "
         "so ('not on disk'); tests/test_study_end.py redoes a run of a real study with it"),
    Rule("test suite", r"bash scripts/test\.sh( .*)?", "collect only",
         "the whole suite takes 12+ minutes and this test is part of it"),
    Rule("golden files", r"EXECBENCH_REGEN_GOLDEN=1 \.venv/bin/python -m pytest( \S+)+", "collect only",
         "running it would rewrite the golden files"),
    Rule("git, read-only", r"git diff( \S+)*", "as is", "reads the sandbox's repository"),
    Rule("report in a browser", r"\.venv/bin/python -m execbench check-report \S+( --section \S+)*", "as is",
         "headless Chromium, seconds; on a report built from synthetic parsed runs (a study's takes minutes)"),
    Rule("audit diff", r"\.venv/bin/python -m execbench audit-diff( \S+)+", "as is",
         "reads audit tables; made here from the two real audit runs in tests/fixtures/logs/audit/, placed on "
         "the hosts the command names (one table holding both, or one table per host)"),
    Rule("SLURM test cluster", r"bash scripts/setup/slurm\.sh( stop| status)?", "as is",
         "starts/stops the single-node loopback cluster (as tests/test_slurm.py does)", (pytest.mark.slurm,)),
    Rule("study through SLURM", r"bash scripts/run\.sh --profile profiles/slurm( .*)?", "dry run",
         "a study through sbatch takes minutes (tests/test_slurm.py runs slurm-smoke through this profile end "
         "to end), and cluster-two-nodes names nodes this one-node cluster does not have; the dry run plans "
         "the same batch jobs with the profile's settings"),
    Rule("study through HTCondor", r"bash scripts/run\.sh --profile profiles/htcondor( .*)?", "not here",
         "needs an HTCondor pool's access point, where set-up installs the executor plugin; no HTCondor "
         "daemons can be installed on this machine (no Debian package). Checked: the profile parses and "
         "names the htcondor executor, set-up pins that plugin, and a dry run where it is installed"),
]


def classify(command: str) -> Rule:
    """The one rule `command` matches; AssertionError naming the command otherwise."""
    matching = [rule for rule in RULES if re.fullmatch(rule.pattern, command)]
    assert len(matching) == 1, (
        f"documented command {command!r} matches {len(matching)} rules "
        f"({[r.name for r in matching]}): decide in tests/test_docs_commands.py how it is checked")
    return matching[0]


COMMANDS = doc_commands()


def _params():
    out = []
    for command in COMMANDS:
        matching = [rule for rule in RULES if re.fullmatch(rule.pattern, command.command)]
        marks = [pytest.mark.docker, *matching[0].marks] if len(matching) == 1 else []
        out.append(pytest.param(command, marks=marks, id=f"{command.file}:{command.line}"))
    return out


# --- the sandbox ------------------------------------------------------------------------------


class Sandbox:
    def __init__(self, root: Path, home: Path):
        self.root, self.home = root, home
        self.ingested = False

    def env(self) -> dict:
        env = {"PATH": PLAIN_PATH, "HOME": str(self.home)}
        env.update({k: v for k, v in os.environ.items() if k in PASSED_ENV or k.startswith("EXECBENCH_")})
        env.pop("EXECBENCH_REGEN_GOLDEN", None)
        return env

    def run(self, command: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", command], cwd=self.root, env=self.env(), capture_output=True,
                              text=True, timeout=timeout)

    def ensure_report_with_answer(self, parsed_dir: Path) -> None:
        """results/report/ from synthetic parsed runs (tests/synthetic_runs.py) that compare modes: the
        example ingest's logs give no headline comparison, which the browser check rightly refuses."""
        import synthetic_runs

        synthetic_runs.build_all(synthetic_runs.write_parsed_runs(parsed_dir), self.root / "results")

    def ensure_audit_tables(self, command: str, scratch: Path) -> None:
        """The audit tables a documented audit-diff command names, from the fixture audit runs:
        the first host gets the docker run on ext4, the second the bare run on XFS inode64."""
        from execbench import findings, parse

        words = command.split()
        tables = [w for w in words if w.endswith("audit.json")]
        hosts = words[words.index("--hosts") + 1:words.index("--hosts") + 3] if "--hosts" in words else ["a", "b"]
        docs = []
        for host, (fixture, mode) in zip(hosts, (("docker-ext4", "docker"), ("bare-xfs-inode64", "bare"))):
            doc = parse.parse_run_dir(REPO_ROOT / "tests/fixtures/logs/audit" / fixture)
            doc["run"]["host"]["hostname"], doc["run"]["mode"] = host, mode
            docs.append(scratch / f"{host}.json")
            docs[-1].write_text(json.dumps(doc))
        for i, table in enumerate(tables):
            (self.root / table).parent.mkdir(parents=True, exist_ok=True)
            findings.write_audit_tables(docs if len(tables) == 1 else [docs[i]], (self.root / table).parent)

    def ensure_ingested(self) -> None:
        """results/raw and a report from the README's example ingest (what a rebuild and the browser
        check need), once."""
        if not self.ingested:
            done = self.run(EXAMPLE_INGEST)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            self.ingested = True


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Sandbox:
    root = tmp_path_factory.mktemp("docs-sandbox") / "execbench"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    git = ["git", "-c", "user.name=docs-test", "-c", "user.email=docs-test@localhost"]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "sandbox"]):
        subprocess.run([*git, *step], cwd=root, check=True, capture_output=True)
    home = tmp_path_factory.mktemp("docs-home")
    (home / "execbench-site-profile").mkdir()
    (home / "execbench-site-profile" / "config.yaml").write_text(yaml.safe_dump(SITE_PROFILE))
    return Sandbox(root, home)


def _with_flag(command: str, program: str, flag: str) -> str:
    """`command` with `flag` right after its program (before any nargs option such as --configfile)."""
    head, sep, tail = command.partition(program)
    assert sep, f"{program} not in {command!r}"
    return f"{head}{program} {flag}{tail}"


def _out(result) -> str:
    return (result.stdout + result.stderr)[-6000:]


# --- the tests --------------------------------------------------------------------------------


def test_the_docs_have_shell_blocks_and_every_command_is_found():
    commands = [c.command for c in COMMANDS]
    assert "bash scripts/run.sh" in commands and "bash scripts/test.sh" in commands
    assert any(c.startswith("bash scripts/run.sh --profile profiles/slurm --profile ~/execbench-site-profile "
                            "--configfile config/full.yaml") for c in commands), "continuation lines joined"
    assert not any("#" in c.split("'")[0] for c in commands), "comments dropped"


def test_block_reader_takes_console_prompts_continuations_and_comments(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("text\n```console\n$ bash scripts/run.sh -n   # plan\nBuilding DAG of jobs...\n"
                   "$ git diff \\\n    tests/golden/\n```\n```yaml\nnot: a command\n```\n"
                   "```sh\necho 'a # in quotes' # comment\n```\n")
    found = [(c.line, c.command) for c in doc_commands([doc])]
    assert found == [(3, "bash scripts/run.sh -n"), (5, "git diff tests/golden/"), (12, "echo 'a # in quotes'")]


def test_a_command_no_rule_knows_fails():
    with pytest.raises(AssertionError, match="matches 0 rules"):
        classify("rm -rf results")
    with pytest.raises(AssertionError, match="matches 0 rules"):
        classify("snakemake --cores all")  # not found in a plain shell: the docs must say .venv/bin/snakemake


@pytest.mark.parametrize("doc", _params())
def test_documented_command_works_as_written(doc: DocCommand, sandbox: Sandbox, tmp_path):
    rule = classify(doc.command)
    command = doc.command
    if rule.how == "dry run":
        program = "scripts/run.sh" if command.startswith("bash scripts/run.sh") else ".venv/bin/snakemake"
        result = sandbox.run(_with_flag(command, program, "-n"))
        assert result.returncode == 0, f"{doc}\n{_out(result)}"
        assert "This was a dry-run" in result.stdout + result.stderr, f"{doc}\n{_out(result)}"
        return
    if rule.how == "collect only":
        result = sandbox.run(f"{command} --collect-only -q", timeout=600)
        assert result.returncode == 0, f"{doc}\n{_out(result)}"
        collected = re.search(r"(\d+)(?:/\d+)? tests? collected", result.stdout)
        assert collected and int(collected.group(1)) > 0, f"{doc}\n{_out(result)}"
        if "not docker" in command:
            assert "deselected" in result.stdout, f"{doc}: the marker expression selected every test"
        return
    if rule.how == "not here":
        _check_htcondor_as_far_as_possible(doc, sandbox)
        return
    assert rule.how == "as is", rule
    if rule.name in ("rebuild from raw logs", "git, read-only", "snakemake --report"):
        sandbox.ensure_ingested()
    if rule.name == "report in a browser":
        sandbox.ensure_report_with_answer(tmp_path / "parsed")
    if rule.name == "audit diff":
        sandbox.ensure_audit_tables(command, tmp_path)
    before = _mtime(sandbox.root / "results/report/index.html")
    result = sandbox.run(command)
    assert result.returncode == 0, f"{doc}\n{_out(result)}"
    if rule.name == "rebuild from raw logs":
        assert _mtime(sandbox.root / "results/report/index.html") > before, f"{doc}: report not rebuilt"
    elif rule.name == "report in a browser":
        assert json.loads(result.stdout)["ok"], result.stdout
    elif rule.name == "snakemake --report":
        zip_path = sandbox.root / command.split()[-1]
        assert zip_path.is_file() and zip_path.stat().st_size > 0, f"{doc}\n{_out(result)}"
    elif rule.name == "audit diff":
        assert "32-bit ABI: run directory" in result.stdout, f"{doc}\n{_out(result)}"
    elif rule.name == "redo a run":
        assert re.search(r": (set aside in |not on disk)", result.stdout), _out(result)
    elif rule.name == "SLURM test cluster":
        status = sandbox.run("bash scripts/setup/slurm.sh status", timeout=60)
        assert (status.returncode == 0) == (not command.endswith(" stop")), _out(status)


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def _check_htcondor_as_far_as_possible(doc: DocCommand, sandbox: Sandbox) -> None:
    profile = yaml.safe_load((sandbox.root / "profiles/htcondor/config.yaml").read_text())
    assert profile["executor"] == "htcondor"
    pins = (sandbox.root / "scripts/setup/cluster-plugins-htcondor.txt").read_text()
    assert "snakemake-executor-plugin-htcondor==" in pins, "set-up pins the executor plugin"
    plugin = subprocess.run([str(REPO_ROOT / ".venv/bin/python"), "-c", "import snakemake_executor_plugin_htcondor"],
                            capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT / ".venv/cluster-plugins")})
    if plugin.returncode == 0:  # installed (an access point): the profile plans the study
        result = sandbox.run(_with_flag(doc.command, "scripts/run.sh", "-n"))
        assert result.returncode == 0 and "This was a dry-run" in result.stdout + result.stderr, _out(result)
