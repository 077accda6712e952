"""`python main.py convert INPUT ... --to FORMAT OUT`."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from tracker.cli import main as cli_main
from tracker.formats.registry import read_annotations

REPO = Path(__file__).resolve().parent.parent


def test_convert_otb_to_lasot_through_main_py(tmp_path, otb):
    out = tmp_path / "Deer-1"
    proc = subprocess.run([sys.executable, "main.py", "convert", str(otb / "Deer"), "--to", "lasot", str(out)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "(otb, 71 frames, 71 boxes, 0 absent)" in proc.stdout
    lasot = read_annotations(out, "lasot")
    np.testing.assert_array_equal(lasot.boxes(), read_annotations(otb / "Deer").boxes())


def test_batch_conversion_names_outputs_by_sequence(tmp_path, otb, capsys):
    rc = cli_main(["convert", str(otb / "Coke"), str(otb / "Subway"), "--to", "mot", str(tmp_path / "out")])
    assert rc == 0
    for name in ("Coke", "Subway"):
        back = read_annotations(tmp_path / "out" / name / "gt" / "gt.txt")
        assert back.differences(read_annotations(otb / name), provenance=False) == []


def test_multi_track_mot_converts_every_track_or_the_one_asked_for(tmp_path, capsys):
    f = tmp_path / "gt.txt"
    f.write_text("1,1,1,1,5,5,1,1,1\n1,2,9,9,5,5,1,3,1\n2,2,10,9,5,5,1,3,1\n")
    assert cli_main(["convert", str(f), "--to", "vot", str(tmp_path / "all" / "a.txt")]) == 0
    assert "2 targets" in capsys.readouterr().out
    assert (tmp_path / "all" / "pedestrian-1" / "a.txt").read_text() == "1,1,5,5\n0\n"
    assert (tmp_path / "all" / "car-2" / "a.txt").read_text() == "9,9,5,5\n10,9,5,5\n"
    assert cli_main(["convert", str(f), "--object-id", "2", "--to", "vot", str(tmp_path / "a.txt")]) == 0
    assert (tmp_path / "a.txt").read_text() == "9,9,5,5\n10,9,5,5\n"


def test_bad_input_gives_an_error_with_the_line(tmp_path, capsys):
    f = tmp_path / "groundtruth_rect.txt"
    f.write_text("1,2,3,4\n1,2,3\n")
    assert cli_main(["convert", str(f), "--to", "got10k", str(tmp_path / "out")]) == 2
    assert "groundtruth_rect.txt, line 2: expected 4 numbers" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert cli_main(["convert", str(f), "--to", "yolo", str(tmp_path / "o")]) == 2
    assert "unknown annotation format 'yolo'" in capsys.readouterr().err


def test_batch_conversion_to_single_file_formats(tmp_path, otb):
    for fmt, suffix in (("pytracking", ".txt"), ("coco-vid", ".json"), ("research", ".jsonl"), ("otb", "")):
        out = tmp_path / fmt
        assert cli_main(["convert", str(otb / "Coke"), str(otb / "Deer"), "--to", fmt, str(out)]) == 0
        for name in ("Coke", "Deer"):
            back = read_annotations(out / f"{name}{suffix}", fmt)
            assert back.differences(read_annotations(otb / name), provenance=False) == [], (fmt, name)
