"""k targets with keeptrack-lite: one batched backbone call per frame against k engines tracking one by one.

    .venv/bin/python bench/multi_target.py [--frames 100] [--ks 1,2,4,8] [--threads auto|N] [--start 200]

On ../shared/data/videos/vtest.avi resized to 640x360, from frame --start (200): the seven pedestrians walking
there and the parked white van (boxes picked by eye on that frame, `TARGETS`; --boxes "x,y,w,h;..." gives
others). For each k, the first k targets are tracked --frames frames from there:

  batched     tracker.keeptrack.engine.track_together (the k search patches through the backbone at once; the
              rest per target), what the studio's "track all" does;
  one by one  each target's engine.track in turn (the cost the batching saves).

Printed: median milliseconds per frame for all k targets (wall, and CPU time of this process, steadier on a
shared machine), its ratio to k = 1, the feature stage alone on a batch of k patches (the floor of the
batched frame: its cost grows with k, see docs/speed.md), what a backbone shared between targets could save at
best (`shared_pixels`: the image pixels of the k search areas, grouped by scale, counted once) and the ratio to
k = 1 that saving would leave, and, for the largest k, the largest difference of any target's box between batched and one by one (pixels; goal: within 0.01). Times
depend on what else runs on the machine: the load average is printed with them; ratios inside one run are
what to compare. About 3-6 minutes on 2 quiet cores for the default settings.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from tracker.paths import shared_dir  # noqa: E402


IMAGE_W, IMAGE_H = 640, 360  # vtest.avi is resized to this (read_frames)

# Frame 200 of vtest.avi at 640x360, largest first: seven pedestrians, then the parked van.
TARGETS = ((509.0, 165.0, 35.0, 75.0), (583.0, 158.0, 36.0, 64.0), (406.0, 90.0, 25.0, 50.0),
           (184.0, 117.0, 20.0, 50.0), (70.0, 94.0, 18.0, 42.0), (565.0, 62.0, 12.0, 30.0),
           (586.0, 64.0, 11.0, 31.0), (544.0, 28.0, 58.0, 33.0))


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores" if hasattr(os, "getloadavg") else ""


def read_frames(count: int) -> list[np.ndarray]:
    import cv2

    from tracker.sources import open_source

    video = shared_dir() / "data" / "videos" / "vtest.avi"
    with open_source(video) as source:
        return [np.ascontiguousarray(cv2.resize(source.frame(i), (IMAGE_W, IMAGE_H), interpolation=cv2.INTER_AREA))
                for i in range(min(count, len(source)))]


def shared_pixels(crops, size: int, tolerance: float = 0.1) -> float:
    """Fraction of the k search patches' pixels that one backbone pass per group of targets would need at best.

    A shared pass can serve targets whose patches have about the same scale (within `tolerance`; features at
    another scale are other features): per group, the union of the search areas inside the image, at the group's
    finest scale. Padding outside the image and a shared pass's own border are not counted, so this is a lower
    bound on the pixels (and, the backbone's cost being proportional to its pixels on a CPU, on its cost)."""
    areas = []
    for crop in crops:
        top, left, bottom, right = (float(v) for v in crop.coords)
        areas.append((size / (right - left), top, left, bottom, right))
    areas.sort()
    groups, pixels = [], 0.0
    for a in areas:
        if groups and a[0] <= groups[-1][0][0] * (1 + tolerance):
            groups[-1].append(a)
        else:
            groups.append([a])
    for group in groups:
        finest = max(a[0] for a in group)
        mask = np.zeros((IMAGE_H, IMAGE_W), dtype=bool)
        for _, top, left, bottom, right in group:
            mask[max(int(top), 0):max(int(bottom), 0), max(int(left), 0):max(int(right), 0)] = True
        pixels += float(mask.sum()) * finest ** 2
    return pixels / (len(crops) * size * size)


def run(engines, frames, start: int, batched: bool):
    from tracker.keeptrack.engine import track_together

    times, cpu, boxes, shared = [], [], [[] for _ in engines], []
    for i in range(start + 1, len(frames)):
        t0, c0 = time.perf_counter(), time.process_time()
        if batched:
            results = track_together(engines, frames[i], i)
        else:
            results = [e.track(frames[i], i) for e in engines]
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        for k, r in enumerate(results):
            boxes[k].append(r.box)
        if batched:
            shared.append(shared_pixels([e.debug["crop"] for e in engines], engines[0].params.image_sample_size))
    return float(np.median(times)), float(np.median(cpu)), boxes, float(np.median(shared)) if shared else None


def feature_stage_ms(engine, k: int, repeats: int = 5) -> float:
    """Median wall ms of the feature stage alone on a batch of k search patches."""
    import torch

    size = engine.params.image_sample_size
    patches = torch.rand(k, 3, size, size, generator=torch.Generator().manual_seed(0)) * 255
    engine.base.extract(patches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        engine.base.extract(patches)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--ks", default="1,2,4,8")
    parser.add_argument("--threads", default="auto", help="'auto' (the thread policy, as the studio runs it) or N")
    parser.add_argument("--start", type=int, default=200, help="frame the targets are tracked from")
    parser.add_argument("--boxes", help='"x,y,w,h;x,y,w,h;..." at 640x360 on frame --start instead of TARGETS')
    args = parser.parse_args(argv)
    import torch

    from tracker.keeptrack.engine import can_batch
    from tracker.keeptrack.lite import create_lite_engine
    from tracker.threads import governor_for_run

    template = create_lite_engine()
    governor = governor_for_run(args.threads)
    governor.fit([template])  # as the run loop does: the feature stage's runtime may cap the count
    ks = [int(k) for k in args.ks.split(",")]
    frames = read_frames(args.start + args.frames + 1)
    boxes = [tuple(float(v) for v in b.split(",")) for b in args.boxes.split(";")] if args.boxes else list(TARGETS)
    if len(boxes) < max(ks):
        print(f"only {len(boxes)} boxes for k = {max(ks)}; give more with --boxes", file=sys.stderr)
        return 2
    print(f"# keeptrack-lite, vtest.avi at 640x360, frames {args.start + 1}..{len(frames) - 1} "
          f"({len(frames) - args.start - 1} tracked), feature stage on {template.base.features.backend}; "
          f"{governor.choice.reason}; before: {_load()}")
    print("# targets (x, y, w, h) at frame", args.start, ":", "; ".join(",".join(f"{v:g}" for v in b) for b in boxes))
    print(f"{'k':>3} {'batched ms/frame':>17} {'x k=1':>6} {'cpu ms':>7} {'x k=1':>6} {'one by one ms/frame':>20} "
          f"{'x k=1':>6} {'features of k ms':>17} {'x k=1':>6} {'shared pixels':>14} {'x k=1 if shared':>16}")
    base = {}
    worst = None
    for k in ks:
        engines = [copy.deepcopy(template) for _ in range(k)]
        for e, b in zip(engines, boxes):
            e.initialize(frames[args.start], b, args.start)
        alone = [copy.deepcopy(e) for e in engines]
        assert can_batch(engines)
        t_batch, c_batch, b_batch, shared = run(engines, frames, args.start, True)
        t_alone, _, b_alone, _ = run(alone, frames, args.start, False)
        t_feat = feature_stage_ms(template, k)
        base.setdefault("batch", t_batch)
        base.setdefault("cpu", c_batch)
        base.setdefault("alone", t_alone)
        base.setdefault("feat", t_feat)
        print(f"{k:>3} {1000 * t_batch:>17.1f} {t_batch / base['batch']:>6.2f} {1000 * c_batch:>7.1f} "
              f"{c_batch / base['cpu']:>6.2f} {1000 * t_alone:>20.1f} {t_alone / base['alone']:>6.2f} "
              f"{t_feat:>17.1f} {t_feat / base['feat']:>6.2f} {shared:>14.2f} "
              f"{(1000 * t_batch - t_feat * (1 - shared)) / (1000 * base['batch']):>16.2f}", flush=True)
        if k == max(ks):
            worst = max(abs(p - q) for a, b in zip(b_batch, b_alone) for ra, rb in zip(a, b) for p, q in zip(ra, rb))
    print(f"largest box difference batched vs one by one (k={max(ks)}, every target, every frame): {worst:.2e} px")
    print(f"# after: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
