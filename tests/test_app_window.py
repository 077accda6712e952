"""The studio window driven offscreen: open the sample, draw a box with the mouse, track, scrub, failures,
event-loop stalls, scripted start. A small deterministic engine (registered here) gives known candidates and ids."""
from __future__ import annotations

import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtTest import QTest

from app import overlays as ov
from app.main_window import SAMPLE_PATH, MainWindow
from tracker.engine import Engine, check_frame
from tracker.registry import EngineInfo, register
from tracker.result import Assignment, Candidate, FrameResult, ScoreMap
from tracker.sources import open_source

REPO = SAMPLE_PATH.parent.parent


class ScriptedEngine(Engine):
    """Deterministic: the box moves 2 px right per frame; candidate ids 1 (target) and 2 on every frame,
    id 3 on even frames only; a score map around the box; matches by id. `fail_at` raises on that frame;
    `work_ms` burns CPU per frame the way real engines do: mostly in array code (which releases the GIL,
    like torch and OpenCV), with a little pure-Python glue (which holds it)."""

    name = "test-scripted"

    def __init__(self, device="cpu", fail_at=None, work_ms=0.0):
        super().__init__(device)
        self.fail_at, self.work_ms = fail_at, work_ms

    @staticmethod
    def candidates_for(i, box):
        x, y, w, h = box
        cx, cy = x + w / 2, y + h / 2
        cands = [Candidate(cx, cy, 0.9, 1), Candidate(cx + 30, cy + 10, 0.3 + 0.01 * (i % 10), 2)]
        if i % 2 == 0:
            cands.append(Candidate(cx - 25, cy - 15, 0.2, 3))
        return tuple(cands)

    def _result(self, i):
        cands = self.candidates_for(i, self.box)
        x, y, w, h = self.box
        sm = ScoreMap(np.outer(np.hanning(11), np.hanning(11)).astype(np.float32), x + w / 2 - 20, y + h / 2 - 20, 4, 4)
        assignment = None
        if self.prev is not None:
            matches = tuple(next((k for k, p in enumerate(self.prev) if p.object_id == c.object_id), -1) for c in cands)
            probs = np.full((len(self.prev) + 1, len(cands) + 1), 0.02)
            for j, m in enumerate(matches):
                probs[m, j] = 0.95
            assignment = Assignment(probs, self.prev, matches)
        self.prev = cands
        return FrameResult(i, self.box, presence=0.9, search_area=(x - 40, y - 40, w + 80, h + 80), score_map=sm,
                           candidates=cands, selected_id=1, assignment=assignment, timings={"fake": 0.001})

    def initialize(self, frame, box, frame_index=0):
        check_frame(frame)
        self._frame_index = frame_index
        self.box, self.prev = tuple(float(v) for v in box), None
        return self._result(frame_index)

    def track(self, frame, frame_index=None):
        check_frame(frame)
        i = self._next_index(frame_index)
        if self.fail_at is not None and i == self.fail_at:
            raise RuntimeError(f"scripted failure at frame {i}")
        t0 = time.perf_counter()
        a = np.asarray(frame, np.float32)
        while (time.perf_counter() - t0) * 1000 < self.work_ms:
            a = cv2.GaussianBlur(a, (15, 15), 3.0)  # array work: OpenCV (like torch) releases the GIL
            sum(range(300))  # Python glue: GIL held
        x, y, w, h = self.box
        self.box = (x + 2, y, w, h)
        return self._result(i)


register(EngineInfo("test-scripted", f"{__name__}:ScriptedEngine", "deterministic test engine"))
register(EngineInfo("test-failing", f"{__name__}:ScriptedEngine", "fails on frame 4", False, (("fail_at", 4),)))
register(EngineInfo("test-busy", f"{__name__}:ScriptedEngine", "pure-Python load", False, (("work_ms", 25.0),)))


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(settings=QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def open_and_wait(qtbot, w, path=SAMPLE_PATH):
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        assert w.open_path(path)


def run_and_wait(qtbot, w, count, timeout=60000):
    with qtbot.waitSignal(w.trackingFinished, timeout=timeout) as blocker:
        assert w.run_frames(count) is not None
    return blocker.args[1]


def drag(qtbot, w, x0, y0, x1, y1):
    """A real mouse drag on the frame view, from image point (x0, y0) to (x1, y1)."""
    vp = w.view.viewport()
    p0, p1 = w.view.image_to_widget(x0, y0), w.view.image_to_widget(x1, y1)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p0)
    for t in np.linspace(0.2, 1.0, 5):
        qtbot.wait(20)  # pyqtgraph ignores mouse moves closer than its rate limit
        QTest.mouseMove(vp, QPoint(round(p0.x() + t * (p1.x() - p0.x())), round(p0.y() + t * (p1.y() - p0.y()))))
    qtbot.wait(20)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p1)


def test_open_sample_draw_box_track_and_scrub(qtbot, window):
    w = window
    assert w.stack.currentWidget() is w.start_view
    qtbot.mouseClick(w.sample_button, Qt.MouseButton.LeftButton)  # the one-click sample
    qtbot.waitUntil(lambda: w.current_frame is not None, timeout=10000)
    assert w.num_frames == 120 and w.stack.currentWidget() is w.viewer
    w.engine_combo.setCurrentText("test-scripted")
    # The sample's ground truth pre-fills the box; draw a new one with the mouse instead.
    drag(qtbot, w, 200, 30, 260, 80)  # away from the pre-filled box (its handles would catch the press)
    box = w.model.box_at(0)  # the drawn box is frame 0's manual keyframe, in the document
    assert w.model.document[0].is_keyframe and box == pytest.approx((200, 30, 60, 50), abs=2.5)

    delivered = []
    w.resultArrived.connect(delivered.append)
    assert run_and_wait(qtbot, w, 20) == "done"
    # the initialisation on frame 0 plus exactly 20 tracked frames, in order
    assert [r.frame_index for r in delivered] == list(range(21))
    assert w.current_index == 20 and len(w.store) == 21

    # frame 20 on screen: circles and ids of that frame's candidates, at their image positions
    expected = ScriptedEngine.candidates_for(20, (box[0] + 40, box[1], box[2], box[3]))
    circles = [d for d in w.view.overlay_descriptions["candidates"] if isinstance(d, ov.Circle)]
    texts = [d for d in w.view.overlay_descriptions["candidates"] if isinstance(d, ov.Text)]
    assert [v for c in circles for v in (c.x, c.y)] == pytest.approx([v for c in expected for v in (c.x, c.y)])
    assert [t.text.split(":")[0] for t in texts] == ["1", "2", "3"]
    assert [c.color for c in circles] == [ov.id_color(i) for i in (1, 2, 3)]
    assert len(w.view.overlay_items["candidates"]) == 6  # drawn: 3 circles + 3 labels

    # scrub back to frame 5: that frame's own result (odd frame: ids 1 and 2 only), and its frame pixels
    w.timeline.spin.setValue(5)
    qtbot.waitUntil(lambda: w.debug_dock.status.text().startswith("Frame 5"), timeout=5000)
    assert w.current_index == 5
    texts = [d.text.split(":")[0] for d in w.view.overlay_descriptions["candidates"] if isinstance(d, ov.Text)]
    assert texts == ["1", "2"]
    (tracked,) = w.view.overlay_descriptions["box"]
    assert (tracked.x, tracked.y) == pytest.approx((box[0] + 10, box[1]))
    with open_source(SAMPLE_PATH) as src:
        assert np.array_equal(w.current_frame, src.frame(5))
    # rows: frame 4's three candidates + dustbin; columns: frame 5's two + dustbin
    assert w.debug_dock.matrix.rowCount() == 4 and w.debug_dock.matrix.columnCount() == 3
    assert w.debug_dock.matrix.verticalHeaderItem(2).text() == "id 3"
    assert w.debug_dock.matrix.horizontalHeaderItem(2).text() == "NM"
    assert set(w.debug_dock.score_curves) == {1, 2, 3}
    assert w.timeline.strip.flags[:21] == [r.flag for r in delivered] and w.timeline.strip.flags[21] is None

    # continuing from the last tracked frame does not re-initialise
    w.timeline.spin.setValue(20)
    qtbot.waitUntil(lambda: w.current_index == 20 and w.debug_dock.status.text().startswith("Frame 20"))
    delivered.clear()
    assert run_and_wait(qtbot, w, 3) == "done"
    assert [r.frame_index for r in delivered] == [21, 22, 23]
    assert delivered[-1].box[0] == pytest.approx(box[0] + 46)


def test_engine_failure_is_a_message_not_a_crash(qtbot, window):
    w = window
    open_and_wait(qtbot, w)
    w.engine_combo.setCurrentText("test-failing")
    assert run_and_wait(qtbot, w, 10) == "failed"
    assert "scripted failure at frame 4" in w.last_message
    assert w.message_bar.isVisible() and "frame 4" in w.message_bar.text()
    assert w.store.indices() == [0, 1, 2, 3]  # what was computed before the failure is kept
    assert not w.tracking
    # the window still works: another engine runs fine afterwards
    w.engine_combo.setCurrentText("test-scripted")
    w.set_box((30, 120, 40, 40))
    assert run_and_wait(qtbot, w, 2) == "done"


def _timer_gaps(qtbot, during) -> np.ndarray:
    """Gaps (ms) between the ticks of a 10 ms timer while `during(ticks)` runs in the event loop."""
    ticks: list[float] = []
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    during(ticks)
    timer.stop()
    return np.diff(ticks) * 1000


def test_gui_stays_responsive_while_tracking(qtbot, window):
    """A 10 ms timer must never wait more than 100 ms while a CPU-heavy engine tracks in the worker.

    On a machine that other processes keep busy, the OS alone delays the timer: an idle stretch of the
    same length, measured first, shows how much; only that excess (beyond 20 ms) is added to the limit.
    """
    w = window
    open_and_wait(qtbot, w)
    assert w.preloaded.wait(120)  # the default engine's imports (torch) are done in the background at start
    idle = _timer_gaps(qtbot, lambda ticks: qtbot.wait(1500))
    allowance = max(0.0, idle.max() - 20.0)
    w.engine_combo.setCurrentText("test-busy")  # 25 ms of CPU work per frame

    def track(ticks):
        assert run_and_wait(qtbot, w, 60) == "done"

    gaps = _timer_gaps(qtbot, track)
    assert len(gaps) > 50
    assert gaps.max() < 100 + allowance, (
        f"event loop stalled for {gaps.max():.0f} ms while tracking, {np.cumsum(gaps)[gaps.argmax()]:.0f} ms "
        f"after the start (idle machine noise: {idle.max():.0f} ms); gaps: {np.round(gaps).astype(int).tolist()}")


@pytest.mark.slow
def test_real_engine_on_the_sample(qtbot, window):
    """The default engine (keeptrack-lite, or the first one available, e.g. csrt) follows the sample's target
    through the window, and what it reports is what the overlays show."""
    w = window
    open_and_wait(qtbot, w)
    name = w.engine_name()
    assert not name.startswith("test-")
    frames = 8
    assert run_and_wait(qtbot, w, frames, timeout=180000) == "done"
    with open_source(SAMPLE_PATH) as src:
        gt = src.ground_truth.boxes
    ious = []
    for i in range(frames + 1):
        (x, y, bw, bh), (gx, gy, gw, gh) = w.store.get(i).box, gt[i]
        ix = max(0.0, min(x + bw, gx + gw) - max(x, gx))
        iy = max(0.0, min(y + bh, gy + gh) - max(y, gy))
        ious.append(ix * iy / (bw * bh + gw * gh - ix * iy))
    assert min(ious) > 0.5, f"{name} lost the sample's target: IoUs {np.round(ious, 2)}"
    last = w.store.get(frames)
    circles = [d for d in w.view.overlay_descriptions["candidates"] if isinstance(d, ov.Circle)]
    assert [(c.x, c.y) for c in circles] == [(c.x, c.y) for c in last.candidates]
    labels = [d.text.split(":")[0] for d in w.view.overlay_descriptions["candidates"] if isinstance(d, ov.Text)]
    assert labels == [str(c.object_id) if c.object_id is not None else "?" for c in last.candidates]


def test_stale_decodes_are_dropped(qtbot, window):
    w = window
    open_and_wait(qtbot, w)
    for i in range(1, 40):
        w.go_to(i)
    qtbot.waitUntil(lambda: w.debug_dock.status.text().startswith("Frame 39"), timeout=10000)
    with open_source(SAMPLE_PATH) as src:
        assert np.array_equal(w.current_frame, src.frame(39))
    assert w.decoder.dropped + 39 >= 1  # bookkeeping exists; what matters is that the last request won


def test_bad_path_and_missing_box_are_messages(qtbot, window, tmp_path):
    w = window
    assert not w.open_path(tmp_path / "nothing-here.mp4")
    assert "nothing-here.mp4" in w.last_message
    (tmp_path / "empty").mkdir()
    assert not w.open_path(tmp_path / "empty")
    open_and_wait(qtbot, w)
    w.engine_combo.setCurrentText("test-scripted")
    w.timeline.spin.setValue(5)  # frame 0 has the ground truth's box, frame 5 none
    qtbot.waitUntil(lambda: w.current_index == 5, timeout=5000)
    assert w.run_frames(5) is None and "Draw a box" in w.last_message and "frame 5" in w.last_message


def test_shortcuts_table_is_wired(window):
    from app.shortcuts import SHORTCUTS

    keys = [s.keys for s in SHORTCUTS if s.keys]
    assert len(keys) == len(set(keys)), "two actions share a shortcut"
    for s in SHORTCUTS:
        assert window.action(s.action).shortcut().toString() == s.keys or s.keys == ""


def test_menu_extension_point(window):
    hits = []
    act = window.add_action("Annotations", "Do something", lambda: hits.append(1), key="annotate_x")
    act.trigger()
    assert hits == [1] and window.action("annotate_x") is act
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.index("Annotations") < titles.index("Help")


def test_scripted_start_in_process(qtbot, tmp_path, monkeypatch):
    from app.main import main

    monkeypatch.setenv("KEEPTRACK_AUTOSAVE_DIR", str(tmp_path / "autosave"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    shot = tmp_path / "shot.png"
    code = main([str(SAMPLE_PATH), "--box", "30,120,40,40", "--run", "8", "--screenshot", str(shot),
                 "--engine", "test-scripted"])
    assert code == 0 and shot.stat().st_size > 10000
    assert main([str(SAMPLE_PATH), "--run", "3", "--engine", "test-failing", "--box", "1,2,3,4",
                 "--screenshot", str(tmp_path / "x.png")]) == 0  # fails only on frame 4
    assert main([str(SAMPLE_PATH), "--run", "8", "--engine", "test-failing", "--box", "30,120,40,40"]) == 1
    assert main([str(tmp_path / "missing.avi"), "--run", "3"]) == 1
    assert main([str(SAMPLE_PATH), "--engine", "no-such-engine", "--run", "3"]) == 2


@pytest.mark.slow
def test_scripted_start_subprocess(tmp_path):
    """`python main.py PATH --box --run --screenshot` as a user types it (the default or fallback engine)."""
    shot = tmp_path / "shot.png"
    env = {"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "main.py", str(SAMPLE_PATH), "--box", "30,120,40,40", "--run", "4",
                           "--screenshot", str(shot)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "tracked 4 frames" in proc.stdout and shot.stat().st_size > 10000


def test_drop_recent_playback_and_keys(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    w = window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(SAMPLE_PATH))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        w.dropEvent(drop)
    assert w.source is not None and w.num_frames == 120
    assert w.recent_files() == [str(SAMPLE_PATH.resolve())]
    assert [a.text() for a in w.recent_menu.actions()] == [str(SAMPLE_PATH.resolve())]

    # keyboard: Right, Shift+Right, End, Home step through frames (one shortcut table)
    for key, mod, expected in ((Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier, 1),
                               (Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier, 11),
                               (Qt.Key.Key_Left, Qt.KeyboardModifier.NoModifier, 10),
                               (Qt.Key.Key_End, Qt.KeyboardModifier.NoModifier, 119),
                               (Qt.Key.Key_Home, Qt.KeyboardModifier.NoModifier, 0)):
        QTest.keyClick(w, key, mod)
        qtbot.waitUntil(lambda: w.current_index == expected and w.frame_label.text().startswith(f"frame {expected} "),
                        timeout=5000)

    # playback at the video's fps moves forward by itself and Space pauses it
    QTest.keyClick(w, Qt.Key.Key_Space)
    assert w.playing
    qtbot.waitUntil(lambda: w.current_index >= 5, timeout=5000)
    QTest.keyClick(w, Qt.Key.Key_Space)
    assert not w.playing
    stopped = w.current_index
    qtbot.wait(200)
    assert w.current_index == stopped

    from app.dialogs import ShortcutsDialog
    from app.shortcuts import SHORTCUTS

    assert ShortcutsDialog(w).table.rowCount() == len(SHORTCUTS)


def test_track_backwards_from_a_later_frame(qtbot, window):
    w = window
    open_and_wait(qtbot, w)
    w.engine_combo.setCurrentText("test-scripted")
    w.timeline.spin.setValue(30)
    qtbot.waitUntil(lambda: w.current_index == 30 and w.frame_label.text().startswith("frame 30 "), timeout=5000)
    w.set_box((100, 100, 40, 40))
    delivered = []
    w.resultArrived.connect(delivered.append)
    w.n_spin.setValue(10)
    with qtbot.waitSignal(w.trackingFinished, timeout=20000):
        w.action("track_back_n").trigger()  # Shift+R
    assert [r.frame_index for r in delivered] == list(range(30, 19, -1))
    assert w.current_index == 20 and w.store.indices() == list(range(20, 31))


register(EngineInfo("test-unbuildable", "tests_no_such_module_xyz:Engine", "its module is missing"))


def test_cancel_and_unbuildable_engine(qtbot, window):
    w = window
    open_and_wait(qtbot, w)
    w.engine_combo.setCurrentText("test-busy")
    with qtbot.waitSignal(w.trackingFinished, timeout=30000) as blocker:
        w.run_frames(None)
        qtbot.waitUntil(lambda: len(w.store) >= 5, timeout=10000)
        QTest.keyClick(w, Qt.Key.Key_Escape)
    assert blocker.args[1] == "cancelled"
    assert 5 <= len(w.store) < 60 and not w.tracking
    # an engine whose module is missing: greyed in the list; forced anyway, the run fails with a message
    model = w.engine_combo.model()
    row = w.engine_combo.findText("test-unbuildable")
    assert not model.item(row).isEnabled()
    w.engine_combo.setCurrentIndex(row)
    w.set_box((30, 120, 40, 40))
    assert run_and_wait(qtbot, w, 3) == "failed"
    assert "tests_no_such_module_xyz" in w.last_message


def test_interactive_start_with_path_and_box(qtbot, tmp_path, monkeypatch):
    """`python main.py PATH --box x,y,w,h`: the window opens PATH and holds the box, ready to track."""
    from PySide6.QtWidgets import QApplication

    from app.main import main

    monkeypatch.setenv("KEEPTRACK_AUTOSAVE_DIR", str(tmp_path / "autosave"))  # the box is a keyframe: autosaved
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    seen = {}

    def poll():
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.source is not None and widget.model.box_at(0) == (50, 60, 30, 20):
                seen["box"], seen["frames"] = widget.model.box_at(0), widget.num_frames
                widget.close()
                QApplication.instance().exit(0)
                return
        poller.start()

    # Both timers are stopped once main() returns: a later exit(3) would end some later test's event loop.
    poller = QTimer(singleShot=True, interval=50)
    poller.timeout.connect(poll)
    give_up = QTimer(singleShot=True, interval=20000)
    give_up.timeout.connect(lambda: QApplication.instance().exit(3))
    poller.start()
    give_up.start()
    try:
        assert main([str(SAMPLE_PATH), "--box", "50,60,30,20"]) == 0
    finally:
        poller.stop()
        give_up.stop()
    assert seen == {"box": (50, 60, 30, 20), "frames": 120}
