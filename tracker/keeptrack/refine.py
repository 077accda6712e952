"""IoU-Net box refinement as a BoxRefiner part (keeptrack-reference.md §1.8).

The network and the relative-space gradient ascent live in tracker/nets/iounet.py; this module adds the tracker's
side: the 9 jittered start boxes around the current estimate and the top-k post-processing.
Reproduced quirk (§8.8): the boxes are ranked by the IoUs predicted *before* the last gradient step.
"""
from __future__ import annotations

import copy

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
        # Opt-in bf16 path: the test-branch convolutions (most of this stage's arithmetic) run on a bfloat16 copy
        # of the network; the refinement itself stays float32 on `net`.
        self.bf16_net = copy.deepcopy(iou_net).to(torch.bfloat16) if params.bf16 else None
        self.modulation: list[Tensor] | None = None
        self.last_start_boxes: Tensor | None = None  # for inspection / tests
        self.last_window: tuple[int, int, int, int] | None = None  # layer3 cells (c0, r0, c1, r1) of the last
        # refinement when the windowed path's result was used, else None

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
        start = box.view(1, 4)
        if p.num_init_random_boxes > 0:
            start = jittered_boxes(box, rng.uniform((p.num_init_random_boxes, 4)), p)
        self.last_start_boxes = start
        self.last_window = None
        result = self._optimise_windowed(features, start) if p.iou_feature_window else None
        if result is None:
            result = self._optimise(features.maps["layer2"], features.maps["layer3"], start)
        boxes, ious = result
        picked = select_refined_box(boxes, ious, max_aspect_ratio=p.maximal_aspect_ratio, k=p.iounet_k)
        return None if picked is None else picked.box_xywh.detach()

    def _optimise(self, layer2: Tensor, layer3: Tensor, start: Tensor) -> tuple[Tensor, Tensor]:
        p = self.params
        if self.bf16_net is None:
            iou_feat = self.net.get_iou_feat([layer2, layer3])
        else:
            iou_feat = tuple(f.float() for f in self.bf16_net.get_iou_feat([layer2.to(torch.bfloat16),
                                                                            layer3.to(torch.bfloat16)]))
        boxes, ious = refine_boxes_relative(self.net, self.modulation, iou_feat, start,
                                            num_iter=p.box_refinement_iter,
                                            step_length=p.box_refinement_step_length,
                                            step_decay=p.box_refinement_step_decay)
        if ious.numel() == 0:  # no refinement steps: rank by the IoUs of the start boxes
            ious = self.net.predict_iou(self.modulation, iou_feat, boxes).reshape(-1)
        return boxes, ious

    def _optimise_windowed(self, features: PatchFeatures, start: Tensor) -> tuple[Tensor, Tensor] | None:
        """Fast path (params.iou_feature_window, on by default): run the IoU-Net's test-branch convolutions only on a
        window of the feature maps around the boxes. Two stacked 3x3 convolutions make outputs within 2 cells of a
        cut edge inexact, and PrRoIPool reads one cell beyond a box, so the window keeps a margin and the result is
        used only if every start and final box stayed 3 layer3 cells (16 px each) inside the cut edges; otherwise
        None (the caller recomputes on the full maps). Same numbers as the full path up to float rounding."""
        layer2, layer3 = features.maps["layer2"], features.maps["layer3"]
        h3, w3 = int(layer3.shape[-2]), int(layer3.shape[-1])
        if int(layer2.shape[-2]) != 2 * h3 or int(layer2.shape[-1]) != 2 * w3:
            return None
        stride = 16.0
        lo = start[:, :2].min(0).values / stride                   # (x, y) in layer3 cells
        hi = (start[:, :2] + start[:, 2:]).max(0).values / stride
        # Room for the boxes to move: a quarter of the largest side (the 10 steps moved boxes by at most 9 % of
        # their side on the OTB sequences here); a box that moves further costs a recomputation, never accuracy.
        margin = 3 + 0.25 * float(start[:, 2:].max()) / stride
        c0, r0 = (max(int(v - margin), 0) for v in lo.tolist())
        c1, r1 = (int(v + margin) + 1 for v in hi.tolist())
        c1, r1 = min(c1, w3), min(r1, h3)
        if (c1 - c0) * (r1 - r0) >= 0.7 * h3 * w3:
            return None                                            # not worth it
        offset = torch.tensor([c0 * stride, r0 * stride, 0.0, 0.0], device=start.device)
        boxes, ious = self._optimise(layer2[..., 2 * r0:2 * r1, 2 * c0:2 * c1], layer3[..., r0:r1, c0:c1],
                                     start - offset)
        boxes = boxes + offset
        every = torch.cat([start, boxes])
        x0, y0 = every[:, 0] / stride, every[:, 1] / stride
        x1, y1 = (every[:, 0] + every[:, 2]) / stride, (every[:, 1] + every[:, 3]) / stride
        inside = ((c0 == 0 or bool((x0 >= c0 + 3).all())) and (r0 == 0 or bool((y0 >= r0 + 3).all()))
                  and (c1 == w3 or bool((x1 <= c1 - 3).all())) and (r1 == h3 or bool((y1 <= r1 - 3).all())))
        if not inside:
            return None
        self.last_window = (c0, r0, c1, r1)
        return boxes, ious
