"""Undo/redo: every change to a document is an `Edit` (old and new value of each touched frame of each
target, and of each target and the label list it changes), applied and recorded by a bounded `History`.
A whole tracker run, over one target or all of them, is recorded as one Edit (see retrack.TrackingRun,
which uses `History.begin_run`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import InputError
from ..result import FrameResult
from .document import AnnotationDocument, FrameAnnotation, Label, Target

_UNSET = object()


Key = tuple[int, int]  # (target id, frame)


@dataclass
class Edit:
    """One undoable step: the (target, frame)s it touches with their values before and after, and the
    targets (None: not there) and label list it changes."""

    description: str
    frame: int  # where it happened: the studio jumps there on undo/redo
    before: dict[Key, FrameAnnotation | None] = field(default_factory=dict)
    after: dict[Key, FrameAnnotation | None] = field(default_factory=dict)
    debug_before: dict[Key, FrameResult | None] = field(default_factory=dict)
    debug_after: dict[Key, FrameResult | None] = field(default_factory=dict)
    targets_before: dict[int, Target | None] = field(default_factory=dict)
    targets_after: dict[int, Target | None] = field(default_factory=dict)
    labels_before: tuple[Label, ...] | None = None
    labels_after: tuple[Label, ...] | None = None
    target: int | None = None  # the target it is about (the studio selects it on undo/redo)

    @property
    def frames(self) -> list[int]:
        return sorted({i for _, i in self.after} | {i for _, i in self.debug_after})

    @property
    def targets(self) -> list[int]:
        """The targets whose frames or attributes it changes."""
        return sorted({t for t, _ in self.after} | {t for t, _ in self.debug_after} | set(self.targets_after))

    def __bool__(self) -> bool:
        return bool(self.after or self.debug_after or self.targets_after or self.labels_after is not None)

    def apply(self, doc: AnnotationDocument, undo: bool = False) -> None:
        if undo:
            doc._apply(self.before, self.debug_before, self.targets_before, self.labels_before)
        else:
            doc._apply(self.after, self.debug_after, self.targets_after, self.labels_after)


def make_edit(doc: AnnotationDocument, description: str, frame: int,
              changes: Mapping[int, FrameAnnotation | None],
              debug: Mapping[int, FrameResult | None] | None = None, target: int | None = None) -> Edit:
    """An Edit from the wanted new values of one target's frames (default: the selected target); frames
    whose value would not change are left out. A locked target refuses (InputError)."""
    t = doc.target(target)
    if changes or debug:
        check_unlocked(t)
    track = doc.track(t.id)
    edit = Edit(description, frame, target=t.id)
    for i, new in changes.items():
        old = track[i]
        if old != new:
            edit.before[(t.id, i)], edit.after[(t.id, i)] = old, new
    for i, new in (debug or {}).items():
        old = track.debug_record(i)
        if old is not new:
            edit.debug_before[(t.id, i)], edit.debug_after[(t.id, i)] = old, new
    return edit


def combine(edits, description: str, frame: int = 0) -> Edit:
    """Several Edits of different targets as one undo step."""
    out = Edit(description, frame)
    for e in edits:
        out.before.update(e.before)
        out.after.update(e.after)
        out.debug_before.update(e.debug_before)
        out.debug_after.update(e.debug_after)
    return out


def check_unlocked(target: Target) -> None:
    if target.locked:
        raise InputError(f"target {target.name} is locked; unlock it to change its boxes")


class RunInProgress(RuntimeError):
    """An edit, undo or redo was asked for while a tracker run is still writing into the document."""


class History:
    """Applies Edits to one document and keeps the last `limit` of them for undo/redo."""

    def __init__(self, document: AnnotationDocument, limit: int = 200):
        if limit < 1:
            raise ValueError("history limit must be at least 1")
        self.document = document
        self.limit = limit
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []
        self._run = None  # the open TrackingRun, if any
        self._saved_revision = document.revision
        self._saved_marker: Edit | None | object = None  # top of the undo stack when saved

    # ---- doing
    def execute(self, edit: Edit) -> Edit | None:
        """Apply `edit` and record it. Empty edits change nothing and are not recorded."""
        self._check_no_run()
        if not edit:
            return None
        # The stacks change before the document does, so listeners see can_undo/modified up to date.
        undo, redo, marker = list(self._undo), list(self._redo), self._saved_marker
        self._record(edit)
        try:
            edit.apply(self.document)
        except BaseException:
            self._undo, self._redo, self._saved_marker = undo, redo, marker
            raise
        return edit

    def _record(self, edit: Edit) -> None:
        self._undo.append(edit)
        self._redo.clear()
        if len(self._undo) > self.limit:
            dropped = self._undo.pop(0)
            if self._saved_marker is dropped:
                self._saved_marker = _UNSET  # the saved state can no longer be reached by undo

    def undo(self) -> Edit | None:
        self._check_no_run()
        if not self._undo:
            return None
        edit = self._undo.pop()
        self._redo.append(edit)
        edit.apply(self.document, undo=True)
        return edit

    def redo(self) -> Edit | None:
        self._check_no_run()
        if not self._redo:
            return None
        edit = self._redo.pop()
        self._undo.append(edit)
        edit.apply(self.document)
        return edit

    # ---- state for menus
    @property
    def can_undo(self) -> bool:
        return bool(self._undo) and self._run is None

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and self._run is None

    @property
    def undo_description(self) -> str | None:
        return self._undo[-1].description if self._undo else None

    @property
    def redo_description(self) -> str | None:
        return self._redo[-1].description if self._redo else None

    def __len__(self) -> int:
        return len(self._undo)

    def state(self):
        """Where the undo stack stands now: give it to `mark_saved` once a snapshot taken now is on disk."""
        return self._undo[-1] if self._undo else None

    def mark_saved(self, state=_UNSET) -> None:
        """Remember the current state (or `state`, from `state()` when a snapshot was taken) as the one on
        disk (for `modified`)."""
        self._saved_marker = self.state() if state is _UNSET else state

    @property
    def modified(self) -> bool:
        """True when the document differs from the last saved state (by the undo stack position)."""
        top = self._undo[-1] if self._undo else None
        return self._run is not None or top is not self._saved_marker

    def clear(self) -> None:
        self._check_no_run()
        self._undo.clear()
        self._redo.clear()
        self._saved_marker = _UNSET

    # ---- tracker runs (used by retrack.TrackingRun)
    @property
    def run_in_progress(self) -> bool:
        return self._run is not None

    def _begin_run(self, run) -> None:
        self._check_no_run()
        self._run = run

    def _end_run(self, run, edit: Edit | None) -> None:
        assert self._run is run
        self._run = None
        if edit:
            self._record(edit)

    def _check_no_run(self) -> None:
        if self._run is not None:
            raise RunInProgress("a tracker run is still writing into the document; finish or cancel it first")
