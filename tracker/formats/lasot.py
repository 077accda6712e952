"""LaSOT ground truth: a sequence folder with

    groundtruth.txt      x,y,w,h per frame (commas)
    full_occlusion.txt   one line of comma-separated 0/1, one per frame
    out_of_view.txt      the same layout
    img/00000001.jpg ... frames

The target is absent where it is fully occluded or out of view (design brief §6.2). A missing side
file contributes nothing; if both are missing `absent` is None. A side file with a different number
of entries than groundtruth.txt has lines is an error.

Written: `groundtruth.txt` with commas and `tracker.formats.boxtext.format_number` numbers (NaN for
an unknown box), `full_occlusion.txt` with the absent flags (all 0 if none are given) and
`out_of_view.txt` all 0: one absent flag cannot tell occlusion from leaving the view, so reading
LaSOT's own files and writing them back merges out-of-view into full occlusion.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_write_files
from ..errors import InputError
from ..sources.base import GroundTruth
from .boxtext import check_boxes, check_flags, format_boxes, read_boxes, read_labels

FILE_NAME = "groundtruth.txt"
OCCLUSION_FILE = "full_occlusion.txt"
OUT_OF_VIEW_FILE = "out_of_view.txt"
FORMAT = "lasot"


def ground_truth_file(path: str | Path) -> Path:
    path = Path(path)
    return path / FILE_NAME if path.is_dir() else path


def _side_flags(path: Path, count: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    flags = read_labels(path, range(2), one_per_line=False)
    if len(flags) != count:
        raise InputError(
            f"{path}: {len(flags)} flags, but {path.parent / FILE_NAME} has {count} boxes; need one per frame"
        )
    return flags.astype(bool)


def read_ground_truth(path: str | Path) -> GroundTruth:
    """Read `groundtruth.txt` (or the one in a sequence folder) and its side files beside it."""
    path = ground_truth_file(path)
    boxes = read_boxes(path)
    occluded = _side_flags(path.parent / OCCLUSION_FILE, len(boxes))
    out_of_view = _side_flags(path.parent / OUT_OF_VIEW_FILE, len(boxes))
    flags = [f for f in (occluded, out_of_view) if f is not None]
    absent = np.logical_or.reduce(flags) if flags else None
    return GroundTruth(boxes=boxes, absent=absent, format=FORMAT, path=path)


def _flag_line(flags: np.ndarray) -> str:
    return ",".join("1" if f else "0" for f in flags) + "\n"


def write_ground_truth(path: str | Path, boxes, absent=None) -> Path:
    """Write `groundtruth.txt` and its two side files (see the module docstring), all or nothing.

    `path` is the groundtruth file or the sequence folder. Returns the groundtruth file's path.
    """
    path = ground_truth_file(path)
    arr = check_boxes(boxes)
    flags = np.zeros(len(arr), bool) if absent is None else check_flags(absent, len(arr), "absent")
    atomic_write_files({path: format_boxes(arr, ","), path.parent / OCCLUSION_FILE: _flag_line(flags),
                        path.parent / OUT_OF_VIEW_FILE: _flag_line(np.zeros(len(arr), bool))})
    return path
