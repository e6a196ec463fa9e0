from execbench.images import rule_base_param, rule_input_files


# Rebuild triggers: a context file's content (or the set of files) changes
# (input), the base settings, registry, definition or description change
# (params), or this rule changes (code). A mere touch does not rebuild:
# Snakemake compares checksums of newer inputs.
rule image:
    """Base (debootstrap rootfs or registry pull) -> docker build -> push -> record with the digest."""
    input:
        lambda wildcards: rule_input_files(config, wildcards.image),
    output:
        f"{RESULTS}/images/{{image}}.json",
    log:
        f"{RESULTS}/logs/images/{{image}}.log",
    conda:
        "../../envs/execbench.yaml"
    params:
        base=lambda wildcards: rule_base_param(config, wildcards.image),
        definition=lambda wildcards: config["images"][wildcards.image]["definition"],
        description=lambda wildcards: config["images"][wildcards.image].get(
            "description", ""
        ),
        registry=config["registry"]["address"],
        cache=config["cache"],
        python=PYTHON,
    shell:
        "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench build-image --name {wildcards.image:q}"
        " --definition {params.definition:q} --base {params.base:q}"
        " --description {params.description:q} --registry {params.registry:q}"
        " --cache {params.cache:q} --output {output:q} 3>&2 > {log:q} 2>&1"
