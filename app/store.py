"""EngineResults: what the engine computed for each frame, read from the annotation document (Qt-free).

There is no second store: every FrameResult a run delivers is written into the document as that frame's
debug record (`tracker.annotation.retrack.TrackingRun`), so undoing a run removes its results too and the
overlays never contradict the annotation. This class only derives the debug series (presence, per-object
scores, flags) from those records.
"""
from __future__ import annotations

import numpy as np

from tracker.annotation.document import AnnotationDocument
from tracker.result import Flag, FrameResult


class EngineResults:
    """A read-only view of `document`'s per-frame engine records (or of nothing, before a source is open)."""

    def __init__(self, document: AnnotationDocument | None = None) -> None:
        self.document = document

    @property
    def revision(self) -> int:
        """Grows with every change of the document, so views can skip redraws when nothing changed."""
        return -1 if self.document is None else self.document.revision

    def _records(self) -> dict[int, FrameResult]:
        return {} if self.document is None else dict(self.document.debug_records)

    def get(self, index: int) -> FrameResult | None:
        if self.document is None or not 0 <= int(index) < len(self.document):
            return None
        return self.document.debug_record(int(index))

    def __contains__(self, index: int) -> bool:
        return self.get(index) is not None

    def __len__(self) -> int:
        return len(self._records())

    def indices(self) -> list[int]:
        return sorted(self._records())

    def flags(self, num_frames: int) -> list[Flag | None]:
        """The flag of every frame 0..num_frames-1, None where the frame has no result."""
        records = self._records()
        return [r.flag if (r := records.get(i)) is not None else None for i in range(num_frames)]

    def presence(self) -> tuple[np.ndarray, np.ndarray]:
        """(frame indices, presence scores), sorted by frame."""
        records = self._records()
        idx = sorted(records)
        return np.asarray(idx, dtype=float), np.asarray([records[i].presence for i in idx], dtype=float)

    def score_histories(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Object id -> (frame indices, candidate scores), sorted by frame; candidates without an id are skipped."""
        records = self._records()
        series: dict[int, tuple[list[int], list[float]]] = {}
        for i in sorted(records):
            for c in records[i].candidates:
                if c.object_id is None:
                    continue
                frames, scores = series.setdefault(int(c.object_id), ([], []))
                frames.append(i)
                scores.append(float(c.score))
        return {k: (np.asarray(f, dtype=float), np.asarray(s, dtype=float)) for k, (f, s) in series.items()}
