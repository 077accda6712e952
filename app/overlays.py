"""Overlays as pure functions: FrameResult -> a list of drawing descriptions (Qt-free, testable without drawing).

Every coordinate is in image pixels, x = column, y = row, the same frame as FrameResult's boxes
([x, y, w, h], top-left corner). The frame view turns these descriptions into pyqtgraph items.

Labels (Text with `near`) are placed by `place_labels` once their size on screen is known (text keeps its
screen size at any zoom, so its size in image pixels changes with the zoom): beside what they label, never
over a target's box (Rect with `keep_clear`), a candidate's circle or an earlier label. The selected target's
label is placed first and drawn on its id colour with the text colour of highest contrast.
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
    keep_clear: bool = False  # a target's box: no label is placed over it


@dataclass(frozen=True)
class Circle:
    x: float  # centre
    y: float
    radius: float
    color: Color
    width: float = 2.0


@dataclass(frozen=True)
class Text:
    x: float  # the text's top-left corner where it is not placed (`near` None)
    y: float
    text: str
    color: Color
    fill: Color = (0, 0, 0)  # background
    fill_alpha: int = 160
    border: Color | None = None
    near: tuple[float, float, float, float] | None = None  # what it labels (x, y, w, h): placed beside it
    side: str = "right"  # the side of `near` tried first: right, above, left, below
    priority: int = 2  # placement order, lowest first (the selected target's id 0, the annotation label 1)


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
    return [Rect(x, y, w, h, FLAG_COLORS[Flag(result.flag)], 2.5, dashed=result.flag == Flag.NOT_FOUND,
                 keep_clear=True)]


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


def relative_luminance(color: Color) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0 black .. 1 white)."""
    def channel(v: int) -> float:
        c = v / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: Color, b: Color) -> float:
    """WCAG 2 contrast ratio (1 .. 21); 4.5 is the minimum for small text."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(background: Color) -> Color:
    """Black or white, whichever contrasts more with `background`."""
    black, white = (0, 0, 0), (255, 255, 255)
    return black if contrast_ratio(black, background) >= contrast_ratio(white, background) else white


def candidates(result: FrameResult) -> list:
    """A circle per candidate at its image position, coloured by its object id, with the id (and score) beside it.

    Each label sits on its id colour with black or white text (dark id colours on a dark frame were
    unreadable as coloured text); the selected target's label is opaque, framed white and placed first.
    """
    r = candidate_radius(result)
    chosen = result.selected
    items: list = []
    for c in result.candidates:
        color = id_color(c.object_id)
        items.append(Circle(c.x, c.y, r, color))
        label = f"{c.object_id}" if c.object_id is not None else "?"
        is_selected = chosen is not None and c is chosen
        items.append(Text(c.x + r + 2, c.y - r, f"{label}: {c.score:.2f}", readable_on(color), fill=color,
                          fill_alpha=255 if is_selected else 210, border=SELECTED_COLOR if is_selected else None,
                          near=(c.x - r, c.y - r, 2 * r, 2 * r), priority=0 if is_selected else 2))
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


# ------------------------------------------------------------------------------------------ label placement
LabelRect = tuple[float, float, float, float]  # x, y, w, h in image pixels
RINGS = 24  # how far a label may move from what it labels: this many steps of half its height
_SIDES = ("right", "above", "left", "below")


def _positions(near: LabelRect, w: float, h: float, gap: float, side: str) -> np.ndarray:
    """Top-left corners to try for a (w, h) label beside `near`, nearest first: the four sides (the
    preferred one first), then the corners, on rings moving outwards by half the label's height."""
    nx, ny, nw, nh = near
    d = gap + np.arange(RINGS + 1) * (h / 2)  # one distance per ring
    right, left = nx + nw + d, nx - w - d
    above, below = ny - h - d, ny + nh + d
    cy, x0 = np.full_like(d, ny + nh / 2 - h / 2), np.full_like(d, nx)
    sides = {"right": (right, cy), "above": (x0, above), "left": (left, cy), "below": (x0, below)}
    order = [sides[side]] + [sides[k] for k in _SIDES if k != side]
    order += [(right, above), (right, below), (left, above), (left, below)]
    xs = np.stack([x for x, _ in order], axis=1)  # (rings, 8)
    ys = np.stack([y for _, y in order], axis=1)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _overlap(pos: np.ndarray, w: float, h: float, others: np.ndarray) -> np.ndarray:
    """Area each candidate rectangle (pos rows, size w x h) shares with the rectangles `others`, summed."""
    if len(others) == 0:
        return np.zeros(len(pos))
    x0, y0 = pos[:, :1], pos[:, 1:2]
    ox, oy, ow, oh = (others[:, k][None, :] for k in range(4))
    dx = np.clip(np.minimum(x0 + w, ox + ow) - np.maximum(x0, ox), 0, None)
    dy = np.clip(np.minimum(y0 + h, oy + oh) - np.maximum(y0, oy), 0, None)
    return (dx * dy).sum(axis=1)


def _outside(pos: np.ndarray, w: float, h: float, bounds: LabelRect | None) -> np.ndarray:
    """Area of each candidate rectangle that falls outside `bounds` (the part of the view on screen)."""
    if bounds is None:
        return np.zeros(len(pos))
    inside = _overlap(pos, w, h, np.asarray([bounds], dtype=np.float64))
    return w * h - inside


def place_labels(texts, sizes, keep_clear, bounds: LabelRect | None = None, gap: float = 2.0) -> list:
    """Top-left corners (image pixels) for `texts`, whose sizes in image pixels are `sizes` [(w, h)].

    In priority order, each label with `near` takes the nearest position beside it that covers no
    `keep_clear` rectangle (targets' boxes, candidates' circles) and no label placed before it, inside
    `bounds` where what it labels is at least partly inside them; where none is free (a crowded or zoomed-in view) the one covering least. Labels without
    `near` stay where they are and are avoided by the others.
    """
    placed: list = [None] * len(texts)
    taken: list[LabelRect] = []
    clear = np.asarray([tuple(r) for r in keep_clear], dtype=np.float64).reshape(-1, 4)
    for i in sorted(range(len(texts)), key=lambda k: texts[k].priority):
        t, (w, h) = texts[i], sizes[i]
        if t.near is None or not (w > 0 and h > 0):
            x, y = t.x, t.y
        else:
            pos = _positions(t.near, w, h, gap, t.side)
            others = np.vstack([clear, np.asarray(taken, dtype=np.float64).reshape(-1, 4)])
            # kept in view only where what it labels is (partly) in view: else it would label nothing there
            seen = bounds if bounds is None or rects_intersect(t.near, bounds) else None
            cost = _overlap(pos, w, h, others) + _outside(pos, w, h, seen)
            free = np.flatnonzero(cost <= 1e-9)
            x, y = pos[free[0] if len(free) else int(np.argmin(cost))]
        placed[i] = (float(x), float(y))
        taken.append((float(x), float(y), float(w), float(h)))
    return placed


def rects_intersect(a: LabelRect, b: LabelRect) -> bool:
    """Whether two rectangles share area (touching edges do not count)."""
    return min(a[0] + a[2], b[0] + b[2]) > max(a[0], b[0]) and min(a[1] + a[3], b[1] + b[3]) > max(a[1], b[1])
