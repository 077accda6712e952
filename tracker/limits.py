"""Bounds on what a file from outside may make the program allocate or do (docs/hostile-files.md).

Readers check what a file claims (a frame count, an image size, a frame number) against these before
allocating anything for it, and say which file and which value when a limit is passed.
"""
from __future__ import annotations

import math

from .errors import InputError

MAX_FRAMES = 1_000_000  # frames in one sequence (9 h at 30 fps); a document costs ~100 bytes a frame
MAX_TEXT_BYTES = 256 << 20  # an annotation or project file read into memory
MAX_IMAGE_PIXELS = 100_000_000  # one decoded image (10000 x 10000; 300 MB as RGB)
MAX_BOX_SCALE = 16  # an initial box may be at most this many image widths/heights in size or offset
MAX_COORDINATE = 1e9  # any box value read from a file


def check_frame_count(n, what: str) -> int:
    """`n` as a frame count in 0..MAX_FRAMES, or InputError naming `what` (a file and field)."""
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) or int(n) != n:
        raise InputError(f"{what}: the frame count must be a whole number, got {n!r}")
    n = int(n)
    if n < 0:
        raise InputError(f"{what}: a sequence cannot have {n} frames")
    if n > MAX_FRAMES:
        raise InputError(f"{what}: {n} frames is over the limit of {MAX_FRAMES} frames per sequence")
    return n


def check_file_size(path, limit: int = MAX_TEXT_BYTES) -> None:
    """InputError when the file at `path` is larger than `limit` bytes (so it is never read into memory)."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # the read that follows reports it
    if size > limit:
        raise InputError(f"{path}: {size} bytes, over the {limit}-byte limit for this kind of file")
