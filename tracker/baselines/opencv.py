"""OpenCV's single-object trackers behind the Engine interface: CSRT, KCF, MIL (opencv-contrib) and
NanoTrack v2 (cv2.TrackerNano, a small Siamese network run through OpenCV's DNN module).

They are baselines: no score map, no candidates. Presence is NanoTrack's own tracking score; the
others have none, so presence is 1.0 while the tracker reports success and 0.0 when it reports
failure. On a reported failure the engine keeps the last box and flags the frame NOT_FOUND (OpenCV
returns an empty box then), so every frame still has a box, as pytracking's result files need.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..boxes import validate_init_box
from ..engine import Engine, check_frame
from ..errors import InputError
from ..paths import shared_dir
from ..result import FrameResult, Flag

KINDS = ("csrt", "kcf", "mil", "nanotrack")
# Smallest initial box side (pixels) each tracker starts from: CSRT fails an assertion below 2 px,
# MIL loops forever on boxes of 4 x 4 px or less.
MIN_SIDE = {"csrt": 2, "kcf": 1, "mil": 5, "nanotrack": 1}
NANOTRACK_BACKBONE = "nanotrack_backbone_sim.onnx"
NANOTRACK_HEAD = "nanotrack_head_sim.onnx"


def default_model_dir() -> Path | None:
    """Where the NanoTrack model files are looked for when no `model_dir` is given."""
    shared = shared_dir()
    return shared / "data" / "weights" if shared is not None else None


@dataclass(frozen=True)
class OpenCVParams:
    kind: str = "csrt"
    model_dir: Path | None = None  # NanoTrack only: folder holding the two .onnx files


def _create_cv_tracker(params: OpenCVParams):
    if params.kind == "csrt":
        return cv2.TrackerCSRT.create()
    if params.kind == "kcf":
        return cv2.TrackerKCF.create()
    if params.kind == "mil":
        return cv2.TrackerMIL.create()
    folder = params.model_dir
    if folder is None:
        raise InputError(
            "NanoTrack needs its model files "
            f"{NANOTRACK_BACKBONE} and {NANOTRACK_HEAD}; pass model_dir=FOLDER (no ../shared/data/weights here)")
    backbone, head = Path(folder) / NANOTRACK_BACKBONE, Path(folder) / NANOTRACK_HEAD
    missing = [str(p) for p in (backbone, head) if not p.is_file()]
    if missing:
        raise InputError(f"NanoTrack model file(s) missing: {', '.join(missing)}; "
                         f"pass model_dir=FOLDER holding {NANOTRACK_BACKBONE} and {NANOTRACK_HEAD}")
    nano = cv2.TrackerNano_Params()
    nano.backbone = str(backbone)
    nano.neckhead = str(head)
    try:
        return cv2.TrackerNano.create(nano)
    except cv2.error as exc:
        raise InputError(f"OpenCV could not load the NanoTrack models in {folder}: {exc}") from exc


def _opencv_rect(box, image_shape, kind: str) -> tuple[int, int, int, int]:
    """The integer rectangle handed to OpenCV's init, or InputError where `kind` cannot start from it.

    MIL cannot start from a box that leaves the image (no positive samples), so for MIL the box is
    first cut to the image; the others handle boxes partly outside themselves. Rounded, not
    truncated, so the rectangle stays centred on the box.
    """
    x, y, w, h = box
    if kind == "mil":
        rows, cols = image_shape[0], image_shape[1]
        x0, y0 = max(x, 0.0), max(y, 0.0)
        x1, y1 = min(x + w, float(cols)), min(y + h, float(rows))
        x, y, w, h = x0, y0, x1 - x0, y1 - y0
    rx, ry = int(round(x)), int(round(y))
    rw, rh = int(round(x + w)) - rx, int(round(y + h)) - ry
    if min(rw, rh) < MIN_SIDE[kind]:
        raise InputError(f"the initial box {[round(v, 2) for v in box]} is too small for OpenCV {kind}: "
                         f"it needs at least {MIN_SIDE[kind]} x {MIN_SIDE[kind]} pixels inside the image")
    return rx, ry, rw, rh


class OpenCVEngine(Engine):
    """One OpenCV tracker. `kind` is csrt, kcf, mil or nanotrack; CPU only."""

    def __init__(self, device: str = "cpu", kind: str = "csrt", model_dir: str | Path | None = None):
        super().__init__(device)  # refuses CUDA clearly where there is none
        if kind not in KINDS:
            raise InputError(f"unknown OpenCV tracker {kind!r}; choose one of {', '.join(KINDS)}")
        if self.device != "cpu":
            raise InputError(f"the OpenCV {kind} baseline runs on the CPU only; use device 'cpu'")
        if kind == "nanotrack" and model_dir is None:
            model_dir = default_model_dir()
        self.params = OpenCVParams(kind, Path(model_dir) if model_dir is not None else None)
        self.name = kind
        self._tracker = None
        self._tracker_unused = False
        if kind == "nanotrack":  # fail now, not on the first frame, when the model files are missing
            self._tracker = _create_cv_tracker(self.params)
            self._tracker_unused = True
        self._box: tuple[float, float, float, float] | None = None

    def initialize(self, frame: np.ndarray, box: Sequence[float], frame_index: int = 0) -> FrameResult:
        check_frame(frame)
        x, y, w, h = validate_init_box(box, frame.shape)
        rect = _opencv_rect((x, y, w, h), frame.shape, self.params.kind)
        # A fresh OpenCV tracker per track: their init does not fully reset earlier state.
        if not self._tracker_unused:
            self._tracker = _create_cv_tracker(self.params)
        self._tracker_unused = False
        self._box = None
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        start = time.perf_counter()
        try:
            self._tracker.init(bgr, rect)
        except cv2.error as exc:
            raise InputError(f"OpenCV {self.params.kind} cannot start from the box [{x:g}, {y:g}, {w:g}, {h:g}] "
                             f"on this {frame.shape[1]}x{frame.shape[0]} frame"
                             + (" (MIL needs background around the box)" if self.params.kind == "mil" else "")
                             + f": {str(exc).strip()}") from exc
        elapsed = time.perf_counter() - start
        self._frame_index = int(frame_index)
        self._box = (x, y, w, h)
        return FrameResult(self._frame_index, self._box, presence=1.0, timings={"track": elapsed})

    def track(self, frame: np.ndarray, frame_index: int | None = None) -> FrameResult:
        if self._box is None:
            raise InputError(f"{self.name}: track() called before initialize()")
        check_frame(frame)
        index = self._next_index(frame_index)
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        start = time.perf_counter()
        try:
            ok, rect = self._tracker.update(bgr)
        except cv2.error:  # an internal assertion (e.g. the box shrank to nothing): report the frame lost
            ok, rect = False, (0, 0, 0, 0)
        score = None
        if self.params.kind == "nanotrack":
            score = min(max(float(self._tracker.getTrackingScore()), 0.0), 1.0)
        elapsed = time.perf_counter() - start
        rect = tuple(float(v) for v in rect)
        if ok and rect[2] > 0 and rect[3] > 0:
            self._box = rect
            presence, flag = (1.0 if score is None else score), Flag.NORMAL
        else:
            presence, flag = (0.0 if score is None else score), Flag.NOT_FOUND
        return FrameResult(index, self._box, presence=presence, flag=flag, timings={"track": elapsed})
