#!/opt/execbench/venv/bin/python
"""execbench HEP chain, modeled on ATLAS KitValidation's gen -> sim -> digi -> reco sequence.

Steps, each reading the previous step's ROOT file (written and read with uproot), like
KV's EVNT -> HITS -> RDO -> ESD chain:
  gen   Pythia8 (pythia8mc) pp collisions at 13.6 TeV, hard QCD with pThat > 100 GeV, fixed seed;
        writes the visible final-state particles to EVNT.root
  sim   "fastsim: Gaussian smearing" -- NOT Geant4: detector acceptance plus Gaussian
        resolution smearing (tracker for charged |eta| < 2.5, EM / hadronic calorimeter
        sigma/E = a/sqrt(E) (+) b); writes the smeared deposits to HITS.root
  digi  digitization-like: sums deposits into 0.1 x 0.1 eta-phi calorimeter towers, adds
        Gaussian electronic noise, applies a threshold; writes the towers to RDO.root
  reco  FastJet anti-kt R = 0.4 on the towers (massless four-vectors), jets pT > 20 GeV;
        writes the jets to ESD.root
Per step: events, wall and CPU seconds, events/s -> hepchain.log (one `step=` line per step,
read by execbench.parsers.hepchain) and hepchain.json. The chain's answer (particles generated,
towers above threshold, jets, their summed and leading pT) is compared with the one recorded for
the size within tolerances (wrong answer = failed chain); the Pythia card is checked against its
recorded hash (corrupted input = failed chain).

Why tolerances and not a hash: numpy (exp, log, sin... in SIMD variants per CPU) and glibc's libm
(FMA variants) pick code paths at run time, so the same seed gives results that differ in the last
bits between CPUs (measured: the same 74555 particles, summed jet pT equal to 2e-7, 5 of 120461
towers crossing the noise threshold the other way). The tolerances below sit well above those
differences and well below what another seed, card or a broken step changes (summed jet pT of
another seed: several %). tests/payloads/test_isa_masking.py runs the chain with the CPU features
masked down to x86-64-v2 and asserts the same verdict.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs" / "hepchain"
FORMAT_VERSION = 1
SIZES = {"smoke": {"events": 150}, "standard": {"events": 4000}}
CHUNK = 500  # events per uproot write call (keeps memory flat at standard size)
TOWER = 0.1
SPOTS_EM, SPOTS_HAD = 8, 16  # energy spots per shower in the fast simulation
ETA_MAX = 4.9
# The answer and its relative tolerances (0 = exact).
ANSWER_TOLERANCE = {"events": 0.0, "particles": 1e-3, "towers": 1e-3, "jets": 1e-2, "sum_jet_pt": 1e-3,
                    "mean_leading_jet_pt": 1e-3}


class StepFailed(Exception):
    pass


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def timed(name: str, tool: str, func, log: list, *args):
    cpu0, wall0 = time.process_time(), time.perf_counter()
    events, output = func(*args)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    entry = {"step": name, "tool": tool, "events": events, "wall_s": wall, "cpu_s": cpu,
             "events_per_s": events / wall if wall > 0 else None, "output": output, "status": "ok"}
    log.append(entry)
    return entry


# ------------------------------------------------------------------ gen

def generate(card: Path, events: int, seed: int, out: Path, summary: dict):
    import awkward as ak
    import numpy as np
    import pythia8mc
    import uproot

    pythia = pythia8mc.Pythia("", False)  # no banner
    for line in card.read_text().splitlines():
        line = line.split("!")[0].strip()
        if line and not pythia.readString(line):
            raise StepFailed(f"Pythia rejected card line {line!r}")
    pythia.readString(f"Random:seed = {seed}")
    if not pythia.init():
        raise StepFailed("Pythia init failed")
    fields = ("px", "py", "pz", "e", "pid")
    with uproot.recreate(out) as root:
        done = 0
        while done < events:
            n = min(CHUNK, events - done)
            flat = {f: [] for f in fields}
            counts = []
            for _ in range(n):
                if not pythia.next():
                    raise StepFailed("Pythia failed to generate an event")
                particles = [p for p in pythia.event if p.isFinal() and p.isVisible()]
                counts.append(len(particles))
                flat["px"] += [p.px() for p in particles]
                flat["py"] += [p.py() for p in particles]
                flat["pz"] += [p.pz() for p in particles]
                flat["e"] += [p.e() for p in particles]
                flat["pid"] += [p.id() for p in particles]
            arrays = {f: ak.unflatten(np.asarray(flat[f], dtype=np.int32 if f == "pid" else np.float64), counts)
                      for f in fields}
            branch = {"particle": ak.zip(arrays)}
            if done == 0:
                root["events"] = branch
            else:
                root["events"].extend(branch)
            done += n
            summary["particles"] = summary.get("particles", 0) + sum(counts)
    return events, out.name


# ------------------------------------------------------------------ sim (fastsim)

def fastsim(src: Path, seed: int, out: Path):
    import awkward as ak
    import numpy as np
    import uproot

    rng = np.random.default_rng(seed)
    total = 0
    with uproot.open(src) as f_in, uproot.recreate(out) as f_out:
        first = True
        for batch in f_in["events"].iterate(step_size=CHUNK, library="ak"):
            p = batch["particle"]
            counts = ak.num(p.px)
            px, py, pz, e = (ak.to_numpy(ak.flatten(p[f])) for f in ("px", "py", "pz", "e"))
            pid = ak.to_numpy(ak.flatten(p.pid))
            pt = np.hypot(px, py)
            eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0))
            phi = np.arctan2(py, px)
            apid = np.abs(pid)
            charged = np.isin(apid, (11, 13, 211, 321, 2212, 3222, 3112, 3312, 3334))
            em = np.isin(apid, (11, 22))
            muon = apid == 13
            # calorimeter energy resolution: sigma/E = a/sqrt(E) (+) b
            a = np.where(em, 0.10, 0.50)
            b = np.where(em, 0.007, 0.03)
            sigma = e * np.hypot(a / np.sqrt(np.maximum(e, 1e-3)), b)
            e_calo = np.maximum(e + rng.normal(0.0, 1.0, e.size) * sigma, 0.0)
            # tracker: sigma(pT)/pT = 0.0005 pT (+) 0.01 for charged |eta| < 2.5
            tracked = charged & (np.abs(eta) < 2.5) & (pt > 0.5)
            pt_trk = pt * (1.0 + rng.normal(0.0, 1.0, pt.size) * np.hypot(0.0005 * pt, 0.01))
            accepted = (np.abs(eta) < ETA_MAX) & (e > 0.1)
            # muons leave little in the calorimeter: deposit 2 GeV (or less), measured by tracking
            e_dep = np.where(muon, np.minimum(e_calo, 2.0), e_calo)
            # showers: each calorimeter deposit becomes SPOTS energy spots with a Gaussian
            # lateral profile (narrow for e/gamma, wide for hadrons) and fluctuating sharing
            keep = np.flatnonzero(accepted)
            owner = np.repeat(np.arange(len(counts)), ak.to_numpy(counts))[keep]
            spots = np.where(em[keep], SPOTS_EM, SPOTS_HAD)
            spot_owner = np.repeat(owner, spots)
            width = np.repeat(np.where(em[keep], 0.02, 0.06), spots)
            share = rng.gamma(2.0, 1.0, spot_owner.size)
            parent = np.repeat(np.arange(keep.size), spots)
            share /= np.bincount(parent, weights=share)[parent]
            new_counts = np.bincount(spot_owner, minlength=len(counts))
            hits = {"eta": np.repeat(eta[keep], spots) + rng.normal(0.0, 1.0, spot_owner.size) * width,
                    "phi": np.repeat(phi[keep], spots) + rng.normal(0.0, 1.0, spot_owner.size) * width,
                    "e": np.repeat(e_dep[keep], spots) * share,
                    "track_pt": np.repeat(np.where(tracked, pt_trk, 0.0)[keep] / spots, spots),
                    "em": np.repeat(em[keep], spots)}
            hits["phi"] = np.mod(hits["phi"] + np.pi, 2 * np.pi) - np.pi
            branch = {"hit": ak.zip({k: ak.unflatten(v, new_counts) for k, v in hits.items()})}
            if first:
                f_out["events"] = branch
                first = False
            else:
                f_out["events"].extend(branch)
            total += len(counts)
    return total, out.name


# ------------------------------------------------------------------ digi

def digitize(src: Path, seed: int, out: Path, summary: dict):
    import awkward as ak
    import numpy as np
    import uproot

    rng = np.random.default_rng(seed + 1)
    n_eta = int(round(2 * ETA_MAX / TOWER))
    n_phi = int(np.ceil(2 * np.pi / TOWER))
    n_towers = n_eta * n_phi
    eta_centres = -ETA_MAX + TOWER * (np.arange(n_eta) + 0.5)
    phi_centres = -np.pi + (2 * np.pi / n_phi) * (np.arange(n_phi) + 0.5)
    noise_sigma, threshold = 0.05, 0.25  # GeV per tower
    total = 0
    with uproot.open(src) as f_in, uproot.recreate(out) as f_out:
        first = True
        for batch in f_in["events"].iterate(step_size=CHUNK, library="ak"):
            h = batch["hit"]
            counts = ak.to_numpy(ak.num(h.e))
            n_ev = len(counts)
            eta, phi, e = (ak.to_numpy(ak.flatten(h[f])) for f in ("eta", "phi", "e"))
            owner = np.repeat(np.arange(n_ev), counts)
            i_eta = np.clip(((eta + ETA_MAX) / TOWER).astype(np.int64), 0, n_eta - 1)
            i_phi = np.clip(((phi + np.pi) / (2 * np.pi) * n_phi).astype(np.int64), 0, n_phi - 1)
            cells = np.zeros((n_ev, n_towers))
            np.add.at(cells, (owner, i_eta * n_phi + i_phi), e)
            cells += rng.normal(0.0, noise_sigma, cells.shape)
            ev_idx, tower_idx = np.nonzero(cells > threshold)
            energy = cells[ev_idx, tower_idx]
            t_eta = eta_centres[tower_idx // n_phi]
            t_phi = phi_centres[tower_idx % n_phi]
            et = energy / np.cosh(t_eta)
            tcounts = np.bincount(ev_idx, minlength=n_ev)
            towers = {"eta": t_eta, "phi": t_phi, "e": energy, "et": et}
            branch = {"tower": ak.zip({k: ak.unflatten(v, tcounts) for k, v in towers.items()})}
            if first:
                f_out["events"] = branch
                first = False
            else:
                f_out["events"].extend(branch)
            total += n_ev
            summary["towers"] = summary.get("towers", 0) + int(tcounts.sum())
    return total, out.name


# ------------------------------------------------------------------ reco

def reconstruct(src: Path, out: Path, summary: dict):
    import awkward as ak
    import fastjet
    import numpy as np
    import uproot

    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)
    total = n_jets = 0
    sum_pt = 0.0
    digest = hashlib.sha256()
    leading = []
    with uproot.open(src) as f_in, uproot.recreate(out) as f_out:
        first = True
        for batch in f_in["events"].iterate(step_size=CHUNK, library="ak"):
            t = batch["tower"]
            pt = t.et
            px, py = pt * np.cos(t.phi), pt * np.sin(t.phi)
            pz = pt * np.sinh(t.eta)
            vectors = ak.zip({"px": px, "py": py, "pz": pz, "E": t.e}, with_name="Momentum4D")
            cluster = fastjet.ClusterSequence(vectors, jetdef)
            jets = cluster.inclusive_jets(min_pt=20.0)
            jet_pt = np.hypot(jets.px, jets.py)
            order = ak.argsort(jet_pt, ascending=False)
            jets, jet_pt = jets[order], jet_pt[order]
            jet_eta = np.arcsinh(jets.pz / jet_pt)
            jet_phi = np.arctan2(jets.py, jets.px)
            out_branch = {"jet": ak.zip({"pt": jet_pt, "eta": jet_eta, "phi": jet_phi, "e": jets.E})}
            if first:
                f_out["events"] = out_branch
                first = False
            else:
                f_out["events"].extend(out_branch)
            counts = ak.to_numpy(ak.num(jet_pt))
            n_jets += int(counts.sum())
            sum_pt += float(ak.sum(jet_pt))
            total += len(counts)
            # a digest for the record (it differs between CPUs in the last bits: never checked)
            digest.update(np.round(ak.to_numpy(ak.flatten(jet_pt)), 3).tobytes())
            digest.update(counts.astype(np.int64).tobytes())
            leading += ak.to_list(ak.firsts(jet_pt))
    valid_leading = [x for x in leading if x is not None]
    summary.update({"jets": n_jets, "sum_jet_pt": sum_pt, "events_with_jets": len(valid_leading),
                    "mean_leading_jet_pt": sum(valid_leading) / len(valid_leading) if valid_leading else None,
                    "output_digest": digest.hexdigest()})
    return total, out.name


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--events", type=int, help="override the size's event count (no output check)")
    parser.add_argument("--copy", default="0")
    parser.add_argument("--seed", type=int, default=2015)
    parser.add_argument("--inputs", type=Path, default=INPUTS)
    parser.add_argument("--keep-files", action="store_true", help="keep the ROOT files (deleted by default)")
    parser.add_argument("--record-expected", action="store_true", help="(maintainers) record the output digest")
    args = parser.parse_args(argv)

    events = args.events or SIZES[args.size]["events"]
    expected_path = args.inputs / "expected.json"
    expected = json.loads(expected_path.read_text()) if expected_path.exists() else {}
    card = args.inputs / "pythia.cmnd"
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    steps: list[dict] = []
    summary: dict = {}
    status, reason = "ok", ""
    files = [Path(n) for n in ("EVNT.root", "HITS.root", "RDO.root", "ESD.root")]
    plan = [("gen", "pythia8mc " + _version("pythia8mc"), generate, (card, events, args.seed, files[0], summary)),
            ("sim", "fastsim: Gaussian smearing (no Geant4)", fastsim, (files[0], args.seed, files[1])),
            ("digi", "digitization-like: eta-phi towers + noise (uproot)", digitize,
             (files[1], args.seed, files[2], summary)),
            ("reco", "fastjet " + _version("fastjet") + " anti-kt R=0.4", reconstruct, (files[2], files[3], summary))]
    try:
        card_hash = sha256(card)
        if not args.record_expected and card_hash != expected.get("pythia.cmnd"):
            raise StepFailed(f"input pythia.cmnd sha256 {card_hash[:16]}... != recorded "
                             f"{str(expected.get('pythia.cmnd'))[:16]}...")
        for name, tool, func, func_args in plan:
            try:
                entry = timed(name, tool, func, steps, *func_args)
            except Exception as exc:  # the step failed: say which, and stop the chain
                steps.append({"step": name, "tool": tool, "events": 0, "wall_s": None, "cpu_s": None,
                              "events_per_s": None, "output": "", "status": "failed",
                              "reason": f"{type(exc).__name__}: {exc}"})
                raise StepFailed(f"step {name} failed: {type(exc).__name__}: {exc}") from exc
            if entry["events"] != events:
                entry["status"] = "failed"
                raise StepFailed(f"step {name} processed {entry['events']} events, expected {events}")
        summary["events"] = events
        if args.record_expected:
            expected.setdefault("answer", {})[args.size] = {k: summary[k] for k in ANSWER_TOLERANCE}
            expected["pythia.cmnd"] = card_hash
            expected_path.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        elif args.events is None:
            why = answer_differs(summary, expected.get("answer", {}).get(args.size))
            if why:
                steps[-1]["status"] = "failed"
                raise StepFailed(why)
    except StepFailed as exc:
        status, reason = "failed", str(exc)
    finally:
        if not args.keep_files:
            for f in files:
                f.unlink(missing_ok=True)
    ended = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    write_logs(args, events, steps, summary, status, reason, started, ended)
    return 0 if status == "ok" else 1


def answer_differs(got: dict, want: dict | None) -> str | None:
    """Why the chain's answer is not the recorded one (first quantity out of tolerance), or None."""
    if not want:
        return "no recorded answer for this size"
    for key, tolerance in ANSWER_TOLERANCE.items():
        if got.get(key) is None or want.get(key) is None:
            return f"answer has no {key} (got {got.get(key)!r}, recorded {want.get(key)!r})"
        if abs(got[key] - want[key]) > tolerance * abs(want[key]):
            return (f"answer differs from the recorded one: {key} = {got[key]:.6g}, recorded {want[key]:.6g} "
                    f"(relative tolerance {tolerance:g})")
    return None


def _version(module: str) -> str:
    from importlib.metadata import version

    try:
        return version(module)
    except Exception:
        return "unknown"


def fmt(value, spec="{:.4f}"):
    return "--" if value is None else spec.format(value)


def write_logs(args, events, steps, summary, status, reason, started, ended):
    ok_steps = [s for s in steps if s["status"] == "ok"]
    chain_ok = status == "ok"
    wall = sum(s["wall_s"] for s in ok_steps) if chain_ok else None
    cpu = sum(s["cpu_s"] for s in ok_steps) if chain_ok else None
    lines = [f"execbench hepchain {FORMAT_VERSION} size={args.size} copy={args.copy} events={events} "
             f"seed={args.seed} started={started} host={platform.node()}"]
    for s in steps:
        tool = s["tool"].replace('"', "'")
        lines.append(f'step={s["step"]} events={s["events"]} wall_s={fmt(s["wall_s"])} cpu_s={fmt(s["cpu_s"])} '
                     f'events_per_s={fmt(s["events_per_s"])} status={s["status"]} output={s["output"] or "--"} '
                     f'tool="{tool}"' + (f' reason="{s["reason"]}"' if s.get("reason") else ""))
    lines.append(f"chain events={events} wall_s={fmt(wall)} cpu_s={fmt(cpu)} "
                 f"events_per_s={fmt(events / wall if wall else None)} status={status}")
    if reason:
        lines.append(f"! {reason}")
    if summary:
        lines.append(f"reco jets={summary.get('jets')} mean_leading_jet_pt={fmt(summary.get('mean_leading_jet_pt'))} "
                     f"digest={summary.get('output_digest')} particles={summary.get('particles')} "
                     f"towers={summary.get('towers')} sum_jet_pt={fmt(summary.get('sum_jet_pt'))}")
    lines.append(f"ended={ended}")
    Path("hepchain.log").write_text("\n".join(lines) + "\n")
    Path("hepchain.json").write_text(json.dumps({
        "format": "execbench-hepchain", "version": FORMAT_VERSION, "size": args.size, "copy": args.copy,
        "events": events, "seed": args.seed, "started_utc": started, "ended_utc": ended, "status": status,
        "reason": reason, "steps": steps, "reco": summary,
        # hep-workloads-like summary: per-copy throughput per step
        "wl-scores": {s["step"]: s["events_per_s"] for s in ok_steps}}, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
