"""VM mode costs on this host: boot artefacts (kernel, initramfs, disk), the readiness
verdicts, and boot-to-ready / shutdown times of fresh guests.

  .venv/bin/python bench/bench_vm.py [--image-record results/images/debian12.json]
      [--cache DIR (default: a fresh temporary cache, so every artefact is built)] [--samples 3]

Prints one JSON document. Needs root, the local registry and the image record.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from execbench.config import mode_settings
from execbench.modes import vm, vmimage
from execbench.modes.base import ModeContext, RunContext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-record", default="results/images/debian12.json")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    image = json.loads(Path(args.image_record).read_text())
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="execbench-bench-vm-", dir="/var/tmp"))
    out: dict = {"image": image["reference"], "cache": str(cache)}
    try:
        t0 = time.monotonic()
        kern = vmimage.kernel(cache)
        out["kernel"] = {**kern.record(), "fetch_and_unpack_s": round(time.monotonic() - t0, 2)}
        initrd, initrd_meta = vmimage.initramfs(cache, kern)
        out["initramfs"] = {k: initrd_meta[k] for k in ("size_bytes", "build_s", "modules")}
        t0 = time.monotonic()
        disk, disk_meta = vmimage.disk_image(image["reference"], cache)
        out["disk"] = {"apparent_bytes": disk.stat().st_size, "allocated_bytes": disk.stat().st_blocks * 512,
                       "rootfs_bytes": disk_meta["rootfs_bytes"], "export_s": disk_meta["export_s"],
                       "mkfs_s": disk_meta["mkfs_s"], "this_call_s": round(time.monotonic() - t0, 2)}
        (cache / "vm" / "readiness.json").unlink(missing_ok=True)
        for accel in ("kvm", "tcg"):
            t0 = time.monotonic()
            verdict = vm.readiness(cache, accel, "host")
            out[f"readiness_{accel}"] = {"ok": verdict["ok"], "reason": verdict["reason"][:300],
                                         "check_s": round(time.monotonic() - t0, 2),
                                         "boot_to_ready_s": verdict.get("boot_to_ready_s")}
        mode = vm.VmMode()
        mode_ctx = ModeContext(name="vm", kind="vm", cache_dir=cache, settings=mode_settings(
            "vm", {"allow_emulation": True, "pin_vcpus": False}))
        availability = mode.available(mode_ctx)
        out["availability"] = {"ok": availability.ok, "emulated": availability.emulated}
        spec = RunContext(mode=mode_ctx, run_id="bench-vm", image_ref=image["reference"], payload="startup", copies=1,
                          repetition=1, argv=["/bin/true"], timeout_s=120, out_dir=cache / "bench-vm")
        samples = []
        for _ in range(args.samples):
            sample = mode.startup_sample(spec, ["/bin/true"])
            samples.append({"total_s": round(sample.seconds, 3), **{k: round(v, 3) for k, v in sample.phases.items()}})
        out["tcg_samples"] = samples
        out["tcg_boot_to_ready_median_s"] = statistics.median(s["boot_to_ready_s"] for s in samples)
        out["tcg_shutdown_median_s"] = statistics.median(s["shutdown_s"] for s in samples)
    finally:
        if not args.cache:
            shutil.rmtree(cache, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
