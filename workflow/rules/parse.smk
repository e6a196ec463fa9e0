# Parse stage: every run under results/raw (the study's chains' runs, ingested runs, or for
# from_raw whatever is there) -> its schema-checked records, in one job, into one JSON Lines file.
# Starting a job and tracking an output per run costs more than parsing it
# (bench/bench_archive_rebuild.py). Raw files are only read.


rule parse_runs:
    """Every run under results/raw -> its schema-checked records (results/parsed/runs.jsonl)."""
    input:
        # the chains (a study), and this invocation's ingest, write the runs first
        chains=[] if config["from_raw"] else [chain_record(c) for c in CHAINS],
        ingested=[INGEST_SKIPPED] if config["ingest"]["manifest"] else [],
    output:
        PARSED_RUNS,
    log:
        f"{RESULTS}/logs/parse/runs.log",
    conda:
        "../../envs/execbench.yaml"
    threads: workflow.cores
    params:
        python=PYTHON,
        # results/raw, next to the output's parsed/ (a function, as Snakemake's lint asks)
        raw=lambda w, output: str(Path(output[0]).parent.parent / "raw"),
        # from_raw: a rerun trigger of the runs on disk, without declaring every run.json
        runs=raw_runs_fingerprint() if config["from_raw"] else "",
    shell:
        "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench parse --raw {params.raw:q} --out {output:q}"
        " --jobs {threads:q} 3>&2 > {log:q} 2>&1"
