"""Speed of the KeepTrack engines: initialisation time and median per-frame time per stage.

fp32, rule-generated fidelity weights (speed does not depend on the weight values), a real OTB sequence.
Printed against the original's published figures (KeepTrack: init 8.6 s, 0.16-0.5 s/frame; KeepTrack-fast:
init 4.2 s, 0.1-0.2 s/frame). The target is at most half of those.

    .venv/bin/python bench/keeptrack_speed.py [--frames 20] [--sequence Subway] [--device cpu|cuda]
                                              [--threads auto|N] [--variants plain,compile,bf16,bf16+compile|all]

--threads auto (the default) is the thread policy `track` and `eval` use (tracker/threads.py: the cores other
processes leave free, re-checked as the run goes on); a number fixes the count. ~2 min quiet for both profiles.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import torch  # noqa: E402

from tracker.evaluation.metrics import iou_inclusive  # noqa: E402
from tracker.keeptrack.engine import engine_from_networks  # noqa: E402
from tracker.keeptrack.profiles import profile_params  # noqa: E402
from tracker.keeptrack.testing import rule_networks  # noqa: E402
from tracker.paths import shared_dir  # noqa: E402
from tracker.threads import governor_for_run  # noqa: E402

ORIGINAL = {"keeptrack": (8.6, "0.16-0.5"), "keeptrack-fast": (4.2, "0.1-0.2")}
TARGET = {"keeptrack": (4.3, 0.25), "keeptrack-fast": (2.1, 0.1)}
STAGES = ("crop", "backbone", "classifier", "candidates", "association", "iounet", "memory_update")


def load_sequence(otb: Path, name: str, count: int):
    folder = otb / name
    first = (folder / "groundtruth_rect.txt").read_text().splitlines()[0]
    box = [float(v) for v in re.split(r"[,\s]+", first.strip())]
    files = sorted((folder / "img").glob("*.jpg"))[:count + 1]
    frames = [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]
    return frames, box


# Variants besides the default (fp32 with BN folding, channels_last and the IoU feature window, all within the
# fidelity tolerances). "plain" is the reference computation (the original's arithmetic, what the fidelity vectors
# were made with); the others are the opt-in fast paths.
VARIANTS = {
    "plain": {"fold_batchnorm": False, "channels_last": False, "iou_feature_window": False},
    "compile": {"compile": True},
    "bf16": {"bf16": True},
    "bf16+compile": {"bf16": True, "compile": True},
}


def run(profile: str, frames, box, device: str, networks, overrides=None, governor=None):
    base, assoc = networks
    engine = engine_from_networks(device, profile_params(profile, **(overrides or {})), base, assoc, name=profile)
    t0 = time.perf_counter()
    engine.initialize(frames[0], box)  # warm-up (allocations, kernel selection, compilation)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.initialize(frames[0], box)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    init_s = time.perf_counter() - t0
    per_frame, per_stage, results = [], {s: [] for s in STAGES}, []
    for frame in frames[1:]:
        t0 = time.perf_counter()
        r = engine.track(frame)
        per_frame.append(time.perf_counter() - t0)
        if governor is not None:
            governor.tick()  # as tracker.runloop does after each frame
        results.append(r)
        for s in STAGES:
            per_stage[s].append(r.timings.get(s, 0.0))
    return {"engine": engine, "warm_s": warm_s, "init_s": init_s, "per_frame": per_frame, "per_stage": per_stage,
            "results": results}


def drift(reference: dict, other: dict, patch) -> str:
    """How far a variant's outputs move from the default's: features of one patch (max |diff| relative to the
    largest value), the score maps and the boxes of the same frames."""
    with torch.no_grad():
        a, b = reference["engine"].base.extract(patch), other["engine"].base.extract(patch)
    rel = lambda x, y: float((x - y).abs().max() / y.abs().max())  # noqa: E731
    feat = max(rel(b.classification, a.classification), rel(b.maps["layer3"], a.maps["layer3"]))
    score = max(float(abs(ra.score_map.values - rb.score_map.values).max())
                for ra, rb in zip(reference["results"], other["results"])
                if ra.score_map is not None and rb.score_map is not None and
                ra.score_map.values.shape == rb.score_map.values.shape)
    ious = [(float(iou_inclusive([ra.box], [rb.box])[0]) if ra.box and rb.box
             else float(ra.box is None and rb.box is None))
            for ra, rb in zip(reference["results"], other["results"])]
    apart = next((i + 1 for i, v in enumerate(ious) if v < 0.5), None)
    return (f"features {feat:8.1e}  score map {score:8.1e}  box IoU mean {statistics.mean(ious):.4f} "
            f"min {min(ious):.4f}  first frame below 0.5: {apart if apart else '-'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--sequence", default="Subway")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", default="auto", help="CPU threads: 'auto' (the thread policy, default) or a number")
    ap.add_argument("--profiles", default="keeptrack,keeptrack-fast")
    ap.add_argument("--variants", default="",
                    help=f"comma-separated extra runs of each profile: {', '.join(VARIANTS)} (or 'all')")
    args = ap.parse_args(argv)
    shared = shared_dir()
    if shared is None:
        print("needs ../shared (OTB data and the fidelity weight rule)")
        return 2
    governor = governor_for_run(args.threads)
    variants = list(VARIANTS) if args.variants == "all" else [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    frames, box = load_sequence(shared / "data" / "otb", args.sequence, args.frames)
    networks = rule_networks(shared / "fidelity")
    print(f"device {args.device}, torch {torch.__version__}, {governor.reason}, "
          f"OTB {args.sequence}, {len(frames) - 1} tracked frames")
    header = (f"{'profile':24s} {'warm-up s':>9s} {'init s':>7s} {'orig':>5s} {'target':>6s} {'frame s':>8s} "
              f"{'orig':>9s} {'target':>6s}")
    lines, drift_lines = [header], []
    stage_lines = [f"{'profile':24s} " + " ".join(f"{s:>13s}" for s in STAGES)]
    for profile in args.profiles.split(","):
        reference = None
        for variant in ["default"] + variants:
            label = profile if variant == "default" else f"{profile} {variant}"
            out = run(profile, frames, box, args.device, networks, VARIANTS.get(variant), governor)
            med = statistics.median(out["per_frame"])
            o_init, o_frame = ORIGINAL[profile]
            t_init, t_frame = TARGET[profile]
            ok = "ok" if out["init_s"] <= t_init and med <= t_frame else "SLOW"
            lines.append(f"{label:24s} {out['warm_s']:9.2f} {out['init_s']:7.2f} {o_init:5.1f} {t_init:6.2f} "
                         f"{med:8.3f} {o_frame:>9s} {t_frame:6.2f}  {ok}")
            stage_lines.append(f"{label:24s} " + " ".join(f"{statistics.median(out['per_stage'][s]):13.4f}"
                                                          for s in STAGES))
            if reference is None:
                reference = out
                patch = out["engine"].debug["crop"].patch
            else:
                drift_lines.append(f"{label:24s} {drift(reference, out, patch)}")
            if variant != "default":
                del out["engine"]
    if governor.changes:
        print(f"# the thread policy changed the count {governor.changes} time(s) during the runs; now {governor.threads}")
    print("\n".join(lines))
    print("\nmedian seconds per stage and frame")
    print("\n".join(stage_lines))
    if drift_lines:
        print("\nhow far each variant moves from the default (same frames)")
        print("\n".join(drift_lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
