"""Speed of the KeepTrack engines: initialisation time and median per-frame time per stage.

fp32, rule-generated fidelity weights (speed does not depend on the weight values), a real OTB sequence.
Printed against the original's published figures (KeepTrack: init 8.6 s, 0.16-0.5 s/frame; KeepTrack-fast:
init 4.2 s, 0.1-0.2 s/frame). The target is at most half of those.

    .venv/bin/python bench/keeptrack_speed.py [--frames 20] [--sequence Subway] [--device cpu|cuda] [--threads N]
                                              [--plain]
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

from tracker.keeptrack.engine import engine_from_networks  # noqa: E402
from tracker.keeptrack.params import profile_params  # noqa: E402
from tracker.keeptrack.testing import rule_networks  # noqa: E402
from tracker.paths import shared_dir  # noqa: E402

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


# The fp32 speed-ups that are on by default (fidelity trace green with them); --plain turns them off for an A/B.
PLAIN = {"fold_batchnorm": False, "channels_last": False, "iou_feature_window": False}


def run(profile: str, frames, box, device: str, networks, overrides=None):
    base, assoc = networks
    engine = engine_from_networks(device, profile_params(profile, **(overrides or {})), base, assoc, name=profile)
    engine.initialize(frames[0], box)  # warm-up (allocations, kernel selection)
    t0 = time.perf_counter()
    engine.initialize(frames[0], box)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    init_s = time.perf_counter() - t0
    per_frame, per_stage = [], {s: [] for s in STAGES}
    for frame in frames[1:]:
        t0 = time.perf_counter()
        r = engine.track(frame)
        per_frame.append(time.perf_counter() - t0)
        for s in STAGES:
            per_stage[s].append(r.timings.get(s, 0.0))
    return init_s, per_frame, per_stage


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--sequence", default="Subway")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--profiles", default="keeptrack,keeptrack-fast")
    ap.add_argument("--plain", action="store_true",
                    help="also run each profile without BN folding, channels_last and the IoU feature window")
    args = ap.parse_args(argv)
    shared = shared_dir()
    if shared is None:
        print("needs ../shared (OTB data and the fidelity weight rule)")
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    frames, box = load_sequence(shared / "data" / "otb", args.sequence, args.frames)
    networks = rule_networks(shared / "fidelity")
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"OTB {args.sequence}, {len(frames) - 1} tracked frames, fp32")
    header = f"{'profile':16s} {'init s':>8s} {'orig':>6s} {'target':>7s} {'frame s':>8s} {'orig':>9s} {'target':>7s}"
    lines = [header]
    stage_lines = [f"{'profile':16s} " + " ".join(f"{s:>13s}" for s in STAGES)]
    runs = [(p, p, None) for p in args.profiles.split(",")]
    if args.plain:
        runs += [(p, p + " plain", PLAIN) for p in args.profiles.split(",")]
    for profile, label, overrides in runs:
        init_s, per_frame, per_stage = run(profile, frames, box, args.device, networks, overrides)
        med = statistics.median(per_frame)
        o_init, o_frame = ORIGINAL[profile]
        t_init, t_frame = TARGET[profile]
        ok = "ok" if init_s <= t_init and med <= t_frame else "SLOW"
        lines.append(f"{label:16s} {init_s:8.2f} {o_init:6.1f} {t_init:7.2f} {med:8.3f} {o_frame:>9s} "
                     f"{t_frame:7.2f}  {ok}")
        stage_lines.append(f"{label:16s} " + " ".join(f"{statistics.median(per_stage[s]):13.4f}" for s in STAGES))
    print("\n".join(lines))
    print("\nmedian seconds per stage and frame")
    print("\n".join(stage_lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
