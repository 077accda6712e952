"""keeptrack-lite's speed cuts compute the same numbers as the code they replace (docs/speed.md).

Each cut is checked against the plain computation it avoids, on a moving target (synthetic frames: no
../shared needed); where the cut is exact the boxes must be identical to the last bit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tracker.keeptrack.engine import KeepTrackEngine
from tracker.keeptrack.lite import create_lite_engine


def _scene(n: int = 7):
    """A blocky target moving right and down over smooth clutter, with a look-alike (several candidates)."""
    rng = np.random.default_rng(0)
    small = rng.integers(90, 150, (200 // 16 + 1, 320 // 16 + 1, 3)).astype(np.float32)
    bg = np.kron(small, np.ones((16, 16, 1), np.float32))[:200, :320].astype(np.uint8)
    cells = rng.integers(0, 255, (4, 3, 3)).astype(np.uint8)
    obj = cells[(np.arange(36) * 4 // 36)[:, None], (np.arange(30) * 3 // 30)[None, :]]
    frames = []
    for t in range(n):
        f = bg.copy()
        x, y = 60 + 7 * t, 70 + 3 * t
        f[y:y + 36, x:x + 30] = obj
        f[40:76, 230 - 4 * t:260 - 4 * t] = obj  # the look-alike, moving left
        frames.append(f)
    return frames, (60.0, 70.0, 30.0, 36.0)


def _boxes(engine, frames, box):
    engine.initialize(frames[0], box)
    return [engine.track(f).box for f in frames[1:]]


class _ScoresNotPassed(KeepTrackEngine):
    """The engine as it was before the cut: parts get no score map and compute it again."""

    def _context(self, scores=None):
        return super()._context(None)


def test_the_scale_refiner_reuses_the_engine_score_map_with_identical_boxes():
    frames, box = _scene()
    fast = create_lite_engine(backend="torch")
    slow = create_lite_engine(backend="torch")
    slow.__class__ = _ScoresNotPassed
    calls = []
    classify = slow.base.classify
    slow.base.classify = lambda *a: (calls.append(1), classify(*a))[1]
    assert _boxes(fast, frames, box) == _boxes(slow, frames, box)
    # the slow engine did classify twice per frame (so the comparison compares two different paths)
    assert len(calls) >= 2 * (len(frames) - 1)


def test_the_memory_layout_kept_sample_by_sample_is_the_one_laid_out_from_scratch():
    from tracker.keeptrack.memory import SampleMemory
    from tracker.keeptrack.params import TrackerParams
    from tracker.nets.classifier import FixedFeatureCorrelator

    p = TrackerParams(sample_memory_size=6)
    g = torch.Generator().manual_seed(1)
    memory = SampleMemory(torch.randn(3, 5, 8, 8, generator=g), torch.zeros(3, 1, 9, 9), torch.zeros(3, 4), p,
                          layout_filter_size=4)
    filt = torch.randn(1, 5, 4, 4, generator=g)
    grad = torch.randn(6, 1, 9, 9, generator=g)
    slots = []
    for step in range(9):  # fills the memory, then replaces samples
        slots.append(memory.insert(torch.randn(1, 5, 8, 8, generator=g), torch.zeros(1, 1, 9, 9), torch.zeros(4),
                                   1.0, 0.1))
        feats = memory.training_set()[0]
        fresh, kept = FixedFeatureCorrelator(feats, 4), memory.correlator()
        assert torch.equal(kept.matrix, fresh.matrix)
        assert torch.equal(kept.apply(filt), fresh.apply(filt))
        assert torch.equal(kept.transpose(grad[:len(feats)]), fresh.transpose(grad[:len(feats)]))
    assert len(set(slots[3:])) < len(slots[3:])  # some slot was written twice: replacement was exercised


def test_the_correlator_equals_the_convolution_and_its_gradient():
    from tracker.nets.classifier import FixedFeatureCorrelator, apply_filter

    g = torch.Generator().manual_seed(2)
    feat = torch.randn(4, 6, 9, 7, generator=g, dtype=torch.float64)
    filt = torch.randn(1, 6, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    corr = FixedFeatureCorrelator(feat, 4)
    scores = apply_filter(feat, filt)
    assert torch.allclose(corr.apply(filt.detach()), scores, atol=1e-12)
    weight = torch.randn(scores.shape, generator=g, dtype=torch.float64)
    (scores * weight).sum().backward()
    assert torch.allclose(corr.transpose(weight), filt.grad, atol=1e-12)


def test_gauss_newton_steps_equal_recomputing_the_scores_of_every_iterate():
    """The optimiser derives each iterate's scores from the previous ones (linearity) instead of correlating
    again; the iterates are those of the plain steps, each written from scratch with autograd."""
    from tracker.nets.classifier import apply_filter, gauss_newton_hinge, hinge_target_mask

    g = torch.Generator().manual_seed(4)
    feat = torch.randn(5, 8, 10, 10, generator=g, dtype=torch.float64)
    labels = torch.rand(5, 1, 11, 11, generator=g, dtype=torch.float64) ** 4
    weights = torch.rand(5, generator=g, dtype=torch.float64) + 0.1
    start = 0.1 * torch.randn(1, 8, 4, 4, generator=g, dtype=torch.float64)
    final, iterates = gauss_newton_hinge(start, feat, labels, weights, num_iter=5, filter_reg=0.07)
    mask, sqrt_w, reg = hinge_target_mask(labels, 0.05, 0.1), weights.reshape(5, 1, 1, 1).sqrt(), 0.07
    f = start
    for step in range(5):
        f = f.detach().requires_grad_(True)
        scores = apply_filter(feat, f)
        residual = sqrt_w * ((1 - mask) / 2 * scores.abs() + (1 + mask) / 2 * scores - mask * labels)
        (grad,) = torch.autograd.grad(0.5 * (residual ** 2).sum() + 0.5 * reg ** 2 * (f ** 2).sum(), f)
        slope = (1 - mask) / 2 * torch.sign(scores.detach()) + (1 + mask) / 2
        jac_grad = sqrt_w * slope * apply_filter(feat, grad)
        alpha = (grad ** 2).sum() / ((jac_grad ** 2).sum() + reg ** 2 * (grad ** 2).sum())
        f = (f - alpha * grad).detach()
        assert torch.allclose(iterates[step + 1], f, rtol=0, atol=1e-10), step
    assert torch.equal(final, iterates[-1])


def test_engine_boxes_are_identical_with_the_memory_layout_kept():
    frames, box = _scene(n=9)
    fast = create_lite_engine(backend="torch", train_skipping=2)
    slow = create_lite_engine(backend="torch", train_skipping=2)
    slow.base.takes_memory_layout = False
    assert _boxes(fast, frames, box) == _boxes(slow, frames, box)
    assert fast.state.memory.layout is not None and slow.state.memory.layout is None


def test_candidate_descriptors_pooled_at_their_cells_equal_pooling_the_whole_map():
    import torch.nn.functional as F

    from tracker.keeptrack.lite_matcher import LiteMatcher
    from tracker.keeptrack.parts import PatchFeatures

    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 24, 16, 16, generator=g)
    cells = torch.tensor([(r, c) for r in range(17) for c in range(17)])  # every score cell, borders included
    desc = LiteMatcher(filter_size=4).describe(PatchFeatures(x, {}), cells)
    pooled = F.avg_pool2d(x, 4, stride=1, padding=2, count_include_pad=False)
    assert torch.equal(desc, F.normalize(pooled[0][:, cells[:, 0], cells[:, 1]], dim=0))
    assert LiteMatcher(filter_size=4).describe(PatchFeatures(x, {}), cells[:0]).shape == (24, 0)
