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
        script=SCRIPTS / "parse_run.py",
    shell:
        "{params.python:q} {params.script:q} {input.run:q} {output:q} > {log} 2>&1"
