"""The debug dock: assignment matrix with dustbins, per-object score history, presence over time, timings."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QDockWidget, QLabel, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from tracker.result import FrameResult

from .assignment import new_id_reasons
from .overlays import id_color
from .store import EngineResults

DUSTBIN = "NM"  # "no match", as in pytracking's matrix display
PLOT_WINDOW = 100  # frames the score and presence plots show around the current frame (drag/zoom for more)
LABEL_GAP = 0.07  # least vertical distance between two curve labels, as a fraction of the score axis


def gaps_broken(frames: np.ndarray) -> np.ndarray:
    """pyqtgraph `connect` array: join a point to the next only where the next is the following frame, so
    separate runs (a re-track, another stretch of frames) are never joined by a line."""
    frames = np.asarray(frames, dtype=float)
    return np.append(np.diff(frames) == 1, False) if len(frames) else np.zeros(0, dtype=bool)


def spread_labels(ys: list[float], gap: float) -> list[float]:
    """Label heights moved apart (upwards, in order) so no two are closer than `gap`; order kept."""
    order = sorted(range(len(ys)), key=lambda k: ys[k])
    out = list(ys)
    last = None
    for k in order:
        if last is not None and out[k] < last + gap:
            out[k] = last + gap
        last = out[k]
    return out


def assignment_table(result: FrameResult | None) -> tuple[list[str], list[str], np.ndarray] | None:
    """(row labels, column labels, probabilities) of a frame's assignment, the last row/column being the dustbins.

    Rows are the previous frame's candidates, columns this frame's, labelled by object id where known.
    """
    if result is None or result.assignment is None:
        return None
    a = result.assignment
    probs = np.asarray(a.probabilities, dtype=float)

    def label(c, k):
        return f"id {c.object_id}" if c.object_id is not None else f"#{k}"

    rows = [label(c, k) for k, c in enumerate(a.previous)] + [DUSTBIN]
    cols = [label(c, k) for k, c in enumerate(result.candidates)] + [DUSTBIN]
    rows = (rows + [f"#{k}" for k in range(len(rows), probs.shape[0])])[: probs.shape[0]]
    cols = (cols + [f"#{k}" for k in range(len(cols), probs.shape[1])])[: probs.shape[1]]
    return rows, cols, probs


class DebugDock(QDockWidget):
    def __init__(self, parent=None):
        super().__init__("Debug", parent)
        self.setObjectName("debug_dock")
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        self.status = QLabel("No result for this frame")
        self.status.setWordWrap(True)
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 4)  # two lines, no relayout
        layout.addWidget(self.status)
        split = QSplitter(Qt.Orientation.Vertical)
        layout.addWidget(split, 1)

        self.matrix = QTableWidget()
        self.matrix.horizontalHeader().setDefaultSectionSize(52)  # fixed widths: measuring contents is slow
        self.matrix.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.matrix.setToolTip("Assignment probabilities: rows = previous frame's candidates, columns = this "
                               "frame's; NM = no match (dustbin)")
        self.id_notes = QLabel("")  # why a likely match still got a new id (app/assignment.py)
        self.id_notes.setWordWrap(True)
        self.id_notes.setStyleSheet("color:#f0c060;")
        matrix_box = QWidget()
        matrix_layout = QVBoxLayout(matrix_box)
        matrix_layout.setContentsMargins(0, 0, 0, 0)
        matrix_layout.addWidget(self.matrix, 1)
        matrix_layout.addWidget(self.id_notes)
        split.addWidget(self._titled("Assignment probabilities (rows: previous, columns: current)", matrix_box))

        self.scores_plot = pg.PlotWidget()
        self.scores_plot.setLabel("left", "score")
        self.scores_plot.setLabel("bottom", "frame")
        self.scores_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 255, 255, 120)))
        self.scores_plot.addItem(self.scores_line)
        self.scores_hint = pg.TextItem("no candidates with object ids yet", color=(150, 150, 150), anchor=(0.5, 0.5))
        self.scores_plot.addItem(self.scores_hint)
        # in the middle of the frames on view (on long footage the sequence's middle is off screen)
        self.scores_plot.getViewBox().sigXRangeChanged.connect(self._centre_hint)
        split.addWidget(self._titled("Candidate score per object id", self.scores_plot))

        self.presence_plot = pg.PlotWidget()
        self.presence_plot.setLabel("bottom", "frame")
        self.presence_plot.setYRange(0, 1.05)
        self.presence_curve = self.presence_plot.plot(pen=pg.mkPen((80, 200, 255), width=2))
        self.presence_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 255, 255, 120)))
        self.presence_plot.addItem(self.presence_line)
        split.addWidget(self._titled("Presence", self.presence_plot))

        self.timings = QTableWidget(0, 2)
        self.timings.setHorizontalHeaderLabels(["stage", "ms"])
        self.timings.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.timings.horizontalHeader().setStretchLastSection(True)
        split.addWidget(self._titled("Time per stage", self.timings))
        split.setSizes([160, 170, 110, 110])
        self.setWidget(body)
        self.score_curves: dict[int, pg.PlotDataItem] = {}
        self._spare: list[pg.PlotDataItem] = []
        self._spare = [self._curve() for _ in range(8)]
        self.num_frames = 0
        self.set_length(100)  # sane axes before any sequence is open
        self._revision = -1

    @staticmethod
    def _titled(title: str, widget: QWidget) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lab = QLabel(f"<b>{title}</b>")
        lay.addWidget(lab)
        lay.addWidget(widget, 1)
        return box

    def set_length(self, num_frames: int) -> None:
        """Frame axes: a window of PLOT_WINDOW frames (the whole sequence where shorter), moved only when the
        current frame leaves it (axes that re-range on every update are slow to redraw). The two plots pan
        and zoom together."""
        self.num_frames = num_frames
        self.presence_plot.setXLink(self.scores_plot)
        self.scores_plot.setXRange(0, max(min(num_frames, PLOT_WINDOW) - 1, 1), padding=0.01)
        for plot in (self.scores_plot, self.presence_plot):
            plot.getViewBox().setMouseEnabled(x=True, y=False)
        self.scores_plot.enableAutoRange(axis="y", enable=False)
        self.scores_plot.setYRange(0, 1.05)
        self._centre_hint()

    def _centre_hint(self, *_) -> None:
        lo, hi = self.visible_frames()
        self.scores_hint.setPos((lo + hi) / 2, 0.5)

    def visible_frames(self) -> tuple[float, float]:
        return tuple(self.scores_plot.getViewBox().viewRange()[0])

    def _follow(self, index: int) -> None:
        lo, hi = self.visible_frames()
        if lo <= index <= hi:
            return
        width = max(hi - lo, 10.0)
        start = min(max(index - width / 2, 0.0), max(self.num_frames - 1 - width, 0.0))
        self.scores_plot.setXRange(start, start + width, padding=0)
        self._place_labels()

    def show_frame(self, index: int, result: FrameResult | None) -> None:
        self.scores_line.setValue(index)
        self.presence_line.setValue(index)
        self._follow(index)
        if result is None:
            self.status.setText(f"Frame {index}: no result")
        else:
            top = max((c.score for c in result.candidates), default=None)
            parts = [f"Frame {index}", f"flag <b>{result.flag.value}</b>", f"presence {result.presence:.2f}<br>"]
            if top is not None:
                parts.append(f"max score {top:.3f}")
            if result.selected_id is not None:
                parts.append(f"target id {result.selected_id}")
            if result.box is not None:
                parts.append("box [" + ", ".join(f"{v:.1f}" for v in result.box) + "]")
            self.status.setText(" · ".join(parts).replace("<br> · ", "<br>"))
        self._show_matrix(result)
        self._show_timings(result)

    def _show_matrix(self, result: FrameResult | None) -> None:
        table = assignment_table(result)
        reasons = new_id_reasons(result)
        self.id_notes.setText("\n".join(reasons.values()))
        self.id_notes.setVisible(bool(reasons))
        if table is None:
            self.matrix.clear()
            self.matrix.setRowCount(1)
            self.matrix.setColumnCount(1)
            self.matrix.setHorizontalHeaderLabels([""])
            self.matrix.setVerticalHeaderLabels([""])
            why = "no result for this frame" if result is None else "no candidate matching on this frame"
            self.matrix.setItem(0, 0, QTableWidgetItem(why))
            self.matrix.setColumnWidth(0, 320)
            return
        rows, cols, probs = table
        self.matrix.setRowCount(len(rows))
        self.matrix.setColumnCount(len(cols))
        for c in range(len(cols)):
            self.matrix.setColumnWidth(c, 52)
        self.matrix.setVerticalHeaderLabels(rows)
        self.matrix.setHorizontalHeaderLabels(cols)
        for j, why in reasons.items():
            self.matrix.horizontalHeaderItem(j).setToolTip(why)
        for r in range(len(rows)):
            for c in range(len(cols)):
                p = float(probs[r, c])
                item = QTableWidgetItem(f"{p:.2f}")
                shade = int(np.clip(p, 0, 1) * 200)
                item.setBackground(QBrush(QColor(shade, shade // 2, 40)))
                item.setForeground(QBrush(QColor(255, 255, 255)))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.matrix.setItem(r, c, item)

    def _show_timings(self, result: FrameResult | None) -> None:
        timings = dict(result.timings) if result is not None else {}
        if len(timings) > 1:
            timings.setdefault("total", sum(timings.values()))
        if self.timings.rowCount() != len(timings):
            self.timings.setRowCount(len(timings))
            # every row visible: the table is as tall as its rows (the splitter cannot squeeze it below that)
            rows = self.timings.verticalHeader().defaultSectionSize() * max(len(timings), 1)
            self.timings.setMinimumHeight(rows + self.timings.horizontalHeader().height() + 4)
        for r, (stage, seconds) in enumerate(timings.items()):
            self.timings.setItem(r, 0, QTableWidgetItem(stage))
            self.timings.setItem(r, 1, QTableWidgetItem(f"{1000 * seconds:.1f}"))

    def _curve(self) -> pg.PlotDataItem:
        """A curve with its id label, from the pool made at start (creating plot items mid-run is slow)."""
        if self._spare:
            return self._spare.pop()
        curve = self.scores_plot.plot()
        curve.label = pg.TextItem("", anchor=(0, 0.5))
        self.scores_plot.addItem(curve.label)
        return curve

    def update_series(self, store: EngineResults) -> None:
        """Redraw the per-frame curves (only where the store changed since the last call)."""
        if store.revision == self._revision:
            return
        self._revision = store.revision
        frames, presence = store.presence()
        self.presence_curve.setData(frames, presence, connect=gaps_broken(frames))
        histories = store.score_histories()
        top = max((float(s.max()) for _, s in histories.values() if len(s)), default=1.0)
        if top > 1.05:  # scores beyond 1 (some engines): widen once, rather than autoranging every update
            self.scores_plot.setYRange(0, top * 1.1)
        for object_id in list(self.score_curves):
            if object_id not in histories:
                curve = self.score_curves.pop(object_id)
                curve.setData([], [])
                curve.label.setText("")
                self._spare.append(curve)
        self.scores_hint.setVisible(not histories)
        for object_id, (f, s) in sorted(histories.items()):
            curve = self.score_curves.get(object_id)
            if curve is None:
                curve = self._curve()
                color = id_color(object_id)
                curve.setPen(pg.mkPen(color, width=2))
                curve.label.setText(str(object_id))  # no legend: each curve is labelled at its newest point
                curve.label.setColor(color)
                self.score_curves[object_id] = curve
            curve.setData(f, s, connect=gaps_broken(f))
            curve.frames, curve.scores = f, s
        self._place_labels()

    def _place_labels(self) -> None:
        """Each id's label at its newest point inside the visible frames, moved apart so none covers another;
        ids with no point in view have no label."""
        lo, hi = self.visible_frames()
        shown = []
        for object_id, curve in self.score_curves.items():
            f = getattr(curve, "frames", np.zeros(0))
            inside = np.nonzero((f >= lo) & (f <= hi))[0]
            if len(inside) == 0:
                curve.label.setVisible(False)
                continue
            k = inside[-1]
            shown.append((curve, float(f[k]), float(curve.scores[k])))
        y_lo, y_hi = self.scores_plot.getViewBox().viewRange()[1]
        ys = spread_labels([y for _, _, y in shown], LABEL_GAP * (y_hi - y_lo))
        for (curve, x, _), y in zip(shown, ys):
            curve.label.setPos(x, y)
            curve.label.setVisible(True)
