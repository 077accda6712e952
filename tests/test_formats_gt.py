"""Ground-truth readers and writers: OTB, LaSOT, GOT-10k (real OTB files, and files built in tmp_path)."""
from __future__ import annotations

import numpy as np
import pytest

from tracker.errors import InputError
from tracker.formats import boxtext, got10k, lasot
from tracker.formats import otb as otb_format  # `otb` is the fixture with the real sequences

OTB_LINES = {"Subway": 175, "Football1": 74, "Couple": 140, "Deer": 71, "Crossing": 120, "Coke": 291}


@pytest.mark.parametrize("name", sorted(OTB_LINES))
def test_otb_files_read_line_for_line(otb, name):
    path = otb / name / "groundtruth_rect.txt"
    gt = otb_format.read_ground_truth(path)
    assert gt.boxes.shape == (OTB_LINES[name], 4)
    assert gt.absent is None and gt.format == "otb" and gt.path == path
    first = [float(v) for v in path.read_text().replace("\t", ",").splitlines()[0].split(",")]
    assert gt.boxes[0].tolist() == first
    assert np.isfinite(gt.boxes).all() and (gt.boxes[:, 2:] > 0).all()


def test_otb_tab_crlf_and_comma_files(otb):
    subway = otb / "Subway" / "groundtruth_rect.txt"
    assert b"\r\n" in subway.read_bytes() and b"\t" in subway.read_bytes()  # the real quirks are there
    gt = otb_format.read_ground_truth(subway.parent)  # a folder works too
    assert gt.boxes[0].tolist() == [16, 88, 19, 51]
    assert gt.boxes[-1].tolist() == [float(v) for v in subway.read_text().split()[-4:]]


def test_mixed_delimiters_bom_and_trailing_blank_lines(tmp_path):
    path = tmp_path / "groundtruth_rect.txt"
    path.write_bytes(b"\xef\xbb\xbf1,2,3,4\r\n5\t6\t7\t8\r\n9 10  11 12\n13, 14.5, 15,16\n\n\n")
    gt = otb_format.read_ground_truth(path)
    assert gt.boxes.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14.5, 15, 16]]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("1,2,3,4\n1,2,3\n", 2, "expected 4 numbers"),
        ("1,2,3,4\n5,6,7,8\n9,x,11,12\n", 3, "'x' is not a number"),
        ("1,2,3,4\n\n5,6,7,8\n", 2, "blank line"),
        ("1,2,3,inf\n", 1, "infinite"),
        ("1,2,3,4,5\n", 1, "expected 4 numbers"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, text, line, words):
    path = tmp_path / "groundtruth.txt"
    path.write_text(text)
    for module in (otb_format, lasot, got10k):
        with pytest.raises(InputError, match=rf"groundtruth\.txt, line {line}: .*{words}"):
            module.read_ground_truth(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        otb_format.read_ground_truth(tmp_path / "nope.txt")
    (tmp_path / "groundtruth.txt").write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(InputError, match="not a text file"):
        lasot.read_ground_truth(tmp_path)


BOXES = np.array([[10, 20, 30, 40], [10.5, 20.25, 30.125, 0.1], [1e-7, 123456.789, 1 / 3, 2 / 3], [np.nan] * 4])


@pytest.mark.parametrize("module", [otb_format, lasot, got10k])
def test_write_then_read_gives_the_same_numbers(tmp_path, module):
    path = module.write_ground_truth(tmp_path, BOXES)
    assert path == module.ground_truth_file(tmp_path)
    gt = module.read_ground_truth(path)
    np.testing.assert_array_equal(gt.boxes, BOXES)  # exact, NaN included
    assert path.read_text().splitlines()[0] == "10,20,30,40"  # integral values as integers
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_format_number_is_exact_and_short():
    for v in (0.1, 1 / 3, 2.5e-300, 1e20, -7.0, 123.0):
        assert float(boxtext.format_number(v)) == v
    assert boxtext.format_number(153.0) == "153" and boxtext.format_number(0.1) == "0.1"
    assert boxtext.format_number(float("nan")) == "NaN"


def test_lasot_side_files(tmp_path):
    (tmp_path / "groundtruth.txt").write_text("1,2,3,4\n0,0,0,0\n0,0,0,0\n5,6,7,8\n")
    (tmp_path / "full_occlusion.txt").write_text("0,1,0,0")
    (tmp_path / "out_of_view.txt").write_text("0,0,1,0\n")
    gt = lasot.read_ground_truth(tmp_path / "groundtruth.txt")
    assert gt.format == "lasot" and gt.absent.tolist() == [False, True, True, False]
    assert gt.boxes[1].tolist() == [0, 0, 0, 0]  # values are used as given

    (tmp_path / "out_of_view.txt").unlink()
    assert lasot.read_ground_truth(tmp_path).absent.tolist() == [False, True, False, False]
    (tmp_path / "full_occlusion.txt").unlink()
    assert lasot.read_ground_truth(tmp_path).absent is None


def test_lasot_side_file_errors(tmp_path):
    (tmp_path / "groundtruth.txt").write_text("1,2,3,4\n5,6,7,8\n")
    (tmp_path / "full_occlusion.txt").write_text("0,1,0")
    with pytest.raises(InputError, match=r"full_occlusion\.txt: 3 flags, .* 2 boxes"):
        lasot.read_ground_truth(tmp_path)
    (tmp_path / "full_occlusion.txt").write_text("0,2")
    with pytest.raises(InputError, match=r"full_occlusion\.txt, line 1, item 2: '2' is not a label"):
        lasot.read_ground_truth(tmp_path)


def test_lasot_write_side_files(tmp_path):
    lasot.write_ground_truth(tmp_path / "groundtruth.txt", BOXES[:3], absent=[False, True, False])
    assert (tmp_path / "full_occlusion.txt").read_text() == "0,1,0\n"
    assert (tmp_path / "out_of_view.txt").read_text() == "0,0,0\n"
    gt = lasot.read_ground_truth(tmp_path)
    assert gt.absent.tolist() == [False, True, False]
    np.testing.assert_array_equal(gt.boxes, BOXES[:3])


def test_got10k_side_files(tmp_path):
    got10k.write_ground_truth(tmp_path, BOXES[:3], absent=np.array([0, 0, 1]), cover=[8, 3, 0])
    assert (tmp_path / "absence.label").read_text() == "0\n0\n1\n"
    assert (tmp_path / "cover.label").read_text() == "8\n3\n0\n"
    gt = got10k.read_ground_truth(tmp_path)
    assert gt.format == "got10k" and gt.absent.tolist() == [False, False, True]
    assert got10k.read_cover(tmp_path).tolist() == [8, 3, 0]

    (tmp_path / "cover.label").write_text("8\n9\n0\n")
    with pytest.raises(InputError, match=r"cover\.label, line 2: '9' is not a label in 0\.\.8"):
        got10k.read_ground_truth(tmp_path)
    (tmp_path / "cover.label").unlink()
    (tmp_path / "absence.label").write_text("0\n0 1\n0\n")
    with pytest.raises(InputError, match=r"absence\.label, line 2: expected one label"):
        got10k.read_ground_truth(tmp_path)
    (tmp_path / "absence.label").unlink()
    assert got10k.read_ground_truth(tmp_path).absent is None and got10k.read_cover(tmp_path) is None


def test_otb_write_marks_absent_frames_as_no_box(tmp_path):
    path = otb_format.write_ground_truth(tmp_path / "gt.txt", BOXES[:2], absent=[True, False])
    assert path.read_text() == "NaN,NaN,NaN,NaN\n10.5,20.25,30.125,0.1\n"


@pytest.mark.parametrize(
    "boxes, absent, words",
    [
        (np.zeros((3, 5)), None, "shape"),
        ([[1, 2, 3, np.inf]], None, "infinite"),
        ([["a", 2, 3, 4]], None, "numbers"),
        (np.zeros((2, 4)), [True], "one value per box"),
        (np.zeros((2, 4)), [0, 2], "True/False"),
    ],
)
def test_write_refuses_bad_input(tmp_path, boxes, absent, words):
    for module in (otb_format, lasot, got10k):
        with pytest.raises(InputError, match=words):
            module.write_ground_truth(tmp_path / "groundtruth.txt", boxes, absent)
    assert not (tmp_path / "groundtruth.txt").exists()
