"""Checks on boxes that come from outside ([x, y, w, h] in image pixels)."""
from __future__ import annotations

import math
from collections.abc import Sequence

from .errors import InputError
from .limits import MAX_BOX_SCALE
from .result import Box


def check_box(box: Sequence[float], what: str = "box") -> Box:
    """[x, y, w, h] as four finite floats with positive size, or InputError saying what is wrong."""
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be four numbers x, y, w, h; got {box!r}") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise InputError(f"{what} has a non-finite value: {box!r}")
    if w <= 0 or h <= 0:
        raise InputError(f"{what} is empty (w={w:g}, h={h:g}); a box needs positive width and height")
    return (x, y, w, h)


def validate_init_box(box: Sequence[float], image_shape: tuple[int, ...], what: str = "initial box") -> Box:
    """Return the box as floats, or raise InputError saying why it cannot start a track.

    `image_shape` is (rows, cols[, channels]). A box must have positive size, finite values,
    and overlap the image.
    """
    x, y, w, h = check_box(box, what)
    rows, cols = image_shape[0], image_shape[1]
    if w > MAX_BOX_SCALE * cols or h > MAX_BOX_SCALE * rows:
        raise InputError(f"{what} [{x:g}, {y:g}, {w:g}, {h:g}] is far larger than the {cols}x{rows} image "
                         f"(at most {MAX_BOX_SCALE} times its width and height)")
    if x >= cols or y >= rows or x + w <= 0 or y + h <= 0:
        raise InputError(
            f"{what} [{x:g}, {y:g}, {w:g}, {h:g}] lies outside the {cols}x{rows} image"
        )
    return (x, y, w, h)
