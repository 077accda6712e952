"""Thread policy: median frames/s idle and beside one busy process, adaptive policy vs fixed 1 and 2 threads.

    .venv/bin/python bench/threads.py [--engines keeptrack-lite-onnx,keeptrack-lite-torch,csrt,nanotrack]
                                      [--frames 60] [--repeats 1]

keeptrack-lite (its feature stage on ONNX Runtime, `-onnx`, the default; or on torch, `-torch`), csrt and
nanotrack on ../shared/data/videos/vtest.avi resized to 640x360; the KeepTrack engines (`keeptrack`,
`keeptrack-fast`, not in the default list: ~1 min each quiet) on OTB Subway with rule-generated fidelity
weights (speed does not depend on the weight values). "busy" runs one `python -c "while True: pass"` beside
the tracker. Every figure comes from tracker.runloop with a ThreadGovernor, as `track`/`eval` run it; the
last column checks the issue's goals for keeptrack-lite (busy >= 60% of idle and >= 20 fps). On a shared
machine "idle" is only as idle as the others let it be: the load average is printed, compare ratios within
one run. ~2-3 min on a quiet 2-core machine with the default engines.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from tracker.paths import shared_dir  # noqa: E402
from tracker.runloop import RunPlan, run_engine  # noqa: E402
from tracker.threads import ThreadGovernor, torch_default_threads  # noqa: E402


VIDEO_ENGINES = {  # bench name -> (registry name, engine parameters)
    "keeptrack-lite-onnx": ("keeptrack-lite", {"backend": "onnx"}),
    "keeptrack-lite-torch": ("keeptrack-lite", {"backend": "torch"}),
    "csrt": ("csrt", {}),
    "kcf": ("kcf", {}),
    "nanotrack": ("nanotrack", {}),
}
DEFAULT_ENGINES = "keeptrack-lite-onnx,keeptrack-lite-torch,csrt,nanotrack"


def video_setup(name: str, frames: int):
    from tracker.registry import create_engine
    from tracker.sources import open_source

    engine, params = VIDEO_ENGINES[name]
    with open_source(shared_dir() / "data" / "videos" / "vtest.avi") as source:
        images = [np.ascontiguousarray(cv2.resize(source.frame(i), (640, 360), interpolation=cv2.INTER_AREA))
                  for i in range(min(frames + 1, len(source)))]
    create_engine(engine, **params)  # exports keeptrack-lite's ONNX model now, if not cached, outside the timing
    return (lambda: create_engine(engine, **params)), images, (210.0, 138.0, 27.0, 55.0)


def keeptrack_setup(profile: str, frames: int):
    from bench.keeptrack_speed import load_sequence
    from tracker.keeptrack.engine import engine_from_networks
    from tracker.keeptrack.profiles import profile_params
    from tracker.keeptrack.testing import rule_networks

    images, box = load_sequence(shared_dir() / "data" / "otb", "Subway", frames)
    base, assoc = rule_networks(shared_dir() / "fidelity")
    return (lambda: engine_from_networks("cpu", profile_params(profile), base, assoc, name=profile)), images, box


def measure(make_engine, images, box, threads: int | None) -> tuple[float, str]:
    governor = ThreadGovernor(threads)
    engine = make_engine()
    times = []
    run_engine(engine, images, RunPlan.forward(0, box, len(images)),
               lambda s: None if s.initial else times.append(s.seconds), governor=governor)
    skip = min(3, len(times) // 4)  # warm-up frames
    threads = f"{governor.threads}"
    if governor.load_threads != governor.threads:  # the engine caps torch; ONNX Runtime keeps the load's count
        threads += f",ort{governor.load_threads}"
    return 1.0 / statistics.median(times[skip:]), threads


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default=DEFAULT_ENGINES,
                    help=f"comma-separated: {', '.join(VIDEO_ENGINES)}, keeptrack, keeptrack-fast")
    ap.add_argument("--frames", type=int, default=60, help="frames for keeptrack-lite (KeepTrack: a quarter)")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    if shared_dir() is None:
        print("needs ../shared (vtest.avi, OTB, fidelity weights)")
        return 2
    print(f"# {os.cpu_count()} cores, torch default {torch_default_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'engine':20s} {'policy':8s} {'idle fps':>9s} {'busy fps':>9s} {'busy/idle':>9s}  "
          f"{'threads idle/busy':17s} goal")
    names = [n for n in args.engines.split(",") if n]
    unknown = [n for n in names if n not in VIDEO_ENGINES and n not in ("keeptrack", "keeptrack-fast")]
    if unknown:
        ap.error(f"unknown engines {unknown}")
    for name in names:
        make, images, box = video_setup(name, args.frames) if name in VIDEO_ENGINES else \
            keeptrack_setup(name, max(8, args.frames // 4))
        for label, threads in (("auto", None), ("fixed 1", 1), ("fixed 2", 2)):
            figures = {}
            for condition in ("idle", "busy"):
                busy = None
                if condition == "busy":
                    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    time.sleep(1.0)
                try:
                    runs = [measure(make, images, box, threads) for _ in range(args.repeats)]
                finally:
                    if busy is not None:
                        busy.kill()
                        busy.wait()
                figures[condition] = (statistics.median(r[0] for r in runs), runs[-1][1])
            idle, busy_ = figures["idle"][0], figures["busy"][0]
            goal = ""
            if name.startswith("keeptrack-lite"):
                goal = "met" if busy_ >= 0.6 * idle and busy_ >= 20 else "not met"
            print(f"{name:20s} {label:8s} {idle:9.1f} {busy_:9.1f} {busy_ / idle:9.2f}  "
                  f"{figures['idle'][1] + '/' + figures['busy'][1]:17s} {goal}", flush=True)
    print(f"# load average after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
