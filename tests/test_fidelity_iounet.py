"""IoU-Net (`bb_regressor`) and the tracker's box refinement against the reference vectors (d)."""
import pytest
import torch

import fidelity_weights as fw
from fidelity_weights import close
from tracker.nets.iounet import AtomIoUNet, refine_boxes_relative, select_refined_box


@pytest.fixture(scope="module")
def vectors(fidelity):
    return torch.load(fidelity / "iounet.pt", weights_only=True)


@pytest.fixture(scope="module")
def iou_net(fidelity):
    net = AtomIoUNet().eval()
    net.load_state_dict(fw.sub_state(fw.state_dict(fidelity, "super_dimp_simple"), "bb_regressor."))
    return net


@torch.no_grad()
def test_modulation_and_iou_features(vectors, iou_net):
    modulation = iou_net.get_modulation([vectors["ref_layer2"], vectors["ref_layer3"]], vectors["ref_box_xywh"])
    for mine, ref in zip(modulation, vectors["modulation"]):
        close(mine.mean(0), ref)  # the tracker keeps the batch mean
    feats = iou_net.get_iou_feat([vectors["test_layer2"], vectors["test_layer3"]])
    for mine, ref in zip(feats, vectors["iou_feat"]):
        close(mine, ref)


@torch.no_grad()
def test_predicted_iou(vectors, iou_net):
    pred = iou_net.predict_iou(vectors["modulation"], vectors["iou_feat"], vectors["proposals_xywh"].unsqueeze(0))
    close(pred.reshape(-1), vectors["pred_iou"])


def test_refinement_and_post_processing(vectors, iou_net):
    boxes, ious = refine_boxes_relative(iou_net, vectors["modulation"], vectors["iou_feat"],
                                        vectors["refine_start_boxes_xywh"], num_iter=vectors["refine_iter"],
                                        step_length=vectors["refine_step_length"])
    close(boxes, vectors["refine_out_boxes_xywh"], atol=1e-3)
    close(ious, vectors["refine_out_iou"])
    assert float((boxes - vectors["refine_start_boxes_xywh"]).abs().max()) > 0.01  # the ascent moved the boxes
    chosen = select_refined_box(boxes, ious, max_aspect_ratio=6.0, k=3)
    assert torch.equal(chosen.keep_mask, vectors["refine_keep_mask"])
    assert chosen.top_indices.tolist() == vectors["refine_top3_idx"].tolist()
    close(chosen.box_xywh, vectors["refine_pred_box_xywh"], atol=1e-3)


def test_all_boxes_filtered_returns_none():
    boxes = torch.tensor([[0.0, 0.0, 70.0, 10.0], [0.0, 0.0, 1.0, 9.0]])
    assert select_refined_box(boxes, torch.tensor([0.5, 0.6])) is None


def test_closed_form_box_gradient_equals_autograd(vectors, iou_net):
    """The refinement's closed-form gradient (no autograd graph) against autograd through the plain forward:
    PrRoIPool -> LinearBlocks -> predictor, on the reference features, in float64."""
    net = AtomIoUNet().eval().double()
    net.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in iou_net.state_dict().items()})
    modulation = [m.double() for m in vectors["modulation"]]
    modulated = net.modulate(modulation, [f.double() for f in vectors["iou_feat"]])
    boxes = vectors["refine_start_boxes_xywh"].double()
    boxes = torch.cat([boxes, boxes[:2] + torch.tensor([[-40.0, 25.0, 10.0, -5.0]], dtype=torch.float64)])
    with torch.no_grad():
        pred, corner_grad = net.predict_iou_box_grad(modulated, boxes)
    xyxy = torch.cat([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1).requires_grad_(True)
    auto = net.predict_iou_modulated(modulated, torch.cat([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], 1).unsqueeze(0))
    (auto_grad,) = torch.autograd.grad(auto.sum(), xyxy)
    assert torch.allclose(pred, auto.reshape(-1).detach(), atol=1e-12)
    assert torch.allclose(corner_grad, auto_grad, rtol=1e-9, atol=1e-12)
    assert float(corner_grad.abs().max()) > 1e-4  # not vacuous


def test_pooling_box_gradient_equals_autograd_of_the_pooling():
    from tracker.nets.prroi_pool import prroi_pool2d, prroi_pool2d_box_grad

    g = torch.Generator().manual_seed(0)
    feat = torch.randn(1, 7, 30, 40, generator=g, dtype=torch.float64)
    boxes = torch.tensor([[10.0, 20.0, 80.0, 150.0], [-15.0, 5.0, 30.0, 60.0], [250.0, 200.0, 330.0, 260.0],
                          [100.0, 100.0, 101.5, 180.0]], dtype=torch.float64)  # inside, across edges, thin
    for ph, pw, scale in ((5, 5, 1 / 8), (3, 3, 1 / 16), (1, 1, 1 / 16), (3, 4, 1 / 8)):
        xyxy = boxes.clone().requires_grad_(True)
        ref = prroi_pool2d(feat, torch.cat([torch.zeros(4, 1, dtype=torch.float64), xyxy], 1), ph, pw, scale)
        weights = torch.randn(ref.shape, generator=g, dtype=torch.float64)
        (ref * weights).sum().backward()
        out, backward = prroi_pool2d_box_grad(feat, boxes, ph, pw, scale)
        assert torch.allclose(out, ref.detach(), atol=1e-12)
        assert torch.allclose(backward(weights), xyxy.grad, atol=1e-11)
    with pytest.raises(ValueError, match="positive width"):
        prroi_pool2d_box_grad(feat, torch.tensor([[5.0, 5.0, 5.0, 9.0]], dtype=torch.float64), 3, 3, 1 / 8)
