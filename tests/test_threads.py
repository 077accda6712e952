"""The thread policy's count reaches every runtime an engine computes with: torch, OpenCV, ONNX Runtime."""
from __future__ import annotations

import cv2
import torch

from tracker.threads import ThreadGovernor, current_threads


def test_governor_sets_torch_and_opencv_and_onnx_follows():
    before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        for n in (1, 2):
            governor = ThreadGovernor(fixed=n)
            assert governor.tick() == n
            assert torch.get_num_threads() == n and cv2.getNumThreads() == n and current_threads() == n
        adaptive = ThreadGovernor(None, sample_seconds=0.05, recheck_seconds=0.0)
        assert cv2.getNumThreads() == torch.get_num_threads() == adaptive.threads
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])
