"""Image folders: every .jpg/.jpeg/.png/.bmp/.tif/.tiff file in one folder is a frame, in natural
order of the file names (frame2 before frame10)."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import cv2
import numpy as np

from ..errors import FrameReadError, InputError
from .base import DEFAULT_FPS, FrameSource, check_frame_index
from .cache import FrameCache

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders digit runs by value: frame2 < frame10, img9.jpg < img10.jpg.

    Ties (frame01 vs frame1) are broken by the plain name, so the order is total and repeatable.
    """
    parts = _DIGITS.split(name.lower())
    key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)
    return key, name


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, naturally sorted (hidden files ignored)."""
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise InputError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    files = [
        p for p in entries
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image_rgb(path: Path, index: int) -> np.ndarray:
    """Decode one image file as RGB uint8, or raise FrameReadError naming the file and frame."""
    try:
        # np.fromfile + imdecode rather than imread: imread cannot open some non-ASCII paths.
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise FrameReadError(f"frame {index}: cannot read {path} ({exc.strerror or exc})") from None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise FrameReadError(f"frame {index}: {path} is not a readable image (corrupt or empty file)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class ImageFolderSource(FrameSource):
    """Frames from the image files of `folder` (or the given `files`, in that order).

    `cache_mb` bounds an LRU cache of decoded frames. Thread-safe. A file that cannot be decoded
    raises FrameReadError for its frame only; the other frames stay readable.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        files: list[Path] | None = None,
        fps: float = DEFAULT_FPS,
        cache_mb: float = 128.0,
    ):
        self.path = Path(folder)
        if not self.path.is_dir():
            raise InputError(f"{self.path}: not a folder")
        self.files = list(files) if files is not None else image_files(self.path)
        if not self.files:
            kinds = ", ".join(IMAGE_EXTENSIONS)
            raise InputError(f"{self.path}: no image files ({kinds}) in this folder")
        self._fps = float(fps)
        self._cache = FrameCache(cache_mb)
        self._lock = threading.Lock()

    @property
    def fps(self) -> float:
        return self._fps

    def __len__(self) -> int:
        return len(self.files)

    def frame(self, index: int) -> np.ndarray:
        index = check_frame_index(self, index)
        with self._lock:
            cached = self._cache.get(index)
        if cached is None:
            cached = read_image_rgb(self.files[index], index)  # decode outside the lock
            with self._lock:
                self._cache.put(index, cached)
        return cached.copy()

    def close(self) -> None:
        with self._lock:
            self._cache.clear()

