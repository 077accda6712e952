"""Project files, autosave and recovery: nothing is lost, whatever happens while saving."""
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tracker.annotation import AnnotationDocument, FrameAnnotation, History, Provenance
from tracker.annotation.edits import mark_absent, set_box
from tracker.annotation.project import (PROJECT_FORMAT, Autosaver, autosave_path, find_recovery, list_recoveries,
                                        load_project, save_project)
from tracker.errors import InputError
from tracker.result import Candidate, Flag, FrameResult, ScoreMap

REPO = Path(__file__).resolve().parent.parent


def sample_document(source="/data/seq.avi"):
    doc = AnnotationDocument(40, source=source, image_size=(640, 360))
    doc._replace(
        {0: FrameAnnotation.manual((10.5, 20.25, 30, 40)), 1: FrameAnnotation.tracked((11, 20, 30, 40), "csrt", 0.8),
         2: FrameAnnotation.tracked(None, "csrt", 0.1), 3: FrameAnnotation.interpolated((12, 21, 31, 41)),
         5: FrameAnnotation.manual(None)},
        {1: FrameResult(1, (11, 20, 30, 40), 0.8, Flag.UNCERTAIN, (0, 0, 100, 100),
                        ScoreMap(np.ones((3, 3), np.float32), 1, 2, 3, 4),
                        (Candidate(5, 6, 0.8, 1), Candidate(50, 60, 0.3, 2)), 1)},
    )
    return doc


def test_save_and_open_give_the_same_document(tmp_path):
    doc = sample_document()
    path = save_project(tmp_path / "a.ktproj", doc, {"engine": "csrt"})
    data = json.loads(path.read_text())
    assert data["format"] == PROJECT_FORMAT and data["version"] == 2 and data["source"] == "/data/seq.avi"
    project = load_project(path)
    assert project.document.differences(doc, debug=True) == []
    assert project.settings == {"engine": "csrt"}
    assert project.document.image_size == (640, 360) and project.document.name == "seq"
    record, original = project.document.debug_record(1), doc.debug_record(1)
    assert [c.object_id for c in record.candidates] == [1, 2] and record.selected_id == 1
    for got, want in zip(record.candidates, original.candidates):  # stored as float32, as engines compute
        assert (got.x, got.y, got.score) == pytest.approx((want.x, want.y, want.score), rel=1e-6)
    assert record.flag is Flag.UNCERTAIN and record.search_area == (0, 0, 100, 100) and record.box == original.box
    assert record.score_map is None  # score-map values stay out of project files (the research export has them)


def test_debug_records_with_assignments_survive_packing():
    from tracker.annotation.debug_pack import pack, unpack
    from tracker.result import Assignment

    prev = (Candidate(1, 2, 0.5, 7), Candidate(3, 4, 0.25, None))
    records = [FrameResult(3, None, 0.1, Flag.NOT_FOUND),
               FrameResult(4, (1, 2, 3, 4), 0.75, Flag.HARD_NEGATIVE, None, None, (Candidate(5, 6, 0.5, 7),), 7,
                           Assignment(np.arange(6, dtype=np.float32).reshape(3, 2) / 8, prev, (0,))),
               FrameResult(9, (2, 2, 3, 4), 1.0)]
    back = unpack(json.loads(json.dumps(pack(records))))
    assert [r.frame_index for r in back] == [3, 4, 9] and back[0].box is None and back[0].flag is Flag.NOT_FOUND
    assert back[1].assignment.previous == prev and back[1].assignment.matches == (0,)
    np.testing.assert_array_equal(back[1].assignment.probabilities, records[1].assignment.probabilities)
    assert back[1].candidates == records[1].candidates and back[1].selected_id == 7 and back[2].assignment is None
    packed = pack(records)
    packed["candidate_id"] = packed["previous_id"]  # columns that disagree
    with pytest.raises(InputError, match="debug records are malformed"):
        unpack(packed)


def test_source_found_when_project_and_video_move_together(tmp_path):
    video = tmp_path / "old" / "v.avi"
    video.parent.mkdir()
    video.write_bytes(b"x")
    save_project(tmp_path / "old" / "p.ktproj", AnnotationDocument(3, source=str(video)))
    (tmp_path / "old").rename(tmp_path / "new")
    assert load_project(tmp_path / "new" / "p.ktproj").document.source == str(tmp_path / "new" / "v.avi")


@pytest.mark.parametrize("text, message", [
    ("{not json", "line 1: not valid JSON"),
    ('{"format": "other"}', "not a KeepTrack Studio project"),
    (json.dumps({"format": PROJECT_FORMAT, "version": 99}), "newer version"),
    (json.dumps({"format": PROJECT_FORMAT, "version": 1, "num_frames": 3, "frames": [[0, 1, 2]]}),
     r"frames\[0\] is malformed"),
    (json.dumps({"format": PROJECT_FORMAT, "version": 1}), "missing field 'num_frames'"),
])
def test_bad_project_files_get_clear_errors(tmp_path, text, message):
    p = tmp_path / "bad.ktproj"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        load_project(p)


def test_full_disk_keeps_the_previous_project(tmp_path, monkeypatch):
    path = save_project(tmp_path / "a.ktproj", sample_document())
    before = path.read_bytes()

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(InputError, match="No space left on device.*previous file is unchanged"):
        save_project(path, AnnotationDocument(2))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ktproj"]


def test_read_only_folder_gives_a_clear_message(tmp_path, monkeypatch):
    import tempfile

    path = save_project(tmp_path / "a.ktproj", sample_document())
    before = path.read_bytes()

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # as a read-only folder answers (root ignores chmod)
    with pytest.raises(InputError, match="cannot write .*Permission denied"):
        save_project(path, AnnotationDocument(2))
    assert path.read_bytes() == before


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_autosave_is_debounced_and_follows_every_change(tmp_path):
    doc = AnnotationDocument(10, source="/v.avi")
    h = History(doc)
    clock = Clock()
    saver = Autosaver(doc, tmp_path / "auto.ktproj", delay_s=1.0, max_wait_s=5.0, clock=clock)
    assert not saver.poll()
    h.execute(set_box(doc, 1, (0, 0, 5, 5)))
    clock.t += 0.5
    assert not saver.poll() and not saver.path.exists()
    clock.t += 0.6
    assert saver.poll() and load_project(saver.path).document.keyframes() == [1]
    assert not saver.poll()  # nothing new
    for k in range(12):  # changes every 0.5 s: the max wait still forces a save
        h.execute(set_box(doc, 2, (k, 0, 5, 5)))
        clock.t += 0.5
        saver.poll()
    assert saver.saves == 2  # one forced by the 5 s max wait while changes kept coming
    h.undo()  # undo is a change like any other
    clock.t += 1.5
    assert saver.poll()
    assert load_project(saver.path).document.differences(doc) == []


def test_autosave_failure_is_reported_and_retried(tmp_path, monkeypatch):
    doc = AnnotationDocument(10)
    h = History(doc)
    clock = Clock()
    saver = Autosaver(doc, tmp_path / "auto.ktproj", delay_s=1.0, clock=clock)
    h.execute(set_box(doc, 1, (0, 0, 5, 5)))
    clock.t += 2
    assert saver.poll()
    good = saver.path.read_bytes()
    h.execute(set_box(doc, 2, (0, 0, 5, 5)))
    clock.t += 2
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
        assert not saver.poll()
    assert "No space left" in saver.last_error and saver.path.read_bytes() == good
    clock.t += 2
    assert saver.poll() and saver.last_error is None
    assert load_project(saver.path).document.keyframes() == [1, 2]


def test_recovery_offered_only_when_the_autosave_is_newer(tmp_path):
    folder = tmp_path / "autosave"
    project = tmp_path / "work.ktproj"
    doc = AnnotationDocument(10, source=str(tmp_path / "v.avi"))
    h = History(doc)
    h.execute(set_box(doc, 0, (0, 0, 5, 5)))
    save_project(project, doc)
    assert find_recovery(project, folder=folder) is None
    saver = Autosaver(doc, autosave_path(project, folder=folder), delay_s=0, project_path=project)
    h.execute(mark_absent(doc, 4))
    time.sleep(0.01)
    assert saver.poll()
    rec = find_recovery(project, folder=folder)
    assert rec is not None and rec.annotated_frames == 2 and rec.project == project
    assert rec.load().document.differences(doc) == []
    assert [r.autosave for r in list_recoveries(folder)] == [rec.autosave]
    time.sleep(0.01)
    save_project(project, doc)  # saved again: the autosave is no longer newer
    assert find_recovery(project, folder=folder) is None and list_recoveries(folder) == []
    # before the first save the autosave is keyed by the source
    fresh = AnnotationDocument(5, source=str(tmp_path / "w.avi"))
    saver2 = Autosaver(fresh, autosave_path(source=fresh.source, folder=folder), delay_s=0)
    History(fresh).execute(set_box(fresh, 0, (1, 1, 2, 2)))
    saver2.poll()
    assert find_recovery(source=fresh.source, folder=folder).project is None
    saver2.discard()
    assert find_recovery(source=fresh.source, folder=folder) is None


WRITER = textwrap.dedent("""
    import sys
    from tracker.annotation import AnnotationDocument, FrameAnnotation
    from tracker.annotation.project import save_project, load_project
    path, start = sys.argv[1], int(sys.argv[2])
    n = 3000
    generation = start
    while True:
        doc = AnnotationDocument(n, source="/v.avi")
        doc._replace({i: FrameAnnotation.tracked((generation, i, 10, 10), "e", 0.5) for i in range(n)})
        save_project(path, doc, {"generation": generation})
        generation += 1
        print(generation, flush=True)
""")


def test_killing_the_writer_mid_save_always_leaves_a_complete_state(tmp_path):
    path = tmp_path / "p.ktproj"
    rng = random.Random(1234)
    last_generation = -1
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for kill in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(last_generation + 1)], env=env,
                                stdout=subprocess.PIPE, cwd=REPO)
        proc.stdout.readline()  # at least one complete save happened; now kill at a random moment
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        project = load_project(path)  # always parses
        generation = project.settings["generation"]
        boxes = project.document.boxes()
        assert len(project.document) == 3000 and np.all(project.document.annotated())
        assert np.all(boxes[:, 0] == generation), "a mix of two saves"  # every frame from the same save
        np.testing.assert_array_equal(boxes[:, 1], np.arange(3000))
        assert generation >= last_generation  # never goes back to an older state
        last_generation = generation
    assert last_generation > 5
    # temporary files of killed writes are removed by a later save once they are old
    leftovers = list(tmp_path.glob(".p.ktproj.*.tmp"))
    for tmp in leftovers:
        os.utime(tmp, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / ".p.ktproj.fresh.tmp"
    fresh.write_text("a write in progress")
    save_project(path, AnnotationDocument(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".p.ktproj.fresh.tmp", "p.ktproj"]


def test_background_autosave_writes_a_snapshot_and_catches_up(tmp_path):
    doc = AnnotationDocument(10, source="/v.avi")
    h = History(doc)
    clock = Clock()
    saver = Autosaver(doc, tmp_path / "auto.ktproj", delay_s=1.0, clock=clock, background=True)
    h.execute(set_box(doc, 1, (0, 0, 5, 5)))
    clock.t += 2
    assert saver.poll()  # started in a thread
    h.execute(set_box(doc, 2, (0, 0, 5, 5)))  # a change while it writes
    saver.wait()
    assert saver.saves == 1 and saver.pending  # the snapshot had frame 1 only
    assert load_project(saver.path).document.keyframes() == [1]
    clock.t += 2
    assert saver.poll()
    saver.wait()
    assert not saver.pending and load_project(saver.path).document.keyframes() == [1, 2]


def test_autosave_leaves_debug_records_out_and_project_save_keeps_them(tmp_path):
    doc = sample_document()
    saver = Autosaver(doc, tmp_path / "auto.ktproj", delay_s=0)
    assert saver.save_now()
    assert load_project(saver.path).document.debug_records == {}
    assert load_project(save_project(tmp_path / "p.ktproj", doc)).document.debug_record(1) is not None
