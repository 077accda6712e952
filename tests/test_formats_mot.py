"""MOT Challenge gt.txt: one track read from real-style multi-track files, errors with line numbers."""
import numpy as np
import pytest

from tracker.errors import InputError
from tracker.formats import mot

MOT17_STYLE = """\
1,1,912,484,97,109,0,7,1
1,2,1338,418,167,379,1,1,0.86
2,2,1342,417,168,380,1,1,0.86
4,2,1346,417,170,380,1,1,0.0
3,2,1344,417,169,380,1,1,0.86
"""


def test_reads_one_track_of_many(tmp_path):
    f = tmp_path / "gt.txt"
    f.write_text(MOT17_STYLE)
    assert mot.track_ids(f) == [1, 2]
    gt = mot.read_ground_truth(f, object_id=2)
    np.testing.assert_array_equal(gt.boxes[:3], [[1338, 418, 167, 379], [1342, 417, 168, 380], [1344, 417, 169, 380]])
    assert gt.absent.tolist() == [False, False, False, True]  # visibility 0: fully occluded
    with pytest.raises(InputError, match="holds 2 tracks \\(1, 2\\); choose one"):
        mot.read_ground_truth(f)
    with pytest.raises(InputError, match="no track 9"):
        mot.read_ground_truth(f, object_id=9)


def test_sequence_length_from_seqinfo(tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "gt.txt").write_text("2,5,1,1,4,4,1,1,1\n")
    (tmp_path / "seqinfo.ini").write_text("[Sequence]\nname=x\nseqLength=6\n")
    gt = mot.read_ground_truth(tmp_path)
    assert gt.boxes.shape == (6, 4) and np.isnan(gt.boxes[0]).all() and gt.boxes[1, 2] == 4


def test_mot15_style_six_columns(tmp_path):
    f = tmp_path / "gt.txt"
    f.write_text("1,1,10,20,30,40\n3,1,11,21,30,40\n")
    gt = mot.read_ground_truth(f)
    assert gt.boxes.shape == (3, 4) and not gt.absent.any() and np.isnan(gt.boxes[1]).all()


@pytest.mark.parametrize("text, message", [
    ("1,1,10,20\n", "line 1: a MOT line needs at least 6 values"),
    ("1,1,1,1,5,5,1,1,1\n2,1,x,1,5,5,1,1,1\n", "line 2: expected numbers"),
    ("0,1,1,1,5,5\n", "line 1: frame must be an integer >= 1"),
    ("1,1,1,1,5,5\n1,1,2,2,5,5\n", "line 2: track 1 already has frame 1 \\(line 1\\)"),
    ("1,1,1,1,0,5,1,1,1\n", "line 1: box has no area"),
])
def test_malformed_lines(tmp_path, text, message):
    f = tmp_path / "gt.txt"
    f.write_text(text)
    with pytest.raises(InputError, match=message):
        mot.read_ground_truth(f)
