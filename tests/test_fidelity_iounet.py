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
