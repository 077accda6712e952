"""keeptrack-lite against the OpenCV baselines: accuracy on the OTB sequences and speed on a 640x360 video.

    .venv/bin/python bench/lite.py [--engines keeptrack-lite,csrt,kcf,mil,nanotrack] [--max-frames N]
                                   [--speed-frames 150] [--threads 2] [--skip-accuracy] [--skip-speed]

Accuracy: one-pass evaluation from the first ground-truth box (tracker.evaluation.runner), per-sequence AUC,
precision and frames flagged not found, then a verdict: mean AUC of keeptrack-lite against each baseline, and
every sequence where keeptrack-lite ends lost (IoU < 0.1 over the last 10 frames) while a baseline does not.
Speed: keeptrack-lite on ../shared/data/videos/vtest.avi resized to 640x360, median ms per tracked frame per
stage, with torch limited to --threads threads. Times depend on what else runs on the machine: the load
average is printed with them.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from tracker.evaluation.metrics import iou_inclusive  # noqa: E402
from tracker.evaluation.runner import evaluate_engines, format_table  # noqa: E402
from tracker.paths import shared_dir  # noqa: E402
from tracker.registry import create_engine  # noqa: E402

LITE = "keeptrack-lite"
BASELINES = ("csrt", "kcf", "mil", "nanotrack")


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores" if hasattr(os, "getloadavg") else ""


def accuracy(engines: list[str], data: Path, max_frames: int | None) -> None:
    factories = {name: partial(create_engine, name) for name in engines}
    sequences = sorted(p for p in data.iterdir() if p.is_dir())

    def progress(ev) -> None:
        print(f"  {ev.engine:>14s} {ev.sequence:<10s} AUC {ev.metrics.auc:5.1f}", file=sys.stderr, flush=True)

    evaluations = evaluate_engines(factories, sequences, max_frames=max_frames, progress=progress)
    print(f"# OTB one-pass evaluation, {len(sequences)} sequences from {data}; {platform.machine()}, {_load()}")
    sys.stdout.write(format_table(evaluations, ("auc", "precision", "norm_precision", "median_ms", "not_found")))

    # Final-frames IoU per run, to spot a target lost for good.
    from tracker.sources import open_source

    end_iou: dict[tuple[str, str], float] = {}
    for path in sequences:
        with open_source(path) as source:
            gt = np.asarray(source.ground_truth.boxes, dtype=np.float64)
        for ev in evaluations:
            if ev.sequence != source.name:
                continue
            n = len(ev.run.boxes)
            tail = slice(max(n - 10, 0), n)
            end_iou[(ev.engine, ev.sequence)] = float(np.nanmean(iou_inclusive(ev.run.boxes[tail], gt[:n][tail])))

    means = {}
    for name in engines:
        aucs = [ev.metrics.auc for ev in evaluations if ev.engine == name]
        means[name] = float(np.mean(aucs)) if aucs else float("nan")
    print("\n# verdict")
    if LITE in means:
        for name in engines:
            if name != LITE:
                status = "above" if means[LITE] > means[name] else "NOT above"
                print(f"mean AUC {LITE} {means[LITE]:.1f} {status} {name} {means[name]:.1f}")
        seqs = sorted({ev.sequence for ev in evaluations})
        print("final-10-frame IoU (lost for good where < 0.1):")
        for seq in seqs:
            row = "  ".join(f"{name} {end_iou.get((name, seq), float('nan')):.2f}" for name in engines)
            lite_lost = end_iou.get((LITE, seq), 1.0) < 0.1
            kept = [n for n in engines if n != LITE and end_iou.get((n, seq), 0.0) >= 0.1]
            mark = f"   <-- {LITE} lost while {', '.join(kept)} kept it" if lite_lost and kept else ""
            print(f"  {seq:<10s} {row}{mark}")


def speed(frames: int, threads: int) -> None:
    import cv2
    import torch

    from tracker.sources import open_source

    torch.set_num_threads(threads)
    video = shared_dir() / "data" / "videos" / "vtest.avi"
    with open_source(video) as source:
        images = [np.ascontiguousarray(cv2.resize(source.frame(i), (640, 360), interpolation=cv2.INTER_AREA))
                  for i in range(min(frames + 1, len(source)))]
    engine = create_engine(LITE)
    # The pedestrian left of the lamp post in the first frame of vtest.avi, scaled to 640x360.
    box = (210.0, 138.0, 27.0, 55.0)
    load_before = _load()
    engine.initialize(images[0], box)
    times, cpu, stages = [], [], {}
    for img in images[1:]:
        t0, c0 = time.perf_counter(), time.process_time()
        r = engine.track(img)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        for k, v in r.timings.items():
            stages.setdefault(k, []).append(v)
    med = float(np.median(times))
    print(f"\n# speed: {LITE}, vtest.avi resized to 640x360, {len(times)} tracked frames, torch threads {threads}")
    print(f"# {platform.machine()}, before: {load_before}, after: {_load()}")
    print(f"median {1000 * med:.1f} ms per frame = {1 / med:.1f} frames per second "
          f"(mean {1000 * np.mean(times):.1f} ms, 90th percentile {1000 * np.percentile(times, 90):.1f} ms)")
    # CPU seconds used by this process per frame (all threads): on a shared machine, a bound that does not
    # count the time spent waiting for other processes' work.
    print(f"CPU time per frame: median {1000 * float(np.median(cpu)):.1f} ms (summed over {threads} threads)")
    for k, v in stages.items():
        print(f"  {k:<14s} median {1000 * float(np.median(v)):6.1f} ms  (on {len(v)} frames)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join((LITE,) + BASELINES))
    parser.add_argument("--data", help="folder of sequence folders (default ../shared/data/otb)")
    parser.add_argument("--max-frames", type=int)
    parser.add_argument("--speed-frames", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if shared_dir() is None and not args.data:
        print("needs ../shared (OTB sequences, vtest.avi)", file=sys.stderr)
        return 2
    if not args.skip_speed:
        speed(args.speed_frames, args.threads)
    if not args.skip_accuracy:
        data = Path(args.data) if args.data else shared_dir() / "data" / "otb"
        accuracy([n.strip() for n in args.engines.split(",") if n.strip()], data, args.max_frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
