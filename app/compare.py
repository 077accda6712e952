"""Comparing trackers on the open sequence (Qt-free): their boxes, per-frame IoU, success curves, and where
the selected tracker fails or switches its target's object id.

A tracker here is a box per frame of the open sequence (`TrackerBoxes`): read from a result file in
pytracking's layout (one line per evaluated frame, as `eval --results` and `track --out` write them), from
a research record (`.jsonl`, the studio's export: boxes and object ids), from a multi-object file (MOT
`.txt`, COCO-VID `.json`: the track of the studio's selected target, by id, else by label, or the one the
user picks; never silently the first), or taken from the current run's engine results. Files are read
with the readers `eval` uses (`tracker.formats.pytracking`, `tracker.formats.research`, the formats'
registry for MOT and COCO-VID) and scored with `tracker.evaluation.runner.score_boxes`, the scoring step of
`eval`, on the frames `eval` evaluates: the success curve and AUC shown for a complete tracker are the
ones `eval` prints for the same boxes.

`load_trackers` and `score_tracker` run in a worker; `Comparison` holds what is shown and answers the
searches (next failure, next id switch). Views listen to `Comparison.events.changed`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracker.errors import InputError
from tracker.evaluation.metrics import SUCCESS_THRESHOLDS, SequenceMetrics, frame_errors, iou_inclusive, valid_frames
from tracker.evaluation.plots import Curve, legend_entries
from tracker.evaluation.runner import evaluation_range, score_boxes, scoring_inputs
from tracker.formats.pytracking import as_written, read_published_result
from tracker.formats.research import read_research
from tracker.result import FrameResult
from tracker.sources.base import GroundTruth

from . import overlays as ov
from .model import Event

CURRENT_RUN = "current run"
MAX_TRACKERS = 32  # trackers one results root may give (every one is a box array the length of the sequence)
DEFAULT_THRESHOLD = 0.5  # IoU below which a frame is a failure (the OP50 threshold)
Color = tuple[int, int, int]
PALETTE: tuple[Color, ...] = (  # distinct from the studio's white ground truth and its flag greens
    (255, 80, 80), (80, 160, 255), (255, 200, 40), (200, 90, 255), (40, 220, 200), (255, 140, 40),
    (255, 110, 200), (150, 220, 60), (160, 160, 255), (255, 255, 140),
)
NO_IDS = ("{name} has no object ids: result files hold boxes only. Id switches come from the current run or "
          "a research record (.jsonl)")


def counted(n: int, word: str, plural: str | None = None) -> str:
    """'1 tracker', '3 trackers': a count with its noun in the right number."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


@dataclass(frozen=True)
class SequenceInfo:
    """What the comparison needs of the open sequence, as plain data (workers never touch the source)."""

    name: str
    path: Path
    num_frames: int
    ground_truth: GroundTruth | None
    evaluation_range: tuple[int, int] | None = None  # as the dataset states it (OTB cfg.json), else None

    def __len__(self) -> int:
        return self.num_frames

    @classmethod
    def of(cls, source, num_frames: int) -> SequenceInfo:
        return cls(source.name, Path(source.path), int(num_frames), source.ground_truth,
                   getattr(source, "evaluation_range", None))


def evaluated_frames(info: SequenceInfo) -> tuple[int, int, str | None]:
    """(start, stop, why not scored): the frames `eval` evaluates, where a result file's first line lies.
    Footage without ground truth (or with no usable first box) is compared from frame 0, unscored."""
    if info.ground_truth is None:
        return 0, info.num_frames, f"{info.name} has no ground truth: boxes only, no IoU or success curves"
    try:
        start, stop = evaluation_range(info)
    except InputError as exc:
        return 0, info.num_frames, str(exc)
    return start, stop, None


@dataclass(frozen=True)
class TrackerBoxes:
    """One tracker's boxes on the open sequence: row i is frame i (NaN where it has no box there).
    `ids[i]` is the object id it gave its target on frame i (NaN: none said); `ids` is None where the
    source holds no ids at all (result files)."""

    name: str
    origin: str  # the file it came from, or what produced it
    boxes: np.ndarray  # (num_frames, 4)
    ids: np.ndarray | None = None  # (num_frames,) float

    @property
    def frames_with_boxes(self) -> np.ndarray:
        return ~np.isnan(self.boxes).any(axis=1)


def boxes_from_records(name: str, records: Mapping[int, FrameResult], num_frames: int,
                       origin: str) -> TrackerBoxes:
    """A tracker from per-frame engine results (the current run's, or a research record's). A result
    without a box keeps the box of the frame before, as `eval` does; a tracker whose results name no
    object id anywhere has `ids` None."""
    boxes = np.full((num_frames, 4), np.nan)
    ids = np.full(num_frames, np.nan)
    any_id = False
    for i in sorted(records):
        if not 0 <= i < num_frames:
            raise InputError(f"{origin}: a result for frame {i}, outside the sequence's 0..{num_frames - 1}")
        r = records[i]
        if r.box is not None:
            boxes[i] = r.box
        elif i > 0 and (i - 1) in records:
            boxes[i] = boxes[i - 1]
        if r.selected_id is not None:
            ids[i] = r.selected_id
        any_id = any_id or r.selected_id is not None or any(c.object_id is not None for c in r.candidates)
    return TrackerBoxes(name, origin, boxes, ids if any_id else None)


def _layout_name(folder: Path) -> str:
    """A tracker's name from its pytracking result folder: <tracker>/<param>[_<run>] -> tracker (param)."""
    if folder.name.startswith("default") and folder.parent.name:
        return folder.parent.name + folder.name[len("default"):]
    if folder.parent.name and folder.parent.parent.name and re.search(r"_\d{3}$", folder.name):
        return f"{folder.parent.name} ({folder.name})"
    return folder.name


def result_files(path: Path, sequence: str) -> list[tuple[str, Path]]:
    """(name, file) of every tracker `path` holds for `sequence`: a result file itself, a folder holding
    <sequence>.txt, or a results root in pytracking's layout (<tracker>/<param>/<sequence>.txt)."""
    if path.is_file():
        if path.name.lower() == "gt.txt" and path.parent.name == "gt":  # a MOT sequence's file
            return [(path.parent.parent.name or path.stem, path)]
        name = _layout_name(path.parent) if path.stem == sequence else path.stem
        return [(name, path)]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    if (path / f"{sequence}.txt").is_file():
        return [(_layout_name(path), path / f"{sequence}.txt")]
    found = sorted(p for p in [*path.glob(f"*/{sequence}.txt"), *path.glob(f"*/*/{sequence}.txt")] if p.is_file())
    if not found:
        raise InputError(f"{path}: no result for sequence {sequence} (looked for {sequence}.txt there and in "
                         "<tracker>/<param>/ folders below it)")
    if len(found) > MAX_TRACKERS:
        raise InputError(f"{path}: {len(found)} result files for {sequence}; at most {MAX_TRACKERS} at once")
    return [(_layout_name(p.parent), p) for p in found]


Target = tuple[int, str]  # (target id, label name): the studio's selected target, as plain data
MOT_MIN_COLUMNS = 7  # frame, id, x, y, w, h, conf...: a pytracking result line has 4 numbers


@dataclass(frozen=True)
class TrackChoice:
    """A file with several tracks, none of which is the studio's selected target (by id, or the only one of
    its label): which one to compare is the user's to say (never silently the first)."""

    name: str
    path: Path
    tracks: tuple[Target, ...]  # (track id, label) of every track, in the file's order
    target: Target | None  # the studio's selected target when the file was read

    @property
    def question(self) -> str:
        shown = ", ".join(f"{tid} ({label})" for tid, label in self.tracks[:12])
        wanted = (f"none is the selected target {self.target[0]} ({self.target[1]})" if self.target
                  else "the studio has no selected target")
        more = ", ..." if len(self.tracks) > 12 else ""
        return f"{self.path.name} holds {len(self.tracks)} tracks ({shown}{more}); {wanted}. Which track to compare?"


class TrackChoiceNeeded(InputError):
    def __init__(self, choice: TrackChoice):
        super().__init__(choice.question)
        self.choice = choice


def _is_mot_text(path: Path) -> bool:
    """Whether a .txt file holds MOT lines (frame, track id, box, ...) rather than pytracking's 4 numbers."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return False  # the result reader says why
    for line in head.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return len([v for v in re.split(r"[,\s]+", line.strip()) if v]) >= MOT_MIN_COLUMNS
    return False


def _multi_object_document(path: Path, info: SequenceInfo):
    """The document of a file that holds several targets (MOT, COCO-VID, research record), or None for a
    single-object result file. Read with the formats' registry readers (the studio's import)."""
    from tracker.formats.registry import read_annotations

    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_research(path)
    if suffix == ".json":
        try:
            return read_annotations(path, "coco-vid")
        except InputError as first:  # a file of several videos: the open sequence's, by name
            try:
                return read_annotations(path, "coco-vid", video=info.name)
            except InputError:
                raise first from None
    if path.name.lower() == "gt.txt" or _is_mot_text(path):
        return read_annotations(path, "mot", num_frames=info.num_frames)
    return None


def chosen_track(doc, path: Path, name: str, target: Target | None, track: int | None = None) -> int:
    """The id of the track of `doc` to compare: `track` where given, the only one, the one with the selected
    target's id, else the only one with its label. TrackChoiceNeeded where none of several is that."""
    tracks = tuple((t.id, t.label) for t in doc.targets)
    ids = [tid for tid, _ in tracks]
    if track is not None:
        if track not in ids:
            raise InputError(f"{path} has no track {track}; its tracks are {ids[:20]}")
        return track
    if len(tracks) == 1:
        return ids[0]
    if target is not None:
        if target[0] in ids:  # the studio's exports keep target ids (a MOT file without class names
            return target[0]  # labels its tracks by MOT17 class, so the id decides)
        same_label = [tid for tid, label in tracks if label == target[1]]
        if len(same_label) == 1:
            return same_label[0]
    raise TrackChoiceNeeded(TrackChoice(name, path, tracks, None if target is None else tuple(target)))


def read_tracker(name: str, path: Path, info: SequenceInfo, target: Target | None = None,
                 track: int | None = None) -> TrackerBoxes:
    """One tracker from a file: a research record (.jsonl), a multi-object file (MOT .txt, COCO-VID .json:
    the track of the studio's selected `target`, or `track`) or a result file (a line per evaluated frame).
    InputError naming the file where it does not fit the sequence (short, NaN, other frame count)."""
    start, stop, _ = evaluated_frames(info)
    doc = _multi_object_document(path, info)
    if doc is not None:
        what = "a research record" if path.suffix.lower() == ".jsonl" else "a file"
        if len(doc) != info.num_frames and (what != "a file" or len(doc) > info.num_frames):
            raise InputError(f"{path}: {what} of {len(doc)} frames; {info.name} has {info.num_frames}")
        tid = chosen_track(doc, path, name, target, track)
        if len(doc.targets) > 1:
            label = doc.target(tid).label
            name, origin = f"{name} (track {tid})", f"{path}, track {tid} ({label})"
        else:
            origin = str(path)
        if what == "a research record":
            records = dict(doc.track(tid).debug_records)
            if not records:
                raise InputError(f"{path}: the research record holds no engine results to compare")
            return boxes_from_records(name, records, info.num_frames, origin)
        boxes = np.full((info.num_frames, 4), np.nan)
        boxes[:len(doc)] = doc.track(tid).boxes()
        return TrackerBoxes(name, origin, boxes)
    result = read_published_result(path.parent, path.stem, stop - start)
    boxes = np.full((info.num_frames, 4), np.nan)
    boxes[start:stop] = result.boxes
    return TrackerBoxes(name, str(path), boxes)


@dataclass(frozen=True)
class Entry:
    """A tracker as the comparison shows it: its boxes, per-frame IoU (NaN where not scored) and, where it
    has a box on every evaluated frame, its metrics (else `why` says why there are none)."""

    tracker: TrackerBoxes
    iou: np.ndarray  # (num_frames,)
    metrics: SequenceMetrics | None
    why: str | None = None

    @property
    def name(self) -> str:
        return self.tracker.name


def score_tracker(tracker: TrackerBoxes, info: SequenceInfo, convention: str = "project") -> Entry:
    """Per-frame IoU and metrics of `tracker` on `info`'s evaluated frames, as `eval` scores them: the
    boxes as a result file holds them, pre-processed by the protocol (frame `start` is the ground truth)."""
    iou = np.full(info.num_frames, np.nan)
    start, stop, why = evaluated_frames(info)
    if why is not None:
        return Entry(tracker, iou, None, why)
    rows = tracker.boxes[start:stop]
    have = ~np.isnan(rows).any(axis=1)
    gt, absent, _ = scoring_inputs(info, start, stop)
    if have.all():
        boxes = as_written(rows)
        errors = frame_errors(boxes, gt, absent, convention)
        iou[start:stop] = np.where(errors.valid, errors.iou, np.nan)
        return Entry(tracker, iou, score_boxes(boxes, info, start, stop, convention))
    valid = valid_frames(gt, absent) & have
    if valid.any():
        part = np.full(stop - start, np.nan)
        part[valid] = iou_inclusive(rows[valid], gt[valid])
        iou[start:stop] = part
    why = (f"{tracker.name}: boxes on {int(have.sum())} of the {stop - start} evaluated frames ({start}..{stop - 1}); "
           f"a success curve needs one on every frame (track from frame {start} to the end)")
    return Entry(tracker, iou, None, why)


def load_trackers(paths: Sequence[str | Path], info: SequenceInfo, convention: str = "project",
                  target: Target | None = None, tracks: Mapping[str, int] | None = None,
                  ) -> tuple[list[Entry], list[str], list[TrackChoice]]:
    """Read and score every tracker the paths hold (worker side). Returns (entries, errors, choices): a
    file that cannot be used is one error naming it, and the others still load; a file of several tracks
    none of which is the selected `target` is a choice to ask (`tracks[str(path)]` answers it)."""
    entries, errors, choices = [], [], []
    tracks = tracks or {}
    for path in paths:
        try:
            found = result_files(Path(path), info.name)
        except InputError as exc:
            errors.append(str(exc))
            continue
        for name, file in found:
            try:
                tracker = read_tracker(name, file, info, target, tracks.get(str(file)))
                entries.append(score_tracker(tracker, info, convention))
            except TrackChoiceNeeded as exc:
                choices.append(exc.choice)
            except InputError as exc:
                errors.append(str(exc))
    return entries, errors, choices


def _onsets(mask: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Frames where `mask` becomes true, looking only at `known` frames (unknown ones are skipped)."""
    frames = np.flatnonzero(known)
    m = mask[frames]
    starts = m & ~np.concatenate([[False], m[:-1]])
    return frames[starts]


def _next(frames: np.ndarray, frame: int, direction: int) -> int | None:
    if direction > 0:
        after = frames[frames > frame]
        return int(after[0]) if len(after) else None
    before = frames[frames < frame]
    return int(before[-1]) if len(before) else None


class ComparisonEvents:
    def __init__(self):
        self.changed = Event("changed")


class Comparison:
    """The trackers compared on the open sequence, the selected one and the failure threshold.

    Trackers keep the order they were added in and a colour each; adding one with a name already shown
    replaces it (keeping its colour). `events.changed()` fires after every change."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, convention: str = "project"):
        self.events = ComparisonEvents()
        self.info: SequenceInfo | None = None
        self.entries: dict[str, Entry] = {}
        self.colors: dict[str, Color] = {}
        self.selected: str | None = None
        self.threshold = float(threshold)
        self.convention = convention

    # ---- state
    def reset(self, info: SequenceInfo | None) -> None:
        """A new sequence (or none): nothing is compared yet."""
        self.info, self.entries, self.colors, self.selected = info, {}, {}, None
        self.events.changed.emit()

    @property
    def names(self) -> list[str]:
        return list(self.entries)

    @property
    def scored(self) -> bool:
        return self.info is not None and evaluated_frames(self.info)[2] is None

    @property
    def note(self) -> str | None:
        """Why nothing is scored on this sequence (no ground truth), or None."""
        return None if self.info is None else evaluated_frames(self.info)[2]

    def put(self, entry: Entry) -> None:
        if self.info is None:
            raise InputError("Open a sequence first; results are compared on the open sequence")
        if len(entry.tracker.boxes) != self.info.num_frames:
            raise InputError(f"{entry.tracker.origin}: {len(entry.tracker.boxes)} frames; "
                             f"{self.info.name} has {self.info.num_frames}")
        if entry.name not in self.colors:
            used = set(self.colors.values())
            free = [c for c in PALETTE if c not in used]
            self.colors[entry.name] = free[0] if free else PALETTE[len(self.colors) % len(PALETTE)]
        self.entries[entry.name] = entry
        if self.selected is None:
            self.selected = entry.name
        self.events.changed.emit()

    def remove(self, name: str) -> None:
        if name in self.entries:
            del self.entries[name]
            del self.colors[name]
            if self.selected == name:
                self.selected = next(iter(self.entries), None)
            self.events.changed.emit()

    def select(self, name: str) -> None:
        if name not in self.entries:
            raise InputError(f"no tracker {name!r} in the comparison; shown: {', '.join(self.entries) or 'none'}")
        if name != self.selected:
            self.selected = name
            self.events.changed.emit()

    def select_next(self, step: int = 1) -> str | None:
        """Select the next (or previous) tracker in the list, wrapping around."""
        names = self.names
        if not names:
            return None
        i = names.index(self.selected) if self.selected in names else -1
        self.select(names[(i + step) % len(names)])
        return self.selected

    def set_threshold(self, threshold: float) -> None:
        t = float(threshold)
        if not 0.0 <= t <= 1.0:
            raise InputError(f"the failure threshold is an IoU between 0 and 1; got {threshold}")
        if t != self.threshold:
            self.threshold = t
            self.events.changed.emit()

    def _entry(self, name: str | None) -> Entry:
        name = self.selected if name is None else name
        if name is None or name not in self.entries:
            raise InputError("Load results to compare first (Compare > Load result files or folder)")
        return self.entries[name]

    # ---- searches
    def failures(self, name: str | None = None) -> np.ndarray:
        """Frames where the tracker's IoU drops below the threshold (the first frame of every stretch
        below it; frames without a score are skipped)."""
        iou = self._entry(name).iou
        known = ~np.isnan(iou)
        return _onsets(np.where(known, iou, 1.0) < self.threshold, known)

    def next_failure(self, frame: int, direction: int = 1, name: str | None = None) -> int | None:
        return _next(self.failures(name), frame, direction)

    def id_switches(self, name: str | None = None) -> np.ndarray:
        """Frames where the tracker's target object id differs from the last id it gave before (frames
        without an id are skipped). InputError where the tracker has no ids."""
        entry = self._entry(name)
        ids = entry.tracker.ids
        if ids is None:
            raise InputError(NO_IDS.format(name=entry.name))
        frames = np.flatnonzero(~np.isnan(ids))
        values = ids[frames]
        return frames[1:][values[1:] != values[:-1]]

    def next_id_switch(self, frame: int, direction: int = 1, name: str | None = None) -> int | None:
        return _next(self.id_switches(name), frame, direction)

    # ---- what is shown
    def at(self, frame: int) -> list[tuple[str, Color, tuple[float, float, float, float] | None, float, int | None]]:
        """(name, colour, box or None, IoU (NaN: none), object id or None) of every tracker on `frame`."""
        out = []
        for name, e in self.entries.items():
            row = e.tracker.boxes[frame] if 0 <= frame < len(e.tracker.boxes) else None
            box = None if row is None or np.isnan(row).any() else tuple(float(v) for v in row)
            iou = float(e.iou[frame]) if 0 <= frame < len(e.iou) else float("nan")
            ids = e.tracker.ids
            oid = None if ids is None or not 0 <= frame < len(ids) or np.isnan(ids[frame]) else int(ids[frame])
            out.append((name, self.colors[name], box, iou, oid))
        return out

    def overlay(self, frame: int) -> list:
        """The trackers' boxes on `frame` as app.overlays descriptions, each in its colour (the selected one
        thicker) with its name and object id as a label: the frame view places those labels with the
        studio's others, so none covers a target's box, a candidate or another label. The current run alone
        draws nothing: it is the studio's own box, drawn already."""
        items: list = []
        if list(self.entries) == [CURRENT_RUN]:
            return items
        for name, color, box, _iou, oid in self.at(frame):
            if box is None:
                continue
            x, y, w, h = box
            items.append(ov.Rect(x, y, w, h, color, 3.0 if name == self.selected else 1.5, keep_clear=True))
            items.append(ov.Text(x, y + h, name if oid is None else f"{name} #{oid}", color, fill_alpha=150,
                                 near=(x, y, w, h), side="below", priority=2 if name == self.selected else 3))
        return items

    def success_legend(self) -> list[tuple[str, str, Curve]]:
        """(name, legend label 'name [AUC]', curve in %) of every scored tracker, best first (the order of
        `eval --plots`' legend)."""
        curves = {n: Curve(SUCCESS_THRESHOLDS, e.metrics.success_curve * 100.0, e.metrics.auc)
                  for n, e in self.entries.items() if e.metrics is not None}
        by_curve = {id(c): n for n, c in curves.items()}
        return [(by_curve[id(c)], label, c) for label, c in legend_entries(curves)]
