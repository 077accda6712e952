"""End-to-end fidelity of the KeepTrack engine against the original tracker's trace on OTB Subway
(../shared/fidelity/tracker_trace.pt, README section f): rule-generated weights, the original's random draws replayed.

Both recorded runs are replayed: `default` (frames 0-11, the keeptrack profile) and `stress` (frames 0-29, small
memory, frequent updates, high thresholds). Tolerances are the README's (boxes / positions 1e-3 px, score maps
1e-4, scale rtol 1e-5, every decision exact).

The engine runs from its own initialisation (no teacher forcing): the initial filter after the 10 Gauss-Newton
steps matches the recorded one within the README tolerance, so every score map, assignment, memory weight and
re-optimised filter of both runs is checked at the README tolerance on every frame.

Cost: about 40 tracked frames at 480 px plus two initialisations (~1 min on an idle 2-core machine; several
minutes under heavy load).
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tracker.keeptrack.engine import engine_from_networks
from tracker.keeptrack.profiles import profile_params
from tracker.keeptrack.testing import ReplayRandom, rule_networks

pytestmark = pytest.mark.slow


def _maxdiff(a, b) -> float:
    return float((torch.as_tensor(a).double() - torch.as_tensor(b).double()).abs().max())


@pytest.fixture(scope="module")
def trace(fidelity):
    return torch.load(fidelity / "tracker_trace.pt", weights_only=True)


@pytest.fixture(scope="module")
def networks(fidelity):
    return rule_networks(fidelity)


def _frame(otb, index: int) -> np.ndarray:
    path = otb / "Subway" / "img" / f"{index + 1:04d}.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _replay(run: dict, networks, otb):
    base, assoc = networks
    params = profile_params("keeptrack", **run["param_overrides"])
    engine = engine_from_networks("cpu", params, base, assoc, rng=ReplayRandom(run["draws"]))
    engine.initialize(_frame(otb, 0), run["init_box_xywh"])
    init = {"filter": engine.state.filter.clone(), "debug": dict(engine.debug),
            "modulation": [m.clone() for m in engine.refiner.modulation], "sigma": engine.state.sigma.clone(),
            "weights": engine.state.memory.weights.clone()}
    frames = []
    for rec in run["frames"]:
        result = engine.track(_frame(otb, rec["frame_index"]), rec["frame_index"])
        dbg = engine.debug
        frames.append({
            "result": result, "scores": dbg["scores"].clone(), "candidates": dbg["candidates"],
            "assignment": dbg["assignment"], "update": dbg["update"], "refined": dbg["refined"],
            "refine_start": dbg["refine_start_boxes"],
            "ids": engine.state.collection.object_ids if engine.state.collection else None,
            "selected_index": engine.state.collection.selected_index if engine.state.collection else None,
            "selected_id": engine.state.collection.selected_id if engine.state.collection else None,
            "collection_flag": engine.state.collection.flag if engine.state.collection else None,
            "pos": engine.state.pos.clone(), "target_sz": engine.state.target_sz.clone(),
            "target_scale": float(engine.state.target_scale), "not_found": engine.state.target_not_found_counter,
            "num_stored": engine.state.memory.num_stored, "weights": engine.state.memory.weights.clone(),
            "certainties": engine.state.memory.certainties.clone(), "filter": engine.state.filter.clone(),
        })
    assert engine.rng.position == len(run["draws"]), "the engine used fewer random draws than the original"
    return init, frames


@pytest.fixture(scope="module")
def replayed(trace, networks, otb):
    torch.manual_seed(0)
    return {name: _replay(trace[name], networks, otb) for name in ("default", "stress")}


@pytest.mark.parametrize("name", ["default", "stress"])
def test_initialisation_inputs_match(trace, replayed, name):
    ref = trace[name]["init"]
    init, _ = replayed[name]
    dbg = init["debug"]
    assert [t.name for t in dbg["transforms"]] == ref["transforms"]
    assert [list(t.shift) for t in dbg["transforms"]] == ref["transform_shifts_rc"].tolist()
    assert _maxdiff(dbg["init_sample_pos"], ref["init_sample_pos_rc"]) == 0
    assert _maxdiff(dbg["init_boxes"], ref["init_boxes_xywh"]) < 1e-3
    assert _maxdiff(dbg["init_labels"], ref["init_labels"]) < 1e-5
    assert _maxdiff(init["sigma"], ref["sigma"]) < 1e-6
    assert _maxdiff(init["weights"], ref["sample_weights"]) < 1e-7
    for mine, theirs in zip(init["modulation"], ref["iou_modulation"]):
        assert torch.allclose(mine, theirs, rtol=1e-4, atol=1e-4 * float(theirs.abs().max()))


@pytest.mark.parametrize("name", ["default", "stress"])
def test_initial_filter_matches(trace, replayed, name):
    ref = trace[name]["init"]["filter"]
    mine = replayed[name][0]["filter"]
    assert torch.allclose(mine, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


@pytest.mark.parametrize("name", ["default", "stress"])
def test_every_decision_matches(trace, replayed, name):
    """Flags, candidate cells, matches, object ids, selections, memory slots and GN step counts: exact."""
    run = trace[name]
    _, frames = replayed[name]
    for rec, got in zip(run["frames"], frames):
        where = f"{name} frame {rec['frame_index']}"
        assert got["result"].flag.value == rec["flag"], where
        if rec["cells_rc"] is None:
            assert got["candidates"] is None, where
        else:
            assert torch.equal(got["candidates"].cells_rc, rec["cells_rc"].long()), where
        assert (got["assignment"] is not None) == rec["matcher_ran"], where
        if rec["matcher_ran"]:
            assert torch.equal(got["assignment"].matches1.cpu(), rec["matches1"][0].long()), where
        assert got["ids"] == rec["candidate_object_ids"], where
        assert got["selected_index"] == rec["selected_candidate_index"], where
        assert got["selected_id"] == rec["selected_object_id"], where
        assert got["collection_flag"] == rec["collection_flag"], where
        assert got["refined"] == rec["refine_ran"], where
        assert got["not_found"] == rec["target_not_found_counter"], where
        assert (got["update"] is not None) == rec["update_called"], where
        if rec["update_called"]:
            assert got["update"]["slot"] == rec["replace_ind"], where
            assert got["update"]["num_gn_iter"] == rec["num_gn_iter"], where
            expected_lr = rec["update_lr"] if rec["update_lr"] is not None else run["params"]["learning_rate"]
            assert got["update"]["lr"] == pytest.approx(expected_lr), where
        assert got["num_stored"] == rec["num_stored"], where


@pytest.mark.parametrize("name", ["default", "stress"])
def test_boxes_positions_and_scales_match(trace, replayed, name):
    run = trace[name]
    _, frames = replayed[name]
    for rec, got in zip(run["frames"], frames):
        where = f"{name} frame {rec['frame_index']}"
        assert _maxdiff(got["result"].box, rec["box_xywh"]) < 1e-3, where
        assert _maxdiff(got["result"].search_area, rec["search_area_box_xywh"]) < 1e-3, where
        assert _maxdiff(got["pos"], rec["pos_rc"]) < 1e-3, where
        assert _maxdiff(got["target_sz"], rec["target_sz_hw"]) < 1e-3, where
        assert got["target_scale"] == pytest.approx(rec["target_scale"], rel=1e-5), where
        if rec["cells_rc"] is not None:
            assert _maxdiff(got["candidates"].coords_yx, rec["img_coords_yx"]) < 1e-3, where
        if rec["refine_ran"]:
            assert _maxdiff(got["refine_start"][0], rec["refine_init_box_xywh"]) < 1e-3, where


@pytest.mark.parametrize("name", ["default", "stress"])
def test_score_maps_assignments_and_memory_match(trace, replayed, name):
    """README tolerances on every frame of both runs (filters where the original re-optimised them)."""
    run = trace[name]
    _, frames = replayed[name]
    checked = 0
    for rec, got in zip(run["frames"], frames):
        where = f"{name} frame {rec['frame_index']}"
        checked += 1
        assert _maxdiff(got["scores"], rec["score_map"][0, 0]) < 1e-4, where
        assert got["result"].presence == pytest.approx(rec["presence"], abs=1e-4), where
        if rec["matcher_ran"]:
            assert _maxdiff(got["assignment"].log_assignment, rec["log_assignment"][0]) < 1e-3, where
            assert _maxdiff(got["assignment"].match_scores1, rec["match_scores1"][0]) < 1e-4, where
        assert _maxdiff(got["weights"], rec["sample_weights"]) < 1e-6, where
        assert _maxdiff(got["certainties"], rec["certainties"]) < 1e-4, where
        if rec["filter_after"] is not None:
            ref = rec["filter_after"]
            assert _maxdiff(got["filter"], ref) < 1e-4 * float(ref.abs().max()) + 1e-5, where
    assert checked == len(run["frames"])


def test_stress_memory_weights_match_throughout(trace, replayed):
    """Sample weights depend only on the slot schedule, so they must match on every stress frame."""
    run = trace["stress"]
    _, frames = replayed["stress"]
    for rec, got in zip(run["frames"], frames):
        assert _maxdiff(got["weights"], rec["sample_weights"]) < 1e-6, f"stress frame {rec['frame_index']}"
