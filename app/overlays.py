"""Overlays as pure functions: FrameResult -> a list of drawing descriptions (Qt-free, testable without drawing).

Every coordinate is in image pixels, x = column, y = row, the same frame as FrameResult's boxes
([x, y, w, h], top-left corner). The frame view turns these descriptions into pyqtgraph items.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tracker.result import Flag, FrameResult

Color = tuple[int, int, int]

FLAG_COLORS: dict[Flag, Color] = {
    Flag.NORMAL: (40, 220, 60),
    Flag.UNCERTAIN: (255, 200, 0),
    Flag.HARD_NEGATIVE: (255, 120, 0),
    Flag.NOT_FOUND: (235, 40, 40),
}
SEARCH_AREA_COLOR: Color = (80, 170, 255)
GROUND_TRUTH_COLOR: Color = (255, 255, 255)
SELECTED_COLOR: Color = (255, 255, 255)
NO_ID_COLOR: Color = (200, 200, 200)
# Distinct colours for object ids (a persistent id keeps its colour from frame to frame).
ID_PALETTE: tuple[Color, ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
)


def id_color(object_id: int | None) -> Color:
    return NO_ID_COLOR if object_id is None else ID_PALETTE[int(object_id) % len(ID_PALETTE)]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    color: Color
    width: float = 2.0
    dashed: bool = False


@dataclass(frozen=True)
class Circle:
    x: float  # centre
    y: float
    radius: float
    color: Color
    width: float = 2.0


@dataclass(frozen=True)
class Text:
    x: float  # anchor: the text's top-left corner
    y: float
    text: str
    color: Color


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    color: Color
    width: float = 1.5


@dataclass(frozen=True)
class Heatmap:
    values: np.ndarray  # (rows, cols), already scaled to [0, 1]
    x: float  # image rectangle the values cover
    y: float
    w: float
    h: float
    opacity: float = 0.55  # on top of the colour map's own alpha ramp (low scores fade out)


def tracked_box(result: FrameResult) -> list:
    """The engine's box, coloured by the frame's flag (dashed where the target is not found)."""
    if result.box is None:
        return []
    x, y, w, h = result.box
    return [Rect(x, y, w, h, FLAG_COLORS[Flag(result.flag)], 2.5, dashed=result.flag == Flag.NOT_FOUND)]


def search_area(result: FrameResult) -> list:
    if result.search_area is None:
        return []
    x, y, w, h = result.search_area
    return [Rect(x, y, w, h, SEARCH_AREA_COLOR, 1.0, dashed=True)]


def score_map(result: FrameResult) -> list:
    """The score map over the image area it covers (ScoreMap.image_rect()), scaled 0..frame maximum.

    Negative scores are shown as 0; the scale is per frame (like pytracking's debug view), so the
    hottest cell is always bright: compare absolute values in the debug dock, not by colour.
    """
    sm = result.score_map
    if sm is None or sm.values.size == 0:
        return []
    values = np.asarray(sm.values, dtype=np.float32)
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    scaled = np.clip(np.nan_to_num(values, nan=0.0) / top, 0.0, 1.0) if top > 0 else np.zeros_like(values)
    x, y, w, h = sm.image_rect()
    return [Heatmap(scaled, x, y, w, h)]


def candidate_radius(result: FrameResult) -> float:
    """Circle size: a fraction of the target size, so circles scale with the object, within [4, 20] px."""
    if result.box is not None:
        return float(np.clip(0.25 * min(result.box[2], result.box[3]), 4.0, 20.0))
    return 8.0


def candidates(result: FrameResult) -> list:
    """A circle per candidate at its image position, coloured by its object id, with the id (and score) beside it."""
    r = candidate_radius(result)
    items: list = []
    for c in result.candidates:
        color = id_color(c.object_id)
        items.append(Circle(c.x, c.y, r, color))
        label = f"{c.object_id}" if c.object_id is not None else "?"
        items.append(Text(c.x + r + 2, c.y - r, f"{label}: {c.score:.2f}", color))
    return items


def selected(result: FrameResult) -> list:
    """A thick white ring around the candidate chosen as the target."""
    c = result.selected
    if c is None:
        return []
    return [Circle(c.x, c.y, candidate_radius(result) + 4, SELECTED_COLOR, 3.0)]


def matches(result: FrameResult) -> list:
    """A line from each current candidate to the previous-frame candidate it was matched to."""
    a = result.assignment
    if a is None:
        return []
    items: list = []
    for j, row in enumerate(a.matches):
        if row < 0 or row >= len(a.previous) or j >= len(result.candidates):
            continue
        cur, prev = result.candidates[j], a.previous[row]
        items.append(Line(prev.x, prev.y, cur.x, cur.y, id_color(cur.object_id)))
        items.append(Circle(prev.x, prev.y, 2.5, id_color(cur.object_id), 1.0))
    return items


def ground_truth(box) -> list:
    """The sequence's annotated box for the frame (benchmark sequences), thin white dashes."""
    if box is None or not all(np.isfinite(v) for v in box):
        return []
    x, y, w, h = (float(v) for v in box)
    return [Rect(x, y, w, h, GROUND_TRUTH_COLOR, 1.0, dashed=True)]


@dataclass(frozen=True)
class Overlay:
    key: str
    label: str
    build: Callable[[FrameResult], list] | None  # None: not drawn from the result (ground truth)
    default_on: bool = True


# Drawing order: bottom to top.
OVERLAYS: tuple[Overlay, ...] = (
    Overlay("ground_truth", "Ground truth", None),
    Overlay("score_map", "Score map", score_map),
    Overlay("search_area", "Search area", search_area),
    Overlay("matches", "Match lines", matches),
    Overlay("candidates", "Candidates and ids", candidates),
    Overlay("selected", "Selected target", selected),
    Overlay("box", "Tracked box", tracked_box),
)


def build_overlays(result: FrameResult | None, enabled: dict[str, bool], gt_box=None) -> dict[str, list]:
    """Descriptions for every enabled overlay, keyed by overlay key (empty lists for disabled ones).

    `gt_box` is the frame's ground-truth box [x, y, w, h] where the sequence has one.
    """
    out: dict[str, list] = {}
    for ov in OVERLAYS:
        if not enabled.get(ov.key, ov.default_on):
            out[ov.key] = []
        elif ov.build is None:
            out[ov.key] = ground_truth(gt_box)
        else:
            out[ov.key] = ov.build(result) if result is not None else []
    return out
