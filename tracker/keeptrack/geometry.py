"""Coordinates of the KeepTrack pipeline: image <-> search patch <-> score-map cell, in one place.

Conventions (those of the released code, which produced the reference trace):
- Positions are (row, col) float32 CPU tensors; boxes are [x, y, w, h].
- State box <-> position: pixel centres, centre = top-left + (size - 1) / 2 (`state_from_box`, `box_from_state`,
  `patch_box`).
- A patch is S x S pixels; its centre (S - 1) / 2 lies on the image point `sample_pos`; one patch pixel is
  `sample_scale` image pixels.
- Score-map cell (r, c) of an (Ho, Wo) map lies at patch point (r - (Ho - 1) / 2) * S / Hf + (S - 1) / 2, where
  Hf is the feature map's side (S / stride): the map centre is the patch centre, one cell is one stride.
- A box refiner's returned box is read with its centre at top-left + size / 2 (IoU-Net's continuous boxes,
  `refined_state`); a refiner that keeps the engine's start box centre must read it with `patch_box_centre`.
- The association network receives candidate positions spread over the search area box ('full' coordinate
  reference of the original, `association_coords`), not the cell positions above.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

Tensor = torch.Tensor


# --------------------------------------------------------------------------------------------- state <-> boxes

def state_from_box(box: Sequence[float]) -> tuple[Tensor, Tensor]:
    """(pos (row, col), size (h, w)) of an image box [x, y, w, h]."""
    x, y, w, h = box
    return (torch.tensor([y + (h - 1) / 2, x + (w - 1) / 2], dtype=torch.float32),
            torch.tensor([h, w], dtype=torch.float32))


def box_from_state(pos: Tensor, size: Tensor) -> tuple[float, float, float, float]:
    """Image box [x, y, w, h] of the state (pos, size)."""
    xy = pos.flip((0,)) - (size.flip((0,)) - 1) / 2
    return tuple(float(v) for v in torch.cat([xy, size.flip((0,))]))


def clip_box(box: Sequence[float], image_hw: tuple[int, int]) -> tuple[tuple[float, float, float, float], bool]:
    """(the part of an image box inside the image, whether there is one); a box wholly outside is returned as is."""
    x, y, w, h = box
    rows, cols = image_hw
    x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), min(x + w, float(cols)), min(y + h, float(rows))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return tuple(box), False
    return (x0, y0, x1 - x0, y1 - y0), True


def patch_box(pos: Tensor, size: Tensor, sample_pos: Tensor, sample_scale: Tensor, image_sample_size: int) -> Tensor:
    """Box [x, y, w, h] in patch pixels of the target (centre `pos`, size (h, w)) in a patch placed at
    (sample_pos, sample_scale). Centre convention: centre = top-left + (size - 1) / 2."""
    centre = (pos - sample_pos) / sample_scale + (image_sample_size - 1) / 2
    box_size = size / sample_scale
    top_left = centre - (box_size - 1) / 2
    return torch.cat([top_left.flip((0,)), box_size.flip((0,))])


def patch_box_centre(box: Tensor) -> Tensor:
    """(x, y) centre of a `patch_box` (pixel centres: top-left + (size - 1) / 2); box (..., 4)."""
    return box[..., :2] + (box[..., 2:] - 1) / 2


def refined_state(box: Tensor, sample_pos: Tensor, sample_scale: Tensor, image_sample_size: int
                  ) -> tuple[Tensor, Tensor]:
    """(pos, size) in the image of a refiner's patch box, its centre read as top-left + size / 2 (as the
    reference reads IoU-Net's output)."""
    centre = box[:2] + box[2:] / 2
    pos = (centre.flip((0,)) - (image_sample_size - 1) / 2) * sample_scale + sample_pos
    return pos, box[2:].flip((0,)) * sample_scale


# --------------------------------------------------------------------------------------------- cells

def cell_translation(cell_rc: Tensor, score_size: Tensor, feature_size: Tensor, image_sample_size: int,
                     sample_scale: Tensor) -> Tensor:
    """Image displacement (rows, cols) from the patch centre to score-map cell `cell_rc`."""
    centre = (score_size - 1) / 2
    return (cell_rc.float() - centre) * (image_sample_size / feature_size) * sample_scale


def cell_offset(pos: Tensor, sample_pos: Tensor, sample_scale: Tensor, feature_size: Tensor,
                image_sample_size: int) -> Tensor:
    """Image position `pos` as score-map cells (rows, cols) from the map centre (inverse of `cell_translation`)."""
    stride = image_sample_size / feature_size
    return (pos - sample_pos) / (stride * sample_scale)


def label_centre(pos: Tensor, sample_pos: Tensor, sample_scale: Tensor, feature_size: Tensor,
                 image_sample_size: int, ksz_even: Tensor) -> Tensor:
    """Centre of the Gaussian label of a target at `pos`, in the label grid's units
    (engine.gaussian_label: grid coordinates from -(F - 1) / 2)."""
    return feature_size * ((pos - sample_pos) / (sample_scale * image_sample_size)) + 0.5 * ksz_even


def patch_point_to_cell(point, score_side: int, stride: int, patch_size: int) -> int:
    """Nearest score-map cell index (along one axis) of a patch coordinate (a float or a 0-d tensor)."""
    return int(round(float(point - (patch_size - 1) / 2) / stride + (score_side - 1) / 2))


def score_grid(sample_pos: Tensor, sample_scale: Tensor, feature_size: Tensor, score_size: Tensor,
               image_sample_size: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x, y) image point of cell (0, 0), (x, y) image pixels per cell) of a score map: cell (r, c) lies at
    (origin_x + c * step_x, origin_y + r * step_y). Same arithmetic as `cell_translation`."""
    step = (image_sample_size / feature_size) * sample_scale
    origin = sample_pos - (score_size - 1) / 2 * step
    return (float(origin[1]), float(origin[0])), (float(step[1]), float(step[0]))


def image_to_cell(x: float, y: float, origin: tuple[float, float], step: tuple[float, float]) -> tuple[float, float]:
    """(row, col), fractional, of an image point on a score grid (origin, step as from `score_grid`)."""
    return (y - origin[1]) / step[1], (x - origin[0]) / step[0]


def cells_to_image(cells: np.ndarray, origin, step) -> np.ndarray:
    """(N, 2) image points (y, x) of grid cells (N, 2) (row, col) (origin, step as from `score_grid`)."""
    cells = np.asarray(cells, np.float64).reshape(-1, 2)
    return np.stack([origin[1] + cells[:, 0] * step[1], origin[0] + cells[:, 1] * step[0]], axis=1)


def association_coords(cells_rc: Tensor, score_size: int, search_area: tuple[float, float, float, float]) -> Tensor:
    """Image (row, col) of score-map cells for the association network: the map spread over the search area box
    [x0, y0, w, h] ('full' coordinate reference of the original; differs from `cell_translation` by up to a
    cell)."""
    x0, y0, w, h = search_area
    c = cells_rc.to(torch.float32)
    rows = y0 + h * c[:, 0] / (score_size - 1)
    cols = x0 + w * c[:, 1] / (score_size - 1)
    return torch.stack([rows, cols], dim=1)


def crop_for_search_area(search_area: tuple[float, float, float, float]) -> tuple[Tensor, Tensor]:
    """(pos, side) for `crop.sample_patch` that cut again the pixels of a reported `Crop.search_area`
    (which reports a window of `side` pixels as [tl, tl + side - 0.5] with tl = centre - (side - 1) / 2)."""
    x, y, w, h = search_area
    return torch.tensor([y + (h - 0.5) / 2, x + (w - 0.5) / 2]), torch.tensor([h + 0.5, w + 0.5])
