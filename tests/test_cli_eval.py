"""`main.py eval` and `main.py track` end to end on real OTB sequences (few frames)."""
import numpy as np
import pytest

from main import main
from tracker.evaluation.runner import annotated_span
from tracker.formats.pytracking import read_boxes, read_sequence_result
from tracker.sources import open_source


def test_eval_prints_the_table_and_writes_result_files(otb, tmp_path, capsys):
    results = tmp_path / "results"
    rc = main(["eval", str(otb / "Football1"), str(otb / "Crossing"), "--engines", "csrt,kcf",
               "--results", str(results), "--max-frames", "12", "--run-id", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split() == ["engine", "sequence", "frames", "AUC", "Prec", "NPrec", "FPS"]
    rows = {(ln.split()[0], ln.split()[1]): ln.split()[2:] for ln in lines[2:] if ln.strip()}
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
    # line 1 is the initial box, as integers
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
