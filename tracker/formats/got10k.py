"""GOT-10k ground truth: a sequence folder with

    groundtruth.txt   x,y,w,h per frame (commas); the test split has only the first frame's line
    absence.label     one 0/1 per line, 1 = target absent
    cover.label       one 0..8 per line: how much of the target is visible (0 none .. 8 all)
    00000001.jpg ...  frames, in the folder itself

`absent` comes from absence.label (None where the file is missing). cover.label is read by
`read_cover`; GroundTruth has no place for it.

Written: `groundtruth.txt` with commas and `tracker.formats.boxtext.format_number` numbers (NaN for
an unknown box), `absence.label` (all 0 if no flags are given) and, only when `cover` is given,
`cover.label`: a visible fraction is not something to invent.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_write_files
from ..errors import InputError
from ..sources.base import GroundTruth
from .boxtext import check_boxes, check_flags, format_boxes, read_boxes, read_labels

FILE_NAME = "groundtruth.txt"
ABSENCE_FILE = "absence.label"
COVER_FILE = "cover.label"
FORMAT = "got10k"


def ground_truth_file(path: str | Path) -> Path:
    path = Path(path)
    return path / FILE_NAME if path.is_dir() else path


def _labels(path: Path, allowed: range, count: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    labels = read_labels(path, allowed, one_per_line=True)
    if len(labels) != count:
        raise InputError(
            f"{path}: {len(labels)} labels, but {path.parent / FILE_NAME} has {count} boxes; need one per frame"
        )
    return labels


def read_ground_truth(path: str | Path) -> GroundTruth:
    """Read `groundtruth.txt` (or the one in a sequence folder) and `absence.label` beside it."""
    path = ground_truth_file(path)
    boxes = read_boxes(path)
    absence = _labels(path.parent / ABSENCE_FILE, range(2), len(boxes))
    # cover.label is validated here too, so a broken side file is reported when the sequence opens.
    _labels(path.parent / COVER_FILE, range(9), len(boxes))
    absent = None if absence is None else absence.astype(bool)
    return GroundTruth(boxes=boxes, absent=absent, format=FORMAT, path=path)


def read_cover(path: str | Path) -> np.ndarray | None:
    """cover.label of a sequence (folder or groundtruth file given) as int64 0..8, None if missing."""
    path = ground_truth_file(path)
    return _labels(path.parent / COVER_FILE, range(9), len(read_boxes(path)))


def write_ground_truth(path: str | Path, boxes, absent=None, cover=None) -> Path:
    """Write `groundtruth.txt`, `absence.label` and (if given) `cover.label`, all or nothing.

    `path` is the groundtruth file or the sequence folder. Returns the groundtruth file's path.
    """
    path = ground_truth_file(path)
    arr = check_boxes(boxes)
    flags = np.zeros(len(arr), bool) if absent is None else check_flags(absent, len(arr), "absent")
    if cover is not None:
        cover = np.asarray(cover)
        if cover.shape != (len(arr),) or not np.isin(cover, np.arange(9)).all():
            raise InputError(f"cover must be one integer 0..8 per box ({len(arr)}); got {cover!r}")
    files = {path: format_boxes(arr, ","), path.parent / ABSENCE_FILE: "".join("1\n" if f else "0\n" for f in flags)}
    if cover is not None:
        files[path.parent / COVER_FILE] = "".join(f"{int(c)}\n" for c in cover)
    atomic_write_files(files)
    return path
