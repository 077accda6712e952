"""Many targets per sequence: ids, labels, per-target tracks, undo, runs over one or all targets, project v2."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tracker.annotation import AnnotationDocument, FrameAnnotation, History, Provenance, RetrackOptions, TrackingRun
from tracker.annotation.document import Label, Target, TargetOrigin
from tracker.annotation.edits import (add_label, add_target, change_target, mark_absent, remove_target, set_box,
                                      set_labels)
from tracker.annotation.project import load_project, save_project
from tracker.annotation.retrack import TrackingPlan, plan_retrack, run_plans
from tracker.annotation.session import AnnotationSession
from tracker.errors import InputError
from tracker.result import Candidate, FrameResult

DATA = Path(__file__).resolve().parent / "data"


class DriftEngine:
    """A fake engine: the box moves +dx px in x per frame from the init box."""

    def __init__(self, dx=1.0):
        self.dx, self.calls = dx, []

    def initialize(self, frame, box, frame_index=0):
        self.start, self.box = frame_index, tuple(box)
        self.calls.append(("init", frame_index))
        return FrameResult(frame_index, self.box, 1.0, candidates=(Candidate(1, 2, 0.5, 7),))

    def track(self, frame, frame_index=None):
        self.calls.append(("track", frame_index))
        x, y, w, h = self.box
        return FrameResult(frame_index, (x + self.dx * (frame_index - self.start), y, w, h), 0.9)


class CountingFrames:
    def __init__(self, n):
        self.n, self.reads = n, []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.reads.append(i)
        return np.zeros((4, 4, 3), np.uint8)


def three_targets(n=30):
    doc = AnnotationDocument(n, source="/data/v.avi", image_size=(640, 360))
    h = History(doc)
    h.execute(add_label(doc, "person"))
    h.execute(add_label(doc, "car", "#123456"))
    h.execute(change_target(doc, 1, label="person"))
    h.execute(set_box(doc, 0, (10, 10, 20, 40), target=1))
    h.execute(add_target(doc, "person", frame=0, box=(100, 10, 20, 40)))
    h.execute(add_target(doc, "car", frame=2, box=(300, 50, 60, 30),
                         origin=TargetOrigin(frame=2, object_id=7, from_target=1)))
    h.execute(mark_absent(doc, 5, target=2))
    return doc, h


def test_a_new_document_is_one_target_and_targets_get_stable_ids_labels_and_own_tracks():
    doc = AnnotationDocument(10)
    assert [t.id for t in doc.targets] == [1] and doc.selected == 1 and doc.labels == (Label("object"),)
    doc, h = three_targets()
    assert [(t.id, t.label) for t in doc.targets] == [(1, "person"), (2, "person"), (3, "car")]
    assert doc.track(2)[0].box == (100, 10, 20, 40) and doc.track(2)[5].absent and doc.track(1)[5] is None
    assert doc.track(3).keyframes() == [2] and doc.colour(3) == "#123456"
    assert doc.target(3).origin == TargetOrigin(2, 7, 1)
    doc.select(2)
    assert doc[0].box == (100, 10, 20, 40) and doc.keyframes() == [0, 5]  # reads as the selected track
    assert doc.revision == doc.revision and h.can_undo
    # ids are never reused, even after a removal is undone and redone
    h.execute(remove_target(doc, 3))
    assert doc.next_target_id() == 4 and not doc.has_target(3)


def test_remove_target_is_undoable_with_its_frames_and_debug_records():
    doc, h = three_targets()
    doc._replace({4: FrameAnnotation.tracked((1, 1, 5, 5), "e", 0.8)}, {4: FrameResult(4, (1, 1, 5, 5), 0.8)},
                 target=2)
    before = doc.copy()
    h.execute(remove_target(doc, 2))
    assert [t.id for t in doc.targets] == [1, 3] and doc.selected in (1, 3)
    h.undo()
    assert doc.differences(before, debug=True) == [] and doc.track(2).debug_record(4).presence == 0.8
    h.redo()
    assert not doc.has_target(2)


def test_locked_target_refuses_edits_and_runs_and_labels_must_exist():
    doc, h = three_targets()
    h.execute(change_target(doc, 2, locked=True))
    with pytest.raises(InputError, match="locked"):
        set_box(doc, 3, (0, 0, 5, 5), target=2)
    with pytest.raises(InputError, match="locked"):
        plan_retrack(doc, 0, target=2)
    with pytest.raises(InputError, match="locked"):
        TrackingRun(h, TrackingPlan(0, (0, 0, 5, 5), 9, 1, 2), "drift")
    with pytest.raises(InputError, match="no label 'bus'"):
        change_target(doc, 1, label="bus")
    with pytest.raises(InputError, match="still used by target person-1"):
        set_labels(doc, [Label("car")])
    h.execute(set_labels(doc, [Label("pedestrian", "#ff0000"), Label("car")], rename={"person": "pedestrian"}))
    assert [t.label for t in doc.targets] == ["pedestrian", "pedestrian", "car"] and doc.colour(1) == "#ff0000"
    h.undo()
    assert [t.label for t in doc.targets] == ["person", "person", "car"]


def test_run_over_all_targets_decodes_each_frame_once_and_is_one_undo_step():
    doc, h = three_targets(30)
    frames = CountingFrames(30)
    plans = [plan_retrack(doc, 0, target=t, options=RetrackOptions(max_frames=10)) for t in (1, 2)]
    plans.append(plan_retrack(doc, 2, target=3, options=RetrackOptions(max_frames=8)))
    assert [p.end for p in plans] == [10, 4, 10]  # target 2 stops before its own keyframe at 5
    engines = {1: DriftEngine(1), 2: DriftEngine(2), 3: DriftEngine(3)}
    undo_before = len(h)
    edit = run_plans(engines, frames, TrackingRun(h, plans, "drift"))
    assert sorted(frames.reads) == list(range(11))  # every frame 0..10 decoded once for all three
    assert len(h) == undo_before + 1 and set(edit.targets) == {1, 2, 3}
    assert doc.track(1)[10].box == (20, 10, 20, 40) and doc.track(1)[11] is None
    assert doc.track(2)[4].box == (108, 10, 20, 40) and doc.track(2)[5].absent and doc.track(2)[5].is_keyframe
    assert doc.track(3)[10].box == (324, 50, 60, 30) and doc.track(3)[1] is None
    assert doc.track(3).debug_record(2).candidates[0].object_id == 7
    h.undo()
    assert doc.track(1)[3] is None and doc.track(3)[10] is None and doc.track(2)[0].box == (100, 10, 20, 40)


def test_run_over_one_target_touches_no_other_and_stops_at_its_own_next_keyframe():
    doc, h = three_targets(30)
    h.execute(set_box(doc, 20, (50, 10, 20, 40), target=1))
    plan = plan_retrack(doc, 0, target=1)
    assert plan.end == 19
    run_plans({1: DriftEngine()}, CountingFrames(30), TrackingRun(h, plan, "drift"))
    assert doc.track(1)[19].box == (29, 10, 20, 40) and doc.track(1)[20].box == (50, 10, 20, 40)
    assert doc.track(2)[3] is None and doc.track(3)[3] is None
    assert h.undo_description.startswith("track forward from frame 0")
    before = len(h)
    mixed = [plan_retrack(doc, 0, target=2), plan_retrack(doc, 2, -1, target=3)]
    with pytest.raises(InputError, match="same direction"):
        run_plans({2: DriftEngine(), 3: DriftEngine()}, CountingFrames(30), TrackingRun(h, mixed, "drift"))
    assert len(h) == before and doc.track(2)[1] is None


def test_project_v2_round_trip_keeps_targets_labels_flags_origin_and_debug(tmp_path):
    doc, h = three_targets()
    run_plans({2: DriftEngine()}, CountingFrames(30),
              TrackingRun(h, plan_retrack(doc, 0, target=2, options=RetrackOptions(max_frames=3)), "drift"))
    h.execute(change_target(doc, 3, locked=True, visible=False))
    doc.select(3)
    path = save_project(tmp_path / "p.ktproj", doc)
    data = json.loads(path.read_text())
    assert data["version"] == 2 and [t["id"] for t in data["targets"]] == [1, 2, 3]
    back = load_project(path).document
    assert back.differences(doc, debug=True) == []
    assert back.selected == 3 and back.target(3).locked and not back.target(3).visible
    assert back.target(3).origin == TargetOrigin(2, 7, 1) and back.next_target_id() == 4
    assert back.track(2).debug_record(1).frame_index == 1


def test_a_version_1_project_written_by_the_previous_code_opens_as_one_target(tmp_path):
    src = tmp_path / "old.ktproj"
    shutil.copy(DATA / "project_v1.ktproj", src)
    project = load_project(src)
    doc = project.document
    assert [(t.id, t.label) for t in doc.targets] == [(1, "object")] and doc.labels == (Label("object"),)
    assert doc[0] == FrameAnnotation((10.5, 20.25, 30, 40), Provenance.MANUAL)
    assert doc[1] == FrameAnnotation((11, 20, 30, 40), Provenance.TRACKED, "csrt", 0.8)
    assert doc[2].absent and doc[3].provenance is Provenance.INTERPOLATED and doc[5].is_keyframe
    assert doc.annotated_frames() == [0, 1, 2, 3, 5] and doc.debug_record(1).candidates[1].object_id == 2
    assert project.settings["retrack"] == {"absent_below": 0.3}
    again = load_project(save_project(tmp_path / "new.ktproj", doc))  # saved as version 2, same content
    assert again.document.differences(doc, debug=True) == []


def _v2(tmp_path, mutate):
    doc, _ = three_targets()
    data = json.loads(save_project(tmp_path / "good.ktproj", doc).read_text())
    mutate(data)
    bad = tmp_path / "bad.ktproj"
    bad.write_text(json.dumps(data))
    return bad


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["targets"][2].update(id=1), r"targets\[2\]: target id 1 appears twice"),
    (lambda d: d["targets"][0]["frames"].append(list(d["targets"][0]["frames"][0])),
     r"targets\[0\]\.frames\[1\] is malformed .*frame 0 appears twice"),
    (lambda d: d["targets"][1].update(label="bus"), r"targets\[1\] \(id 2\) has label 'bus', which is not in the label list"),
    (lambda d: d["labels"].append({"name": "car", "colour": "#000000"}), r"labels\[3\]: label 'car' appears twice"),
    (lambda d: d["labels"][0].update(colour="red"), r"labels\[0\]: .*colour must be #rrggbb"),
    (lambda d: d["targets"][0].update(id="one"), r"targets\[0\]\.id"),
    (lambda d: d.update(selected=9), "selected is 9"),
    (lambda d: d["targets"][2].update(origin={"frame": "x"}), r"targets\[2\]\.origin"),
])
def test_bad_multi_target_projects_name_file_and_field_and_change_nothing(tmp_path, mutate, message):
    bad = _v2(tmp_path, mutate)
    session = AnnotationSession.new(30, autosave=False)
    session.set_box(0, (1, 1, 5, 5))
    before = session.document.copy()
    with pytest.raises(InputError, match=message) as err:
        session.import_file(bad, "project")
    assert str(bad) in str(err.value)
    assert session.document.differences(before) == [] and len(session.history) == 1


def test_session_targets_undo_autosave_and_recovery_cover_every_target(tmp_path):
    class Clock:
        t = 0.0

        def __call__(self):
            return self.t

    clock = Clock()
    s = AnnotationSession.new(20, source=tmp_path / "v.avi", autosave_folder=tmp_path / "auto", clock=clock)
    s.add_label("person")
    s.set_box(0, (1, 1, 10, 10))
    two = s.add_target("person", frame=3, box=(50, 50, 10, 10))
    assert s.document.selected == two
    s.set_box(4, (52, 50, 10, 10))  # on the selected target
    assert s.document.track(two).keyframes() == [3, 4] and s.document.track(1).keyframes() == [0]
    s.select_target(1)
    s.undo()  # undoing an edit of target 2 selects target 2 again
    assert s.document.selected == two and s.document.track(two).keyframes() == [3]
    clock.t = 5.0
    assert s.poll_autosave()
    rec = AnnotationSession.find_recovery(source=tmp_path / "v.avi", folder=tmp_path / "auto")
    recovered = AnnotationSession.recover(rec, autosave=False).document
    assert recovered.differences(s.document) == [] and [t.label for t in recovered.targets] == ["object", "person"]
    s.remove_target(two)
    s.undo()
    assert s.document.track(two)[3].box == (50, 50, 10, 10)


def test_presence_threshold_applies_to_every_unlocked_target_as_one_step():
    s = AnnotationSession.new(10, autosave=False)
    s.set_box(0, (1, 1, 10, 10))
    two = s.add_target(frame=0, box=(50, 50, 10, 10))
    three = s.add_target(frame=0, box=(90, 50, 10, 10))
    plans = [s.plan_retrack(0, target=t, options=RetrackOptions(absent_below=None)) for t in (1, two, three)]
    run = s.begin_run(plans, "drift", RetrackOptions(absent_below=None))
    run_plans({t: DriftEngine() for t in (1, two, three)}, CountingFrames(10), run)
    s.change_target(three, locked=True)
    steps = len(s.history)
    s.set_absent_threshold(0.95)
    assert len(s.history) == steps + 1
    assert s.document.track(1)[3].absent and s.document.track(two)[3].absent
    assert not s.document.track(three)[3].absent  # locked: untouched


def test_split_and_merge_tracks_as_cvat_does_one_undo_step_each():
    from tracker.annotation.edits import merge_targets, split_target

    doc, h = three_targets(30)
    run_plans({1: DriftEngine()}, CountingFrames(30),
              TrackingRun(h, plan_retrack(doc, 0, target=1, options=RetrackOptions(max_frames=12)), "drift"))
    before = doc.copy()
    h.execute(split_target(doc, 1, 6))
    new = 4
    assert doc.track(1).annotated_frames() == list(range(6)) and doc.track(new).annotated_frames() == list(range(6, 13))
    assert doc.target(new).label == "person" and doc.track(new).debug_record(8).frame_index == 8
    with pytest.raises(InputError, match="both have boxes on frame"):
        merge_targets(doc, 1, 2)  # target 2 also has frame 0
    h.execute(merge_targets(doc, 1, new))
    assert not doc.has_target(new) and doc.differences(before, debug=True) == []
    h.undo()
    h.undo()
    assert doc.differences(before, debug=True) == []
    with pytest.raises(InputError, match="leaves one side without boxes"):
        split_target(doc, 1, 0)
