"""Training samples: padding with artificial candidates, dropping, labels, ignored entries, ratios."""
from collections import Counter

import numpy as np
import pytest

from tracker.training.dump import SequenceDump
from tracker.training.samples import (DUSTBIN, IGNORE, CandidateSampler, SampleParams, feature_patches,
                                      partially_supervised, real_pair, self_supervised)

C, H = 4, 16  # features (C, 16, 16) -> grid 17 x 17, 10 px per cell, search area at (50, 40)


def make_dump(frames, anno=(8, 8), image_size=(300, 400)):
    """frames: list of (cells, scores, category); consecutive frame indices from 1."""
    f = len(frames)
    rng = np.random.default_rng(0)
    offsets = np.concatenate([[0], np.cumsum([len(s) for _, s, _ in frames])])
    feats = rng.normal(size=(f, C, H, H)).astype(np.float16)
    return SequenceDump(
        name="made", image_size=image_size, annotated=True, frame_index=np.arange(1, f + 1),
        search_area=np.tile([50.0, 40.0, 160.0, 160.0], (f, 1)), box=np.tile([110.0, 100.0, 40.0, 40.0], (f, 1)), origin=np.tile([50.0, 40.0], (f, 1)),
        step=np.full((f, 2), 10.0), cand_offsets=offsets,
        cand_cells=np.concatenate([np.array(c, np.int32).reshape(-1, 2) for c, _, _ in frames]),
        cand_scores=np.concatenate([np.array(s, np.float32) for _, s, _ in frames]),
        anno_cell=np.tile(np.array(anno, np.float64), (f, 1)),
        category=np.array([k for _, _, k in frames], "U1"), features=feats,
        aug_features=(feats.astype(np.float32) * 0.5).astype(np.float16),
        aug_origin=np.tile([52.0, 39.0], (f, 1)), aug_step=np.full((f, 2), 10.1), has_aug=np.ones(f, bool))


SEVEN = ([(8, 8), (2, 2), (14, 3), (3, 14), (14, 14), (8, 1), (1, 8)], [.9, .7, .6, .5, .4, .3, .2])
TWO = ([(8, 8), (1, 1)], [.8, .5])


def test_feature_patches_follow_the_4x4_conv_with_padding_2():
    feats = np.arange(2 * 5 * 5, dtype=np.float32).reshape(2, 5, 5)
    p = feature_patches(feats, [(0, 0), (5, 5), (3, 2)])
    assert p.shape == (3, 2, 4, 4)
    assert np.all(p[0, :, :2, :]) == 0 and np.array_equal(p[0, :, 2:, 2:], feats[:, :2, :2])
    assert np.array_equal(p[1, :, :2, :2], feats[:, 3:, 3:]) and not p[1, :, 2:, :].any()
    assert np.array_equal(p[2], feats[:, 1:5, 0:4])


@pytest.mark.parametrize("seed", range(30))
def test_self_supervised_sample(seed):
    dump = make_dump([SEVEN + ("H",), TWO + ("H",)])
    params = SampleParams()
    rng = np.random.default_rng(seed)
    for f, n in ((0, 5), (1, 2)):
        s = self_supervised(dump, f, params, rng)
        for arr in (s.coords0, s.coords1):
            assert arr.shape == (5, 2)
        assert s.patches0.shape == (5, C, 4, 4) and s.gt_assignment.shape == (5, 5)
        # only the first min(N, 5) real candidates take part; the rest of the slots are artificial
        assert not s.valid0[n:].any() and not s.valid1[n:].any()
        dropped0, dropped1 = ~s.valid0[:n], ~s.valid1[:n]
        assert not (dropped0.any() and dropped1.any())  # dropped in one view only
        assert dropped0.sum() + dropped1.sum() <= round(params.drop_fraction * n)
        both = s.valid0 & s.valid1
        assert np.array_equal(s.gt_assignment, np.diag(both.astype(np.float32)))
        for valid, other, gt in ((s.valid0, s.valid1, s.gt_matches0), (s.valid1, s.valid0, s.gt_matches1)):
            for i in range(5):
                expected = i if valid[i] and other[i] else (DUSTBIN if valid[i] else IGNORE)
                assert gt[i] == expected
        # artificial candidates: weak scores, away from every real candidate
        for valid, scores in ((s.valid0, s.scores0), (s.valid1, s.scores1)):
            assert np.all((scores[~valid] >= 0.05) & (scores[~valid] <= 0.075))
            assert np.all(scores[valid] >= params.min_score)
        real = np.vstack([s.coords0[s.valid0], s.coords1[s.valid1]])
        fake = np.vstack([s.coords0[~s.valid0], s.coords1[~s.valid1]])
        if len(fake) and len(real):
            assert np.linalg.norm(fake[:, None] - real[None], axis=2).min() > 5.0
        # frame 0 is the stored frame: its real candidates sit at their cells' image positions
        cells, scores = dump.candidates(f)
        k = s.valid0[:n]
        assert np.allclose(s.coords0[:n][k], np.c_[40 + 10 * cells[:n, 0], 50 + 10 * cells[:n, 1]][k])
        assert np.allclose(s.scores0[:n][k], scores[:n][k])
        # frame-1 positions are jittered by less than a cell
        k = s.valid0[:n] & s.valid1[:n]
        assert np.all(np.abs(s.coords1[:n][k] - s.coords0[:n][k]) <= 10.0 + 1e-6)
        # descriptors of frame 1 come from the augmented view's features
        assert np.allclose(s.patches1[0], feature_patches(dump.aug_features[f].astype(np.float32),
                                                          [np.rint((cells[0] * 10 + [40 - 39, 50 - 52]) / 10.1)])[0]) \
            or not s.valid1[0]


@pytest.mark.parametrize("seed", range(30))
def test_partially_supervised_sample(seed):
    # the target (nearest to the annotation cell (8, 8)) is candidate 2 in frame 0 and 0 in frame 1
    f0 = ([(2, 2), (14, 3), (8, 9), (3, 14)], [.9, .7, .6, .5], "H")
    f1 = ([(8, 8), (2, 3), (14, 14)], [.8, .6, .3], "H")
    dump = make_dump([f0, f1])
    s = partially_supervised(dump, 0, SampleParams(), np.random.default_rng(seed))
    t0, t1 = 2, 0
    assert s.valid0[:4].sum() + s.valid1[:3].sum() >= 6  # at most the target dropped, in one frame
    assert not s.valid0[4:].any() and not s.valid1[3:].any()
    if s.valid0[t0] and s.valid1[t1]:
        assert s.gt_matches0[t0] == t1 and s.gt_matches1[t1] == t0 and s.gt_assignment[t0, t1] == 1
        assert s.targets == (t0, t1)
    elif not s.valid0[t0]:  # target occluded in frame 0: frame 1's target must go to the dustbin
        assert s.gt_matches1[t1] == DUSTBIN and s.gt_matches0[t0] == IGNORE and s.gt_assignment.sum() == 0
    else:
        assert s.gt_matches0[t0] == DUSTBIN and s.gt_matches1[t1] == IGNORE and s.gt_assignment.sum() == 0
    # every other entry is ignored by the loss
    others0 = np.delete(s.gt_matches0, t0)
    others1 = np.delete(s.gt_matches1, t1)
    assert np.all(others0 == IGNORE) and np.all(others1 == IGNORE)
    assert s.gt_assignment.sum() <= 1


def test_partial_keeps_a_target_ranked_below_five():
    frame = ([(1, 1), (1, 15), (15, 1), (15, 15), (1, 8), (8, 8)], [.9, .8, .7, .6, .5, .4], "K")
    dump = make_dump([frame, frame])
    s = partially_supervised(dump, 0, SampleParams(target_drop_probability=0.0), np.random.default_rng(0))
    assert s.gt_matches0[4] == 4 and s.gt_matches1[4] == 4
    assert np.allclose(s.scores0[4], 0.4)


def test_real_pair_has_all_candidates_and_only_the_target_labelled():
    dump = make_dump([SEVEN + ("H",), SEVEN + ("H",)])
    s = real_pair(dump, 0)
    assert s.patches0.shape[0] == 7 and s.gt_assignment.shape == (7, 7) and s.gt_assignment[0, 0] == 1
    assert (s.gt_matches1 == IGNORE).sum() == 6


def test_sampler_uses_the_reference_ratios():
    frames = [SEVEN + ("H",), SEVEN + ("H",), SEVEN + ("K",), SEVEN + ("H",), SEVEN + ("G",), SEVEN + ("H",),
              SEVEN + ("J",)]
    sampler = CandidateSampler([make_dump(frames)])
    rng = np.random.default_rng(0)
    modes = Counter(sampler.sample(rng).mode for _ in range(3000))
    sup = sum(v for k, v in modes.items() if k.startswith("self_sup"))
    assert abs(sup / 3000 - 0.5) < 0.04
    partial = 3000 - sup
    assert abs(modes["partial_sup/HH"] / partial - 1 / 1.2) < 0.04
    assert abs(modes["partial_sup/HK"] / partial - 0.1 / 1.2) < 0.03
    # self-supervision: H 1, K 0.5, J 0.5 (no unannotated frames here)
    assert abs(modes["self_sup/H"] / sup - 0.5) < 0.05 and abs(modes["self_sup/J"] / sup - 0.25) < 0.05
    assert "self_sup/G" not in modes
