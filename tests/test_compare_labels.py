"""The comparison's tracker names on the frame, end to end in the real window: they are placed by the
studio's one label placement (FrameView.set_layer), so with three loaded trackers, the current run and the
engine's candidate labels on the frame, no name covers a candidate's label or circle, the target's box,
the annotation label or another name, at any zoom (found in a real-window trial: "current run" sat under
the candidate label "0: 0.86")."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from test_compare_gui import load_with_keys, make_window, on_frame, open_and_wait, press, track_to_end

from app import overlays as ov
from app.compare import CURRENT_RUN
from app.overlays import rects_intersect
from tracker.engine import Engine, check_frame
from tracker.formats.pytracking import write_boxes
from tracker.registry import EngineInfo, register
from tracker.result import Candidate, FrameResult

FRAMES = 12
TRACKERS = ("keeptrack-lite", "csrt", "nanotrack")
OFFSETS = ((3.0, 2.0), (-4.0, 3.0), (2.0, -3.0))  # the loaded trackers sit almost on the target: names crowd


def truth(k: int) -> list[float]:
    return [100.0 + 2 * k, 80.0 + k, 60.0, 50.0]


class CrowdedRunEngine(Engine):
    """Follows the ground truth, with the target (id 0) at the box centre and look-alikes inside the box,
    at its bottom-left corner (where a name below the box went) and beside it."""

    name = "test-compare-crowd"

    def initialize(self, frame, box, frame_index=0):
        check_frame(frame)
        return self._result(frame_index)

    def track(self, frame, frame_index=None):
        check_frame(frame)
        return self._result(self._next_index(frame_index))

    @staticmethod
    def _result(i):
        x, y, w, h = truth(i)
        cx, cy = x + w / 2, y + h / 2
        cands = (Candidate(cx, cy, 0.86, 0), Candidate(cx + 10, cy + 6, 0.61, 1),
                 Candidate(x + 4, y + h - 2, 0.42, 2), Candidate(x + w + 12, cy, 0.30, 3))
        return FrameResult(i, (x, y, w, h), 0.86, candidates=cands, selected_id=0)


register(EngineInfo("test-compare-crowd", f"{__name__}:CrowdedRunEngine", "candidates crowding the target"))


def make_sequence(root):
    folder = root / "Crowd"
    (folder / "img").mkdir(parents=True)
    for k in range(FRAMES):
        cv2.imwrite(str(folder / "img" / f"{k + 1:04d}.jpg"), np.full((240, 320, 3), 60 + 5 * k, np.uint8))
    (folder / "groundtruth_rect.txt").write_text("".join(",".join(f"{v:g}" for v in truth(k)) + "\n"
                                                          for k in range(FRAMES)))
    return folder


def check_labels(w, compare, index):
    """The drawn labels' rectangles (from the items on screen): every tracker's name is there and covers
    no candidate label, candidate circle, target box, annotation label or other name."""
    labels = w.view.label_rects()
    names = [(t, r) for t, r in labels if t.startswith((CURRENT_RUN, *TRACKERS))]
    others = [(t, r) for t, r in labels if not t.startswith((CURRENT_RUN, *TRACKERS))]
    assert sorted(t.split(" #")[0] for t, _ in names) == sorted((CURRENT_RUN, *TRACKERS)), labels
    assert dict(names)[f"{CURRENT_RUN} #0"]  # the current run's name says its target's object id
    candidate_labels = [(t, r) for t, r in others if re.match(r"^\d+: 0\.\d\d$", t)]
    assert len(candidate_labels) == 4 and any(t.startswith("tracked") for t, _ in others), others
    circles = [(d.x - d.radius, d.y - d.radius, 2 * d.radius, 2 * d.radius)
               for d in w.view.overlay_descriptions["candidates"] if isinstance(d, ov.Circle)]
    (tracked,) = w.view.overlay_descriptions["box"]
    boxes = [(tracked.x, tracked.y, tracked.w, tracked.h), w.model.box_at(index)]
    for k, (text, rect) in enumerate(names):
        for other_text, other in others + names[k + 1:]:
            assert not rects_intersect(rect, other), (text, rect, other_text, other)
        for area in circles + boxes:
            assert not rects_intersect(rect, area), (text, rect, area)


def test_tracker_names_keep_off_candidate_labels_boxes_and_each_other_at_every_zoom(qtbot, tmp_path, monkeypatch):
    seq = make_sequence(tmp_path)
    files = []
    for name, (dx, dy) in zip(TRACKERS, OFFSETS):
        (tmp_path / name).mkdir()
        boxes = np.asarray([truth(k) for k in range(FRAMES)]) + [dx, dy, 0.0, 0.0]
        write_boxes(tmp_path / name / "Crowd.txt", boxes)
        files.append(tmp_path / name / "Crowd.txt")
    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, seq)
    w.set_engine("test-compare-crowd")
    track_to_end(qtbot, w, compare)  # Ctrl+R from frame 0's suggested ground-truth box
    load_with_keys(qtbot, w, compare, monkeypatch, files=files)
    assert compare.comparison.names == [CURRENT_RUN, *TRACKERS] and compare.errors == []
    press(qtbot, w, Qt.Key.Key_Home)
    on_frame(qtbot, w, 0)
    for _ in range(5):
        press(qtbot, w, Qt.Key.Key_Right)
    on_frame(qtbot, w, 5)
    QApplication.processEvents()
    check_labels(w, compare, 5)
    x, y, bw, bh = truth(5)
    for factor in (0.4, 4.0):  # zoomed in on the target, then out past the fit: placed anew each time
        w.view.viewbox.scaleBy((factor, factor), center=pg.Point(x + bw / 2, y + bh / 2))
        QApplication.processEvents()
        check_labels(w, compare, 5)


def test_labels_of_things_out_of_view_are_not_drawn_in_view(qtbot, tmp_path, monkeypatch):
    """Zoomed in away from the target (found in the real-window trial on Football1): the names, the candidate
    labels and the annotation label of boxes out of view were pinned to the view's edge, labelling nothing
    there. A label stays beside what it labels; only what is (partly) in view keeps its label in view."""
    from PySide6.QtCore import QRectF

    seq = make_sequence(tmp_path)
    (tmp_path / "csrt").mkdir()
    write_boxes(tmp_path / "csrt" / "Crowd.txt", np.asarray([truth(k) for k in range(FRAMES)]) + [3.0, 2.0, 0, 0])
    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, seq)
    w.set_engine("test-compare-crowd")
    track_to_end(qtbot, w, compare)
    load_with_keys(qtbot, w, compare, monkeypatch, files=[tmp_path / "csrt" / "Crowd.txt"])
    press(qtbot, w, Qt.Key.Key_Home)
    on_frame(qtbot, w, 0)
    x, y, bw, bh = truth(0)
    for view in (QRectF(x + bw + 40, y - 60, 80, 60), QRectF(0, 0, 70, 50)):  # right of and above-left of it
        w.view.viewbox.setRange(view, padding=0)
        QApplication.processEvents()
        vr = w.view.viewbox.viewRect()
        shown = (vr.left(), min(vr.top(), vr.bottom()), vr.width(), abs(vr.height()))
        drawn = [(d, item) for d, item in w.view._drawn() if isinstance(d, ov.Text) and item.isVisible()]
        assert len(drawn) >= 6  # four candidates, the annotation label, the two names
        for d, item in drawn:
            r = w.view.viewbox.mapSceneToView(item.sceneBoundingRect()).boundingRect()
            rect = (r.x(), r.y(), r.width(), r.height())
            assert not rects_intersect(d.near, shown)  # (the view holds none of them)
            assert not rects_intersect(rect, shown), (d.text, rect, shown)
