# execbench: what it costs to run batch payloads in a container or a VM
# instead of on bare metal. Rules live in workflow/rules/, logic in the
# execbench package (src/execbench), the study in config/config.yaml.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


# the description `snakemake --report` puts on its front page
report: "workflow/report/workflow.rst"


# common.smk validates the config against workflow/schemas/config.schema.yaml
# (plus the checks a schema cannot express) before any job is scheduled.
include: "workflow/rules/common.smk"


if not config["from_raw"]:

    include: "workflow/rules/images.smk"
    include: "workflow/rules/run.smk"


include: "workflow/rules/ingest.smk"
include: "workflow/rules/parse.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        f"{RESULTS}/report/index.html",
        rules.study_summary.output,
