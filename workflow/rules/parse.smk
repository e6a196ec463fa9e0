# A study parses each run as it finishes (one job per run). A rebuild from raw
# logs parses every run in one process: starting a process per run costs more
# than parsing it (bench/bench_rebuild_from_raw.py).
FROM_RAW_RUNS = parsed_rel_dirs() if config["from_raw"] else []


if FROM_RAW_RUNS:

    rule parse_raw_runs:
        """from_raw: every raw run's native logs -> its schema-checked records, in one process."""
        input:
            runs=[
                raw_run_json(layout.RunKey.from_rel_dir(rel_dir))
                for rel_dir in FROM_RAW_RUNS
            ],
        output:
            [parsed_run_json(rel_dir) for rel_dir in FROM_RAW_RUNS],
        log:
            f"{RESULTS}/logs/parse/from_raw.log",
        conda:
            "../../envs/execbench.yaml"
        params:
            python=PYTHON,
        shell:
            "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench parse --runs {input.runs:q} --outputs {output:q} 3>&2 > {log:q} 2>&1"

    # the per-run rule below could make the same files: here the batch does
    ruleorder: parse_raw_runs > parse_run


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
