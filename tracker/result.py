"""FrameResult and its parts: the one vocabulary shared by engines, the studio, documents and exports.

Every box at this boundary is [x, y, w, h] in image pixels (x, y = top-left corner).
Everything here is plain data (numbers, tuples, numpy arrays), safe to hand across threads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

Box = tuple[float, float, float, float]  # [x, y, w, h], image pixels


class Flag(str, Enum):
    """The engine's verdict on a frame (pytracking's flags)."""

    NORMAL = "normal"
    UNCERTAIN = "uncertain"
    HARD_NEGATIVE = "hard_negative"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Candidate:
    """A local maximum of the score map: a place where the target might be."""

    x: float  # image column of the peak, pixels
    y: float  # image row of the peak, pixels
    score: float
    object_id: int | None = None  # persistent id across frames; None where the engine has no ids


@dataclass(frozen=True)
class ScoreMap:
    """A classifier score map and where its cells lie in the image.

    Cell (row r, col c) is centred at image point (origin_x + c * step_x, origin_y + r * step_y).
    """

    values: np.ndarray  # (rows, cols) float32
    origin_x: float
    origin_y: float
    step_x: float
    step_y: float

    def cell_to_image(self, row: float, col: float) -> tuple[float, float]:
        """Image (x, y) of a (possibly fractional) cell position."""
        return self.origin_x + col * self.step_x, self.origin_y + row * self.step_y

    def image_rect(self) -> Box:
        """[x, y, w, h] covered by the cells (each cell spans one step around its centre)."""
        rows, cols = self.values.shape
        return (
            self.origin_x - self.step_x / 2,
            self.origin_y - self.step_y / 2,
            cols * self.step_x,
            rows * self.step_y,
        )


@dataclass(frozen=True)
class Assignment:
    """Match probabilities between the previous frame's candidates (rows) and this frame's (columns).

    `probabilities` has shape (M + 1, N + 1): the last row and column are the dustbins
    ("no match"). `matches[j]` is the row matched to current candidate j, or -1.
    """

    probabilities: np.ndarray
    previous: tuple[Candidate, ...]
    matches: tuple[int, ...]


@dataclass
class FrameResult:
    """Everything an engine says about one frame."""

    frame_index: int
    box: Box | None  # None where the engine reports no box (target not found, no box output)
    presence: float = 1.0  # how sure the engine is that the target is visible, in [0, 1]
    flag: Flag = Flag.NORMAL
    search_area: Box | None = None  # image region the engine searched this frame
    score_map: ScoreMap | None = None
    candidates: tuple[Candidate, ...] = ()
    selected_id: int | None = None  # object id of the candidate chosen as the target
    assignment: Assignment | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, e.g. {"backbone": 0.02}

    @property
    def selected(self) -> Candidate | None:
        for c in self.candidates:
            if self.selected_id is not None and c.object_id == self.selected_id:
                return c
        return None
