"""KeepTrack tracking logic without networks: candidates and object ids, crop arithmetic, memory schedule,
not-found handling and search-area rescaling, bad initial boxes. Fast (fake parts with scripted score maps)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tracker.errors import InputError
from tracker.keeptrack.candidates import CandidateCollection, find_peaks
from tracker.keeptrack.crop import sample_patch
from tracker.keeptrack.geometry import association_coords, patch_box
from tracker.keeptrack.engine import KeepTrackEngine
from tracker.keeptrack.memory import SampleMemory, gn_iterations
from tracker.keeptrack.params import TrackerParams
from tracker.keeptrack.profiles import profile_params
from tracker.keeptrack.parts import (BaseNetwork, CandidateMatcher, CandidateSet, MatchResult, PatchFeatures)
from tracker.result import Flag


# ---------------------------------------------------------------------------------------------- candidates

def _bumps(size, peaks, sigma=1.0):
    r = torch.arange(size).view(-1, 1).float()
    c = torch.arange(size).view(1, -1).float()
    m = torch.zeros(size, size)
    for (pr, pc, a) in peaks:
        m = m + a * torch.exp(-((r - pr) ** 2 + (c - pc) ** 2) / (2 * sigma ** 2))
    return m


def test_peaks_are_local_maxima_above_threshold_sorted_by_score():
    scores = _bumps(31, [(5, 5, 0.4), (20, 22, 0.9), (5, 25, 0.04), (7, 7, 0.3)], sigma=0.7)
    cells, values = find_peaks(scores, 0.05)
    # (7, 7) lies within the 5 x 5 window of the stronger (5, 5) bump: not a separate peak
    assert cells.tolist() == [[20, 22], [5, 5]]
    assert values[0] > values[1]
    assert torch.all(values > 0.05)
    cells_low, _ = find_peaks(scores, 0.01)
    assert [5, 25] in cells_low.tolist()  # the weak peak appears once the threshold is lower


def test_cells_map_over_the_search_area():
    coords = association_coords(torch.tensor([[0, 0], [30, 30], [15, 0]]), 31, (10.0, 20.0, 300.0, 150.0))
    assert coords.tolist() == [[20.0, 10.0], [170.0, 310.0], [95.0, 10.0]]


def test_collection_ids_start_at_zero_early_and_at_one_later():
    p = TrackerParams()
    early = CandidateCollection([0.9, 0.5, 0.3], certain=True, params=p)
    assert early.object_ids == [0, 1, 2] and early.selected_id == 0 and early.selected_index == 0
    late = CandidateCollection([0.9, 0.5], certain=False, params=p)
    assert late.object_ids == [1, 2] and late.selected_id == 1


def test_object_ids_persist_through_matches_and_new_objects_get_fresh_ids():
    p = TrackerParams()
    coll = CandidateCollection([0.9, 0.5, 0.3], certain=True, params=p)
    # current 0 <- previous 0 (strong), current 1 unmatched, current 2 <- previous 2
    coll.update([0.8, 0.4, 0.35], [0, -1, 2], [0.95, 0.0, 0.7])
    assert coll.object_ids == [0, 3, 2]
    assert coll.selected_id == 0 and coll.selected_index == 0 and coll.flag == "normal"
    coll.update([0.7, 0.6], [2, 0], [0.9, 0.9])  # objects swap order; ids follow the matches
    assert coll.object_ids == [2, 0]
    assert coll.selected_index == 1 and coll.selected_id == 0  # object 2's best score 0.35 < target's 0.9


def test_weak_match_to_the_target_starts_a_new_object_but_not_for_others():
    p = TrackerParams()
    coll = CandidateCollection([0.9, 0.5], certain=True, params=p)
    coll.update([0.8, 0.45], [0, 1], [0.55, 0.55])  # both weak (< 0.6); only the target's match is refused
    assert coll.object_ids == [2, 1]
    coll2 = CandidateCollection([0.9, 0.5], certain=True, params=p)
    coll2.update([0.15, 0.6], [0, 1], [0.8, 0.9])  # 0.8 < 0.85 with a low score (< 0.2): refused too
    assert coll2.object_ids[0] == 2


def test_stronger_object_takes_over_and_lost_target_is_redetected():
    p = TrackerParams()
    coll = CandidateCollection([0.5, 0.3], certain=True, params=p)
    coll.update([0.3, 0.9, 0.2], [1, -1, 0], [0.9, 0.0, 0.95])
    assert coll.object_ids == [1, 2, 0]
    # target (id 0) found at index 2, candidate 0 (id 1, best 0.3) is not stronger than the target (best 0.5)
    assert coll.selected_id == 0 and coll.selected_index == 2
    coll.update([0.95, 0.4], [1, -1], [0.9, 0.0])  # object 2 now strongest; target 0 unmatched -> lost
    assert coll.object_ids == [2, 3]
    assert coll.flag == "normal" and coll.selected_index == 0 and coll.selected_id == 2  # re-detected, > 0.25
    coll.update([0.2], [-1], [0.0])                 # target lost and nothing strong enough
    assert coll.flag == "not_found" and coll.selected_index is None and coll.selected_id == 2


# ---------------------------------------------------------------------------------------------- crop

def _gradient_image(rows=120, cols=160):
    r = torch.arange(rows).view(1, 1, -1, 1).float().expand(1, 3, rows, cols)
    c = torch.arange(cols).view(1, 1, 1, -1).float().expand(1, 3, rows, cols)
    return (r * 1000 + c).contiguous()


def test_replicate_crop_cuts_the_expected_pixels_and_maps_back():
    image = _gradient_image()
    crop = sample_patch(image, torch.tensor([50.0, 70.0]), torch.tensor([21.0, 21.0]), 21)
    # odd side 21: top-left = 50 - 10, bottom-right = 50 + 10.5 + 1 (true division; §8.7)
    assert crop.coords.tolist() == [40.0, 60.0, 61.5, 81.5]
    assert torch.equal(crop.patch[0, 0], image[0, 0, 40:61, 60:81])
    assert crop.sample_pos.tolist() == [50.25, 70.25]
    assert float(crop.sample_scale(21)) == pytest.approx(21.5 / 21)
    assert crop.search_area == (60.0, 40.0, 20.5, 20.5)


def test_replicate_crop_pads_outside_the_image_with_border_pixels():
    image = _gradient_image()
    crop = sample_patch(image, torch.tensor([2.0, 3.0]), torch.tensor([11.0, 11.0]), 11)
    patch = crop.patch[0, 0]
    assert torch.equal(patch[0], patch[3])            # rows above the image repeat row 0
    assert float(patch[5, 5]) == image[0, 0, 2, 3]    # centre pixel is the requested position


def test_inside_major_crop_is_shifted_and_shrunk_into_the_image():
    image = _gradient_image(100, 300)
    # 160 px wanted near the left edge of a 100 x 300 image: inside_major shrinks by the smaller ratio
    # (160 / 300 < 1 -> no shrink), so the crop is only shifted inside along x and centred along y
    crop = sample_patch(image, torch.tensor([50.0, 10.0]), torch.tensor([160.0, 160.0]), 80, mode="inside_major",
                        max_scale_change=1.5)
    top, left, bottom, right = crop.coords.tolist()
    assert left == 0.0 and right <= 300
    assert top < 0 and bottom > 100 and (top + bottom) / 2 == pytest.approx(50, abs=1)
    assert crop.patch.shape == (1, 3, 80, 80)
    # a crop much larger than the image along both axes is shrunk by at most 1.5
    big = sample_patch(image, torch.tensor([50.0, 150.0]), torch.tensor([600.0, 600.0]), 100, mode="inside_major",
                       max_scale_change=1.5)
    side = big.coords[2:] - big.coords[:2]
    assert float(side[0]) == pytest.approx(400, abs=2)   # decimated by 3, then 400 / 1.5 image px


def test_patch_box_round_trip():
    pos, size = torch.tensor([60.0, 80.0]), torch.tensor([20.0, 10.0])
    box = patch_box(pos, size, torch.tensor([50.0, 70.0]), torch.tensor(0.5), 100)
    # centre in patch = (pos - sample_pos) / scale + 49.5; top-left = centre - (size / scale - 1) / 2
    assert box.tolist() == pytest.approx([69.5 - 9.5, 69.5 - 19.5, 20.0, 40.0])


# ---------------------------------------------------------------------------------------------- memory

def _memory(size=20, n=15):
    p = TrackerParams(sample_memory_size=size)
    feats = torch.zeros(n, 2, 3, 3)
    return SampleMemory(feats, torch.zeros(n, 1, 4, 4), torch.zeros(n, 4), p), p


def test_memory_fills_free_slots_then_replaces_the_least_certain_weighted():
    mem, p = _memory(size=18)
    one = torch.zeros(1, 2, 3, 3), torch.zeros(1, 1, 4, 4), torch.zeros(4)
    slots = [mem.insert(*one, certainty=c, learning_rate=0.01) for c in (0.9, 0.95, 0.97)]
    assert slots == [15, 16, 17]
    assert mem.weights[:15].sum() == pytest.approx(0.25, abs=1e-6) or mem.weights[:15].sum() > 0.25
    assert float(mem.weights.sum()) == pytest.approx(1.0)
    # full: the minimum of certainty x weight among slots >= 15 (slot 15: older, so lighter, and 0.9)
    assert mem.insert(*one, certainty=0.99, learning_rate=0.01) == 15
    # certainties below 0.5 are zeroed in the memory, so such a slot goes next
    slot = mem.insert(*one, certainty=0.3, learning_rate=0.01)
    assert float(mem.certainties[slot]) == 0.0
    assert mem.insert(*one, certainty=0.9, learning_rate=0.01) == slot


def test_initial_samples_keep_a_quarter_of_the_weight():
    mem, p = _memory(size=50)
    one = torch.zeros(1, 2, 3, 3), torch.zeros(1, 1, 4, 4), torch.zeros(4)
    for _ in range(35):
        mem.insert(*one, certainty=1.0, learning_rate=0.3)
    assert float(mem.weights[:15].sum()) == pytest.approx(0.25, abs=1e-5)
    assert torch.allclose(mem.weights[:15], torch.full((15,), 0.25 / 15))
    assert float(mem.weights[49]) > float(mem.weights[16])  # newest weighs most


def test_update_schedule():
    p = TrackerParams()
    assert gn_iterations(p, 21, False, 0.9) == 2 and gn_iterations(p, 41, False, 0.1) == 2
    assert gn_iterations(p, 22, False, 0.9) == 0
    assert gn_iterations(p, 22, True, 0.9) == 1
    assert gn_iterations(p, 22, True, 0.45) == 0  # hard negative below 0.5: stored, not optimised


# ---------------------------------------------------------------------------------------------- engine with fake parts

class ScriptedBase(BaseNetwork):
    """Features = patch downsampled to the stride; scores taken from a script (one map per call)."""

    stride = 16
    filter_size = 4

    def __init__(self, script):
        self.script = list(script)
        self.updates = []

    def extract(self, patches):
        f = torch.nn.functional.avg_pool2d(patches, self.stride)
        return PatchFeatures(f, {"layer3": f})

    def init_filter(self, features, boxes, labels, num_iter):
        return torch.zeros(1, features.shape[1], 4, 4)

    def optimise_filter(self, filt, features, boxes, labels, weights, num_iter):
        self.updates.append((num_iter, int(features.shape[0])))
        return filt

    def classify(self, filt, features):
        return self.script.pop(0).view(1, 1, *self.script_shape)

    @property
    def script_shape(self):
        return (23, 23)


class IdentityMatcher(CandidateMatcher):
    """Matches candidate j to previous candidate j (probability 0.9) where it exists."""

    def describe(self, features, cells_rc):
        return torch.zeros(4, cells_rc.shape[0])

    def match(self, previous, current, image_hw):
        n, m = len(current), len(previous)
        matches = torch.tensor([j if j < m else -1 for j in range(n)])
        probs = torch.tensor([0.9 if j < m else 0.0 for j in range(n)])
        la = torch.full((m + 1, n + 1), math.log(0.1))
        return MatchResult(la, matches, probs)


def _engine(script, **overrides):
    params = profile_params("keeptrack-fast", use_augmentation=False, **overrides)
    base = ScriptedBase(script)
    return KeepTrackEngine("cpu", params, base=base, refiner=None, matcher=IdentityMatcher()), base


def _frame(rows=240, cols=320):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (rows, cols, 3), dtype=np.uint8)


@pytest.mark.parametrize("box", [(10, 10, 0, 20), (10, 10, 20, -3), (400, 10, 20, 20), (10, -50, 20, 20)])
def test_bad_initial_boxes_raise_input_error(box):
    engine, _ = _engine([])
    with pytest.raises(InputError):
        engine.initialize(_frame(), box)


def test_track_before_initialize_and_wrong_frame_size_raise_input_error():
    engine, _ = _engine([_bumps(23, [(11, 11, 0.9)])])
    with pytest.raises(InputError, match="initialize"):
        engine.track(_frame())
    engine.initialize(_frame(), (100, 100, 30, 40))
    with pytest.raises(InputError, match="frame 1"):
        engine.track(_frame(100, 100))


def test_not_found_keeps_the_box_and_widens_the_search_from_past_scales():
    target = _bumps(23, [(11, 11, 0.9)])
    script = [target, target, torch.full((23, 23), 0.01), torch.full((23, 23), 0.01), target]
    engine, base = _engine(script)
    engine.initialize(_frame(), (100, 100, 30, 40))
    scale0 = float(engine.state.target_scale)
    r1 = engine.track(_frame())
    assert r1.flag == Flag.UNCERTAIN or r1.flag == Flag.NORMAL
    engine.state.target_scale = engine.state.target_scale * 1.2      # pretend the box grew
    r2 = engine.track(_frame())
    assert r2.flag == Flag.NORMAL and r2.selected_id == 0
    lost = engine.track(_frame())
    assert lost.flag == Flag.NOT_FOUND and lost.box == r2.box and lost.candidates == ()
    # scales seen while found: [scale0, 1.2 scale0]; keep those >= the last, mean of the last 2
    assert float(engine.state.target_scale) == pytest.approx(1.2 * scale0, rel=1e-5)
    assert engine.state.target_not_found_counter == 1
    engine.track(_frame())
    assert engine.state.target_not_found_counter == 2
    back = engine.track(_frame())
    assert back.flag != Flag.NOT_FOUND and engine.state.target_not_found_counter == 0
    assert len(back.candidates) == 1 and back.candidates[0].object_id == 0  # new collection, id 0 (early frames)


def test_frame_results_carry_candidates_ids_assignment_and_score_map_geometry():
    two = _bumps(23, [(11, 11, 0.9), (4, 18, 0.3)])  # second peak < 0.5 x first: normal, not hard negative
    engine, base = _engine([two, two, two])
    engine.initialize(_frame(), (100, 100, 30, 40))
    r1 = engine.track(_frame())
    assert r1.assignment is None and [c.object_id for c in r1.candidates] == [0, 1]
    r2 = engine.track(_frame())
    assert r2.assignment is not None and r2.assignment.probabilities.shape == (3, 3)
    assert r2.assignment.matches == (0, 1) and len(r2.assignment.previous) == 2
    assert r2.selected_id == 0 and r2.selected.score == pytest.approx(0.9, abs=1e-3)
    # the selected candidate's image position is the score-map cell's image position
    sm = r2.score_map
    assert sm.values.shape == (23, 23)
    x, y = sm.cell_to_image(11, 11)
    assert (r2.selected.x, r2.selected.y) == pytest.approx((x, y))
    assert {"crop", "backbone", "classifier", "candidates", "association"} <= set(r2.timings)
    assert r2.search_area is not None and r2.presence == pytest.approx(math.sqrt(0.9), abs=1e-3)
    # memory: normal frames store samples; the periodic update comes on frame_num 21, none yet
    assert engine.state.memory.num_stored == 1 + 2 and base.updates == []


def test_crop_from_the_uint8_frame_equals_resizing_the_float_window():
    """sample_patch converts only the pixels it cuts and resizes them with OpenCV: the numbers of torch's
    bilinear resize of the planar float window of the whole float frame (the path it replaced), to float32
    rounding (OpenCV computes the source coordinates in double: at most a few ulps of 0..255 apart)."""
    import numpy as np
    import torch.nn.functional as F

    from tracker.keeptrack.crop import image_to_tensor

    frame = np.random.default_rng(4).integers(0, 256, (180, 320, 3), dtype=np.uint8)
    image = image_to_tensor(frame, "cpu")
    planar = torch.from_numpy(frame).permute(2, 0, 1).unsqueeze(0).float()
    for pos, side, out in (((90.0, 160.0), 100.0, 256), ((10.0, 300.0), 140.0, 256), ((60.0, 40.0), 300.0, 256),
                           ((170.0, 5.0), 57.0, 64), ((60.0, 40.0), 300.0, 96)):
        crop = sample_patch(image, torch.tensor(pos), torch.tensor([side, side]), out)
        assert torch.equal(sample_patch(planar, torch.tensor(pos), torch.tensor([side, side]), out).patch,
                           crop.patch)
        if side >= 2 * out:
            continue  # decimated first (strided subsampling): the window below is for undecimated crops
        top, left, bottom, right = (int(math.trunc(float(v))) for v in crop.coords)
        rows = torch.arange(top, bottom).clamp(0, 179)
        cols = torch.arange(left, right).clamp(0, 319)
        window = planar.index_select(-2, rows).index_select(-1, cols)
        expected = F.interpolate(window, size=(out, out), mode="bilinear", align_corners=False)
        assert crop.patch.dtype == torch.float32 and crop.patch.is_contiguous()
        assert torch.allclose(crop.patch, expected, rtol=0, atol=1e-4), pos
