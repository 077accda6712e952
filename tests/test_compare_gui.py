"""The studio comparison end to end, in the real window with keys and the mouse (issue 14 item 5): three
trackers side by side with the ground truth (result files written by `main.py eval` / `track`, and the
current run), an IoU strip each, jumps to the next failure and the next identity switch, and a success
dock whose AUCs are the ones `main.py eval` prints for the same boxes."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog
from test_eval_protocol import SubPixelEngine, gt_rows, make_otb, table_rows

from app.annotation import attach_annotations
from app.compare import CURRENT_RUN
from app import compare_dock
from app.compare_dock import FAIL_COLOR, attach_compare
from app.main_window import MainWindow
from main import main
from tracker.engine import Engine, check_frame
from tracker.evaluation.metrics import iou_inclusive
from tracker.evaluation.runner import evaluate_engines
from tracker.formats.pytracking import write_boxes
from tracker.registry import EngineInfo, register
from tracker.result import Candidate, FrameResult

NO_MOD = Qt.KeyboardModifier.NoModifier
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
FAIL_FRAMES = range(10, 14)  # the scripted engine jumps 20 px off the target here
SWITCH_FRAMES = (15, 23)  # and picks another object id here (and back)


class SwitchEngine(Engine):
    """Follows the synthetic sequence's ground truth exactly (it moves as gt_rows does), except on
    FAIL_FRAMES; its target's object id is 1, and 2 from frame 15 to 22: a distractor taken for the target."""

    name = "test-switch"

    def initialize(self, frame, box, frame_index=0):
        check_frame(frame)
        self.start, self.box0 = frame_index, np.asarray(box, float)
        return self._result(frame_index, self.box0)

    def track(self, frame, frame_index=None):
        check_frame(frame)
        i = self._next_index(frame_index)
        k = i - self.start
        box = self.box0 + [0.5 * k, 0.2 * k, 0.1 * k, 0.0]
        if i in FAIL_FRAMES:
            box = box + [20.0, 0.0, 0.0, 0.0]
        return self._result(i, box)

    @staticmethod
    def _result(i, box):
        oid = 2 if SWITCH_FRAMES[0] <= i < SWITCH_FRAMES[1] else 1
        x, y, w, h = (float(v) for v in box)
        return FrameResult(i, (x, y, w, h), 0.9, candidates=(Candidate(x + w / 2, y + h / 2, 0.9, oid),),
                           selected_id=oid)


register(EngineInfo("test-switch", f"{__name__}:SwitchEngine", "scripted engine with an identity switch"))


def make_window(qtbot, tmp_path):
    w = MainWindow(settings=QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    attach_annotations(w, autosave_folder=tmp_path / "autosave", ask=lambda _text: True, autosave=False)
    return w, attach_compare(w)


def open_and_wait(qtbot, w, path):
    with qtbot.waitSignal(w.frameShown, timeout=10000):
        assert w.open_path(path)


def on_frame(qtbot, w, index):
    qtbot.waitUntil(lambda: w.current_index == index and w.frame_label.text().startswith(f"frame {index} "),
                    timeout=5000)


def press(qtbot, w, key, mod=NO_MOD):
    QTest.keyClick(w, key, mod)


def load_with_keys(qtbot, w, compare, monkeypatch, files=None, folder=None):
    """Ctrl+L (files) or Ctrl+Shift+L (a folder), the dialog answered with `files` / `folder`."""
    if files is not None:
        monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(f) for f in files], ""))
        with qtbot.waitSignal(compare.loaded, timeout=20000):
            press(qtbot, w, Qt.Key.Key_L, CTRL)
    else:
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
        with qtbot.waitSignal(compare.loaded, timeout=20000):
            press(qtbot, w, Qt.Key.Key_L, CTRL | SHIFT)
    qtbot.waitUntil(lambda: not compare.busy, timeout=20000)  # (the signal may have been the current run's)


def click_tracker(qtbot, compare, name):
    table = compare.dock.table
    rect = table.visualItemRect(table.item(compare.dock.row_of(name), 1))
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, NO_MOD, rect.center())
    qtbot.waitUntil(lambda: compare.comparison.selected == name, timeout=2000)


def track_to_end(qtbot, w, compare):
    with qtbot.waitSignal(compare.loaded, timeout=30000):  # the current run joins the comparison
        with qtbot.waitSignal(w.trackingFinished, timeout=30000) as done:
            press(qtbot, w, Qt.Key.Key_R, CTRL)
    assert done.args[1] == "done"
    qtbot.waitUntil(lambda: not compare.busy, timeout=10000)


def aucs_in_legend(compare) -> dict[str, str]:
    out = {}
    for label in compare.dock.legend_labels():
        name, _, auc = label.rpartition(" [")
        out[name] = auc.rstrip("]")
    return out


def test_three_trackers_side_by_side_failures_id_switches_and_success_dock(qtbot, tmp_path, monkeypatch, capsys):
    seq = make_otb(tmp_path, "Seq", gt_rows(30))
    gt = np.asarray(gt_rows(30))
    evaluate_engines({"sub": SubPixelEngine}, [seq], results_root=tmp_path / "res")  # what `eval --results` writes
    lost = gt.copy()
    lost[18:, 0] += 25  # loses the target from frame 18 on
    (tmp_path / "lost").mkdir()
    write_boxes(tmp_path / "lost" / "Seq.txt", lost)

    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, seq)
    w.set_engine("test-switch")
    track_to_end(qtbot, w, compare)
    assert compare.comparison.names == [CURRENT_RUN]
    assert compare.comparison.entries[CURRENT_RUN].tracker.origin.endswith("(test-switch)")
    load_with_keys(qtbot, w, compare, monkeypatch, folder=tmp_path / "res")
    load_with_keys(qtbot, w, compare, monkeypatch, files=[tmp_path / "lost" / "Seq.txt"])
    c = compare.comparison
    assert c.names == [CURRENT_RUN, "sub", "lost"] and compare.errors == []
    assert front_tab(w) == compare.dock.windowTitle() and compare.dock.table.rowCount() == 3
    assert len({c.colors[n] for n in c.names}) == 3

    # side by side on the frame: every tracker's box as it holds it, in its colour
    press(qtbot, w, Qt.Key.Key_Home)
    on_frame(qtbot, w, 0)
    press(qtbot, w, Qt.Key.Key_Right, SHIFT)
    on_frame(qtbot, w, 10)
    drawn = compare.overlay.visible_boxes()
    assert set(drawn) == {CURRENT_RUN, "sub", "lost"}
    assert np.allclose(drawn[CURRENT_RUN], w.store.get(10).box)
    assert np.allclose(drawn["lost"], lost[10])
    assert w.overlay_enabled["ground_truth"]  # the ground truth is the studio's own overlay (white, dashed)

    # an IoU strip per tracker under the timeline: red where it fails
    strips = compare.strips.strips
    assert set(strips) == set(c.names) and compare.strips.isVisible()
    failing = {name: [tuple(rgb) == FAIL_COLOR for rgb in strips[name].rgb] for name in strips}
    assert failing[CURRENT_RUN] == [i in FAIL_FRAMES for i in range(30)]
    assert failing["lost"] == [i >= 18 for i in range(30)] and not any(failing["sub"])

    # the current run (clicked in the dock): ] jumps to where its IoU drops below 0.5, Ctrl+] to its id switches
    click_tracker(qtbot, compare, CURRENT_RUN)
    press(qtbot, w, Qt.Key.Key_Home)
    on_frame(qtbot, w, 0)
    press(qtbot, w, Qt.Key.Key_BracketRight)
    on_frame(qtbot, w, FAIL_FRAMES[0])
    assert f"IoU {c.entries[CURRENT_RUN].iou[10]:.2f} on frame 10 (below 0.50)" in w.statusBar().currentMessage()
    press(qtbot, w, Qt.Key.Key_BracketRight)  # no further drop: it stays
    assert w.current_index == FAIL_FRAMES[0] and "no IoU drop below 0.50" in w.statusBar().currentMessage()
    press(qtbot, w, Qt.Key.Key_BracketRight, CTRL)
    on_frame(qtbot, w, SWITCH_FRAMES[0])
    assert "target id 1 -> 2 on frame 15" in w.statusBar().currentMessage()
    press(qtbot, w, Qt.Key.Key_BracketRight, CTRL)
    on_frame(qtbot, w, SWITCH_FRAMES[1])
    press(qtbot, w, Qt.Key.Key_BracketLeft, CTRL)
    on_frame(qtbot, w, SWITCH_FRAMES[0])
    assert compare.dock.table.item(compare.dock.row_of(CURRENT_RUN), 4).text() == "2"

    # \ selects the next tracker (a result file): it fails from 18; it has no ids, and the window says so
    press(qtbot, w, Qt.Key.Key_Backslash)
    press(qtbot, w, Qt.Key.Key_Backslash)
    assert c.selected == "lost"
    press(qtbot, w, Qt.Key.Key_BracketRight)
    on_frame(qtbot, w, 18)
    press(qtbot, w, Qt.Key.Key_BracketRight, CTRL)
    assert w.current_index == 18 and "lost has no object ids" in w.last_message

    # a settable threshold: at 0.95 the drifting sub-pixel tracker fails where its IoU first drops below it
    click_tracker(qtbot, compare, "sub")
    compare.dock.threshold.setValue(0.95)
    assert c.threshold == 0.95
    sub = c.entries["sub"].tracker.boxes
    expected = int(np.flatnonzero(iou_inclusive(sub[1:], gt[1:]) < 0.95)[0]) + 1
    press(qtbot, w, Qt.Key.Key_Home)
    on_frame(qtbot, w, 0)
    press(qtbot, w, Qt.Key.Key_BracketRight)
    on_frame(qtbot, w, expected)

    # the success dock: best first, AUCs as `main.py eval` prints them for the same boxes
    assert main(["eval", str(seq), "--engines", "test-switch", "--results-from", f"sub={tmp_path / 'res/sub/default'}",
                 "--results-from", f"lost={tmp_path / 'lost'}"]) == 0
    printed = table_rows(capsys.readouterr().out)
    legend = aucs_in_legend(compare)
    assert legend == {CURRENT_RUN: printed[("test-switch", "Seq")][1], "sub": printed[("sub", "Seq")][1],
                      "lost": printed[("lost", "Seq")][1]}
    assert [float(v) for v in legend.values()] == sorted((float(v) for v in legend.values()), reverse=True)

    # a bad file is named, and nothing shown is lost
    write_boxes(tmp_path / "short.txt", gt[:9])
    load_with_keys(qtbot, w, compare, monkeypatch, files=[tmp_path / "short.txt"])
    assert "short.txt: 9 boxes for 30 frames" in w.last_message
    assert c.names == [CURRENT_RUN, "sub", "lost"]

    # undoing the run takes the current run out of the comparison
    with qtbot.waitSignal(compare.loaded, timeout=10000):
        press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert c.names == ["sub", "lost"]


def front_tab(w) -> str:
    """The title of the dock in front where Debug and Compare share a tab."""
    from PySide6.QtWidgets import QTabBar

    bars = [b for b in w.findChildren(QTabBar) if "Compare" in [b.tabText(i) for i in range(b.count())]]
    assert len(bars) == 1
    return bars[0].tabText(bars[0].currentIndex())


def test_a_tracking_run_leaves_the_debug_dock_and_its_status_line_in_place(qtbot, tmp_path):
    seq = make_otb(tmp_path, "Seq", gt_rows(12))
    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, seq)
    w.debug_dock.raise_()
    w.set_engine("test-switch")
    track_to_end(qtbot, w, compare)
    assert compare.comparison.names == [CURRENT_RUN]  # the current run joined, quietly
    assert front_tab(w) == w.debug_dock.windowTitle()  # the score map and candidates stay in view
    assert w.statusBar().currentMessage().startswith("Tracked up to frame 11")


def test_footage_without_ground_truth_says_so(qtbot, tmp_path, monkeypatch):
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for k in range(8):
        cv2.imwrite(str(folder / f"{k:05d}.png"), np.full((40, 40, 3), 20 * k, np.uint8))
    write_boxes(tmp_path / "mine.txt", [[5, 5, 10, 10]] * 8)
    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, folder)
    threads = []
    real = compare_dock.load_trackers
    monkeypatch.setattr(compare_dock, "load_trackers", lambda *a: threads.append(threading.current_thread()) or real(*a))
    with qtbot.waitSignal(compare.loaded, timeout=10000):
        assert compare.load([tmp_path / "mine.txt"])
        assert compare.busy and compare.comparison.names == []  # load() returned before anything was read
    assert threads and threads[0] is not threading.main_thread()
    assert compare.comparison.names == ["mine"]
    assert "no ground truth" in compare.strips.note.text() and compare.strips.note.isVisible()
    assert compare.overlay.visible_boxes() == {"mine": (5.0, 5.0, 10.0, 10.0)}
    assert compare.dock.legend_labels() == []
    press(qtbot, w, Qt.Key.Key_BracketRight)
    assert w.current_index == 0 and "no ground truth" in w.statusBar().currentMessage()


def test_otb_sequence_with_real_trackers(qtbot, otb, tmp_path, monkeypatch, capsys):
    """OTB Deer (71 frames): csrt's result file written by `main.py eval --results`, mil's by `main.py track
    --out`, and the current run with nanotrack in the studio: side by side, the jump to mil's first failure,
    no id switches in result files (said so), and the dock's AUCs equal to `eval`'s."""
    seq = otb / "Deer"
    assert main(["eval", str(seq), "--engines", "csrt", "--results", str(tmp_path / "res")]) == 0
    (tmp_path / "mil").mkdir()
    assert main(["track", str(seq), "--engine", "mil", "--out", str(tmp_path / "mil" / "Deer.txt")]) == 0
    capsys.readouterr()
    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, seq)
    w.set_engine("nanotrack")
    track_to_end(qtbot, w, compare)
    load_with_keys(qtbot, w, compare, monkeypatch, files=[tmp_path / "res/csrt/default/Deer.txt",
                                                          tmp_path / "mil" / "Deer.txt"])
    c = compare.comparison
    assert c.names == [CURRENT_RUN, "csrt", "mil"] and compare.errors == []
    press(qtbot, w, Qt.Key.Key_End)
    on_frame(qtbot, w, 70)
    assert set(compare.overlay.visible_boxes()) == {CURRENT_RUN, "csrt", "mil"}

    click_tracker(qtbot, compare, "mil")  # MIL drifts off the deer (AUC 4.8 on the scoreboard)
    expected = int(c.failures("mil")[0])
    iou = c.entries["mil"].iou
    assert iou[expected] < 0.5 <= np.nanmin(iou[:expected])
    press(qtbot, w, Qt.Key.Key_Home)
    on_frame(qtbot, w, 0)
    press(qtbot, w, Qt.Key.Key_BracketRight)
    on_frame(qtbot, w, expected)
    press(qtbot, w, Qt.Key.Key_BracketRight, CTRL)
    assert "mil has no object ids" in w.last_message and w.current_index == expected

    assert main(["eval", str(seq), "--engines", "nanotrack", "--results-from", f"csrt={tmp_path / 'res/csrt/default'}",
                 "--results-from", f"mil={tmp_path / 'mil'}"]) == 0
    printed = table_rows(capsys.readouterr().out)
    assert aucs_in_legend(compare) == {CURRENT_RUN: printed[("nanotrack", "Deer")][1],
                                       "csrt": printed[("csrt", "Deer")][1], "mil": printed[("mil", "Deer")][1]}


@pytest.mark.slow
def test_otb_identity_switches_of_a_keeptrack_run(qtbot, otb, tmp_path, monkeypatch):
    """keeptrack-lite run in the studio on OTB Football1 (a crowd of look-alike players) beside csrt's
    result file: Ctrl+] goes to each frame where the run's target object id changes, as its FrameResults
    say, or says there is none."""
    seq = otb / "Football1"
    assert main(["eval", str(seq), "--engines", "csrt", "--results", str(tmp_path / "res")]) == 0
    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, seq)
    w.set_engine("keeptrack-lite")
    w.n_spin.setValue(65)
    with qtbot.waitSignal(compare.loaded, timeout=600000):
        with qtbot.waitSignal(w.trackingFinished, timeout=600000) as done:
            press(qtbot, w, Qt.Key.Key_R)
    assert done.args[1] == "done"
    load_with_keys(qtbot, w, compare, monkeypatch, folder=tmp_path / "res")
    c = compare.comparison
    assert c.names == [CURRENT_RUN, "csrt"] and c.entries[CURRENT_RUN].tracker.ids is not None
    ids = [w.store.get(i).selected_id for i in range(66)]  # what the engine said, frame by frame
    known = [(i, v) for i, v in enumerate(ids) if v is not None]
    switches = [i for (_, a), (i, b) in zip(known, known[1:]) if a != b]
    assert c.id_switches(CURRENT_RUN).tolist() == switches
    click_tracker(qtbot, compare, CURRENT_RUN)
    press(qtbot, w, Qt.Key.Key_Home)
    on_frame(qtbot, w, 0)
    for frame in switches:
        press(qtbot, w, Qt.Key.Key_BracketRight, CTRL)
        on_frame(qtbot, w, frame)
        assert f"on frame {frame}" in w.statusBar().currentMessage()
        assert f"{CURRENT_RUN} #{ids[frame]}" in [text for text, _ in w.view.label_rects()]
    press(qtbot, w, Qt.Key.Key_BracketRight, CTRL)
    assert "no object id switch after" in w.statusBar().currentMessage()


def test_the_status_line_counts_trackers_in_good_english(qtbot, tmp_path, monkeypatch):
    seq = make_otb(tmp_path, "Seq", gt_rows(12))
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        write_boxes(tmp_path / name / "Seq.txt", gt_rows(12))
    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, seq)
    statuses = []
    w.statusBar().messageChanged.connect(lambda text: text and statuses.append(text))
    load_with_keys(qtbot, w, compare, monkeypatch, files=[tmp_path / "one" / "Seq.txt"])
    assert statuses == ["Reading 1 result file or folder for Seq...", "Comparing 1 tracker on Seq"]
    load_with_keys(qtbot, w, compare, monkeypatch, files=[tmp_path / "two" / "Seq.txt", tmp_path / "one" / "Seq.txt"])
    assert statuses[2:] == ["Reading 2 result files or folders for Seq...", "Comparing 2 trackers on Seq"]


def test_a_late_otb_start_is_suggested_so_the_current_run_matches_eval(qtbot, tmp_path, capsys):
    """cfg.json startFrame 4: `eval` initialises on frame 3 (0-based) from its ground truth. The studio opens
    there with that box suggested; Ctrl+R from it gives the current run the AUC `eval` prints."""
    seq = make_otb(tmp_path, "Late", gt_rows(9), files=12, cfg={"startFrame": 4, "endFrame": 12})
    gt = np.asarray(gt_rows(9))
    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, seq)
    on_frame(qtbot, w, 3)
    assert "frame 3's box is taken from the sequence's ground truth (evaluation starts there)" \
        in w.statusBar().currentMessage()
    assert w.view.box() == tuple(gt[0]) and w.model.document[3] is None  # offered, not yet written
    press(qtbot, w, Qt.Key.Key_Home)
    on_frame(qtbot, w, 0)
    assert w.view.box() is None and w.model.box_at(0) is None  # no ground truth before the start frame
    press(qtbot, w, Qt.Key.Key_Right, SHIFT)
    on_frame(qtbot, w, 10)
    assert w.set_box((20.0, 10.0, 15.0, 12.0))  # a box of the user's own elsewhere: the start is still offered
    assert w.model.box_at(3) == tuple(gt[0])
    press(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert w.model.document.annotated_frames() == []
    press(qtbot, w, Qt.Key.Key_Left, SHIFT)
    on_frame(qtbot, w, 0)
    for _ in range(3):
        press(qtbot, w, Qt.Key.Key_Right)
    on_frame(qtbot, w, 3)

    w.set_engine("test-switch")
    track_to_end(qtbot, w, compare)
    doc = w.model.document
    assert doc[3].is_keyframe and doc[3].box == tuple(gt[0]) and doc.annotated_frames() == list(range(3, 12))
    assert main(["eval", str(seq), "--engines", "test-switch"]) == 0
    printed = table_rows(capsys.readouterr().out)
    assert aucs_in_legend(compare) == {CURRENT_RUN: printed[("test-switch", "Late")][1]}


def _tracks_document(tracks):
    """A studio document of `tracks` [(target id, label, boxes)] on the 20-frame synthetic sequence, as the
    studio exports one (MOT, COCO-VID)."""
    from tracker.annotation.document import AnnotationDocument, FrameAnnotation, Label, Provenance, Target

    labels = tuple(Label(n, c) for n, c in (("object", "#e69f00"), ("car", "#56b4e9"), ("person", "#009e73")))
    doc = AnnotationDocument(20, None, "Seq", (64, 48), labels=labels,
                             targets=[Target(tid, label) for tid, label, _ in tracks])
    doc._apply({(tid, i): FrameAnnotation(tuple(float(v) for v in boxes[i]), Provenance.TRACKED)
                for tid, _, boxes in tracks for i in range(20)}, notify=False)
    return doc


def test_multi_object_files_compare_the_selected_targets_track_or_ask_which(qtbot, tmp_path, monkeypatch):
    """A MOT file of three tracks compares the one with the selected target's id (not the first);
    a COCO-VID file with none of them asks which track, and compares the one chosen; declining compares none."""
    from tracker.formats.registry import write_annotations

    seq = make_otb(tmp_path, "Seq", gt_rows(20))
    gt = np.asarray(gt_rows(20))
    off = {k: gt + [k, 0.0, 0.0, 0.0] for k in (1, 2, 3, 4, 5, 6)}
    write_annotations(_tracks_document([(1, "object", off[1]), (2, "object", off[2]), (3, "car", off[3])]),
                      tmp_path / "mot" / "gt" / "gt.txt", "mot")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "many.txt").write_text((tmp_path / "mot" / "gt" / "gt.txt").read_text())  # MOT lines
    write_annotations(_tracks_document([(4, "car", off[4]), (5, "car", off[5]), (6, "person", off[6])]),
                      tmp_path / "coco.json", "coco-vid")
    w, compare = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, w, seq)
    press(qtbot, w, Qt.Key.Key_N)  # a second target (id 2, "object") is the selected one
    qtbot.waitUntil(lambda: w.model.document.selected == 2, timeout=3000)
    asked = []

    def answer(_parent, _title, text, items, *_a, **_k):
        asked.append((text, items))
        return (items[1], True) if len(asked) == 1 else ("", False)

    monkeypatch.setattr(compare_dock.QInputDialog, "getItem", answer)
    load_with_keys(qtbot, w, compare, monkeypatch, files=[tmp_path / "mot" / "gt" / "gt.txt",
                                                          tmp_path / "results" / "many.txt"])
    c = compare.comparison
    assert c.names == ["mot (track 2)", "many (track 2)"] and compare.errors == [] and asked == []
    for name in c.names:
        assert np.allclose(c.entries[name].tracker.boxes, off[2])
        assert c.entries[name].tracker.origin.endswith("track 2 (pedestrian)")  # MOT17's name of class 1

    with qtbot.waitSignal(compare.loaded, timeout=20000):  # the file is read, then the question asked
        with qtbot.waitSignal(compare.loaded, timeout=20000):  # and the chosen track read
            monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(tmp_path / "coco.json")], ""))
            press(qtbot, w, Qt.Key.Key_L, CTRL)
    qtbot.waitUntil(lambda: "coco (track 5)" in c.names, timeout=10000)
    ((text, items),) = asked
    assert text == ("coco.json holds 3 tracks (4 (car), 5 (car), 6 (person)); none is the selected target 2 "
                    "(object). Which track to compare?")
    assert items == ["track 4 (car)", "track 5 (car)", "track 6 (person)"]
    assert np.allclose(c.entries["coco (track 5)"].tracker.boxes, off[5])
    assert c.entries["coco (track 5)"].metrics is not None

    with qtbot.waitSignal(compare.loaded, timeout=20000):
        press(qtbot, w, Qt.Key.Key_L, CTRL)
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=5000)
    assert "Not compared: coco.json (no track chosen)" in w.statusBar().currentMessage()
    assert c.names == ["mot (track 2)", "many (track 2)", "coco (track 5)"]
