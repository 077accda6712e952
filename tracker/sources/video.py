"""Video files through OpenCV (`cv2.VideoCapture`), with frame-accurate random access.

Why not trust `CAP_PROP_POS_FRAMES` seeks: with some containers and codecs (missing index, broken
timestamps, B-frames) a seek lands a few frames off, silently. So:

* The frame count is measured: one pass of `grab()` over the file on first need (`len()`, `frame()`
  or `scan()`), not taken from `CAP_PROP_FRAME_COUNT`. The pass also fingerprints a grid of up to
  ~32-64 frames (a hash of the decoded pixels) along the video.
* Right after the pass a few seeks (backwards, from the last grid frame down) are compared with those
  fingerprints. If all agree, frames are fetched by seeking directly; every later time decoding lands
  on or passes a grid frame it is compared again, and one disagreement switches the source, for
  good, to the fallback (frames decoded since the bad seek are dropped from the cache and re-read).
* Fallback: decode forward from the nearest earlier position where a seek was proven exact (grid
  frames checked on demand; frame 0 by reopening the file), or from the current position.
* Reading forward (the tracker's access pattern) never seeks: up to `forward_window` frames ahead
  are reached with `grab()`. By default the window is what a seek costs in grabs, measured on the
  scan (a seek decodes from the previous keyframe: on vtest.avi, keyframes ~300 frames apart, a seek
  costs ~100-300 grabs), at least 32.
* Reading backwards frame by frame (a GUI's "previous frame") decodes the 16 frames up to the
  requested one in one go and caches them, so only every 16th step pays for a seek.

Decoded frames go to an LRU cache bounded in MB. A lock guards the capture, so a source may be read
from several threads (one decode at a time).
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from ..errors import FrameReadError, InputError
from ..limits import MAX_IMAGE_PIXELS
from .base import DEFAULT_FPS, FrameSource, check_frame_index
from .cache import FrameCache

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (
    ".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts",
    ".m2ts", ".3gp", ".ogv", ".asf", ".vob", ".y4m", ".mjpeg", ".mjpg", ".h264", ".hevc",
)

GRID_SIZE = 32  # fingerprinted frames aimed for along the video (between GRID_SIZE and 2*GRID_SIZE)
SEEKS_CHECKED_ON_SCAN = 4  # seeks compared with the fingerprints right after counting
MIN_FORWARD_WINDOW, MAX_FORWARD_WINDOW = 32, 2000
BACKWARD_CHUNK = 16  # frames decoded and cached at once when reading backwards frame by frame


def _fingerprint(bgr: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(bgr).data, digest_size=16).digest()


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class VideoSource(FrameSource):
    """Frames of a video file as RGB uint8, by index, exactly as sequential decoding yields them.

    `cache_mb` bounds the LRU cache of decoded frames; `forward_window` is how far ahead a read is
    reached by decoding forward rather than seeking (None: measured on the scan, see the module doc). Opening decodes frame 0 (a file that opens but
    decodes nothing is refused); the frame count is measured on first need (see the module doc).
    """

    def __init__(self, path: str | Path, *, cache_mb: float = 256.0, forward_window: int | None = None):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: file not found")
        if not self.path.is_file():
            raise InputError(f"{self.path}: not a file")
        self._auto_window = forward_window is None
        self.forward_window = MIN_FORWARD_WINDOW if forward_window is None else int(forward_window)
        self._grab_s = 0.0  # seconds per grab() on the scan
        self._lock = threading.RLock()
        self._cache = FrameCache(cache_mb)
        self._cap = self._open_capture()
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self._fps = float(fps) if math.isfinite(fps) and 0.5 <= fps <= 1000 else DEFAULT_FPS
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count_metadata: int | None = int(count) if math.isfinite(count) and count > 0 else None
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            self._cap.release()
            raise InputError(
                f"{self.path}: no frame could be decoded (a corrupt or truncated file, or a codec "
                "this OpenCV build cannot decode)"
            )
        first = _to_rgb(bgr)
        self.frame_shape: tuple[int, ...] = first.shape
        self._cache.put(0, first)
        self._next: int | None = 1  # index the next read() returns; None: unknown
        self._trusted = True  # whether _next was reached without an unchecked seek
        self._since_seek: list[int] = []  # frames cached since an unchecked seek
        self._count: int | None = None
        self._last_request: int | None = None
        self._fingerprints: dict[int, bytes] = {}
        self._seek_exact_at: dict[int, bool] = {}  # grid frame -> a seek to it proved exact / wrong
        self.seeks_exact: bool | None = None  # verdict for the whole file; None before scan()

    # -- opening and measuring ---------------------------------------------------------------

    def _open_capture(self) -> cv2.VideoCapture:
        # FFmpeg first: CAP_ANY would treat a name like "clip_%03d.avi" as an image-sequence pattern.
        for api in (cv2.CAP_FFMPEG, cv2.CAP_ANY):
            cap = cv2.VideoCapture(str(self.path), api)
            if cap.isOpened():
                # The container's stated size, checked before any frame is decoded into memory.
                w, h = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
                if w * h > MAX_IMAGE_PIXELS:
                    cap.release()
                    raise InputError(f"{self.path}: frames of {int(w)}x{int(h)} are over the limit of "
                                     f"{MAX_IMAGE_PIXELS} pixels per frame")
                return cap
            cap.release()
        raise InputError(f"{self.path}: not a video OpenCV can open (unknown container, or a corrupt file)")

    @property
    def fps(self) -> float:
        return self._fps

    def __len__(self) -> int:
        return self.scan()

    def scan(self) -> int:
        """Measure the frame count and check seeking (once; later calls return the count at once).

        Cost: one `grab()` pass over the file (vtest.avi, 795 frames at 768x576: well under a
        second) plus a few seeks. Call it from a worker thread to keep a GUI responsive.
        """
        with self._lock:
            if self._count is None:
                self._measure()
                self._check_seeks()
            return self._count

    def _measure(self) -> None:
        cap = self._open_capture()  # a second capture, so the main one keeps its position
        step = max(1, self.frame_count_metadata // GRID_SIZE) if self.frame_count_metadata else 1
        fingerprints: dict[int, bytes] = {}
        count = 0
        start = time.perf_counter()
        try:
            while cap.grab():
                if count % step == 0:
                    ok, bgr = cap.retrieve()
                    if ok and bgr is not None:
                        fingerprints[count] = _fingerprint(bgr)
                    if len(fingerprints) > 2 * GRID_SIZE:  # metadata was far off: thin the grid
                        step *= 2
                        fingerprints = {k: v for k, v in fingerprints.items() if k % step == 0}
                count += 1
        finally:
            cap.release()
        self._grab_s = (time.perf_counter() - start) / max(count, 1)
        if count == 0:
            raise InputError(f"{self.path}: no frame could be decoded on the counting pass")
        if self.frame_count_metadata is not None and self.frame_count_metadata != count:
            log.warning(
                "%s: the file's metadata says %d frames, %d decode; using %d",
                self.path, self.frame_count_metadata, count, count,
            )
        self._count = count
        self._fingerprints = fingerprints

    def _check_seeks(self) -> None:
        grid = sorted(self._fingerprints)
        if len(grid) <= 1:
            # Metadata overstated the length so much that the grid holds frame 0 only: seeks cannot be
            # checked, so every frame is reached by decoding forward (exact by construction).
            self.seeks_exact = self._count == 1
            if not self.seeks_exact:
                log.warning("%s: cannot check seeking; frames are reached by decoding forward", self.path)
            return
        # From the last grid frame down: backward seeks, spread over the file.
        picks = sorted({grid[(len(grid) - 1) * k // SEEKS_CHECKED_ON_SCAN] for k in range(1, SEEKS_CHECKED_ON_SCAN + 1)},
                       reverse=True)
        start = time.perf_counter()
        self.seeks_exact = all([self._seek_and_check(g) is not None for g in picks])
        seek_s = (time.perf_counter() - start) / len(picks)
        if self._auto_window and self._grab_s > 0:
            self.forward_window = int(min(max(seek_s / self._grab_s, MIN_FORWARD_WINDOW), MAX_FORWARD_WINDOW))
        if not self.seeks_exact:
            log.warning("%s: seeking is not frame-accurate; frames are reached by decoding forward", self.path)

    def _seek_and_check(self, g: int) -> np.ndarray | None:
        """Seek to grid frame `g`, decode it, record whether it is the frame sequential decoding gives.

        Returns the frame (RGB) where it is, None where the seek missed.
        """
        ok = self._cap.set(cv2.CAP_PROP_POS_FRAMES, g)
        bgr = self._cap.read()[1] if ok else None
        exact = bgr is not None and _fingerprint(bgr) == self._fingerprints[g]
        self._seek_exact_at[g] = exact
        self._next, self._trusted, self._since_seek = (g + 1, True, []) if exact else (None, False, [])
        if not exact:
            return None
        rgb = _to_rgb(bgr)
        self._cache.put(g, rgb)
        return rgb

    # -- reading ---------------------------------------------------------------------------------

    def frame(self, index: int) -> np.ndarray:
        with self._lock:
            if self._cap is None:
                raise FrameReadError(f"{self.path}: the source is closed")
            index = check_frame_index(self, index)
            cached = self._cache.get(index)
            if cached is None:
                cached = self._decode(index)
            self._last_request = index
            return cached.copy()

    def _decode(self, index: int) -> np.ndarray:
        # Stepping backwards (a GUI's "previous frame"): each step would cost a whole seek, so decode
        # the BACKWARD_CHUNK frames up to `index` in one go and cache them all.
        stepping_back = (
            self._last_request is not None
            and 0 < self._last_request - index <= 2
            and self._cache.max_bytes >= BACKWARD_CHUNK * int(np.prod(self.frame_shape))
        )
        keep_from = max(0, index - BACKWARD_CHUNK + 1) if stepping_back else index
        near = self._next is not None and self._next <= keep_from <= self._next + self.forward_window
        if not near:
            if self.seeks_exact and not self._cap.set(cv2.CAP_PROP_POS_FRAMES, keep_from):
                log.warning("%s: seeking to frame %d failed; decoding forward from now on", self.path, keep_from)
                self.seeks_exact, self._next, self._trusted = False, None, False
            if self.seeks_exact:
                self._next, self._trusted = keep_from, False
            else:
                landed = self._position_for(keep_from)
                if landed is not None and keep_from == index:
                    return landed
        try:
            return self._decode_forward(index, keep_from)
        except _SeekWasWrong:
            return self._decode(index)  # seeks_exact is now False: the fallback path

    def _position_for(self, index: int) -> np.ndarray | None:
        """Fallback: put the capture at a proven position at or before `index`.

        Returns frame `index` itself where the proving seek decoded it, else None.
        """
        current = self._next if self._next is not None and self._trusted and self._next <= index else None
        for g in sorted((g for g in self._fingerprints if 0 < g <= index), reverse=True):
            if current is not None and g <= current:
                return None  # decoding on from here is at least as short
            if self._seek_exact_at.get(g) is False:
                continue
            rgb = self._seek_and_check(g)
            if rgb is not None:
                return rgb if g == index else None
        if current is not None:
            return None
        self._cap.release()  # a fresh capture starts exactly at frame 0
        self._cap = self._open_capture()
        self._next, self._trusted, self._since_seek = 0, True, []
        return None

    def _decode_forward(self, index: int, keep_from: int | None = None) -> np.ndarray:
        """Decode from the current position to `index`; frames from `keep_from` on are cached too."""
        keep_from = index if keep_from is None else keep_from
        cap = self._cap
        while True:
            at = self._next
            if at is None or at > index:  # cannot happen by construction; never loop on it
                raise FrameReadError(f"{self.path}: frame {index}: lost the decoding position")
            if at >= keep_from or at in self._fingerprints:
                ok, bgr = cap.read()
            else:
                ok, bgr = cap.grab(), None
            if not ok:
                self._next, self._trusted = None, False
                raise FrameReadError(f"{self.path}: frame {at} could not be decoded (reading towards frame {index})")
            self._next = at + 1
            if bgr is not None and at in self._fingerprints:
                self._compare(at, bgr)
            if at >= keep_from:
                rgb = _to_rgb(bgr)
                self._cache.put(at, rgb)
                if not self._trusted:
                    self._since_seek = self._since_seek[-4096:] + [at]
                if at == index:
                    return rgb

    def _compare(self, at: int, bgr: np.ndarray) -> None:
        """Check a decoded grid frame against the counting pass."""
        if _fingerprint(bgr) == self._fingerprints[at]:
            self._trusted, self._since_seek = True, []
            return
        if self._trusted:
            self._next, self._trusted = None, False
            raise FrameReadError(
                f"{self.path}: frame {at} decodes differently from the counting pass (the decoder is not repeatable)"
            )
        log.warning("%s: a seek landed on the wrong frame (found at %d); decoding forward from now on", self.path, at)
        self.seeks_exact = False
        for i in self._since_seek:
            self._cache.drop(i)
        self._next, self._trusted, self._since_seek = None, False, []
        raise _SeekWasWrong

    def close(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            self._cache.clear()


class _SeekWasWrong(Exception):
    """Internal: a direct seek was caught landing on the wrong frame."""
