"""ATOM IoU-Net (`bb_regressor.*` of both SuperDiMP base networks) and the box-refinement maths the tracker runs on it.

Reference branch (once, on the first frame): modulation vectors from layer2/layer3 features inside the target box.
Test branch (every refined frame): IoU features of the current patch. `predict_iou` scores boxes [x, y, w, h] in
patch pixels; its gradient w.r.t. the boxes (through PrRoIPool) drives `refine_boxes_relative`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .prroi_pool import PrRoIPool2D, prroi_pool2d_box_grad


def conv_bn_relu(in_planes: int, out_planes: int, kernel_size: int = 3, padding: int = 1) -> nn.Sequential:
    """[0] Conv2d with bias, [1] BatchNorm2d, [2] ReLU (checkpoint layout)."""
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, kernel_size, padding=padding, bias=True),
                         nn.BatchNorm2d(out_planes), nn.ReLU(inplace=True))


class LinearBlock(nn.Module):
    """Linear over a flattened (C, s, s) input, BatchNorm2d on (K, out, 1, 1), ReLU -> (K, out)."""

    def __init__(self, in_planes: int, out_planes: int, input_sz: int):
        super().__init__()
        self.linear = nn.Linear(in_planes * input_sz * input_sz, out_planes, bias=True)
        self.bn = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.linear(x.reshape(x.shape[0], -1))
        x = self.relu(self.bn(x.reshape(x.shape[0], x.shape[1], 1, 1)))
        return x.reshape(x.shape[0], -1)

    def input_grad(self, out: Tensor, grad_out: Tensor) -> Tensor:
        """Gradient w.r.t. the flattened input, given this block's output `out` (eval mode) and d/d out."""
        scale = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        return (grad_out * (out > 0) * scale) @ self.linear.weight


def _xywh_to_rois(boxes_xywh: Tensor) -> Tensor:
    """(B, K, 4) [x, y, w, h] -> (B*K, 5) [b, x0, y0, x1, y1]."""
    batch, count = boxes_xywh.shape[:2]
    index = torch.arange(batch, dtype=boxes_xywh.dtype, device=boxes_xywh.device).view(batch, 1, 1).expand(-1, count, 1)
    xyxy = torch.cat([boxes_xywh[..., :2], boxes_xywh[..., :2] + boxes_xywh[..., 2:]], dim=2)
    return torch.cat([index, xyxy], dim=2).reshape(-1, 5)


class AtomIoUNet(nn.Module):
    def __init__(self, input_dim: tuple[int, int] = (512, 1024), pred_input_dim: tuple[int, int] = (256, 256),
                 pred_inter_dim: tuple[int, int] = (256, 256)):
        super().__init__()
        self.conv3_1r = conv_bn_relu(input_dim[0], 128)
        self.conv3_1t = conv_bn_relu(input_dim[0], 256)
        self.conv3_2t = conv_bn_relu(256, pred_input_dim[0])
        self.prroi_pool3r = PrRoIPool2D(3, 3, 1 / 8)
        self.prroi_pool3t = PrRoIPool2D(5, 5, 1 / 8)
        self.fc3_1r = conv_bn_relu(128, 256, kernel_size=3, padding=0)
        self.conv4_1r = conv_bn_relu(input_dim[1], 256)
        self.conv4_1t = conv_bn_relu(input_dim[1], 256)
        self.conv4_2t = conv_bn_relu(256, pred_input_dim[1])
        self.prroi_pool4r = PrRoIPool2D(1, 1, 1 / 16)
        self.prroi_pool4t = PrRoIPool2D(3, 3, 1 / 16)
        self.fc34_3r = conv_bn_relu(256 + 256, pred_input_dim[0], kernel_size=1, padding=0)
        self.fc34_4r = conv_bn_relu(256 + 256, pred_input_dim[1], kernel_size=1, padding=0)
        self.fc3_rt = LinearBlock(pred_input_dim[0], pred_inter_dim[0], 5)
        self.fc4_rt = LinearBlock(pred_input_dim[1], pred_inter_dim[1], 3)
        self.iou_predictor = nn.Linear(pred_inter_dim[0] + pred_inter_dim[1], 1, bias=True)

    def get_modulation(self, feat: list[Tensor], boxes_xywh: Tensor) -> tuple[Tensor, Tensor]:
        """Reference features [layer2 (B, 512, ...), layer3 (B, 1024, ...)] and one box per sample (B, 4) ->
        two (B, 256, 1, 1) modulation vectors. The tracker keeps their batch mean, (256, 1, 1) each."""
        feat3, feat4 = feat
        rois = _xywh_to_rois(boxes_xywh.reshape(-1, 1, 4).to(feat3))
        pooled3 = self.prroi_pool3r(self.conv3_1r(feat3), rois)
        pooled4 = self.prroi_pool4r(self.conv4_1r(feat4), rois)
        joint = torch.cat([self.fc3_1r(pooled3), pooled4], dim=1)
        return self.fc34_3r(joint), self.fc34_4r(joint)

    def get_iou_feat(self, feat: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Test features [layer2, layer3] -> IoU features (B, 256, H8, W8), (B, 256, H16, W16)."""
        feat3, feat4 = feat
        return self.conv3_2t(self.conv3_1t(feat3)), self.conv4_2t(self.conv4_1t(feat4))

    def predict_iou(self, modulation: list[Tensor] | tuple[Tensor, Tensor], iou_feat: list[Tensor] | tuple[Tensor, Tensor],
                    boxes_xywh: Tensor) -> Tensor:
        """Boxes (B, K, 4) (or (K, 4) for B = 1) in patch pixels -> predicted IoU (B, K)."""
        return self.predict_iou_modulated(self.modulate(modulation, iou_feat), boxes_xywh)

    @staticmethod
    def modulate(modulation, iou_feat) -> tuple[Tensor, Tensor]:
        """IoU features scaled channel-wise by the modulation vectors (independent of the boxes: compute once
        when scoring the same patch repeatedly, as the refinement does)."""
        (mod3, mod4), (feat3, feat4) = modulation, iou_feat
        batch = feat3.shape[0]
        return feat3 * mod3.reshape(batch, -1, 1, 1), feat4 * mod4.reshape(batch, -1, 1, 1)

    def predict_iou_modulated(self, modulated: tuple[Tensor, Tensor], boxes_xywh: Tensor) -> Tensor:
        att3, att4 = modulated
        batch = att3.shape[0]
        if boxes_xywh.dim() == 2:
            boxes_xywh = boxes_xywh.unsqueeze(0)
        count = boxes_xywh.shape[1]
        rois = _xywh_to_rois(boxes_xywh.to(att3))
        joint = torch.cat([self.fc3_rt(self.prroi_pool3t(att3, rois)), self.fc4_rt(self.prroi_pool4t(att4, rois))], 1)
        return self.iou_predictor(joint).reshape(batch, count)

    def predict_iou_box_grad(self, modulated: tuple[Tensor, Tensor], boxes_xywh: Tensor) -> tuple[Tensor, Tensor]:
        """Predicted IoUs (K,) of boxes (K, 4) [x, y, w, h] on ONE patch's modulated features, and their gradient
        w.r.t. the box corners (K, 4) [x0, y0, x1, y1], in closed form (eval mode: BatchNorm on running
        statistics). Same numbers as `predict_iou_modulated` and its autograd gradient, a fraction of the cost."""
        if self.training:
            raise RuntimeError("predict_iou_box_grad needs eval mode (BatchNorm on running statistics)")
        att3, att4 = modulated
        if att3.shape[0] != 1:
            raise ValueError("predict_iou_box_grad scores boxes on one patch (batch 1)")
        xyxy = torch.cat([boxes_xywh[:, :2], boxes_xywh[:, :2] + boxes_xywh[:, 2:]], 1).to(att3)
        pooled3, back3 = prroi_pool2d_box_grad(att3, xyxy, 5, 5, self.prroi_pool3t.spatial_scale)
        pooled4, back4 = prroi_pool2d_box_grad(att4, xyxy, 3, 3, self.prroi_pool4t.spatial_scale)
        out3, out4 = self.fc3_rt(pooled3), self.fc4_rt(pooled4)
        pred = self.iou_predictor(torch.cat([out3, out4], 1)).reshape(-1)
        weight = self.iou_predictor.weight[0]  # d pred / d joint
        grad3 = self.fc3_rt.input_grad(out3, weight[:out3.shape[1]].expand_as(out3)).reshape(pooled3.shape)
        grad4 = self.fc4_rt.input_grad(out4, weight[out3.shape[1]:].expand_as(out4)).reshape(pooled4.shape)
        return pred, back3(grad3) + back4(grad4)


# --- Box refinement (the tracker's relative-space gradient ascent and its post-processing) ------------------------------

def boxes_to_relative(boxes_xywh: Tensor, size_norm: Tensor) -> Tensor:
    """[x, y, w, h] -> (centre_x / w0, centre_y / h0, log w, log h) with (w0, h0) = `size_norm`."""
    centre = boxes_xywh[..., :2] + 0.5 * boxes_xywh[..., 2:]
    return torch.cat([centre / size_norm, boxes_xywh[..., 2:].log()], dim=-1)


def relative_to_boxes(rel: Tensor, size_norm: Tensor) -> Tensor:
    size = rel[..., 2:].exp()
    centre = rel[..., :2] * size_norm
    return torch.cat([centre - 0.5 * size, size], dim=-1)


def refine_boxes_relative(iou_net: AtomIoUNet, modulation, iou_feat, start_boxes_xywh: Tensor, *, num_iter: int = 10,
                          step_length: float = 2.5e-3, step_decay: float = 1.0) -> tuple[Tensor, Tensor]:
    """Gradient ascent on the summed predicted IoU in relative box space, normalised by the FIRST box's size.

    start_boxes_xywh (K, 4) in patch pixels. Returns the refined boxes (K, 4) and the IoUs predicted at the start
    of the last step (as the original tracker keeps them; with num_iter = 0: empty IoUs, boxes unchanged).
    """
    boxes = start_boxes_xywh.reshape(1, -1, 4).detach()
    size_norm = boxes[:, :1, 2:].clone()
    rel = boxes_to_relative(boxes, size_norm)
    ious = boxes.new_zeros((0,))
    with torch.no_grad():
        modulated = iou_net.modulate(modulation, iou_feat)
        step = step_length
        for _ in range(num_iter):
            current = relative_to_boxes(rel, size_norm)[0]
            pred, corner_grad = iou_net.predict_iou_box_grad(modulated, current)
            # Chain rule to (cx / w0, cy / h0, log w, log h): x0 = cx - w / 2, x1 = cx + w / 2.
            grad = torch.cat([(corner_grad[:, :2] + corner_grad[:, 2:]) * size_norm[0],
                              0.5 * current[:, 2:] * (corner_grad[:, 2:] - corner_grad[:, :2])], 1)
            rel = rel + step * grad.unsqueeze(0)
            ious = pred
            step *= step_decay
    return relative_to_boxes(rel, size_norm).reshape(-1, 4), ious


@dataclass(frozen=True)
class RefinedBox:
    box_xywh: Tensor  # (4,) mean of the top-k kept boxes, patch pixels
    keep_mask: Tensor  # (K,) bool, aspect-ratio filter
    top_indices: Tensor  # indices among the KEPT boxes, best first


def select_refined_box(boxes_xywh: Tensor, ious: Tensor, *, max_aspect_ratio: float = 6.0, k: int = 3) -> RefinedBox | None:
    """The tracker's post-processing: sizes clamped to >= 1, boxes with w/h outside (1/r, r) dropped, mean of the
    top-k by predicted IoU. None when every box is dropped (the tracker then leaves its state unchanged)."""
    boxes = boxes_xywh.clone()
    boxes[:, 2:] = boxes[:, 2:].clamp(min=1)
    aspect = boxes[:, 2] / boxes[:, 3]
    keep = (aspect < max_aspect_ratio) & (aspect > 1.0 / max_aspect_ratio)
    kept_boxes, kept_ious = boxes[keep], ious[keep]
    if kept_boxes.shape[0] == 0:
        return None
    _, top = torch.topk(kept_ious, min(k, kept_boxes.shape[0]))
    return RefinedBox(kept_boxes[top].mean(0), keep, top)
