"""ResultStore: every FrameResult the engine produced, by frame index (Qt-free).

Scrubbing back shows exactly what was computed for that frame, so the store keeps the FrameResult
objects themselves and derives the debug series (presence, per-object scores, flags) from them.
"""
from __future__ import annotations

import numpy as np

from tracker.result import Flag, FrameResult


class ResultStore:
    def __init__(self) -> None:
        self._results: dict[int, FrameResult] = {}
        self.revision = 0  # bumped on every change, so views can skip redraws when nothing changed

    def put(self, result: FrameResult) -> None:
        self._results[int(result.frame_index)] = result
        self.revision += 1

    def get(self, index: int) -> FrameResult | None:
        return self._results.get(int(index))

    def __contains__(self, index: int) -> bool:
        return int(index) in self._results

    def __len__(self) -> int:
        return len(self._results)

    def indices(self) -> list[int]:
        return sorted(self._results)

    def clear(self) -> None:
        self._results.clear()
        self.revision += 1

    def discard_from(self, start: int, direction: int = 1) -> None:
        """Forget results at `start` and beyond in `direction` (+1: later frames, -1: earlier frames).

        Used when a new track starts at `start`: what an older track said about those frames no longer holds.
        """
        if direction >= 0:
            doomed = [i for i in self._results if i >= start]
        else:
            doomed = [i for i in self._results if i <= start]
        for i in doomed:
            del self._results[i]
        self.revision += 1

    def flags(self, num_frames: int) -> list[Flag | None]:
        """The flag of every frame 0..num_frames-1, None where the frame has no result."""
        return [r.flag if (r := self._results.get(i)) is not None else None for i in range(num_frames)]

    def presence(self) -> tuple[np.ndarray, np.ndarray]:
        """(frame indices, presence scores), sorted by frame."""
        idx = self.indices()
        return np.asarray(idx, dtype=float), np.asarray([self._results[i].presence for i in idx], dtype=float)

    def score_histories(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Object id -> (frame indices, candidate scores), sorted by frame; candidates without an id are skipped."""
        series: dict[int, tuple[list[int], list[float]]] = {}
        for i in self.indices():
            for c in self._results[i].candidates:
                if c.object_id is None:
                    continue
                frames, scores = series.setdefault(int(c.object_id), ([], []))
                frames.append(i)
                scores.append(float(c.score))
        return {k: (np.asarray(f, dtype=float), np.asarray(s, dtype=float)) for k, (f, s) in series.items()}
