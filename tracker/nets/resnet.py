"""ResNet-50 (torchvision v1.5 layout: stride on the 3x3 conv) whose module tree matches the pytracking
checkpoints' `feature_extractor.*` keys. Forward returns the requested layers and stops after the last one."""
from __future__ import annotations

import copy
from typing import Iterable

import torch
from torch import Tensor, nn

LAYER_ORDER = ("conv1", "layer1", "layer2", "layer3", "layer4", "fc")


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    """Children conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc (the last two only hold checkpoint weights)."""

    def __init__(self, blocks: tuple[int, int, int, int] = (3, 4, 6, 3), num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_planes = 64
        for index, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks)):
            stride = 1 if index == 0 else 2
            downsample = nn.Sequential(nn.Conv2d(in_planes, planes * 4, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(planes * 4))
            layers = [Bottleneck(in_planes, planes, stride, downsample)]
            in_planes = planes * 4
            layers += [Bottleneck(in_planes, planes) for _ in range(count - 1)]
            setattr(self, f"layer{index + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: Tensor, output_layers: Iterable[str] = ("layer2", "layer3")) -> dict[str, Tensor]:
        wanted = list(output_layers)
        unknown = [name for name in wanted if name not in LAYER_ORDER]
        if unknown:
            raise ValueError(f"unknown ResNet layers {unknown}; known: {LAYER_ORDER}")
        last = max(LAYER_ORDER.index(name) for name in wanted)
        outputs: dict[str, Tensor] = {}
        x = self.relu(self.bn1(self.conv1(x)))
        if "conv1" in wanted:
            outputs["conv1"] = x
        x = self.maxpool(x)
        for index, name in enumerate(LAYER_ORDER[1:5], start=1):
            if index > last:
                return outputs
            x = getattr(self, name)(x)
            if name in wanted:
                outputs[name] = x
        if last == LAYER_ORDER.index("fc"):
            outputs["fc"] = self.fc(self.avgpool(x).flatten(1))
        return outputs


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """conv <- bn(conv(.)) for eval-mode BatchNorm (running statistics): scale the weights, add a bias."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    bias = bn.bias.detach() - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias.detach() * scale
    conv.weight = nn.Parameter(conv.weight.detach() * scale.view(-1, 1, 1, 1), requires_grad=False)
    conv.bias = nn.Parameter(bias, requires_grad=False)


def folded_inference_copy(net: ResNet50, last_layer: str = "layer3") -> ResNet50:
    """An inference-only copy of `net` with every BatchNorm folded into the convolution before it (eval mode,
    running statistics) and the layers after `last_layer` dropped. Same function up to float rounding
    (~1e-5 relative on layer3), one memory-bound pass fewer per convolution. `net` is left untouched; the copy
    does not follow later changes of `net`'s weights."""
    copy_ = copy.deepcopy(net).eval()
    _fold(copy_.conv1, copy_.bn1)
    copy_.bn1 = nn.Identity()
    for block in copy_.modules():
        if isinstance(block, Bottleneck):
            for i in (1, 2, 3):
                _fold(getattr(block, f"conv{i}"), getattr(block, f"bn{i}"))
                setattr(block, f"bn{i}", nn.Identity())
            if block.downsample is not None:
                _fold(block.downsample[0], block.downsample[1])
                block.downsample[1] = nn.Identity()
    for name in LAYER_ORDER[LAYER_ORDER.index(last_layer) + 1:]:
        setattr(copy_, name, nn.Identity())
    if last_layer != "fc":
        copy_.avgpool = nn.Identity()
    return copy_.requires_grad_(False)
