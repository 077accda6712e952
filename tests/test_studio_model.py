"""The studio's session model without Qt: one source, one document, one run planner, plain events."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.model import StudioModel
from app.store import EngineResults
from tracker.annotation import Provenance
from tracker.annotation.session import AnnotationSession
from tracker.errors import InputError
from tracker.result import Candidate, Flag, FrameResult
from tracker.sources.base import FrameSource, GroundTruth

KEY = ("test", "cpu", "[]")


class CountingSource(FrameSource):
    """Frames of 100x120 zeros; counts how often it is measured and closed."""

    def __init__(self, n=50, gt_first=(10.0, 20.0, 30.0, 40.0)):
        self.path = Path("/nonexistent/seq")
        self.n, self.counted, self.closed = n, 0, 0
        if gt_first is not None:
            boxes = np.full((n, 4), np.nan)
            boxes[0] = gt_first
            self.ground_truth = GroundTruth(boxes, None, "otb", self.path / "groundtruth_rect.txt")

    @property
    def fps(self):
        return 25.0

    def __len__(self):
        self.counted += 1
        return self.n

    def frame(self, index):
        return np.zeros((100, 120, 3), np.uint8)

    def close(self):
        self.closed += 1


def opened(n=50, **kw):
    model = StudioModel()
    events = []
    for name in ("source_opened", "frame_changed", "annotation_changed", "run_planned", "results_arrived",
                 "run_finished"):
        getattr(model.events, name).connect(lambda *a, name=name: events.append((name, a)))
    source = CountingSource(n, **kw)
    model.open(source, source.path)
    return model, source, events


def result(i, box, presence=0.9):
    return FrameResult(i, box, presence=presence, candidates=(Candidate(box[0], box[1], 0.8, 1),))


def run(model, plan, boxes, status="done"):
    """What the worker does for a plan: the initialisation result (when it initialises), then each frame."""
    model.begin_run(plan, "test")
    out = []
    if plan.init_box is not None:
        out.append(result(plan.start, plan.init_box))
    out += [result(i, boxes(i)) for i in plan.frames()]
    model.add_results(out)
    return model.finish_run(status)


def test_opening_counts_once_and_events_are_plain():
    model, source, events = opened()
    assert model.num_frames == 50 and source.counted == 1
    assert ("source_opened", (model,)) in events
    model.go_to(7)
    model.go_to(7)  # no change, no event
    model.go_to(999)  # clamped
    assert [e for e in events if e[0] == "frame_changed"] == [("frame_changed", (7,)), ("frame_changed", (49,))]
    model.close()
    assert source.closed == 1 and model.source is None and model.document is None


def test_the_suggested_box_belongs_to_frame_0_only():
    model, _, _ = opened()
    assert model.box_at(0) == (10, 20, 30, 40) and model.document[0] is None  # offered, not yet written
    assert model.box_at(40) is None
    model.go_to(40)
    with pytest.raises(InputError, match="frame 40 has no box"):
        model.plan_run(KEY, 1)
    assert model.document.annotated_frames() == []  # nothing written anywhere


def test_a_run_from_frame_0_writes_the_suggestion_there_and_continues_after():
    model, _, events = opened()
    plan = model.plan_run(KEY, 5)
    assert (plan.start, plan.end, plan.init_box, plan.writes_keyframe) == (0, 5, (10, 20, 30, 40), True)
    run(model, plan, lambda i: (10 + i, 20, 30, 40))
    doc = model.document
    assert doc[0].is_keyframe and doc[0].box == (10, 20, 30, 40)
    assert doc[5].provenance is Provenance.TRACKED and doc[5].box == (15, 20, 30, 40)
    assert [name for name, _ in events].count("results_arrived") == 1
    model.go_to(5)
    again = model.plan_run(KEY, 3)
    assert again.continues and again.start == 5 and list(again.frames()) == [6, 7, 8]
    # another engine, or the other direction: initialise on frame 5's own (tracked) box
    other = model.plan_run(("other", "cpu", "[]"), 3)
    assert other.init_box == (15, 20, 30, 40) and not other.writes_keyframe


def test_a_correction_is_where_the_next_run_starts_and_is_never_overwritten():
    model, _, _ = opened()
    run(model, model.plan_run(KEY, 10), lambda i: (10 + i, 20, 30, 40))
    model.go_to(10)
    model.set_box(10, (60, 20, 30, 40))  # corrected where the engine stands
    plan = model.plan_run(KEY, 5)
    assert not plan.continues and plan.init_box == (60, 20, 30, 40)
    model.set_box(13, (90, 20, 30, 40))  # a keyframe inside the run
    plan = model.plan_run(KEY, 5)
    assert 13 not in plan.may_overwrite and set(plan.may_overwrite) == {11, 12, 14, 15}
    run(model, plan, lambda i: (0, 0, 5, 5))
    doc = model.document
    assert doc[10].box == (60, 20, 30, 40) and doc[13].box == (90, 20, 30, 40) and doc[13].is_keyframe
    assert doc[14].box == (0, 0, 5, 5)


def test_until_keyframe_and_absent_start():
    model, _, _ = opened()
    model.set_box(20, (1, 1, 10, 10))
    model.set_box(30, (5, 5, 10, 10))
    model.go_to(20)
    plan = model.plan_run(KEY, None, until_keyframe=True, reinitialise=True)
    assert (plan.start, plan.end) == (20, 29)
    model.go_to(29)
    with pytest.raises(InputError, match="next to a keyframe"):
        model.plan_run(KEY, None, until_keyframe=True)
    model.annotations.mark_absent(25)
    model.go_to(25)
    with pytest.raises(InputError, match="marked absent"):
        model.plan_run(KEY, 1)


def test_a_backward_run_replaces_only_the_frames_it_tracked_and_undo_removes_its_results():
    model, _, _ = opened(n=130)
    run(model, model.plan_run(KEY, None), lambda i: (10.0 + i, 20, 30, 40))
    assert model.results.indices() == list(range(130))
    model.go_to(127)
    model.set_box(127, (50, 50, 20, 20))
    plan = model.plan_run(KEY, 26, direction=-1)
    assert (plan.start, plan.end, plan.init_box) == (127, 101, (50, 50, 20, 20))
    run(model, plan, lambda i: (1.0, 2.0, 20, 20))
    assert model.results.indices() == list(range(130))  # 0..100 and 128, 129 kept
    assert model.results.get(50).box == (60.0, 20, 30, 40) and model.results.get(110).box == (1.0, 2.0, 20, 20)
    model.annotations.undo()  # the backward run, overlays included
    assert model.results.get(110).box == (120.0, 20, 30, 40)
    assert model.document[110].box == (120.0, 20, 30, 40)


def test_results_are_a_view_of_the_document():
    model, _, _ = opened(n=7, gt_first=None)
    model.set_box(0, (0, 0, 5, 5))
    plan = model.plan_run(KEY, 4)
    model.begin_run(plan, "test")
    model.add_results([FrameResult(i, (i, 0, 5, 5), presence=i / 10, flag=Flag.UNCERTAIN if i == 3 else Flag.NORMAL,
                                   candidates=(Candidate(0, 0, 0.5 + i / 100, 1),)
                                   + ((Candidate(1, 1, 0.2, 2),) if i % 2 else ())) for i in range(5)])
    model.finish_run("done")
    store = model.results
    assert store.get(2).box == (2, 0, 5, 5) and store.get(2) is model.document.debug_record(2)
    assert store.flags(7) == [Flag.NORMAL] * 3 + [Flag.UNCERTAIN, Flag.NORMAL, None, None]
    f, p = store.presence()
    assert list(f) == [0, 1, 2, 3, 4] and p[4] == pytest.approx(0.4)
    hist = store.score_histories()
    assert list(hist[2][0]) == [1, 3] and hist[1][1][4] == pytest.approx(0.54)
    rev = store.revision
    model.annotations.clear([3, 4])
    assert store.indices() == [0, 1, 2] and store.revision > rev
    assert len(EngineResults()) == 0 and EngineResults().get(0) is None


def test_a_failed_run_is_not_continued_and_a_replaced_session_must_fit():
    model, _, _ = opened()
    plan = model.plan_run(KEY, 5)
    model.begin_run(plan, "test")
    model.add_results([result(0, plan.init_box), result(1, (11, 20, 30, 40))])
    model.finish_run("failed")
    assert model.document[1].box == (11, 20, 30, 40)  # kept
    model.go_to(1)
    assert not model.plan_run(KEY, 2).continues
    with pytest.raises(InputError, match="49 frames"):
        model.set_annotations(AnnotationSession.new(49, autosave=False))
