#!/usr/bin/env python3
"""fio sequential and random I/O on the copy's scratch directory.

The scratch directory is $EXECBENCH_SCRATCH when the mode gives the copies a scratch file system
of their own (the VM's `scratch: virtio-disk`: a virtio-blk ext4 disk, the launcher's --scratch),
else the copy's working directory (the run dir: a bind mount in a container, the 9p share in a VM).
Writes the job file `fio.job` for the size, runs `fio --output-format=json --output=fio.json`
in the copy's working directory, so fio's JSON (the native log) lands in the run dir whichever
file system the data went to, and leaves it untouched. Data files are removed after each job
(fio's unlink=1) and once more here, so raw run directories and scratch disks stay small.
Also writes `scratch.json`: the file system fio measured (execbench_launch.filesystem_of: the
mount holding the scratch directory from /proc/self/mounts, its type, source and options, the
kernel's statfs f_type and the st_dev), since I/O through a VM's 9p share is not I/O through a
virtio disk or a container's bind mount (kata-containers/runtime#2138).
Jobs run one after the other (stonewall): seq-write, seq-read (1 MiB blocks), rand-write,
rand-read (4 KiB blocks, queue depth 1, psync), O_DIRECT by default so the page cache is not
what is measured (the dimension where Felter et al. 2014 saw KVM lose 58 % of random-read IOPS).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys

from execbench_launch import filesystem_of  # the launcher sits next to this driver in the image

SIZES = {
    "smoke": {"file_size": "16M", "runtime": "500ms"},
    "standard": {"file_size": "1G", "runtime": 20},
}
JOBS = [("seq-write", "write", "1M"), ("seq-read", "read", "1M"),
        ("rand-write", "randwrite", "4k"), ("rand-read", "randread", "4k")]


SCRATCH_ENV = "EXECBENCH_SCRATCH"
UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def file_bytes(size: str) -> int:
    """Bytes of the one data file a job lays out at `size` (jobs run one after the other and each
    unlinks its file, so this is the most a copy holds at once)."""
    text = SIZES[size]["file_size"]
    return int(text[:-1]) * UNITS[text[-1]]


def job_file(size: str, direct: bool, directory: str = ".") -> str:
    s = SIZES[size]
    # fio's job-file syntax: ':' separates several directories, so it is escaped
    lines = ["[global]", f"directory={directory.replace(':', chr(92) + ':')}", "filename_format=execbench-fio.$jobname.dat", "ioengine=psync",
             f"direct={1 if direct else 0}", f"size={s['file_size']}", "time_based=1", f"runtime={s['runtime']}",
             "ramp_time=0", "unlink=1", "end_fsync=1", "randrepeat=1", "random_generator=tausworthe64",
             "group_reporting=1", "stonewall=1", ""]
    for name, rw, bs in JOBS:
        lines += [f"[{name}]", f"rw={rw}", f"bs={bs}", ""]
    return "\n".join(lines)


def scratch_filesystem(directory: str = ".") -> dict:
    """The file system holding `directory` (execbench_launch.filesystem_of)."""
    return filesystem_of(directory)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--buffered", action="store_true", help="no O_DIRECT (for file systems without it)")
    args = parser.parse_args(argv)
    directory = os.environ.get(SCRATCH_ENV) or "."
    with open("fio.job", "w") as out:
        out.write(job_file(args.size, direct=not args.buffered, directory=directory))
    with open("scratch.json", "w") as out:
        json.dump(scratch_filesystem(directory), out, indent=1)
    try:
        proc = subprocess.run(["fio", "--output-format=json", "--output=fio.json", "fio.job"])
    finally:
        for leftover in glob.glob(os.path.join(glob.escape(directory), "execbench-fio.*.dat")):
            os.unlink(leftover)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
