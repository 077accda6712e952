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
from ..formats.boxtext import read_text
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
        # (start, stop) frame indices a benchmark evaluates, where the dataset says (OTB cfg.json);
        # None: from the first to the last annotated frame.
        self.evaluation_range: tuple[int, int] | None = None
        self.attributes: tuple[str, ...] = ()  # OTB attrs.txt / cfg.json attribute codes (SV, OCC, ...)


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
        first, stop, attributes = _otb_config(folder, files) if files else (0, None, ())
        if stop is not None and len(gt.boxes) > stop - first:
            raise InputError(f"{gt.path}: {len(gt.boxes)} annotation lines, but {folder / 'cfg.json'} gives "
                             f"{stop - first} frames ({files[first].name} .. {files[stop - 1].name})")
        source = SequenceSource(folder, frames, gt, first_annotated=first, files=files, **kwargs)
        source.evaluation_range = (first, stop) if stop is not None else None
        source.attributes = attributes
        return source
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


CFG_MAX_BYTES = 16 * 1024 * 1024  # OTB's cfg.json holds the whole ground truth; 16 MiB is ~100x the largest


def _frame_number(file: Path) -> int | None:
    found = re.findall(r"\d+", file.stem)
    return int(found[-1]) if found else None


def _otb_config(folder: Path, files: list[Path]) -> tuple[int, int | None, tuple[str, ...]]:
    """What an OTB `cfg.json` says: the frame index of `startFrame`, one past `endFrame` (None where
    it gives none) and the attributes. Without cfg.json: (0, None, attributes of attrs.txt or none).

    Some OTB sequences (David from 300, BlurCar1 from 247, ...) are annotated from a later frame on and
    cfg.json gives `startFrame`/`endFrame` as file numbers, matched here against the frame file names,
    which is how pytracking's OTB list builds the same sequences.
    """
    attributes: tuple[str, ...] = ()
    attrs = folder / "attrs.txt"
    if attrs.is_file() and attrs.stat().st_size < 64 * 1024:
        attributes = tuple(a.strip() for a in re.split(r"[,\s]+", read_text(attrs)) if a.strip())
    cfg = folder / "cfg.json"
    if not cfg.is_file():
        return 0, None, attributes
    if cfg.stat().st_size > CFG_MAX_BYTES:
        raise InputError(f"{cfg}: {cfg.stat().st_size} bytes; larger than any OTB cfg.json ({CFG_MAX_BYTES} at most)")
    try:
        data = json.loads(read_text(cfg))
        start = int(data["startFrame"])
        end = None if data.get("endFrame") is None else int(data["endFrame"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{cfg}: cannot read startFrame (not JSON, or no integer startFrame/endFrame)") from None
    if isinstance(data.get("attributes"), list):
        attributes = tuple(str(a) for a in data["attributes"])
    numbers = [_frame_number(f) for f in files]

    def index_of(number: int, key: str) -> int:
        if number in numbers:
            return numbers.index(number)
        raise InputError(f"{cfg}: {key} {number} matches no frame file in {files[0].parent} "
                         f"(files {files[0].name} .. {files[-1].name})")

    first = index_of(start, "startFrame")
    if end is None:
        return first, None, attributes
    if end < start:
        raise InputError(f"{cfg}: endFrame {end} is before startFrame {start}")
    return first, index_of(end, "endFrame") + 1, attributes


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
