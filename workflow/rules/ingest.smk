# Ingest of a site's existing raw logs (config: ingest.manifest). One job copies every
# manifest row into results/raw/<payload>/<mode>/<copies>c/r<rep>/ (originals only read,
# sha256 of every file recorded) and writes the skipped-inputs list the report shows.
# Ingested run dirs then take the normal parse -> tables -> report path.

INGEST_SKIPPED = f"{RESULTS}/ingest/skipped.json"

if config["ingest"]["manifest"]:

    rule ingest_logs:
        """Manifest rows -> raw run dirs (copied, checksummed) + results/ingest/skipped.json."""
        input:
            manifest=config["ingest"]["manifest"],
        output:
            skipped=INGEST_SKIPPED,
            runs=[
                raw_run_json(layout.RunKey.from_rel_dir(rel_dir))
                for rel_dir in ingested_rel_dirs()
            ],
        log:
            f"{RESULTS}/logs/ingest.log",
        conda:
            "../../envs/execbench.yaml"
        params:
            python=PYTHON,
            results=RESULTS,
        shell:
            "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench ingest --manifest {input.manifest:q}"
            " --results {params.results:q} --skipped {output.skipped:q} 3>&2 > {log:q} 2>&1"

    if not config["from_raw"]:

        # an ingested run dir is made by ingest, never by running a payload
        ruleorder: ingest_logs > run_payload
