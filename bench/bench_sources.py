"""Frame-source speed on the shared real data: prints a table (milliseconds per frame, frames per second).

    .venv/bin/python bench/bench_sources.py

Figures taken on a busy shared machine are inflated; rerun on an idle one before quoting them.
"""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.paths import shared_dir  # noqa: E402
from tracker.sources import open_source  # noqa: E402
from tracker.sources.video import VideoSource  # noqa: E402


def _timed(fn, repeats: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> int:
    shared = shared_dir()
    if shared is None:
        print("needs ../shared/data")
        return 1
    vtest = shared / "data" / "videos" / "vtest.avi"
    rows = []

    open_s = _timed(lambda: VideoSource(vtest))
    src = VideoSource(vtest, cache_mb=0)
    scan_s = _timed(src.scan)
    rows.append(("vtest.avi open (decodes frame 0)", f"{open_s * 1e3:.1f} ms", ""))
    rows.append(("vtest.avi scan (count 795 + seek checks)", f"{scan_s * 1e3:.0f} ms", ""))
    seq = _timed(lambda: [src.frame(i) for i in range(1, 301)]) / 300
    rows.append(("vtest.avi sequential read", f"{seq * 1e3:.2f} ms/frame", f"{1 / seq:.0f} fps"))
    rng = random.Random(0)
    picks = [rng.randrange(795) for _ in range(40)]
    rand = _timed(lambda: [src.frame(i) for i in picks]) / len(picks)
    rows.append(("vtest.avi random access (seek, no cache)", f"{rand * 1e3:.1f} ms/frame", f"{1 / rand:.0f} fps"))
    cached = VideoSource(vtest, cache_mb=512)
    cached.frame(400)
    hit = _timed(lambda: cached.frame(400), repeats=200)
    rows.append(("vtest.avi cache hit (copy of 768x576x3)", f"{hit * 1e3:.2f} ms/frame", ""))

    back = VideoSource(vtest)
    back.scan()
    back.frame(700)
    step_back = _timed(lambda: [back.frame(i) for i in range(699, 599, -1)]) / 100
    rows.append(("vtest.avi stepping backwards 699..600", f"{step_back * 1e3:.1f} ms/frame", f"{1 / step_back:.0f} fps"))

    fallback = VideoSource(vtest, cache_mb=0)
    fallback.scan()
    fallback.seeks_exact = False  # force the decode-forward path (as for a file without an index)
    slow = _timed(lambda: [fallback.frame(i) for i in picks[:15]]) / 15
    rows.append(("vtest.avi random access, decode-forward fallback", f"{slow * 1e3:.1f} ms/frame", ""))

    coke = open_source(shared / "data" / "otb" / "Coke")
    jpeg = _timed(lambda: [coke.frame(i) for i in range(100)]) / 100
    rows.append(("OTB Coke JPEG folder, 640x480, first read", f"{jpeg * 1e3:.2f} ms/frame", f"{1 / jpeg:.0f} fps"))

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'time':>16}  {'rate':>8}")
    for what, t, rate in rows:
        print(f"{what:<{width}}  {t:>16}  {rate:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
