"""MOT Challenge ground truth (`gt/gt.txt`): every track, with its id and class.

Each line: frame (1-based), track id, x, y, w, h, consider (1 / 0 = ignore), class, visibility (0..1),
comma-separated; MOT15-style lines with fewer columns (6+) are read too.
Writing: visible frames get `frame,id,x,y,w,h,1,class,1`; absent frames get a row with visibility 0 and
consider 0 (MOT's way of keeping a fully occluded target), its box copied from the nearest visible
frame of the same track; frames without annotation get no row. Reading back: visibility 0 means absent.
A folder target gets `gt/gt.txt` plus `seqinfo.ini`: seqLength (keeps trailing empty frames), imWidth and
imHeight where the image size is known, imDir and imExt of the real frames where they are images (relative
to the sequence folder), and a [Labels] section naming each class number (`1 = person`); without that
section class numbers are named as in MOT17 (1 pedestrian, 3 car, ...).
"""
from __future__ import annotations

import configparser
import math
import re
from pathlib import Path

import numpy as np

import os
from dataclasses import dataclass, field

from ..atomic import atomic_write_files, atomic_write_text
from ..errors import InputError
from ..limits import MAX_COORDINATE, MAX_FRAMES, check_file_size, check_frame_count
from ..sources.base import GroundTruth
from .boxtext import format_number, read_text

FORMAT = "mot"


def _gt_file(path: Path) -> Path:
    return path / "gt" / "gt.txt" if path.is_dir() else path


# MOT17's class numbers (its devkit's table), used where a file does not name its classes
MOT17_CLASSES = {1: "pedestrian", 2: "person on vehicle", 3: "car", 4: "bicycle", 5: "motorbike",
                 6: "non motorized vehicle", 7: "static person", 8: "distractor", 9: "occluder",
                 10: "occluder on the ground", 11: "occluder full", 12: "reflection"}
MAX_TRACKS = 10_000


def _seqinfo(gt_file: Path) -> configparser.ConfigParser | None:
    for ini in (gt_file.parent.parent / "seqinfo.ini", gt_file.parent / "seqinfo.ini"):
        if ini.is_file():
            cfg = configparser.ConfigParser(interpolation=None)
            check_file_size(ini, 1 << 20)
            try:
                cfg.read(ini, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError) as exc:
                raise InputError(f"{ini}: not a readable seqinfo.ini ({str(exc)[:200]})") from None
            cfg.path = ini
            return cfg
    return None


def _seq_length(gt_file: Path) -> int | None:
    cfg = _seqinfo(gt_file)
    if cfg is None:
        return None
    try:
        length = int(cfg["Sequence"]["seqLength"])
    except (KeyError, ValueError) as exc:
        raise InputError(f"{cfg.path}: no usable [Sequence] seqLength ({str(exc)[:200]})") from None
    return check_frame_count(length, f"{cfg.path}, seqLength")


def _class_names(gt_file: Path) -> dict[int, str]:
    """Class number -> label name from seqinfo.ini's [Labels] section (empty when there is none)."""
    cfg = _seqinfo(gt_file)
    if cfg is None or not cfg.has_section("Labels"):
        return {}
    out = {}
    for key, value in cfg.items("Labels"):
        if not key.strip().isdigit() or not value.strip():
            raise InputError(f"{cfg.path}: [Labels] entries are `class number = name`, got {key} = {value}"[:300])
        out[int(key)] = value.strip()
    return out


def _rows(gt_file: Path) -> list[tuple[int, list[float]]]:
    rows = []
    for lineno, line in enumerate(read_text(gt_file).split("\n"), start=1):
        if not line.strip():
            continue
        tokens = [p for p in re.split(r"[,\s]+", line.strip()) if p]
        if len(tokens) >= 2 and not _is_integer_text(tokens[1]):
            raise InputError(f"{gt_file}, line {lineno}: the track id must be an integer, got {tokens[1][:40]!r}")
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
        if abs(v[1]) >= 2 ** 31:
            raise InputError(f"{gt_file}, line {lineno}: track id {v[1]:.0f} is out of range")
        rows.append((lineno, v))
    return rows


def _is_integer_text(token: str) -> bool:
    try:
        return float(token).is_integer()
    except ValueError:
        return False


def track_ids(path: str | Path) -> list[int]:
    """The track ids in a MOT file, sorted."""
    gt_file = _gt_file(Path(path))
    return sorted({int(v[1]) for _, v in _rows(gt_file)})


@dataclass
class Track:
    """One MOT track: its id, class number, and (boxes, absent) with one row per frame."""

    object_id: int
    class_id: int | None
    boxes: np.ndarray
    absent: np.ndarray


@dataclass
class Tracks:
    """Every track of a MOT file, and the names its seqinfo.ini gives the class numbers."""

    path: Path
    num_frames: int
    tracks: list[Track] = field(default_factory=list)
    class_names: dict[int, str] = field(default_factory=dict)

    def label(self, class_id: int | None) -> str:
        if class_id is None or class_id < 0:
            return "object"
        return self.class_names.get(class_id) or MOT17_CLASSES.get(class_id) or f"class {class_id}"


def read_tracks(path: str | Path, num_frames: int | None = None) -> Tracks:
    """Every track of a MOT file (or sequence folder), in id order (frame 1 -> row 0). A track's class is
    the one on its first line; a track that changes class, or has two lines for a frame, is an error."""
    gt_file = _gt_file(Path(path))
    rows = _rows(gt_file)
    ids = sorted({int(v[1]) for _, v in rows})
    if len(ids) > MAX_TRACKS:
        raise InputError(f"{gt_file} holds {len(ids)} tracks, over the limit of {MAX_TRACKS}")
    if num_frames is not None:
        num_frames = check_frame_count(num_frames, f"{gt_file}: the frame count asked for (--frames)")
    length = num_frames or _seq_length(gt_file) or max((int(v[0]) for _, v in rows), default=0)
    out = Tracks(gt_file, length, class_names=_class_names(gt_file))
    by_id = {}
    for tid in ids:
        by_id[tid] = Track(tid, None, np.full((length, 4), np.nan), np.zeros(length, dtype=bool))
    seen: dict[tuple[int, int], int] = {}
    class_line: dict[int, int] = {}
    for lineno, v in rows:
        tid = int(v[1])
        track = by_id[tid]
        i = int(v[0]) - 1
        if i >= length:
            raise InputError(f"{gt_file}, line {lineno}: frame {i + 1} is past the sequence's {length} frames")
        if (tid, i) in seen:
            raise InputError(f"{gt_file}, line {lineno}: track {tid} already has frame {i + 1} "
                             f"(line {seen[(tid, i)]})")
        seen[(tid, i)] = lineno
        cls = int(v[7]) if len(v) > 7 and float(v[7]).is_integer() else None
        if tid not in class_line:
            track.class_id, class_line[tid] = cls, lineno
        elif cls != track.class_id:
            raise InputError(f"{gt_file}, line {lineno}: track {tid} has class {cls} here but class "
                             f"{track.class_id} on line {class_line[tid]}")
        visibility = v[8] if len(v) > 8 else 1.0
        if visibility <= 0:
            track.absent[i] = True
        else:
            if v[4] <= 0 or v[5] <= 0:
                raise InputError(f"{gt_file}, line {lineno}: box has no area (w={v[4]:g}, h={v[5]:g})")
            track.boxes[i] = v[2:6]
    out.tracks = [by_id[t] for t in ids]
    return out


def read_ground_truth(path: str | Path, object_id: int | None = None, num_frames: int | None = None) -> GroundTruth:
    """One track (`object_id`, or the only one in the file) as GroundTruth (frame 1 -> row 0)."""
    tracks = read_tracks(path, num_frames)
    ids = [t.object_id for t in tracks.tracks]
    if object_id is None:
        if len(ids) > 1:
            shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
            raise InputError(f"{tracks.path} holds {len(ids)} tracks ({shown}); choose one with an object id")
        if not ids:
            n = tracks.num_frames
            return GroundTruth(np.full((n, 4), np.nan), np.zeros(n, dtype=bool), FORMAT, tracks.path)
        object_id = ids[0]
    elif object_id not in ids:
        raise InputError(f"{tracks.path} has no track {object_id}; its tracks are {ids}")
    t = tracks.tracks[ids.index(object_id)]
    return GroundTruth(t.boxes, t.absent, FORMAT, tracks.path)


def _track_lines(object_id: int, class_id: int, boxes, absent) -> list[tuple[int, str]]:
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
        lines.append((i, ",".join([str(i + 1), str(object_id), *map(format_number, box), str(consider),
                                   str(class_id), str(visibility)])))
    return lines


def write_tracks(path: str | Path, tracks: list[tuple[int, int, np.ndarray, np.ndarray | None]], *,
                 num_frames: int, name: str = "sequence", class_names: dict[int, str] | None = None,
                 image_size: tuple[int, int] | None = None, frames: Path | None = None) -> Path:
    """Write tracks given as (object id, class number, boxes, absent), lines ordered by frame then id.
    `path` ending in .txt is the gt file; otherwise a MOT sequence folder with gt/gt.txt and seqinfo.ini
    (`frames`: the folder or video of the real frames, for imDir/imExt), written all or nothing."""
    path = Path(path)
    lines = []
    for object_id, class_id, boxes, absent in sorted(tracks, key=lambda t: t[0]):
        lines += [(i, object_id, text) for i, text in _track_lines(object_id, class_id, boxes, absent)]
    lines.sort(key=lambda t: (t[0], t[1]))
    text = "\n".join(t for _, _, t in lines) + ("\n" if lines else "")
    if path.suffix.lower() == ".txt":
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        return path
    (path / "gt").mkdir(parents=True, exist_ok=True)
    atomic_write_files({path / "gt" / "gt.txt": text,
                        path / "seqinfo.ini": seqinfo_text(path, name, num_frames, image_size, frames, class_names)})
    return path / "gt" / "gt.txt"


def seqinfo_text(folder: Path, name: str, num_frames: int, image_size: tuple[int, int] | None,
                 frames: Path | None, class_names: dict[int, str] | None) -> str:
    """seqinfo.ini for a sequence folder: imDir/imExt only where the real frames are images (a folder of
    them, or a benchmark sequence folder with img/), as a path relative to `folder`."""
    out = [f"[Sequence]", f"name={_ini_value(name)}"]
    image_dir, ext = _image_dir(frames)
    if image_dir is not None:
        rel = os.path.relpath(image_dir.resolve(), folder.resolve())
        out += [f"imDir={_ini_value(rel)}", f"imExt={ext}"]
    out += [f"frameRate={_frame_rate(frames):g}", f"seqLength={int(num_frames)}"]
    if image_size is not None:
        out += [f"imWidth={int(image_size[0])}", f"imHeight={int(image_size[1])}"]
    if class_names:
        out += ["", "[Labels]"] + [f"{k} = {_ini_value(v)}" for k, v in sorted(class_names.items())]
    return "\n".join(out) + "\n"


def _frame_rate(frames: Path | None) -> float:
    """The video's own frame rate where the frames are a video file; the studio's default otherwise."""
    from ..sources.base import DEFAULT_FPS

    if frames is None or not Path(frames).is_file():
        return DEFAULT_FPS
    try:
        from ..sources.video import VideoSource

        source = VideoSource(frames, cache_mb=1)
    except (InputError, OSError):
        return DEFAULT_FPS
    try:
        return round(float(source.fps), 3)
    finally:
        source.close()


def _image_dir(frames: Path | None) -> tuple[Path | None, str | None]:
    if frames is None:
        return None, None
    from ..sources.folder import image_files

    frames = Path(frames)
    for folder in (frames / "img", frames):
        try:
            files = image_files(folder) if folder.is_dir() else []
        except (InputError, OSError):
            files = []
        if files:
            return folder, files[0].suffix.lower()
    return None, None


def write_ground_truth(path: str | Path, boxes, absent=None, object_id: int = 1, name: str = "sequence") -> Path:
    """Write one track. `path` ending in .txt is the gt file; otherwise a MOT sequence folder."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return write_tracks(path, [(object_id, 1, boxes, absent)], num_frames=len(boxes), name=name)


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
