"""The one run loop: kept boxes, cancel, a bad frame; the CLI's behaviour on a corrupt JPEG; the thread policy."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tracker.cli import main as cli_main
from tracker.errors import FrameReadError, InputError
from tracker.evaluation.runner import evaluate_engines, format_table
from tracker.result import Flag, FrameResult
from tracker.runloop import RunPlan, TargetPlan, run_engine, run_engines
from tracker.threads import ThreadGovernor, parse_threads, requested_threads, threads_for_load


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The runs here set torch's thread count (tracker.threads); later tests get it back."""
    import torch

    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


class ListEngine:
    """Gives the box of a list per frame; None entries mean 'not found'."""

    def __init__(self, boxes):
        self.boxes = boxes

    def initialize(self, frame, box, frame_index=0):
        return FrameResult(frame_index, tuple(box))

    def track(self, frame, frame_index=None):
        box = self.boxes[frame_index]
        return FrameResult(frame_index, box, flag=Flag.NOT_FOUND if box is None else Flag.NORMAL)


class Frames:
    def __init__(self, n, bad=()):
        self.n, self.bad = n, set(bad)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i in self.bad:
            raise FrameReadError(f"clip: frame {i} cannot be decoded")
        return np.zeros((8, 8, 3), np.uint8)


class CountingFrames(Frames):
    def __init__(self, n, bad=()):
        super().__init__(n, bad)
        self.reads = []

    def __getitem__(self, i):
        self.reads.append(i)
        return super().__getitem__(i)


def test_several_targets_read_each_frame_once_and_keep_their_own_boxes():
    frames = CountingFrames(12)
    a = ListEngine([None] * 3 + [(3, 3, 2, 2)] * 9)
    b = ListEngine([(9, 9, 1, 1)] * 12)
    parts = [TargetPlan(1, a, RunPlan(2, (0, 0, 2, 2), range(3, 10))),  # starts later, ends earlier
             TargetPlan(2, b, RunPlan(0, (5, 5, 1, 1), range(1, 12)))]
    steps = []
    end = run_engines(parts, frames, lambda target, step: steps.append((target, step)))
    assert end.complete and end.steps == 8 + 12
    assert sorted(frames.reads) == list(range(12))  # one read per frame for both targets
    assert [s.index for t, s in steps if t == 1] == list(range(2, 10))
    assert [s.box for t, s in steps if t == 1][:2] == [(0, 0, 2, 2), (3, 3, 2, 2)]
    assert all(s.box == (9, 9, 1, 1) for t, s in steps if t == 2 and not s.initial)


class BatchingEngine(ListEngine):
    """An engine class that tracks several of its engines on one frame together (like keeptrack-lite's
    batched backbone): the loop must use it, and give each target its own result."""

    calls = []

    @staticmethod
    def track_many(engines, frame, frame_index=None):
        BatchingEngine.calls.append((frame_index, len(engines)))
        return [e.track(frame, frame_index) for e in engines]


def test_several_targets_of_a_batching_class_track_a_frame_together():
    BatchingEngine.calls.clear()
    parts = [TargetPlan(t, BatchingEngine([(t, t, 1, 1)] * 6), RunPlan(0, (0, 0, 1, 1), range(1, 6))) for t in (1, 2, 3)]
    parts.append(TargetPlan(4, ListEngine([(4, 4, 1, 1)] * 6), RunPlan(0, (0, 0, 1, 1), range(1, 3))))
    steps = []
    end = run_engines(parts, Frames(6), lambda t, s: steps.append((t, s)))
    assert end.complete
    # frames 1-2 also carry an engine of another class: tracked one by one; frames 3-5 together
    assert BatchingEngine.calls == [(3, 3), (4, 3), (5, 3)]
    assert {t: s.box for t, s in steps if s.index == 5} == {1: (1, 1, 1, 1), 2: (2, 2, 1, 1), 3: (3, 3, 1, 1)}
    BatchingEngine.calls.clear()
    run_engines(parts[:3], Frames(6))
    assert BatchingEngine.calls == [(i, 3) for i in range(1, 6)]


def test_several_targets_backwards_a_cancel_and_a_bad_frame_end_the_whole_run():
    parts = [TargetPlan(1, ListEngine([(1, 1, 1, 1)] * 10), RunPlan(9, (1, 1, 1, 1), range(8, -1, -1))),
             TargetPlan(2, ListEngine([(2, 2, 1, 1)] * 10), RunPlan(6, (2, 2, 1, 1), range(5, 2, -1)))]
    seen = []
    end = run_engines(parts, CountingFrames(10, bad={4}), lambda t, s: seen.append(s.index), direction=-1)
    assert end.failed_frame == 4 and "frame 4" in end.failure and seen == [9, 8, 7, 6, 6, 5, 5]
    stop = run_engines(parts, CountingFrames(10), lambda t, s: seen.append(s.index),
                       should_stop=lambda: len(seen) > 10, direction=-1)
    assert stop.cancelled and not stop.complete
    with pytest.raises(InputError, match="direction"):
        run_engines(parts, CountingFrames(10), direction=1)


def test_missing_box_is_kept_from_the_previous_frame_and_result_stays_none():
    boxes = [None, (1, 1, 2, 2), None, None, (5, 5, 2, 2)]
    steps = []
    end = run_engine(ListEngine(boxes), Frames(5), RunPlan.forward(0, (0, 0, 2, 2), 5), steps.append)
    assert end.complete and end.steps == 5
    assert [s.box for s in steps] == [(0, 0, 2, 2), (1, 1, 2, 2), (1, 1, 2, 2), (1, 1, 2, 2), (5, 5, 2, 2)]
    assert steps[2].result.box is None


def test_cancel_keeps_what_was_tracked():
    steps = []
    end = run_engine(ListEngine([(1, 1, 1, 1)] * 10), Frames(10), RunPlan.forward(0, (0, 0, 1, 1), 10),
                     steps.append, should_stop=lambda: len(steps) >= 4)
    assert end.cancelled and not end.complete and len(steps) == 4


def test_bad_frame_ends_the_run_naming_it_and_backwards_plans_work():
    steps = []
    end = run_engine(ListEngine([(1, 1, 1, 1)] * 10), Frames(10, bad={3}), RunPlan(7, (0, 0, 1, 1), range(6, -1, -1)),
                     steps.append)
    assert [s.index for s in steps] == [7, 6, 5, 4]
    assert end.failed_frame == 3 and "frame 3" in end.failure and not end.complete


def _folder_with_corrupt_frame(tmp_path, n=40, bad=35):
    folder = tmp_path / "clip"
    folder.mkdir()
    for i in range(n):
        img = np.full((96, 128, 3), 40, np.uint8)
        cv2.rectangle(img, (20 + i, 30), (50 + i, 60), (220, 200, 30), -1)
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), img)
    (folder / f"{bad:04d}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg at all")
    return folder


def test_track_writes_the_boxes_before_a_corrupt_jpeg_and_names_the_frame(tmp_path, capsys):
    folder = _folder_with_corrupt_frame(tmp_path)
    out = tmp_path / "boxes.txt"
    rc = cli_main(["track", str(folder), "--engine", "kcf", "--box", "20,30,31,31", "--out", str(out),
                   "--threads", "1"])
    err = capsys.readouterr().err
    assert rc == 1
    assert len(out.read_text().splitlines()) == 35  # frames 0..34
    assert "frame 35" in err


def test_track_out_into_a_missing_folder_fails_before_tracking(tmp_path, capsys):
    folder = _folder_with_corrupt_frame(tmp_path)
    rc = cli_main(["track", str(folder), "--engine", "kcf", "--box", "20,30,31,31",
                   "--out", str(tmp_path / "nope" / "boxes.txt")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_eval_keeps_the_table_when_one_sequence_has_a_bad_frame(tmp_path):
    seqs = []
    for name, bad in (("good", None), ("broken", 5)):
        folder = tmp_path / name / "img"
        folder.mkdir(parents=True)
        for i in range(8):
            img = np.full((96, 128, 3), 40, np.uint8)
            cv2.rectangle(img, (20 + i, 30), (50 + i, 60), (220, 200, 30), -1)
            cv2.imwrite(str(folder / f"{i + 1:04d}.jpg"), img)
        if bad is not None:
            (folder / f"{bad + 1:04d}.jpg").write_bytes(b"garbage")
        (tmp_path / name / "groundtruth_rect.txt").write_text("".join(f"{20 + i},30,31,31\n" for i in range(8)))
        seqs.append(tmp_path / name)
    from functools import partial

    from tracker.registry import create_engine

    evs = evaluate_engines({"kcf": partial(create_engine, "kcf")}, seqs, results_root=tmp_path / "res")
    assert evs[0].failure is None and evs[1].failure is not None and "frame 5" in evs[1].failure
    table = format_table(evs)
    assert "FAILED" in table and "good" in table
    assert (tmp_path / "res" / "kcf" / "default" / "good.txt").exists()
    assert not (tmp_path / "res" / "kcf" / "default" / "broken.txt").exists()


def test_thread_policy():
    assert threads_for_load(0.0, cores=2, ceiling=2) == 2
    assert threads_for_load(1.0, cores=2, ceiling=2) == 1  # one busy process: one thread, never two
    assert threads_for_load(7.0, cores=2, ceiling=2) == 1
    assert threads_for_load(0.0, cores=16, ceiling=8) == 8
    assert threads_for_load(2.5, cores=8, ceiling=8) == 5
    assert parse_threads("auto") is None and parse_threads("3") == 3
    with pytest.raises(Exception, match="positive"):
        parse_threads("-2")


def test_thread_override_flag_beats_env(monkeypatch):
    import torch

    monkeypatch.setenv("KEEPTRACK_THREADS", "2")
    assert requested_threads(None) == 2 and requested_threads("1") == 1
    previous = torch.get_num_threads()
    try:
        g = ThreadGovernor(fixed=1)
        assert torch.get_num_threads() == 1 and g.tick() == 1
        adaptive = ThreadGovernor(None, sample_seconds=0.05, recheck_seconds=0.0)
        assert 1 <= adaptive.tick() == torch.get_num_threads() <= adaptive.ceiling
    finally:
        torch.set_num_threads(previous)
