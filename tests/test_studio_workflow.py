"""The annotation workflow defects of issue 11, each driven end to end through the real window with keys and
the mouse: a stale box overwriting work, boxes lost after recovery, autosaves not offered, a backward run
discarding results, typed boxes and stray handles. The deterministic engine "test-step" (tests/studio_helpers.py)
moves the box 1 px right per frame from wherever it was initialised."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QInputDialog

from studio_helpers import StepEngine, save_and_wait
from app.annotation import attach_annotations
from app.main_window import SAMPLE_PATH, MainWindow
from tracker.annotation import Provenance
from tracker.registry import EngineInfo, register
from tracker.result import Assignment, Candidate, FrameResult

NO_MOD = Qt.KeyboardModifier.NoModifier
SHIFT, CTRL = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier


def make_window(qtbot, tmp_path, name, answer=True):
    w = MainWindow(settings=QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    questions = []
    ctrl = attach_annotations(w, autosave_folder=tmp_path / "autosave",
                              ask=lambda text: questions.append(text) or answer)
    w.set_engine("test-step")
    return w, ctrl, questions


def open_and_wait(qtbot, w, path):
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        assert w.open_path(path)


def key(qtbot, w, k, mod=NO_MOD, times=1):
    for _ in range(times):
        QTest.keyClick(w, k, mod)


def on_frame(qtbot, w, index):
    qtbot.waitUntil(lambda: w.current_index == index and w.frame_label.text().startswith(f"frame {index} "),
                    timeout=5000)


def track(qtbot, w, k, mod=NO_MOD):
    with qtbot.waitSignal(w.trackingFinished, timeout=20000) as blocker:
        QTest.keyClick(w, k, mod)
    assert blocker.args[1] == "done"


def drag(qtbot, w, x0, y0, x1, y1):
    """A real mouse drag on the frame view (box tool on: B), from image point (x0, y0) to (x1, y1)."""
    vp = w.view.viewport()
    p0, p1 = w.view.image_to_widget(x0, y0), w.view.image_to_widget(x1, y1)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, NO_MOD, p0)
    for t in np.linspace(0.2, 1.0, 5):
        qtbot.wait(20)  # pyqtgraph ignores mouse moves closer than its rate limit
        QTest.mouseMove(vp, QPoint(round(p0.x() + t * (p1.x() - p0.x())), round(p0.y() + t * (p1.y() - p0.y()))))
    qtbot.wait(20)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, NO_MOD, p1)


def type_box(qtbot, w, text):
    """Ctrl+B, read what the dialog offers, type `text`, OK. Returns the text the dialog offered."""
    offered = []

    def answer():
        dialog = next((d for d in QApplication.topLevelWidgets() if isinstance(d, QInputDialog) and d.isVisible()),
                      None)
        if dialog is None:
            QTimer.singleShot(20, answer)
            return
        offered.append(dialog.textValue())
        dialog.setTextValue(text)
        dialog.accept()

    QTimer.singleShot(20, answer)
    QTest.keyClick(w, Qt.Key.Key_B, CTRL)
    assert offered, "Ctrl+B opened no dialog"
    w.activateWindow()  # the offscreen platform does not hand the focus back by itself
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    return offered[0]


def folder_without_ground_truth(tmp_path, n=30):
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:04d}.png"), rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    return folder


# ------------------------------------------------------------------ 1. a stale box never overwrites work

def _stale_box_story(qtbot, w, ctrl, frame0_box):
    doc = ctrl.session.document
    key(qtbot, w, Qt.Key.Key_Right, times=40)
    on_frame(qtbot, w, 40)
    key(qtbot, w, Qt.Key.Key_T)  # frame 40 has no box: nothing may be written, nothing tracked
    assert not w.tracking and "Draw a box" in w.last_message
    assert doc.annotated_frames() == [] and len(w.store) == 0
    # on frame 0 the ground truth's box is where a run starts; it becomes frame 0's keyframe, nowhere else
    key(qtbot, w, Qt.Key.Key_Home)
    on_frame(qtbot, w, 0)
    w.n_spin.setValue(20)
    track(qtbot, w, Qt.Key.Key_R)
    assert doc[0].is_keyframe and doc[0].box == frame0_box
    assert doc[20].provenance is Provenance.TRACKED and doc[20].box == pytest.approx(
        (frame0_box[0] + 20, *frame0_box[1:]))
    # correct frame 10 with the mouse, then T, R, Ctrl+R from there: each starts from the correction
    key(qtbot, w, Qt.Key.Key_Home)
    key(qtbot, w, Qt.Key.Key_Right, times=10)
    on_frame(qtbot, w, 10)
    key(qtbot, w, Qt.Key.Key_B)
    drag(qtbot, w, 2, 50, 32, 80)
    corrected = doc[10].box
    assert doc[10].is_keyframe and corrected == pytest.approx((2, 50, 30, 30), abs=2.5)
    track(qtbot, w, Qt.Key.Key_T)
    assert doc[10].box == corrected and doc[11].box == pytest.approx((corrected[0] + 1, *corrected[1:]))
    key(qtbot, w, Qt.Key.Key_Left)
    on_frame(qtbot, w, 10)
    w.n_spin.setValue(5)
    track(qtbot, w, Qt.Key.Key_R)
    assert doc[10].box == corrected and doc[15].box == pytest.approx((corrected[0] + 5, *corrected[1:]))
    key(qtbot, w, Qt.Key.Key_Left, times=5)
    on_frame(qtbot, w, 10)
    track(qtbot, w, Qt.Key.Key_R, CTRL)
    assert doc[10].box == corrected and doc[10].is_keyframe
    assert doc[30].box == pytest.approx((corrected[0] + 20, *corrected[1:]))
    assert doc.keyframes() == [0, 10]  # no box was written on a frame it does not belong to
    assert [i for i in doc.annotated_frames() if doc[i].box == frame0_box] == [0]


def test_a_stale_box_never_overwrites_work_on_the_sample(qtbot, tmp_path):
    w, ctrl, _ = make_window(qtbot, tmp_path, "stale")
    open_and_wait(qtbot, w, SAMPLE_PATH)
    gt0 = tuple(float(v) for v in (SAMPLE_PATH / "groundtruth_rect.txt").read_text().splitlines()[0].split(","))
    _stale_box_story(qtbot, w, ctrl, gt0)


def test_a_stale_box_never_overwrites_work_on_otb_deer(qtbot, tmp_path, otb):
    w, ctrl, _ = make_window(qtbot, tmp_path, "deer")
    open_and_wait(qtbot, w, otb / "Deer")
    _stale_box_story(qtbot, w, ctrl, (306.0, 5.0, 95.0, 65.0))


def test_a_correction_survives_recovery(qtbot, tmp_path):
    """After crash recovery, T on a corrected frame tracks from the correction (it once took frame 0's box)."""
    w, ctrl, _ = make_window(qtbot, tmp_path, "a")
    open_and_wait(qtbot, w, SAMPLE_PATH)
    key(qtbot, w, Qt.Key.Key_Right, times=30)
    on_frame(qtbot, w, 30)
    key(qtbot, w, Qt.Key.Key_B)
    drag(qtbot, w, 300, 40, 340, 80)
    corrected = ctrl.session.document[30].box
    w.close()  # unsaved: autosaved

    w2, ctrl2, questions = make_window(qtbot, tmp_path, "b")
    open_and_wait(qtbot, w2, SAMPLE_PATH)
    assert len(questions) == 1 and ctrl2.session.document[30].box == corrected
    # recovered, not yet changed: the autosave stays (killed now, the work is still there next time)
    assert ctrl2.session.autosaver.path.exists()
    key(qtbot, w2, Qt.Key.Key_Right, times=30)
    on_frame(qtbot, w2, 30)
    track(qtbot, w2, Qt.Key.Key_T)
    doc = ctrl2.session.document
    assert doc[30].box == corrected and doc[30].is_keyframe
    assert doc[31].box == pytest.approx((corrected[0] + 1, *corrected[1:]))
    assert doc[0] is None  # frame 0's suggested box went nowhere
    w2.close()


# ------------------------------------------------------------------ 2. boxes after recovery / opening a project

def test_boxes_are_there_after_recovery_and_after_opening_a_project(qtbot, tmp_path):
    folder = folder_without_ground_truth(tmp_path)
    w, ctrl, _ = make_window(qtbot, tmp_path, "one")
    open_and_wait(qtbot, w, folder)
    key(qtbot, w, Qt.Key.Key_B)
    drag(qtbot, w, 20, 20, 60, 60)
    w.n_spin.setValue(10)
    track(qtbot, w, Qt.Key.Key_R)
    box10 = ctrl.session.document[10].box
    w.close()  # unsaved: autosaved

    w2, ctrl2, questions = make_window(qtbot, tmp_path, "two")
    open_and_wait(qtbot, w2, folder)
    assert len(questions) == 1 and ctrl2.session.document[10].box == box10
    key(qtbot, w2, Qt.Key.Key_Right, times=5)
    on_frame(qtbot, w2, 5)
    key(qtbot, w2, Qt.Key.Key_B)  # the handles hold frame 5's box
    assert w2.view.box() == pytest.approx(ctrl2.session.document[5].box)
    key(qtbot, w2, Qt.Key.Key_Right, times=5)
    on_frame(qtbot, w2, 10)
    track(qtbot, w2, Qt.Key.Key_T)
    assert "Draw a box" not in w2.last_message
    assert ctrl2.session.document[11].box == pytest.approx((box10[0] + 1, *box10[1:]))
    project = save_and_wait(qtbot, ctrl2, tmp_path / "frames.ktproj")
    w2.close()

    w3, ctrl3, questions3 = make_window(qtbot, tmp_path, "three")
    with qtbot.waitSignal(w3.frameShown, timeout=10000):
        assert ctrl3.open_project(project)
    assert questions3 == []
    key(qtbot, w3, Qt.Key.Key_Right, times=11)
    on_frame(qtbot, w3, 11)
    key(qtbot, w3, Qt.Key.Key_B)
    assert w3.view.box() == pytest.approx(ctrl3.session.document[11].box)
    w3.n_spin.setValue(3)
    track(qtbot, w3, Qt.Key.Key_R)
    assert ctrl3.session.document[14].box == pytest.approx((box10[0] + 4, *box10[1:]))
    w3.close()


# ------------------------------------------------------------------ 3. the newer autosave is offered

def test_the_newer_autosave_is_offered_when_the_footage_is_opened(qtbot, tmp_path):
    w, ctrl, _ = make_window(qtbot, tmp_path, "first")
    open_and_wait(qtbot, w, SAMPLE_PATH)
    w.n_spin.setValue(10)
    track(qtbot, w, Qt.Key.Key_R)
    project = save_and_wait(qtbot, ctrl, tmp_path / "sample.ktproj")
    assert project is not None
    track(qtbot, w, Qt.Key.Key_R)  # 10 more frames after saving
    doc = ctrl.session.document
    assert doc[20] is not None
    qtbot.waitUntil(lambda: not ctrl.session.autosaver.pending, timeout=5000)  # autosaved... then killed
    expected = doc.copy()

    w2, ctrl2, questions = make_window(qtbot, tmp_path, "second")  # `main.py PATH` after the crash
    open_and_wait(qtbot, w2, SAMPLE_PATH)
    assert len(questions) == 1 and "Recover them?" in questions[0]
    assert ctrl2.session.document.differences(expected) == []
    assert ctrl2.session.project_path == project  # the recovered work still belongs to its project
    w.close()
    w2.close()


def test_a_declined_autosave_is_not_offered_again(qtbot, tmp_path):
    w, ctrl, _ = make_window(qtbot, tmp_path, "a")
    open_and_wait(qtbot, w, SAMPLE_PATH)
    w.n_spin.setValue(5)
    track(qtbot, w, Qt.Key.Key_R)
    project = save_and_wait(qtbot, ctrl, tmp_path / "s.ktproj")
    track(qtbot, w, Qt.Key.Key_R)
    w.close()  # unsaved work: autosaved

    w2, ctrl2, asked = make_window(qtbot, tmp_path, "b", answer=False)
    open_and_wait(qtbot, w2, SAMPLE_PATH)
    assert len(asked) == 1 and ctrl2.session.document[10] is None
    w2.close()  # a clean quit

    for opener in ("footage", "project"):
        w3, ctrl3, asked3 = make_window(qtbot, tmp_path, f"c-{opener}")
        if opener == "footage":
            open_and_wait(qtbot, w3, SAMPLE_PATH)
        else:
            with qtbot.waitSignal(w3.frameShown, timeout=10000):
                assert ctrl3.open_project(project)
        assert asked3 == [], opener
        w3.close()
    assert list((tmp_path / "autosave" / "declined").glob("*.ktproj"))  # kept aside, not lost


# ------------------------------------------------------------------ 8. a run replaces only what it tracked

def test_backward_retracking_keeps_the_other_results_and_undo_removes_a_runs_overlays(qtbot, tmp_path):
    w, ctrl, _ = make_window(qtbot, tmp_path, "back")
    open_and_wait(qtbot, w, SAMPLE_PATH)
    track(qtbot, w, Qt.Key.Key_R, CTRL)  # 0 -> 119
    forward = {i: w.store.get(i) for i in range(120)}
    assert all(r is not None for r in forward.values())
    key(qtbot, w, Qt.Key.Key_End)
    key(qtbot, w, Qt.Key.Key_Left, times=12)
    on_frame(qtbot, w, 107)
    key(qtbot, w, Qt.Key.Key_B)
    drag(qtbot, w, 300, 40, 340, 80)  # correct frame 107
    w.n_spin.setValue(20)
    track(qtbot, w, Qt.Key.Key_R, SHIFT)  # 107 -> 87
    assert all(w.store.get(i) is forward[i] for i in list(range(0, 87)) + list(range(108, 120)))
    assert w.store.get(90).box == pytest.approx(ctrl.session.document[90].box)
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # undo the backward run: its results and overlays go with it
    assert w.store.get(90) is forward[90]
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # undo the correction
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # undo the forward run
    assert len(w.store) == 0
    key(qtbot, w, Qt.Key.Key_Home)
    key(qtbot, w, Qt.Key.Key_Right, times=5)
    on_frame(qtbot, w, 5)
    qtbot.waitUntil(lambda: w.view.overlay_descriptions.get("box") == [], timeout=5000)
    assert ctrl.session.document[5] is None


# ------------------------------------------------------------------ 9. typed boxes and the handle box

def test_a_typed_box_is_a_keyframe_and_handles_stay_on_their_frame(qtbot, tmp_path):
    w, ctrl, _ = make_window(qtbot, tmp_path, "typed")
    open_and_wait(qtbot, w, folder_without_ground_truth(tmp_path))
    doc = ctrl.session.document
    assert type_box(qtbot, w, "20, 30, 40, 50") == ""  # frame 0 has no box yet: nothing offered
    assert doc[0].is_keyframe and doc[0].box == (20, 30, 40, 50)
    w.n_spin.setValue(8)
    track(qtbot, w, Qt.Key.Key_R)
    key(qtbot, w, Qt.Key.Key_Left, times=3)
    on_frame(qtbot, w, 5)
    assert type_box(qtbot, w, "70, 30, 40, 50") == "25, 30, 40, 50"  # Ctrl+B starts from this frame's box
    assert doc[5].is_keyframe and doc[5].box == (70, 30, 40, 50) and w.view.box() == (70, 30, 40, 50)
    assert len(ctrl.session.history) == 3  # typed, tracked, typed: each its own undo step
    key(qtbot, w, Qt.Key.Key_Right)
    on_frame(qtbot, w, 6)
    assert w.view.box() == pytest.approx(doc[6].box)  # frame 6's own (tracked) box, not the typed one
    key(qtbot, w, Qt.Key.Key_Right, times=10)
    on_frame(qtbot, w, 16)
    assert w.view.box() is None  # frame 16 has no box: no handles
    track_from_typed = doc[5].box
    key(qtbot, w, Qt.Key.Key_Left, times=11)
    on_frame(qtbot, w, 5)
    track(qtbot, w, Qt.Key.Key_T)
    assert doc[6].box == pytest.approx((track_from_typed[0] + 1, *track_from_typed[1:]))


# ------------------------------------------------------------------ 11. a likely match that still got a new id

class GateEngine(StepEngine):
    """Frame 1: the target (id 1) and a look-alike (id 2). Frame 2: the target's best match has probability
    0.54, mutual, yet the target candidate carries a new id 3 (what KeepTrack's weak-match gate does)."""

    name = "test-gate"

    def _cands(self, i):
        x, y, w, h = self.box
        ids = (1, 2) if i < 2 else (3, 2)
        return (Candidate(x + w / 2, y + h / 2, 0.9, ids[0]), Candidate(x + 60, y, 0.4, ids[1]))

    def initialize(self, frame, box, frame_index=0):
        r = super().initialize(frame, box, frame_index)
        self.prev = self._cands(frame_index)
        return FrameResult(frame_index, r.box, 1.0, candidates=self.prev, selected_id=1)

    def track(self, frame, frame_index=None):
        r = super().track(frame, frame_index)
        cands = self._cands(r.frame_index)
        probs = np.array([[0.54, 0.10, 0.36], [0.05, 0.90, 0.05], [0.41, 0.0, 0.0]])
        out = FrameResult(r.frame_index, r.box, 0.8, candidates=cands, selected_id=cands[0].object_id,
                          assignment=Assignment(probs, self.prev, (0, 1)))
        self.prev = cands
        return out


register(EngineInfo("test-gate", f"{__name__}:GateEngine", "weak-match gate test engine"))


def test_the_weak_match_gate_is_explained_beside_the_assignment_matrix(qtbot, tmp_path):
    from tracker.keeptrack.candidates import CandidateCollection
    from tracker.keeptrack.params import TrackerParams

    # the engine's own rule: a match to the target at 0.54 is refused and the candidate starts a new object
    collection = CandidateCollection([0.9, 0.4], certain=False, params=TrackerParams())
    target = collection.selected_id
    collection.update([0.9, 0.4], [0, 1], [0.54, 0.9])
    assert collection.object_ids[0] != target and collection.object_ids[1] == target + 1

    w, ctrl, _ = make_window(qtbot, tmp_path, "gate")
    open_and_wait(qtbot, w, SAMPLE_PATH)
    w.set_engine("test-gate")
    w.n_spin.setValue(3)
    track(qtbot, w, Qt.Key.Key_R)
    key(qtbot, w, Qt.Key.Key_Home)
    key(qtbot, w, Qt.Key.Key_Right)
    on_frame(qtbot, w, 1)
    qtbot.waitUntil(lambda: w.debug_dock.status.text().startswith("Frame 1"), timeout=5000)
    assert not w.debug_dock.id_notes.isVisible()  # every id kept: nothing to explain
    key(qtbot, w, Qt.Key.Key_Right)
    on_frame(qtbot, w, 2)
    qtbot.waitUntil(lambda: w.debug_dock.status.text().startswith("Frame 2"), timeout=5000)
    note = w.debug_dock.id_notes.text()
    assert w.debug_dock.id_notes.isVisible() and "id 3" in note and "weak-match gate" in note and "0.54" in note
    assert "weak-match gate" in w.debug_dock.matrix.horizontalHeaderItem(0).toolTip()


# ------------------------------------------------------------------ one run loop: the studio runs as the CLI does

def test_a_corrupt_frame_mid_run_ends_the_studio_run_as_it_ends_the_cli(qtbot, tmp_path, capsys):
    from tracker.cli import main as cli_main

    folder = tmp_path / "clip"
    folder.mkdir()
    for i in range(20):
        cv2.imwrite(str(folder / f"{i:04d}.png"), np.full((96, 128, 3), 10 * i, np.uint8))
    (folder / "0012.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png at all")
    out = tmp_path / "boxes.txt"
    assert cli_main(["track", str(folder), "--engine", "test-step", "--box", "20,30,31,31", "--out", str(out),
                     "--threads", "1"]) == 1
    err = capsys.readouterr().err
    assert len(out.read_text().splitlines()) == 12  # the boxes of frames 0..11 are written
    failure = err.split("stopped after 12 frames: ")[1].strip()
    assert "frame 12" in failure and "0012.png" in failure

    w, ctrl, _ = make_window(qtbot, tmp_path, "corrupt")
    open_and_wait(qtbot, w, folder)
    key(qtbot, w, Qt.Key.Key_B)
    drag(qtbot, w, 20, 30, 51, 61)
    with qtbot.waitSignal(w.trackingFinished, timeout=20000) as blocker:
        QTest.keyClick(w, Qt.Key.Key_R, CTRL)  # to the end
    assert blocker.args[1] == "failed"
    assert failure in w.last_message and w.message_bar.isVisible()  # the same words as the CLI's
    doc = ctrl.session.document
    assert doc[0].is_keyframe and [i for i in doc.annotated_frames()] == list(range(12))
    assert all(doc[i].provenance is Provenance.TRACKED for i in range(1, 12))
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # the frames before it are one undo step
    assert doc.annotated_frames() == [0]


class TorchStepEngine(StepEngine):
    name = "test-torch-step"
    uses_torch = True  # as an engine on torch: the studio applies the thread policy of every run
    threads_seen: list[int] = []

    def track(self, frame, frame_index=None):
        import torch

        TorchStepEngine.threads_seen.append(torch.get_num_threads())  # in the thread that runs the engine
        return super().track(frame, frame_index)


register(EngineInfo("test-torch-step", f"{__name__}:TorchStepEngine", "step engine under the thread policy"))


def test_the_studio_tracks_under_the_thread_policy(qtbot, tmp_path, monkeypatch):
    import torch

    previous = torch.get_num_threads()
    monkeypatch.setenv("KEEPTRACK_THREADS", "3")  # neither the default nor the count of the cores
    TorchStepEngine.threads_seen.clear()
    try:
        w, ctrl, _ = make_window(qtbot, tmp_path, "threads")
        w.set_engine("test-torch-step")
        open_and_wait(qtbot, w, folder_without_ground_truth(tmp_path, 10))
        key(qtbot, w, Qt.Key.Key_B)
        drag(qtbot, w, 20, 30, 51, 61)
        track(qtbot, w, Qt.Key.Key_T)
        assert TorchStepEngine.threads_seen == [3]  # $KEEPTRACK_THREADS, applied by the worker's ThreadGovernor
        governor = w.tracker.worker._governor
        assert governor is not None and governor.fixed == 3
        w.set_engine("test-step")  # an engine without torch: no governor
        track(qtbot, w, Qt.Key.Key_T)
        assert w.tracker.worker._governor is None
    finally:
        torch.set_num_threads(previous)
