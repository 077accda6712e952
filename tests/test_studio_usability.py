"""Usability defects found by using the studio, each driven end to end through the real MainWindow
(keys and mouse through qtbot): focus traps in the number boxes, exports that overwrite, unsaved work
on quit/open, status widgets, debug views on long footage."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio_helpers import StepEngine, export_and_wait, save_and_wait, trigger_and_wait
from app.annotation import attach_annotations
from app.main_window import SAMPLE_PATH, MainWindow
from tracker.annotation import Provenance
from tracker.registry import EngineInfo, register
from tracker.result import FrameResult


STAGES = ("decode", "backbone", "classifier", "peaks", "association", "iou refine", "update", "memory")


class LookalikeEngine(StepEngine):
    """The target (id 1) and a look-alike (id 2) with nearly the same score; eight timed stages."""

    name = "test-lookalike"

    def track(self, frame, frame_index=None):
        from tracker.result import Candidate

        r = super().track(frame, frame_index)
        x, y, w, h = r.box
        cands = (Candidate(x + w / 2, y + h / 2, 0.80, 1), Candidate(x + w / 2 + 30, y + h / 2, 0.79, 2))
        return FrameResult(r.frame_index, r.box, 0.8, candidates=cands, selected_id=1,
                           timings={s: 0.001 * (k + 1) for k, s in enumerate(STAGES)})


register(EngineInfo("test-lookalike", f"{__name__}:LookalikeEngine", "target and look-alike with ids"))


class Answers:
    """Answers every question of app.dialogs (no modal box in tests) and records it."""

    def __init__(self):
        self.questions: list[tuple[str, tuple[str, ...]]] = []
        self.queue: list[str] = []
        self.saves: list[tuple[str, str]] = []  # (title, start folder) of every file chooser
        self.paths: list[str] = []

    def ask(self, parent, text, choices=("yes", "no")):
        self.questions.append((text, tuple(choices)))
        answer = self.queue.pop(0) if self.queue else ("discard" if "discard" in choices else "cancel")
        assert answer in choices, (answer, choices)
        return answer

    def path(self, parent, title, start, *_):
        self.saves.append((title, start))
        return self.paths.pop(0) if self.paths else ""


@pytest.fixture
def answers(monkeypatch):
    from app import dialogs

    a = Answers()
    monkeypatch.setattr(dialogs, "ask", a.ask)
    monkeypatch.setattr(dialogs, "get_save_path", a.path)
    monkeypatch.setattr(dialogs, "get_folder", a.path)
    return a


@pytest.fixture
def studio(qtbot, tmp_path, answers):
    w = MainWindow(settings=QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    ctrl = attach_annotations(w, autosave_folder=tmp_path / "autosave", ask=lambda text: True)
    w.set_engine("test-step")
    w.show()
    w.activateWindow()
    qtbot.waitExposed(w)
    yield w, ctrl
    answers.queue[:] = []
    w.close()


def open_sample(qtbot, w, path=SAMPLE_PATH):
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        assert w.open_path(path)


def wait_run(qtbot, w, start):
    with qtbot.waitSignal(w.trackingFinished, timeout=20000) as blocker:
        start()
    assert blocker.args[1] == "done"


def focus(qtbot, widget):
    QTest.mouseClick(widget.lineEdit(), Qt.MouseButton.LeftButton)  # as a person does: click into the text
    qtbot.waitUntil(widget.hasFocus, timeout=2000)


# ---------------------------------------------------------------------------------------------------- 4: focus
def test_shortcuts_work_while_a_number_box_has_focus(qtbot, studio):
    w, ctrl = studio
    open_sample(qtbot, w)
    w.n_spin.setValue(5)
    focus(qtbot, w.n_spin)
    with qtbot.waitSignal(w.trackingFinished, timeout=20000):
        QTest.keyClick(w.n_spin, Qt.Key.Key_R)  # R = track N, though the N box has focus
    assert w.store.get(5) is not None and w.store.get(6) is None
    assert w.n_spin.text() == "N = 5"  # the R was not typed into the box

    doc = ctrl.session.document
    focus(qtbot, w.timeline.spin)
    QTest.keyClick(w.timeline.spin, Qt.Key.Key_A)  # mark absent, from inside the frame box
    qtbot.waitUntil(lambda: doc[5].absent, timeout=2000)
    QTest.keyClick(w.timeline.spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo
    qtbot.waitUntil(lambda: not doc[5].absent, timeout=2000)
    QTest.keyClick(w.timeline.spin, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)  # redo
    qtbot.waitUntil(lambda: doc[5].absent, timeout=2000)


def test_frame_box_enter_commits_esc_abandons_and_focus_comes_back(qtbot, studio):
    w, _ = studio
    open_sample(qtbot, w)
    spin = w.timeline.spin
    focus(qtbot, spin)
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin, "42")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.current_index == 42 and w.frame_label.text().startswith("frame 42 "), timeout=5000)
    assert not spin.hasFocus()
    QTest.keyClick(QApplication.focusWidget() or w, Qt.Key.Key_3)  # digits are overlay toggles again
    assert not w.overlay_enabled["score_map"]

    focus(qtbot, spin)
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin, "9")
    QTest.keyClick(spin, Qt.Key.Key_Escape)  # abandon the half-typed 9
    qtbot.wait(100)
    assert not spin.hasFocus() and w.current_index == 42 and spin.value() == 42 and spin.text() == "42"


# ---------------------------------------------------------------------------------------------------- 5: exports
def export_action(w, fmt):
    menu = next(a.menu() for a in w.menu("File").actions() if a.menu() and a.text() == "Export annotations")
    return next(a for a in menu.actions() if a.text().startswith(f"{fmt}:"))


def test_export_asks_before_replacing_a_sequence_folders_ground_truth(qtbot, studio, answers, tmp_path):
    w, ctrl = studio
    open_sample(qtbot, w)
    seq = tmp_path / "lasot" / "cat-1"
    seq.mkdir(parents=True)
    original = "1,2,3,4\n" * 120
    (seq / "groundtruth.txt").write_text(original)
    w.action("mark_absent").trigger()  # something to export

    answers.paths, answers.queue = [str(seq)], ["cancel"]
    assert trigger_and_wait(qtbot, ctrl, export_action(w, "lasot")).written is None
    assert len(answers.questions) == 1 and str(seq / "groundtruth.txt") in answers.questions[0][0]
    assert (seq / "groundtruth.txt").read_text() == original  # cancelled: the ground truth is intact
    assert not (seq / "full_occlusion.txt").exists()
    assert answers.saves[0][1] == str(Path.home())  # the first export starts at home, not in the data folder

    answers.paths, answers.queue = [str(seq)], ["overwrite"]
    assert trigger_and_wait(qtbot, ctrl, export_action(w, "lasot")).written is not None
    assert (seq / "groundtruth.txt").read_text() != original and (seq / "full_occlusion.txt").exists()
    export_action(w, "lasot").trigger()  # (chooser cancelled)
    assert answers.saves[2][1] == str(seq)  # the chooser opens where the last export went


@pytest.mark.parametrize("fmt", ["otb", "lasot", "got10k", "mot", "coco-vid", "vot", "pytracking", "research"])
def test_every_format_asks_before_replacing(qtbot, studio, answers, tmp_path, fmt):
    from tracker.formats.registry import FORMATS

    w, ctrl = studio
    open_sample(qtbot, w)
    w.action("mark_absent").trigger()
    suffix = FORMATS[fmt].suffix or (".txt" if fmt in ("otb",) else "")
    target = tmp_path / "out" / f"seq{suffix}"
    assert export_and_wait(qtbot, ctrl, target, fmt) is not None and answers.questions == []  # nothing there yet: no question
    written = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in written}
    w.go_to(3)
    w.action("mark_absent").trigger()  # the next export differs
    answers.queue = ["cancel"]
    assert export_and_wait(qtbot, ctrl, target, fmt) is None
    assert len(answers.questions) == 1
    assert all(str(p) in answers.questions[0][0] for p in written[:6])  # every file it would replace, named
    assert {p: p.read_bytes() for p in written} == before


def test_saved_files_keep_the_umask_and_symlinked_projects_stay_links(qtbot, studio, answers, tmp_path):
    import os
    import stat

    w, ctrl = studio
    open_sample(qtbot, w)
    old = os.umask(0o022)
    try:
        (tmp_path / "real").mkdir()
        project = save_and_wait(qtbot, ctrl, tmp_path / "real" / "p.ktproj")
        assert stat.S_IMODE(project.stat().st_mode) == 0o644
        written = export_and_wait(qtbot, ctrl, tmp_path / "exp" / "seq", "lasot")
        assert stat.S_IMODE(written.stat().st_mode) == 0o644
    finally:
        os.umask(old)

    link = tmp_path / "link.ktproj"
    link.symlink_to(project)
    w.close()
    w2 = MainWindow(settings=QSettings(str(tmp_path / "s2.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w2)
    ctrl2 = attach_annotations(w2, autosave_folder=tmp_path / "autosave", ask=lambda text: True)
    w2.set_engine("test-step")
    with qtbot.waitSignal(w2.frameShown, timeout=10000):
        assert ctrl2.open_project(link)
    w2.action("mark_absent").trigger()
    assert save_and_wait(qtbot, ctrl2) is not None
    assert link.is_symlink() and link.resolve() == project.resolve()
    from tracker.annotation.project import load_project

    assert load_project(project).document[0].absent
    w2.close()


def test_exports_and_saves_run_in_the_file_thread_and_a_failure_loses_nothing(qtbot, studio, answers, tmp_path,
                                                                              monkeypatch):
    import threading
    import time

    from PySide6.QtCore import QTimer

    from tracker.annotation import session as session_module
    from tracker.formats import registry
    from tracker.formats.registry import read_annotations

    w, ctrl = studio
    open_sample(qtbot, w)
    draw(w, (30, 120, 40, 40))
    gui, writers = threading.current_thread(), []
    slow = 0.3

    def slow_write(real):
        def write(*args, **kwargs):
            writers.append(threading.current_thread())
            time.sleep(slow)  # a big export or project: the window must go on meanwhile
            return real(*args, **kwargs)
        return write

    monkeypatch.setattr(registry, "write_annotations", slow_write(registry.write_annotations))
    monkeypatch.setattr(session_module, "save_project", slow_write(session_module.save_project))
    ticks = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()

    target = tmp_path / "out" / "seq"
    with qtbot.waitSignal(ctrl.exported, timeout=10000) as blocker:
        assert ctrl.export(target, "lasot")
        draw(w, (50, 100, 40, 40))  # an edit while the export is written: the export keeps the snapshot
    assert blocker.args[0].error is None and blocker.args[0].written.exists()
    assert read_annotations(target, "lasot")[0].box == (30, 120, 40, 40)
    assert len(writers) == 2 and gui not in writers  # the check of what it replaces, then the write
    assert len(ticks) >= 10  # ~0.6 s of writing: the GUI thread kept serving its timer

    # a project save: written in the file thread; an edit made meanwhile stays unsaved
    writers.clear()
    with qtbot.waitSignal(ctrl.saved, timeout=10000) as blocker:
        assert ctrl.save(tmp_path / "p.ktproj") is not None
        draw(w, (60, 90, 40, 40))
    assert blocker.args[0].error is None and writers and gui not in writers
    from tracker.annotation.project import load_project

    assert load_project(tmp_path / "p.ktproj").document[0].box == (50, 100, 40, 40)
    assert ctrl.session.modified and w.windowTitle().endswith(" *")
    timer.stop()

    # failing: the folder to write into is a file. The error is on screen, nothing is lost or touched
    slow = 0.0
    blocker_file = tmp_path / "not-a-folder"
    blocker_file.write_text("keep me")
    assert export_and_wait(qtbot, ctrl, blocker_file / "seq", "lasot") is None
    assert "Export failed" in w.last_message and "not-a-folder" in w.last_message and w.message_bar.isVisible()
    assert save_and_wait(qtbot, ctrl, blocker_file / "p.ktproj") is None
    assert "Not saved" in w.last_message and "not-a-folder" in w.last_message
    assert blocker_file.read_text() == "keep me"
    assert ctrl.session.document[0].box == (60, 90, 40, 40) and ctrl.session.modified
    assert ctrl.session.project_path == tmp_path / "p.ktproj"  # the failed Save as did not move the project
    assert save_and_wait(qtbot, ctrl) == tmp_path / "p.ktproj" and not ctrl.session.modified
    assert not w.message_bar.isVisible()  # the next successful save clears the red bar


def test_a_project_is_read_in_the_file_thread_and_a_broken_one_is_a_message(qtbot, studio, answers, tmp_path,
                                                                            monkeypatch):
    import threading
    import time

    from PySide6.QtCore import QTimer

    from tracker.annotation import project as project_module

    w, ctrl = studio
    open_sample(qtbot, w)
    draw(w, (30, 120, 40, 40))
    saved = save_and_wait(qtbot, ctrl, tmp_path / "p.ktproj")
    real, readers = project_module.load_project, []

    def slow_load(path):
        readers.append(threading.current_thread())
        time.sleep(0.3)  # a long sequence with its debug records
        return real(path)

    monkeypatch.setattr(project_module, "load_project", slow_load)
    ticks = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        assert ctrl.open_project(saved)
    timer.stop()
    assert readers and threading.current_thread() not in readers and len(ticks) >= 5
    assert ctrl.session.project_path == saved and ctrl.session.document[0].box == (30, 120, 40, 40)

    broken = tmp_path / "broken.ktproj"
    broken.write_text("{ not json")
    with qtbot.waitSignal(ctrl.projectLoaded, timeout=10000) as blocker:
        ctrl.open_project(broken)
    assert blocker.args[0].error and "broken.ktproj" in w.last_message and w.message_bar.isVisible()
    assert ctrl.session.project_path == saved and ctrl.session.document[0].box == (30, 120, 40, 40)  # untouched


# ---------------------------------------------------------------------------------------------------- 6: unsaved work
def draw(w, box):
    w.view.set_draw_mode(True)
    w.view._box_dragged(box, True)  # a finished drag on the frame view


def test_quit_and_open_with_unsaved_changes_ask_save_discard_cancel(qtbot, studio, answers, tmp_path):
    import cv2
    import numpy as np

    w, ctrl = studio
    other = tmp_path / "other"
    other.mkdir()
    for i in range(3):
        cv2.imwrite(str(other / f"{i:04d}.png"), np.full((60, 80, 3), 40 * i, np.uint8))
    open_sample(qtbot, w)
    draw(w, (30, 120, 40, 40))
    assert ctrl.session.modified

    answers.queue = ["cancel"]
    QTest.keyClick(w, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)  # File > Quit
    assert w.isVisible() and len(answers.questions) == 1
    assert answers.questions[0][1] == ("save", "discard", "cancel") and "quit" in answers.questions[0][0]

    answers.queue = ["cancel"]
    assert not w.open_path(other)
    assert w.source_path == SAMPLE_PATH and ctrl.session.document[0].box == (30, 120, 40, 40)

    answers.queue, answers.paths = ["save"], [str(tmp_path / "sample.ktproj")]
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        assert w.open_path(other)
    assert (tmp_path / "sample.ktproj").exists() and w.source_path == other
    from tracker.annotation.project import load_project

    assert load_project(tmp_path / "sample.ktproj").document[0].box == (30, 120, 40, 40)

    draw(w, (5, 5, 20, 20))
    answers.queue = ["discard"]
    w.close()
    assert not w.isVisible() and len(answers.questions) == 4


def test_save_as_is_ctrl_shift_s_and_the_sample_has_its_own_key(qtbot, studio, answers, tmp_path):
    w, ctrl = studio
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        QTest.keyClick(w, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert w.source_path == SAMPLE_PATH
    answers.paths = [str(tmp_path / "as.ktproj")]
    with qtbot.waitSignal(ctrl.saved, timeout=10000):  # written in the file thread
        QTest.keyClick(w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert answers.saves and answers.saves[-1][0] == "Save project"
    assert (tmp_path / "as.ktproj").exists() and ctrl.session.project_path == tmp_path / "as.ktproj"


# ---------------------------------------------------------------------------------------------------- 10: status
def test_status_widgets_reset_per_run_and_footage_and_errors_clear(qtbot, studio, tmp_path):
    import cv2
    import numpy as np

    w, ctrl = studio
    assert w.fps_label.text() == ""  # nothing ran yet: no "0.0 fps"
    other = tmp_path / "other"
    other.mkdir()
    for i in range(30):
        cv2.imwrite(str(other / f"{i:04d}.png"), np.full((60, 80, 3), 4 * i, np.uint8))
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        assert w.open_path(other)
    assert w.run_frames(5) is None and not w.message_bar.isHidden()  # no box yet: the red bar says so
    draw(w, (10, 10, 20, 20))
    assert w.message_bar.isHidden()  # the next successful action clears it
    w.n_spin.setValue(20)
    wait_run(qtbot, w, lambda: w.run_frames(20))
    assert w.progress.maximum() == 20 and w.progress.value() == 20 and w.fps_label.text().endswith(" fps")

    open_sample(qtbot, w)  # other footage: nothing of the last run's figures
    assert w.fps_label.text() == "" and w.progress.value() == 0 and w.progress.maximum() <= 1
    wait_run(qtbot, w, lambda: w.run_frames(3))
    assert w.progress.maximum() == 3 and w.progress.value() == 3


# ---------------------------------------------------------------------------------------------------- 7: debug views
def test_debug_plots_follow_a_window_break_at_retracks_and_keep_labels_apart(qtbot, studio):
    from app.debug_dock import LABEL_GAP, PLOT_WINDOW

    w, ctrl = studio
    w.set_engine("test-lookalike")
    open_sample(qtbot, w)
    dock = w.debug_dock
    draw(w, (30, 120, 40, 40))
    wait_run(qtbot, w, lambda: w.run_frames(59))  # frames 0..59
    with qtbot.waitSignal(w.frameShown, timeout=5000):
        w.go_to(80)
    draw(w, (60, 100, 40, 40))
    wait_run(qtbot, w, lambda: w.run_frames(None))  # a second run, 80..119: a re-track after a gap
    with qtbot.waitSignal(w.frameShown, timeout=5000):
        w.go_to(110)

    lo, hi = dock.visible_frames()
    assert lo <= 110 <= hi and hi - lo <= PLOT_WINDOW + 2  # a window around the frame, not all 120 frames
    curve = dock.score_curves[1]
    frames = list(curve.frames)
    gap = frames.index(59)
    assert frames[gap + 1] >= 80
    connect = curve.opts["connect"]
    assert not connect[gap] and connect[gap - 1] and connect[gap + 1]  # no line from frame 59 to frame 80
    y1, y2 = dock.score_curves[1].label.pos().y(), dock.score_curves[2].label.pos().y()
    y_lo, y_hi = dock.scores_plot.getViewBox().viewRange()[1]
    assert abs(y1 - y2) >= LABEL_GAP * (y_hi - y_lo) * 0.99  # scores 0.80 and 0.79: labels apart anyway

    qtbot.waitUntil(lambda: dock.timings.rowCount() == len(STAGES) + 1, timeout=5000)  # + total
    table = dock.timings
    last = table.rowCount() - 1
    assert table.rowViewportPosition(last) + table.rowHeight(last) <= table.viewport().height()  # every row shows


class CrowdEngine(StepEngine):
    """The target (id 1) at the box centre, look-alikes inside the box (id 2), at its edge (id 3) and
    beside it (id 4): every label's first place would cover the target's box or another label."""

    name = "test-crowd"

    def track(self, frame, frame_index=None):
        from tracker.result import Candidate

        r = super().track(frame, frame_index)
        x, y, w, h = r.box
        cx, cy = x + w / 2, y + h / 2
        cands = (Candidate(cx, cy, 0.90, 1), Candidate(cx + 8, cy + 4, 0.61, 2),
                 Candidate(x + w, cy - 6, 0.42, 3), Candidate(x + w + 14, cy, 0.30, 4))
        return FrameResult(r.frame_index, r.box, 0.9, candidates=cands, selected_id=1)


register(EngineInfo("test-crowd", f"{__name__}:CrowdEngine", "target with look-alikes around it"))


def _labels_clear(w, index):
    """Every label on screen (engine's candidates and the annotation label), from the drawn items: none
    covers the target's box (tracked or annotated) or another label."""
    from app.overlays import rects_intersect

    labels = w.view.label_rects()
    (tracked,) = w.view.overlay_descriptions["box"]
    targets = [(tracked.x, tracked.y, tracked.w, tracked.h), w.model.box_at(index)]
    texts = [t for t, _ in labels]
    assert any(t.startswith("1:") for t in texts) and any(t.startswith("tracked") for t in texts), texts
    for k, (text, rect) in enumerate(labels):
        for target in targets:
            assert not rects_intersect(rect, target), (text, rect, target)
        for other_text, other in labels[k + 1:]:
            assert not rects_intersect(rect, other), (text, rect, other_text, other)
    return labels


def test_labels_keep_off_the_target_and_each_other_and_the_selected_id_reads(qtbot, studio):
    from app import overlays as ov

    w, _ = studio
    w.set_engine("test-crowd")
    open_sample(qtbot, w)
    draw(w, (60, 90, 40, 36))
    wait_run(qtbot, w, lambda: QTest.keyClick(w, Qt.Key.Key_T))  # a real key: track one frame
    qtbot.waitUntil(lambda: w.current_index == 1 and bool(w.view.overlay_descriptions.get("candidates")),
                    timeout=5000)
    labels = _labels_clear(w, 1)
    assert len(labels) == 5  # four candidates and the annotation label

    # the selected target's id: opaque on its id colour, framed, with text of readable contrast
    (selected,) = [(d, item) for d, item in w.view._drawn() if isinstance(d, ov.Text) and d.text.startswith("1:")]
    d, item = selected
    fill = item.fill.color()
    assert fill.alpha() == 255 and (fill.red(), fill.green(), fill.blue()) == ov.id_color(1)
    text = item.color
    assert ov.contrast_ratio((text.red(), text.green(), text.blue()), ov.id_color(1)) >= 4.5
    assert item.border.style() != Qt.PenStyle.NoPen

    # zoomed in on the target and out again (text keeps its screen size): placed anew each time
    import pyqtgraph as pg

    vb = w.view.viewbox
    for factor in (0.4, 4.0):
        vb.scaleBy((factor, factor), center=pg.Point(80, 108))
        QApplication.processEvents()
        _labels_clear(w, 1)


# ------------------------------------------------------------------ found in the real-window trial (Xvfb, mouse and keys)
def test_the_progress_bar_is_empty_before_any_run_and_for_new_footage(qtbot, studio, tmp_path):
    w, _ = studio
    open_sample(qtbot, w)
    assert w.progress.text() == ""  # it said "0 / 1" before anything ran
    draw(w, (30, 120, 40, 40))
    w.n_spin.setValue(5)
    wait_run(qtbot, w, lambda: QTest.keyClick(w, Qt.Key.Key_R))
    assert w.progress.text() == "5 / 5"
    open_sample(qtbot, w)  # the same footage again: a fresh session
    assert w.progress.text() == ""


def test_undoing_a_run_removes_it_from_the_debug_plots_and_the_flag_strip(qtbot, studio):
    w, _ = studio
    w.set_engine("test-lookalike")
    open_sample(qtbot, w)
    draw(w, (30, 120, 40, 40))
    w.n_spin.setValue(20)
    wait_run(qtbot, w, lambda: QTest.keyClick(w, Qt.Key.Key_R))
    dock = w.debug_dock
    assert set(dock.score_curves) == {1, 2} and len(dock.presence_curve.getData()[0]) == 21
    assert sum(f is not None for f in w.timeline.strip.flags) == 21
    QTest.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the run
    # the plots and the strip showed the undone run's curves and flags: they contradicted the annotation
    qtbot.waitUntil(lambda: not dock.score_curves and not w.timeline.strip.flags[5], timeout=3000)
    frames, _ = dock.presence_curve.getData()
    assert frames is None or len(frames) == 0
    assert all(f is None for f in w.timeline.strip.flags)
    QTest.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)  # redo
    qtbot.waitUntil(lambda: set(dock.score_curves) == {1, 2}, timeout=3000)
    assert sum(f is not None for f in w.timeline.strip.flags) == 21


def test_save_as_starts_in_the_last_project_folder_never_inside_the_data_folder(qtbot, studio, answers, tmp_path):
    w, ctrl = studio
    open_sample(qtbot, w)
    answers.paths = [""]  # (chooser cancelled)
    QTest.keyClick(w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    first = Path(answers.saves[-1][1])
    assert first.parent == Path.home() and first.name == "sample.ktproj"  # it opened beside the footage
    projects = tmp_path / "projects"
    projects.mkdir()
    answers.paths = [str(projects / "mine.ktproj")]
    with qtbot.waitSignal(ctrl.saved, timeout=10000):
        QTest.keyClick(w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    open_sample(qtbot, w)  # other footage (a fresh session of the sample): Save as starts where projects went
    answers.paths = [""]
    QTest.keyClick(w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert Path(answers.saves[-1][1]).parent == projects


def test_the_empty_score_plot_says_so_on_long_footage(qtbot, studio, tmp_path):
    import cv2
    import numpy as np

    w, _ = studio
    folder = tmp_path / "long"
    folder.mkdir()
    for i in range(400):
        cv2.imwrite(str(folder / f"{i:04d}.png"), np.full((48, 64, 3), i % 250, np.uint8))
    open_sample(qtbot, w, folder)
    dock = w.debug_dock
    for frame in (0, 350):
        with qtbot.waitSignal(w.frameShown, timeout=5000):
            w.go_to(frame)
        lo, hi = dock.visible_frames()
        # the hint stood in the middle of all 400 frames, off the 100-frame window on view (vtest.avi)
        assert dock.scores_hint.isVisible() and lo <= dock.scores_hint.pos().x() <= hi
