"""One-pass evaluation (OPE) metrics as pytracking computes them (design brief §6.3). Plain numpy.

Conventions, all taken from the protocol so that figures are comparable with published ones:
- boxes are [x, y, w, h]; pixels are inclusive (right = x + w - 1), centres are x + (w - 1) / 2;
- a frame is valid where all four ground-truth values are finite and > 0 and, where the format says
  so (LaSOT), the target is visible; invalid frames stay in the denominator and count as failures;
- before scoring, the first prediction is replaced by the ground truth, zero-size predictions by the
  previous prediction, and the prediction list is truncated or zero-padded to the ground truth length.

Deliberate difference (convention "project", the default): pytracking gives invalid frames a
normalised centre error of -1, so with its `error <= threshold` test they count as *successes* in
normalised precision (except LaSOT's absent frames). Here invalid frames are failures in every curve,
as in the success and precision curves. Convention "pytracking" reproduces pytracking's rule.

Excluded frames (GOT-10k's protocol: the first frame and frames where the target is absent) leave
the denominator altogether; `evaluate_sequence(..., exclude=mask)`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # IoU; a frame succeeds where IoU > threshold
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # pixels; succeeds where error <= threshold
NORM_PRECISION_THRESHOLDS = np.linspace(0.0, 0.5, 51)  # fraction of the GT size; error <= threshold
CONVENTIONS = ("project", "pytracking")  # how invalid frames count in normalised precision
PRECISION_AT = 20  # reported precision: the curve at 20 px
NORM_PRECISION_AT = 0.2  # reported normalised precision: the curve at 0.2


def _as_boxes(boxes, what: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"{what} must be a list of [x, y, w, h] boxes; got an array of shape {arr.shape}")
    return arr


def prepare_predictions(predictions, ground_truth) -> np.ndarray:
    """Predictions made ready for scoring against `ground_truth` (both (N, 4) [x, y, w, h]).

    1. a prediction with zero width or height is replaced by the previous (already replaced)
       prediction, except on frames whose ground truth is missing (NaN);
    2. the list is truncated, or padded with zero boxes, to the ground-truth length;
    3. frame 0 becomes the ground truth (it is the initialisation box).
    Raises InputError for NaN predictions or negative sizes, which no tracker should write.
    """
    pred = _as_boxes(predictions, "predictions").copy()
    gt = _as_boxes(ground_truth, "ground truth")
    if np.isnan(pred).any():
        raise InputError(f"predictions contain NaN (first at frame {int(np.argwhere(np.isnan(pred))[0, 0])})")
    if (pred[:, 2:] < 0).any():
        raise InputError(f"predictions have a negative size (first at frame {int(np.argwhere(pred[:, 2:] < 0)[0, 0])})")
    gt_missing = np.isnan(gt).any(axis=1)
    for i in range(1, len(pred)):
        if (pred[i, 2:] == 0).any() and not (i < len(gt) and gt_missing[i]):
            pred[i] = pred[i - 1]
    if len(pred) > len(gt):
        pred = pred[: len(gt)]
    elif len(pred) < len(gt):
        pred = np.vstack([pred, np.zeros((len(gt) - len(pred), 4))])
    if len(gt):
        pred[0] = gt[0]
    return pred


def valid_frames(ground_truth, absent=None) -> np.ndarray:
    """True where a frame can be scored: all GT values finite and > 0, and the target not absent."""
    gt = _as_boxes(ground_truth, "ground truth")
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(gt).all(axis=1) & (gt > 0).all(axis=1)
    if absent is not None:
        absent = np.asarray(absent, dtype=bool)
        if absent.shape != (len(gt),):
            raise InputError(f"absent flags have shape {absent.shape}; expected ({len(gt)},)")
        valid &= ~absent
    return valid


def iou_inclusive(a, b) -> np.ndarray:
    """IoU of paired boxes with inclusive pixels (a box covers x .. x + w - 1)."""
    a = _as_boxes(a, "boxes")
    b = _as_boxes(b, "boxes")
    tl = np.maximum(a[:, :2], b[:, :2])
    br = np.minimum(a[:, :2] + a[:, 2:] - 1.0, b[:, :2] + b[:, 2:] - 1.0)
    inter = np.clip(br - tl + 1.0, 0.0, None).prod(axis=1)
    union = a[:, 2:].prod(axis=1) + b[:, 2:].prod(axis=1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union


def centres(boxes) -> np.ndarray:
    """(N, 2) box centres, x + (w - 1) / 2 and y + (h - 1) / 2."""
    b = _as_boxes(boxes, "boxes")
    return b[:, :2] + 0.5 * (b[:, 2:] - 1.0)


@dataclass(frozen=True)
class FrameErrors:
    """Per-frame errors of one sequence after pre-processing. Invalid frames: IoU -1, errors +inf."""

    iou: np.ndarray
    centre_error: np.ndarray  # pixels
    norm_centre_error: np.ndarray  # centre distance after dividing both centres by the GT (w, h)
    valid: np.ndarray


def frame_errors(predictions, ground_truth, absent=None, convention: str = "project") -> FrameErrors:
    """Per-frame errors. Under convention "pytracking" an invalid frame's normalised error is -1 (a
    success at every threshold) unless the frame is marked absent, as pytracking's LaSOT rule has it."""
    if convention not in CONVENTIONS:
        raise InputError(f"unknown convention {convention!r}; choose from {', '.join(CONVENTIONS)}")
    gt = _as_boxes(ground_truth, "ground truth")
    pred = prepare_predictions(predictions, gt)
    valid = valid_frames(gt, absent)
    safe_gt = np.where(valid[:, None], gt, 1.0)  # keeps the arithmetic finite on invalid rows
    iou = iou_inclusive(pred, safe_gt)
    pc, gc = centres(pred), centres(safe_gt)
    err = np.linalg.norm(pc - gc, axis=1)
    norm_err = np.linalg.norm(pc / safe_gt[:, 2:] - gc / safe_gt[:, 2:], axis=1)
    iou[~valid] = -1.0
    err[~valid] = np.inf
    norm_err[~valid] = np.inf
    if convention == "pytracking":
        shown = np.ones(len(gt), bool) if absent is None else ~np.asarray(absent, dtype=bool)
        norm_err[~valid & shown] = -1.0
    return FrameErrors(iou, err, norm_err, valid)


@dataclass(frozen=True)
class SequenceMetrics:
    """Curves and headline figures of one sequence (or their average over sequences).

    Rates are fractions in [0, 1]; `auc`, `op50`, `op75`, `precision`, `norm_precision` and
    `avg_overlap` are percentages, as pytracking reports them.
    """

    name: str
    num_frames: int
    num_valid: int
    success_curve: np.ndarray  # over SUCCESS_THRESHOLDS
    precision_curve: np.ndarray  # over PRECISION_THRESHOLDS
    norm_precision_curve: np.ndarray  # over NORM_PRECISION_THRESHOLDS
    avg_overlap: float  # mean IoU over valid frames, %

    @property
    def auc(self) -> float:
        return float(self.success_curve.mean() * 100.0)

    @property
    def op50(self) -> float:
        return float(self.success_curve[10] * 100.0)

    @property
    def op75(self) -> float:
        return float(self.success_curve[15] * 100.0)

    @property
    def precision(self) -> float:
        return float(self.precision_curve[PRECISION_AT] * 100.0)

    @property
    def norm_precision(self) -> float:
        return float(self.norm_precision_curve[20] * 100.0)

    def summary(self) -> dict[str, float]:
        return {"auc": self.auc, "op50": self.op50, "op75": self.op75, "precision": self.precision,
                "norm_precision": self.norm_precision, "avg_overlap": self.avg_overlap}


def evaluate_sequence(predictions, ground_truth, absent=None, name: str = "", exclude=None,
                      convention: str = "project") -> SequenceMetrics:
    """Score one sequence's predictions ((N, 4) [x, y, w, h], frame 0 included) against its ground truth.

    `exclude`: (N,) bool, frames left out of every curve and of the frame count (GOT-10k's protocol).
    """
    gt = _as_boxes(ground_truth, "ground truth")
    if len(gt) == 0:
        raise InputError(f"sequence {name or '?'} has no ground truth to score against")
    e = frame_errors(predictions, gt, absent, convention)
    keep = np.ones(len(gt), bool)
    if exclude is not None:
        exclude = np.asarray(exclude, dtype=bool)
        if exclude.shape != (len(gt),):
            raise InputError(f"exclude flags have shape {exclude.shape}; expected ({len(gt)},)")
        keep = ~exclude
    n = int(keep.sum())
    if n == 0:
        raise InputError(f"sequence {name or '?'}: every frame is excluded; nothing to score")
    iou, err, norm_err, valid = e.iou[keep], e.centre_error[keep], e.norm_centre_error[keep], e.valid[keep]
    success = (iou[:, None] > SUCCESS_THRESHOLDS[None, :]).sum(axis=0) / n
    precision = (err[:, None] <= PRECISION_THRESHOLDS[None, :]).sum(axis=0) / n
    norm_precision = (norm_err[:, None] <= NORM_PRECISION_THRESHOLDS[None, :]).sum(axis=0) / n
    num_valid = int(valid.sum())
    ao = float(iou[valid].mean() * 100.0) if num_valid else 0.0
    return SequenceMetrics(name, n, num_valid, success, precision, norm_precision, ao)


def average_metrics(per_sequence: Sequence[SequenceMetrics], name: str = "mean") -> SequenceMetrics:
    """Average over sequences: each sequence weighs the same, whatever its length (as pytracking)."""
    if not per_sequence:
        raise InputError("no sequences to average")
    return SequenceMetrics(
        name,
        sum(m.num_frames for m in per_sequence),
        sum(m.num_valid for m in per_sequence),
        np.mean([m.success_curve for m in per_sequence], axis=0),
        np.mean([m.precision_curve for m in per_sequence], axis=0),
        np.mean([m.norm_precision_curve for m in per_sequence], axis=0),
        float(np.mean([m.avg_overlap for m in per_sequence])),
    )
