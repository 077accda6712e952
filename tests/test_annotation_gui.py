"""The annotation story in the real studio window, offscreen: track the sample, fix the box at frame 50,
re-track from there, mark a frame absent, undo and redo, quit without saving, start again and find
everything (autosave), export LaSOT and MOT that import back identically."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence

from app import overlays as ov
from studio_helpers import export_and_wait, save_and_wait  # (and the engine test-step)
from app.annotation import STRIP_COLORS, attach_annotations
from app.main_window import SAMPLE_PATH, MainWindow
from tracker.annotation import Provenance
from tracker.formats.registry import read_annotations


SAMPLE_ROW_5 = tuple(float(v) for v in (SAMPLE_PATH / "groundtruth_rect.txt").read_text().splitlines()[5].split(","))


def make_window(qtbot, tmp_path, name):
    w = MainWindow(settings=QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    questions = []
    ctrl = attach_annotations(w, autosave_folder=tmp_path / "autosave",
                              ask=lambda text: questions.append(text) or True)
    w.set_engine("test-step")  # tests/studio_helpers.py: 1 px right per frame
    return w, ctrl, questions


def draw_box(qtbot, w, box):
    """As the mouse does: a finished drag on the frame view."""
    w.view.set_draw_mode(True)
    w.view._box_dragged(box, True)


def go_to(qtbot, w, index):
    with qtbot.waitSignal(w.frameShown, timeout=5000):
        w.go_to(index)


def track_and_wait(qtbot, w, start):
    with qtbot.waitSignal(w.trackingFinished, timeout=20000) as blocker:
        assert start() is not None
    assert blocker.args[1] == "done"


def test_annotation_story(qtbot, tmp_path):
    w, ctrl, _ = make_window(qtbot, tmp_path, "first")
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        assert w.open_path(SAMPLE_PATH)
    doc = ctrl.session.document
    assert len(doc) == 120

    draw_box(qtbot, w, (30, 120, 40, 40))
    assert doc[0].provenance is Provenance.MANUAL and doc[0].box == (30, 120, 40, 40)
    track_and_wait(qtbot, w, lambda: w.run_frames(None))  # the studio's "Track to the end"
    assert doc[119] is not None and doc[119].box == (149, 120, 40, 40)
    assert doc[60].provenance is Provenance.TRACKED and doc[60].engine == "test-step"
    assert doc.debug_record(60) is not None
    steps = len(ctrl.session.history)

    go_to(qtbot, w, 50)
    draw_box(qtbot, w, (100, 100, 40, 40))  # fix the box at frame 50: a manual keyframe
    assert doc[50].provenance is Provenance.MANUAL
    track_and_wait(qtbot, w, lambda: ctrl.retrack(1))  # re-track from here
    assert doc[50].box == (100, 100, 40, 40) and doc[51].box == (101, 100, 40, 40)
    assert doc[119].box == (169, 100, 40, 40) and doc[49].box == (79, 120, 40, 40)
    assert len(ctrl.session.history) == steps + 2  # the correction and the whole run: two steps

    go_to(qtbot, w, 70)
    w.action("mark_absent").trigger()
    assert doc[70].absent and doc[70].provenance is Provenance.MANUAL
    assert w.action("undo").shortcut() == QKeySequence("Ctrl+Z")
    assert w.action("redo").shortcut() == QKeySequence("Ctrl+Shift+Z")
    w.action("undo").trigger()
    assert doc[70].box == (120, 100, 40, 40) and doc[70].provenance is Provenance.TRACKED
    w.action("undo").trigger()  # the whole re-track at once
    assert doc[51].box == (81, 120, 40, 40)
    w.action("redo").trigger()
    w.action("redo").trigger()
    assert doc[70].absent and doc[51].box == (101, 100, 40, 40)
    assert w.current_index == 70  # undo/redo go to the frame the step happened on
    qtbot.waitUntil(lambda: any("absent" in text for text, _ in w.view.label_rects()), timeout=5000)
    assert not any(isinstance(d, ov.Rect) for d in w.view.layer_descriptions["annotation"])  # no box drawn

    qtbot.waitUntil(lambda: len(ctrl.strip.colors) == 120 and ctrl.strip.colors[70] == STRIP_COLORS["absent"],
                    timeout=5000)  # the provenance strip under the timeline follows the document
    assert ctrl.strip.colors[50] == STRIP_COLORS[Provenance.MANUAL]
    assert ctrl.strip.colors[60] == STRIP_COLORS[Provenance.TRACKED]
    go_to(qtbot, w, 10)
    assert ctrl.go_to_keyframe(1) == 50 and ctrl.go_to_keyframe(1) == 70 and ctrl.go_to_keyframe(-1) == 50

    qtbot.waitUntil(lambda: not ctrl.session.autosaver.pending, timeout=5000)  # autosave, debounced
    expected = doc.copy()
    w.close()  # quit without saving

    w2, ctrl2, questions = make_window(qtbot, tmp_path, "second")
    with qtbot.waitSignal(w2.frameShown, timeout=10000):
        assert ctrl2.offer_recovery_at_start()
    assert len(questions) == 1 and "recover them?" in questions[0]
    doc2 = ctrl2.session.document
    assert doc2.differences(expected) == [] and ctrl2.session.modified

    for fmt, target in (("lasot", tmp_path / "export" / "sample-1"), ("mot", tmp_path / "export" / "MOT-sample")):
        written = export_and_wait(qtbot, ctrl2, target, fmt)
        assert written is not None and written.exists()
        assert read_annotations(target, fmt).differences(doc2, provenance=False) == [], fmt
    back = read_annotations(tmp_path / "export" / "sample-1", "lasot")
    assert back.absent()[70] and np.isnan(back.boxes()[70]).all()

    assert w2.windowTitle().endswith(" *")  # recovered, not yet saved
    saved = save_and_wait(qtbot, ctrl2, tmp_path / "sample.ktproj")
    assert saved is not None and not ctrl2.session.modified and not w2.windowTitle().endswith(" *")
    w2.close()


def test_project_open_import_and_errors(qtbot, tmp_path, monkeypatch):
    w, ctrl, _ = make_window(qtbot, tmp_path, "one")
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        w.open_path(SAMPLE_PATH)
    assert ctrl.import_file(SAMPLE_PATH / "groundtruth_rect.txt")
    imported = ctrl.session.document
    assert imported[5].box == SAMPLE_ROW_5 and imported[5].provenance is Provenance.MANUAL
    assert imported.differences(read_annotations(SAMPLE_PATH), provenance=False) == []
    bad = tmp_path / "gt.txt"
    bad.write_text("1,1,10,10,5,5,1,1,1\nnot,a,line\n")
    before = ctrl.session.document.copy()
    assert not ctrl.import_file(bad)
    assert "gt.txt, line 2" in w.last_message
    assert ctrl.session.document.differences(before) == []

    project = save_and_wait(qtbot, ctrl, tmp_path / "p.ktproj")
    import os

    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    go_to(qtbot, w, 3)
    w.action("mark_absent").trigger()
    assert save_and_wait(qtbot, ctrl) is None and "No space left on device" in w.last_message
    monkeypatch.undo()
    w.close()

    w2, ctrl2, questions = make_window(qtbot, tmp_path, "two")
    with qtbot.waitSignal(w2.frameShown, timeout=10000):
        assert ctrl2.open_project(project)
    assert ctrl2.session.project_path == project
    # the unsaved "absent" on frame 3 was autosaved on close and is offered back
    assert len(questions) == 1 and ctrl2.session.document[3].absent


def test_declined_recovery_is_kept_aside_and_not_offered_again(qtbot, tmp_path):
    w, ctrl, _ = make_window(qtbot, tmp_path, "a")
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        w.open_path(SAMPLE_PATH)
    draw_box(qtbot, w, (30, 120, 40, 40))
    w.close()  # unsaved: autosaved on close

    w2 = MainWindow(settings=QSettings(str(tmp_path / "b.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w2)
    asked = []
    ctrl2 = attach_annotations(w2, autosave_folder=tmp_path / "autosave", ask=lambda t: asked.append(t) and False)
    assert not ctrl2.offer_recovery_at_start() and len(asked) == 1
    assert list((tmp_path / "autosave" / "declined").glob("*.ktproj"))  # not lost, just not offered
    with qtbot.waitSignal(w2.frameShown, timeout=10000):
        w2.open_path(SAMPLE_PATH)
    assert len(asked) == 1 and ctrl2.session.document.annotated_frames() == []
    w2.close()


def test_absent_threshold_applies_to_tracked_frames_as_one_step(qtbot, tmp_path):
    w, ctrl, _ = make_window(qtbot, tmp_path, "t")
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        w.open_path(SAMPLE_PATH)
    draw_box(qtbot, w, (30, 120, 40, 40))
    track_and_wait(qtbot, w, lambda: w.run_frames(10))
    doc = ctrl.session.document
    assert [doc[i].box is not None for i in range(11)] == [True] * 11
    ctrl.set_absent_threshold(0.9)  # the step engine reports presence 0.8
    assert all(doc[i].absent for i in range(1, 11)) and doc[0].box == (30, 120, 40, 40)
    w.action("undo").trigger()
    assert doc[5].box == (35, 120, 40, 40)
    assert ctrl.options.absent_below == 0.9  # later runs use it too
    w.close()


def test_track_backwards_from_a_keyframe_stops_at_the_previous_one(qtbot, tmp_path):
    w, ctrl, _ = make_window(qtbot, tmp_path, "b")
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        w.open_path(SAMPLE_PATH)
    go_to(qtbot, w, 20)
    draw_box(qtbot, w, (10, 10, 30, 30))
    go_to(qtbot, w, 60)
    draw_box(qtbot, w, (200, 100, 30, 30))
    track_and_wait(qtbot, w, lambda: ctrl.retrack(-1))
    doc = ctrl.session.document
    assert doc[59].box == (201, 100, 30, 30) and doc[21].box == (239, 100, 30, 30)
    assert doc[20].box == (10, 10, 30, 30) and doc[19] is None and doc[61] is None
    assert w.action("undo").text().startswith("Undo track backward from frame 60")
    w.close()


def test_sequence_ground_truth_import_and_shortcut_table(qtbot, tmp_path, otb):
    from app.dialogs import ShortcutsDialog
    from app.shortcuts import SHORTCUTS

    w, ctrl, _ = make_window(qtbot, tmp_path, "g")
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        w.open_path(otb / "Football1")
    assert w.action("import_ground_truth").isEnabled()
    w.action("import_ground_truth").trigger()
    doc = ctrl.session.document
    assert len(doc) == 81 and doc.annotated_frames() == list(range(74))  # Football1 annotates 74 of 81
    assert doc.differences(read_annotations(otb / "Football1"), provenance=False) == [f"81 frames vs 74"]
    table = ctrl.shortcuts_dialog().table  # Help > Annotation shortcuts
    texts = {table.item(r, 2).text() for r in range(table.rowCount())}
    assert "Re-track from here (to the next keyframe)" in texts and "Undo" in texts
    assert ShortcutsDialog(w).table.rowCount() == len(SHORTCUTS)  # the studio's own table is left alone
    w.close()
