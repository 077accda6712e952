"""The DiMP base network of KeepTrack (SuperDiMP-Simple, `super_dimp_simple.pth.tar`) and of plain SuperDiMP
(`super_dimp.pth.tar`): ResNet-50 backbone, target classifier and IoU-Net, with the checkpoints' module tree."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .classifier import ClassifierConfig, LinearFilterClassifier
from .iounet import AtomIoUNet
from .resnet import ResNet50

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Variant names are the checkpoint kinds of tracker.checkpoints.
SUPER_DIMP_SIMPLE = "super_dimp_simple"
SUPER_DIMP = "super_dimp"


def normalize_image(image: Tensor) -> Tensor:
    """(N, 3, H, W) RGB in [0, 255] (any dtype) -> float32 network input (img / 255 - mean) / std."""
    image = image.to(torch.float32) / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=image.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=image.device).view(1, 3, 1, 1)
    return (image - mean) / std


def image_to_tensor(image_hwc_rgb) -> Tensor:
    """H x W x 3 uint8 RGB array/tensor -> (1, 3, H, W) float32 in [0, 255]."""
    tensor = torch.as_tensor(image_hwc_rgb)
    return tensor.permute(2, 0, 1).unsqueeze(0).to(torch.float32)


class DiMPNet(nn.Module):
    """Children feature_extractor (ResNet-50), classifier, bb_regressor; all weights from one checkpoint."""

    backbone_layers = ("layer2", "layer3")

    def __init__(self, variant: str = SUPER_DIMP_SIMPLE):
        super().__init__()
        if variant not in (SUPER_DIMP_SIMPLE, SUPER_DIMP):
            raise ValueError(f"unknown base network variant {variant!r}")
        self.variant = variant
        self.feature_extractor = ResNet50()
        optimizer = "hinge_gn" if variant == SUPER_DIMP_SIMPLE else "learned_loss"
        self.classifier = LinearFilterClassifier(ClassifierConfig(optimizer=optimizer))
        self.bb_regressor = AtomIoUNet()

    def extract_backbone(self, image: Tensor, normalized: bool = False) -> dict[str, Tensor]:
        """Image (N, 3, H, W) RGB in [0, 255] (or already normalised) -> {'layer2': stride 8, 'layer3': stride 16}."""
        x = image if normalized else normalize_image(image)
        return self.feature_extractor(x, self.backbone_layers)

    def iou_backbone_feat(self, backbone: dict[str, Tensor]) -> list[Tensor]:
        return [backbone["layer2"], backbone["layer3"]]
