"""VOT region text (`groundtruth.txt` of a VOT sequence), one region per line, frames in order.

  x,y,w,h            a rectangle
  x1,y1,x2,y2,...    a polygon (6+ numbers); read as its axis-aligned bounding rectangle (lossy)
  nan,nan,nan,nan    target not visible (how VOT long-term ground truth marks absence) -> absent
  0                  a "special" code (0 unknown, 1 initialise, 2 failure in result files) -> no annotation
  m...               a mask (RLE) -> refused with the line number
Writing: visible frames as rectangles, absent as nan,nan,nan,nan, frames without annotation as 0.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..errors import InputError
from ..sources.base import GroundTruth
from .boxtext import format_number, read_text

FORMAT = "vot"


def _file(path: Path) -> Path:
    return path / "groundtruth.txt" if path.is_dir() else path


def parse_region(text: str, path: Path, lineno: int) -> tuple[tuple[float, ...] | None, bool]:
    """(box or None, absent) for one line."""
    s = text.strip()
    if s.startswith("m"):
        raise InputError(f"{path}, line {lineno}: mask regions are not supported; export rectangles or polygons")
    v = _numbers(s, path, lineno, "VOT region")
    if len(v) == 1:
        return None, False
    if len(v) == 4:
        if all(math.isnan(x) for x in v):
            return None, True
        if any(math.isnan(x) for x in v) or v[2] <= 0 or v[3] <= 0:
            raise InputError(f"{path}, line {lineno}: not a usable rectangle: {s!r}")
        return tuple(v), False
    if len(v) >= 6 and len(v) % 2 == 0:
        if all(math.isnan(x) for x in v):
            return None, True
        xs, ys = v[0::2], v[1::2]
        x0, y0 = min(xs), min(ys)
        w, h = max(xs) - x0, max(ys) - y0
        if any(math.isnan(x) for x in v) or w <= 0 or h <= 0:
            raise InputError(f"{path}, line {lineno}: degenerate polygon: {s!r}")
        return (x0, y0, w, h), False
    raise InputError(f"{path}, line {lineno}: a region is 1 (special), 4 (rectangle) or an even number >= 6 "
                     f"(polygon) of values; got {len(v)}")


def read_ground_truth(path: str | Path) -> GroundTruth:
    f = _file(Path(path))
    lines = read_text(f).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    boxes = np.full((len(lines), 4), np.nan)
    absent = np.zeros(len(lines), dtype=bool)
    for i, line in enumerate(lines):
        if not line.strip():
            raise InputError(f"{f}, line {i + 1}: empty line inside the file (every frame needs a line)")
        box, absent[i] = parse_region(line, f, i + 1)
        if box is not None:
            boxes[i] = box
    return GroundTruth(boxes, absent, FORMAT, f)


def write_ground_truth(path: str | Path, boxes, absent=None) -> Path:
    """`path` ending in .txt is the region file; otherwise a folder that gets groundtruth.txt."""
    path = Path(path)
    f = path if path.suffix.lower() == ".txt" else path / "groundtruth.txt"
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    absent = np.zeros(len(boxes), dtype=bool) if absent is None else np.asarray(absent, dtype=bool)
    lines = []
    for i, box in enumerate(boxes):
        if absent[i]:
            lines.append("nan,nan,nan,nan")
        elif np.all(np.isfinite(box)):
            lines.append(",".join(map(format_number, box)))
        else:
            lines.append("0")
    f.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(f, "\n".join(lines) + ("\n" if lines else ""))
    return f


def _numbers(text: str, path: Path, lineno: int, what: str) -> list[float]:
    """Numbers separated by commas and/or whitespace; InputError naming the file and line otherwise."""
    try:
        return [float(p) for p in re.split(r"[,\s]+", text.strip()) if p]
    except ValueError:
        raise InputError(f"{path}, line {lineno}: expected numbers in a {what} line, got {text.strip()!r}") from None
