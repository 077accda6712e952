"""Benchmark sequence folders: frames plus ground truth, in the OTB, LaSOT or GOT-10k layout.

    OTB      <seq>/groundtruth_rect.txt  + <seq>/img/0001.jpg ...
    LaSOT    <seq>/groundtruth.txt (+ full_occlusion.txt, out_of_view.txt) + <seq>/img/00000001.jpg ...
    GOT-10k  <seq>/groundtruth.txt (+ absence.label, cover.label) + <seq>/00000001.jpg ...

The ground truth is padded to the number of frames: frames without an annotation line get a NaN
box (OTB Football1 annotates 74 of 81 frames; GOT-10k test sequences only their first frame) and
absent=False. More annotation lines than frames is an error, never a silent truncation.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formats import got10k, lasot, otb
from .base import GroundTruth
from .folder import ImageFolderSource, image_files

FORMATS = ("otb", "lasot", "got10k")


class SequenceSource(ImageFolderSource):
    """An image sequence with `.ground_truth` (one row per frame). `path` is the sequence folder."""

    def __init__(
        self,
        folder: str | Path,
        frame_folder: str | Path,
        ground_truth: GroundTruth,
        first_annotated: int = 0,
        **kwargs,
    ):
        super().__init__(frame_folder, **kwargs)
        self.path = Path(folder)
        self.ground_truth = _fit_to_frames(ground_truth, len(self.files), first_annotated)


def detect_format(folder: str | Path) -> str | None:
    """"otb", "lasot" or "got10k" from the annotation files in `folder`, or None where it has none.

    groundtruth_rect.txt (or groundtruth_rect.1.txt) means OTB; groundtruth.txt means LaSOT when
    the frames are in img/, GOT-10k otherwise.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    if otb.ground_truth_file(folder).is_file():
        return "otb"
    if (folder / lasot.FILE_NAME).is_file():
        return "lasot" if (folder / "img").is_dir() else "got10k"
    return None


def open_sequence(folder: str | Path, format: str | None = None, **kwargs) -> SequenceSource:
    """Open a benchmark sequence folder; `format` is detected from the files present when not given.

    Frames are read from img/ where the folder has one (OTB, LaSOT), else from the folder itself.
    """
    folder = Path(folder)
    format = format or detect_format(folder)
    frames = folder / "img" if (folder / "img").is_dir() else folder
    if format == "otb":
        gt = otb.read_ground_truth(folder)
        files = image_files(frames)
        first = _otb_start_index(folder, files) if files else 0
        return SequenceSource(folder, frames, gt, first_annotated=first, files=files, **kwargs)
    if format == "lasot":
        return SequenceSource(folder, frames, lasot.read_ground_truth(folder), **kwargs)
    if format == "got10k":
        return SequenceSource(folder, frames, got10k.read_ground_truth(folder), **kwargs)
    if format is None:
        raise InputError(
            f"{folder}: not a benchmark sequence (need groundtruth_rect.txt + img/ for OTB, "
            "groundtruth.txt + img/ for LaSOT, groundtruth.txt + frames for GOT-10k)"
        )
    raise InputError(f"unknown sequence format {format!r}; known: {', '.join(FORMATS)}")


def _otb_start_index(folder: Path, files: list[Path]) -> int:
    """Frame index of the first annotation line: 0, except where an OTB `cfg.json` says otherwise.

    Some OTB sequences (David, Tiger1, ...) are annotated from a later frame on; the benchmark's
    cfg.json gives `startFrame` as a file number, matched here against the frame file names.
    """
    cfg = folder / "cfg.json"
    if not cfg.is_file():
        return 0
    try:
        start = int(json.loads(cfg.read_text(encoding="utf-8-sig"))["startFrame"])
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{cfg}: cannot read startFrame (not JSON, or no integer startFrame)") from None
    for index, file in enumerate(files):
        found = re.findall(r"\d+", file.stem)
        if found and int(found[-1]) == start:
            return index
    raise InputError(f"{cfg}: startFrame {start} matches no frame file in {files[0].parent}")


def _fit_to_frames(gt: GroundTruth, frames: int, first: int) -> GroundTruth:
    rows = len(gt.boxes)
    if first + rows > frames:
        where = f" from frame {first}" if first else ""
        raise InputError(f"{gt.path}: {rows} annotation lines{where} but the sequence has only {frames} frames")
    if first == 0 and rows == frames:
        return gt
    boxes = np.full((frames, 4), np.nan)
    boxes[first:first + rows] = gt.boxes
    absent = None
    if gt.absent is not None:
        absent = np.zeros(frames, bool)
        absent[first:first + rows] = gt.absent
    return GroundTruth(boxes=boxes, absent=absent, format=gt.format, path=gt.path)
