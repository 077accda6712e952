"""Search-patch extraction: which image region becomes the square patch, and how patch pixels map back.

Positions are (row, col) float32 CPU tensors, as in the original tracker; the image tensor may live on any device.

Reproduced quirk (keeptrack-reference.md §8.7): the original's crop expressions were written for integer tensor
division but run under true division in current PyTorch. We follow what the current code computes, because the
reference trace was produced that way (its search areas have half-pixel corners):
top-left = pos_int - (side - 1) / 2 and bottom-right = pos_int + side / 2 + 1 as real numbers (so they can be
half-integers), the pixel rows/columns actually cut are these bounds truncated toward zero (checked against the
reference trace: a window [0, 249.5) cuts 249 pixels, not 250), and the mapping back to
the image (`Crop.sample_pos`, `Crop.sample_scale`, `Crop.search_area`) uses the real-valued bounds. The effect
is sub-pixel (a crop may be one pixel wider than `side`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def image_to_tensor(frame: np.ndarray, device: str | torch.device) -> Tensor:
    """RGB uint8 (H, W, 3) -> (1, 3, H, W) uint8 view on `device`, values 0..255. Not converted to float: a
    search patch cuts a small part of the frame, and `sample_patch` converts only the pixels it cuts (the
    same numbers, without a float copy of the whole frame)."""
    t = torch.from_numpy(np.ascontiguousarray(frame)).to(device)
    return t.permute(2, 0, 1).unsqueeze(0)


@dataclass(frozen=True)
class Crop:
    """A patch cut from the image and its placement.

    `coords` = (top, left, bottom, right) in image pixels, bottom/right one past the last row/column
    (real-valued, see the module docstring).
    """

    patch: Tensor        # (1, 3, S, S) float32 0..255
    coords: Tensor       # (4,) float32 CPU

    @property
    def sample_pos(self) -> Tensor:
        """Image (row, col) of the patch centre."""
        return (self.coords[:2] + self.coords[2:] - 1) / 2

    def sample_scale(self, output_size: int) -> Tensor:
        """Image pixels per patch pixel (0-d float32)."""
        return torch.sqrt(torch.prod((self.coords[2:] - self.coords[:2]) / output_size))

    @property
    def search_area(self) -> tuple[float, float, float, float]:
        """[x, y, w, h] of the searched region in image pixels, as the original reports it (w = right - left - 1)."""
        top, left, bottom, right = (float(v) for v in self.coords)
        return (left, top, right - left - 1, bottom - top - 1)


def _trunc(v: float) -> int:
    return int(math.trunc(v))


def sample_patch(image: Tensor, pos: Tensor, sample_size: Tensor, output_size: int,
                 mode: str = "replicate", max_scale_change: float | None = None) -> Crop:
    """Cut a square region of side `sample_size` (image px, (2,) float) centred at `pos` and resize it; `image`
    (1, 3, H, W) uint8 or float, the patch float32.

    mode 'replicate': the crop may extend past the image (border pixels repeated);
    'inside_major': the crop is first shrunk by up to `max_scale_change` so that it fits the image along its
    shorter side, then shifted inside the image (centred along an axis where it is still larger).
    Large crops are decimated by an integer factor first (plain strided subsampling, as the original does).
    """
    pos = pos.float()
    sample_size = sample_size.float()
    posl = pos.long()  # truncation toward zero, like the original
    height, width = int(image.shape[-2]), int(image.shape[-1])

    if mode in ("inside", "inside_major"):
        shrink = sample_size / torch.tensor([float(height), float(width)])
        shrink = shrink.max() if mode == "inside" else shrink.min()
        shrink = shrink.clamp(min=1.0, max=max_scale_change)
        sample_size = (sample_size / shrink).long()

    out = torch.tensor([float(output_size), float(output_size)])
    resize_factor = torch.min(sample_size.float() / out).item()
    df = int(max(int(resize_factor - 0.1), 1))
    size = sample_size.float() / df

    image2 = image
    posf = posl
    if df > 1:
        offset = posl % df
        posf = (posl - offset) / df
        image2 = image[..., int(offset[0]):: df, int(offset[1]):: df]
    h2, w2 = int(image2.shape[-2]), int(image2.shape[-1])

    side = torch.max(size.round(), torch.tensor([2.0])).long()
    tl = posf - (side - 1) / 2
    br = posf + side / 2 + 1

    if mode in ("inside", "inside_major"):
        im2_size = torch.tensor([h2, w2])
        shift = (-tl).clamp(min=0) - (br - im2_size).clamp(min=0)
        tl = tl + shift
        br = br + shift
        outside = ((-tl).clamp(min=0) + (br - im2_size).clamp(min=0)) // 2
        shift = (-tl - outside) * (outside > 0).long()
        tl = tl + shift
        br = br + shift

    tl = tl.float()
    br = br.float()
    # Pixel window actually cut: the real-valued corners truncated toward zero (negative pad = crop).
    pad_top, pad_left = -_trunc(tl[0].item()), -_trunc(tl[1].item())
    pad_bottom, pad_right = _trunc(br[0].item()) - h2, _trunc(br[1].item()) - w2
    rows = torch.arange(-pad_top, h2 + pad_bottom, device=image.device).clamp(0, h2 - 1)
    cols = torch.arange(-pad_left, w2 + pad_right, device=image.device).clamp(0, w2 - 1)
    # Cut rows then columns of the (h, w, 3) pixel layout (contiguous for a frame from image_to_tensor: whole
    # pixel rows are copied), convert only the window to float, and resize it channels-last, which takes
    # torch's vectorised bilinear kernel on CPU; the same numbers as the planar float path
    # (tests/test_keeptrack_logic.py), a few times faster.
    window = image2[0].permute(1, 2, 0).index_select(0, rows).index_select(1, cols).float()
    coords = df * torch.cat((tl, br))
    resize = window.shape[0] != output_size or window.shape[1] != output_size
    if resize and window.device.type == "cpu" and window.shape[-1] <= 4:
        # OpenCV's bilinear resize (half-pixel centres, like align_corners=False) computes the same numbers
        # as torch's on these windows (tests/test_keeptrack_logic.py), an order of magnitude faster.
        window = torch.from_numpy(cv2.resize(window.numpy(), (output_size, output_size),
                                             interpolation=cv2.INTER_LINEAR))
        resize = False
    patch = window.permute(2, 0, 1).unsqueeze(0)
    if resize:
        patch = F.interpolate(patch, size=(output_size, output_size), mode="bilinear", align_corners=False)
    return Crop(patch.contiguous(), coords.float())
