"""Studio responsiveness: redraw cost, seek latency, and event-loop gaps while tracking. Prints a table.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_studio.py [SEQUENCE] [--frames N] [--engines csrt,kcf]

Figures depend on the machine's load (printed first); rerun on an idle machine for numbers to quote.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("sequence", nargs="?", default=None)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--engines", default="csrt,kcf,mil")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    import tempfile

    from app import overlays as ov
    from app.main_window import SAMPLE_PATH, MainWindow
    from tracker.result import Assignment, Candidate, FrameResult, ScoreMap

    path = Path(args.sequence) if args.sequence else SAMPLE_PATH
    tmp = tempfile.mkdtemp()
    w = MainWindow(settings=QSettings(os.path.join(tmp, "bench.ini"), QSettings.Format.IniFormat))
    w.show()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; sequence {path}")

    def wait(cond, timeout=60.0):
        t0 = time.perf_counter()
        while not cond() and time.perf_counter() - t0 < timeout:
            app.processEvents()
            time.sleep(0.001)

    w.open_path(path)
    wait(lambda: w.current_frame is not None)
    wait(w.preloaded.is_set, timeout=300)  # the default engine's imports (torch) happen at start-up
    n = w.num_frames

    # seek latency: request -> frame on screen (decode in the worker + redraw)
    rng = np.random.default_rng(0)
    lat = []
    for i in rng.integers(0, n, 20):
        t0 = time.perf_counter()
        w.go_to(int(i))
        wait(lambda: w.debug_dock.status.text().startswith(f"Frame {int(i)}"))
        lat.append(time.perf_counter() - t0)

    # redraw of one frame with every overlay (10 candidates, score map, matches), including the paint
    frame = w.current_frame
    cands = tuple(Candidate(20 + 30 * k, 40 + 10 * k, 0.1 * k, k) for k in range(10))
    r = FrameResult(0, (20, 40, 30, 30), search_area=(0, 0, 200, 200), candidates=cands, selected_id=3,
                    score_map=ScoreMap(np.random.rand(23, 23).astype(np.float32), 10, 10, 8, 8),
                    assignment=Assignment(np.random.rand(11, 11), cands, tuple(range(10))))
    from app import overlays as ov

    draw = []
    for _ in range(20):
        t0 = time.perf_counter()
        w.view.set_frame(frame)
        w.view.show_overlays(ov.build_overlays(r, w.overlay_enabled, None))
        w.repaint()
        draw.append(time.perf_counter() - t0)

    rows = [("seek to a random frame (median)", f"{1000 * np.median(lat):.1f} ms"),
            ("redraw, all overlays, 10 candidates (median)", f"{1000 * np.median(draw):.1f} ms")]
    gt = w.source.ground_truth
    box = tuple(float(v) for v in gt.boxes[0]) if gt is not None else None
    for engine in [e for e in args.engines.split(",") if e]:
        try:
            w.set_engine(engine)
        except Exception as exc:  # noqa: BLE001
            rows.append((f"{engine}: not available", str(exc)))
            continue
        wait(w.preloaded.is_set, timeout=300)
        w.go_to(0)
        wait(lambda: w.current_index == 0 and w.current_frame is not None)
        if box is not None:
            w.set_box(box)
        ticks: list[float] = []
        timer = QTimer(interval=10)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        done = []
        w.trackingFinished.connect(lambda *a: done.append(a))
        timer.start()
        w.run_frames(min(args.frames, n - 1))
        wait(lambda: bool(done), timeout=600)
        timer.stop()
        w.trackingFinished.disconnect()
        gaps = np.diff(ticks) * 1000
        rows.append((f"{engine}: tracking fps / event-loop gap max, p95",
                     f"{w.fps_label.text()} / {gaps.max():.0f} ms, {np.percentile(gaps, 95):.0f} ms"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
