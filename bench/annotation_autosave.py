"""How long a project save (= one autosave) and a load take, by sequence length. Prints a table.

Each tracked frame carries a debug record like KeepTrack's: 5 candidates with ids and a 6x6
assignment matrix (score-map values are never written to project files).
Run: python -m bench.annotation_autosave
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from tracker.annotation import AnnotationDocument, FrameAnnotation
from tracker.annotation.project import load_project, save_project
from tracker.result import Assignment, Candidate, FrameResult


def document(n: int, debug: bool) -> AnnotationDocument:
    doc = AnnotationDocument(n, source="/data/video.mp4")
    rng = np.random.default_rng(0)
    frames, records = {}, {}
    for i in range(n):
        box = tuple(float(v) for v in rng.uniform(10, 300, 4))
        frames[i] = FrameAnnotation.tracked(box, "keeptrack", float(rng.uniform()))
        if debug:
            cands = tuple(Candidate(*rng.uniform(0, 500, 2), float(rng.uniform()), k) for k in range(5))
            records[i] = FrameResult(i, box, 0.9, candidates=cands, selected_id=0,
                                     assignment=Assignment(rng.uniform(size=(6, 6)), cands, (0, 1, 2, 3, 4)))
    doc._replace(frames, records)
    return doc


def main() -> None:
    print(f"{'frames':>8} {'debug':>6} {'size MB':>8} {'save ms':>8} {'load ms':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.ktproj"
        for n in (1_000, 10_000, 50_000):
            for debug in (False, True):
                doc = document(n, debug)
                t0 = time.perf_counter()
                save_project(path, doc)
                t1 = time.perf_counter()
                load_project(path)
                t2 = time.perf_counter()
                print(f"{n:>8} {str(debug):>6} {path.stat().st_size / 1e6:>8.2f} {1e3 * (t1 - t0):>8.1f} "
                      f"{1e3 * (t2 - t1):>8.1f}")


if __name__ == "__main__":
    main()
