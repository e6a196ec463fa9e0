# Ingest of a site's existing raw logs (config: ingest.manifest). One job copies every manifest
# row into results/raw/<payload>/<mode>/<copies>c/r<rep>/ (originals only read, sha256 of every
# file recorded; a file holding N runs becomes N repetitions) and writes the skipped-inputs list
# the report shows. Its only declared output is that list: which run directories a manifest
# gives is known once its files are read, and a manifest that cannot be read at all is one
# skipped entry, never a failed DAG. The ingested runs are then parsed in one batch job.

INGEST_SKIPPED = f"{RESULTS}/ingest/skipped.json"

if config["ingest"]["manifest"]:
    _MANIFEST = config["ingest"]["manifest"]

    if not config["from_raw"]:

        rule study_runs:
            """The study's own run directories, which ingest must not fill (one per line)."""
            output:
                STUDY_RUNS,
            log:
                f"{RESULTS}/logs/ingest/study-runs.log",
            params:
                runs="\n".join(cell.rel_dir for cell in MATRIX),
            run:
                Path(output[0]).write_text(f"{params.runs}\n")
                Path(log[0]).write_text(f"{len(MATRIX)} study runs\n")

    rule ingest_logs:
        """Manifest rows -> raw run dirs (copied, checksummed) + results/ingest/skipped.json."""
        input:
            # a missing manifest is reported by the job (skipped.json), not a missing-input error
            manifest=[_MANIFEST] if Path(_MANIFEST).is_file() else [],
            study=[] if config["from_raw"] else [STUDY_RUNS],
        output:
            skipped=INGEST_SKIPPED,
        log:
            f"{RESULTS}/logs/ingest.log",
        conda:
            "../../envs/execbench.yaml"
        params:
            python=PYTHON,
            manifest=_MANIFEST,
            results=RESULTS,
            reserved=lambda wildcards, input: (
                ["--reserved-list", input.study] if input.study else []
            ),
        shell:
            "EXECBENCH_REASON_FD=3 {params.python:q} -m execbench ingest --manifest {params.manifest:q}"
            " --results {params.results:q} --skipped {output.skipped:q} {params.reserved:q} 3>&2 > {log:q} 2>&1"
