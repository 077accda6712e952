"""Evaluation protocols beyond one pass: SRE (perturbed first boxes) and TRE (later start frames).

- OPE: one run from the first frame's ground truth (runner.evaluate_source).
- SRE (spatial robustness, after OTB, Wu et al. 2013): 12 runs from the first frame, each from a perturbed
  ground-truth box: shifted by 10% of its width / height in 8 directions, and scaled by 0.8, 0.9, 1.1, 1.2
  about its centre. A person never draws the exact box; SRE says how much that costs.
- TRE (temporal robustness, as OTB defines it): 20 runs starting from the ground truth of 20 start frames
  spread evenly over the sequence, each to the end of the sequence.

Each run is scored like an OPE run over the frames it tracked. A protocol reports, per engine and sequence,
the mean AUC over runs, the worst run's AUC and the runs lost: a run whose mean IoU over its last fifth of
frames is below 0.1 ended off the target.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formats.pytracking import as_written
from ..sources import FrameSource, open_source
from .metrics import SequenceMetrics, evaluate_sequence, iou_inclusive, valid_frames
from .runner import EngineFactory, TrackRun, evaluation_range, scoring_inputs, track_source

PROTOCOLS = ("ope", "sre", "tre")
SRE_SHIFT = 0.1
SRE_SCALES = (0.8, 0.9, 1.1, 1.2)
TRE_RUNS = 20
LOST_IOU = 0.1          # a run is lost when the mean IoU of its last fifth is below this


@dataclass(frozen=True)
class RunStart:
    """Where a run starts: frame index, box, and a label (e.g. 'shift +x-y', 'scale 0.8', 'frame 120')."""

    label: str
    frame: int
    box: tuple[float, float, float, float]


def sre_boxes(box: Sequence[float], image_wh: tuple[int, int] | None = None) -> list[RunStart]:
    """The 12 SRE starting boxes of a ground-truth box (8 shifts, 4 scales), kept inside the image if given."""
    x, y, w, h = (float(v) for v in box)
    out = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dx == dy == 0:
                continue
            label = "shift " + "".join(f"{'+' if d > 0 else '-'}{a}" for d, a in ((dx, "x"), (dy, "y")) if d)
            out.append((label, (x + dx * SRE_SHIFT * w, y + dy * SRE_SHIFT * h, w, h)))
    cx, cy = x + w / 2, y + h / 2
    for s in SRE_SCALES:
        out.append((f"scale {s:g}", (cx - s * w / 2, cy - s * h / 2, s * w, s * h)))
    starts = []
    for label, b in out:
        if image_wh is not None:
            b = _inside(b, image_wh)
        starts.append(RunStart(label, 0, b))
    return starts


def _inside(box, image_wh) -> tuple[float, float, float, float]:
    """The part of a box that lies in the image (a perturbed box may reach past the border)."""
    x, y, w, h = box
    iw, ih = image_wh
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(iw), x + w), min(float(ih), y + h)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return box
    return (x0, y0, x1 - x0, y1 - y0)


def tre_starts(ground_truth: np.ndarray, span: int, runs: int = TRE_RUNS) -> list[RunStart]:
    """`runs` start frames spread evenly over the first `span` frames (OTB's TRE), each moved to the next frame
    with a valid ground-truth box; a start needs at least 2 frames to track."""
    valid = valid_frames(ground_truth[:span])
    starts, seen = [], set()
    for k in range(runs):
        f = int(math.floor(k * span / runs))
        while f < span - 1 and not valid[f]:
            f += 1
        if f >= span - 1 or f in seen:
            continue
        seen.add(f)
        starts.append(RunStart(f"frame {f}", f, tuple(float(v) for v in ground_truth[f])))
    return starts


@dataclass(frozen=True)
class ProtocolRun:
    start: RunStart
    run: TrackRun
    metrics: SequenceMetrics
    tail_iou: float        # mean IoU over the last fifth of the run's frames

    @property
    def lost(self) -> bool:
        return not self.tail_iou >= LOST_IOU


@dataclass(frozen=True)
class ProtocolEvaluation:
    """All runs of one engine on one sequence under one protocol."""

    protocol: str
    engine: str
    sequence: str
    runs: tuple[ProtocolRun, ...]

    @property
    def auc(self) -> float:
        return float(np.mean([r.metrics.auc for r in self.runs]))

    @property
    def worst(self) -> ProtocolRun:
        return min(self.runs, key=lambda r: r.metrics.auc)

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.runs)

    @property
    def precision(self) -> float:
        return float(np.mean([r.metrics.precision for r in self.runs]))


def run_starts(protocol: str, source: FrameSource, max_frames: int | None = None) -> tuple[int, int, list[RunStart]]:
    """(start, stop, the protocol's run starts) for an annotated source: the frames one-pass evaluation covers
    (`runner.evaluation_range`, e.g. OTB's startFrame), and runs whose frames are indices into the source."""
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    start, stop = evaluation_range(source, max_frames)
    gt = np.asarray(source.ground_truth.boxes, dtype=np.float64)
    first = tuple(float(v) for v in gt[start])
    if protocol == "ope":
        return start, stop, [RunStart("ground truth", start, first)]
    if protocol == "sre":
        frame = source.frame(start)
        return start, stop, [replace(s, frame=start)
                             for s in sre_boxes(first, (int(frame.shape[1]), int(frame.shape[0])))]
    return start, stop, [replace(s, frame=s.frame + start) for s in tre_starts(gt[start:stop], stop - start)]


def evaluate_protocol_source(name: str, factory: EngineFactory, source: FrameSource, protocol: str,
                             max_frames: int | None = None) -> ProtocolEvaluation:
    """Every run of `protocol` of one engine on one opened sequence (a fresh engine per run). Runs are scored
    on the boxes a result file would hold (`as_written`), as one-pass evaluation scores them."""
    start, stop, starts = run_starts(protocol, source, max_frames)
    boxes, absent, exclude = scoring_inputs(source, start, stop)
    runs = []
    for run_start in starts:
        k = run_start.frame - start
        run = track_source(factory(), source, run_start.box, run_start.frame, stop - run_start.frame,
                           engine_name=name)
        if not run.complete:
            raise InputError(f"{source.path}: {protocol.upper()} run from {run_start.label} stopped: {run.failure}")
        run = replace(run, boxes=as_written(run.boxes))
        seg_gt = boxes[k:]
        seg_absent = None if absent is None else absent[k:]
        seg_exclude = None if exclude is None else exclude[k:].copy()
        if seg_exclude is not None:
            seg_exclude[0] = True  # GOT-10k leaves each run's initialisation frame out
            if seg_exclude.all():
                seg_exclude = None
        # The first frame is scored against the ground truth (as OPE scores it), not the perturbed start box.
        metrics = evaluate_sequence(run.boxes, seg_gt, seg_absent, name=source.name, exclude=seg_exclude)
        n = len(run.boxes)
        tail = slice(n - max(1, n // 5), n)
        valid = valid_frames(seg_gt[tail], None if seg_absent is None else seg_absent[tail])
        ious = iou_inclusive(run.boxes[tail][valid], seg_gt[tail][valid]) if valid.any() else np.array([np.nan])
        runs.append(ProtocolRun(run_start, run, metrics, float(np.nanmean(ious)) if len(ious) else float("nan")))
    return ProtocolEvaluation(protocol, name, source.name, tuple(runs))


def evaluate_protocol(engines: Mapping[str, EngineFactory], sequences: Iterable[str | Path], protocol: str,
                      max_frames: int | None = None,
                      progress: Callable[[ProtocolEvaluation], None] | None = None) -> list[ProtocolEvaluation]:
    """Every engine on every sequence under `protocol`, ordered by engine, then sequence."""
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    found: dict[tuple[str, int], ProtocolEvaluation] = {}
    for s_index, path in enumerate(sequences):
        with open_source(path) as source:
            for name, factory in engines.items():
                ev = evaluate_protocol_source(name, factory, source, protocol, max_frames)
                found[(name, s_index)] = ev
                if progress is not None:
                    progress(ev)
    order = {name: i for i, name in enumerate(engines)}
    return [found[k] for k in sorted(found, key=lambda k: (order[k[0]], k[1]))]


def format_protocol_table(evaluations: Sequence[ProtocolEvaluation]) -> str:
    """One row per engine and sequence (runs, mean AUC, worst run, runs lost), then a mean row per engine."""
    if not evaluations:
        return ""
    protocol = evaluations[0].protocol.upper()
    seq_w = max([len("sequence")] + [len(e.sequence) for e in evaluations])
    eng_w = max([len("engine")] + [len(e.engine) for e in evaluations])
    header = (f"{'engine':<{eng_w}}  {'sequence':<{seq_w}}  {'runs':>4}  {protocol + ' AUC':>8}  {'Prec':>6}  "
              f"{'worst':>6}  worst run       {'lost':>4}")
    lines = [header, "-" * len(header)]
    by_engine: dict[str, list[ProtocolEvaluation]] = {}
    for e in evaluations:
        by_engine.setdefault(e.engine, []).append(e)
    for engine, evs in by_engine.items():
        for e in evs:
            w = e.worst
            lines.append(f"{engine:<{eng_w}}  {e.sequence:<{seq_w}}  {len(e.runs):>4}  {e.auc:>8.1f}  "
                         f"{e.precision:>6.1f}  {w.metrics.auc:>6.1f}  {w.start.label:<15} {e.lost:>4}")
        if len(evs) > 1:
            worst = min(evs, key=lambda e: e.worst.metrics.auc)
            lines.append(f"{engine:<{eng_w}}  {'mean':<{seq_w}}  {sum(len(e.runs) for e in evs):>4}  "
                         f"{np.mean([e.auc for e in evs]):>8.1f}  {np.mean([e.precision for e in evs]):>6.1f}  "
                         f"{worst.worst.metrics.auc:>6.1f}  {worst.sequence[:15]:<15} "
                         f"{sum(e.lost for e in evs):>4}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
