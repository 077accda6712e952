"""MOT Challenge ground truth (`gt/gt.txt`), one track of it.

Each line: frame (1-based), track id, x, y, w, h, consider (1 / 0 = ignore), class, visibility (0..1),
comma-separated; MOT15-style lines with fewer columns (6+) are read too.
Writing: visible frames get `frame,1,x,y,w,h,1,1,1`; absent frames get a row with visibility 0 and
consider 0 (MOT's way of keeping a fully occluded target), its box copied from the nearest visible
frame; frames without annotation get no row. Reading a track back: visibility 0 means absent.
A folder target gets `gt/gt.txt` plus `seqinfo.ini` (seqLength keeps trailing empty frames).
"""
from __future__ import annotations

import configparser
import math
import re
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_files, atomic_write_text
from ..errors import InputError
from ..limits import MAX_COORDINATE, MAX_FRAMES, check_file_size, check_frame_count
from ..sources.base import GroundTruth
from .boxtext import format_number, read_text

FORMAT = "mot"


def _gt_file(path: Path) -> Path:
    return path / "gt" / "gt.txt" if path.is_dir() else path


def _seq_length(gt_file: Path) -> int | None:
    for ini in (gt_file.parent.parent / "seqinfo.ini", gt_file.parent / "seqinfo.ini"):
        if ini.is_file():
            cfg = configparser.ConfigParser()
            check_file_size(ini, 1 << 20)
            try:
                cfg.read(ini, encoding="utf-8")
                text = cfg["Sequence"]["seqLength"]
                length = int(text)
            except (configparser.Error, KeyError, ValueError, UnicodeDecodeError) as exc:
                raise InputError(f"{ini}: no usable [Sequence] seqLength ({str(exc)[:200]})") from None
            return check_frame_count(length, f"{ini}, seqLength")
    return None


def _rows(gt_file: Path) -> list[tuple[int, list[float]]]:
    rows = []
    for lineno, line in enumerate(read_text(gt_file).split("\n"), start=1):
        if not line.strip():
            continue
        v = _numbers(line, gt_file, lineno, "MOT")
        if len(v) < 6:
            raise InputError(f"{gt_file}, line {lineno}: a MOT line needs at least 6 values "
                             f"(frame, id, x, y, w, h), got {len(v)}")
        if not all(math.isfinite(x) for x in v[:9]):
            raise InputError(f"{gt_file}, line {lineno}: values must be finite numbers, got {line.strip()[:200]!r}")
        if v[0] < 1 or not float(v[0]).is_integer() or not float(v[1]).is_integer():
            raise InputError(f"{gt_file}, line {lineno}: frame must be an integer >= 1 and id an integer")
        if v[0] > MAX_FRAMES:
            raise InputError(f"{gt_file}, line {lineno}: frame {v[0]:.0f} is over the limit of {MAX_FRAMES} "
                             "frames per sequence")
        if any(abs(x) > MAX_COORDINATE for x in v[2:6]):
            raise InputError(f"{gt_file}, line {lineno}: a box value is beyond {MAX_COORDINATE:g} pixels")
        rows.append((lineno, v))
    return rows


def track_ids(path: str | Path) -> list[int]:
    """The track ids in a MOT file, sorted."""
    gt_file = _gt_file(Path(path))
    return sorted({int(v[1]) for _, v in _rows(gt_file)})


def read_ground_truth(path: str | Path, object_id: int | None = None, num_frames: int | None = None) -> GroundTruth:
    """One track (`object_id`, or the only one in the file) as GroundTruth (frame 1 -> row 0)."""
    gt_file = _gt_file(Path(path))
    rows = _rows(gt_file)
    ids = sorted({int(v[1]) for _, v in rows})
    if object_id is None:
        if len(ids) > 1:
            shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
            raise InputError(f"{gt_file} holds {len(ids)} tracks ({shown}); choose one with an object id")
        object_id = ids[0] if ids else 1
    elif object_id not in ids:
        raise InputError(f"{gt_file} has no track {object_id}; its tracks are {ids}")
    if num_frames is not None:
        num_frames = check_frame_count(num_frames, f"{gt_file}: the frame count asked for (--frames)")
    length = num_frames or _seq_length(gt_file) or max((int(v[0]) for _, v in rows), default=0)
    boxes = np.full((length, 4), np.nan)
    absent = np.zeros(length, dtype=bool)
    seen: dict[int, int] = {}
    for lineno, v in rows:
        if int(v[1]) != object_id:
            continue
        i = int(v[0]) - 1
        if i >= length:
            raise InputError(f"{gt_file}, line {lineno}: frame {i + 1} is past the sequence's {length} frames")
        if i in seen:
            raise InputError(f"{gt_file}, line {lineno}: track {object_id} already has frame {i + 1} "
                             f"(line {seen[i]})")
        seen[i] = lineno
        visibility = v[8] if len(v) > 8 else 1.0
        if visibility <= 0:
            absent[i] = True
        else:
            if v[4] <= 0 or v[5] <= 0:
                raise InputError(f"{gt_file}, line {lineno}: box has no area (w={v[4]:g}, h={v[5]:g})")
            boxes[i] = v[2:6]
    return GroundTruth(boxes, absent, FORMAT, gt_file)


def write_ground_truth(path: str | Path, boxes, absent=None, object_id: int = 1, name: str = "sequence") -> Path:
    """Write one track. `path` ending in .txt is the gt file; otherwise a MOT sequence folder."""
    path = Path(path)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    absent = np.zeros(len(boxes), dtype=bool) if absent is None else np.asarray(absent, dtype=bool)
    visible = [i for i in range(len(boxes)) if not absent[i] and np.all(np.isfinite(boxes[i]))]
    lines = []
    for i in range(len(boxes)):
        if absent[i]:
            near = min(visible, key=lambda j: (abs(j - i), j)) if visible else None
            box = boxes[near] if near is not None else (0.0, 0.0, 1.0, 1.0)
            consider, visibility = 0, 0
        elif i in visible:
            box, consider, visibility = boxes[i], 1, 1
        else:
            continue
        lines.append(",".join([str(i + 1), str(object_id), *map(format_number, box), str(consider), "1",
                               str(visibility)]))
    text = "\n".join(lines) + ("\n" if lines else "")
    if path.suffix.lower() == ".txt":
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        return path
    (path / "gt").mkdir(parents=True, exist_ok=True)
    atomic_write_files({path / "gt" / "gt.txt": text,
                        path / "seqinfo.ini": f"[Sequence]\nname={_ini_value(name)}\nimDir=img1\nframeRate=30\n"
                                              f"seqLength={len(boxes)}\nimExt=.jpg\n"})
    return path / "gt" / "gt.txt"


def _ini_value(text: str) -> str:
    """One line of plain text for seqinfo.ini: no line breaks (they would inject keys) and no section brackets."""
    cleaned = "".join(c if c.isprintable() and c not in "[]" else "_" for c in str(text)).strip()
    return cleaned or "sequence"


def _numbers(text: str, path: Path, lineno: int, what: str) -> list[float]:
    """Numbers separated by commas and/or whitespace; InputError naming the file and line otherwise."""
    try:
        return [float(p) for p in re.split(r"[,\s]+", text.strip()) if p]
    except ValueError:
        raise InputError(f"{path}, line {lineno}: expected numbers in a {what} line, got {text.strip()!r}") from None
