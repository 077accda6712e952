"""Undo/redo: every change to a document is an `Edit` (old and new value of each touched frame),
applied and recorded by a bounded `History`. A whole tracker run is recorded as one Edit
(see retrack.TrackingRun, which uses `History.begin_run`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..result import FrameResult
from .document import AnnotationDocument, FrameAnnotation

_UNSET = object()


@dataclass
class Edit:
    """One undoable step: the frames it touches with their values before and after."""

    description: str
    frame: int  # where it happened: the studio jumps there on undo/redo
    before: dict[int, FrameAnnotation | None] = field(default_factory=dict)
    after: dict[int, FrameAnnotation | None] = field(default_factory=dict)
    debug_before: dict[int, FrameResult | None] = field(default_factory=dict)
    debug_after: dict[int, FrameResult | None] = field(default_factory=dict)

    @property
    def frames(self) -> list[int]:
        return sorted(set(self.after) | set(self.debug_after))

    def __bool__(self) -> bool:
        return bool(self.after or self.debug_after)


def make_edit(doc: AnnotationDocument, description: str, frame: int,
              changes: Mapping[int, FrameAnnotation | None],
              debug: Mapping[int, FrameResult | None] | None = None) -> Edit:
    """An Edit from the wanted new values; frames whose value would not change are left out."""
    edit = Edit(description, frame)
    for i, new in changes.items():
        old = doc[i]
        if old != new:
            edit.before[i], edit.after[i] = old, new
    for i, new in (debug or {}).items():
        old = doc.debug_record(i)
        if old is not new:
            edit.debug_before[i], edit.debug_after[i] = old, new
    return edit


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
            self.document._replace(edit.after, edit.debug_after)
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
        self.document._replace(edit.before, edit.debug_before)
        return edit

    def redo(self) -> Edit | None:
        self._check_no_run()
        if not self._redo:
            return None
        edit = self._redo.pop()
        self._undo.append(edit)
        self.document._replace(edit.after, edit.debug_after)
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
