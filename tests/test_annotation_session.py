"""The whole annotation story without Qt: track, correct, re-track, absent, undo/redo, crash, recover, export."""
import numpy as np
import pytest

from tracker.annotation import Provenance
from tracker.annotation.retrack import run_plan
from tracker.annotation.session import AnnotationSession
from tracker.errors import InputError
from tracker.formats.registry import read_annotations
from tracker.result import FrameResult


class DriftEngine:
    def initialize(self, frame, box, frame_index=0):
        self.start, self.box = frame_index, tuple(box)
        return FrameResult(frame_index, self.box, 1.0)

    def track(self, frame, frame_index=None):
        x, y, w, h = self.box
        return FrameResult(frame_index, (x + 2 * (frame_index - self.start), y, w, h), 0.9)


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


FRAMES = [None] * 120


def test_story_track_fix_retrack_absent_undo_crash_recover_export(tmp_path):
    folder = tmp_path / "autosave"
    clock = Clock()
    s = AnnotationSession.new(120, source=tmp_path / "video.avi", autosave_folder=folder, clock=clock)
    s.set_box(0, (10, 20, 30, 40))
    run_plan(DriftEngine(), FRAMES, s.plan_retrack(0), s.begin_run(s.plan_retrack(0), "drift"))
    assert s.document[119].box == (248, 20, 30, 40)
    s.set_box(50, (500, 20, 30, 40))  # fix the box at frame 50
    plan = s.plan_retrack(50)
    run_plan(DriftEngine(), FRAMES, plan, s.begin_run(plan, "drift"))
    assert s.document[51].box == (502, 20, 30, 40) and s.document[49].box == (108, 20, 30, 40)
    s.mark_absent(70)
    s.undo()
    assert s.document[70].provenance is Provenance.TRACKED
    s.redo()
    assert s.document[70].absent
    clock.t += 5
    assert s.poll_autosave()
    expected = s.document.copy()
    del s  # "quit" without saving (or a crash): nothing else runs

    rec = AnnotationSession.find_recovery(source=tmp_path / "video.avi", folder=folder)
    assert rec is not None
    s2 = AnnotationSession.recover(rec, autosave_folder=folder)
    assert s2.document.differences(expected) == [] and s2.modified

    s2.export(tmp_path / "lasot", "lasot")
    s2.export(tmp_path / "mot", "mot")
    for fmt, path in (("lasot", tmp_path / "lasot"), ("mot", tmp_path / "mot")):
        back = read_annotations(path, fmt)
        assert back.differences(expected, provenance=False) == [], fmt

    project = s2.save(tmp_path / "work.ktproj")
    assert not s2.modified and AnnotationSession.find_recovery(source=tmp_path / "video.avi", folder=folder) is None
    s2.close()
    s3 = AnnotationSession.open_project(project, autosave_folder=folder)
    assert s3.document.differences(expected) == [] and not s3.modified
    assert AnnotationSession.find_recovery(project, folder=folder) is None


def test_import_into_the_open_sequence_is_undoable_and_bad_files_change_nothing(tmp_path, otb):
    s = AnnotationSession.new(140, source=otb / "Couple", autosave=False)
    s.set_box(3, (1, 1, 5, 5))
    s.import_file(otb / "Couple")
    assert s.document[0].box == (51, 47, 25, 62) and s.document[0].provenance is Provenance.MANUAL
    s.undo()
    assert s.document.annotated_frames() == [3]
    bad = tmp_path / "gt.txt"
    bad.write_text("1,1,1,1,5,5,1,1,1\n2,1,1,1,5\n")
    with pytest.raises(InputError, match="line 2"):
        s.import_file(bad)
    assert s.document.annotated_frames() == [3] and len(s.history) == 1


def test_save_errors_keep_the_work(tmp_path, monkeypatch):
    import os

    s = AnnotationSession.new(10, source=tmp_path / "v.avi", autosave_folder=tmp_path / "auto")
    with pytest.raises(InputError, match="not been saved yet"):
        s.save()
    s.set_box(1, (0, 0, 4, 4))
    path = s.save(tmp_path / "p.ktproj")
    s.set_box(2, (0, 0, 4, 4))
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(InputError, match="No space left on device"):
        s.save()
    monkeypatch.undo()
    assert s.modified
    from tracker.annotation.project import load_project

    assert load_project(path).document.keyframes() == [1]  # the previous save is intact
    s.close()  # unsaved work goes to the autosave, offered next time
    rec = AnnotationSession.find_recovery(path, folder=tmp_path / "auto")
    assert rec is not None and rec.load().document.keyframes() == [1, 2]
