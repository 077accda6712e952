"""Annotations in the studio: menus, the annotation overlay, projects, autosave and recovery.

`attach_annotations(window)` adds the Annotate menu and project/import/export entries to File through the
window's hooks (`menu`, `add_action`, `add_view_item`, the model's events, `sourceOpened`, `frameShown`,
`aboutToClose`); it replaces no method of the window. The annotation session itself belongs to the window's
`StudioModel` (app/model.py): boxes drawn or typed become manual keyframes there, every run is written into
its document and recorded as one undo step, whichever button started it. This module only adds commands
that are about annotations (undo, absent, interpolate, re-track to the next keyframe, files) and draws the
annotation box with its provenance.

Recovery: whenever a sequence or a project is opened, the newest autosave of that footage or project that
is newer than the saved project is offered; declined autosaves move to `declined/` and are not offered again.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from tracker.annotation.document import LABEL_COLOURS, Provenance
from tracker.annotation.history import RunInProgress
from tracker.annotation.project import PROJECT_SUFFIX, Recovery, list_recoveries
from tracker.annotation.session import AnnotationSession, SaveJob, find_recoveries, write_save
from tracker.errors import InputError
from tracker.formats.registry import FORMATS

from . import dialogs, export_dialog
from . import overlays as ov
from .annotation_shortcuts import ANNOTATION_SHORTCUTS, BY_ACTION
from .objects_panel import origin_text
from .timeline import ColorStrip
from .workers import FileJob, FileJobDone, FileJobs

AUTOSAVE_POLL_MS = 250
LABEL_TEXT = (235, 235, 235)
PROVENANCE_STYLE = {  # colour, dashed
    Provenance.MANUAL: ((255, 0, 255), False),
    Provenance.TRACKED: ((0, 255, 255), True),
    Provenance.INTERPOLATED: ((255, 160, 0), True),
}


STRIP_COLORS = {  # the provenance strip under the timeline
    None: (70, 70, 70), "absent": (235, 40, 40), Provenance.MANUAL: (255, 0, 255),
    Provenance.TRACKED: (0, 170, 200), Provenance.INTERPOLATED: (255, 160, 0),
}


class ProvenanceStrip(ColorStrip):
    """One column per frame: keyframe (magenta), tracked (cyan), interpolated (orange), absent (red), none (grey)."""

    def __init__(self, parent=None):
        super().__init__(6, parent)
        self.setToolTip("annotations: magenta keyframe, cyan tracked, orange interpolated, red absent, grey none")

    def set_document(self, doc) -> None:
        self.set_colors([] if doc is None else [
            STRIP_COLORS[None if a is None else "absent" if a.absent else a.provenance] for a in doc], STRIP_COLORS[None])


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


class AnnotationController(QObject):
    """The annotation commands of `window`; the session they act on is `window.model.annotations`.

    Exports and project saves are written, and projects read, in the file thread (app.workers.FileJobs);
    writes work on a snapshot of the document; the question before replacing files is asked here, on the GUI thread, before anything is
    written. `exported` / `saved` / `projectLoaded` carry each one's FileJobDone (error None: it went through).
    """

    exported = Signal(object)
    saved = Signal(object)
    projectLoaded = Signal(object)

    def __init__(self, window, autosave_folder: Path | None = None,
                 ask: Callable[[str], bool] | None = None, autosave: bool = True):
        super().__init__(window)
        self.offer_recoveries = autosave  # scripted runs (no autosave) neither write nor offer autosaves
        self.w = window
        self.model = window.model
        self.autosave_folder = autosave_folder
        self.ask = ask or self._ask_dialog  # yes/no questions (tests answer them without a dialog)
        self.autosave_enabled = autosave
        self.model.configure_autosave(autosave_folder, autosave)
        # (footage, project file, Project read) / (footage, recovery): taken once that footage is open
        self._pending_project: tuple[str, Path, object] | None = None
        self._pending_recovery: tuple[str, Recovery] | None = None
        self._last_autosave_error: str | None = None
        self.files = FileJobs(self)
        self._build_overlay()
        self._build_strip()
        self._build_actions()
        self._build_targets()
        window.sourceOpened.connect(self._source_opened)
        window.frameShown.connect(self._show_annotation)
        window.aboutToClose.connect(self._about_to_close)
        self.model.events.annotation_changed.connect(self._document_changed)
        self.model.events.session_replaced.connect(lambda _s: self._update_actions())
        self.model.events.run_finished.connect(lambda _plan, _status: self._update_actions())
        self._timer = QTimer(self, interval=AUTOSAVE_POLL_MS)
        self._timer.timeout.connect(self._poll_autosave)
        self._timer.start()
        self.confirm_unsaved = True  # False: scripted runs, which nobody is there to answer
        window.close_guards.append(self._files_written)
        window.close_guards.append(self._unsaved_guard)

    @property
    def session(self) -> AnnotationSession | None:
        return self.model.annotations

    @property
    def options(self):
        return self.model.options

    # ================================================================== construction
    def _build_strip(self) -> None:
        self.strip = ProvenanceStrip()
        # Under the slider, in the timeline's own column, so frame i lines up with the slider's position i
        # (and with the studio's flag strip above it); below the whole timeline if that column is not found.
        column = None
        row = self.w.timeline.layout()
        for k in range(row.count() if row is not None else 0):
            inner = row.itemAt(k).layout()
            if inner is not None and inner.indexOf(self.w.timeline.slider) >= 0:
                column = inner
        (column or self.w.viewer.layout()).addWidget(self.strip)
        self._strip_timer = QTimer(self, singleShot=True, interval=100)  # at most ~10 redraws a second
        self._strip_timer.timeout.connect(self._refresh_strip)

    def _refresh_strip(self) -> None:
        self.strip.set_document(self.session.document if self.session is not None else None)

    def _build_overlay(self) -> None:
        self.overlay: list = []  # the annotation box and its label (app.overlays descriptions) on screen

    def _action(self, menu: str, key: str, slot: Callable):
        s = BY_ACTION[key]
        return self.w.add_action(menu, s.text, slot, s.keys, key=key)

    def _build_actions(self) -> None:
        file_menu = self.w.menu("File")
        file_menu.addSeparator()
        for key, slot in (("open_project", self.open_project_dialog), ("save_project", self.save_dialog),
                          ("save_project_as", self.save_as_dialog), ("import_annotations", self.import_dialog),
                          ("import_ground_truth", self.import_ground_truth)):
            self._action("File", key, slot)
        export = file_menu.addMenu("Export annotations")
        for name, fmt in FORMATS.items():
            if fmt.write is not None and name != "project":
                export.addAction(f"{name}: {fmt.description}", lambda n=name: self.export_dialog(n))
        autosave = self._action("File", "autosave", lambda: None)
        autosave.setCheckable(True)
        autosave.setChecked(self.autosave_enabled)
        autosave.toggled.connect(self.set_autosave)

        for key, slot in (("undo", self.undo), ("redo", self.redo), (None, None),
                          ("retrack", lambda: self.retrack(1)), ("retrack_back", lambda: self.retrack(-1)),
                          (None, None), ("mark_absent", self.mark_absent), ("clear_frame", self.clear_frame),
                          ("interpolate", self.interpolate), (None, None), ("absent_threshold", self.threshold_dialog)):
            if key is None:
                self.w.menu("Annotate").addSeparator()
            else:
                self._action("Annotate", key, slot)
        self.w.menu("Annotate").addSeparator()
        self._action("Annotate", "next_keyframe", lambda: self.go_to_keyframe(1))
        self._action("Annotate", "prev_keyframe", lambda: self.go_to_keyframe(-1))
        self._action("Help", "annotation_shortcuts", lambda: self.shortcuts_dialog().exec())
        stop = self._action("Annotate", "stop_at_keyframe", lambda: None)
        stop.setCheckable(True)
        stop.setChecked(self.options.stop_at_keyframe)
        stop.toggled.connect(lambda on: self.set_options(stop_at_keyframe=on))
        self._update_actions()

    def _build_targets(self) -> None:
        from PySide6.QtCore import Qt

        from .objects_panel import ObjectsPanel

        for key, slot in (("new_target", self.new_target), ("next_target", lambda: self.cycle_target(1)),
                          ("prev_target", lambda: self.cycle_target(-1)), ("remove_target", self.remove_target),
                          ("promote_candidate", self.promote_candidate),
                          ("edit_labels", lambda: self.panel.labels_dialog()), (None, None),
                          ("split_target", self.split_target), ("merge_target", self.merge_dialog), (None, None),
                          ("track_selected", self.track_selected), ("track_all", self.track_all),
                          ("track_all_n", lambda: self.track_all(count=self.w.n_spin.value())),
                          ("track_all_back", lambda: self.track_all(-1))):
            if key is None:
                self.w.menu("Targets").addSeparator()
                continue
            action = self._action("Targets", key, slot)
            if key in ("next_target", "prev_target"):  # Tab must reach the action, not move the focus
                action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.colour_by_label = False
        by_label = self._action("View", "colour_by_label", lambda: None)
        by_label.setCheckable(True)
        by_label.toggled.connect(self.set_colour_by_label)
        self.panel = ObjectsPanel(self.w, self)
        self.w.add_dock(self.panel)
        self.w.view.viewbox.clicked.connect(self._frame_clicked)
        self.picked_candidate = None  # (frame, Candidate) clicked on, for P

    # ================================================================== targets
    def target_colour(self, target_id: int) -> str:
        """The colour a target is drawn in: its own (by its id, so targets sharing a label stay apart on the
        frame), or its label's with View > Colour targets by label (CVAT's "colour by instance / label")."""
        doc = self.model.document
        if self.colour_by_label:
            return doc.colour(target_id)
        return LABEL_COLOURS[(int(target_id) - 1) % len(LABEL_COLOURS)]

    def set_colour_by_label(self, on: bool) -> None:
        self.colour_by_label = bool(on)
        self.panel.refresh()
        self._show_annotation(self.w.current_index)

    def select_target(self, target_id: int | None) -> None:
        self.model.select_target(target_id)
        self._target_shown()

    def cycle_target(self, step: int = 1) -> int | None:
        tid = self.model.cycle_target(step)
        self._target_shown()
        return tid

    def _target_shown(self) -> None:
        """A target was selected: the engine overlays and box handles now show its track."""
        doc = self.model.document
        if doc is None or doc.selected is None:
            return
        t = doc.target()
        self.picked_candidate = None
        if self.w.current_frame is not None:
            self.w.view.show_overlays(self.w._overlays(self.w.current_index))
            self.w._show_handles(self.w.current_index)
        origin = origin_text(t)
        self.w.show_status(f"Selected {t.name} ({doc.frames_annotated(t.id)} frames annotated"
                           + (f"; {origin})" if origin else ")"))

    def new_target(self) -> int | None:
        """N: a new target, selected, with the box tool on: the box drawn next is its first."""
        try:
            tid = self.model.new_target()
        except InputError as exc:
            self.w.show_message(str(exc))
            return None
        self.w.start_drawing()
        self.w.show_status(f"New target {self.model.document.target(tid).name}: drag its box on the frame")
        return tid

    def remove_target(self, target_id: int | None = None) -> None:
        try:
            if target_id is None:
                target_id = self.model.selected_target
            name = self.model.document.target(target_id).name if self.model.document is not None else ""
            self.model.remove_target(target_id)
        except InputError as exc:
            self.w.show_message(str(exc))
            return
        if self.w.tracker is not None and target_id is not None:
            self.w.tracker.worker.forget(target_id)
        self._target_shown()
        self.w.show_status(f"Removed target {name} (Ctrl+Z brings it back)")

    def split_target(self) -> None:
        """The selected track from this frame on becomes a new target (CVAT's split)."""
        doc = self.model.document
        if doc is not None and doc.selected is not None and self._edit("split_target", doc.selected,
                                                                       self.w.current_index):
            self._target_shown()

    def merge_dialog(self) -> None:
        doc = self.model.document
        if doc is None or doc.selected is None or len(doc.targets) < 2:
            self.w.show_message("Merging needs two targets")
            return
        others = [t.name for t in doc.targets if t.id != doc.selected]
        choice, ok = QInputDialog.getItem(self.w, "Merge tracks", f"Merge which track into {doc.target().name}?",
                                          others, 0, False)
        if ok:
            self.merge_target(int(choice.rsplit("-", 1)[1]))

    def merge_target(self, other: int) -> None:
        doc = self.model.document
        if self._edit("merge_targets", doc.selected, other):
            self._target_shown()

    def change_target(self, target_id: int, **changes) -> None:
        self._edit("change_target", target_id, **changes)

    def set_labels(self, labels, rename: dict[str, str] | None = None) -> bool:
        """The label list replaced (names, colours), targets renamed with it: one undo step."""
        return self._edit("set_labels", labels, rename)

    def track_selected(self, direction: int = 1) -> int | None:
        return self.w.run_frames(None, direction)

    def track_all(self, direction: int = 1, count: int | None = None) -> int | None:
        """Every target that has a box here (and is not locked), `count` frames (None: to the end, or the
        start), one engine each."""
        return self.w.run_frames(count, direction, all_targets=True)

    def _frame_clicked(self, x: float, y: float, right: bool) -> None:
        """Left click: select the target whose box is there, else pick the candidate circle there (P promotes
        it). Right click on a candidate circle: it becomes a new target at once."""
        if self.model.document is None or self.w.tracking:
            return
        index = self.w.current_index
        candidate = self._candidate_at(index, x, y)
        if right:
            if candidate is not None:
                self.promote_candidate(candidate)
            return
        tid = self.model.target_at(index, x, y)
        if tid is not None and tid != self.model.selected_target:
            self.select_target(tid)
        elif tid is None and candidate is not None:
            self.picked_candidate = (index, candidate)
            self.w.show_status(f"Candidate {candidate.object_id} picked: P makes it a new target")

    def _candidate_at(self, index: int, x: float, y: float):
        from .overlays import candidate_radius

        r = self.w.store.get(index)
        if r is None or not r.candidates:
            return None
        radius = candidate_radius(r) + 2
        near = [((c.x - x) ** 2 + (c.y - y) ** 2, k) for k, c in enumerate(r.candidates)
                if (c.x - x) ** 2 + (c.y - y) ** 2 <= radius ** 2]
        return r.candidates[min(near)[1]] if near else None

    def promote_candidate(self, candidate=None) -> int | None:
        """A candidate of this frame becomes a new target (the given one, else the one clicked on, else the
        strongest candidate that is not the one the engine chose)."""
        index = self.w.current_index
        if candidate is None and self.picked_candidate is not None and self.picked_candidate[0] == index:
            candidate = self.picked_candidate[1]
        if candidate is None:
            r = self.w.store.get(index)
            others = [] if r is None else [c for c in r.candidates if c.object_id != r.selected_id]
            if not others:
                self.w.show_message(f"Frame {index} has no candidate besides the target to promote; track first")
                return None
            candidate = max(others, key=lambda c: c.score)
        covering = self.model.target_at(index, candidate.x, candidate.y)  # before the new box is there
        try:
            tid = self.model.promote_candidate(index, candidate)
        except InputError as exc:
            self.w.show_message(str(exc))
            return None
        self.picked_candidate = None
        self._target_shown()
        doc = self.model.document
        t = doc.target(tid)
        self.w.show_status(f"Candidate {candidate.object_id} is now target {t.name}, {origin_text(t)}: "
                           "track it like any other")
        if covering is not None:  # a look-alike inside a target's box is most often that target itself
            self.w.show_message(f"Candidate {candidate.object_id} lies inside {doc.target(covering).name}'s box "
                                f"on frame {index}: is {t.name} the same object? (Ctrl+Z undoes the promotion)")
        return tid

    # ================================================================== session lifecycle
    def _source_opened(self, source) -> None:
        """A sequence is open with a fresh session: take the project asked for, and offer the newest autosave
        of this footage or project."""
        path = str(Path(self.w.source_path).resolve())
        pending_recovery, self._pending_recovery = self._pending_recovery, None
        pending_project, self._pending_project = self._pending_project, None
        pending_recovery = pending_recovery[1] if pending_recovery and pending_recovery[0] == path else None
        project, loaded = pending_project[1:] if pending_project and pending_project[0] == path else (None, None)
        try:
            if project is not None:
                self.model.set_annotations(AnnotationSession(
                    loaded.document, project_path=project, settings=loaded.settings,
                    autosave_folder=self.autosave_folder, autosave_background=True))
            recovery = pending_recovery
            if recovery is None and self.offer_recoveries:
                found = find_recoveries(project, path, self.autosave_folder)
                if found and not self.ask(
                        f"Unsaved annotations of {Path(path).name} from an earlier session were found "
                        f"({found[0].annotated_frames} annotated frames). Recover them?"):
                    for rec in found:
                        self._decline(rec)
                elif found:
                    recovery = found[0]
            if recovery is not None:
                recovered = AnnotationSession.recover(recovery, autosave_folder=self.autosave_folder,
                                                      autosave_background=True)
                if len(recovered.document) == self.model.num_frames:
                    self.model.set_annotations(recovered)
                    self.w.show_status(f"Recovered {recovery.annotated_frames} annotated frames "
                                       f"from the autosave {recovery.autosave}")
                else:
                    recovered.autosaver.close()
                    self.w.show_message(f"The autosave {recovery.autosave} has {len(recovered.document)} "
                                        f"frames, this sequence {self.model.num_frames}; not recovered")
        except InputError as exc:
            self.w.show_message(str(exc))
        self._update_actions()
        self._refresh_strip()

    def _unsaved_guard(self, doing: str) -> bool:
        """Unsaved annotations before quitting or opening other footage: Save, Don't save (they stay in the
        autosave, offered at the next start) or Cancel."""
        if not self.confirm_unsaved or self.session is None or not self.session.modified:
            return True
        name = self.session.document.name
        answer = dialogs.ask(self.w, f"The annotations of {name} have unsaved changes. Save them before you "
                             f"{doing}?\n(Don't save keeps them in the autosave, offered at the next start.)",
                             ("save", "discard", "cancel"))
        if answer == "save":
            return self.save(wait=True) is not None  # the footage closes next: written before it does
        return answer == "discard"

    def _files_written(self, _doing: str) -> bool:
        """Before the footage closes: saves and exports in flight finish and are recorded first."""
        self.files.flush()
        return True

    def _about_to_close(self) -> None:
        self._timer.stop()
        self.files.shutdown()

    def offer_recovery_at_start(self) -> bool:
        """At start without a path: offer the newest autosave (if any). True when one was recovered."""
        for rec in list_recoveries(self.autosave_folder):
            try:
                project = rec.load()
            except InputError:
                continue
            source = project.document.source
            if not source or not Path(source).exists():
                continue
            if self.ask(f"Unsaved annotations of {Path(source).name} from an earlier session were found "
                        f"({rec.annotated_frames} annotated frames). Open the sequence and recover them?"):
                self._pending_recovery = (str(Path(source).resolve()), rec)
                if self.w.open_path(source):
                    return True
                self._pending_recovery = None
            else:
                self._decline(rec)
            return False
        return False

    def _decline(self, recovery: Recovery) -> None:
        """Not wanted now: move the autosave aside (into declined/), so it is not offered again but not lost."""
        aside = recovery.autosave.parent / "declined" / recovery.autosave.name
        try:
            aside.parent.mkdir(parents=True, exist_ok=True)
            recovery.autosave.replace(aside)
            self.w.show_status(f"The earlier autosave was moved to {aside}")
        except OSError as exc:
            self.w.show_message(f"Could not move the autosave {recovery.autosave} aside: {exc}")

    # ================================================================== edits
    def _edit(self, method: str, *args, **kwargs) -> bool:
        """Call session.<method>; errors become messages in the window. True when it went through."""
        if self.session is None:
            self.w.show_message("Open a video or sequence first")
            return False
        try:
            getattr(self.session, method)(*args, **kwargs)
        except RunInProgress:
            self.w.show_message("Tracking is running; stop it (Esc) before editing annotations")
            return False
        except InputError as exc:
            self.w.show_message(str(exc))
            return False
        return True

    def mark_absent(self) -> None:
        if self._edit("mark_absent", self.w.current_index):
            self.w.view.hide_box()

    def clear_frame(self) -> None:
        self._edit("clear", [self.w.current_index])

    def interpolate(self) -> None:
        if self._edit("interpolate"):
            self.w.show_status("Interpolated between manual keyframes (never through absent frames)")

    def undo(self) -> None:
        self._undo_redo("undo")

    def redo(self) -> None:
        self._undo_redo("redo")

    def _undo_redo(self, which: str) -> None:
        if self.session is None:
            return
        try:
            edit = getattr(self.session, which)()
        except RunInProgress:
            self.w.show_message("Tracking is running; stop it (Esc) before undoing")
            return
        if edit is None:
            self.w.show_status(f"Nothing to {which}")
            return
        self.w.show_status(f"{which.capitalize()}: {edit.description}")
        self.w.go_to(edit.frame)

    def set_options(self, **changes) -> None:
        self.model.set_options(**changes)

    def threshold_dialog(self) -> None:
        current = self.options.absent_below if self.options.absent_below is not None else 0.0
        value, ok = QInputDialog.getDouble(self.w, "Automatic absent",
                                           "Mark tracked frames absent when the presence score is below "
                                           "(0 = never):", current, 0.0, 1.0, 2)
        if ok:
            self.set_absent_threshold(value if value > 0 else None)

    def set_absent_threshold(self, absent_below: float | None) -> None:
        """Use the threshold for later runs and re-decide the frames tracked so far (one undo step)."""
        self.set_options(absent_below=absent_below)
        if self.session is not None:
            self._edit("set_absent_threshold", absent_below)

    # ================================================================== tracking
    def retrack(self, direction: int = 1) -> int | None:
        """Re-initialise on the current frame's box and track until the next manual keyframe, or, where the
        target has none that way, over the rest of its track (a correction replaces what was tracked after
        it; it does not run on through frames nobody asked for)."""
        count = None
        doc = self.model.document
        index = self.w.current_index
        if doc is not None and doc.selected is not None and 0 <= index < len(doc) and \
                not (self.options.stop_at_keyframe and doc.next_keyframe(index, direction) is not None):
            beyond = [i for i in doc.track(doc.selected).annotated_frames() if (i - index) * direction > 0]
            if beyond:
                count = abs(max(beyond, key=lambda i: i * direction) - index)
        return self.w.run_frames(count, direction, until_keyframe=self.options.stop_at_keyframe,
                                 reinitialise=True)

    # ================================================================== display
    def _document_changed(self, frames) -> None:
        if self.w.current_index in frames:
            self._show_annotation(self.w.current_index)
        self._update_actions()
        if not self._strip_timer.isActive():
            self._strip_timer.start()

    def go_to_keyframe(self, direction: int) -> int | None:
        if self.session is None:
            return None
        k = self.session.document.next_keyframe(self.w.current_index, direction)
        if k is None:
            self.w.show_status("No keyframe " + ("after" if direction > 0 else "before") + " this frame")
            return None
        self.w.go_to(k)
        return k

    def _show_annotation(self, index: int) -> None:
        """Every visible target's box on this frame, drawn by the frame view with the engine's overlays (labels
        placed off the targets and off each other): the selected one by provenance (colour, dashes) with its
        state, the others in their colour (`target_colour`) with their name."""
        doc = None if self.session is None else self.session.document
        items: list = []
        if doc is not None and 0 <= index < len(doc):
            many = len(doc.targets) > 1
            for t in doc.targets:
                if not t.visible or t.id == doc.selected:
                    continue
                a = doc.track(t.id)[index]
                if a is None or a.box is None:
                    continue
                colour = _rgb(self.target_colour(t.id))
                x, y, w, h = a.box
                items.append(ov.Rect(x, y, w, h, colour, 1.5, not a.is_keyframe, keep_clear=True))
                items.append(ov.Text(x, y, t.name, LABEL_TEXT, fill_alpha=170, border=colour, near=(x, y, w, h),
                                     side="above", priority=3))
            a = doc[index] if doc.selected is not None and doc.target().visible else None
            prefix = f"{doc.target().name} " if many and doc.selected is not None else ""
            if a is not None and a.box is None:
                items.append(ov.Text(4, 4, f"{prefix}absent ({a.provenance.value})", LABEL_TEXT))
            elif a is not None:
                color, dashed = PROVENANCE_STYLE[a.provenance]
                x, y, w, h = a.box
                text = "keyframe" if a.is_keyframe else a.provenance.value
                if a.presence is not None:
                    text += f" {a.presence:.2f}"
                items.append(ov.Rect(x, y, w, h, color, 2.0 if not many else 2.5, dashed, keep_clear=True))
                items.append(ov.Text(x, y, prefix + text, LABEL_TEXT, fill_alpha=190, near=(x, y, w, h),
                                     side="above", priority=1,
                                     border=_rgb(self.target_colour(doc.selected)) if many else None))
        self.overlay = items
        self.w.view.set_layer("annotation", items)

    def _update_actions(self) -> None:
        h = self.session.history if self.session is not None else None
        undo, redo = self.w.action("undo"), self.w.action("redo")
        undo.setEnabled(h is not None and h.can_undo)
        redo.setEnabled(h is not None and h.can_redo)
        undo.setText(f"Undo {h.undo_description}" if h is not None and h.undo_description else BY_ACTION["undo"].text)
        redo.setText(f"Redo {h.redo_description}" if h is not None and h.redo_description else BY_ACTION["redo"].text)
        title = self.w.windowTitle().removesuffix(" *")
        wanted = f"{title} *" if h is not None and h.modified else title  # " *": unsaved annotations
        if wanted != self.w.windowTitle():
            self.w.setWindowTitle(wanted)

    def _poll_autosave(self) -> None:
        if self.session is None:  # (during a run too: a crash mid-run keeps what was tracked)
            return
        self.session.poll_autosave()
        err = self.session.autosaver.last_error
        if err and err != self._last_autosave_error:
            self.w.show_message(f"{err}. Your work is still in memory; save it elsewhere (File > Save project as)")
        self._last_autosave_error = err

    def set_autosave(self, on: bool) -> None:
        self.autosave_enabled = on
        self.model.configure_autosave(self.autosave_folder, on)

    # ================================================================== files
    def save(self, path: str | Path | None = None, wait: bool = False) -> Path | None:
        """Save the project (to `path`, else its own file; neither: Save as). Written in the file thread
        (`saved` says how it went); `wait`: here and now (before the footage closes). Returns the file
        being written, None where nothing is."""
        if self.session is None:
            self.w.show_message("Open a video or sequence first")
            return None
        if path is None and self.session.project_path is None:
            return self.save_as_dialog(wait)
        session = self.session
        try:
            job = session.prepare_save(path)
        except InputError as exc:
            self.w.show_message(f"Not saved: {exc}")
            return None
        if not wait:
            self.w.show_status(f"Saving {job.target}...")
            self.files.submit(FileJob("save", job.target, save=job), lambda done: self._saved(done, session, job))
            return job.target
        try:
            written, error = write_save(job), None
        except InputError as exc:
            written, error = None, str(exc)
        self._saved(FileJobDone(0, "save", job.target, written=written, error=error), session, job)
        return written

    def _saved(self, done: FileJobDone, session: AnnotationSession, job: SaveJob) -> None:
        if done.error is not None:
            self.w.show_message(f"Not saved: {done.error}")
        else:
            session.finish_save(job)
            export_dialog.remember(self.w.settings, job.target, export_dialog.PROJECT_FOLDER_KEY)
            if session is self.session:
                self._update_actions()
                self.w.clear_message()
                self.w.show_status(f"Saved {job.target}")
        self.saved.emit(done)

    def open_project(self, path: str | Path) -> bool:
        """Open a project: the file is read in the file thread, then its sequence is opened, then its
        annotations are taken (once the sequence is open: `sourceOpened`). `projectLoaded` says how the read
        went."""
        path = Path(path)
        self.w.show_status(f"Opening project {path}...")
        self.files.submit(FileJob("load", path), self._project_loaded)
        return True

    def _project_loaded(self, done: FileJobDone) -> None:
        self.projectLoaded.emit(done)
        if done.error is not None:
            self.w.show_message(done.error)
            return
        source = done.loaded.document.source
        if not source or not Path(source).exists():
            self.w.show_message(f"The sequence of project {done.path} ({source}) cannot be found")
            return
        self._pending_project = (str(Path(source).resolve()), done.path, done.loaded)
        if not self.w.open_path(source):
            self._pending_project = None

    def import_file(self, path: str | Path, format: str | None = None, **options) -> bool:
        if self.session is None:
            self.w.show_message("Open a video or sequence first")
            return False
        if self._edit("import_file", path, format, **options):
            self.w.show_status(f"Imported {path} (Ctrl+Z undoes the import)")
            return True
        return False

    def import_ground_truth(self) -> bool:
        """The open sequence's own ground truth (OTB, LaSOT, GOT-10k folders) as manual annotations."""
        gt = self.w.source.ground_truth if self.w.source is not None else None
        if gt is None:
            self.w.show_message("This sequence has no ground truth of its own; use File > Import annotations")
            return False
        if self._edit("import_ground_truth", gt, f"import ground truth {Path(gt.path).name}"):
            self.w.show_status(f"Imported the ground truth {gt.path} (Ctrl+Z undoes it)")
            return True
        return False

    def export(self, path: str | Path, format: str) -> bool:
        """Export a snapshot of the annotations, in the file thread: first which files it would replace,
        then (asked here where any would be: app/export_dialog.py) the write. `exported` says how it went.
        False where no export was started."""
        if self.session is None:
            self.w.show_message("Open a video or sequence first")
            return False
        snapshot = self.session.document.copy()
        self.w.show_status(f"Exporting {format} to {path}...")
        self.files.submit(FileJob("check", Path(path), snapshot, format),
                          lambda done: self._export_checked(done, snapshot))
        return True

    def _export_checked(self, done: FileJobDone, snapshot) -> None:
        if done.error is None and not export_dialog.ask_replace(self.w, list(done.replaced)):
            self.w.show_status(f"Not exported: {done.path} left as it was")
            self.exported.emit(done)
            return
        if done.error is not None:
            self._exported(done)
            return
        self.files.submit(FileJob("export", done.path, snapshot, done.format), self._exported)

    def _exported(self, done: FileJobDone) -> None:
        if done.error is not None:
            self.w.show_message(f"Export failed: {done.error}")
        else:
            export_dialog.remember(self.w.settings, done.path)
            self.w.clear_message()
            self.w.show_status(f"Exported {done.format} to {done.written}")
        self.exported.emit(done)

    # ---- dialogs (thin wrappers around the methods above)
    def _start_dir(self) -> str:
        if self.session is not None and self.session.project_path is not None:
            return str(self.session.project_path.parent)
        return str(Path(self.w.source_path).parent) if self.w.source_path else str(Path.home())

    def save_dialog(self) -> Path | None:
        return self.save()

    def save_as_dialog(self, wait: bool = False) -> Path | None:
        if self.session is None:
            self.w.show_message("Open a video or sequence first")
            return None
        folder = (self.session.project_path.parent if self.session.project_path is not None
                  else export_dialog.start_folder(self.w.settings, export_dialog.PROJECT_FOLDER_KEY))
        default = str(Path(folder) / f"{self.session.document.name}{PROJECT_SUFFIX}")
        path = dialogs.get_save_path(self.w, "Save project", default, f"KeepTrack Studio project (*{PROJECT_SUFFIX})")
        if not path:
            return None
        if Path(path).exists() and Path(path) != self.session.project_path and \
                not export_dialog.ask_replace(self.w, [Path(path)]):
            return None
        return self.save(path, wait)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open project", self._start_dir(),
                                              f"KeepTrack Studio project (*{PROJECT_SUFFIX});;All (*)")
        if path:
            self.open_project(path)

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Import annotations (OTB, LaSOT, GOT-10k, MOT, COCO-VID, "
                                              "VOT, pytracking results, research JSON lines)", self._start_dir())
        if not path:
            return
        options = {}
        try:
            from tracker.formats import mot
            from tracker.formats.registry import detect_format

            if detect_format(path) == "mot" and len(ids := mot.track_ids(path)) > 1:
                every = f"all {len(ids)} tracks"
                choice, ok = QInputDialog.getItem(self.w, "Import MOT tracks", "Which tracks (object ids)?",
                                                  [every] + [str(i) for i in ids], 0, False)
                if not ok:
                    return
                if choice != every:
                    options["object_id"] = int(choice)
        except InputError:
            pass  # import_file reports it
        self.import_file(path, **options)

    def export_dialog(self, format: str) -> None:
        fmt = FORMATS[format]
        start = export_dialog.start_folder(self.w.settings)
        if fmt.target == "folder":
            path = dialogs.get_folder(self.w, f"Export {format} into folder", start)
        else:
            name = self.session.document.name if self.session is not None else "annotations"
            path = dialogs.get_save_path(self.w, f"Export {format}", str(Path(start) / f"{name}{fmt.suffix}"))
        if path:
            self.export(path, format)

    def shortcuts_dialog(self):
        """The studio's shortcut table dialog, listing the annotation shortcuts."""
        from PySide6.QtWidgets import QTableWidgetItem

        from .dialogs import ShortcutsDialog

        dialog = ShortcutsDialog(self.w)
        dialog.setWindowTitle("Annotation shortcuts")
        table = dialog.table
        table.setRowCount(len(ANNOTATION_SHORTCUTS))
        for r, sc in enumerate(ANNOTATION_SHORTCUTS):
            for c, text in enumerate((sc.group, sc.keys, sc.text)):
                table.setItem(r, c, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        return dialog

    def _ask_dialog(self, text: str) -> bool:
        return dialogs.ask(self.w, text, ("yes", "no")) == "yes"


def attach_annotations(window, autosave_folder: Path | None = None,
                       ask: Callable[[str], bool] | None = None, autosave: bool = True) -> AnnotationController:
    """Give `window` annotations; `autosave=False` for scripted runs (nothing is left behind)."""
    controller = AnnotationController(window, autosave_folder, ask, autosave)
    window.annotations = controller
    return controller


__all__ = ["AnnotationController", "attach_annotations", "ANNOTATION_SHORTCUTS"]
