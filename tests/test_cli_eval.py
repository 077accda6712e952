"""`main.py eval` and `main.py track` end to end on real OTB sequences (few frames)."""
from pathlib import Path

import numpy as np
import pytest

from main import main
from tracker.engine import Engine
from tracker.evaluation.runner import annotated_span, evaluate_source, format_table
from tracker.result import Flag, FrameResult
from tracker.sources import FrameSource, GroundTruth
from tracker.formats.pytracking import read_boxes, read_sequence_result
from tracker.sources import open_source


def test_eval_prints_the_table_and_writes_result_files(otb, tmp_path, capsys):
    results = tmp_path / "results"
    rc = main(["eval", str(otb / "Football1"), str(otb / "Crossing"), "--engines", "csrt,kcf",
               "--results", str(results), "--max-frames", "12", "--run-id", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("# NPrec convention: project")
    assert lines[1].split() == ["engine", "sequence", "frames", "AUC", "Prec", "NPrec", "FPS"]
    rows = {(ln.split()[0], ln.split()[1]): ln.split()[2:] for ln in lines[3:] if ln.strip()}
    assert set(rows) == {(e, s) for e in ("csrt", "kcf") for s in ("Football1", "Crossing", "mean")}
    for (engine, seq), values in rows.items():
        assert values[0] == ("24" if seq == "mean" else "12")
        auc, prec, nprec, fps = map(float, values[1:])
        assert 0 <= auc <= 100 and 0 <= prec <= 100 and 0 <= nprec <= 100 and fps > 0
    # CSRT follows Football1's player over 12 frames
    assert float(rows[("csrt", "Football1")][1]) > 60
    for engine in ("csrt", "kcf"):
        folder = results / engine / "default_002"
        for seq in ("Football1", "Crossing"):
            res = read_sequence_result(folder, seq)
            assert res.boxes.shape == (12, 4) and res.times.shape == (12,) and res.presence.shape == (12,)
    # line 1 is the initial box (integral values are written without a decimal point)
    first = (results / "csrt" / "default_002" / "Football1.txt").read_text().splitlines()[0]
    with open_source(otb / "Football1") as source:
        assert first == "\t".join(str(int(v)) for v in source.ground_truth.boxes[0])


def test_eval_stops_at_the_last_annotated_frame(otb):
    with open_source(otb / "Football1") as source:  # 81 images, ground truth for 74
        assert len(source) == 81
        assert annotated_span(source) == 74
        assert annotated_span(source, max_frames=10) == 10


def test_eval_unknown_engine_is_an_error_before_tracking(otb, capsys):
    rc = main(["eval", str(otb / "Football1"), "--engines", "csrt,nosuch", "--max-frames", "3"])
    assert rc == 2 and "nosuch" in capsys.readouterr().err


def test_track_writes_one_box_per_frame(otb, tmp_path, capsys):
    out = tmp_path / "boxes.txt"
    rc = main(["track", str(otb / "Subway"), "--engine", "mil", "--frames", "8", "--out", str(out)])
    assert rc == 0
    boxes = read_boxes(out)
    with open_source(otb / "Subway") as source:
        gt = source.ground_truth.boxes
    assert boxes.shape == (8, 4) and boxes[0].tolist() == gt[0].tolist()
    assert np.abs(boxes[1:, :2] - gt[1:8, :2]).max() < 15  # MIL stays on the pedestrian
    assert "8 frames of Subway" in capsys.readouterr().err


def test_track_with_an_explicit_box_to_stdout(otb, capsys):
    rc = main(["track", str(otb / "Football1"), "--engine", "csrt", "--frames", "3", "--box", "150,100,30,45"])
    captured = capsys.readouterr()
    assert rc == 0
    lines = captured.out.splitlines()
    assert len(lines) == 3 and lines[0] == "150\t100\t30\t45"


@pytest.mark.parametrize("box, message", [("1,2,3", "four numbers"), ("150,100,0,45", "empty")])
def test_track_refuses_a_bad_box(otb, capsys, box, message):
    rc = main(["track", str(otb / "Football1"), "--engine", "csrt", "--frames", "3", "--box", box])
    assert rc == 2 and message in capsys.readouterr().err


# ---- the runner with a scripted engine (no OpenCV, no files) ----

class ListSource(FrameSource):
    """Frames and ground truth held in memory."""

    def __init__(self, name, n, boxes):
        self.path = Path(name)
        self._frames = [np.full((40, 60, 3), i, np.uint8) for i in range(n)]
        self.ground_truth = GroundTruth(np.asarray(boxes, float), None, "otb", Path(name) / "gt.txt")

    @property
    def fps(self):
        return 30.0

    def __len__(self):
        return len(self._frames)

    def frame(self, index):
        return self._frames[index]


class ScriptedEngine(Engine):
    """Moves the box 1 px right per frame; gives no box on frames listed in `lose`."""

    created = 0

    def __init__(self, device="cpu", lose=()):
        super().__init__(device)
        ScriptedEngine.created += 1
        self.lose = set(lose)

    def initialize(self, frame, box, frame_index=0):
        self._frame_index = frame_index
        self.box = tuple(box)
        return FrameResult(frame_index, self.box)

    def track(self, frame, frame_index=None):
        i = self._next_index(frame_index)
        assert frame[0, 0, 0] == i  # frames arrive in order
        if i in self.lose:
            return FrameResult(i, None, presence=0.0, flag=Flag.NOT_FOUND)
        self.box = (self.box[0] + 1, *self.box[1:])
        return FrameResult(i, self.box, presence=0.5)


def test_runner_keeps_the_last_box_and_uses_a_fresh_engine_per_sequence(tmp_path):
    gt = [[5.0 + i, 5, 10, 10] for i in range(6)]
    sources = [ListSource("a", 6, gt), ListSource("b", 6, gt)]
    ScriptedEngine.created = 0
    evaluations = []
    for src in sources:
        evaluations.append(evaluate_source("scripted", lambda: ScriptedEngine(lose={2, 3}), src))
    assert ScriptedEngine.created == 2
    run = evaluations[0].run
    assert run.boxes[:, 0].tolist() == [5, 6, 6, 6, 7, 8]
    assert run.flags == ("normal", "normal", "not_found", "not_found", "normal", "normal")
    assert run.presence.tolist() == [1.0, 0.5, 0.0, 0.0, 0.5, 0.5] and run.not_found == 2
    # lags behind the GT: 0, 0, 1, 2, 2, 2 px; 10x10 boxes overlap 90 px (lag 1) or 80 px (lag 2)
    expected_ious = [1, 1, 90 / 110, 80 / 120, 80 / 120, 80 / 120]
    assert evaluations[0].metrics.avg_overlap == pytest.approx(100 * np.mean(expected_ious))
    table = format_table(evaluations, ("auc", "not_found"))
    assert "scripted  mean" in table and table.splitlines()[-1].split()[-1] == "4"


def test_scoreboard_runs_and_names_what_it_skips(otb, capsys):
    from bench.scoreboard import main as scoreboard

    rc = scoreboard(["--engines", "kcf,nosuch", "--max-frames", "3", "--data", str(otb)])
    captured = capsys.readouterr()
    assert rc == 0
    assert "skipped nosuch: InputError: unknown engine" in captured.err
    ope, sre = captured.out.split("# SRE")
    rows = [ln.split() for ln in ope.splitlines() if ln.startswith("kcf ")]
    sequences = sorted(p.name for p in otb.iterdir() if p.is_dir())
    assert [r[1] for r in rows] == sequences + ["mean"]
    assert all(r[2] == "3" for r in rows[:-1])
    sre_rows = [ln.split() for ln in sre.splitlines() if ln.startswith("kcf ")]
    assert [r[1] for r in sre_rows] == sequences + ["mean"]
    assert all(r[2] == "12" for r in sre_rows[:-1])  # 12 perturbed starts per sequence


def test_track_refuses_keeptrack_options_for_other_engines(otb, capsys):
    rc = main(["track", str(otb / "Football1"), "--engine", "csrt", "--frames", "3", "--bf16"])
    assert rc == 2 and "--bf16 apply to the keeptrack" in capsys.readouterr().err
