"""Fallback ("advanced", DiMP/ATOM) localisation on a score map (keeptrack-reference.md §1.7).

Used on frames where the association cannot run (no candidates in the previous frame, or the score map is below
the candidate threshold) and on every frame of plain SuperDiMP.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .geometry import cell_offset
from .params import TrackerParams

Tensor = torch.Tensor


@dataclass(frozen=True)
class Localisation:
    cell_rc: Tensor        # (2,) float32 score-map cell chosen as the target
    flag: str              # normal / uncertain / hard_negative / not_found
    max_score: float


def argmax2d(scores: Tensor) -> tuple[float, Tensor]:
    """(max value, (row, col) float32 CPU) of a (H, W) map; first index on ties."""
    flat = scores.reshape(-1)
    idx = int(torch.argmax(flat).item())
    w = int(scores.shape[-1])
    return float(flat[idx].item()), torch.tensor([idx // w, idx % w], dtype=torch.float32)


def localise_advanced(scores: Tensor, params: TrackerParams, target_sz: Tensor, pos: Tensor,
                      sample_pos: Tensor, sample_scale: Tensor, feature_size: Tensor, image_sample_size: int
                      ) -> Localisation:
    """scores: (H, W) raw score map. target_sz, pos: current state (image px, (row, col));
    sample_pos / sample_scale: placement of this frame's patch."""
    sz = scores.shape[-2:]
    score_size = torch.tensor([float(sz[0]), float(sz[1])])
    score_centre = (score_size - 1) / 2

    max1, disp1 = argmax2d(scores)
    if max1 < params.target_not_found_threshold:
        return Localisation(disp1, "not_found", max1)

    # Blank the target's neighbourhood and look for the strongest other peak.
    neigh = params.target_neighborhood_scale * (target_sz / sample_scale) * (feature_size / image_sample_size)
    top = max(round(disp1[0].item() - neigh[0].item() / 2), 0)
    bottom = min(round(disp1[0].item() + neigh[0].item() / 2 + 1), int(sz[0]))
    left = max(round(disp1[1].item() - neigh[1].item() / 2), 0)
    right = min(round(disp1[1].item() + neigh[1].item() / 2 + 1), int(sz[1]))
    masked = scores.clone()
    masked[top:bottom, left:right] = 0
    max2, disp2 = argmax2d(masked)

    target_disp1 = disp1 - score_centre
    target_disp2 = disp2 - score_centre
    prev_target = cell_offset(pos, sample_pos, sample_scale, feature_size, image_sample_size)

    if max2 > params.distractor_threshold * max1:
        d1 = torch.sqrt(torch.sum((target_disp1 - prev_target) ** 2)).item()
        d2 = torch.sqrt(torch.sum((target_disp2 - prev_target) ** 2)).item()
        threshold = params.displacement_scale * math.sqrt(sz[0] * sz[1]) / 2
        if d2 > threshold and d1 < threshold:
            return Localisation(disp1, "hard_negative", max1)
        if d2 < threshold and d1 > threshold:
            return Localisation(disp2, "hard_negative", max1)
        return Localisation(disp1, "uncertain", max1)

    if max2 > params.hard_negative_threshold * max1 and max2 > params.target_not_found_threshold:
        return Localisation(disp1, "hard_negative", max1)
    return Localisation(disp1, "normal", max1)
