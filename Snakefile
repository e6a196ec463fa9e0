# execbench: what it costs to run batch payloads in a container or a VM
# instead of on bare metal. Rules live in workflow/rules/, logic in the
# execbench package (src/execbench), the study in config/config.yaml.
from snakemake.utils import min_version

min_version("9.0")


# The default study, unless config files are given on the command line: the first of them is then
# the whole study, or builds on this one with `extends: default` (execbench.config.compose_config,
# which common.smk applies; printed at start, stored in results/.execbench/effective-config.yaml).
if not workflow.overwrite_configfiles:

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
        # every host's chain record: one deleted (redo, a run gone) makes that chain due again
        [] if config["from_raw"] else [chain_record(c) for c in CHAINS],
        f"{RESULTS}/report/index.html",
        rules.export_wlcg.output,
        rules.study_summary.output,
