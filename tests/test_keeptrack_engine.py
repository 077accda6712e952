"""The KeepTrack engine end to end on a real OTB sequence with the rule-generated fidelity weights, created
through the registry from checkpoint files like a user would; and the factory's errors."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
import torch

from tracker.errors import InputError
from tracker.keeptrack.engine import create_keeptrack_engine
from tracker.keeptrack.testing import _weights_module
from tracker.registry import create_engine
from tracker.result import Assignment, Flag, FrameResult


def test_factory_needs_weight_files_and_known_parameters(tmp_path):
    with pytest.raises(InputError, match="super_dimp_simple"):
        create_keeptrack_engine(profile="keeptrack")
    with pytest.raises(InputError, match="keep_track"):
        create_keeptrack_engine(profile="keeptrack-fast", base_weights=tmp_path / "x.pth.tar")
    with pytest.raises(InputError, match="no_such_parameter"):
        create_keeptrack_engine(profile="keeptrack", no_such_parameter=1)
    with pytest.raises(InputError, match="profile"):
        create_keeptrack_engine(profile="keeptrack-ultra")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA"):
            create_keeptrack_engine(device="cuda", profile="keeptrack")


def _sequence(otb, name, count):
    folder = otb / name
    first = (folder / "groundtruth_rect.txt").read_text().splitlines()[0]
    box = [float(v) for v in re.split(r"[,\s]+", first.strip())]
    frames = [cv2.cvtColor(cv2.imread(str(folder / "img" / f"{i:04d}.jpg")), cv2.COLOR_BGR2RGB)
              for i in range(1, count + 1)]
    return frames, box


@pytest.fixture(scope="module")
def weight_files(fidelity, tmp_path_factory):
    """The rule-generated weights saved as plain state-dict files (what a user's checkpoint boils down to)."""
    dw = _weights_module(fidelity)
    folder = tmp_path_factory.mktemp("weights")
    base = folder / "super_dimp_simple.pth.tar"
    assoc = folder / "keep_track.pth.tar"
    torch.save(dw.make_state_dict(dw.load_manifest(fidelity / "manifest_super_dimp_simple.json")), base)
    torch.save(dw.make_state_dict(dw.load_manifest(fidelity / "manifest_keep_track.json")), assoc)
    return base, assoc


@pytest.mark.slow
def test_engine_tracks_a_real_sequence_and_returns_complete_frame_results(otb, weight_files):
    frames, box = _sequence(otb, "Deer", 6)
    torch.manual_seed(0)
    engine = create_engine("keeptrack-fast", device="cpu", base_weights=weight_files[0],
                           association_weights=weight_files[1])
    first = engine.initialize(frames[0], box)
    assert first.box == pytest.approx(tuple(box)) and first.flag == Flag.NORMAL
    assert {"backbone", "classifier", "iounet"} <= set(first.timings)

    results: list[FrameResult] = [engine.track(f) for f in frames[1:]]
    rows, cols = frames[0].shape[:2]
    for i, r in enumerate(results, start=1):
        assert r.frame_index == i
        assert r.box is not None and all(np.isfinite(r.box)) and r.box[2] > 0 and r.box[3] > 0
        assert isinstance(r.flag, Flag) and np.isfinite(r.presence)
        assert r.search_area is not None and r.search_area[2] > 0
        assert r.score_map is not None and r.score_map.values.shape == (23, 23)  # fast profile: 352 px patch
        assert np.isfinite(r.score_map.values).all()
        # the score map covers the search area (same centre, to within a cell)
        sx, sy, sw, sh = r.score_map.image_rect()
        ax, ay, aw, ah = r.search_area
        assert abs((sx + sw / 2) - (ax + aw / 2)) < r.score_map.step_x
        assert abs((sy + sh / 2) - (ay + ah / 2)) < r.score_map.step_y
        assert {"crop", "backbone", "classifier", "candidates"} <= set(r.timings)
        for c in r.candidates:
            assert c.object_id is not None and c.score > 0.1
        if r.candidates and r.selected_id is not None:
            assert r.selected is not None
        if r.assignment is not None:
            assert isinstance(r.assignment, Assignment)
            m, n = len(r.assignment.previous), len(r.candidates)
            assert r.assignment.probabilities.shape == (m + 1, n + 1)
            assert len(r.assignment.matches) == n
            probs = r.assignment.probabilities
            assert np.all(probs >= 0) and np.all(probs <= 1 + 1e-4)
            # Sinkhorn ends on a column update: each current candidate has a partner or the dustbin, summing to 1
            assert np.allclose(probs[:, :-1].sum(0), 1, atol=1e-3)
            for j, row in enumerate(r.assignment.matches):          # a match is its column's most likely entry
                if row >= 0:
                    assert probs[row, j] == probs[:-1, j].max()
        if r.flag != Flag.NOT_FOUND:
            assert "iounet" in r.timings
    assert any(r.candidates for r in results), "rule weights should give candidates on Deer"


def test_candidate_descriptors_equal_the_descriptor_conv_at_the_cells(fidelity):
    """The matcher evaluates the 4x4 descriptor conv only at candidate cells; compare with association.pt and with
    the full conv at border cells."""
    from tracker.keeptrack.dimp_parts import AssociationMatcher
    from tracker.keeptrack.parts import PatchFeatures
    from tracker.keeptrack.testing import rule_networks

    ref = torch.load(fidelity / "association.pt", weights_only=True)
    _, assoc = rule_networks(fidelity)
    matcher = AssociationMatcher(assoc)
    feats = PatchFeatures(ref["layer3_0"], {"layer3": ref["layer3_0"]})
    with torch.no_grad():
        got = matcher.describe(feats, ref["cells0_rc"])
        cells = torch.tensor([[0, 0], [16, 16], [0, 16], [16, 0], [8, 3]])
        full = assoc.descriptor_extractor.get_descriptors(ref["layer3_0"], cells)[0]
        at_cells = matcher.describe(feats, cells)
    expected = ref["descriptors0"][0]
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    assert torch.allclose(at_cells, full, rtol=1e-4, atol=1e-4 * float(full.abs().max()))


@pytest.mark.slow
def test_windowed_iou_features_give_the_same_refined_box(otb, fidelity):
    """The `iou_feature_window` path must reproduce the full-map refinement (up to float rounding), and it must
    actually have been taken (not its fallback to the full maps)."""
    from tracker.keeptrack.crop import image_to_tensor, sample_patch
    from tracker.keeptrack.profiles import profile_params
    from tracker.keeptrack.parts import PatchFeatures, TorchRandom
    from tracker.keeptrack.refine import IoUNetRefiner
    from tracker.keeptrack.testing import rule_networks

    base, _ = rule_networks(fidelity)
    frames, _ = _sequence(otb, "Subway", 1)
    image = image_to_tensor(frames[0], "cpu")
    crop = sample_patch(image, torch.tensor([113.0, 25.0]), torch.tensor([249.0, 249.0]), 480,
                        mode="inside_major", max_scale_change=1.5)
    with torch.no_grad():
        maps = base.extract_backbone(crop.patch)
        feats = PatchFeatures(maps["layer3"][:, :8], dict(maps))
        box = torch.tensor([30.0, 180.0, 36.6, 98.3])
        out = {}
        for window in (False, True):
            refiner = IoUNetRefiner(base.bb_regressor, profile_params("keeptrack", iou_feature_window=window))
            refiner.initialize(feats, box)
            out[window] = refiner.refine(feats, box, TorchRandom(1))
            if window:
                c0, r0, c1, r1 = refiner.last_window
                assert (c1 - c0) * (r1 - r0) < 0.5 * maps["layer3"].shape[-1] * maps["layer3"].shape[-2]
    assert out[False] is not None and out[True] is not None
    assert torch.allclose(out[True], out[False], atol=1e-3)


@pytest.mark.slow
def test_superdimp_profile_runs_with_the_learned_loss_classifier(otb):
    """Smoke test of the superdimp profile (no association, no certainties, learned-loss optimiser) with the
    networks' own random initialisation (no rule manifest exists for super_dimp)."""
    from tracker.keeptrack.engine import engine_from_networks
    from tracker.keeptrack.profiles import profile_params
    from tracker.nets.base_net import DiMPNet

    torch.manual_seed(0)
    params = profile_params("superdimp", net_opt_iter=2, box_refinement_iter=2)
    engine = engine_from_networks("cpu", params, DiMPNet("super_dimp"), None, name="superdimp")
    frames, box = _sequence(otb, "Coke", 3)
    engine.initialize(frames[0], box)
    for frame in frames[1:]:
        r = engine.track(frame)
        assert r.score_map.values.shape == (23, 23) and r.candidates == () and r.assignment is None
        assert r.box is not None and all(np.isfinite(r.box))


def _stage_features(engine, patch):
    with torch.no_grad():
        out = engine.base.extract(patch)
    return out.classification, out.maps["layer3"]


@pytest.mark.slow
def test_opt_in_bf16_path_runs_in_bfloat16_and_stays_close(otb, fidelity):
    """bf16 is opt-in: the default engine's feature stage is float32; with bf16=True the backbone, the
    classification conv and the IoU-Net test-branch convs hold bfloat16 weights, hand float32 features on, move
    them by about 1 % (not 0: it really ran in bf16) and the engine still tracks."""
    from tracker.keeptrack.engine import engine_from_networks
    from tracker.keeptrack.profiles import profile_params
    from tracker.keeptrack.testing import rule_networks

    base, assoc = rule_networks(fidelity)
    frames, box = _sequence(otb, "Deer", 3)
    default = engine_from_networks("cpu", profile_params("keeptrack-fast"), base, assoc)
    fast = engine_from_networks("cpu", profile_params("keeptrack-fast", bf16=True), base, assoc)
    assert next(default.base.stage.backbone.parameters()).dtype == torch.float32
    assert next(fast.base.stage.backbone.parameters()).dtype == torch.bfloat16
    assert fast.base.stage.clf_conv.weight.dtype == torch.bfloat16
    assert fast.refiner.bf16_net.conv3_1t[0].weight.dtype == torch.bfloat16 and default.refiner.bf16_net is None
    patch = torch.from_numpy(frames[0][:352, :352]).permute(2, 0, 1)[None].float()
    for mine, ref in zip(_stage_features(fast, patch), _stage_features(default, patch)):
        assert mine.dtype == torch.float32
        moved = float((mine - ref).abs().max() / ref.abs().max())
        assert 1e-4 < moved < 5e-2
    fast.initialize(frames[0], box)
    results = [fast.track(f) for f in frames[1:]]
    assert all(r.box is not None and r.score_map is not None for r in results)


def test_compile_needs_a_compiler(fidelity, monkeypatch):
    from tracker.keeptrack.engine import engine_from_networks
    from tracker.keeptrack.profiles import profile_params
    from tracker.keeptrack.testing import rule_networks

    base, assoc = rule_networks(fidelity)
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(InputError, match="C\\+\\+ compiler"):
        engine_from_networks("cpu", profile_params("keeptrack-fast", compile=True), base, assoc)


@pytest.mark.slow
def test_opt_in_compile_path_gives_the_same_features(otb, fidelity):
    """torch.compile (fp32) of the feature stage: same numbers as eager up to float rounding."""
    import shutil

    if not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        pytest.skip("torch.compile on CPU needs a C++ compiler; none on PATH")
    from tracker.keeptrack.engine import engine_from_networks
    from tracker.keeptrack.profiles import profile_params
    from tracker.keeptrack.testing import rule_networks

    base, assoc = rule_networks(fidelity)
    frames, _ = _sequence(otb, "Deer", 1)
    default = engine_from_networks("cpu", profile_params("keeptrack-fast"), base, assoc)
    compiled = engine_from_networks("cpu", profile_params("keeptrack-fast", compile=True), base, assoc)
    assert compiled.base.run_stage is not compiled.base.stage
    patch = torch.from_numpy(frames[0][:160, :160]).permute(2, 0, 1)[None].float()
    for mine, ref in zip(_stage_features(compiled, patch), _stage_features(default, patch)):
        assert torch.allclose(mine, ref, rtol=1e-4, atol=1e-5 * float(ref.abs().max()))


@pytest.mark.slow
def test_track_command_with_official_layout_weights_and_bf16(otb, weight_files, tmp_path, capsys):
    """A researcher's command line: weight files, the fast profile, the opt-in bf16 path, a real sequence."""
    from main import main

    out = tmp_path / "boxes.txt"
    rc = main(["track", str(otb / "Deer"), "--engine", "keeptrack-fast", "--frames", "3", "--out", str(out),
               "--base-weights", str(weight_files[0]), "--association-weights", str(weight_files[1]), "--bf16"])
    assert rc == 0, capsys.readouterr().err
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and all(len(line.split("\t")) == 4 for line in lines)
    rc = main(["track", str(otb / "Deer"), "--engine", "keeptrack-fast", "--frames", "3",
               "--base-weights", str(weight_files[0])])
    assert rc == 2 and "keep_track" in capsys.readouterr().err
