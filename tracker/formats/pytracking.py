"""Tracking result files in pytracking's layout (design brief §6.1), so results can be compared with,
or analysed by, the tools of that ecosystem.

    <root>/<tracker>/<param>[_<runid:03d>]/<seq>.txt                        x<TAB>y<TAB>w<TAB>h
    <root>/<tracker>/<param>[_<runid:03d>]/<seq>_time.txt                   per-frame seconds, %f
    <root>/<tracker>/<param>[_<runid:03d>]/<seq>_object_presence_scores.txt per-frame presence, %f

One line per frame, the first (initialisation) frame included. Boxes are written rounded to
BOX_DECIMALS decimals (integral values without a point): pytracking writes `%d`, which truncates
sub-pixel boxes and moves every toolkit's score away from the one computed on the engine's floats,
so here the file keeps the floats (the GOT-10k toolkit writes `%.3f` too), and evaluation scores
`as_written(boxes)`, exactly what the file holds. pytracking's loader (tab, then comma) and numpy's
`loadtxt` read these files. Every file is written atomically.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..errors import InputError
from . import boxtext
from .boxtext import format_number, read_text


def _check_name(value: str, what: str) -> str:
    """A name becomes one path component: no separators, not hidden, not empty."""
    if not value or value.startswith(".") or any(c in value for c in "/\\\0\n\t"):
        raise InputError(f"{what} {value!r} cannot be used as a file or folder name in a result path")
    return value


def results_dir(root: str | Path, tracker: str, param: str = "default", run_id: int | None = None) -> Path:
    """The folder of one tracker/parameter/run: `<root>/<tracker>/<param>[_<runid:03d>]`."""
    _check_name(tracker, "tracker name")
    _check_name(param, "parameter name")
    leaf = param if run_id is None else f"{param}_{int(run_id):03d}"
    return Path(root) / tracker / leaf


BOX_DECIMALS = 3  # 1/1000 px; GOT-10k's toolkit writes its results with %.3f as well


def as_written(boxes) -> np.ndarray:
    """The (N, 4) boxes exactly as a result file holds them (rounded to BOX_DECIMALS)."""
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not np.isfinite(arr).all():
        row = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise InputError(f"box {row} is not finite ({arr[row].tolist()}); a result file needs a box on every line")
    return np.round(arr, BOX_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def format_boxes(boxes) -> str:
    """Boxes as result-file text: tab-separated, rounded to BOX_DECIMALS, one line per box.
    Reading the text back gives `as_written(boxes)` bit for bit (shortest round-trip decimals)."""
    return "".join("\t".join(format_number(v) for v in row) + "\n" for row in as_written(boxes))


def _format_values(values) -> str:
    return "".join(f"{float(v):f}\n" for v in np.asarray(values, dtype=np.float64).reshape(-1))


def write_boxes(path: str | Path, boxes) -> None:
    atomic_write_text(path, format_boxes(boxes))


@dataclass(frozen=True)
class SequenceResult:
    """One tracker's output on one sequence: a box per frame and, where recorded, times and presence."""

    boxes: np.ndarray  # (N, 4) [x, y, w, h]
    times: np.ndarray | None = None  # (N,) seconds
    presence: np.ndarray | None = None  # (N,) in [0, 1]


def write_sequence_result(folder: str | Path, sequence: str, result: SequenceResult) -> Path:
    """Write `<sequence>.txt` (and `_time`, `_object_presence_scores` where given) into `folder`."""
    _check_name(sequence, "sequence name")
    folder = Path(folder)
    n = len(np.asarray(result.boxes).reshape(-1, 4))
    for what, values in (("times", result.times), ("presence", result.presence)):
        if values is not None and len(np.asarray(values).reshape(-1)) != n:
            raise InputError(f"{sequence}: {len(values)} {what} for {n} boxes; need one per frame")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create result folder {folder}: {exc.strerror or exc}") from exc
    box_path = folder / f"{sequence}.txt"
    write_boxes(box_path, result.boxes)
    if result.times is not None:
        atomic_write_text(folder / f"{sequence}_time.txt", _format_values(result.times))
    if result.presence is not None:
        atomic_write_text(folder / f"{sequence}_object_presence_scores.txt", _format_values(result.presence))
    return box_path


def _read_values(path: Path) -> np.ndarray:
    """One number per line (times, presence scores); a bad line is named."""
    values = []
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            values.append(float(line))
        except ValueError:
            raise InputError(f"{path}, line {number}: expected one number, got {line.strip()!r}") from None
    return np.asarray(values, dtype=np.float64)


def read_boxes(path: str | Path) -> np.ndarray:
    """(N, 4) boxes from a result file (tab, comma or space separated)."""
    return boxtext.read_boxes(path)


def read_sequence_result(folder: str | Path, sequence: str) -> SequenceResult:
    """Read what `write_sequence_result` wrote; times and presence are None where their files are absent."""
    folder = Path(folder)
    boxes = read_boxes(folder / f"{sequence}.txt")
    extra = {}
    for key, suffix in (("times", "_time"), ("presence", "_object_presence_scores")):
        path = folder / f"{sequence}{suffix}.txt"
        if path.exists():
            values = _read_values(path)
            if len(values) != len(boxes):
                raise InputError(f"{path}: {len(values)} lines for {len(boxes)} boxes in {sequence}.txt")
            extra[key] = values
    return SequenceResult(boxes, extra.get("times"), extra.get("presence"))


def read_published_result(folder: str | Path, sequence: str, frames: int) -> SequenceResult:
    """A tracker's published result for `sequence`, cut to the `frames` frames evaluated.

    Clear errors, naming the file: the folder has no `<sequence>.txt`, the file has fewer boxes
    than the sequence has frames (LaSOT's rule in pytracking, applied to every dataset here: zero
    padding would score a truncated file as a tracker that lost the target), or a box is NaN.
    Longer files are cut, as pytracking does (its LaSOT monkey-17 case).
    """
    _check_name(sequence, "sequence name")
    folder = Path(folder)
    path = folder / f"{sequence}.txt"
    if not path.is_file():
        raise InputError(f"{path}: no result for sequence {sequence} in {folder}")
    result = read_sequence_result(folder, sequence)
    if len(result.boxes) < frames:
        raise InputError(f"{path}: {len(result.boxes)} boxes for {frames} frames of {sequence}; "
                         "a result needs a box for every frame, the first included")
    nan_rows = np.flatnonzero(np.isnan(result.boxes[:frames]).any(axis=1))
    if len(nan_rows):
        raise InputError(f"{path}: box {int(nan_rows[0]) + 1} (of {frames}) is NaN; "
                         "a result needs a number for every coordinate")
    cut = slice(0, frames)
    return SequenceResult(result.boxes[cut],
                          None if result.times is None else result.times[cut],
                          None if result.presence is None else result.presence[cut])
