"""AnnotationSession: one sequence's document with its undo history, project file and autosave.

This is what the studio holds per open sequence; every menu command maps to one method here, so
the whole annotation workflow runs (and is tested) without Qt. The studio only has to call
`poll_autosave()` from a timer and run the engine for a `TrackingRun`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .document import AnnotationDocument, frames_from_arrays
from .edits import (add_label, add_target, apply_presence_threshold, change_target, clear_frames, interpolate,
                    mark_absent, merge_targets, remove_target, replace_all, replace_track, set_box, set_labels,
                    split_target)
from .history import Edit, History, combine
from .project import (Autosaver, Project, Recovery, autosave_path, find_recovery, list_recoveries, load_project,
                      save_project)
from .retrack import RetrackOptions, TrackingPlan, TrackingRun, plan_retrack


def find_recoveries(project_path: str | Path | None = None, source: str | Path | None = None,
                    folder: Path | None = None) -> list[Recovery]:
    """Every autosave worth offering when this footage or project is opened, newest first: the autosave of
    the project, of the footage before its first save, and of any project of the same footage, each only
    when newer than the project it shadows (a project saved, then more tracked, then killed: its autosave
    is offered when the footage is opened directly, too)."""
    project = None if project_path is None else Path(project_path).resolve()
    footage = None if source is None else Path(source).resolve()
    out = []
    for rec in list_recoveries(folder):
        same_project = project is not None and rec.project is not None and Path(rec.project).resolve() == project
        same_footage = footage is not None and rec.source is not None and Path(rec.source).resolve() == footage
        if same_project or same_footage:
            out.append(rec)
    return out


class AnnotationSession:
    def __init__(self, document: AnnotationDocument, *, project_path: str | Path | None = None,
                 settings: dict | None = None, autosave: bool = True, autosave_folder: Path | None = None,
                 autosave_delay_s: float = 1.0, autosave_background: bool = False, history_limit: int = 200,
                 clock: Callable[[], float] = time.monotonic):
        self.document = document
        self.history = History(document, history_limit)
        self.project_path = None if project_path is None else Path(project_path)
        self.settings = dict(settings or {})
        self.options = RetrackOptions(**self.settings.get("retrack", {}))
        self._autosave_folder = autosave_folder
        self._clock = clock
        self._delay = autosave_delay_s
        self._background = autosave_background  # the studio writes autosaves from a thread
        self.autosaver = self._make_autosaver(autosave)

    # ---- opening
    @classmethod
    def new(cls, num_frames: int, source: str | Path | None = None, image_size=None, **kwargs) -> AnnotationSession:
        return cls(AnnotationDocument(num_frames, None if source is None else str(source), image_size=image_size),
                   **kwargs)

    @classmethod
    def open_project(cls, path: str | Path, **kwargs) -> AnnotationSession:
        project = load_project(path)
        return cls(project.document, project_path=path, settings=project.settings, **kwargs)

    @classmethod
    def recover(cls, recovery: Recovery, **kwargs) -> AnnotationSession:
        """A session from an autosave; it counts as modified (the person has not saved it)."""
        project: Project = recovery.load()
        session = cls(project.document, project_path=recovery.project or project.autosave_of,
                      settings=project.settings, **kwargs)
        session.history._saved_marker = object()  # differs from every state: "unsaved changes"
        return session

    @staticmethod
    def find_recovery(project_path=None, source=None, folder: Path | None = None) -> Recovery | None:
        return find_recovery(project_path, None if source is None else str(source), folder)

    def _make_autosaver(self, enabled: bool) -> Autosaver:
        path = autosave_path(self.project_path, self.document.source, self._autosave_folder)
        return Autosaver(self.document, path, delay_s=self._delay, enabled=enabled, clock=self._clock,
                         settings=self._settings_for_file, project_path=self.project_path,
                         background=self._background)

    def _settings_for_file(self) -> dict:
        return dict(self.settings)

    # ---- edits (each one undo step; `target` None: the selected target)
    def set_box(self, frame: int, box, target: int | None = None) -> Edit | None:
        return self.history.execute(set_box(self.document, frame, box, target))

    def mark_absent(self, frame: int, target: int | None = None) -> Edit | None:
        return self.history.execute(mark_absent(self.document, frame, target))

    def clear(self, frames, target: int | None = None) -> Edit | None:
        return self.history.execute(clear_frames(self.document, frames, target=target))

    def interpolate(self, first: int = 0, last: int | None = None, replace_tracked: bool = False,
                    target: int | None = None) -> Edit | None:
        return self.history.execute(interpolate(self.document, first, last, replace_tracked, target))

    # ---- targets and labels
    def add_target(self, label: str | None = None, *, frame: int | None = None, box=None, origin=None,
                   select: bool = True) -> int:
        """A new target (one undo step, with its first box when given); returns its id and selects it."""
        edit = self.history.execute(add_target(self.document, label, frame=frame, box=box, origin=origin))
        if select:
            self.document.select(edit.target)
        return edit.target

    def remove_target(self, target_id: int) -> Edit | None:
        return self.history.execute(remove_target(self.document, target_id))

    def change_target(self, target_id: int, **changes) -> Edit | None:
        """Relabel, lock/unlock, show/hide a target (one undo step)."""
        return self.history.execute(change_target(self.document, target_id, **changes))

    def select_target(self, target_id: int | None) -> None:
        self.document.select(target_id)

    def split_target(self, target_id: int, frame: int) -> int:
        """Split at `frame` (CVAT): the later frames become a new target, selected; returns its id."""
        edit = self.history.execute(split_target(self.document, target_id, frame))
        self.document.select(edit.target)
        return edit.target

    def merge_targets(self, keep: int, other: int) -> Edit | None:
        """`other`'s frames join `keep` (CVAT's merge); refused where both have a frame."""
        edit = self.history.execute(merge_targets(self.document, keep, other))
        self.document.select(keep)
        return edit

    def add_label(self, name: str, colour: str | None = None) -> Edit | None:
        return self.history.execute(add_label(self.document, name, colour))

    def set_labels(self, labels, rename: dict[str, str] | None = None) -> Edit | None:
        return self.history.execute(set_labels(self.document, labels, rename))

    def set_absent_threshold(self, absent_below: float | None, apply_now: bool = True) -> Edit | None:
        """Use a new presence threshold for later runs and (as one undo step) on the frames tracked so far, of
        every target that is not locked."""
        from dataclasses import replace

        self.options = replace(self.options, absent_below=absent_below)
        self.settings["retrack"] = dict(self.settings.get("retrack", {}), absent_below=absent_below)
        if not apply_now:
            return None
        doc = self.document
        what = "never" if absent_below is None else f"below {absent_below:g}"
        return self.history.execute(combine(
            [apply_presence_threshold(doc, absent_below, self.options.not_found_is_absent, t.id)
             for t in doc.targets if not t.locked], f"absent where presence is {what}"))

    def undo(self) -> Edit | None:
        return self._follow(self.history.undo())

    def redo(self) -> Edit | None:
        return self._follow(self.history.redo())

    def _follow(self, edit: Edit | None) -> Edit | None:
        """After undo/redo the target the step was about is selected (when it still exists)."""
        if edit is not None and edit.target is not None and self.document.has_target(edit.target):
            self.document.select(edit.target)
        return edit

    # ---- correct and continue
    def plan_retrack(self, frame: int, direction: int = 1, options: RetrackOptions | None = None,
                     target: int | None = None) -> TrackingPlan:
        return plan_retrack(self.document, frame, direction, options or self.options, target)

    def begin_run(self, plans, engine: str, options: RetrackOptions | None = None) -> TrackingRun:
        """Open a run over one plan or several (one per target); it is recorded as one undo step."""
        return TrackingRun(self.history, plans, engine, options or self.options)

    # ---- import / export
    def import_file(self, path: str | Path, format: str | None = None, **options) -> Edit | None:
        """Replace the annotations by a file's (one undo step). A bad file changes nothing. A file of a
        format that holds many targets (MOT, COCO-VID, project, research) replaces every target; one of a
        single-object format (OTB, LaSOT, ...) replaces the selected target's frames."""
        from ..formats.registry import detect_format, get_format, read_annotations

        fmt = get_format(format or detect_format(path))
        imported = read_annotations(path, fmt.name, **options)
        what = f"import {Path(path).name}"
        if fmt.many_targets:
            return self.history.execute(replace_all(self.document, imported, what))
        return self.history.execute(replace_track(self.document, list(imported.track()), what))

    def import_ground_truth(self, gt, description: str = "import the sequence's ground truth") -> Edit | None:
        """Take a FrameSource's GroundTruth (boxes, absent) as manual annotations (one undo step)."""
        frames = frames_from_arrays(gt.boxes, gt.absent)
        return self.history.execute(replace_track(self.document, frames, description))

    def export(self, path: str | Path, format: str, **options) -> Path:
        from ..formats.registry import write_annotations

        return write_annotations(self.document, path, format, **options)

    # ---- saving
    @property
    def modified(self) -> bool:
        return self.history.modified

    def save(self, path: str | Path | None = None) -> Path:
        """Save to `path` (or the project's path). Raises InputError with a clear message on failure;
        the previous project file is then unchanged and the autosave keeps the work."""
        job = self.prepare_save(path)
        write_save(job)
        return self.finish_save(job)

    def prepare_save(self, path: str | Path | None = None) -> "SaveJob":
        """A save in three steps, for callers that write in another thread (the studio): take a snapshot
        here, `write_save(job)` anywhere, then `finish_save(job)` here. Edits made while it is written stay
        unsaved (the snapshot's state is what is marked saved)."""
        target = Path(path) if path is not None else self.project_path
        if target is None:
            raise InputError("this sequence has not been saved yet; choose a project file name")
        if self.history.run_in_progress:
            raise InputError("a tracker run is in progress; stop it or let it finish before saving")
        return SaveJob(target, self.document.copy(), self._settings_for_file(), self.history.state())

    def finish_save(self, job: "SaveJob") -> Path:
        """`job` is on disk: mark its state saved, and let the autosave follow the project it shadows."""
        self.history.mark_saved(job.state)
        target = job.target
        if target != self.project_path:
            self.autosaver.discard()
            self.autosaver.close()
            self.project_path = target
            self.autosaver = self._make_autosaver(self.autosaver.enabled)
        elif not self.modified:  # edits made during the write keep their autosave
            self.autosaver.discard()
        return target

    def poll_autosave(self) -> bool:
        return self.autosaver.poll()

    def set_autosave(self, enabled: bool) -> None:
        self.autosaver.enabled = enabled

    def close(self) -> None:
        """Closing with everything saved removes the autosave; with unsaved work it is written now and
        kept, so the next start offers it."""
        if self.history.run_in_progress:
            self.history._run.finish()
        if self.modified:
            if self.autosaver.enabled:
                self.autosaver.save_now()
        else:
            self.autosaver.discard()
        self.autosaver.close()


@dataclass(frozen=True)
class SaveJob:
    """A project save in flight: the file, a snapshot of the document, its settings, the undo state."""

    target: Path
    document: AnnotationDocument
    settings: dict
    state: object


def write_save(job: SaveJob) -> Path:
    """Write a prepared save (any thread: it reads only the snapshot). InputError on failure; the previous
    file is then unchanged."""
    return save_project(job.target, job.document, job.settings)
