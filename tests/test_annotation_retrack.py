"""Correct and continue: planning a re-track and writing its results as one undo step."""
import numpy as np
import pytest

from tracker.annotation import (AnnotationDocument, FrameAnnotation, History, Provenance, RetrackOptions,
                                RunInProgress, TrackingRun, plan_retrack)
from tracker.annotation.edits import mark_absent, set_box
from tracker.annotation.retrack import run_plan
from tracker.errors import InputError
from tracker.result import Flag, FrameResult


class DriftEngine:
    """A fake engine: the box moves +1 px in x per frame from the init box; presence from a table."""

    name = "drift"

    def __init__(self, presence=None):
        self.presence = presence or {}
        self.calls = []

    def initialize(self, frame, box, frame_index=0):
        self.start, self.box = frame_index, tuple(box)
        self.calls.append(("init", frame_index))
        return FrameResult(frame_index, self.box, 1.0)

    def track(self, frame, frame_index=None):
        self.calls.append(("track", frame_index))
        x, y, w, h = self.box
        return FrameResult(frame_index, (x + frame_index - self.start, y, w, h), self.presence.get(frame_index, 0.9))


FRAMES = [np.zeros((4, 4, 3), np.uint8)] * 120


def track(history, frame, direction=1, options=RetrackOptions(), engine=None):
    doc = history.document
    plan = plan_retrack(doc, frame, direction, options)
    run = TrackingRun(history, plan, "drift", options)
    return plan, run_plan(engine or DriftEngine(), FRAMES, plan, run)


def test_correct_at_50_and_retrack_overwrites_only_until_the_next_keyframe():
    doc = AnnotationDocument(120)
    h = History(doc)
    h.execute(set_box(doc, 0, (10, 10, 20, 20)))
    h.execute(set_box(doc, 80, (99, 99, 20, 20)))
    plan, _ = track(h, 0)
    assert (plan.start, plan.end) == (0, 79)
    assert doc[50] == FrameAnnotation((60.0, 10.0, 20.0, 20.0), Provenance.TRACKED, "drift", 0.9)
    assert all(doc[i] is None for i in range(81, 120))  # stopped before the manual keyframe at 80
    assert doc[80].box == (99, 99, 20, 20)

    h.execute(set_box(doc, 50, (200, 50, 20, 20)))  # the correction: a manual keyframe
    plan, edit = track(h, 50)
    assert (plan.start, plan.end, len(plan)) == (50, 79, 29)
    assert doc[50].provenance is Provenance.MANUAL and doc[50].box == (200, 50, 20, 20)
    assert doc[51].box == (201, 50, 20, 20) and doc[79].box == (229, 50, 20, 20)
    assert doc[49].box == (59, 10, 20, 20)  # before the correction: untouched
    assert doc.debug_record(60).frame_index == 60
    assert edit.frames == list(range(50, 80))  # one undo step (50: debug record only)

    h.undo()  # the whole re-track goes at once
    assert doc[51].box == (61, 10, 20, 20)
    assert doc.debug_record(60).box == (70, 10, 20, 20)  # the first run's record is back
    h.undo()  # the correction
    assert doc[50].provenance is Provenance.TRACKED
    h.redo()
    h.redo()
    assert doc[79].box == (229, 50, 20, 20)


def test_running_through_keyframes_never_overwrites_manual_frames():
    doc = AnnotationDocument(20)
    h = History(doc)
    h.execute(set_box(doc, 0, (0, 0, 5, 5)))
    h.execute(set_box(doc, 10, (50, 50, 5, 5)))
    h.execute(mark_absent(doc, 12))
    plan, _ = track(h, 0, options=RetrackOptions(stop_at_keyframe=False))
    assert plan.end == 19
    assert doc[10].box == (50, 50, 5, 5) and doc[12].absent and doc[12].provenance is Provenance.MANUAL
    assert doc[11].box == (11, 0, 5, 5) and doc[19].provenance is Provenance.TRACKED


def test_backward_from_a_keyframe_and_frame_limit():
    doc = AnnotationDocument(100)
    h = History(doc)
    h.execute(set_box(doc, 20, (5, 5, 5, 5)))
    h.execute(set_box(doc, 60, (30, 5, 5, 5)))
    engine = DriftEngine()
    plan, _ = track(h, 60, direction=-1, engine=engine)
    assert (plan.end, list(plan.frames())[:2]) == (21, [59, 58])
    assert engine.calls[:3] == [("init", 60), ("track", 59), ("track", 58)]
    assert doc[59].box == (29, 5, 5, 5) and doc[21].box == (-9, 5, 5, 5) and doc[20].box == (5, 5, 5, 5)
    plan, _ = track(h, 60, options=RetrackOptions(max_frames=10))
    assert plan.end == 70 and doc[71] is None


def test_presence_below_threshold_and_not_found_mark_frames_absent():
    doc = AnnotationDocument(8)
    h = History(doc)
    h.execute(set_box(doc, 0, (0, 0, 5, 5)))

    class Engine(DriftEngine):
        def track(self, frame, frame_index=None):
            r = super().track(frame, frame_index)
            if frame_index == 5:
                return FrameResult(5, r.box, 0.8, Flag.NOT_FOUND)
            if frame_index == 6:
                return FrameResult(6, None, 0.0)
            return r

    track(h, 0, options=RetrackOptions(absent_below=0.5), engine=Engine({3: 0.49, 4: 0.5}))
    assert doc[3] == FrameAnnotation(None, Provenance.TRACKED, "drift", 0.49)
    assert doc[4].box == (4, 0, 5, 5)
    assert doc[5].absent and doc[6].absent and doc[7].box == (7, 0, 5, 5)
    assert doc.debug_record(3).box == (3, 0, 5, 5)  # the engine's guess stays in the debug record


def test_plan_refuses_frames_without_a_box_and_handles_adjacent_keyframes():
    doc = AnnotationDocument(10)
    h = History(doc)
    with pytest.raises(InputError, match="frame 2 has no box"):
        plan_retrack(doc, 2)
    h.execute(mark_absent(doc, 2))
    with pytest.raises(InputError, match="frame 2 is marked absent"):
        plan_retrack(doc, 2)
    h.execute(set_box(doc, 3, (0, 0, 5, 5)))
    h.execute(set_box(doc, 4, (0, 0, 5, 5)))
    plan = plan_retrack(doc, 3)
    assert len(plan) == 0 and list(plan.frames()) == []
    assert len(plan_retrack(doc, 9 - 5, direction=-1)) == 0  # frame 3 is right before it
    with pytest.raises(InputError, match="direction"):
        plan_retrack(doc, 3, direction=2)


def test_edits_are_refused_during_a_run_and_cancelled_runs_keep_what_was_tracked():
    doc = AnnotationDocument(30)
    h = History(doc)
    h.execute(set_box(doc, 0, (0, 0, 5, 5)))
    plan = plan_retrack(doc, 0, options=RetrackOptions(max_frames=10))
    run = TrackingRun(h, plan, "drift")
    engine = DriftEngine()
    run.add(engine.initialize(None, plan.init_box, 0))
    for i in range(1, 6):
        run.add(engine.track(None, i))
    assert run.add(FrameResult(20, (0, 0, 1, 1))) is False  # outside the plan (0..10): ignored
    assert not h.can_undo and h.modified
    with pytest.raises(RunInProgress):
        h.execute(set_box(doc, 3, (1, 1, 1, 1)))
    with pytest.raises(RunInProgress):
        h.undo()
    run.finish()  # e.g. the person pressed Stop
    assert doc.annotated_frames() == [0, 1, 2, 3, 4, 5]
    h.undo()
    assert doc.annotated_frames() == [0]


def test_engine_failure_rolls_the_run_back():
    doc = AnnotationDocument(30)
    h = History(doc)
    h.execute(set_box(doc, 0, (0, 0, 5, 5)))

    class Broken(DriftEngine):
        def track(self, frame, frame_index=None):
            if frame_index == 4:
                raise RuntimeError("boom")
            return super().track(frame, frame_index)

    with pytest.raises(RuntimeError):
        track(h, 0, engine=Broken())
    assert doc.annotated_frames() == [0] and doc.debug_record(0) is None
    assert not h.run_in_progress and len(h) == 1
