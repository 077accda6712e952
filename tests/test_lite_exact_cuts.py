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
