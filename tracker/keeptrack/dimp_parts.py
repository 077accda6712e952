"""The parts of the official-weight engines (keeptrack, keeptrack-fast, superdimp) on top of tracker/nets."""
from __future__ import annotations

import copy
import os
import shutil

import torch

from ..errors import InputError
from ..nets.association import TargetCandidateMatchingNet
from ..nets.base_net import DiMPNet, normalize_image
from ..nets.resnet import folded_inference_copy
from .parts import BaseNetwork, CandidateMatcher, CandidateSet, MatchResult, PatchFeatures

Tensor = torch.Tensor


def _check_compiler(device: str) -> None:
    """torch.compile's CPU code generation builds C++; without a compiler it would fail on the first frame."""
    if device.startswith("cpu") and not any(shutil.which(c) for c in (os.environ.get("CXX", ""), "g++", "c++",
                                                                       "clang++") if c):
        raise InputError("compile=True needs a C++ compiler (g++ or clang++, or $CXX) for TorchInductor on CPU; "
                         "none was found on PATH. Track without compile, or install one.")


class FeatureStage(torch.nn.Module):
    """Everything from the normalised patch to the features of one backbone call, as one inference module:
    ResNet-50 to layer3 (layer2 kept for the IoU-Net) and the classifier's feature conv + instance L2 norm.
    This is the unit the opt-in fast paths act on (bf16 weights, torch.compile). Outputs are always float32 NCHW."""

    def __init__(self, net: DiMPNet, *, fold_batchnorm: bool, channels_last: bool, bf16: bool):
        super().__init__()
        device = next(net.feature_extractor.parameters()).device
        # Inference copies (the shared `net` is not modified). Folding BatchNorm into the convs saves one
        # memory-bound pass per conv; NHWC convolutions are ~1.3-1.5x faster with oneDNN / cuDNN.
        if fold_batchnorm:
            self.backbone = folded_inference_copy(net.feature_extractor).to(device)
        elif channels_last or bf16:
            self.backbone = copy.deepcopy(net.feature_extractor).to(device).requires_grad_(False)
        else:
            self.backbone = net.feature_extractor  # the reference path: the network itself
        extractor = net.classifier.feature_extractor
        self.clf_conv = copy.deepcopy(extractor[0]).to(device).requires_grad_(False)
        self.clf_norm = extractor[1]  # parameter free; runs in float32
        self.layers = tuple(net.backbone_layers)
        self.dtype = torch.bfloat16 if bf16 else torch.float32
        self.channels_last = channels_last
        if bf16:
            self.backbone.to(torch.bfloat16)
            self.clf_conv.to(torch.bfloat16)
        if channels_last:
            self.backbone.to(memory_format=torch.channels_last)
            self.clf_conv.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Normalised patches (N, 3, H, W) -> (classification features, layer2, layer3), float32 NCHW."""
        x = x.to(self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        maps = self.backbone(x, self.layers)
        clf = self.clf_conv(maps["layer3"])
        # Back to float32 NCHW: the classifier, IoU-Net and descriptor convs keep NCHW fp32 weights (a conv with
        # mixed layouts was measured ~1.5x slower than either layout alone).
        return (self.clf_norm(clf.float().contiguous()), maps["layer2"].float().contiguous(),
                maps["layer3"].float().contiguous())


class DiMPBase(BaseNetwork):
    """ResNet-50 (layer2, layer3) + DiMP classifier of SuperDiMP-Simple (hinge GN) or SuperDiMP (learned loss)."""

    stride = 16
    filter_size = 4

    # Patches per backbone call. On CPU a batch of 13 480 px patches ran 1.5-4x slower than 13 single-patch calls
    # (oneDNN working sets far beyond the caches); each patch's features are independent of the batch.
    max_batch = 2

    def __init__(self, net: DiMPNet, channels_last: bool = False, fold_batchnorm: bool = False,
                 bf16: bool = False, compile: bool = False):
        self.net = net
        self.uses_own_labels = not net.classifier.uses_labels
        self.stage = FeatureStage(net, fold_batchnorm=fold_batchnorm, channels_last=channels_last, bf16=bf16)
        self.run_stage = self.stage
        if compile:
            _check_compiler(device=str(next(net.parameters()).device))
            # Inductor with frozen weights (constant-folded, prepacked for oneDNN); one graph per batch size,
            # compiled on first use (tens of seconds on 2 cores, cached on disk by inductor afterwards).
            self.run_stage = torch.compile(self.stage, dynamic=False, options={"freezing": True})

    def extract(self, patches: Tensor) -> PatchFeatures:
        parts = []
        for chunk in patches.split(self.max_batch):
            clf, layer2, layer3 = self.run_stage(normalize_image(chunk))
            parts.append((clf, {"layer2": layer2, "layer3": layer3}))
        if len(parts) == 1:
            return PatchFeatures(*parts[0])
        return PatchFeatures(torch.cat([c for c, _ in parts]),
                             {k: torch.cat([m[k] for _, m in parts]) for k in parts[0][1]})

    def init_filter(self, features, boxes, labels, num_iter):
        filt = self.net.classifier.init_filter(features, boxes)
        if num_iter > 0:
            filt, _ = self.net.classifier.optimize_filter(filt, features, labels=labels, boxes_xywh=boxes,
                                                          sample_weights=None, num_iter=num_iter)
        return filt

    def optimise_filter(self, filt, features, boxes, labels, weights, num_iter):
        filt, _ = self.net.classifier.optimize_filter(filt, features, labels=labels, boxes_xywh=boxes,
                                                      sample_weights=weights, num_iter=num_iter)
        return filt

    def classify(self, filt, features):
        return self.net.classifier.classify(features, filt)


class AssociationMatcher(CandidateMatcher):
    """KeepTrack's association network: descriptors from the base network's layer3, SuperGlue-style matching.

    Reproduced quirk (§8.1): the image size reaches the keypoint normalisation as the tuple (H, W), so y is
    centred by W / 2 and x by H / 2, as in the original at inference.
    """

    def __init__(self, net: TargetCandidateMatchingNet):
        self.net = net

    def describe(self, features: PatchFeatures, cells_rc: Tensor) -> Tensor:
        """The descriptor conv (k x k, padding k // 2) evaluated only at the candidate cells: output cell (r, c)
        reads input rows r - k//2 ... r + k - 1 - k//2 (zero padded), so each descriptor is one matrix product with
        the window there. Same values as the full conv sampled at the cells (to float rounding), ~N / (H W) of
        its cost."""
        conv = self.net.descriptor_extractor.conv
        layer3 = features.maps["layer3"][0]                          # (C, H, W)
        k = conv.kernel_size[0]
        pad = conv.padding[0]
        padded = torch.nn.functional.pad(layer3, (pad, pad, pad, pad))
        rows = cells_rc[:, 0].long().view(-1, 1) + torch.arange(k, device=cells_rc.device).view(1, -1)  # (N, k)
        cols = cells_rc[:, 1].long().view(-1, 1) + torch.arange(k, device=cells_rc.device).view(1, -1)
        windows = padded[:, rows[:, :, None], cols[:, None, :]]      # (C, N, k, k)
        windows = windows.permute(1, 0, 2, 3).reshape(rows.shape[0], -1)
        weight = conv.weight.reshape(conv.weight.shape[0], -1)       # (D, C k k)
        return (windows @ weight.t() + conv.bias).t().contiguous()   # (D, N)

    def match(self, previous: CandidateSet, current: CandidateSet, image_hw) -> MatchResult:
        out = self.net.matcher(previous.descriptors[None], current.descriptors[None],
                               previous.coords_yx, current.coords_yx,
                               previous.scores[None], current.scores[None], (int(image_hw[0]), int(image_hw[1])))
        return MatchResult(out.log_assignment[0], out.matches1[0], out.match_scores1[0])
