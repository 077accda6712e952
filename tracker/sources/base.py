"""The FrameSource interface and `open_source`, which picks the right reader for a path."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FrameReadError

DEFAULT_FPS = 30.0  # playback rate where a source has none (image folders, videos without a usable rate)


@dataclass(frozen=True)
class GroundTruth:
    """Annotated boxes of a sequence, one row per frame.

    `boxes` is (num_frames, 4) float64 [x, y, w, h]; rows with no annotation are NaN (e.g. OTB
    Football1 annotates only its first 74 of 81 frames). `absent[i]` is True where the annotation
    says the target is not visible (LaSOT full occlusion / out of view, GOT-10k absence); None
    where the format has no such information.
    """

    boxes: np.ndarray
    absent: np.ndarray | None
    format: str  # "otb", "lasot", "got10k", ...
    path: Path  # the annotation file read


class FrameSource(ABC):
    """Random access to the frames of one sequence. Index i is the i-th frame, from 0."""

    path: Path
    ground_truth: GroundTruth | None = None

    @property
    def name(self) -> str:
        return self.path.stem if self.path.is_file() else self.path.name

    @property
    @abstractmethod
    def fps(self) -> float:
        """Frames per second for playback (a sensible default where the source has none)."""

    @abstractmethod
    def __len__(self) -> int:
        ...

    @abstractmethod
    def frame(self, index: int) -> np.ndarray:
        """Frame `index` as RGB uint8 (rows, cols, 3). Raises FrameReadError naming the frame."""

    def __getitem__(self, index: int) -> np.ndarray:
        return self.frame(index)

    def __iter__(self):
        for i in range(len(self)):
            yield self.frame(i)

    def close(self) -> None:
        """Release file handles; safe to call more than once."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_frame_index(source: FrameSource, index) -> int:
    """`index` as an int in 0..len(source)-1, or FrameReadError naming the source (no negative indices)."""
    try:
        i = int(index)
    except (TypeError, ValueError):
        raise FrameReadError(f"{source.path}: frame index must be an integer, got {index!r}") from None
    if i != index or not 0 <= i < len(source):
        raise FrameReadError(f"{source.path}: frame {index} is out of range (the source has {len(source)} frames)")
    return i


def open_source(path: str | Path) -> FrameSource:
    """Open a video file, an image folder, or a benchmark sequence folder (OTB, LaSOT, GOT-10k)."""
    from .open import open_path  # the dispatcher lives with the readers

    return open_path(Path(path))
