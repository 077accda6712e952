"""Speed of the KeepTrack network pieces (random weights; numbers do not depend on the weights): prints a table of
milliseconds per call for the default (480 px) and fast (352 px) patch sizes.

    .venv/bin/python bench/bench_nets.py [--device cuda] [--threads N]

Figures taken on a busy shared machine are inflated; rerun on an idle one before quoting them.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from tracker.nets.association import TargetCandidateMatchingNet  # noqa: E402
from tracker.nets.base_net import DiMPNet  # noqa: E402
from tracker.nets.iounet import refine_boxes_relative  # noqa: E402


def timed(fn, device: str, repeats: int = 3) -> float:
    fn()  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    torch.manual_seed(0)
    net = DiMPNet().to(device).eval()
    assoc = TargetCandidateMatchingNet().to(device).eval()
    rows = []
    for size in (480, 352):
        patch = torch.rand(1, 3, size, size, device=device) * 255
        with torch.no_grad():
            feats = net.extract_backbone(patch)
            clf = net.extract_classification_feat(feats)
        hf = clf.shape[-1]
        with torch.no_grad():
            rows.append((f"{size} px", "backbone layer2+layer3 (1 patch)", timed(lambda: net.extract_backbone(patch), device)))
            rows.append((f"{size} px", "backbone, 13 init patches", timed(lambda: net.extract_backbone(patch.expand(13, -1, -1, -1)), device, 1)))
            rows.append((f"{size} px", "classification features", timed(lambda: net.extract_classification_feat(feats), device)))
            memory = clf.expand(50, -1, -1, -1).contiguous()
            labels = torch.rand(50, 1, hf + 1, hf + 1, device=device)
            boxes = torch.tensor([[size / 2 - 30, size / 2 - 40, 60.0, 80.0]], device=device).expand(50, 4)
            filt = net.classifier.init_filter(memory[:15], boxes[:15])
            rows.append((f"{size} px", "filter init (15 samples)", timed(lambda: net.classifier.init_filter(memory[:15], boxes[:15]), device)))
            rows.append((f"{size} px", "10 GN steps, 15 samples", timed(lambda: net.classifier.optimize_filter(filt, memory[:15], labels=labels[:15], num_iter=10), device)))
            rows.append((f"{size} px", "2 GN steps, 50 samples", timed(lambda: net.classifier.optimize_filter(filt, memory, labels=labels, num_iter=2), device)))
            rows.append((f"{size} px", "score map", timed(lambda: net.classifier.classify(clf, filt), device)))
            iou_feat = net.bb_regressor.get_iou_feat(net.iou_backbone_feat(feats))
            modulation = [m.mean(0) for m in net.bb_regressor.get_modulation(net.iou_backbone_feat(feats), boxes[:1])]
            rows.append((f"{size} px", "IoU features", timed(lambda: net.bb_regressor.get_iou_feat(net.iou_backbone_feat(feats)), device)))
        start = boxes[:1].repeat(10, 1) + torch.randn(10, 4, device=device)
        for steps in (10, 3):
            rows.append((f"{size} px", f"IoU-Net refinement, 10 boxes x {steps} steps",
                         timed(lambda: refine_boxes_relative(net.bb_regressor, modulation, iou_feat, start, num_iter=steps), device)))
        with torch.no_grad():
            cells = torch.randint(0, hf + 1, (15, 2), device=device)
            rows.append((f"{size} px", "descriptors (15 candidates)", timed(lambda: assoc.descriptor_extractor.get_descriptors(feats["layer3"], cells), device)))
            d = assoc.descriptor_extractor.get_descriptors(feats["layer3"], cells)
            coords = torch.rand(15, 2, device=device) * 300
            scores = torch.rand(1, 15, device=device)
            rows.append((f"{size} px", "matcher (15 x 15 candidates)", timed(lambda: assoc.matcher(d, d, coords, coords, scores, scores, (360, 640)), device)))
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'patch':<8}{'operation':<44}{'ms':>10}")
    for size, name, ms in rows:
        print(f"{size:<8}{name:<44}{ms:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
