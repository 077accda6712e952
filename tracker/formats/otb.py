"""OTB ground truth: `groundtruth_rect.txt`, one `x,y,w,h` line per frame from the first.

The benchmark's files use commas, tabs or spaces and LF or CRLF endings; all are read. Some files
have fewer lines than the sequence has frames (Football1: 74 of 81); the sequence reader pads those
frames with NaN. OTB has no absence information: `absent` is None when read.

Written with commas, numbers as in `tracker.formats.boxtext.format_number` (integers where
integral, otherwise the shortest exact decimal, `NaN` for an unknown box). OTB cannot say that the
target is absent, so frames marked absent are written as `NaN,NaN,NaN,NaN` (no box).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..sources.base import GroundTruth
from .boxtext import check_boxes, check_flags, format_boxes, read_boxes

FILE_NAME = "groundtruth_rect.txt"
FORMAT = "otb"


def ground_truth_file(path: str | Path) -> Path:
    """The annotation file for `path`: the file itself, or `groundtruth_rect.txt` in a folder.

    Multi-target OTB sequences (Jogging, Skating2, Human4) have `groundtruth_rect.1.txt`,
    `.2.txt`: for such a folder the first target's file is used.
    """
    path = Path(path)
    if not path.is_dir():
        return path
    if (path / FILE_NAME).is_file():
        return path / FILE_NAME
    numbered = sorted(path.glob("groundtruth_rect.*.txt"))
    return numbered[0] if numbered else path / FILE_NAME


def read_ground_truth(path: str | Path) -> GroundTruth:
    """Read an OTB annotation file (or the one in a sequence folder)."""
    path = ground_truth_file(path)
    return GroundTruth(boxes=read_boxes(path), absent=None, format=FORMAT, path=path)


def write_ground_truth(path: str | Path, boxes, absent=None) -> Path:
    """Write boxes (N, 4) to `path` (a file, or a folder to hold `groundtruth_rect.txt`), atomically."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    arr = check_boxes(boxes).copy()
    if absent is not None:
        arr[check_flags(absent, len(arr), "absent")] = np.nan
    atomic_write_text(path, format_boxes(arr, ","))
    return path
