"""Run engines over sequences, one pass from the first frame's ground truth, and score them.

This is the one implementation behind `main.py eval`, `main.py track` and bench/scoreboard.py.
Engines are given as factories (name -> callable returning a fresh Engine), so any engine in the
registry, or one built by hand, can be evaluated; each sequence gets a fresh engine, as in pytracking.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..engine import Engine
from ..errors import InputError
from ..formats.pytracking import (
    SequenceResult, as_written, read_published_result, results_dir, write_sequence_result,
)
from ..runloop import RunPlan, run_engine
from ..sources import FrameSource, open_source
from .metrics import SequenceMetrics, average_metrics, evaluate_sequence

EngineFactory = Callable[[], Engine]


@dataclass(frozen=True)
class TrackRun:
    """What one engine did on consecutive frames of one sequence, from the initialisation frame on."""

    engine: str
    sequence: str
    start: int  # index of the initialisation frame
    boxes: np.ndarray  # (N, 4) [x, y, w, h]; row 0 is the initial box
    times: np.ndarray  # (N,) seconds spent in initialize/track per frame (frame reading excluded)
    presence: np.ndarray  # (N,)
    flags: tuple[str, ...]  # Flag values per frame
    planned: int | None = None  # frames the run was to cover (None: as many as it has)
    failure: str | None = None  # why it ended early (names the frame), None where it did not fail
    cancelled: bool = False

    @property
    def complete(self) -> bool:
        return self.failure is None and not self.cancelled and (self.planned is None or self.planned == len(self.boxes))

    @property
    def num_frames(self) -> int:
        return len(self.boxes)

    @property
    def not_found(self) -> int:
        return sum(f == "not_found" for f in self.flags)

    @property
    def fps(self) -> float:
        """Tracking speed: frames after the first per second of engine time (initialisation excluded)."""
        total = float(self.times[1:].sum())
        return (self.num_frames - 1) / total if total > 0 else float("nan")

    @property
    def median_time(self) -> float:
        """Median seconds per tracked frame (initialisation excluded)."""
        return float(np.median(self.times[1:])) if self.num_frames > 1 else float("nan")

    def as_result(self) -> SequenceResult:
        return SequenceResult(self.boxes, self.times, self.presence)


def track_source(engine: Engine, source: FrameSource, init_box: Sequence[float], start: int = 0,
                 num_frames: int | None = None, engine_name: str | None = None,
                 on_frame: Callable[[int, np.ndarray], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, governor=None) -> TrackRun:
    """Initialise `engine` on frame `start` with `init_box`, then track forward (tracker.runloop).

    Tracks `num_frames` frames in all (the initial one included), or up to the end of the source.
    A frame where the engine gives no box keeps the previous box (flagged as the engine said), so
    every frame has a box. `on_frame(index, box)` is called after each frame, e.g. for progress.
    A frame that cannot be read (or an input the engine refuses) ends the run: the TrackRun holds the
    frames before it and `failure` names the frame.
    """
    total = len(source)
    if not 0 <= start < total:
        raise InputError(f"{source.path}: start frame {start} is outside the sequence (0..{total - 1})")
    end = total if num_frames is None else min(total, start + max(int(num_frames), 1))
    steps: list = []

    def on_step(step) -> None:
        steps.append(step)
        if on_frame is not None:
            on_frame(step.index, np.asarray(step.box, dtype=np.float64))

    box = tuple(float(v) for v in init_box)
    outcome = run_engine(engine, source, RunPlan.forward(start, box, end), on_step, should_stop, governor)
    return TrackRun(engine_name or getattr(engine, "name", "engine"), source.name, start,
                    np.array([s.box for s in steps], dtype=np.float64).reshape(-1, 4),
                    np.array([s.seconds for s in steps], dtype=np.float64),
                    np.array([s.result.presence for s in steps], dtype=np.float64),
                    tuple(getattr(s.result.flag, "value", str(s.result.flag)) for s in steps),
                    planned=end - start, failure=outcome.failure, cancelled=outcome.cancelled)


@dataclass(frozen=True)
class SequenceEvaluation:
    run: TrackRun
    metrics: SequenceMetrics | None  # None where the run failed (run.failure says why)

    @property
    def failure(self) -> str | None:
        return self.run.failure

    @property
    def engine(self) -> str:
        return self.run.engine

    @property
    def sequence(self) -> str:
        return self.run.sequence


# pytracking's OTB list leaves the first frames of these sequences out (its `initOmit`): evaluation starts that
# many frames after the stated (or first annotated) frame. A rule by name, as that list is one.
OTB_INIT_OMIT = {"Tiger1": 5}


def evaluation_range(source: FrameSource, max_frames: int | None = None) -> tuple[int, int]:
    """(start, stop): the frames a one-pass evaluation covers, initialised on frame `start`.

    Where the dataset states the range (OTB cfg.json startFrame/endFrame: David is evaluated on its
    frames 300..770, as pytracking does) that range; otherwise from the first to the last annotated
    frame (OTB's Football1 has 81 images but ground truth for 74, and the benchmark's sequence is those
    74). OTB's Tiger1 starts 5 frames later (pytracking's initOmit, OTB_INIT_OMIT). At most `max_frames`
    frames. Raises InputError where the start frame has no usable box.
    """
    gt = source.ground_truth
    if gt is None:
        raise InputError(f"{source.path}: no ground truth found; evaluation needs an annotated sequence")
    boxes = np.asarray(gt.boxes, dtype=np.float64)
    annotated = np.flatnonzero(~np.isnan(boxes).all(axis=1))
    if len(annotated) == 0:
        raise InputError(f"{gt.path}: the ground truth has no boxes")
    stated = getattr(source, "evaluation_range", None)
    if stated is not None:
        start, stop = stated
    else:
        start, stop = int(annotated[0]), min(len(source), int(annotated[-1]) + 1)
    if gt.format == "otb":
        start = min(start + OTB_INIT_OMIT.get(source.name, 0), stop - 1)
    if max_frames is not None:
        stop = min(stop, start + max(int(max_frames), 1))
    first = boxes[start]
    absent = gt.absent is not None and bool(np.asarray(gt.absent)[start])
    if np.isnan(first).any() or first[2] <= 0 or first[3] <= 0 or absent:
        raise InputError(f"{gt.path}: frame {start + 1}, where evaluation starts, has no usable box "
                         f"({first.tolist()}); one-pass evaluation initialises on it")
    return start, stop


def annotated_span(source: FrameSource, max_frames: int | None = None) -> int:
    """How many frames a one-pass evaluation covers (see `evaluation_range`)."""
    start, stop = evaluation_range(source, max_frames)
    return stop - start


def scoring_inputs(source: FrameSource, start: int, stop: int):
    """Ground truth, absent flags and excluded frames of the evaluated range, per the dataset's protocol:
    GOT-10k leaves its first frame and the frames where the target is absent out of the score (as its
    toolkit does); LaSOT's absent frames stay in and fail (as pytracking and the LaSOT toolkit)."""
    gt = source.ground_truth
    boxes = np.asarray(gt.boxes, dtype=np.float64)[start:stop]
    absent = None if gt.absent is None else np.asarray(gt.absent, dtype=bool)[start:stop]
    exclude = None
    if gt.format == "got10k":
        exclude = np.zeros(len(boxes), bool) if absent is None else absent.copy()
        exclude[0] = True
        if exclude.all():
            exclude = None  # a one-frame range: nothing but the initialisation to score
    return boxes, absent, exclude


def score_boxes(boxes, source: FrameSource, start: int, stop: int, convention: str = "project") -> SequenceMetrics:
    """The metrics of `boxes` (one per frame start..stop-1, as a result file holds them) on `source`'s
    evaluated frames, by the dataset's protocol. The one scoring step of `eval`, published results and
    the studio's comparison, so every place prints the same number for the same boxes."""
    gt, absent, exclude = scoring_inputs(source, start, stop)
    return evaluate_sequence(boxes, gt, absent, name=source.name, exclude=exclude, convention=convention)


def evaluate_source(name: str, factory: EngineFactory, source: FrameSource,
                    max_frames: int | None = None, convention: str = "project",
                    on_frame: Callable[[int, np.ndarray], None] | None = None,
                    governor=None) -> SequenceEvaluation:
    """One pass of one engine over one opened sequence, scored against its ground truth.

    The boxes scored are the boxes a result file holds (`as_written`), so the table equals what any
    toolkit computes from the files. A sequence that cannot be evaluated (no usable first box, a frame
    that cannot be read) gives an evaluation without metrics whose `failure` says why; it never raises
    for bad input.
    """
    try:
        start, stop = evaluation_range(source, max_frames)
    except InputError as exc:
        return failed_evaluation(name, source.name, str(exc))
    first_box = np.asarray(source.ground_truth.boxes, dtype=np.float64)[start]
    run = track_source(factory(), source, first_box, start, stop - start, engine_name=name, on_frame=on_frame,
                       governor=governor)
    if not run.complete:
        return SequenceEvaluation(run, None)
    run = replace(run, boxes=as_written(run.boxes))
    return SequenceEvaluation(run, score_boxes(run.boxes, source, start, stop, convention))


def failed_evaluation(engine: str, sequence: str, failure: str) -> SequenceEvaluation:
    empty = np.zeros((0, 4))
    return SequenceEvaluation(TrackRun(engine, sequence, 0, empty, np.zeros(0), np.zeros(0), (),
                                       planned=None, failure=failure), None)


def evaluate_path(name: str, factory: EngineFactory, path: str | Path, max_frames: int | None = None,
                  governor=None, convention: str = "project") -> SequenceEvaluation:
    """`evaluate_source` on a sequence folder opened here (one task of a batch; never raises for bad input)."""
    try:
        source = open_source(path)
    except InputError as exc:
        return failed_evaluation(name, Path(path).name, str(exc))
    with source:
        return evaluate_source(name, factory, source, max_frames, convention, governor=governor)


def evaluate_result(name: str, folder: str | Path, source: FrameSource, max_frames: int | None = None,
                    convention: str = "project") -> SequenceEvaluation:
    """Score a published result (pytracking layout: `folder/<sequence>.txt`) like an engine's run."""
    start, stop = evaluation_range(source, max_frames)
    result = read_published_result(folder, source.name, stop - start)
    n = stop - start
    run = TrackRun(name, source.name, start, result.boxes,
                   result.times if result.times is not None else np.full(n, np.nan),
                   result.presence if result.presence is not None else np.ones(n), ("normal",) * n)
    return SequenceEvaluation(run, score_boxes(run.boxes, source, start, stop, convention))


def evaluate_engines(engines: Mapping[str, EngineFactory], sequences: Iterable[str | Path],
                     results_root: str | Path | None = None, max_frames: int | None = None,
                     param: str = "default", run_id: int | None = None,
                     progress: Callable[[SequenceEvaluation], None] | None = None,
                     results_from: Mapping[str, str | Path] | None = None, convention: str = "project",
                     on_frame: Callable[[int, np.ndarray], None] | None = None,
                     governor=None) -> list[SequenceEvaluation]:
    """Run every engine on every sequence; write pytracking result files under `results_root` if given.

    `results_from` maps a name to a folder of published results (`<folder>/<sequence>.txt`), scored
    beside the engines. Returns the evaluations ordered by engine (then published results), then
    sequence. Sequences are opened once each. `on_frame` is called after every tracked frame. A sequence
    that fails is kept in the list (with `failure`) and writes no result files; the others go on.
    """
    results_from = dict(results_from or {})
    clash = set(results_from) & set(engines)
    if clash:
        raise InputError(f"{', '.join(sorted(clash))}: named both as an engine and as --results-from")
    evaluations: dict[tuple[str, int], SequenceEvaluation] = {}
    for s_index, path in enumerate(sequences):
        try:
            source = open_source(path)
        except InputError as exc:
            for name in [*engines, *results_from]:
                evaluations[(name, s_index)] = ev = failed_evaluation(name, Path(path).name, str(exc))
                if progress is not None:
                    progress(ev)
            continue
        with source:
            for name, factory in engines.items():
                ev = evaluate_source(name, factory, source, max_frames, convention, on_frame, governor)
                if results_root is not None and ev.failure is None:
                    write_sequence_result(results_dir(results_root, name, param, run_id), ev.sequence,
                                          ev.run.as_result())
                evaluations[(name, s_index)] = ev
                if progress is not None:
                    progress(ev)
            for name, folder in results_from.items():
                evaluations[(name, s_index)] = evaluate_result(name, folder, source, max_frames, convention)
    order = {name: i for i, name in enumerate([*engines, *results_from])}
    return [evaluations[k] for k in sorted(evaluations, key=lambda k: (order[k[0]], k[1]))]


COLUMNS: dict[str, tuple[str, Callable[[SequenceEvaluation], float], str]] = {
    # key: (header, value of one sequence, format)
    "auc": ("AUC", lambda e: e.metrics.auc, "{:6.1f}"),
    "op50": ("OP50", lambda e: e.metrics.op50, "{:6.1f}"),
    "op75": ("OP75", lambda e: e.metrics.op75, "{:6.1f}"),
    "precision": ("Prec", lambda e: e.metrics.precision, "{:6.1f}"),
    "norm_precision": ("NPrec", lambda e: e.metrics.norm_precision, "{:6.1f}"),
    "fps": ("FPS", lambda e: e.run.fps, "{:7.1f}"),
    "median_ms": ("med ms", lambda e: e.run.median_time * 1000.0, "{:7.1f}"),
    "not_found": ("lost", lambda e: e.run.not_found, "{:5d}"),
}
_METRIC_KEYS = {"auc": "auc", "op50": "op50", "op75": "op75", "precision": "precision",
                "norm_precision": "norm_precision"}


CONVENTION_NOTES = {
    "project": "NPrec convention: project (frames without a valid ground-truth box fail)",
    "pytracking": "NPrec convention: pytracking (frames without a valid ground-truth box count as "
                  "successes, except absent ones)",
}


def format_table(evaluations: Sequence[SequenceEvaluation],
                 columns: Sequence[str] = ("auc", "precision", "norm_precision", "fps"),
                 convention: str | None = None) -> str:
    """A plain-text table: one row per engine and sequence, then a mean row per engine.

    With `convention`, a first line says how normalised precision counted invalid frames.

    Accuracy means are over sequences (each sequence weighs the same, as pytracking); FPS and
    median times are means of the per-sequence values; `lost` is a sum.
    """
    for c in columns:
        if c not in COLUMNS:
            raise InputError(f"unknown column {c!r}; choose from {', '.join(COLUMNS)}")
    seq_w = max([len("sequence"), len("mean")] + [len(e.sequence) for e in evaluations])
    eng_w = max([len("engine")] + [len(e.engine) for e in evaluations])
    widths = [max(len(COLUMNS[c][0]), len(COLUMNS[c][2].format(0))) for c in columns]
    header = f"{'engine':<{eng_w}}  {'sequence':<{seq_w}}  {'frames':>6}" + "".join(
        f"  {COLUMNS[c][0]:>{w}}" for c, w in zip(columns, widths))
    lines = [header, "-" * len(header)]
    if convention is not None:
        if convention not in CONVENTION_NOTES:
            raise InputError(f"unknown convention {convention!r}; choose from {', '.join(CONVENTION_NOTES)}")
        lines.insert(0, "# " + CONVENTION_NOTES[convention])
    engines: dict[str, list[SequenceEvaluation]] = {}
    for e in evaluations:
        engines.setdefault(e.engine, []).append(e)

    def row(engine: str, label: str, frames: int, values: list) -> str:
        cells = "".join(f"  {COLUMNS[c][2].format(v):>{w}}" for c, w, v in zip(columns, widths, values))
        return f"{engine:<{eng_w}}  {label:<{seq_w}}  {frames:>6}" + cells

    for engine, all_evs in engines.items():
        evs = []
        for e in all_evs:
            if e.failure is not None:
                lines.append(f"{engine:<{eng_w}}  {e.sequence:<{seq_w}}  {e.run.num_frames:>6}  FAILED: {e.failure}")
                continue
            evs.append(e)
            lines.append(row(engine, e.sequence, e.run.num_frames, [COLUMNS[c][1](e) for c in columns]))
        if len(evs) > 1 or (evs and len(all_evs) > 1):
            mean = average_metrics([e.metrics for e in evs])
            values = []
            for c in columns:
                if c in _METRIC_KEYS:
                    values.append(getattr(mean, _METRIC_KEYS[c]))
                elif c == "not_found":
                    values.append(sum(e.run.not_found for e in evs))
                else:
                    per_sequence = np.asarray([COLUMNS[c][1](e) for e in evs], dtype=np.float64)
                    finite = per_sequence[~np.isnan(per_sequence)]
                    values.append(float(finite.mean()) if len(finite) else float("nan"))
            lines.append(row(engine, "mean", sum(e.run.num_frames for e in evs), values))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
