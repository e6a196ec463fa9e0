"""Generated docs stay in step with what they describe."""

from execbench import schema_doc
from execbench.paths import REPO_ROOT


def test_config_readme_lists_every_schema_key_and_is_current():
    committed = (REPO_ROOT / "config" / "README.md").read_text()
    assert committed == schema_doc.render(), "run: .venv/bin/python -m execbench schema-doc > config/README.md"
    for key in ("study.copies", "registry.allow_non_loopback", "modes.<name>.copies_per_container", "from_raw"):
        assert f"`{key}`" in committed
