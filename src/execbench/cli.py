"""One command-line entry: `python -m execbench <verb> ...` (what the workflow's rules call).

    build-image   one image: base -> docker build -> push -> results/images/<name>.json
    chain         one host's chain of runs, in the paired order, adaptive, resumable (the study's job)
    run           one run of the matrix -> results/raw/<run>/ (native logs + run.json)
    redo          set runs aside (raw/.incomplete/) so the next study invocation measures them again
    ingest        a site's manifest of existing logs -> results/raw/ + the skipped-inputs list
    parse         run directories -> schema-checked records (results/parsed/...json)
    tables        parsed runs -> results/tables/* (measurements, relative, scaling, ...)
    figures       tables -> figures (PNG + SVG) and their manifest
    report        tables + figures -> results/report/index.html and report.md
    study-summary the end of a study: runs ok/failed/unavailable with reasons; exit 1 without an answer
    plan          the run matrix, estimated wall time and disk use, where the config came from
    follow        a running study, one line per finished run, from its run directories and chain records
    export-wlcg   a study's results per host in the HEP-Benchmark-Suite report shape (schema-checked)
    sweep         remove a results dir's leftovers of killed runs on this host (containers, guests, mounts)
    check-config  read config files within execbench's bounds (size, UTF-8, YAML aliases, nesting)
    check-report  open a report in headless Chromium and check it renders
    audit-diff    the host audit's verdicts that differ between two hosts (tables/audit.json)
    schema-doc    the config reference (config/README.md) from the assembled schema

Each verb exits 0 on success, 1 when its work failed, 2 on bad arguments or input it
refuses (the message names the file, line or key).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import traceback
from pathlib import Path

from .errors import ExecbenchError

# The rules run each verb as `EXECBENCH_REASON_FD=3 python -m execbench ... 3>&2 > LOG 2>&1`: fd 3
# is Snakemake's own stderr. A verb's one-line failure reason goes there as well as into the job's
# log, so the user sees it even when the log cannot be written (a full disk, issue 13 R12) instead
# of Snakemake's "check log file(s)" pointing at an empty file.
REASON_FD_ENV = "EXECBENCH_REASON_FD"


def _fail(message: str) -> None:
    """Say why a verb failed, in one line: on stderr (the job's log) and on $EXECBENCH_REASON_FD."""
    line = " ".join(str(message).split())[:2000] + "\n"
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line)
        sys.stderr.flush()
    fd = os.environ.get(REASON_FD_ENV, "")
    if fd.isdigit():
        with contextlib.suppress(OSError):
            os.write(int(fd), f"execbench: {line}".encode(errors="replace"))


def _build_image(args) -> int:
    from .images import ImageSpec, build_and_push, write_record

    logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("urllib3", "docker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        section = {"base": json.loads(args.base), "definition": args.definition, "description": args.description}
        spec = ImageSpec.from_config(args.name, section)  # definition relative to the repository
        record = build_and_push(spec, args.registry, Path(args.cache))
        write_record(record, Path(args.output))
    except json.JSONDecodeError as error:
        _fail(f"build-image: --base is not JSON: {error}")
        return 2
    except ExecbenchError as error:
        _fail(f"build-image: {error}")
        return 1
    print(f"{record['reference']}  {record['size_bytes'] / 1e6:.0f} MB  build {record['build_seconds']:.0f} s")
    return 0


def _run(args) -> int:
    from . import layout
    from .runner import find_cell, run_cell

    try:
        config = _validated_config(args)
        if config is None:
            return 2
        cell = find_cell(config, args.payload, args.mode, args.copies, args.rep, args.host)
    except ExecbenchError as err:
        _fail(f"run: {err}")
        return 2
    try:
        record = run_cell(config, cell)
    except ExecbenchError as err:  # the run did not start (benchmark slot busy or unsafe): no run.json
        _fail(f"run: {err}")
        return 1
    print(f"{cell.run_id}: {record['status']} {record['reason']} ({record['wall_s']:.1f} s) "
          f"-> {layout.raw_dir(config['results'], cell)}")
    return 0


def _config_source(p) -> None:
    """The config arguments of a verb that needs the study (read by _validated_config)."""
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="study config (YAML or JSON), validated here")
    source.add_argument("--validated-config", help="config JSON file, already validated")
    source.add_argument("--validated-config-env", metavar="NAME",
                        help="environment variable holding the config JSON the workflow validated (run.smk)")


def _validated_config(args) -> dict | None:
    """The config of --config (validated here), --validated-config or --validated-config-env;
    None (with the reason on stderr) when the environment variable is not set."""
    from .config import load_config

    if getattr(args, "validated_config", None):
        return json.loads(Path(args.validated_config).read_text())
    if getattr(args, "validated_config_env", None):
        text = os.environ.get(args.validated_config_env)
        if not text:
            print(f"environment variable {args.validated_config_env} is not set (it carries the workflow's "
                  "validated config; run through snakemake)", file=sys.stderr)
            return None
        return json.loads(text)
    return load_config(args.config)


def _chain(args) -> int:
    from .chain import run_chain

    try:
        config = _validated_config(args)
    except ExecbenchError as err:
        print(f"chain: {err}", file=sys.stderr)
        return 2
    if config is None:
        return 2
    from .runner import Terminated

    try:
        record = run_chain(config, args.host)
    except Terminated as why:  # cleaned up already (terminate_on_sigterm); the next invocation resumes
        print(f"chain stopped ({why}): its containers, guests and mounts are removed; finished runs are kept "
              "and the next invocation resumes", file=sys.stderr)
        return 143
    print(f"chain {record['chain']}: {len(record['runs'])} runs ({record['failed_runs']} failed) "
          f"in {record['wall_s'] / 60:.1f} min, {len(record['decisions'])} adaptive decision(s)")
    return 0


def _redo(args) -> int:
    from . import layout
    from .chain import chain_record_path
    from .runner import move_aside

    results = Path(args.results)
    for rel in args.runs:
        try:
            key = layout.RunKey.from_rel_dir(rel)
        except ValueError as err:
            print(f"redo: {err}", file=sys.stderr)
            return 2
        moved = move_aside(results, key, force=True)
        print(f"{rel}: {'set aside in ' + str(moved) if moved else 'not on disk'}")
        # the chain that owns it must run again (it resumes: only the missing runs are measured)
        chain_record_path(results, key.host).unlink(missing_ok=True)
    print("then run the study again, with the options it was run with (e.g. bash scripts/run.sh --configfile "
          "<yours>): the chain resumes and measures only these runs, then parse, tables, report")
    return 0


def _ingest(args) -> int:
    from .ingest import ingest, where

    reserved = frozenset()
    if args.reserved_list:
        reserved = frozenset(line.strip() for line in Path(args.reserved_list).read_text().splitlines() if line.strip())
    # exit 0 whatever the input: skipped rows, and a manifest that cannot be read at all, are listed
    # in the skipped JSON (the report shows it) and here, so one bad manifest never stops the report
    summary = ingest(args.manifest, args.results, args.skipped, reserved)
    for run in summary["ingested"]:
        print(f"ingested {run['rel_dir']}: {run['inputs']} input(s), status {run['status']}")
    for item in summary["skipped"]:
        print(f"skipped {where(item['path'], item.get('line'))}: expected {item['expected']}", file=sys.stderr)
    return 0


def _parse(args) -> int:
    from .ingest import where
    from .parse import parse_batch, write_parse_failure, write_parsed

    if args.raw:  # every run under results/raw into one JSON Lines file (from_raw, ingested runs)
        exclude = frozenset()
        if args.exclude_list:
            exclude = frozenset(line.strip() for line in Path(args.exclude_list).read_text().splitlines()
                                if line.strip())
        counts = parse_batch(Path(args.raw), Path(args.out), jobs=max(1, args.jobs),
                             ingested_only=args.ingested_only, exclude=exclude)
        print(f"{args.out}: {counts['runs']} runs, {counts['records']} records, {counts['errors']} errors")
        return 0
    if not args.runs or len(args.runs) != len(args.outputs or []):
        _fail(f"parse: {len(args.runs or [])} runs but {len(args.outputs or [])} outputs: one output per run")
        return 2
    for run_json, out in zip(args.runs, args.outputs):
        try:
            result = write_parsed(Path(run_json).parent, Path(out))
        except Exception as exc:  # a bug on one run must not cost the other runs their parse
            result = write_parse_failure(Path(run_json).parent, Path(out), exc)
        for error in result["errors"]:
            print(f"{run_json}: skipped {where(error['path'], error['line'])}: expected {error['expected']}",
                  file=sys.stderr)
        print(f"{run_json}: {len(result['records'])} records, {len(result['errors'])} errors")
    return 0


def _tables(args) -> int:
    from .tables import write_tables

    skipped = args.skipped if args.skipped and Path(args.skipped).exists() else None
    files = write_tables(args.parsed, args.out, skipped)
    print(f"{len(args.parsed)} parsed runs -> {', '.join(str(p) for p in files.values())}")
    return 0


def _figures(args) -> int:
    from .figures import write_figures

    for fig in write_figures(args.tables, args.out):
        print(f"{fig.name}: {', '.join(str(p) for p in fig.files.values())}")
    return 0


def _report(args) -> int:
    from .report import write_report

    out = write_report(args.tables, args.figures, args.out, args.config, from_raw=args.from_raw)
    print(f"-> {out['html']}, {out['md']}")
    return 0


def _study_summary(args) -> int:
    from .summary import render_text

    summary = json.loads(Path(args.summary).read_text())
    text = render_text(summary, fail_without_answer=not args.no_fail, summary_path=args.summary)
    print(text, end="", flush=True)
    if summary["problems"] and not args.no_fail:
        return 1
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)  # only when the study has an answer: a rerun says it again otherwise
    return 0


def _check_config(args) -> int:
    from .config import read_config_file
    from .errors import ConfigError

    status = 0
    for path in args.files:
        try:
            read_config_file(Path(path), path)
        except ConfigError as err:
            _fail(f"check-config: {err}")
            status = 2
    return status


def _sweep(args) -> int:
    from .sweep import sweep

    said = sweep(args.results, args.cache, args.podman_user)
    for line in said:
        print(f"execbench sweep: {line}", flush=True)
    if not said:
        print(f"execbench sweep: nothing left over on this host for {args.results}", flush=True)
    return 0


def _check_report(args) -> int:
    from .browser import check_report, section_screenshot

    index = Path(args.index_html)
    if not index.is_file():
        print(f"{index}: no such report (build it first: bash scripts/run.sh)", file=sys.stderr)
        return 2
    shot = Path(args.screenshot) if args.screenshot else index.with_name("index.screenshot.png")
    result = check_report(index, shot.resolve())
    if args.first_screens:
        from .browser import LAPTOP, PHONE, screenshot

        for name, (width, height) in (("laptop", LAPTOP), ("phone", PHONE)):
            png = index.with_name(f"first-screen-{name}.png")
            screenshot(index, png, width, height)
            result[f"first_screen_{name}"] = str(png)
    for section in args.section or []:
        part = section_screenshot(index, section, shot.resolve().with_name(f"index.{section}.png"))
        result.setdefault("sections", []).append(part)
        if not part["screenshot"]:
            result["ok"] = False
            result["problems"].append(f"section {section!r}: " + ("no screenshot written" if part["found"]
                                                                  else "no element with that id"))
    print(json.dumps(result, indent=1))
    return 0 if result["ok"] else 1


def _study_config(args, verb: str):
    """(config, sources) as the workflow composes them from --configfile/--config, or None after
    printing why not."""
    from snakemake.cli import parse_config

    from .config import compose_config, describe_sources, load_config
    from .errors import ConfigError

    sources = []
    try:
        raw, sources = compose_config(args.configfile, parse_config(args.config))
        # the error names what the config was made of, as the workflow's does
        return load_config(raw, source_name=describe_sources(sources) if sources else "config"), sources
    except (ExecbenchError, ValueError) as err:
        hint = ""
        # a key the study lacks may be one the default study has: say so when the first file
        # is the whole study (no `extends`), and only for a key's error, not a file's syntax
        if isinstance(err, ConfigError) and sources and sources[0].kind == "file" and "extends" not in str(err):
            hint = (f"\n({sources[0].name} is the whole study: the default study is not read; to build on "
                    "config/config.yaml instead, add `extends: default` to it)")
        print(f"{verb}: {err}{hint}", file=sys.stderr)
        return None


def _follow(args) -> int:
    from .progress import follow

    loaded = _study_config(args, "follow")
    if loaded is None:
        return 2
    try:
        follow(loaded[0], interval_s=args.interval, once=args.once)
    except KeyboardInterrupt:
        pass
    return 0


def _plan(args) -> int:
    from . import plan

    loaded = _study_config(args, "plan")
    if loaded is None:
        return 2
    config, sources = loaded
    if args.print_results:
        print(config["results"])
        return 0
    dirs = plan.history_dirs(config, args.history)
    history = plan.read_history(dirs)
    estimates = plan.estimate(config, history)
    print(plan.render(config, sources, estimates, history, image_build_s=plan.image_build_estimate(config, dirs)),
          end="")
    return 0


def _export_wlcg(args) -> int:
    from .wlcg import write_exports

    try:
        written = write_exports(args.tables, args.out, tags=dict(t.split("=", 1) for t in args.tag))
    except ExecbenchError as err:
        print(f"export-wlcg: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
def _audit_diff(args) -> int:
    from .findings import diff_hosts, read_audit_table

    tables = []
    for path in args.tables:
        table = read_audit_table(path)
        if table is None:
            print(f"audit-diff: {path}: not a readable audit table (results/tables/audit.json)", file=sys.stderr)
            return 2
        tables.append(table)
    table_a, table_b = tables[0], tables[-1]
    if args.hosts:
        host_a, host_b = args.hosts
    else:  # two tables of one host each
        if len(tables) != 2 or len(table_a["hosts"]) != 1 or len(table_b["hosts"]) != 1:
            print("audit-diff: name the two hosts (--hosts A B) unless comparing two tables of one host each",
                  file=sys.stderr)
            return 2
        host_a, host_b = table_a["hosts"][0]["host"], table_b["hosts"][0]["host"]
    try:
        rows = diff_hosts(table_a, host_a, table_b, host_b)
    except KeyError as err:
        print(f"audit-diff: {err.args[0]}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print(f"{host_a} and {host_b}: the same verdicts on every audited item")
        return 0
    header = ["scope", "mode", "item", host_a, host_b, f"summary on {host_b}"]
    lines = [header] + [[r["scope"], r["mode"] or "-", r["title"], r["verdict_a"] or "-", r["verdict_b"] or "-",
                         (r["summary_b"] or "-")[:100]] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)) + "  " + line[-1])
    return 0


def _schema_doc(args) -> int:
    from .schema_doc import render

    print(render(), end="")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m execbench", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n")[1])
    verbs = top.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("build-image", help="build, push and record one image")
    p.add_argument("--name", required=True)
    p.add_argument("--definition", required=True, help="directory with the Dockerfile (relative to the repository)")
    p.add_argument("--base", required=True, help='the base config as JSON, e.g. \'{"debootstrap": {"suite": "bookworm"}}\'')
    p.add_argument("--registry", required=True, help="host:port")
    p.add_argument("--cache", required=True)
    p.add_argument("--output", required=True, help="results/images/<name>.json")
    p.add_argument("--description", default="")
    p.set_defaults(func=_build_image)

    p = verbs.add_parser("chain", help="one host's chain of runs (the study's run job)")
    _config_source(p)
    p.add_argument("--host", default=None, help="the cluster.hosts entry whose chain this is (fan-out)")
    p.set_defaults(func=_chain)

    p = verbs.add_parser("redo", help="set runs aside so the next study invocation measures them again")
    p.add_argument("runs", nargs="+", metavar="RUN", help="<payload>/<mode>/<copies>c/r<rep>[@<host>]")
    p.add_argument("--results", default="results")
    p.set_defaults(func=_redo)

    p = verbs.add_parser("run", help="run one cell of the matrix")
    _config_source(p)
    p.add_argument("--payload", required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--copies", type=int, required=True)
    p.add_argument("--rep", type=int, required=True)
    p.add_argument("--host", default=None, help="the cluster.hosts entry this run is meant for (fan-out)")
    p.set_defaults(func=_run)

    p = verbs.add_parser("ingest", help="copy a manifest's existing logs into results/raw")
    p.add_argument("--manifest", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--skipped", default=None, help="where to write the skipped-inputs JSON")
    p.add_argument("--reserved-list", default=None, help="file of the study's own rel_dirs (one per line)")
    p.set_defaults(func=_ingest)

    p = verbs.add_parser("parse", help="parse run directories into records")
    p.add_argument("--runs", nargs="+", help="run.json of each run (with --outputs: one parsed JSON per run)")
    p.add_argument("--outputs", nargs="+", help="parsed JSON to write, one per run")
    p.add_argument("--raw", help="instead: every run under this results/raw directory ...")
    p.add_argument("--out", help="... into this one JSON Lines file")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (with --raw)")
    p.add_argument("--ingested-only", action="store_true", help="only runs written by ingest (with --raw)")
    p.add_argument("--exclude-list", default=None, help="file of rel_dirs not to parse here (with --raw)")
    p.set_defaults(func=_parse)

    p = verbs.add_parser("tables", help="parsed runs -> tables")
    p.add_argument("--out", required=True, help="tables directory to write")
    p.add_argument("--skipped", default=None, help="ingest's skipped.json, listed in the report if it exists")
    p.add_argument("parsed", nargs="*", help="parsed-run JSON files")
    p.set_defaults(func=_tables)

    p = verbs.add_parser("figures", help="tables -> figures")
    p.add_argument("--tables", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_figures)

    p = verbs.add_parser("report", help="tables + figures -> index.html and report.md")
    p.add_argument("--tables", required=True)
    p.add_argument("--figures", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--config", action="append", default=[], help="config file to embed (repeatable)")
    p.add_argument("--from-raw", action="store_true", help="no benchmark ran: do not show the config as the runs'")
    p.set_defaults(func=_report)

    p = verbs.add_parser("study-summary", help="print the study's summary; exit 1 when it has no answer")
    p.add_argument("summary", help="results/tables/summary.json")
    p.add_argument("--out", required=True, help="the printed summary, written when the exit status is 0")
    p.add_argument("--no-fail", action="store_true", help="exit 0 even when the study has no answer")
    p.set_defaults(func=_study_summary)

    p = verbs.add_parser("check-config", help="read config files with execbench's bounds (before Snakemake reads them)")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_check_config)

    p = verbs.add_parser("sweep", help="remove this results dir's leftovers on this host (killed runs)")
    p.add_argument("--results", required=True, help="the results dir whose containers, guests and mounts go")
    p.add_argument("--cache", required=True, help="the cache holding the exported rootfs (bare mounts)")
    p.add_argument("--podman-user", action="append", default=[], help="rootless podman user to sweep (repeatable)")
    p.set_defaults(func=_sweep)

    p = verbs.add_parser("check-report", help="render a report in headless Chromium and check it")
    p.add_argument("index_html", nargs="?", default="results/report/index.html")
    p.add_argument("--screenshot", default=None, help="PNG to write (default: <report dir>/index.screenshot.png)")
    p.add_argument("--first-screens", action="store_true",
                   help="also first-screen-laptop.png (1280x800) and first-screen-phone.png (390x844) beside the report")
    p.add_argument("--section", action="append", metavar="ID",
                   help="also a screenshot of the section with this id alone, index.<ID>.png beside the "
                        "screenshot (repeatable; e.g. audit, relative, provenance)")
    p.set_defaults(func=_check_report)

    p = verbs.add_parser("plan", help="print the run matrix, estimated time and disk use, and the config's sources")
    p.add_argument("--configfile", nargs="+", default=[], help="config files, as given to snakemake")
    p.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE", help="--config values, as given to snakemake")
    p.add_argument("--history", nargs="*", default=[], metavar="RESULTS",
                   help="more results trees whose run.json wall times count as earlier runs on this host")
    p.add_argument("--print-results", action="store_true", help="print only the results directory of the config")
    p.set_defaults(func=_plan)

    p = verbs.add_parser("follow", help="follow a running study from its run directories and chain records: "
                                        "one line per finished run (run i of N, ETA, failures)")
    p.add_argument("--configfile", nargs="+", default=[], help="config files, as given to snakemake")
    p.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE", help="--config values, as given to snakemake")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between looks at the results directory")
    p.add_argument("--once", action="store_true", help="print where each chain is now and exit")
    p.set_defaults(func=_follow)

    p = verbs.add_parser("export-wlcg", help="results per host in the HEP-Benchmark-Suite report shape")
    p.add_argument("--tables", required=True, help="results/tables")
    p.add_argument("--out", required=True, help="directory to write <host>.json into")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="a tag of host.tags (repeatable)")
    p.set_defaults(func=_export_wlcg)

    p = verbs.add_parser("audit-diff", help="the audit verdicts that differ between two hosts")
    p.add_argument("tables", nargs="+", help="tables/audit.json (one study's, or two: one per site or host)")
    p.add_argument("--hosts", nargs=2, metavar=("A", "B"), help="the two hosts (needed within one table)")
    p.add_argument("--json", action="store_true", help="the differing items as JSON")
    p.set_defaults(func=_audit_diff)

    p = verbs.add_parser("schema-doc", help="print the config reference (config/README.md)")
    p.set_defaults(func=_schema_doc)
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args, extra = top.parse_known_args(argv)
    if extra and args.verb not in ("plan", "follow"):
        top.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:  # `bash scripts/run.sh --plan ...` hands over the whole snakemake command line
        print(f"{args.verb}: not about the matrix, left to snakemake: {' '.join(extra)}", file=sys.stderr)
    try:
        return args.func(args)
    except Exception as exc:  # a bug or the machine (ENOSPC ...): the traceback to the log, the reason to the user
        with contextlib.suppress(OSError, ValueError):
            traceback.print_exc()
        _fail(f"{args.verb}: {type(exc).__name__}: {exc}")
        return 1
