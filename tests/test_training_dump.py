"""Candidate dumps and data mining on a constructed sequence whose categories are known."""
import numpy as np
import pytest

from tracker.errors import InputError
from tracker.result import Candidate, FrameResult, ScoreMap
from tracker.training.dump import (DumpParams, GridFeatures, SequenceDump, dump_sequence, load_dumps, mine_frame,
                                   mine_pairs, summarize)

GRID = 9  # descriptor grid 9x9 over features 8x8; cell (r, c) at image (x=20c, y=20r)
STEP = 20.0
GT_BOX = (70.0, 70.0, 20.0, 20.0)  # centred on cell (4, 4)

# frame -> candidates (row, col, score); expected category ("-" = not kept)
SCRIPT = {
    1: ([(4, 4, .9), (0, 8, .3)], "H"),
    2: ([(4, 4, .2), (0, 0, .1)], "G"),
    3: ([(0, 0, .9), (8, 8, .5)], "J"),
    4: ([(0, 0, .9), (4, 5, .5)], "K"),
    5: ([(4, 4, .9), (4, 7, .5)], "D"),   # second candidate too close to call: in D, no finer category
    6: ([(4, 4, .9)], "-"),               # one candidate: no distractor
    7: ([(4, 4, .9), (0, 0, .4)], "H"),
    8: ([(1, 8, .8), (4, 3, .6)], "K"),
    9: ([(4, 4, .7), (8, 0, .6)], "H"),
    10: ([(4, 4, .7), (8, 0, .6)], "H"),
    11: ([(4, 4, .7), (8, 0, .6)], "-"),  # annotation missing (NaN row)
}


class ScriptedEngine:
    def initialize(self, frame, box, frame_index=0):
        return FrameResult(frame_index, tuple(box))

    def track(self, frame, frame_index=None):
        cands = SCRIPT[frame_index][0]
        sm = ScoreMap(np.zeros((GRID, GRID), np.float32), 0.0, 0.0, STEP, STEP)
        return FrameResult(frame_index, GT_BOX, search_area=(0.0, 0.0, 160.0, 160.0), score_map=sm,
                           candidates=tuple(Candidate(c * STEP, r * STEP, s) for r, c, s in cands))


class ConstantHook:
    """Features that encode the frame's mean brightness, so the augmented view is recognisable."""

    def __init__(self):
        self.areas = []

    def frame_features(self, frame, result):
        return self.search_features(frame, result.search_area)

    def search_features(self, frame, search_area):
        self.areas.append(search_area)
        feats = np.full((3, GRID - 1, GRID - 1), frame.mean() / 255.0, np.float32)
        return GridFeatures(feats, (search_area[0], search_area[1]), (search_area[2] / 8, search_area[3] / 8))


def _frames(n=12):
    return [np.full((200, 200, 3), 100, np.uint8) for _ in range(n)]


def _gt(n=12):
    gt = np.tile(np.array(GT_BOX), (n, 1))
    gt[11] = np.nan
    return gt


def test_mine_frame_rules():
    anno = (4.0, 4.0)
    assert mine_frame([(4, 4), (0, 8)], [.9, .3], anno, True) == (True, "H")
    assert mine_frame([(4, 4), (0, 8)], [.2, .1], anno, True) == (True, "G")
    assert mine_frame([(0, 0), (8, 8)], [.9, .5], anno, True) == (True, "J")
    assert mine_frame([(0, 0), (8, 8)], [.2, .1], anno, True) == (True, None)  # J needs a confident peak
    assert mine_frame([(0, 0), (4, 5)], [.9, .5], anno, True) == (True, "K")
    assert mine_frame([(4, 4)], [.9], anno, True) == (False, None)
    assert mine_frame([(4, 4), (0, 0)], [.9, .5], (np.nan, np.nan), False) == (False, None)  # target invisible
    assert mine_frame([(4, 4), (0, 0)], [.9, .5], None, False) == (True, None)  # unannotated sequence


def test_mine_pairs_needs_consecutive_frames():
    pairs = mine_pairs([1, 2, 4, 5, 6, 9, 10], ["H", "G", "H", "K", "H", "H", "H"])
    assert pairs == {"HG": [0], "HK": [2], "HH": [5]}  # 2->4 and 6->9 are not consecutive


def test_dump_categories_pairs_and_counts():
    hook = ConstantHook()
    dump = dump_sequence(ScriptedEngine(), hook, _frames(), "scripted", GT_BOX, _gt(), DumpParams(seed=3))
    expected = {f: cat for f, (_, cat) in SCRIPT.items() if cat != "-"}
    assert dict(zip(dump.frame_index.tolist(), dump.category.tolist())) == expected
    assert dump.pairs() == {"HH": [7], "HK": [5], "HG": [0]}
    c = dump.counts
    assert (c["frames"], c["D"], c["H"], c["G"], c["J"], c["K"]) == (11, 9, 4, 1, 1, 2)
    assert (c["HH"], c["HK"], c["HG"], c["fewer_than_2_candidates"], c["unannotated"]) == (1, 1, 1, 1, 1)
    # candidates are stored as cells sorted by score; the annotation as its cell
    cells, scores = dump.candidates(dump.frame_index.tolist().index(8))
    assert cells.tolist() == [[1, 8], [4, 3]] and np.allclose(scores, [.8, .6])
    assert np.allclose(dump.anno_cell[0], (4, 4))
    # second views exist exactly for the self-supervision categories H, K, J
    assert dump.has_aug.tolist() == [c in "HKJ" for c in dump.category.tolist()]
    # the augmented view's features come from a photometrically changed frame
    aug = dump.aug_features[dump.has_aug].astype(np.float32)[:, 0, 0, 0]
    orig = dump.features[dump.has_aug].astype(np.float32)[:, 0, 0, 0]
    assert not np.allclose(aug, orig)
    table = summarize([dump])
    assert table[-1]["sequence"] == "total" and table[-1]["H"] == 4


def test_unannotated_sequence_keeps_frames_with_distractors():
    dump = dump_sequence(ScriptedEngine(), ConstantHook(), _frames(), "video", GT_BOX, None, DumpParams())
    kept = [f for f, (cands, _) in SCRIPT.items() if len(cands) >= 2]
    assert dump.frame_index.tolist() == kept
    assert set(dump.category.tolist()) == {"D"} and dump.has_aug.all()
    assert not dump.annotated


def test_dump_round_trip_and_bad_files(tmp_path):
    dump = dump_sequence(ScriptedEngine(), ConstantHook(), _frames(), "scripted", GT_BOX, _gt(), DumpParams())
    dump.save(tmp_path / "scripted.npz")
    (back,) = load_dumps(tmp_path)
    for key in SequenceDump._ARRAYS:
        assert np.array_equal(getattr(back, key), getattr(dump, key), equal_nan=key not in ("category",)), key
    assert back.counts == dump.counts and back.image_size == dump.image_size
    # an object array (would need pickle) and a non-dump archive are refused with the file named
    np.savez(tmp_path / "evil.npz", meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match="evil.npz"):
        SequenceDump.load(tmp_path / "evil.npz")
    np.savez(tmp_path / "other.npz", meta=np.array('{"format": "something else"}'))
    with pytest.raises(InputError, match="not a candidate dump"):
        SequenceDump.load(tmp_path / "other.npz")
    with pytest.raises(InputError, match="no candidate dumps"):
        load_dumps(tmp_path / "empty")
