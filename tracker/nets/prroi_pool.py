"""Precise RoI Pooling (Jiang et al., 2018) in plain PyTorch.

The feature map is read as a continuous surface (bilinear interpolation between cell centres, cell (i, j) at
integer coordinate (y=i, x=j), zero outside the map) and each output bin is the exact average of that surface over
the bin. The tent kernel is separable, so the bin integral is a product of two 1-D integrals of the tent, which have
a closed form (the tent's antiderivative). Everything is ordinary differentiable tensor code: autograd gives the
gradient w.r.t. the features and w.r.t. the box coordinates, and the same code runs on CPU and CUDA.
`prroi_pool2d_box_grad` is the same pooling with the box-coordinate gradient written out, for the IoU-Net
refinement loop (tests check it against autograd).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


def _tent_integral(u: Tensor) -> Tensor:
    """Antiderivative T(u) of the tent max(0, 1 - |u|), with T(-inf) = 0 and T(+inf) = 1."""
    u = u.clamp(-1.0, 1.0)
    left = 0.5 * (u + 1.0) ** 2
    right = 1.0 - 0.5 * (1.0 - u) ** 2
    return torch.where(u < 0, left, right)


def _bin_weights(start: Tensor, bin_size: Tensor, num_bins: int, first_cell: int, last_cell: int) -> Tensor:
    """(K, num_bins, cells): integral of cell j's tent over bin q = [start + q*size, start + (q+1)*size], for the
    cells first_cell..last_cell (inclusive)."""
    q = torch.arange(num_bins, device=start.device, dtype=start.dtype)
    bin_start = start[:, None] + q[None, :] * bin_size[:, None]  # (K, Q)
    bin_end = bin_start + bin_size[:, None]
    cells = torch.arange(first_cell, last_cell + 1, device=start.device, dtype=start.dtype)
    return _tent_integral(bin_end[:, :, None] - cells) - _tent_integral(bin_start[:, :, None] - cells)


def _support(lo: Tensor, hi: Tensor, num_cells: int) -> tuple[int, int]:
    """The cells whose tents can overlap [min(lo), max(hi)] (cell coordinates), clipped to the map. Every other
    cell's weight is exactly 0 (the tent integral is flat there), so leaving it out changes nothing but the
    summation order, and the cost becomes proportional to the boxes instead of the map."""
    a, b = float(lo.min()), float(hi.max())
    if not (math.isfinite(a) and math.isfinite(b)):
        return 0, num_cells - 1
    first = min(max(math.floor(a) - 1, 0), num_cells - 1)
    last = max(min(math.ceil(b) + 1, num_cells - 1), first)
    return first, last


@dataclass
class _ImagePooling:
    """Un-normalised bin integrals of one image's ROIs and what their box gradient needs."""
    summed: Tensor     # (K, C, PH, PW): sum over the bins of the bilinear surface (divide by the bin area)
    rows: Tensor       # (K, PH*C, cols): weight_y applied to the window
    weight_x: Tensor   # (K, PW, cols)
    fmap: Tensor       # (rows, C*cols): the window the ROIs can touch
    first_col: int
    first_row: int


def _pool_image(feature_map: Tensor, x0: Tensor, y0: Tensor, x1: Tensor, y1: Tensor, bin_w: Tensor, bin_h: Tensor,
                pooled_height: int, pooled_width: int) -> _ImagePooling:
    """The bin integrals of K ROIs on one feature map (C, H, W), coordinates in cells: one matrix product over rows
    for all ROIs (no per-ROI copies), restricted to the cells their bins can touch."""
    channels, height, width = feature_map.shape
    count = int(x0.shape[0])
    c0, c1 = _support(torch.minimum(x0, x1).detach(), torch.maximum(x0, x1).detach(), width)
    r0, r1 = _support(torch.minimum(y0, y1).detach(), torch.maximum(y0, y1).detach(), height)
    rows_n, cols_n = r1 - r0 + 1, c1 - c0 + 1
    weight_x = _bin_weights(x0, bin_w, pooled_width, c0, c1)  # (K, PW, cols)
    weight_y = _bin_weights(y0, bin_h, pooled_height, r0, r1)  # (K, PH, rows)
    fmap = feature_map[:, r0:r1 + 1, c0:c1 + 1].permute(1, 0, 2).reshape(rows_n, channels * cols_n)
    rows = (weight_y.reshape(count * pooled_height, rows_n) @ fmap).reshape(count, pooled_height * channels, cols_n)
    summed = torch.bmm(rows, weight_x.transpose(1, 2))  # (K, PH*C, PW)
    summed = summed.reshape(count, pooled_height, channels, pooled_width).permute(0, 2, 1, 3)
    return _ImagePooling(summed, rows, weight_x, fmap, c0, r0)


def prroi_pool2d(features: Tensor, rois: Tensor, pooled_height: int, pooled_width: int,
                 spatial_scale: float) -> Tensor:
    """Pool `features` (B, C, H, W) over `rois` (K, 5) rows [batch_index, x0, y0, x1, y1] in input-image pixels.

    Returns (K, C, pooled_height, pooled_width). A bin of zero area gives 0 (and zero gradient w.r.t. the ROI).
    """
    if features.dim() != 4 or rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f"expected features (B, C, H, W) and rois (K, 5), got {tuple(features.shape)} and "
                         f"{tuple(rois.shape)}")
    rois = rois.to(features.dtype)
    batch_index = rois[:, 0].detach().long()
    x0, y0, x1, y1 = (rois[:, i] * spatial_scale for i in range(1, 5))
    bin_w = (x1 - x0).clamp(min=0.0) / pooled_width
    bin_h = (y1 - y0).clamp(min=0.0) / pooled_height
    area = bin_w * bin_h
    nonempty = area > 0
    safe_area = torch.where(nonempty, area, torch.ones_like(area))
    channels = features.shape[1]
    pooled = features.new_zeros((rois.shape[0], channels, pooled_height, pooled_width))
    if rois.shape[0] == 0:
        return pooled
    images = torch.unique(batch_index).tolist()
    for b in images:
        # One image (the tracker's case): every ROI, no gathering and scattering.
        sel = slice(None) if len(images) == 1 else (batch_index == b).nonzero(as_tuple=True)[0]
        out = _pool_image(features[b], x0[sel], y0[sel], x1[sel], y1[sel], bin_w[sel], bin_h[sel], pooled_height,
                          pooled_width).summed
        pooled = out if len(images) == 1 else pooled.index_put((sel,), out)
    pooled = pooled / safe_area[:, None, None, None]
    return torch.where(nonempty[:, None, None, None], pooled, torch.zeros_like(pooled))


class PrRoIPool2D(nn.Module):
    """Module form of `prroi_pool2d` (no parameters)."""

    def __init__(self, pooled_height: int, pooled_width: int, spatial_scale: float):
        super().__init__()
        self.pooled_height = int(pooled_height)
        self.pooled_width = int(pooled_width)
        self.spatial_scale = float(spatial_scale)

    def forward(self, features: Tensor, rois: Tensor) -> Tensor:
        return prroi_pool2d(features, rois, self.pooled_height, self.pooled_width, self.spatial_scale)

    def extra_repr(self) -> str:
        return f"{self.pooled_height}x{self.pooled_width}, spatial_scale={self.spatial_scale}"


def _tent(u: Tensor) -> Tensor:
    """The derivative of `_tent_integral`: max(0, 1 - |u|)."""
    return (1.0 - u.abs()).clamp(min=0.0)


def _edge_gradient(grad_weights: Tensor, edges: Tensor, first_cell: int, bins: int) -> tuple[Tensor, Tensor]:
    """Gradient of sum(grad_weights * weights) w.r.t. the ROI's start and end coordinates, where weights (K, P, J)
    are the tent integrals between the bin edges (K, P + 1) [edge m = start + m * (end - start) / P]."""
    cells = torch.arange(first_cell, first_cell + grad_weights.shape[-1], device=edges.device, dtype=edges.dtype)
    tent = _tent(edges[:, :, None] - cells)  # (K, P + 1, J)
    # weight[p] = T(edge[p + 1] - j) - T(edge[p] - j): edge m gets +tent from bin m - 1 and -tent from bin m.
    grad_edge = edges.new_zeros(edges.shape)
    grad_edge[:, 1:] += (grad_weights * tent[:, 1:]).sum(-1)
    grad_edge[:, :-1] -= (grad_weights * tent[:, :-1]).sum(-1)
    frac = torch.arange(bins + 1, device=edges.device, dtype=edges.dtype) / bins  # d edge_m / d end
    return (grad_edge * (1.0 - frac)).sum(-1), (grad_edge * frac).sum(-1)


def prroi_pool2d_box_grad(features: Tensor, boxes_xyxy: Tensor, pooled_height: int, pooled_width: int,
                          spatial_scale: float):
    """PrRoIPool of one image's features (1, C, H, W) over boxes (K, 4) [x0, y0, x1, y1] with a closed-form
    gradient w.r.t. the box coordinates, for IoU-Net refinement (no autograd graph: the tracker runs a dozen of
    these per frame, and autograd's per-node overhead was most of their cost).

    Returns (pooled (K, C, PH, PW), backward) where backward(grad_pooled) -> (K, 4) gradient of
    sum(grad_pooled * pooled) w.r.t. the boxes. Same values as `prroi_pool2d` and its autograd gradient for boxes of
    positive area (the tracker's boxes always have it); a box of zero area raises.
    """
    channels = features.shape[1]
    count = int(boxes_xyxy.shape[0])
    x0, y0, x1, y1 = (boxes_xyxy[:, i] * spatial_scale for i in range(4))
    bin_w, bin_h = (x1 - x0) / pooled_width, (y1 - y0) / pooled_height
    if not bool(((bin_w > 0) & (bin_h > 0)).all()):
        raise ValueError("prroi_pool2d_box_grad needs boxes of positive width and height")
    area = bin_w * bin_h
    part = _pool_image(features[0], x0, y0, x1, y1, bin_w, bin_h, pooled_height, pooled_width)
    pooled = part.summed / area[:, None, None, None]

    def backward(grad_pooled: Tensor) -> Tensor:
        grad_sum = (grad_pooled / area[:, None, None, None]).permute(0, 2, 1, 3).reshape(
            count, pooled_height * channels, pooled_width)  # d/d summed
        grad_area = -(grad_pooled * pooled).sum((1, 2, 3)) / area
        grad_wx = torch.bmm(grad_sum.transpose(1, 2), part.rows)  # (K, PW, cols)
        spread = torch.bmm(grad_sum, part.weight_x).reshape(count * pooled_height, -1)  # (K*PH, C*cols)
        grad_wy = (spread @ part.fmap.t()).reshape(count, pooled_height, -1)
        q = torch.arange(pooled_width + 1, device=x0.device, dtype=x0.dtype)
        p = torch.arange(pooled_height + 1, device=y0.device, dtype=y0.dtype)
        g_x0, g_x1 = _edge_gradient(grad_wx, x0[:, None] + q * bin_w[:, None], part.first_col, pooled_width)
        g_y0, g_y1 = _edge_gradient(grad_wy, y0[:, None] + p * bin_h[:, None], part.first_row, pooled_height)
        # area = (x1 - x0) (y1 - y0) / (PW PH)
        g_x1 = g_x1 + grad_area * bin_h / pooled_width
        g_x0 = g_x0 - grad_area * bin_h / pooled_width
        g_y1 = g_y1 + grad_area * bin_w / pooled_height
        g_y0 = g_y0 - grad_area * bin_w / pooled_height
        return torch.stack([g_x0, g_y0, g_x1, g_y1], 1) * spatial_scale

    return pooled, backward
