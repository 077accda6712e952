"""Scale estimation for keeptrack-lite without IoU-Net weights: a scale search on the features already computed.

KeepTrack refines the box with a trained IoU-Net. The lite tracker has none, so it compares the target's
appearance at a few candidate box sizes: the features of the search patch are PrRoI-pooled (tracker/nets) over
boxes of sizes w * f_w, h * f_h around the position the classifier chose, each pooled grid is compared with a
template of the target (cosine similarity), and the size moves part of the way (damping) towards the best
factor, refined by a parabola through the neighbouring factors. This is a scale pyramid computed on the
feature map instead of the image: it needs no extra backbone pass (an image pyramid would triple the cost).
Why it works: a box that is too large pools background into the border bins, a box that is too small
stretches the target's centre over the grid; both lower the similarity to the template.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..nets.classifier import boxes_to_rois
from ..nets.prroi_pool import prroi_pool2d
from .geometry import patch_box_centre, patch_point_to_cell
from .parts import BoxRefiner, PatchFeatures, RandomSource

Tensor = torch.Tensor


@dataclass
class LiteScaleParams:
    layer: str = "s8"                 # backbone layer pooled (PatchFeatures.maps key)
    layer_stride: int = 8
    grid: int = 7                     # pooled bins per side (5: mean OTB AUC 0.4 lower)
    context: float = 1.0              # pooled box = target box * context (>1 includes a rim of background)
    num_scales: int = 5               # candidate factors per axis: exp(linspace(-step, step) * (n-1)/2)
    scale_step: float = 0.04          # log-factor between neighbouring candidates
    aspect: bool = False              # also search the aspect ratio (w and h independently)
    damping: float = 0.25             # fraction of the measured log-factor applied (0.5 measured: Coke 37 AUC)
    template_rate: float = 0.02       # template <- (1 - rate) template + rate * best pooled grid (0.1: drifts on Coke)
    anchor: float = 0.3               # weight of the first frame's template in the similarity (keeps the size tied to the first box)
    min_gain: float = 0.0             # ignore a change whose similarity gain over factor 1 is below this
    change_penalty: float = 5.0       # similarity minus this * log-factor^2: a Gaussian prior on the size change (size_change)
    size_anchor: float = 0.0          # similarity minus this * log(new size / first size)^2: a prior on the size itself (size_cost)
    subcell: bool = True              # refine the position inside the score cell (parabola through the peak)


class LiteScaleRefiner(BoxRefiner):
    """Box refiner that changes the size only (the engine keeps the classifier's position)."""

    def __init__(self, params: LiteScaleParams = LiteScaleParams(), base_stride: int = 16):
        self.params = params
        self.template: Tensor | None = None
        self.initial_template: Tensor | None = None
        self.initial_size_hw: Tensor | None = None   # image px, for the prior on the size (size_anchor)
        self.last_similarities: Tensor | None = None  # (n_h, n_w) of the last call, for tests and debugging
        self.base_stride = int(base_stride)
        n = params.num_scales
        self.log_factors = (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * params.scale_step
        self.lh, self.lw = size_grid(self.log_factors, params.aspect)
        self.size_cost = size_cost(self.lh, self.lw, params)

    def _pool(self, fmap: Tensor, boxes: Tensor) -> Tensor:
        """(K, 4) continuous patch boxes (PrRoI pooling integrates over x .. x + w: centre x + w / 2) -> (K, D)
        L2-normalised pooled grids (each channel centred over the grid)."""
        p = self.params
        centre = boxes[:, :2] + boxes[:, 2:] / 2
        size = boxes[:, 2:] * p.context
        ctx = torch.cat([centre - size / 2, size], dim=1)
        rois = boxes_to_rois(ctx)
        rois[:, 0] = 0
        pooled = prroi_pool2d(fmap, rois, p.grid, p.grid, 1.0 / p.layer_stride)
        pooled = pooled - pooled.mean(dim=(2, 3), keepdim=True)
        return F.normalize(pooled.flatten(1), dim=1)

    def reset(self) -> None:
        self.template = self.initial_template = self.last_similarities = self.initial_size_hw = None

    def initialize(self, features: PatchFeatures, box: Tensor) -> None:
        fmap = features.maps[self.params.layer][:1]
        box = box.view(1, 4).to(fmap)
        # The engine's box has its centre at top-left + (size - 1) / 2 (geometry.patch_box): pool about that centre.
        box = torch.cat([box[:, :2] - 0.5, box[:, 2:]], dim=1)
        self.template = self._pool(fmap, box)[0]
        self.initial_template = self.template.clone()
        if self.context is not None:
            self.initial_size_hw = self.context.target_size_hw.clone()

    def refine(self, features: PatchFeatures, box: Tensor, rng: RandomSource) -> Tensor | None:
        if self.template is None:
            return None
        p = self.params
        fmap = features.maps[p.layer][:1]
        box = box.to(fmap).view(4)
        lf, lh, lw = self.log_factors.to(fmap), self.lh.to(fmap), self.lw.to(fmap)
        fh, fw = lh.exp().flatten(), lw.exp().flatten()
        # The engine's start box has its centre at top-left + (size - 1) / 2 (geometry.patch_box); reading it as
        # top-left + size / 2 moved the target half a patch pixel right and down on every frame.
        centre = patch_box_centre(box)
        # Without a context (no score map) the position stays on the score-map cell the engine chose.
        if p.subcell and self.context is not None:
            centre = self._subcell_centre(features, centre)
        sizes = torch.stack([box[2] * fw, box[3] * fh], dim=1)
        boxes = torch.cat([centre - sizes / 2, sizes], dim=1)
        pooled = self._pool(fmap, boxes)
        sims = (1 - p.anchor) * (pooled @ self.template) + p.anchor * (pooled @ self.initial_template)
        grid = sims.view(lh.shape)
        self.last_similarities = grid.detach().cpu()
        cost = self.size_cost
        if p.size_anchor and self.initial_size_hw is not None and self.context is not None:
            drift_h, drift_w = (self.context.target_size_hw / self.initial_size_hw).log().tolist()
            cost = size_cost(self.lh, self.lw, p, drift_h, drift_w)
        best, log_h, log_w = size_change(grid, cost.to(grid), lf, p)
        if log_h is None:
            return torch.cat([centre - box[2:] / 2, box[2:]])
        new_w = box[2] * math.exp(p.damping * log_w)
        new_h = box[3] * math.exp(p.damping * log_h)
        if p.template_rate > 0:
            self.template = F.normalize((1 - p.template_rate) * self.template + p.template_rate * pooled[best], dim=0)
        # Returned in the convention the engine reads a refiner's box with (geometry.refined_state).
        return torch.stack([centre[0] - new_w / 2, centre[1] - new_h / 2, new_w, new_h])


    def _subcell_centre(self, features: PatchFeatures, centre_xy: Tensor) -> Tensor:
        """Move the box centre (patch px, (x, y)) to the sub-cell maximum of the score map around its cell.

        The engine places the target on the centre of a score cell (one stride, about a third of the target's
        side); KeepTrack's IoU-Net then refines the position, which the lite tracker does here instead.
        """
        scores = self.context.scores
        scores = (self.context.classify(features.classification[:1]) if scores is None else scores)[0, 0]
        rows, cols = scores.shape
        size = features.classification.shape[-1] * self.base_stride
        r = patch_point_to_cell(centre_xy[1], rows, self.base_stride, size)
        c = patch_point_to_cell(centre_xy[0], cols, self.base_stride, size)
        if not (0 < r < rows - 1 and 0 < c < cols - 1):
            return centre_xy
        dr = _vertex(float(scores[r - 1, c]), float(scores[r, c]), float(scores[r + 1, c]))
        dc = _vertex(float(scores[r, c - 1]), float(scores[r, c]), float(scores[r, c + 1]))
        return centre_xy + torch.tensor([dc, dr], dtype=centre_xy.dtype, device=centre_xy.device) * self.base_stride


def size_grid(log_factors: Tensor, aspect: bool) -> tuple[Tensor, Tensor]:
    """(log-factors of the height, of the width) of the candidate sizes, each shaped as the similarity grid:
    (n, n) when the aspect ratio is searched too, else (n, 1) (one factor for both sides)."""
    if aspect:
        return torch.meshgrid(log_factors, log_factors, indexing="ij")
    return log_factors.view(-1, 1), log_factors.view(-1, 1)


def size_cost(lh: Tensor, lw: Tensor, p: LiteScaleParams, drift_h: float = 0.0, drift_w: float = 0.0) -> Tensor:
    """The priors' cost of each candidate size: change_penalty * log-factor^2, plus size_anchor * the squared log
    of the candidate size over the first frame's (drift_h, drift_w: log of the current size over the first; the
    mean over the two sides where they share one factor)."""
    n = 1 if p.aspect else 2
    cost = p.change_penalty * (lh ** 2 + lw ** 2) / n
    if p.size_anchor:
        cost = cost + p.size_anchor * ((drift_h + lh) ** 2 + (drift_w + lw) ** 2) / n
    return cost


def size_change(grid: Tensor, cost: Tensor, log_factors: Tensor, p: LiteScaleParams
                ) -> tuple[int, float | None, float | None]:
    """(flat index of the best candidate size, log-factor of the height, of the width) measured from the
    similarity grid over the candidate sizes less the prior's `cost` (`size_cost`); (best, None, None) where the
    size is to stay.

    The size change has a zero-mean Gaussian prior in log-scale: the template similarity also moves with pose,
    occlusion and the annotation's framing (at the ground-truth box of the dev sequences it peaks at 0.88-1.27x,
    docs/keeptrack-lite.md), and without a prior its weak, persistent slopes add up to a drift; a real zoom gives
    slopes steep enough to pay the cost.
    """
    if p.change_penalty:
        grid = grid - cost
    best = int(torch.argmax(grid))
    bi, bj = divmod(best, grid.shape[1])
    centre_i, centre_j = (grid.shape[0] - 1) // 2, (grid.shape[1] - 1) // 2
    if float(grid[bi, bj] - grid[centre_i, centre_j]) < p.min_gain:
        return best, None, None
    log_h = _parabola_peak(grid[:, bj], bi, log_factors) if grid.shape[0] > 1 else 0.0
    log_w = _parabola_peak(grid[bi, :], bj, log_factors) if grid.shape[1] > 1 else 0.0
    if not p.aspect:
        log_w = log_h
    return best, log_h, log_w


def _vertex(a: float, b: float, c: float) -> float:
    """Offset in (-0.5, 0.5) of the vertex of the parabola through (-1, a), (0, b), (1, c); 0 unless b is a peak."""
    den = a - 2 * b + c
    if den >= 0 or b < a or b < c:
        return 0.0
    return max(-0.5, min(0.5, 0.5 * (a - c) / den))


def _parabola_peak(values: Tensor, index: int, log_factors: Tensor) -> float:
    """Log-factor of the maximum of a parabola through the best sample and its neighbours (clamped to the range)."""
    if 0 < index < len(values) - 1:
        a, b, c = float(values[index - 1]), float(values[index]), float(values[index + 1])
        den = a - 2 * b + c
        offset = 0.0 if abs(den) < 1e-12 else max(-0.5, min(0.5, 0.5 * (a - c) / den))
    else:
        offset = 0.0
    step = float(log_factors[1] - log_factors[0]) if len(log_factors) > 1 else 0.0
    return float(log_factors[index]) + offset * step
