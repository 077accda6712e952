"""Image folders, benchmark sequence folders (OTB real data; LaSOT and GOT-10k built in tmp_path), open_source."""
from __future__ import annotations

import shutil
import threading

import cv2
import numpy as np
import pytest

from tracker.errors import FrameReadError, InputError
from tracker.formats import got10k, lasot
from tracker.sources import FrameSource, open_source
from tracker.sources.cache import FrameCache
from tracker.sources.folder import ImageFolderSource, natural_key
from tracker.sources.sequence import SequenceSource, detect_format

OTB_FRAMES = {"Subway": 175, "Football1": 81, "Couple": 140, "Deer": 71, "Crossing": 120, "Coke": 291}


def _bgr_file(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("name", sorted(OTB_FRAMES))
def test_otb_sequences(otb, name):
    with open_source(otb / name) as src:
        assert isinstance(src, SequenceSource) and src.name == name
        assert len(src) == OTB_FRAMES[name]
        gt = src.ground_truth
        assert gt.format == "otb" and gt.boxes.shape == (len(src), 4)
        first_line = (otb / name / "groundtruth_rect.txt").read_text().replace("\t", ",").splitlines()[0]
        assert gt.boxes[0].tolist() == [float(v) for v in first_line.split(",")]
        last = src.frame(len(src) - 1)
        assert last.dtype == np.uint8 and last.ndim == 3 and last.shape[2] == 3
        # RGB, not BGR: equal to the file decoded by cv2 and converted
        np.testing.assert_array_equal(last, _bgr_file(src.files[-1]))
        assert src.files[0].name == "0001.jpg" and src.fps > 0


def test_football1_has_fewer_annotations_than_frames(otb):
    src = open_source(otb / "Football1")
    boxes = src.ground_truth.boxes
    assert len(src) == 81
    assert np.isfinite(boxes[:74]).all() and np.isnan(boxes[74:]).all()
    assert src.ground_truth.absent is None


def test_otb_cfg_start_frame_places_annotations(otb, tmp_path):
    seq = tmp_path / "Late"
    (seq / "img").mkdir(parents=True)
    for i in range(1, 6):
        shutil.copy(otb / "Deer" / "img" / f"{i:04d}.jpg", seq / "img" / f"{i:04d}.jpg")
    (seq / "groundtruth_rect.txt").write_text("1,2,3,4\n5,6,7,8\n")
    (seq / "cfg.json").write_text('{"name": "Late", "startFrame": 3, "endFrame": 4}')
    gt = open_source(seq).ground_truth
    assert np.isnan(gt.boxes[[0, 1, 4]]).all() and gt.boxes[2:4].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    (seq / "cfg.json").write_text('{"startFrame": 5}')
    with pytest.raises(InputError, match=r"2 annotation lines from frame 4 but the sequence has only 5 frames"):
        open_source(seq)


def _copy_frames(otb, folder, count, digits=8):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        shutil.copy(otb / "Deer" / "img" / f"{i:04d}.jpg", folder / f"{i:0{digits}d}.jpg")


def test_lasot_sequence(otb, tmp_path):
    seq = tmp_path / "deer-1"
    _copy_frames(otb, seq / "img", 4)
    boxes = np.array([[1, 2, 3, 4], [2, 3, 4, 5], [0, 0, 0, 0], [4, 5, 6.5, 7]])
    lasot.write_ground_truth(seq, boxes, absent=[False, False, True, False])
    assert detect_format(seq) == "lasot"
    src = open_source(seq)
    assert isinstance(src, SequenceSource) and src.name == "deer-1" and len(src) == 4
    np.testing.assert_array_equal(src.ground_truth.boxes, boxes)
    assert src.ground_truth.absent.tolist() == [False, False, True, False]
    np.testing.assert_array_equal(src.frame(3), _bgr_file(otb / "Deer" / "img" / "0004.jpg"))


def test_got10k_sequence_with_first_frame_only(otb, tmp_path):
    seq = tmp_path / "GOT-10k_Test_000001"
    _copy_frames(otb, seq, 3)
    got10k.write_ground_truth(seq, [[306, 5, 95, 65]])  # the test split annotates the first frame only
    assert detect_format(seq) == "got10k"
    src = open_source(seq)
    assert len(src) == 3 and src.files[0].name == "00000001.jpg"  # groundtruth/label files are not frames
    assert src.ground_truth.boxes[0].tolist() == [306, 5, 95, 65] and np.isnan(src.ground_truth.boxes[1:]).all()
    assert src.ground_truth.absent.tolist() == [False, False, False]


def test_too_many_annotation_lines(otb, tmp_path):
    seq = tmp_path / "seq"
    _copy_frames(otb, seq, 2)
    got10k.write_ground_truth(seq, np.ones((3, 4)))
    with pytest.raises(InputError, match=r"groundtruth\.txt: 3 annotation lines but the sequence has only 2 frames"):
        open_source(seq)


def test_natural_sort(tmp_path):
    names = ["frame10.png", "frame2.png", "frame1.png", "Frame3.png", "frame21.png", "frame02.png"]
    assert sorted(names, key=natural_key) == [
        "frame1.png", "frame02.png", "frame2.png", "Frame3.png", "frame10.png", "frame21.png",
    ]
    for i, name in enumerate(["f10.PNG", "f9.bmp", "f100.tif", "f11.jpeg"]):
        img = np.full((6, 8, 3), i * 40, np.uint8)
        assert cv2.imwrite(str(tmp_path / name.lower().replace(".png", ".bmp")), img)
    (tmp_path / "notes.txt").write_text("not a frame")
    src = open_source(tmp_path)
    assert isinstance(src, ImageFolderSource) and src.ground_truth is None
    assert [p.name for p in src.files] == ["f9.bmp", "f10.bmp", "f11.jpeg", "f100.tif"]
    assert src.frame(0)[0, 0].tolist() == [40, 40, 40]


def test_corrupt_image_names_file_and_frame_and_others_still_read(otb, tmp_path):
    _copy_frames(otb, tmp_path, 4, digits=4)
    (tmp_path / "0002.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    real = (tmp_path / "0003.jpg").read_bytes()
    (tmp_path / "0003.jpg").write_bytes(real[: len(real) * 9 // 10])  # a truncated real frame
    src = open_source(tmp_path)
    (tmp_path / "0004.jpg").unlink()  # gone after opening
    with pytest.raises(FrameReadError, match=r"frame 1: .*0002\.jpg is not a readable image"):
        src.frame(1)
    with pytest.raises(FrameReadError, match=r"frame 2: .*0003\.jpg is not a readable image"):
        src.frame(2)
    with pytest.raises(FrameReadError, match=r"frame 3: cannot read .*0004\.jpg"):
        src.frame(3)
    assert src.frame(0).shape == (400, 704, 3)


def test_out_of_range_and_bad_indices(otb):
    src = open_source(otb / "Deer")
    for bad in (71, -1, 2.5, "3"):
        with pytest.raises(FrameReadError, match="Deer"):
            src.frame(bad)
    assert src[np.int64(70)].shape == (400, 704, 3)


@pytest.mark.parametrize("case", ["empty", "only_text", "missing", "single_image", "gt_without_frames"])
def test_bad_paths(otb, tmp_path, case):
    target = tmp_path / "x"
    if case in ("empty", "only_text", "gt_without_frames"):
        target.mkdir()
    if case == "only_text":
        (target / "readme.txt").write_text("hi")
    if case == "single_image":
        target = tmp_path / "one.jpg"
        shutil.copy(otb / "Deer" / "img" / "0001.jpg", target)
    if case == "gt_without_frames":
        (target / "groundtruth.txt").write_text("1,2,3,4\n")
    words = {"empty": "no image files", "only_text": "no image files", "missing": "no such file or folder",
             "single_image": "a single image is not a sequence", "gt_without_frames": "no image files"}[case]
    with pytest.raises(InputError, match=words):
        open_source(target)


def test_folder_with_img_subfolder_only(otb, tmp_path):
    _copy_frames(otb, tmp_path / "img", 2, digits=4)
    src = open_source(tmp_path)
    assert len(src) == 2 and src.ground_truth is None and src.name == tmp_path.name
    assert src.frame(1).shape == (400, 704, 3)


def test_cache_is_bounded_and_frames_are_the_callers(otb):
    frame_mb = 400 * 704 * 3 / 2**20
    src = ImageFolderSource(otb / "Deer" / "img", cache_mb=3.5 * frame_mb)
    a = src.frame(0)
    a[:] = 0  # the caller owns its copy; the cache is untouched
    assert src.frame(0).any()
    for i in range(10):
        src.frame(i)
    assert len(src._cache) == 3 and src._cache.nbytes <= src._cache.max_bytes


def test_frame_cache_lru_order():
    cache = FrameCache(max_mb=3 / 2**20 * 100)  # room for three 100-byte frames
    for i in range(3):
        cache.put(i, np.zeros(100, np.uint8))
    cache.get(0)  # 0 is now the most recent; 1 the least
    cache.put(3, np.zeros(100, np.uint8))
    assert 1 not in cache and all(i in cache for i in (0, 2, 3))
    cache.put(9, np.zeros(1000, np.uint8))  # larger than the whole budget: not kept
    assert 9 not in cache and len(cache) == 3
    with pytest.raises(ValueError):
        FrameCache(-1)


def test_threads_read_the_same_frames(otb):
    src = open_source(otb / "Couple")
    expected = {i: _bgr_file(src.files[i]) for i in range(0, 140, 7)}
    errors = []

    def work(offset):
        try:
            for k in range(40):
                i = list(expected)[(k * 3 + offset) % len(expected)]
                if not np.array_equal(src.frame(i), expected[i]):
                    errors.append(i)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_all_sources_are_frame_sources(otb):
    assert isinstance(open_source(str(otb / "Coke")), FrameSource)


def test_otb_annotations_with_frames_in_the_folder_itself(otb, tmp_path):
    _copy_frames(otb, tmp_path, 2, digits=4)
    (tmp_path / "groundtruth_rect.txt").write_text("1\t2\t3\t4\n")
    src = open_source(tmp_path)
    assert src.ground_truth.format == "otb" and len(src) == 2  # not silently an image folder without its GT
    assert src.ground_truth.boxes[0].tolist() == [1, 2, 3, 4] and np.isnan(src.ground_truth.boxes[1]).all()


def test_bad_annotation_line_stops_opening_the_sequence(otb, tmp_path):
    _copy_frames(otb, tmp_path / "img", 3, digits=4)
    (tmp_path / "groundtruth_rect.txt").write_text("1,2,3,4\n1,2,3,4\n1,2,three,4\n")
    with pytest.raises(InputError, match=r"groundtruth_rect\.txt, line 3: 'three' is not a number"):
        open_source(tmp_path)
