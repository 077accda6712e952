"""Annotation document, edits and undo history (Qt-free)."""
import numpy as np
import pytest

from tracker.annotation import AnnotationDocument, FrameAnnotation, History, Provenance
from tracker.annotation.edits import clear_after, clear_frames, interpolate, mark_absent, replace_all, set_box
from tracker.errors import InputError


def test_set_box_makes_a_manual_keyframe_and_undo_redo_restore_it():
    doc = AnnotationDocument(10)
    h = History(doc)
    h.execute(set_box(doc, 3, (1, 2, 30, 40)))
    assert doc[3] == FrameAnnotation((1.0, 2.0, 30.0, 40.0), Provenance.MANUAL)
    assert doc.keyframes() == [3]
    h.execute(set_box(doc, 3, (5, 5, 10, 10)))
    assert h.undo().frame == 3
    assert doc[3].box == (1, 2, 30, 40)
    h.undo()
    assert doc[3] is None and not h.can_undo
    h.redo()
    h.redo()
    assert doc[3].box == (5, 5, 10, 10)
    assert h.redo() is None


def test_new_edit_clears_redo_and_no_op_edits_are_not_recorded():
    doc = AnnotationDocument(5)
    h = History(doc)
    h.execute(set_box(doc, 0, (0, 0, 5, 5)))
    h.undo()
    h.execute(mark_absent(doc, 1))
    assert not h.can_redo
    assert h.execute(mark_absent(doc, 1)) is None  # already absent: nothing to record
    assert len(h) == 1


def test_history_is_bounded():
    doc = AnnotationDocument(50)
    h = History(doc, limit=5)
    for i in range(20):
        h.execute(set_box(doc, i, (i, 0, 5, 5)))
    assert len(h) == 5
    while h.undo():
        pass
    assert doc.keyframes() == list(range(15))  # the 15 oldest edits can no longer be undone


def test_bad_boxes_are_refused_and_change_nothing():
    doc = AnnotationDocument(5)
    for bad in [(0, 0, 0, 5), (0, 0, -1, 5), (np.nan, 0, 3, 3), (1, 2, 3), "abc"]:
        with pytest.raises(InputError):
            set_box(doc, 1, bad)
    with pytest.raises(InputError, match="outside the sequence"):
        set_box(doc, 5, (0, 0, 1, 1))
    assert doc.annotated_frames() == [] and doc.revision == 0


def test_listeners_hear_every_change_including_undo():
    doc = AnnotationDocument(5)
    h = History(doc)
    heard = []
    unsubscribe = doc.subscribe(heard.append)
    h.execute(set_box(doc, 2, (0, 0, 5, 5)))
    h.undo()
    unsubscribe()
    h.redo()
    assert heard == [frozenset({2}), frozenset({2})]


def test_modified_follows_the_saved_point():
    doc = AnnotationDocument(5)
    h = History(doc)
    assert not h.modified
    h.execute(set_box(doc, 0, (0, 0, 5, 5)))
    assert h.modified
    h.mark_saved()
    assert not h.modified
    h.undo()
    assert h.modified
    h.redo()
    assert not h.modified


def test_interpolation_fills_between_keyframes_only():
    doc = AnnotationDocument(12)
    h = History(doc)
    h.execute(set_box(doc, 0, (0, 0, 10, 10)))
    h.execute(set_box(doc, 4, (40, 8, 14, 10)))
    h.execute(set_box(doc, 11, (0, 0, 10, 10)))
    h.execute(mark_absent(doc, 7))  # a manual absent keyframe between 4 and 11
    h.execute(interpolate(doc))
    assert doc[2] == FrameAnnotation((20.0, 4.0, 12.0, 10.0), Provenance.INTERPOLATED)
    assert [doc[i].provenance for i in (1, 2, 3)] == [Provenance.INTERPOLATED] * 3
    # 4 -> 7 (absent) and 7 -> 11: never interpolated through or from an absent frame
    assert all(doc[i] is None for i in (5, 6, 8, 9, 10))
    h.undo()
    assert doc[2] is None


def test_interpolation_never_crosses_a_tracked_absent_frame_and_keeps_tracked_boxes():
    doc = AnnotationDocument(6)
    doc._replace({0: FrameAnnotation.manual((0, 0, 10, 10)), 5: FrameAnnotation.manual((50, 0, 10, 10)),
                  2: FrameAnnotation.tracked((1, 1, 9, 9), "csrt", 0.9)})
    h = History(doc)
    h.execute(interpolate(doc))
    assert doc[2].provenance is Provenance.TRACKED and doc[1].provenance is Provenance.INTERPOLATED
    h.execute(interpolate(doc, replace_tracked=True))
    assert doc[2].box == (20.0, 0.0, 10.0, 10.0)
    doc2 = AnnotationDocument(6)
    doc2._replace({0: FrameAnnotation.manual((0, 0, 10, 10)), 5: FrameAnnotation.manual((50, 0, 10, 10)),
                   3: FrameAnnotation.tracked(None, "csrt", 0.1)})
    History(doc2).execute(interpolate(doc2, replace_tracked=True))
    assert doc2.annotated_frames() == [0, 3, 5]


def test_clear_after_keeps_manual_keyframes():
    doc = AnnotationDocument(6)
    doc._replace({i: FrameAnnotation.tracked((i, 0, 5, 5), "kcf", 1.0) for i in range(6)})
    doc._replace({4: FrameAnnotation.manual((9, 9, 5, 5))})
    h = History(doc)
    h.execute(clear_after(doc, 1))
    assert doc.annotated_frames() == [0, 1, 4]
    h.execute(clear_frames(doc, [4]))
    assert doc.annotated_frames() == [0, 1]


def test_import_replaces_everything_as_one_step_and_refuses_a_longer_file():
    doc = AnnotationDocument(5)
    h = History(doc)
    h.execute(set_box(doc, 0, (0, 0, 5, 5)))
    imported = AnnotationDocument.from_arrays(np.array([[1, 1, 3, 3], [np.nan] * 4, [2, 2, 3, 3]]),
                                              np.array([False, True, False]))
    h.execute(replace_all(doc, imported, "import x"))
    assert doc[0].box == (1, 1, 3, 3) and doc[1].absent and doc[3] is None
    h.undo()
    assert doc[0].box == (0, 0, 5, 5) and doc[1] is None
    with pytest.raises(InputError, match="6 frames but the open sequence has 5"):
        replace_all(doc, AnnotationDocument(6), "import y")
    assert doc[0].box == (0, 0, 5, 5)


def test_arrays_and_differences():
    boxes = np.array([[1, 2, 3, 4], [np.nan] * 4, [np.nan] * 4, [5, 6, 7, 8]], dtype=float)
    absent = np.array([False, True, False, False])
    doc = AnnotationDocument.from_arrays(boxes, absent)
    np.testing.assert_array_equal(doc.boxes(), boxes)
    np.testing.assert_array_equal(doc.absent(), absent)
    np.testing.assert_array_equal(doc.annotated(), [True, True, False, True])
    other = doc.copy()
    assert doc.differences(other) == []
    other._replace({3: FrameAnnotation.manual((5, 6, 7, 9))})
    assert doc.differences(other) == ["frame 3: box (5.0, 6.0, 7.0, 8.0) vs (5.0, 6.0, 7.0, 9.0)"]


def test_presence_threshold_can_be_changed_afterwards():
    from tracker.annotation.edits import apply_presence_threshold
    from tracker.result import Flag, FrameResult

    doc = AnnotationDocument(4)
    doc._replace({0: FrameAnnotation.manual((0, 0, 5, 5)),
                  1: FrameAnnotation.tracked((1, 0, 5, 5), "e", 0.4),
                  2: FrameAnnotation.tracked(None, "e", 0.2),
                  3: FrameAnnotation.tracked((3, 0, 5, 5), "e", 0.9)},
                 {1: FrameResult(1, (1, 0, 5, 5), 0.4), 2: FrameResult(2, (2, 0, 5, 5), 0.2),
                  3: FrameResult(3, (3, 0, 5, 5), 0.9, Flag.NOT_FOUND)})
    h = History(doc)
    h.execute(apply_presence_threshold(doc, 0.5))
    assert doc[1].absent and doc[2].absent and doc[3].absent and doc[0].box == (0, 0, 5, 5)
    h.execute(apply_presence_threshold(doc, 0.1, not_found_is_absent=False))
    assert [doc[i].box for i in (1, 2, 3)] == [(1, 0, 5, 5), (2, 0, 5, 5), (3, 0, 5, 5)]
    h.undo()
    assert doc[2].absent


def test_listeners_see_the_history_already_updated():
    doc = AnnotationDocument(5)
    h = History(doc)
    seen = []
    doc.subscribe(lambda frames: seen.append((h.can_undo, h.can_redo, h.modified)))
    h.execute(set_box(doc, 1, (0, 0, 5, 5)))
    h.undo()
    h.redo()
    assert seen == [(True, False, True), (False, True, False), (True, False, True)]


def test_import_keeps_engine_records_unless_the_file_brings_its_own():
    from tracker.result import FrameResult

    doc = AnnotationDocument(3)
    doc._replace({1: FrameAnnotation.tracked((1, 1, 5, 5), "e", 0.9)}, {1: FrameResult(1, (1, 1, 5, 5), 0.9)})
    h = History(doc)
    h.execute(replace_all(doc, AnnotationDocument.from_arrays(np.array([[2, 2, 5, 5]] * 3)), "gt"))
    assert doc[1].provenance is Provenance.MANUAL and doc.debug_record(1).box == (1, 1, 5, 5)
    research = AnnotationDocument(3)
    research._replace({0: FrameAnnotation.manual((0, 0, 5, 5))}, {0: FrameResult(0, (0, 0, 5, 5))})
    h.execute(replace_all(doc, research, "research"))
    assert doc.debug_record(1) is None and doc.debug_record(0).box == (0, 0, 5, 5)
