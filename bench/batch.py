"""Serial vs Ray wall time for a batch of sequence runs, and the estimated wall time of LaSOT's test set.

    .venv/bin/python bench/batch.py [--engine keeptrack-lite] [--max-frames 40] [--workers 2] [--runs 8]

Runs `--runs` one-pass evaluations (the OTB sequences of ../shared, cycled with the kcf baseline where there
are fewer sequences than runs) through tracker.batch serially and on a local Ray cluster of `--workers`
workers at 1 thread each, checks the two give the same boxes, and prints both wall times. From the measured
per-frame cost it estimates LaSOT's test set (280 videos, ~690,000 frames) on N workers (docs/cluster.md).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from tracker.batch import evaluate_batch  # noqa: E402
from tracker.paths import shared_dir  # noqa: E402

LASOT_TEST_FRAMES = 690_000
LASOT_TEST_VIDEOS = 280


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="keeptrack-lite")
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=8)
    args = ap.parse_args(argv)
    if shared_dir() is None:
        print("needs ../shared (OTB sequences)")
        return 2
    seqs = sorted(p for p in (shared_dir() / "data" / "otb").iterdir() if p.is_dir())
    engines = [args.engine] if len(seqs) >= args.runs else [args.engine, "kcf"]
    seqs = seqs[: -(-args.runs // len(engines))]
    quiet = lambda text: None  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        serial = evaluate_batch(engines, seqs, Path(tmp) / "s", args.max_frames, threads=1, log=quiet)
        t_serial = time.perf_counter() - t0
        import ray

        t0 = time.perf_counter()
        parallel = evaluate_batch(engines, seqs, Path(tmp) / "r", args.max_frames, threads=1, use_ray=True,
                                  workers=args.workers, log=quiet)
        t_ray = time.perf_counter() - t0
    same = all(np.array_equal(a.run.boxes, b.run.boxes) for a, b in zip(serial, parallel))
    frames = sum(e.run.num_frames for e in serial)
    print(f"# {len(serial)} runs ({', '.join(engines)} on {len(seqs)} OTB sequences, {args.max_frames} frames max, "
          f"{frames} frames), ray {ray.__version__}")
    print(f"serial, 1 thread:           {t_serial:7.1f} s wall")
    print(f"ray, {args.workers} workers x 1 thread:  {t_ray:7.1f} s wall (cluster start included)  "
          f"speed-up {t_serial / t_ray:.2f}x; same boxes: {same}")
    main_runs = [e for e in serial if e.engine == args.engine and e.failure is None]
    per_frame = statistics.median(e.run.median_time for e in main_runs)
    init = statistics.median(float(e.run.times[0]) for e in main_runs)
    print(f"\n# LaSOT test set estimate from {args.engine}'s measured cost here: {1000 * per_frame:.1f} ms per frame "
          f"(1 thread), {init:.2f} s per initialisation")
    total = LASOT_TEST_FRAMES * per_frame + LASOT_TEST_VIDEOS * init
    for n in (1, 2, 8, 16, 64, 128):
        print(f"  {n:4d} workers: {total / n / 3600:7.2f} h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
