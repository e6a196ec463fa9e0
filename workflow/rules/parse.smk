# Parse stage. A study parses each run as it finishes (rule parse_run, one job per run). A
# rebuild from raw logs parses every run under results/raw in one job into one JSON Lines file
# (rule parse_raw_runs), and a study's ingested runs likewise (rule parse_ingested_runs):
# starting a job and tracking an output per run costs more than parsing it
# (bench/bench_archive_rebuild.py).


if config["from_raw"]:

    rule parse_raw_runs:
        """from_raw: every run under results/raw -> its schema-checked records, one JSON Lines file."""
        input:
            # this invocation's ingest, when there is one, writes runs first
            ingested=[INGEST_SKIPPED] if config["ingest"]["manifest"] else [],
        output:
            FROM_RAW_PARSED,
        log:
            f"{RESULTS}/logs/parse/from_raw.log",
        conda:
            "../../envs/execbench.yaml"
        threads: workflow.cores
        params:
            python=PYTHON,
            raw=f"{RESULTS}/raw",
            # a rerun trigger: the runs on disk, without declaring each run.json as an input
            runs=raw_runs_fingerprint(),
        shell:
            "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench parse --raw {params.raw:q} --out {output:q}"
            " --jobs {threads:q} 3>&2 > {log:q} 2>&1"


if config["ingest"]["manifest"] and not config["from_raw"]:

    rule parse_ingested_runs:
        """A study's ingested runs -> one JSON Lines file (the study's own runs are parsed per run)."""
        input:
            skipped=INGEST_SKIPPED,
            study=STUDY_RUNS,
        output:
            INGESTED_PARSED,
        log:
            f"{RESULTS}/logs/parse/ingested.log",
        conda:
            "../../envs/execbench.yaml"
        threads: workflow.cores
        params:
            python=PYTHON,
            raw=f"{RESULTS}/raw",
        shell:
            "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench parse --raw {params.raw:q} --out {output:q}"
            " --jobs {threads:q} --ingested-only --exclude-list {input.study:q} 3>&2 > {log:q} 2>&1"


rule parse_run:
    """Native logs of one run -> schema-checked tidy records (raw files are only read)."""
    input:
        run=f"{RESULTS}/raw/{{payload}}/{{mode}}/{{copies}}c/{{run}}/run.json",
    output:
        f"{RESULTS}/parsed/{{payload}}/{{mode}}/{{copies}}c/{{run}}.json",
    log:
        f"{RESULTS}/logs/parse/{{payload}}/{{mode}}/{{copies}}c/{{run}}.log",
    conda:
        "../../envs/execbench.yaml"
    params:
        python=PYTHON,
    shell:
        "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench parse --runs {input.run:q} --outputs {output:q} 3>&2 > {log:q} 2>&1"
