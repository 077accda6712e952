"""The annotation document of one Sequence: any number of Targets, each with its own track (for every Frame
a box, "absent", or nothing yet), and the project's label list.

Each target has a stable id, a Label (name and colour) from the document's label list, `locked` (no edit
and no tracker run writes it) and `visible` (drawn in the studio), and, for a target promoted from one of
the engine's candidates, its `origin` (the frame, the engine's object id and the target it was seen
from). Each annotated frame carries its Provenance (manual, tracked, interpolated), and for tracked
frames the engine and its Presence score. Optionally the engine's full FrameResult (candidates, object
ids, assignment) is kept as the frame's debug record for research export, per target.

Reading: `doc.track(target_id)` is one target's frames (`track[i]`, `boxes()`, `keyframes()`, ...); the
document itself reads as the track of its selected target (`doc[i]`, `doc.boxes()`, ...), which is what
the single-target callers (one target per video) want. Selection is not an edit and is not undone.

The document is changed only through `Edit`s applied by a `History` (see history.py), so every
change can be undone; `_apply` is the one mutation and is private to this package.
Qt-free: the studio subscribes to changes with `subscribe`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
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

DEFAULT_LABEL = "object"
# Distinct colours for new labels (Okabe-Ito, readable for colour-blind annotators), used in turn.
LABEL_COLOURS = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#999999")
MAX_TARGETS = 10_000  # per document: every target costs a frame list; a file cannot ask for more
MAX_LABELS = 1_000
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class Label:
    """One entry of the project's label list: what kind of object a target is, and its colour."""

    name: str
    colour: str = LABEL_COLOURS[0]

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 100 \
                or not self.name.isprintable():
            raise InputError(f"a label needs a name of 1..100 printable characters, got {str(self.name)[:120]!r}")
        if not isinstance(self.colour, str) or not _COLOUR.fullmatch(self.colour):
            raise InputError(f"label {self.name!r}: colour must be #rrggbb, got {str(self.colour)[:40]!r}")


@dataclass(frozen=True)
class TargetOrigin:
    """Where a promoted target came from: the engine's candidate with `object_id` on `frame`, seen while
    tracking target `from_target`."""

    frame: int
    object_id: int | None
    from_target: int | None


@dataclass(frozen=True)
class Target:
    """One annotated object: a stable id (never reused within a document), its label's name, and flags."""

    id: int
    label: str = DEFAULT_LABEL
    locked: bool = False  # nothing writes its frames (no edit, no tracker run) until unlocked
    visible: bool = True  # drawn in the studio
    origin: TargetOrigin | None = None

    def __post_init__(self):
        if isinstance(self.id, bool) or not isinstance(self.id, int) or not 0 < self.id < 2 ** 31:
            raise InputError(f"a target id is a whole number 1..{2 ** 31 - 1}, got {str(self.id)[:40]!r}")

    @property
    def name(self) -> str:
        """How the target is named in file and folder names: label-id."""
        return f"{self.label}-{self.id}"


class TrackReading:
    """The read API of one target's frames (shared by `Track` and the document, which reads as its
    selected target's track). Subclasses provide `_frame_list()` and `_debug_map()`."""

    def _frame_list(self) -> list[FrameAnnotation | None]:
        raise NotImplementedError

    def _debug_map(self) -> dict[int, FrameResult]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._frame_list())

    @property
    def num_frames(self) -> int:
        return len(self)

    def __getitem__(self, index: int) -> FrameAnnotation | None:
        return self._frame_list()[self._check_index(index)]

    def __iter__(self):
        return iter(self._frame_list())

    def debug_record(self, index: int) -> FrameResult | None:
        return self._debug_map().get(self._check_index(index))

    @property
    def debug_records(self) -> Mapping[int, FrameResult]:
        return dict(self._debug_map())

    def keyframes(self) -> list[int]:
        return [i for i, a in enumerate(self._frame_list()) if a is not None and a.is_keyframe]

    def annotated_frames(self) -> list[int]:
        return [i for i, a in enumerate(self._frame_list()) if a is not None]

    def next_keyframe(self, index: int, direction: int = 1) -> int | None:
        """The first manual keyframe strictly after (direction +1) or before (-1) `index`."""
        frames = self._frame_list()
        i = self._check_index(index) + direction
        while 0 <= i < len(frames):
            a = frames[i]
            if a is not None and a.is_keyframe:
                return i
            i += direction
        return None

    def boxes(self) -> np.ndarray:
        """(num_frames, 4) float64 [x, y, w, h]; NaN rows where absent or not annotated."""
        frames = self._frame_list()
        out = np.full((len(frames), 4), np.nan)
        for i, a in enumerate(frames):
            if a is not None and a.box is not None:
                out[i] = a.box
        return out

    def absent(self) -> np.ndarray:
        """(num_frames,) bool: True where the document says the target is not visible."""
        return np.array([a is not None and a.absent for a in self._frame_list()], dtype=bool)

    def annotated(self) -> np.ndarray:
        return np.array([a is not None for a in self._frame_list()], dtype=bool)

    def _check_index(self, index: int) -> int:
        i = int(index)
        n = len(self._frame_list())
        if not 0 <= i < n:
            raise InputError(f"frame {index} is outside the sequence (frames 0..{n - 1})")
        return i


class Track(TrackReading):
    """One target's frames and debug records (read-only to everyone but the document)."""

    def __init__(self, num_frames: int):
        self.frames: list[FrameAnnotation | None] = [None] * num_frames
        self.debug: dict[int, FrameResult] = {}

    def _frame_list(self):
        return self.frames

    def _debug_map(self):
        return self.debug

    def copy(self) -> Track:
        t = Track(0)
        t.frames, t.debug = list(self.frames), dict(self.debug)
        return t


class AnnotationDocument(TrackReading):
    """Annotations of one sequence of `num_frames` frames, indexed from 0.

    A new document has the label list [object] and one target (id 1), so single-target use needs no setup.
    """

    def __init__(self, num_frames: int, source: str | None = None, name: str | None = None,
                 image_size: tuple[int, int] | None = None, *, labels: Iterable[Label] | None = None,
                 targets: Iterable[Target] | None = None):
        if int(num_frames) < 0:
            raise InputError(f"a sequence cannot have {num_frames} frames")
        self.source = source  # path of the video / folder / sequence the boxes belong to
        self.name = name or (source and _stem(source)) or "sequence"
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))  # (w, h)
        self._num_frames = int(num_frames)
        self.labels: tuple[Label, ...] = ()
        self._targets: dict[int, Target] = {}
        self._tracks: dict[int, Track] = {}
        self._next_id = 1
        self.selected: int | None = None
        self.revision = 0  # grows with every change; lets autosave and "modified" compare cheaply
        self._listeners: list[Listener] = []
        labels = (Label(DEFAULT_LABEL),) if labels is None else tuple(labels)
        targets = (Target(1, labels[0].name if labels else DEFAULT_LABEL),) if targets is None else tuple(targets)
        check_targets(labels, targets)
        self._apply({}, {}, {t.id: t for t in targets}, labels, notify=False)
        self.selected = targets[0].id if targets else None
        self.revision = 0

    # ---- targets and labels
    @property
    def targets(self) -> list[Target]:
        """Every target, in the order they were added (by id: ids only grow)."""
        return [self._targets[tid] for tid in sorted(self._targets)]

    def target(self, target_id: int | None = None) -> Target:
        """The target with `target_id` (default: the selected one); InputError when there is none."""
        tid = self.selected if target_id is None else target_id
        if tid not in self._targets:
            if target_id is None:
                raise InputError("there is no target yet: start one (N) and draw its box")
            raise InputError(f"there is no target {target_id} (targets: {', '.join(map(str, self._targets)) or 'none'})")
        return self._targets[tid]

    def track(self, target_id: int | None = None) -> Track:
        """One target's frames (default: the selected target's)."""
        return self._tracks[self.target(target_id).id]

    def has_target(self, target_id) -> bool:
        return target_id in self._targets

    def label(self, name: str) -> Label:
        for lab in self.labels:
            if lab.name == name:
                return lab
        raise InputError(f"there is no label {name!r} (labels: {', '.join(lab.name for lab in self.labels)})")

    def colour(self, target_id: int | None = None) -> str:
        return self.label(self.target(target_id).label).colour

    def next_target_id(self) -> int:
        """The id a new target gets: one more than any id this document ever had (ids are never reused)."""
        return self._next_id

    def select(self, target_id: int | None) -> None:
        """Make `target_id` the selected target (what the single-target reads and edits act on). Not an edit:
        listeners hear every frame changed (what is shown per frame changes), the revision stays."""
        if target_id is not None:
            self.target(target_id)
        if target_id != self.selected:
            self.selected = target_id
            self._notify(frozenset(range(self._num_frames)))

    # ---- reading (the selected target's track; nothing at all when there is no target)
    def _frame_list(self):
        t = self._tracks.get(self.selected)
        return t.frames if t is not None else [None] * self._num_frames

    def _debug_map(self):
        t = self._tracks.get(self.selected)
        return t.debug if t is not None else {}

    def __len__(self) -> int:
        return self._num_frames

    def frames_annotated(self, target_id: int) -> int:
        return sum(a is not None for a in self.track(target_id).frames)

    def differences(self, other: AnnotationDocument, *, provenance: bool = True, tolerance: float = 1e-6,
                    debug: bool = False, targets: bool = True) -> list[str]:
        """Human-readable differences (empty when the documents agree); used by round-trip checks.
        `targets`: compare every target (ids, labels, flags); False: only the two selected tracks."""
        out = []
        if len(self) != len(other):
            out.append(f"{len(self)} frames vs {len(other)}")
        if targets:
            if self.labels != other.labels:
                out.append(f"labels {self.labels} vs {other.labels}")
            if self.targets != other.targets:
                out.append(f"targets {self.targets} vs {other.targets}")
            pairs = [(t.id, self._tracks[t.id], other._tracks[t.id]) for t in self.targets
                     if t.id in other._tracks]
        else:
            pairs = [(self.selected, self, other)]
        for tid, mine, theirs in pairs:
            where = f"target {tid}, " if targets and len(self._targets) > 1 else ""
            for i in range(min(len(self), len(other))):
                a, b = mine[i], theirs[i]
                if (a is None) != (b is None):
                    out.append(f"{where}frame {i}: {a} vs {b}")
                    continue
                if a is None:
                    continue
                if (a.box is None) != (b.box is None) or (
                    a.box is not None and max(abs(p - q) for p, q in zip(a.box, b.box)) > tolerance
                ):
                    out.append(f"{where}frame {i}: box {a.box} vs {b.box}")
                if provenance and (a.provenance, a.engine) != (b.provenance, b.engine):
                    out.append(f"{where}frame {i}: {a.provenance.value}/{a.engine} vs "
                               f"{b.provenance.value}/{b.engine}")
                if provenance and not _same_score(a.presence, b.presence, tolerance):
                    out.append(f"{where}frame {i}: presence {a.presence} vs {b.presence}")
            if debug and set(mine.debug_records) != set(theirs.debug_records):
                out.append(f"{where}debug records on frames {sorted(mine.debug_records)} vs "
                           f"{sorted(theirs.debug_records)}")
        return out

    def copy(self) -> AnnotationDocument:
        """A detached copy (no listeners), e.g. to export from a worker thread."""
        doc = AnnotationDocument(len(self), self.source, self.name, self.image_size, labels=self.labels, targets=())
        doc._targets = dict(self._targets)
        doc._tracks = {tid: t.copy() for tid, t in self._tracks.items()}
        doc._next_id, doc.selected, doc.revision = self._next_id, self.selected, self.revision
        return doc

    def only(self, target_id: int) -> AnnotationDocument:
        """A detached copy holding just one target (a single-object export of it)."""
        t = self.target(target_id)
        doc = AnnotationDocument(len(self), self.source, self.name, self.image_size, labels=self.labels,
                                 targets=(t,))
        doc._tracks[t.id] = self._tracks[t.id].copy()
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
        doc._apply({(doc.selected, i): a for i, a in enumerate(
            frames_from_arrays(boxes, absent, provenance, engine, presence)) if a is not None}, notify=False)
        doc.revision = 0
        return doc

    # ---- change notification
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(frames)` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, changed: frozenset[int]) -> None:
        for listener in list(self._listeners):
            listener(changed)

    # ---- the one mutation (package-private: History and TrackingRun use it)
    def _apply(self, frames: Mapping[tuple[int, int], FrameAnnotation | None],
               debug: Mapping[tuple[int, int], FrameResult | None] | None = None,
               targets: Mapping[int, Target | None] | None = None, labels: Iterable[Label] | None = None,
               notify: bool = True) -> None:
        """Set targets (None: remove one with its frames), labels, then frames and debug records keyed by
        (target id, frame). Everything is checked before anything changes."""
        targets, debug = dict(targets or {}), dict(debug or {})
        new_labels = self.labels if labels is None else tuple(labels)
        if labels is not None:
            names = [lab.name for lab in new_labels]
            if len(set(names)) != len(names):
                raise InputError(f"the label list names {sorted(n for n in set(names) if names.count(n) > 1)[0]!r} twice")
            if len(new_labels) > MAX_LABELS:
                raise InputError(f"{len(new_labels)} labels, over the limit of {MAX_LABELS}")
        known = {lab.name for lab in new_labels}
        after = {**self._targets, **{tid: t for tid, t in targets.items() if t is not None}}
        for tid, t in targets.items():
            if t is None:
                after.pop(tid, None)
            elif t.id != tid:
                raise InputError(f"target {t.id} given as target {tid}")
        if len(after) > MAX_TARGETS:
            raise InputError(f"{len(after)} targets, over the limit of {MAX_TARGETS} per sequence")
        for t in after.values():
            if t.label not in known:
                raise InputError(f"target {t.id} has label {t.label!r}, which is not in the label list "
                                 f"({', '.join(sorted(known)) or 'empty'})")
        removed = {tid for tid, t in targets.items() if t is None}
        # a removed target's frames go with it (an undo of "add target" lists them as None)
        frames = {k: a for k, a in frames.items() if k[0] not in removed}
        debug = {k: r for k, r in debug.items() if k[0] not in removed}
        for (tid, i) in list(frames) + list(debug):
            if tid not in after:
                raise InputError(f"there is no target {tid}")
            self._check_frame(i)
        # apply
        self.labels = new_labels
        for tid, t in targets.items():
            if t is None:
                self._targets.pop(tid, None)
                self._tracks.pop(tid, None)
            else:
                if tid not in self._tracks:
                    self._tracks[tid] = Track(self._num_frames)
                self._targets[tid] = t
                self._next_id = max(self._next_id, tid + 1)
        for (tid, i), a in frames.items():
            self._tracks[tid].frames[i] = a
        for (tid, i), r in debug.items():
            if r is None:
                self._tracks[tid].debug.pop(i, None)
            else:
                self._tracks[tid].debug[i] = r
        if self.selected not in self._targets:
            self.selected = min(self._targets, default=None)
        changed = frozenset(i for _, i in frames) | frozenset(i for _, i in debug)
        if targets or labels is not None:
            changed = frozenset(range(self._num_frames))  # colours, names, what is drawn: everything may change
        self.revision += 1
        if notify:
            self._notify(changed)

    def _replace(self, frames: Mapping[int, FrameAnnotation | None],
                 debug: Mapping[int, FrameResult | None] | None = None, target: int | None = None) -> None:
        """`_apply` for one target's frames (default: the selected target)."""
        tid = self.target(target).id
        self._apply({(tid, i): a for i, a in frames.items()}, {(tid, i): r for i, r in (debug or {}).items()})

    def _check_frame(self, index: int) -> int:
        i = int(index)
        if not 0 <= i < self._num_frames:
            raise InputError(f"frame {index} is outside the sequence (frames 0..{self._num_frames - 1})")
        return i


def check_targets(labels: Iterable[Label], targets: Iterable[Target]) -> None:
    """Targets as a file gives them: unique ids, labels from the list (InputError naming the first fault)."""
    known = {lab.name for lab in labels}
    seen = set()
    for k, t in enumerate(targets):
        if t.id in seen:
            raise InputError(f"target id {t.id} appears twice (targets[{k}])")
        seen.add(t.id)
        if t.label not in known:
            raise InputError(f"targets[{k}] (id {t.id}) has label {t.label!r}, which is not in the label list "
                             f"({', '.join(sorted(known)) or 'empty'})")


def frames_from_arrays(boxes, absent=None, provenance: Provenance = Provenance.MANUAL, engine: str | None = None,
                       presence: Iterable[float] | None = None) -> list[FrameAnnotation | None]:
    """One FrameAnnotation (or None: not annotated) per row of `boxes`; `absent[i]` marks the target absent."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = None if presence is None else [None if p is None else float(p) for p in presence]
    out: list[FrameAnnotation | None] = [None] * len(boxes)
    for i, row in enumerate(boxes):
        score = scores[i] if scores is not None and i < len(scores) else None
        if absent is not None and bool(absent[i]):
            out[i] = FrameAnnotation(None, provenance, engine, score)
        elif np.all(np.isfinite(row)) and row[2] > 0 and row[3] > 0:
            out[i] = FrameAnnotation(tuple(float(v) for v in row), provenance, engine, score)
    return out


def new_label_colour(labels: Iterable[Label]) -> str:
    """The first palette colour no label uses yet (cycling when all are taken)."""
    used = {lab.colour.lower() for lab in labels}
    for c in LABEL_COLOURS:
        if c not in used:
            return c
    return LABEL_COLOURS[len(used) % len(LABEL_COLOURS)]


def _same_score(a: float | None, b: float | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tolerance


def _stem(source: str) -> str:
    from pathlib import Path

    p = Path(source)
    return p.stem if p.suffix else p.name
