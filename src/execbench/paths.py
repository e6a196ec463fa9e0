"""Where the repository's own files are (schemas, image definitions)."""

from pathlib import Path

# The package is installed editable from the repository (see scripts/setup.sh),
# so the workflow's schemas and image definitions sit next to it.
REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = REPO_ROOT / "workflow" / "schemas"
IMAGE_DEFINITIONS = REPO_ROOT / "envs" / "images"
INIMAGE = Path(__file__).resolve().parent / "inimage"
