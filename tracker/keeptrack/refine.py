"""IoU-Net box refinement as a BoxRefiner part (keeptrack-reference.md §1.8).

The network and the relative-space gradient ascent live in tracker/nets/iounet.py; this module adds the tracker's
side: the 9 jittered start boxes around the current estimate and the top-k post-processing.
Reproduced quirk (§8.8): the boxes are ranked by the IoUs predicted *before* the last gradient step.
"""
from __future__ import annotations

import torch

from ..nets.iounet import AtomIoUNet, refine_boxes_relative, select_refined_box
from .params import TrackerParams
from .parts import BoxRefiner, PatchFeatures, RandomSource

Tensor = torch.Tensor


def jittered_boxes(box: Tensor, uniform: Tensor, params: TrackerParams) -> Tensor:
    """`box` (4,) followed by one box per row of `uniform` (K, 4) draws in [0, 1): centre and size jitter
    (u - 0.5) * sqrt(w h) * [pos, pos, sz, sz], sizes clamped to >= min(w, h) / 3."""
    square = box[2:].prod().sqrt()
    factor = square * torch.tensor([params.box_jitter_pos] * 2 + [params.box_jitter_sz] * 2, device=box.device)
    jitter = (uniform.to(box.device) - 0.5) * factor
    min_edge = box[2:].min() / 3
    size = (box[2:] + jitter[:, 2:]).clamp(min=min_edge)
    centre = (box[:2] + box[2:] / 2) + jitter[:, :2]
    return torch.cat([box.view(1, 4), torch.cat([centre - size / 2, size], 1)])


class IoUNetRefiner(BoxRefiner):
    """ATOM IoU-Net of the DiMP base network; needs PatchFeatures.maps 'layer2' and 'layer3'."""

    def __init__(self, iou_net: AtomIoUNet, params: TrackerParams):
        self.net = iou_net
        self.params = params
        self.modulation: list[Tensor] | None = None
        self.last_start_boxes: Tensor | None = None  # for inspection / tests

    def initialize(self, features: PatchFeatures, box: Tensor) -> None:
        feats = [features.maps["layer2"], features.maps["layer3"]]
        mod = self.net.get_modulation(feats, box.reshape(1, 4).to(feats[0]))
        self.modulation = [m.detach().mean(0) for m in mod]

    def refine(self, features: PatchFeatures, box: Tensor, rng: RandomSource) -> Tensor | None:
        if self.modulation is None:
            raise RuntimeError("IoUNetRefiner.refine called before initialize")
        p = self.params
        device = features.maps["layer2"].device
        box = box.to(device=device, dtype=torch.float32)
        iou_feat = self.net.get_iou_feat([features.maps["layer2"], features.maps["layer3"]])
        start = box.view(1, 4)
        if p.num_init_random_boxes > 0:
            start = jittered_boxes(box, rng.uniform((p.num_init_random_boxes, 4)), p)
        self.last_start_boxes = start
        boxes, ious = refine_boxes_relative(self.net, self.modulation, iou_feat, start,
                                            num_iter=p.box_refinement_iter,
                                            step_length=p.box_refinement_step_length,
                                            step_decay=p.box_refinement_step_decay)
        if ious.numel() == 0:  # no refinement steps: rank by the IoUs of the start boxes
            ious = self.net.predict_iou(self.modulation, iou_feat, boxes).reshape(-1)
        picked = select_refined_box(boxes, ious, max_aspect_ratio=p.maximal_aspect_ratio, k=p.iounet_k)
        return None if picked is None else picked.box_xywh.detach()
