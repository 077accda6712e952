"""Classification features of the lite tracker: EfficientNet-Lite0 ImageNet layers, no learned projection.

KeepTrack's classifier runs on a learned 1024->512 projection of ResNet-50 layer3. The lite tracker has
no trained weights beyond ImageNet, so its classification features are the backbone layers themselves,
each L2-normalised per sample (so that layers with different magnitudes weigh alike), resampled to the
common stride and concatenated, then scaled like DiMP's InstanceL2Norm (sum of squares = 1 per filter
cell), which keeps the Gauss-Newton step sizes and the hinge threshold meaningful.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..nets.efficientnet import LAYER_CHANNELS, LAYER_STRIDE, EfficientNetLite0Features


class LiteFeatures:
    """Patch (B,3,S,S RGB 0..255) -> classification features (B,C,S/stride,S/stride)."""

    def __init__(self, layers: Sequence[str] = ("s8", "s16"), stride: int = 16, filter_size: int = 4,
                 device: str = "cpu"):
        self.layers = tuple(layers)
        self.stride = int(stride)
        self.filter_size = int(filter_size)
        self.backbone = EfficientNetLite0Features(self.layers).to(device)
        self.channels = sum(LAYER_CHANNELS[name] for name in self.layers)
        self.device = device

    @torch.no_grad()
    def __call__(self, patches: torch.Tensor) -> torch.Tensor:
        return self.extract(patches)[0]

    @torch.no_grad()
    def extract(self, patches: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(classification features, raw backbone layers by name)."""
        raw = self.backbone(patches.to(self.device))
        size = patches.shape[-1] // self.stride
        parts = []
        for name in self.layers:
            x = raw[name]
            if LAYER_STRIDE[name] != self.stride:
                # Area-average finer layers, bilinearly upsample coarser ones.
                if LAYER_STRIDE[name] < self.stride:
                    x = F.adaptive_avg_pool2d(x, size)
                else:
                    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            norm = x.pow(2).sum(dim=(1, 2, 3), keepdim=True).add(1e-5).sqrt()
            parts.append(x / norm)
        x = torch.cat(parts, dim=1)
        # DiMP's InstanceL2Norm: each sample scaled to sum of squares H*W / (filter_size^2).
        c, h, w = x.shape[1:]
        x = x * torch.sqrt(torch.tensor(h * w / (self.filter_size**2), dtype=x.dtype)
                           / (x.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-5))
        return x, raw
