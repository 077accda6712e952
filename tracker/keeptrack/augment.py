"""The 13 image transforms of the first frame (keeptrack-reference.md §1.3).

An enlarged patch (2 x the sample size) is cut around the target; each transform alters that patch and then
takes a sample-sized window from its centre displaced by an integer `shift` (row, col), so that image content
moves by +shift (replicate padding where the window leaves the enlarged patch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .params import TrackerParams
from .parts import RandomSource

Tensor = torch.Tensor


@dataclass(frozen=True)
class Transform:
    name: str                      # Identity, Translation, FlipHorizontal, Blur, Rotate
    shift: tuple[int, int]         # (row, col) displacement of the content, patch pixels
    sigma: tuple[float, float] | None = None   # Blur: (sigma_row, sigma_col)
    degrees: float | None = None               # Rotate: counter-clockwise as displayed


def init_transforms(params: TrackerParams, rng: RandomSource) -> list[Transform]:
    """The transform list in the original's order; draws one random shift per flip/blur/rotation."""
    size = params.image_sample_size
    transforms = [Transform("Identity", (0, 0))]
    if not params.use_augmentation:
        return transforms
    t = int(params.translation_shift_fraction * size / 2)
    for shift in ((t, t), (-t, t), (t, -t), (-t, -t)):
        transforms.append(Transform("Translation", shift))

    def random_shift() -> tuple[int, int]:
        # trunc((u - 0.5) * size * factor), in float32 like the original
        u = rng.uniform((2,)).float()
        v = ((u - 0.5) * torch.tensor([float(size), float(size)]) * params.random_shift_factor).long()
        return int(v[0]), int(v[1])

    transforms.append(Transform("FlipHorizontal", random_shift()))
    for sigma in params.blur_sigmas:
        transforms.append(Transform("Blur", random_shift(), sigma=tuple(float(s) for s in sigma)))
    for deg in params.rotation_degrees:
        transforms.append(Transform("Rotate", random_shift(), degrees=float(deg)))
    return transforms


def _gauss_kernels(sigma: tuple[float, float], device) -> list[tuple[int, Tensor]]:
    kernels = []
    for s in sigma:
        half = math.ceil(2 * s)
        k = torch.arange(-half, half + 1, dtype=torch.float32)
        k = torch.exp(-(k ** 2) / (2 * s ** 2))
        kernels.append((half, (k / k.sum()).to(device)))
    return kernels


def _blur(image: Tensor, sigma: tuple[float, float], padding: bool = True) -> Tensor:
    """Separable normalised Gaussian, half-width ceil(2 sigma), zero-padded convolution (padding=False: valid
    convolution, the output is smaller by the two half-widths)."""
    _, ch, h, w = image.shape
    x = image.reshape(-1, 1, h, w)
    (half_r, k_r), (half_c, k_c) = _gauss_kernels(sigma, image.device)
    x = F.conv2d(x, k_r.view(1, 1, -1, 1), padding=(half_r, 0) if padding else 0)
    x = F.conv2d(x, k_c.view(1, 1, 1, -1), padding=(0, half_c) if padding else 0)
    return x.reshape(1, ch, x.shape[-2], x.shape[-1])


def _window(h: int, w: int, shift: tuple[int, int], output_size: int) -> tuple[int, int]:
    """(top row, left column) in the enlarged patch of the output window of `_crop_to_output`."""
    return -(math.floor((output_size - h) / 2) + shift[0]), -(math.floor((output_size - w) / 2) + shift[1])


def _blur_window(image: Tensor, t: Transform, output_size: int) -> Tensor | None:
    """The blurred output window computed from the window plus the kernel margins only (the same taps per output
    pixel as blurring the whole enlarged patch, ~4x less work); None where the margins leave the patch."""
    h, w = int(image.shape[-2]), int(image.shape[-1])
    top, left = _window(h, w, t.shift, output_size)
    half_r, half_c = (math.ceil(2 * s) for s in t.sigma)
    r0, r1 = top - half_r, top + output_size + half_r
    c0, c1 = left - half_c, left + output_size + half_c
    if r0 < 0 or c0 < 0 or r1 > h or c1 > w:
        return None
    return _blur(image[..., r0:r1, c0:c1], t.sigma, padding=False)


def _rotate(image: Tensor, degrees: float, window: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Rotation about the patch centre ((S-1)/2, (S-1)/2): bilinear `grid_sample` with align_corners=True and
    border (replicate) padding; positive = counter-clockwise as displayed.

    This, not cv2.warpAffine, is what reproduces the reference trace: with warpAffine (same centre, same sign,
    BORDER_REPLICATE) the initial filter differed from the trace's by 0.029 (of 3.3) through the interpolation
    details alone; with this sampler it matches to 3e-6. The patch is square, so the normalised grid is isotropic.
    """
    if image.shape[-1] != image.shape[-2]:
        raise ValueError(f"rotation augmentation expects a square patch, got {tuple(image.shape[-2:])}")
    angle = math.pi * degrees / 180
    theta = torch.tensor([[math.cos(angle), -math.sin(angle), 0.0],
                          [math.sin(angle), math.cos(angle), 0.0]], dtype=image.dtype, device=image.device)
    grid = F.affine_grid(theta[None], list(image.shape), align_corners=True)
    if window is not None:
        # Only the output window's pixels: each output pixel samples through its own grid entry, so this is the
        # corresponding part of the full rotation (~4x less work).
        rows, cols = window
        grid = grid.index_select(1, rows).index_select(2, cols)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _window_indices(image: Tensor, shift: tuple[int, int], output_size: int) -> tuple[Tensor, Tensor]:
    """Row and column indices (into the enlarged patch, clamped = replicate padding) of the output window."""
    h, w = int(image.shape[-2]), int(image.shape[-1])
    top, left = _window(h, w, shift, output_size)
    rows = torch.arange(top, top + output_size, device=image.device).clamp(0, h - 1)
    cols = torch.arange(left, left + output_size, device=image.device).clamp(0, w - 1)
    return rows, cols


def _crop_to_output(image: Tensor, shift: tuple[int, int], output_size: int) -> Tensor:
    h, w = int(image.shape[-2]), int(image.shape[-1])
    pad_h = (output_size - h) / 2
    pad_w = (output_size - w) / 2
    left = math.floor(pad_w) + shift[1]
    right = math.ceil(pad_w) - shift[1]
    top = math.floor(pad_h) + shift[0]
    bottom = math.ceil(pad_h) - shift[0]
    rows = torch.arange(-top, h + bottom, device=image.device).clamp(0, h - 1)
    cols = torch.arange(-left, w + right, device=image.device).clamp(0, w - 1)
    return image.index_select(-2, rows).index_select(-1, cols)


def apply_transforms(big_patch: Tensor, transforms: list[Transform], output_size: int) -> Tensor:
    """(1, 3, 2S, 2S) enlarged patch -> (len(transforms), 3, S, S) samples."""
    out = []
    for t in transforms:
        if t.name == "Rotate":
            out.append(_rotate(big_patch, t.degrees, _window_indices(big_patch, t.shift, output_size)))
            continue
        if t.name == "Blur":
            blurred = _blur_window(big_patch, t, output_size)
            if blurred is not None:
                out.append(blurred)
                continue
        img = big_patch
        if t.name == "FlipHorizontal":
            img = img.flip((3,))
        elif t.name == "Blur":
            img = _blur(img, t.sigma)
        out.append(_crop_to_output(img, t.shift, output_size))
    return torch.cat(out)
