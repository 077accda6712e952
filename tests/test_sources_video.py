"""Video sources on the real `videos/vtest.avi` (795 frames, 768x576, 10 fps): measured count, random access
equal to sequential decoding, the fallback for containers that cannot seek exactly, bad files."""
from __future__ import annotations

import hashlib
import logging
import random
import shutil
import threading

import cv2
import numpy as np
import pytest

from tracker.errors import FrameReadError, InputError
from tracker.sources import open_source
from tracker.sources.video import GRID_SIZE, VideoSource

# Backwards seeks, seeks near the end, runs of neighbours (forward decoding), repeats.
SEEKS = [0, 1, 5, 100, 399, 400, 401, 790, 794, 300, 12, 793, 250, 600, 2, 794, 0, 498, 500, 510, 433]


def _digest(rgb: np.ndarray) -> str:
    return hashlib.md5(np.ascontiguousarray(rgb).data).hexdigest()


def _sequential(path, wanted) -> tuple[int, dict[int, str]]:
    """Plain sequential cv2 decoding: the frame count and the RGB digests of the `wanted` frames."""
    cap = cv2.VideoCapture(str(path))
    digests, count = {}, 0
    while cap.grab():
        if count in wanted:
            digests[count] = _digest(cv2.cvtColor(cap.retrieve()[1], cv2.COLOR_BGR2RGB))
        count += 1
    cap.release()
    return count, digests


@pytest.fixture(scope="module")
def vtest(shared):
    return shared / "data" / "videos" / "vtest.avi"


@pytest.fixture(scope="module")
def reference(vtest):
    count, digests = _sequential(vtest, set(SEEKS) | set(range(0, 795, 37)) | set(range(660, 701)))
    assert count == 795
    return digests


@pytest.fixture(scope="module")
def truncated(vtest, tmp_path_factory):
    """vtest cut after 2 MB: the AVI loses its index, so OpenCV's seeks land on wrong frames."""
    path = tmp_path_factory.mktemp("video") / "truncated.avi"
    path.write_bytes(vtest.read_bytes()[: 2_000_000])
    count, digests = _sequential(path, set(range(0, 400)))
    return path, count, digests


def test_count_is_measured_and_metadata_read(vtest):
    src = open_source(vtest)
    assert isinstance(src, VideoSource) and src.name == "vtest" and src.ground_truth is None
    assert len(src) == 795 and src.frame_count_metadata == 795
    assert src.fps == 10.0 and src.frame_shape == (576, 768, 3)
    assert src.seeks_exact is True  # this AVI has an index; the check on scan proved seeks exact


@pytest.mark.parametrize("forward_window", [0, 32])
def test_random_access_equals_sequential_decoding(vtest, reference, forward_window):
    src = VideoSource(vtest, cache_mb=0, forward_window=forward_window)  # no cache: every read decodes
    for i in SEEKS:
        frame = src.frame(i)
        assert frame.shape == (576, 768, 3) and frame.dtype == np.uint8
        assert _digest(frame) == reference[i], f"frame {i} differs from sequential decoding"


@pytest.mark.parametrize("seeks_exact", [True, False])
def test_stepping_backwards_decodes_a_chunk_once(vtest, reference, seeks_exact):
    src = VideoSource(vtest)
    len(src)
    src.seeks_exact = seeks_exact  # False: as for a file whose seeks failed the check
    assert _digest(src.frame(700)) == reference[700]
    assert _digest(src.frame(699)) == reference[699]
    assert all(i in src._cache for i in range(684, 700))  # the chunk up to 699 is cached
    for i in range(698, 659, -1):
        assert _digest(src.frame(i)) == reference[i], f"frame {i}"


def test_frames_are_rgb(vtest):
    cap = cv2.VideoCapture(str(vtest))
    bgr = cap.read()[1]
    cap.release()
    np.testing.assert_array_equal(VideoSource(vtest).frame(0), bgr[:, :, ::-1])


def test_out_of_range_and_closed(vtest):
    src = VideoSource(vtest)
    with pytest.raises(FrameReadError, match=r"vtest\.avi: frame 795 is out of range \(the source has 795 frames\)"):
        src.frame(795)
    src.close()
    src.close()
    with pytest.raises(FrameReadError, match="closed"):
        src.frame(3)


def test_truncated_video_falls_back_to_decoding_forward(truncated, caplog):
    path, count, digests = truncated
    assert 0 < count < 795
    with caplog.at_level(logging.WARNING, logger="tracker.sources.video"):
        src = VideoSource(path, cache_mb=0)
        assert len(src) == count
    assert f"metadata says 795 frames, {count} decode" in caplog.text  # not silent
    assert src.seeks_exact is False
    rng = random.Random(1)
    for i in [count - 1, 5, count // 2, count // 2 - 1, 0, count - 2, 60, 61, 3] + rng.sample(range(count), 8):
        assert _digest(src.frame(i)) == digests[i], f"frame {i}"


GRID_STEP = 795 // GRID_SIZE  # vtest's fingerprint grid: every GRID_STEP-th frame (24)


class _OffByTwo:
    """A capture whose seeks land two frames early, except on grid frames (where the scan checks)."""

    def __init__(self, cap):
        self._cap = cap

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_POS_FRAMES and value % GRID_STEP:
            value = max(0, value - 2)
        return self._cap.set(prop, value)

    def __getattr__(self, name):
        return getattr(self._cap, name)


class _OffByTwoSource(VideoSource):
    def _open_capture(self):
        return _OffByTwo(super()._open_capture())


def test_a_wrong_seek_is_caught_later_and_its_frames_dropped(vtest, reference, caplog):
    target = 500
    grid_after = (target // GRID_STEP + 1) * GRID_STEP  # 504
    later = grid_after + 6  # 510
    assert target % GRID_STEP and {target - 2, later} <= set(reference)
    src = _OffByTwoSource(vtest, forward_window=16)
    assert len(src) == 795 and src.seeks_exact is True  # grid seeks are right, so the scan's check passes
    # A direct seek to 500 lands on 498 and nothing can tell yet (the known limit of sampled checks) ...
    assert _digest(src.frame(target)) == reference[target - 2]
    # ... but reading on passes grid frame 504, which disagrees: the source switches to decoding forward.
    with caplog.at_level(logging.WARNING, logger="tracker.sources.video"):
        assert _digest(src.frame(later)) == reference[later]
    assert src.seeks_exact is False and "wrong frame" in caplog.text
    for i in (target, 433, 794, 12, target - 2):  # the bad frame was dropped from the cache
        assert _digest(src.frame(i)) == reference[i], f"frame {i}"


def test_threads_share_one_source(vtest, reference):
    src = VideoSource(vtest, cache_mb=0)
    len(src)
    wanted = sorted(reference)
    errors = []

    def work(seed):
        rng = random.Random(seed)
        try:
            for i in rng.sample(wanted, 3):
                if _digest(src.frame(i)) != reference[i]:
                    errors.append(i)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_cache_is_bounded(vtest):
    frame_mb = 576 * 768 * 3 / 2**20
    src = VideoSource(vtest, cache_mb=2.5 * frame_mb)
    for i in (3, 4, 5, 6):
        src.frame(i)
    assert len(src._cache) == 2 and src._cache.nbytes <= src._cache.max_bytes


def test_video_with_unknown_extension_opens_by_content(vtest, tmp_path):
    link = tmp_path / "street.data"
    link.symlink_to(vtest)
    src = open_source(link)
    assert isinstance(src, VideoSource) and src.frame_count_metadata == 795


@pytest.mark.parametrize("case", ["random_avi", "random_bin", "header_only", "empty_mp4", "missing", "folder"])
def test_bad_video_files(vtest, tmp_path, case):
    rng = np.random.default_rng(0)
    path = {
        "random_avi": tmp_path / "noise.avi",
        "random_bin": tmp_path / "noise.bin",
        "header_only": tmp_path / "header.avi",
        "empty_mp4": tmp_path / "empty.mp4",
        "missing": tmp_path / "missing.mp4",
        "folder": tmp_path,
    }[case]
    if case.startswith("random"):
        path.write_bytes(rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes())
    elif case == "header_only":
        with open(vtest, "rb") as f:
            path.write_bytes(f.read(3000))
    elif case == "empty_mp4":
        path.write_bytes(b"")
    with pytest.raises(InputError, match=str(path.name)):
        VideoSource(path)
    if case != "folder":
        with pytest.raises(InputError, match="not a video OpenCV can open|no such file"):
            open_source(path)


def test_truncated_video_through_open_source(truncated):
    path, count, _ = truncated
    copy = path.parent / "copy.mp4"  # a wrong extension does not matter: FFmpeg reads the content
    shutil.copy(path, copy)
    assert len(open_source(copy)) == count


def test_metadata_far_too_long_still_gives_exact_frames(vtest, reference, caplog):
    src = VideoSource(vtest, cache_mb=0)
    src.frame_count_metadata = 10**6  # as a broken header might claim: the fingerprint grid gets only frame 0
    with caplog.at_level(logging.WARNING, logger="tracker.sources.video"):
        assert len(src) == 795
    assert src.seeks_exact is False and "cannot check seeking" in caplog.text
    for i in (100, 12, 111, 0):
        assert _digest(src.frame(i)) == reference[i], f"frame {i}"


def test_frames_over_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    import tracker.sources.video as video

    path = tmp_path / "big.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for k in range(3):
        writer.write(np.full((48, 64, 3), 60 * k, np.uint8))
    writer.release()
    with open_source(path) as source:  # within the limit: opens and decodes
        assert source.frame(0).shape == (48, 64, 3)
    monkeypatch.setattr(video, "MAX_IMAGE_PIXELS", 64 * 48 - 1)
    with pytest.raises(InputError, match=r"big\.avi.*64x48.*over the limit"):
        with open_source(path) as source:
            source.frame(0)
