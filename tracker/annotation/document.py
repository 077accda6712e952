"""The annotation document of one Sequence: for every Frame a box, "absent", or nothing yet.

Each annotated frame carries its Provenance (manual, tracked, interpolated), and for tracked frames
the engine and its Presence score. Optionally the engine's full FrameResult (candidates, object ids,
assignment) is kept as the frame's debug record for research export.

The document is changed only through `Edit`s applied by a `History` (see history.py), so every
change can be undone; `_replace` is the one mutation and is private to this package.
Qt-free: the studio subscribes to changes with `subscribe`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..boxes import check_box
from ..errors import InputError
from ..result import Box, FrameResult


class Provenance(str, Enum):
    """Who put the annotation on a frame."""

    MANUAL = "manual"  # a person drew, moved or marked it: a Keyframe, never overwritten by the tracker
    TRACKED = "tracked"  # an engine's output
    INTERPOLATED = "interpolated"  # linear between two manual keyframes


@dataclass(frozen=True)
class FrameAnnotation:
    """What the document says about one frame. `box is None` means the target is absent."""

    box: Box | None
    provenance: Provenance
    engine: str | None = None  # the engine that produced a tracked box
    presence: float | None = None  # the engine's presence score for that frame

    @property
    def absent(self) -> bool:
        return self.box is None

    @property
    def is_keyframe(self) -> bool:
        return self.provenance is Provenance.MANUAL

    @classmethod
    def manual(cls, box: Box | None) -> FrameAnnotation:
        return cls(None if box is None else check_box(box), Provenance.MANUAL)

    @classmethod
    def tracked(cls, box: Box | None, engine: str | None, presence: float | None) -> FrameAnnotation:
        return cls(None if box is None else check_box(box), Provenance.TRACKED, engine,
                   None if presence is None else float(presence))

    @classmethod
    def interpolated(cls, box: Box) -> FrameAnnotation:
        return cls(check_box(box), Provenance.INTERPOLATED)


Listener = Callable[[frozenset[int]], None]


class AnnotationDocument:
    """Annotations of one sequence of `num_frames` frames, indexed from 0."""

    def __init__(self, num_frames: int, source: str | None = None, name: str | None = None,
                 image_size: tuple[int, int] | None = None):
        if int(num_frames) < 0:
            raise InputError(f"a sequence cannot have {num_frames} frames")
        self.source = source  # path of the video / folder / sequence the boxes belong to
        self.name = name or (source and _stem(source)) or "sequence"
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))  # (w, h)
        self._frames: list[FrameAnnotation | None] = [None] * int(num_frames)
        self._debug: dict[int, FrameResult] = {}
        self.revision = 0  # grows with every change; lets autosave and "modified" compare cheaply
        self._listeners: list[Listener] = []

    # ---- reading
    def __len__(self) -> int:
        return len(self._frames)

    @property
    def num_frames(self) -> int:
        return len(self._frames)

    def __getitem__(self, index: int) -> FrameAnnotation | None:
        return self._frames[self._check_index(index)]

    def __iter__(self):
        return iter(self._frames)

    def debug_record(self, index: int) -> FrameResult | None:
        return self._debug.get(self._check_index(index))

    @property
    def debug_records(self) -> Mapping[int, FrameResult]:
        return dict(self._debug)

    def keyframes(self) -> list[int]:
        return [i for i, a in enumerate(self._frames) if a is not None and a.is_keyframe]

    def annotated_frames(self) -> list[int]:
        return [i for i, a in enumerate(self._frames) if a is not None]

    def next_keyframe(self, index: int, direction: int = 1) -> int | None:
        """The first manual keyframe strictly after (direction +1) or before (-1) `index`."""
        i = self._check_index(index) + direction
        while 0 <= i < len(self._frames):
            a = self._frames[i]
            if a is not None and a.is_keyframe:
                return i
            i += direction
        return None

    def boxes(self) -> np.ndarray:
        """(num_frames, 4) float64 [x, y, w, h]; NaN rows where absent or not annotated."""
        out = np.full((len(self._frames), 4), np.nan)
        for i, a in enumerate(self._frames):
            if a is not None and a.box is not None:
                out[i] = a.box
        return out

    def absent(self) -> np.ndarray:
        """(num_frames,) bool: True where the document says the target is not visible."""
        return np.array([a is not None and a.absent for a in self._frames], dtype=bool)

    def annotated(self) -> np.ndarray:
        return np.array([a is not None for a in self._frames], dtype=bool)

    def differences(self, other: AnnotationDocument, *, provenance: bool = True, tolerance: float = 1e-6,
                    debug: bool = False) -> list[str]:
        """Human-readable differences (empty when the documents agree); used by round-trip checks."""
        out = []
        if len(self) != len(other):
            out.append(f"{len(self)} frames vs {len(other)}")
        for i in range(min(len(self), len(other))):
            a, b = self._frames[i], other._frames[i]
            if (a is None) != (b is None):
                out.append(f"frame {i}: {a} vs {b}")
                continue
            if a is None:
                continue
            if (a.box is None) != (b.box is None) or (
                a.box is not None and max(abs(p - q) for p, q in zip(a.box, b.box)) > tolerance
            ):
                out.append(f"frame {i}: box {a.box} vs {b.box}")
            if provenance and (a.provenance, a.engine) != (b.provenance, b.engine):
                out.append(f"frame {i}: {a.provenance.value}/{a.engine} vs {b.provenance.value}/{b.engine}")
            if provenance and not _same_score(a.presence, b.presence, tolerance):
                out.append(f"frame {i}: presence {a.presence} vs {b.presence}")
        if debug and set(self._debug) != set(other._debug):
            out.append(f"debug records on frames {sorted(self._debug)} vs {sorted(other._debug)}")
        return out

    def copy(self) -> AnnotationDocument:
        """A detached copy (no listeners), e.g. to export from a worker thread."""
        doc = AnnotationDocument(len(self), self.source, self.name, self.image_size)
        doc._frames = list(self._frames)
        doc._debug = dict(self._debug)
        doc.revision = self.revision
        return doc

    # ---- building from plain arrays (imports)
    @classmethod
    def from_arrays(cls, boxes: np.ndarray, absent: np.ndarray | None = None, *,
                    provenance: Provenance = Provenance.MANUAL, engine: str | None = None,
                    presence: Iterable[float] | None = None, source: str | None = None,
                    name: str | None = None, image_size=None) -> AnnotationDocument:
        """One frame per row of `boxes` (NaN row = not annotated); `absent[i]` marks the target absent."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        doc = cls(len(boxes), source, name, image_size)
        scores = None if presence is None else [float(p) for p in presence]
        for i, row in enumerate(boxes):
            score = scores[i] if scores is not None and i < len(scores) else None
            if absent is not None and bool(absent[i]):
                doc._frames[i] = FrameAnnotation(None, provenance, engine, score)
            elif np.all(np.isfinite(row)) and row[2] > 0 and row[3] > 0:
                doc._frames[i] = FrameAnnotation(tuple(float(v) for v in row), provenance, engine, score)
        return doc

    # ---- change notification
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(frames)` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # ---- the one mutation (package-private: History and TrackingRun use it)
    def _replace(self, frames: Mapping[int, FrameAnnotation | None],
                 debug: Mapping[int, FrameResult | None] | None = None) -> None:
        for i in list(frames) + list(debug or {}):
            self._check_index(i)
        for i, a in frames.items():
            self._frames[i] = a
        for i, r in (debug or {}).items():
            if r is None:
                self._debug.pop(i, None)
            else:
                self._debug[i] = r
        changed = frozenset(frames) | frozenset(debug or {})
        if changed:
            self.revision += 1
            for listener in list(self._listeners):
                listener(changed)

    def _check_index(self, index: int) -> int:
        i = int(index)
        if not 0 <= i < len(self._frames):
            raise InputError(f"frame {index} is outside the sequence (frames 0..{len(self._frames) - 1})")
        return i


def _same_score(a: float | None, b: float | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tolerance


def _stem(source: str) -> str:
    from pathlib import Path

    p = Path(source)
    return p.stem if p.suffix else p.name
