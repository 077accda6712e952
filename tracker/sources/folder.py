"""Image folders: every .jpg/.jpeg/.png/.bmp/.tif/.tiff file in one folder is a frame, in natural
order of the file names (frame2 before frame10)."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import cv2
import numpy as np

from ..errors import FrameReadError, InputError
from ..limits import MAX_IMAGE_PIXELS
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
    size = image_size_from_header(data[:1 << 16].tobytes())
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise FrameReadError(f"frame {index}: {path} is {size[0]}x{size[1]} pixels, over the limit of "
                             f"{MAX_IMAGE_PIXELS} pixels per image (it would take "
                             f"{size[0] * size[1] * 3 / 1e9:.1f} GB decoded)")
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as exc:  # OpenCV's own size limit, or a decoder that gives up loudly
        raise FrameReadError(f"frame {index}: {path} cannot be decoded ({str(exc).strip().splitlines()[-1][:160]})") \
            from None
    if bgr is None:
        raise FrameReadError(f"frame {index}: {path} is not a readable image (corrupt or empty file)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def image_size_from_header(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, BMP or TIFF header without decoding; None where it cannot tell."""
    import struct

    try:
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head[:2] == b"BM" and len(head) >= 26:
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)
        if head[:2] == b"\xff\xd8":
            pos = 2
            while pos + 9 < len(head):
                if head[pos] != 0xFF:
                    return None
                marker = head[pos + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                    pos += 2
                    continue
                length = struct.unpack(">H", head[pos + 2:pos + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    h, w = struct.unpack(">HH", head[pos + 5:pos + 9])
                    return w, h
                pos += 2 + length
            return None
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            order = "<" if head[:2] == b"II" else ">"
            ifd = struct.unpack(order + "I", head[4:8])[0]
            count = struct.unpack(order + "H", head[ifd:ifd + 2])[0]
            found = {}
            for k in range(min(count, 512)):
                entry = head[ifd + 2 + 12 * k: ifd + 14 + 12 * k]
                tag, kind = struct.unpack(order + "HH", entry[:4])
                if tag in (256, 257):
                    found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), entry[8:10 if kind == 3 else 12])[0]
            return (found[256], found[257]) if len(found) == 2 else None
    except (struct.error, IndexError):
        return None
    return None


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

