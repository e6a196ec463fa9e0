import json

from execbench.images import ImageSpec, context_files, normalise_base


def image_spec(name):
    return ImageSpec.from_config(name, config["images"][name])


def image_inputs(wildcards):
    """Every file of the build context (definition dir + inimage scripts).

    Snakemake reruns the build when one of them is newer than the record, when
    one is added or removed (input-set trigger), when the base settings change
    (the `base` param) or when this rule's code changes. The wheels follow from
    requirements.txt, which is an input."""
    return [str(path) for path in context_files(image_spec(wildcards.image)).values()]


rule image:
    """Base (debootstrap rootfs or registry pull) -> docker build -> push -> record with the digest."""
    input:
        image_inputs,
    output:
        f"{RESULTS}/images/{{image}}.json",
    params:
        base=lambda wildcards: json.dumps(normalise_base(config["images"][wildcards.image]["base"]), sort_keys=True),
        definition=lambda wildcards: config["images"][wildcards.image]["definition"],
        description=lambda wildcards: config["images"][wildcards.image].get("description", ""),
        registry=config["registry"]["address"],
        cache=config["cache"],
    log:
        f"{RESULTS}/logs/images/{{image}}.log",
    conda:
        "../../envs/execbench.yaml"
    shell:
        "{PYTHON} scripts/build_image.py --name {wildcards.image:q} --definition {params.definition:q}"
        " --base {params.base:q} --description {params.description:q}"
        " --registry {params.registry:q} --cache {params.cache:q}"
        " --output {output:q} > {log} 2>&1"
