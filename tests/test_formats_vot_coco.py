"""VOT region text and COCO-VID JSON: what other tools write, and clear errors."""
import json

import numpy as np
import pytest

from tracker.errors import InputError
from tracker.formats import coco_vid, vot
from tracker.formats.research import read_research


def test_vot_polygons_specials_and_nan(tmp_path):
    f = tmp_path / "groundtruth.txt"
    f.write_text("10,20,30,40\n0\n1,1,11,1,11,21,1,21\nnan,nan,nan,nan\n\n")
    gt = vot.read_ground_truth(tmp_path)
    np.testing.assert_array_equal(gt.boxes[[0, 2]], [[10, 20, 30, 40], [1, 1, 10, 20]])  # polygon -> bounds
    assert np.isnan(gt.boxes[[1, 3]]).all() and gt.absent.tolist() == [False, False, False, True]


@pytest.mark.parametrize("text, message", [
    ("1,2,3,4\nm1,2,3\n", "line 2: mask regions are not supported"),
    ("1,2,3\n", "line 1: a region is 1 \\(special\\), 4 \\(rectangle\\)"),
    ("1,2,3,4\n\n1,2,3,4\n", "line 2: blank line|line 2: empty line"),
    ("1,2,0,4\n", "line 1: not a usable rectangle"),
    ("1,a,3,4\n", "line 1: expected numbers"),
])
def test_vot_malformed(tmp_path, text, message):
    f = tmp_path / "g.txt"
    f.write_text(text)
    with pytest.raises(InputError, match=message):
        vot.read_ground_truth(f)


def coco(videos, images, annotations):
    return {"videos": videos, "images": images, "annotations": annotations, "categories": [{"id": 1}]}


def test_coco_vid_picks_a_video_and_instance(tmp_path):
    data = coco([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
                [{"id": 10, "video_id": 1, "frame_id": 0}, {"id": 11, "video_id": 1, "frame_id": 1},
                 {"id": 20, "video_id": 2, "frame_id": 0}],
                [{"id": 1, "image_id": 10, "instance_id": 3, "bbox": [1, 2, 3, 4]},
                 {"id": 2, "image_id": 10, "instance_id": 4, "bbox": [5, 6, 7, 8]},
                 {"id": 3, "image_id": 20, "instance_id": 3, "bbox": [9, 9, 9, 9]}])
    f = tmp_path / "v.json"
    f.write_text(json.dumps(data))
    with pytest.raises(InputError, match="holds 2 videos"):
        coco_vid.read_ground_truth(f)
    with pytest.raises(InputError, match="holds 2 tracks"):
        coco_vid.read_ground_truth(f, video="a")
    gt = coco_vid.read_ground_truth(f, video="a", instance_id=4)
    np.testing.assert_array_equal(gt.boxes[0], [5, 6, 7, 8])
    assert gt.absent.tolist() == [False, True]  # frame 1 has an image but no box of instance 4


@pytest.mark.parametrize("text, message", [
    ('{"images": [', "line 1: not valid JSON"),
    ('{"videos": []}', "not COCO-VID JSON"),
    (json.dumps(coco([], [{"id": 1, "frame_id": 0}], [{"image_id": 1, "bbox": [1, 1, 0, 1]}])), "empty bbox"),
    (json.dumps(coco([], [{"id": 1, "frame_id": 0}], [{"image_id": 1}])), "malformed COCO-VID entry"),
])
def test_coco_vid_malformed(tmp_path, text, message):
    f = tmp_path / "v.json"
    f.write_text(text)
    with pytest.raises(InputError, match=message):
        coco_vid.read_ground_truth(f)


def test_research_malformed_line(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"format": "keeptrack-research", "version": 1, "num_frames": 2}\n'
                 '{"frame": 0, "annotation": null, "result": null}\n{"frame": 5}\n')
    with pytest.raises(InputError, match="r.jsonl, line 3: bad frame record"):
        read_research(f)
    f.write_text('{"format": "other"}\n')
    with pytest.raises(InputError, match="line 1: not a keeptrack-research header"):
        read_research(f)
