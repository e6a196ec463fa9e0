"""The exported image tree (execbench.rootfs): no setuid/setgid program a local user could run
(issue 13, R4), tried as user nobody on the real export of the test image."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import CACHE

from execbench.rootfs import RootfsError, export_rootfs, private_dir, strip_setid


def setid_files(root: Path) -> list[str]:
    found = subprocess.run(["find", str(root), "-xdev", "-type", "f", "-perm", "/6000"], capture_output=True,
                           text=True, check=True).stdout.split()
    return sorted(str(Path(p).relative_to(root)) for p in found)


@pytest.mark.docker
@pytest.mark.skipif(os.geteuid() != 0, reason="runs the image's programs as another real user")
def test_r4_the_images_setuid_programs_are_no_host_setuid_programs(modes_image):
    root, meta = export_rootfs(modes_image["reference"], CACHE)
    # R4's reproducer: the image's passwd, setuid root, read the host's /etc/shadow for nobody
    tried = subprocess.run(["runuser", "-u", "nobody", "--", str(root / "usr/bin/passwd"), "-S", "nobody"],
                           capture_output=True, text=True, timeout=60)
    assert tried.returncode != 0 and "Permission denied" in tried.stderr
    assert stat.S_IMODE(root.parent.stat().st_mode) == 0o700  # nobody reaches no tree at all
    # and the tree itself holds no privileged program (a copy, or a loosened mode, stays harmless)
    assert setid_files(root) == []
    assert {"usr/bin/passwd", "usr/bin/su", "usr/bin/mount"} <= set(meta["setid_stripped"])
    assert json.loads((root.parent / f"{root.name}.json").read_text())["setid_stripped"] == meta["setid_stripped"]


@pytest.mark.docker
def test_an_export_made_before_stripping_is_stripped_on_its_next_use(modes_image):
    root, meta = export_rootfs(modes_image["reference"], CACHE)
    meta_file = root.parent / f"{root.name}.json"
    old = dict(meta)
    old.pop("setid_stripped")
    meta_file.write_text(json.dumps(old))
    (root / "usr/bin/su").chmod(0o4755)  # as an older export left it
    (root.parent).chmod(0o755)
    root_again, meta_again = export_rootfs(modes_image["reference"], CACHE)
    assert root_again == root and "usr/bin/su" in meta_again["setid_stripped"]
    assert setid_files(root) == [] and stat.S_IMODE(root.parent.stat().st_mode) == 0o700


def test_strip_setid_never_follows_links(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("x")
    outside.chmod(0o4755)
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin/prog").write_text("x")
    (tree / "bin/prog").chmod(0o6755)
    (tree / "bin/link").symlink_to(outside)
    assert strip_setid(tree) == ["bin/prog"]
    assert stat.S_IMODE((tree / "bin/prog").stat().st_mode) == 0o755
    assert stat.S_IMODE(outside.stat().st_mode) == 0o4755  # the link's target is not the tree's


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_cache_directory_of_another_user_is_refused(tmp_path):
    other = tmp_path / "rootfs"
    other.mkdir()
    os.chown(other, 65534, 65534)
    with pytest.raises(RootfsError, match="no other user can reach"):
        private_dir(other)
