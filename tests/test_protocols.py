"""Evaluation protocols: SRE starting boxes, TRE start frames, run scoring and `main.py eval --protocol`."""
from pathlib import Path

import numpy as np
import pytest

from main import main
from tracker.engine import Engine
from tracker.evaluation.protocols import evaluate_protocol_source, sre_boxes, tre_starts
from tracker.result import FrameResult
from tracker.sources import FrameSource, GroundTruth


def test_sre_boxes_are_eight_shifts_by_a_tenth_and_four_scales_about_the_centre():
    starts = sre_boxes((100, 50, 40, 20))
    assert len(starts) == 12 and all(s.frame == 0 for s in starts)
    shifts = {s.label: s.box for s in starts if s.label.startswith("shift")}
    assert len(shifts) == 8
    assert shifts["shift +x"] == pytest.approx((104, 50, 40, 20))
    assert shifts["shift -x-y"] == pytest.approx((96, 48, 40, 20))
    scales = [s.box for s in starts if s.label.startswith("scale")]
    for box, f in zip(scales, (0.8, 0.9, 1.1, 1.2)):
        assert box[2:] == pytest.approx((40 * f, 20 * f))
        assert (box[0] + box[2] / 2, box[1] + box[3] / 2) == pytest.approx((120, 60))


def test_sre_boxes_stay_inside_the_image():
    for s in sre_boxes((0, 0, 30, 30), image_wh=(100, 80)):
        x, y, w, h = s.box
        assert x >= 0 and y >= 0 and x + w <= 100 and y + h <= 80


def test_tre_starts_are_spread_over_the_sequence_and_skip_frames_without_a_box():
    gt = np.tile([10.0, 10.0, 5.0, 5.0], (100, 1))
    gt[50] = np.nan
    starts = tre_starts(gt, 100)
    frames = [s.frame for s in starts]
    assert frames == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 51, 55, 60, 65, 70, 75, 80, 85, 90, 95]
    assert starts[3].box == (10.0, 10.0, 5.0, 5.0)


class _Source(FrameSource):
    def __init__(self, boxes):
        self.path = Path("synthetic")
        self._n = len(boxes)
        self.ground_truth = GroundTruth(np.asarray(boxes, float), None, "otb", Path("synthetic/gt.txt"))

    @property
    def fps(self):
        return 30.0

    def __len__(self):
        return self._n

    def frame(self, index):
        return np.zeros((100, 200, 3), np.uint8)


class _DriftingWhenOff(Engine):
    """Keeps the start box when it starts on the ground truth's exact size, else drifts right 10 px a frame."""

    def initialize(self, frame, box, frame_index=0):
        self.box = tuple(box)
        self.drift = 0.0 if box[2] == 20 else 10.0
        return FrameResult(frame_index, self.box)

    def track(self, frame, frame_index=None):
        x, y, w, h = self.box
        self.box = (min(x + self.drift, 170.0), y, w, h)
        return FrameResult(frame_index, self.box)


def test_protocol_runs_are_scored_and_lost_runs_counted():
    gt = [(50.0, 40.0, 20.0, 20.0)] * 30
    sre = evaluate_protocol_source("drift", _DriftingWhenOff, _Source(gt), "sre")
    assert len(sre.runs) == 12
    lost = [r.start.label for r in sre.runs if r.lost]
    assert sorted(lost) == ["scale 0.8", "scale 0.9", "scale 1.1", "scale 1.2"]  # the shifted runs keep the size
    assert sre.lost == 4 and sre.worst.start.label.startswith("scale")
    tre = evaluate_protocol_source("drift", _DriftingWhenOff, _Source(gt), "tre")
    assert len(tre.runs) == 20 and tre.lost == 0 and tre.auc > 95
    assert [r.run.num_frames for r in tre.runs][:3] == [30, 29, 27]


def test_eval_protocol_sre_from_the_command_line(otb, capsys):
    rc = main(["eval", str(otb / "Football1"), "--engines", "kcf", "--protocol", "sre", "--max-frames", "8"])
    out = capsys.readouterr().out
    assert rc == 0
    header, _, row = out.splitlines()[:3]
    assert header.split()[:4] == ["engine", "sequence", "runs", "SRE"]
    cells = row.split()
    assert cells[:3] == ["kcf", "Football1", "12"] and 0 <= float(cells[3]) <= 100
