"""Dumping a short real OTB sequence with the built-in keeptrack-lite engine."""
import numpy as np
import pytest

from tracker.training.dump import DumpParams, EngineFeatureHook, dump_sequence, mine_frame


class Recording:
    """Passes calls to the engine and keeps its FrameResults."""

    def __init__(self, engine):
        self.engine, self.results = engine, {}

    def initialize(self, frame, box, frame_index=0):
        return self.engine.initialize(frame, box, frame_index)

    def track(self, frame, frame_index=None):
        self.results[frame_index] = r = self.engine.track(frame, frame_index)
        return r


def test_dump_of_a_real_sequence_matches_the_engine(otb):
    torch = pytest.importorskip("torch")
    lite = pytest.importorskip("tracker.keeptrack.lite")
    from tracker.sources import open_source

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        engine = lite.create_lite_engine()
        hook = EngineFeatureHook(engine)
        rec = Recording(engine)
        with open_source(otb / "Subway") as source:
            gt = np.asarray(source.ground_truth.boxes, np.float64)
            dump = dump_sequence(rec, hook, source, "Subway", tuple(gt[0]), gt, DumpParams(max_frames=16))
            assert len(dump) >= 3, dump.counts  # Subway has look-alike pedestrians from the start
            grid = dump.features.shape[2] + 1
            for f, i in enumerate(dump.frame_index.tolist()):
                result = rec.results[i]
                assert result.score_map.values.shape == (grid, grid)
                cells, scores = dump.candidates(f)
                # stored cells map back onto the engine's own candidates
                cands = sorted(result.candidates, key=lambda c: -c.score)
                xy = np.c_[dump.origin[f][0] + cells[:, 1] * dump.step[f][0],
                           dump.origin[f][1] + cells[:, 0] * dump.step[f][1]]
                assert np.allclose(xy, [(c.x, c.y) for c in cands], atol=0.01 * dump.step[f][0])
                assert np.allclose(scores, [c.score for c in cands])
                # the category is the mining rule applied to what was stored
                anno = dump.anno_cell[f]
                _, cat = mine_frame(cells, scores, anno, not np.isnan(anno).any())
                assert (cat or "D") == dump.category[f]
                # a fresh crop of the same search area gives the engine's features (same pixels, float noise)
                again = hook.search_features(source.frame(i), result.search_area).features
                a, b = again.ravel(), dump.features[f].astype(np.float32).ravel()
                assert np.corrcoef(a, b)[0, 1] > 0.9999
    finally:
        torch.set_num_threads(previous)
    assert dump.counts["frames"] == 15
