"""k targets tracked by keeptrack-lite with one batched backbone call give each target the boxes it gets when
tracked alone (tracker.keeptrack.engine.track_together)."""
import copy

import numpy as np
import pytest

from tracker.keeptrack.engine import can_batch, track_together
from tracker.keeptrack.lite import create_lite_engine


def frames(n=5, h=180, w=320, seed=3):
    """Textured background with three bright blobs drifting right at different speeds."""
    rng = np.random.default_rng(seed)
    base = (rng.random((h, w, 3)) * 90).astype(np.uint8)
    out = []
    for i in range(n):
        f = base.copy()
        for k, (x, y, v) in enumerate(((40, 50, 2), (150, 90, 3), (230, 40, 1))):
            cx = x + v * i
            f[y:y + 24, cx:cx + 18] = (220 - 40 * k, 60 + 70 * k, 200)
        out.append(f)
    return out


SIZE = 128  # a small search patch keeps the test fast; the bench measures the real 256
BOXES = [(40, 50, 18, 24), (150, 90, 18, 24), (230, 40, 18, 24)]


def test_batched_backbone_gives_each_target_its_boxes_alone():
    video = frames()
    first = create_lite_engine(image_sample_size=SIZE)  # weights load once; each target gets its own copy
    engines = [copy.deepcopy(first) for _ in BOXES]
    for e, box in zip(engines, BOXES):
        e.initialize(video[0], box, 0)
    alone_engines = [copy.deepcopy(e) for e in engines]
    assert can_batch(engines)
    alone = [[e.track(f, i).box for i, f in enumerate(video[1:], start=1)] for e in alone_engines]
    together = [[] for _ in BOXES]
    for i, f in enumerate(video[1:], start=1):
        results = track_together(engines, f, i)
        assert [r.frame_index for r in results] == [i] * len(BOXES)
        for k, r in enumerate(results):
            together[k].append(r.box)
            assert r.timings["backbone"] > 0
    diff = max(abs(a - b) for k in range(len(BOXES)) for p, q in zip(alone[k], together[k]) for a, b in zip(p, q))
    assert diff <= 0.01, diff
    assert len({tuple(t[-1]) for t in together}) == len(BOXES)  # three different targets, not one
