"""The studio's comparison views: several trackers' boxes on the frame, a per-frame IoU strip per tracker
under the timeline, a dock with the trackers (colour, AUC, IoU and object id on this frame) and the open
sequence's success curves, and keys to jump to the selected tracker's next failure or identity switch.

`attach_compare(window)` adds all of it through the window's hooks (`add_action`, `view.set_layer`, docks,
`timeline.add_strip`, `sourceOpened`, `frameShown`, the model's events). The state is the Qt-free
`app.compare.Comparison`; the views here only listen to it. Result files are read and scored in a worker
thread; only plain data (`Entry` objects) comes back to the GUI thread.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (QDockWidget, QDoubleSpinBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from tracker.errors import InputError

from .annotation_shortcuts import ANNOTATION_SHORTCUTS
from .compare import (CURRENT_RUN, Comparison, SequenceInfo, TrackChoice, boxes_from_records, counted,
                      load_trackers, score_tracker)
from .shortcuts import SHORTCUTS, Shortcut
from .timeline import ColorStrip
from .workers import describe_error

COMPARE_SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("compare_load_files", "Ctrl+L", "Load result files to compare...", "Compare"),
    Shortcut("compare_load_folder", "Ctrl+Shift+L", "Load a result folder to compare...", "Compare"),
    Shortcut("next_failure", "]", "Next failure of the selected tracker (IoU below the threshold)", "Compare"),
    Shortcut("prev_failure", "[", "Previous failure of the selected tracker", "Compare"),
    Shortcut("next_id_switch", "Ctrl+]", "Next object id switch of the selected tracker", "Compare"),
    Shortcut("prev_id_switch", "Ctrl+[", "Previous object id switch of the selected tracker", "Compare"),
    Shortcut("next_tracker", "\\", "Select the next tracker", "Compare"),
    Shortcut("failure_threshold", "", "Failure threshold...", "Compare"),
    Shortcut("remove_tracker", "", "Remove the selected tracker", "Compare"),
    Shortcut("toggle_compare", "Shift+D", "Show / hide the comparison dock", "View"),
)
BY_ACTION = {s.action: s for s in COMPARE_SHORTCUTS}
_taken = {s.keys for s in (*SHORTCUTS, *ANNOTATION_SHORTCUTS) if s.keys}
_clash = {s.keys for s in COMPARE_SHORTCUTS if s.keys} & _taken
assert not _clash, f"comparison shortcuts clash with the studio's: {_clash}"

NO_SCORE_COLOR = (70, 70, 70)
FAIL_COLOR = (225, 45, 45)


def iou_colors(iou: np.ndarray, threshold: float) -> np.ndarray:
    """(N, 3) uint8 strip colours per frame: red below the threshold, yellow at it to green at IoU 1, grey
    where unscored."""
    iou = np.asarray(iou, dtype=np.float64)
    t = np.clip((np.nan_to_num(iou, nan=0.0) - threshold) / max(1.0 - threshold, 1e-9), 0.0, 1.0)[:, None]
    out = (np.array([235, 200, 40]) + t * np.array([-195, 20, 20])).astype(np.uint8)
    out[~np.isnan(iou) & (iou < threshold)] = FAIL_COLOR
    out[np.isnan(iou)] = NO_SCORE_COLOR
    return out


class IouStrip(ColorStrip):
    """One tracker's per-frame IoU under the timeline; its colour is drawn in the margins on both sides."""

    def __init__(self, name: str, parent=None):
        super().__init__(7, parent)
        self.name = name
        self.color = (255, 255, 255)
        self.selected = False

    def set_iou(self, iou: np.ndarray, threshold: float, color, selected: bool) -> None:
        self.color, self.selected = color, selected
        self.setToolTip(f"{self.name}: IoU per frame (red below {threshold:.2f}, grey: not scored)"
                        + (" - selected" if selected else ""))
        rgb = np.ascontiguousarray(iou_colors(iou, threshold)[None] if len(iou) else
                                   np.array([[NO_SCORE_COLOR]], np.uint8))
        self.rgb = rgb[0]  # the colour of every frame (ColorStrip's per-frame list would cost a call per frame)
        # one bulk copy, not a call per frame: a long sequence's strips redraw on every selection change
        self._image = QImage(rgb.data, rgb.shape[1], 1, 3 * rgb.shape[1], QImage.Format.Format_RGB888).copy()
        self.update()

    def paintEvent(self, event):
        super().paintEvent(event)
        painter = QPainter(self)
        c = QColor(*self.color)
        w = 5 if self.selected else 3
        painter.fillRect(QRect(0, 0, w, self.height()), c)
        painter.fillRect(QRect(self.width() - w, 0, w, self.height()), c)
        painter.end()


class IouStrips(QWidget):
    """The strips of every compared tracker (in the comparison's order), or a line saying why there are none."""

    def __init__(self, comparison: Comparison, parent=None):
        super().__init__(parent)
        self.comparison = comparison
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 1, 0, 0)
        self.layout_.setSpacing(1)
        self.note = QLabel("")
        self.note.setStyleSheet("color:#c0c0c0; font-size: 10px;")
        self.layout_.addWidget(self.note)
        self.strips: dict[str, IouStrip] = {}
        comparison.events.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        c = self.comparison
        for name in list(self.strips):
            if name not in c.entries:
                strip = self.strips.pop(name)
                self.layout_.removeWidget(strip)
                strip.deleteLater()
        for k, (name, entry) in enumerate(c.entries.items()):
            strip = self.strips.get(name)
            if strip is None:
                strip = self.strips[name] = IouStrip(name)
            if self.layout_.indexOf(strip) != k:
                self.layout_.removeWidget(strip)
                self.layout_.insertWidget(k, strip)
            strip.set_iou(entry.iou, c.threshold, c.colors[name], name == c.selected)
        note = c.note if c.entries else None
        self.note.setText(f"IoU strips: {note}" if note else "")
        self.note.setVisible(bool(note))
        self.setVisible(bool(c.entries))


class CompareDock(QDockWidget):
    """The trackers (colour, name, AUC, IoU and id on the frame shown) and the success curves."""

    trackerClicked = Signal(str)

    COLUMNS = ("", "tracker", "AUC", "IoU here", "id here")

    def __init__(self, comparison: Comparison, parent=None):
        super().__init__("Compare", parent)
        self.setObjectName("compare_dock")
        self.comparison = comparison
        self.frame = 0
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        self.load_files_button = QPushButton("Load files...")
        self.load_folder_button = QPushButton("Load folder...")
        self.remove_button = QPushButton("Remove")
        row.addWidget(self.load_files_button)
        row.addWidget(self.load_folder_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        row.addWidget(QLabel("fail below IoU"))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setKeyboardTracking(False)
        self.threshold.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # no keyboard trap for [ ] and the rest
        self.threshold.setValue(comparison.threshold)
        row.addWidget(self.threshold)
        lay.addLayout(row)
        self.note = QLabel("Load result files (Ctrl+L) or a result folder (Ctrl+Shift+L) to compare trackers "
                           "on this sequence; the current run joins by itself.")
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        split = QSplitter(Qt.Orientation.Vertical)
        lay.addWidget(split, 1)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the window's keys keep working after a click
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate((18, 130, 50, 64)):
            self.table.setColumnWidth(col, width)
        self.table.cellClicked.connect(self._clicked)
        split.addWidget(self.table)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "Overlap threshold")
        self.plot.setLabel("left", "Overlap precision [%]")
        self.plot.setXRange(0, 1, padding=0)
        self.plot.setYRange(0, 100, padding=0.02)
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setTitle("Success plot")
        self.legend = self.plot.addLegend(offset=(10, -10))  # bottom left, like pytracking's success plot
        split.addWidget(self.plot)
        split.setSizes([170, 260])
        self.setWidget(body)
        self.curves: dict[str, pg.PlotDataItem] = {}
        comparison.events.changed.connect(self.refresh)
        self.refresh()

    def _clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 1)
        if item is not None:
            self.trackerClicked.emit(item.text())

    def row_of(self, name: str) -> int:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 1).text() == name:
                return r
        raise KeyError(name)

    def refresh(self) -> None:
        c = self.comparison
        self.table.setRowCount(len(c.entries))
        for r, (name, e) in enumerate(c.entries.items()):
            swatch = QTableWidgetItem("")
            swatch.setData(Qt.ItemDataRole.DecorationRole, QColor(*c.colors[name]))  # stays visible when selected
            self.table.setItem(r, 0, swatch)
            item = QTableWidgetItem(name)
            item.setToolTip(e.tracker.origin + (f"\n{e.why}" if e.why else ""))
            self.table.setItem(r, 1, item)
            auc = QTableWidgetItem(f"{e.metrics.auc:.1f}" if e.metrics is not None else "-")
            auc.setToolTip(e.why or "AUC of the success curve, as `main.py eval` prints it")
            self.table.setItem(r, 2, auc)
        if c.selected in c.entries:
            self.table.selectRow(self.row_of(c.selected))
        self.threshold.blockSignals(True)
        self.threshold.setValue(c.threshold)
        self.threshold.blockSignals(False)
        notes = []
        if c.note and c.entries:
            notes.append(c.note)
        notes += [e.why for e in c.entries.values() if e.why and e.why != c.note]
        if c.entries:
            notes.append("ground truth: white dashed (View > Overlay: ground truth). Keys: ] [ failures, "
                         "Ctrl+] Ctrl+[ id switches, \\ next tracker")
        self.note.setText("\n".join(notes) if notes else self.note.text())
        self._draw_curves()
        self.show_frame(self.frame)

    def _draw_curves(self) -> None:
        c = self.comparison
        for item in self.curves.values():
            self.plot.removeItem(item)
        self.legend.clear()
        self.curves = {}
        for name, label, curve in c.success_legend():  # best first: the legend's order
            pen = pg.mkPen(c.colors[name], width=3 if name == c.selected else 2)
            self.curves[name] = self.plot.plot(curve.x, curve.y, pen=pen, name=label)

    def legend_labels(self) -> list[str]:
        """The success plot's legend, top to bottom, as drawn."""
        return [label.text for _sample, label in self.legend.items]

    def show_frame(self, index: int) -> None:
        self.frame = index
        for r, (name, _color, _box, iou, oid) in enumerate(self.comparison.at(index)):
            self.table.setItem(r, 3, QTableWidgetItem("-" if math.isnan(iou) else f"{iou:.2f}"))
            ids = self.comparison.entries[name].tracker.ids
            self.table.setItem(r, 4, QTableWidgetItem("no ids" if ids is None else "-" if oid is None else str(oid)))


class CompareOverlay:
    """Every compared tracker's box on the frame, labelled with its name (and object id): a layer of the
    frame view (`Comparison.overlay`), whose labels the view places with the engine's and the annotation's."""

    KEY = "compare"
    Z = 12  # above the studio's overlays, below the annotation box and the box tool

    def __init__(self, view):
        self.view = view

    def show(self, descriptions: list) -> None:
        self.view.set_layer(self.KEY, descriptions, self.Z)

    def visible_boxes(self) -> dict[str, tuple[float, float, float, float]]:
        """name -> the box drawn now (for tests and screenshots), from the layer's drawn items."""
        drawn = list(zip(self.view.layer_descriptions.get(self.KEY, []), self.view.overlay_items.get(self.KEY, [])))
        out = {}
        for (_box, item), (label, _) in zip(drawn[::2], drawn[1::2]):  # each box is followed by its label
            if item.isVisible():
                r = item.rect()
                out[label.text.split(" #")[0]] = (r.x(), r.y(), r.width(), r.height())
        return out


class CompareController(QObject):
    """Wires a `Comparison` into `window`: loading in a worker, the current run, keys, dock, strips, overlay."""

    loaded = Signal()  # a load or a current-run update has been applied (tests wait on it)
    _done = Signal(int, object)  # (generation, (entries, errors)) from a worker thread

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.comparison = Comparison()
        self.errors: list[str] = []
        self._generation = 0  # bumped for every sequence: a worker's late answer for another one is dropped
        self._jobs = 0
        self._current_pending = False
        self._done.connect(self._apply, Qt.ConnectionType.QueuedConnection)
        self.dock = CompareDock(self.comparison, window)
        window.add_dock(self.dock)
        window.tabifyDockWidget(window.debug_dock, self.dock)
        window.debug_dock.raise_()
        self.strips = IouStrips(self.comparison)
        window.timeline.add_strip(self.strips)
        self.overlay = CompareOverlay(window.view)
        self.comparison.events.changed.connect(self._show_frame)
        self.dock.trackerClicked.connect(self.select)
        self.dock.threshold.valueChanged.connect(self.set_threshold)
        self.dock.load_files_button.clicked.connect(self.load_files_dialog)
        self.dock.load_folder_button.clicked.connect(self.load_folder_dialog)
        self.dock.remove_button.clicked.connect(self.remove_selected)
        self._build_actions()
        window.sourceOpened.connect(self._source_opened)
        window.frameShown.connect(lambda _i: self._show_frame())
        model = window.model
        model.events.run_finished.connect(lambda _plan, _status: self.refresh_current_run())
        model.events.session_replaced.connect(lambda _s: self.refresh_current_run())
        model.events.annotation_changed.connect(self._annotation_changed)

    def _build_actions(self) -> None:
        for key, slot in (("compare_load_files", self.load_files_dialog),
                          ("compare_load_folder", self.load_folder_dialog),
                          ("next_failure", lambda: self.jump("failure", 1)),
                          ("prev_failure", lambda: self.jump("failure", -1)),
                          ("next_id_switch", lambda: self.jump("id_switch", 1)),
                          ("prev_id_switch", lambda: self.jump("id_switch", -1)),
                          ("next_tracker", self.select_next),
                          ("failure_threshold", self.threshold_dialog),
                          ("remove_tracker", self.remove_selected)):
            s = BY_ACTION[key]
            self.w.add_action(s.group, s.text, slot, s.keys, key=key)
        toggle = self.dock.toggleViewAction()
        toggle.setShortcut(QKeySequence(BY_ACTION["toggle_compare"].keys))
        self.w.addAction(toggle)
        self.w.menu("View").addAction(toggle)

    # ================================================================== state in, views out
    @property
    def busy(self) -> bool:
        """A worker is still reading or scoring, or the current run's update is still due."""
        return self._jobs > 0 or self._current_pending

    def _source_opened(self, source) -> None:
        self._generation += 1
        self.errors = []
        self.comparison.reset(SequenceInfo.of(source, self.w.num_frames))
        self.refresh_current_run()

    def _show_frame(self) -> None:
        i = self.w.current_index
        self.overlay.show(self.comparison.overlay(i) if self.comparison.info is not None else [])
        self.dock.show_frame(i)

    def _run(self, job: Callable[[], tuple[list, list, list]]) -> None:
        """job() in a worker thread; its (entries, errors, track choices) come back to `_apply` in the GUI
        thread."""
        generation = self._generation
        self._jobs += 1

        def work():
            try:
                outcome = job()
            except Exception as exc:  # noqa: BLE001 - a message in the window, never a dead thread
                outcome = ([], [describe_error(exc)], [])
            try:
                self._done.emit(generation, outcome)
            except RuntimeError:  # the window closed meanwhile
                pass

        threading.Thread(target=work, name="compare-load", daemon=True).start()

    def _apply(self, generation: int, outcome) -> None:
        self._jobs -= 1
        if generation != self._generation or self.comparison.info is None:
            return
        entries, errors, choices = outcome
        # The current run joins quietly (after every run); trackers the user loaded bring the dock forward (it
        # shares a tab with Debug) the first time on this sequence, and the status line names them.
        loaded = [e for e in entries if e is not None and e.name != CURRENT_RUN]
        if loaded and not any(name != CURRENT_RUN for name in self.comparison.entries):
            self.dock.raise_()
        for entry in entries:
            if entry is None:  # the current run has no results (any more)
                self.comparison.remove(CURRENT_RUN)
            else:
                self.comparison.put(entry)
        if errors:
            self.errors += errors
            self.w.show_message("Not compared: " + "; ".join(errors))
        elif loaded:
            shown = counted(len(self.comparison.entries), "tracker")
            self.w.show_status(f"Comparing {shown} on {self.comparison.info.name}")
        self.loaded.emit()
        for choice in choices:  # asked after the others are shown; the answer loads in a worker again
            self._ask_track(choice)

    def _ask_track(self, choice: TrackChoice) -> None:
        items = [f"track {tid} ({label})" for tid, label in choice.tracks]
        item, ok = QInputDialog.getItem(self.w, "Which track to compare?", choice.question, items, 0, False)
        if not ok or item not in items:
            self.w.show_status(f"Not compared: {choice.path.name} (no track chosen)")
            return
        self.load([choice.path], tracks={str(choice.path): choice.tracks[items.index(item)][0]})

    # ================================================================== loading
    def load(self, paths: Sequence[str | Path], tracks: dict[str, int] | None = None) -> bool:
        """Read and score result files, folders, research records or multi-object files for the open sequence,
        in a worker; a multi-object file gives the track of the selected target (`tracks`: path -> track id
        chosen by the user). False (with a message) where no sequence is open."""
        info = self.comparison.info
        if info is None or self.w.source is None:
            self.w.show_message("Open a sequence first; results are compared on the open sequence")
            return False
        convention = self.comparison.convention
        what = counted(len(paths), "result file or folder", "result files or folders")
        self.w.show_status(f"Reading {what} for {info.name}...")
        doc = self.w.model.document
        target = None
        if doc is not None and doc.selected is not None:
            t = doc.target()
            target = (t.id, t.label)
        self._run(lambda: load_trackers(list(paths), info, convention, target, tracks))
        return True

    def refresh_current_run(self) -> None:
        """Take the current run's engine results into the comparison (scored in a worker)."""
        info = self.comparison.info
        doc = self.w.model.document
        if info is None:
            return
        records = {} if doc is None else dict(doc.debug_records)  # a snapshot: the worker never reads the document
        if not records and CURRENT_RUN not in self.comparison.entries:
            return
        convention = self.comparison.convention
        engines = sorted({a.engine for i in records if (a := doc[i]) is not None and a.engine})
        origin = "the engine results of this session" + (f" ({', '.join(engines)})" if engines else "")

        def job():
            if not records:
                return [None], [], []
            tracker = boxes_from_records(CURRENT_RUN, records, info.num_frames, origin)
            return [score_tracker(tracker, info, convention)], [], []

        self._run(job)

    def _annotation_changed(self, _frames) -> None:
        # during a run the results arrive as annotation changes; the comparison follows at run end (and after
        # an undo or redo, which also lands here)
        if not self.w.model.running and not self._current_pending:
            self._current_pending = True

            def go():
                self._current_pending = False
                self.refresh_current_run()

            QTimer.singleShot(200, go)

    def load_files_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.w, "Load result files to compare", self._start_dir(),
                                                "Result files (*.txt *.jsonl *.json);;All (*)")
        if paths:
            self.load(paths)

    def load_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self.w, "Load a result folder (pytracking layout) to compare",
                                                self._start_dir())
        if path:
            self.load([path])

    def _start_dir(self) -> str:
        p = self.w.source_path
        return str(p.parent) if p is not None else str(Path.home())

    # ================================================================== commands
    def select(self, name: str) -> None:
        try:
            self.comparison.select(name)
        except InputError as exc:
            self.w.show_message(str(exc))

    def select_next(self) -> None:
        name = self.comparison.select_next()
        if name is None:
            self.w.show_message("Load results to compare first (Compare > Load result files or folder)")
        else:
            self.w.show_status(f"Selected tracker: {name}")

    def set_threshold(self, value: float) -> None:
        try:
            self.comparison.set_threshold(value)
        except InputError as exc:
            self.w.show_message(str(exc))

    def threshold_dialog(self) -> None:
        value, ok = QInputDialog.getDouble(self.w, "Failure threshold", "A frame fails where its IoU is below:",
                                           self.comparison.threshold, 0.0, 1.0, 2)
        if ok:
            self.set_threshold(value)

    def remove_selected(self) -> None:
        if self.comparison.selected is not None:
            self.comparison.remove(self.comparison.selected)

    def jump(self, what: str, direction: int) -> int | None:
        """Go to the selected tracker's next (direction 1) or previous failure / id switch; the frame, or None
        (with the reason on screen)."""
        c = self.comparison
        here = self.w.current_index
        try:
            if what == "failure":
                frame = c.next_failure(here, direction)
            else:
                frame = c.next_id_switch(here, direction)
        except InputError as exc:
            self.w.show_message(str(exc))
            return None
        word = "after" if direction > 0 else "before"
        if frame is None:
            if what == "failure":
                why = c.note if not c.scored else f"no IoU drop below {c.threshold:.2f}"
                self.w.show_status(f"{c.selected}: {why} {word} frame {here}")
            else:
                self.w.show_status(f"{c.selected}: no object id switch {word} frame {here}")
            return None
        self.w.go_to(frame)
        self.w.clear_message()
        if what == "failure":
            self.w.show_status(f"{c.selected}: IoU {c.entries[c.selected].iou[frame]:.2f} on frame {frame} "
                               f"(below {c.threshold:.2f})")
        else:
            ids = c.entries[c.selected].tracker.ids
            before = ids[:frame][~np.isnan(ids[:frame])]
            self.w.show_status(f"{c.selected}: target id {int(before[-1])} -> {int(ids[frame])} on frame {frame}")
        return frame


def attach_compare(window) -> CompareController:
    """Give `window` the comparison of trackers (Compare menu, dock, IoU strips, boxes on the frame)."""
    controller = CompareController(window)
    window.compare = controller
    return controller


__all__ = ["COMPARE_SHORTCUTS", "CompareController", "attach_compare", "iou_colors"]
