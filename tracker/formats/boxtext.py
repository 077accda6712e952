"""Plain-text box and label files shared by the ground-truth formats (OTB, LaSOT, GOT-10k).

Reading accepts what the benchmarks ship: values separated by commas, tabs or spaces (mixed is
fine), LF or CRLF line endings, a UTF-8 byte-order mark, trailing blank lines. A line that does not
parse raises InputError naming the file and the line number; nothing is skipped silently.

Writing uses one number format everywhere (`format_number`): integral values as integers
(``153``), others as the shortest decimal that reads back as exactly the same float64
(``153.25``, ``0.1``), unknown values as ``NaN``. So writing then reading returns identical numbers.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..limits import MAX_COORDINATE, MAX_FRAMES, check_file_size

_SPLIT = re.compile(r"[,\s]+")


def read_text(path: str | Path) -> str:
    """The file's text (BOM stripped, newlines normalised), or InputError saying why it cannot be read."""
    path = Path(path)
    check_file_size(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _lines(path: Path, text: str) -> list[tuple[int, str]]:
    """(line number from 1, stripped line) for each line, trailing blank lines dropped.

    A blank line between data lines would shift every later frame, so it is an error.
    """
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > MAX_FRAMES:
        raise InputError(f"{path}: {len(lines)} lines, over the limit of {MAX_FRAMES} frames per sequence")
    out = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            raise InputError(f"{path}, line {number}: blank line between annotations (every line is one frame)")
        out.append((number, line))
    return out


def _number(token: str, path: Path, number: int, line: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise InputError(f"{path}, line {number}: {token!r} is not a number in {line!r}") from None
    if math.isinf(value):
        raise InputError(f"{path}, line {number}: infinite value in {line!r}")
    if abs(value) > MAX_COORDINATE:
        raise InputError(f"{path}, line {number}: {token} is beyond {MAX_COORDINATE:g} pixels in {line!r}")
    return value


def read_boxes(path: str | Path) -> np.ndarray:
    """Boxes [x, y, w, h], one per line, as an (N, 4) float64 array (NaN where the file says NaN)."""
    path = Path(path)
    rows = []
    for number, line in _lines(path, read_text(path)):
        tokens = [t for t in _SPLIT.split(line) if t]
        if len(tokens) != 4:
            raise InputError(
                f"{path}, line {number}: expected 4 numbers x,y,w,h, got {len(tokens)} in {line!r}"
            )
        rows.append([_number(t, path, number, line) for t in tokens])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def read_labels(path: str | Path, allowed: range, one_per_line: bool) -> np.ndarray:
    """Integer labels from `path` as an int64 array; each must lie in `allowed`.

    `one_per_line`: GOT-10k style (a label per line). Otherwise LaSOT style: all labels on one line
    (or several), separated by commas or whitespace.
    """
    path = Path(path)
    values = []
    for number, line in _lines(path, read_text(path)):
        tokens = [t for t in _SPLIT.split(line) if t]
        if one_per_line and len(tokens) != 1:
            raise InputError(f"{path}, line {number}: expected one label, got {len(tokens)} in {line!r}")
        for position, token in enumerate(tokens, start=1):
            try:
                value = int(token)
            except ValueError:
                value = None
            if value is None or value not in allowed:
                where = f"line {number}" if one_per_line else f"line {number}, item {position}"
                raise InputError(
                    f"{path}, {where}: {token!r} is not a label in {allowed.start}..{allowed.stop - 1}"
                )
            values.append(value)
    return np.asarray(values, dtype=np.int64)


def format_number(value: float) -> str:
    """Integral floats as integers, others as the shortest exact decimal, NaN as ``NaN``."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        raise InputError(f"cannot write an infinite value ({value}) as a box coordinate")
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def check_boxes(boxes, what: str = "boxes") -> np.ndarray:
    """`boxes` as an (N, 4) float64 array, or InputError."""
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers, shape (N, 4) [x, y, w, h]") from None
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"{what} must have shape (N, 4) [x, y, w, h]; got shape {arr.shape}")
    if np.isinf(arr).any():
        row = int(np.argwhere(np.isinf(arr))[0, 0])
        raise InputError(f"{what}: row {row} has an infinite value {arr[row].tolist()}")
    return arr


def check_flags(flags, count: int, what: str) -> np.ndarray:
    """`flags` as a bool array of length `count`, or InputError."""
    arr = np.asarray(flags)
    if arr.ndim != 1 or len(arr) != count:
        raise InputError(f"{what} must have one value per box ({count}); got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise InputError(f"{what} must be True/False (or 0/1)")
        arr = arr.astype(bool)
    return arr


def format_boxes(boxes: np.ndarray, delimiter: str = ",") -> str:
    """One line per box, values joined by `delimiter`, each line ending in a newline."""
    return "".join(delimiter.join(format_number(v) for v in row) + "\n" for row in boxes)
