"""The studio comparison's costs, by sequence length: reading and scoring result files (worker side, per
tracker), scoring the current run's engine results (worker side), and what the GUI thread does per frame
shown (`Comparison.at`) and per jump (`next_failure`, `next_id_switch`). Prints a table (medians of 5).
Run: python -m bench.compare_load
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from app.compare import CURRENT_RUN, Comparison, SequenceInfo, boxes_from_records, load_trackers, score_tracker
from tracker.formats.pytracking import write_boxes
from tracker.result import Candidate, FrameResult
from tracker.sources.base import GroundTruth


def median_ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000.0)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'frames':>8} {'read+score ms/file':>19} {'run score ms':>13} {'at() us':>8} {'jump us':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1_000, 10_000, 50_000):
            gt = np.column_stack([rng.uniform(50, 400, (n, 2)), rng.uniform(20, 80, (n, 2))])
            info = SequenceInfo("Seq", Path(tmp), n, GroundTruth(gt, None, "otb", Path(tmp) / "gt.txt"))
            path = Path(tmp) / f"t{n}.txt"
            write_boxes(path, gt + rng.normal(0, 4, gt.shape))
            read = median_ms(lambda: load_trackers([path], info))
            records = {i: FrameResult(i, tuple(gt[i] + 2.0), 0.9, candidates=(Candidate(0, 0, 0.9, i // 500),),
                                      selected_id=i // 500) for i in range(n)}
            run = median_ms(lambda: score_tracker(boxes_from_records(CURRENT_RUN, records, n, "run"), info))
            c = Comparison()
            c.reset(info)
            [entry], *_ = load_trackers([path], info)
            c.put(entry)
            c.put(score_tracker(boxes_from_records(CURRENT_RUN, records, n, "run"), info))
            at = median_ms(lambda: [c.at(i) for i in range(0, n, n // 100)]) * 10  # us per call
            c.select(CURRENT_RUN)
            jump = median_ms(lambda: (c.next_failure(n // 2), c.next_id_switch(n // 2))) * 500  # us per search
            print(f"{n:>8} {read:>19.1f} {run:>13.1f} {at:>8.1f} {jump:>8.1f}")


if __name__ == "__main__":
    main()
