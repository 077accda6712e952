"""The interface every tracking engine implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from .errors import InputError
from .result import FrameResult


def resolve_device(device: str) -> str:
    """'cpu' or 'cuda[:n]'; a clear error where CUDA is asked for and absent."""
    if device == "cpu":
        return device
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} was asked for, but this machine has no CUDA GPU; use 'cpu'")
        return device
    raise InputError(f"unknown device {device!r}; use 'cpu' or 'cuda'")


class Engine(ABC):
    """A single-object tracker.

    Frames are RGB uint8 arrays of shape (rows, cols, 3). Boxes are [x, y, w, h] in image pixels.
    `initialize` starts (or restarts) a track; `track` follows it to the next frame given.
    The frame index defaults to one past the last; pass it explicitly when tracking backwards
    or re-tracking from a keyframe.
    """

    name: str = "engine"

    def __init__(self, device: str = "cpu", **params):
        self.device = resolve_device(device)
        self._frame_index = -1

    @abstractmethod
    def initialize(self, frame: np.ndarray, box: Sequence[float], frame_index: int = 0) -> FrameResult:
        ...

    @abstractmethod
    def track(self, frame: np.ndarray, frame_index: int | None = None) -> FrameResult:
        ...

    def _next_index(self, frame_index: int | None) -> int:
        self._frame_index = self._frame_index + 1 if frame_index is None else int(frame_index)
        return self._frame_index


def check_frame(frame: np.ndarray) -> None:
    """Raise InputError unless `frame` is an RGB uint8 image."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        desc = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise InputError(f"a frame must be an RGB uint8 array of shape (rows, cols, 3); got {desc}")
