"""The thread policy's count reaches every runtime an engine computes with: torch, OpenCV, ONNX Runtime."""
from __future__ import annotations

import cv2
import torch

from tracker.threads import ThreadGovernor, current_threads, onnx_threads


def test_governor_sets_torch_and_opencv_and_onnx_follows():
    before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        for n in (1, 2):
            governor = ThreadGovernor(fixed=n)
            assert governor.tick() == n
            assert torch.get_num_threads() == n and cv2.getNumThreads() == n and current_threads() == n
            assert onnx_threads() == n  # a fixed count is every runtime's
        adaptive = ThreadGovernor(None, sample_seconds=0.05, recheck_seconds=0.0)
        assert cv2.getNumThreads() == torch.get_num_threads() == adaptive.threads
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


class _Engine:
    def __init__(self, ceiling):
        self.thread_ceiling = ceiling


def test_engine_ceiling_caps_the_adaptive_count_and_never_an_override():
    before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        adaptive = ThreadGovernor(None, sample_seconds=0.05, recheck_seconds=0.0)
        adaptive.threads = adaptive.ceiling = adaptive.load_threads = 2  # the load rule on an idle 2-core machine
        assert adaptive.fit([_Engine(None), object()]) == 2  # no ceiling known: left alone
        assert adaptive.fit([_Engine(None), _Engine(1)]) == 1
        assert torch.get_num_threads() == 1 and current_threads() == 1
        assert onnx_threads() == 2  # ONNX Runtime keeps the load's count; the cap is torch's
        assert adaptive.tick() == 1  # a re-check of the load stays under the ceiling
        assert onnx_threads() == adaptive.load_threads
        assert "torch at most 1" in adaptive.choice.reason
        fixed = ThreadGovernor(fixed=2)
        assert fixed.fit([_Engine(1)]) == 2 and torch.get_num_threads() == 2 and onnx_threads() == 2
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def test_run_loop_fits_the_governor_to_its_engines():
    import numpy as np

    from tracker.result import FrameResult
    from tracker.runloop import RunPlan, run_engine

    seen = []

    class Engine(_Engine):
        def initialize(self, frame, box, index=0):
            return FrameResult(frame_index=index, box=tuple(box))

        def track(self, frame, index=None):
            seen.append(torch.get_num_threads())
            return FrameResult(frame_index=index, box=(0.0, 0.0, 1.0, 1.0))

    before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        governor = ThreadGovernor(None, sample_seconds=0.05)
        governor.threads = governor.ceiling = 2
        frames = [np.zeros((8, 8, 3), np.uint8)] * 3
        run_engine(Engine(1), frames, RunPlan.forward(0, (1.0, 1.0, 2.0, 2.0), 3), governor=governor)
        assert seen == [1, 1]
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])
