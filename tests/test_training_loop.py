"""Loss, training loop, checkpoints of the association model."""
import io
import pickle

import numpy as np
import pytest
import torch

from test_training_samples import SEVEN, make_dump
from tracker.errors import CheckpointError
from tracker.training.loss import association_loss, match_counts
from tracker.training.model import (AssociationConfig, AssociationModel, descriptors_from_patches, load_model,
                                    save_model)
from tracker.training.samples import DUSTBIN, IGNORE, CandidateSampler, SampleParams
from tracker.training.train import TrainParams, collate, evaluate, forward, torch_threads, train, validation_set

SMALL = AssociationConfig(in_dim=4, descriptor_dim=32, keypoint_layers=(16, 32), gnn_layers=("self", "cross"))


def test_loss_matches_the_formula_and_ignores_unlabelled_entries():
    torch.manual_seed(0)
    la = torch.randn(1, 3, 4)  # M = 2, N = 3
    gt = torch.zeros(1, 2, 3)
    gt[0, 0, 1] = 1
    m0 = torch.tensor([[1, DUSTBIN]])
    m1 = torch.tensor([[DUSTBIN, 0, IGNORE]])
    loss, stats = association_loss(la, gt, m0, m1)
    pos = -la[0, 0, 1]
    neg = -(la[0, 1, 3] + la[0, 2, 0]) / 2
    assert torch.isclose(loss, 0.5 * pos + 0.5 * neg)
    assert stats["num_pos"] == 1 and stats["num_neg"] == 2
    # entries labelled IGNORE do not move the loss
    la2 = la.clone()
    la2[0, 2, 2] = 100.0
    la2[0, 1, 2] = -100.0
    assert torch.isclose(association_loss(la2, gt, m0, m1)[0], loss)
    counts = match_counts(torch.tensor([[-1, 0, 1]]), m1)
    assert counts == {"recall_hits": 1, "recall_total": 1, "precision_hits": 1, "precision_total": 1}


def test_patch_descriptors_equal_the_full_conv_at_the_cells():
    torch.manual_seed(1)
    model = AssociationModel(SMALL)
    feats = torch.randn(1, 4, 8, 8)
    cells = torch.tensor([[0, 0], [8, 8], [3, 5], [8, 0]])
    full = model.descriptor_extractor.get_descriptors(feats, cells)
    from tracker.training.samples import feature_patches

    patches = torch.as_tensor(feature_patches(feats[0].numpy(), cells.numpy()))[None]
    assert torch.allclose(descriptors_from_patches(model.descriptor_extractor, patches), full, atol=1e-5)


def _fixed_set():
    frames = [SEVEN + ("H",)] * 6 + [SEVEN + ("K",), SEVEN + ("J",)]
    dump = make_dump(frames)
    dump.features[:] = np.random.default_rng(3).normal(size=dump.features.shape)
    dump.aug_features[:] = dump.features
    return CandidateSampler([dump], SampleParams())


class FixedSampler:
    def __init__(self, samples):
        self.samples = samples

    def sample(self, rng):
        return self.samples[int(rng.integers(len(self.samples)))]


def test_loss_decreases_when_training_on_a_small_fixed_set():
    sampler = _fixed_set()
    fixed = validation_set(sampler, 32, seed=5)
    torch.manual_seed(0)
    model = AssociationModel(SMALL)
    with torch_threads(1):
        before = evaluate(model, fixed)
    history = train(model, FixedSampler(fixed), fixed,
                    TrainParams(epochs=4, iterations_per_epoch=15, batch_size=16, learning_rate=3e-3,
                                lr_step_epochs=3), log=None)
    with torch_threads(1):
        after = evaluate(model, fixed)
    assert len(history) == 4 and history[0]["lr"] == 3e-3 and history[3]["lr"] == pytest.approx(6e-4)
    assert after["loss"] < 0.6 * before["loss"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert after["recall"] > before["recall"]


def test_saved_model_loads_back_with_the_same_outputs(tmp_path):
    sampler = _fixed_set()
    batch = collate(validation_set(sampler, 8, seed=2))
    torch.manual_seed(0)
    model = AssociationModel(SMALL)
    train(model, sampler, [], TrainParams(epochs=1, iterations_per_epoch=2, batch_size=8), log=None)
    model.eval()
    save_model(tmp_path / "m.pt", model, {"note": "test", "figures": [1.0, 2]})
    back, meta = load_model(tmp_path / "m.pt")
    assert back.config == SMALL and meta == {"note": "test", "figures": [1.0, 2]}
    with torch.no_grad(), torch_threads(1):
        a, b = forward(model, batch), forward(back, batch)
    assert torch.equal(a.log_assignment, b.log_assignment) and torch.equal(a.matches1, b.matches1)


class Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_loading_refuses_hostile_or_foreign_files(tmp_path, capsys):
    evil = tmp_path / "evil.pt"
    buf = io.BytesIO()
    torch.save({"format": "keeptrack-studio/association", "payload": Boom()}, buf)
    evil.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_model(evil)
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="raw.pt"):
        load_model(raw)
    assert "must never run" not in capsys.readouterr().out
    other = tmp_path / "other.pt"
    torch.save({"net": {}}, other)
    with pytest.raises(CheckpointError, match="not an association model"):
        load_model(other)
    wrong = tmp_path / "wrong.pt"
    save_model(wrong, AssociationModel(SMALL))
    payload = torch.load(wrong, weights_only=True)
    payload["config"]["descriptor_dim"] = 64
    torch.save(payload, wrong)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(wrong)
    with pytest.raises(CheckpointError, match="no such file"):
        load_model(tmp_path / "missing.pt")


def test_trained_matcher_part_gives_the_training_forward_numbers():
    from tracker.keeptrack.parts import CandidateSet, PatchFeatures
    from tracker.training.model import TrainedAssociationMatcher, patches_at_cells
    from tracker.training.samples import feature_patches

    torch.manual_seed(4)
    model = AssociationModel(SMALL).eval()
    matcher = TrainedAssociationMatcher(model)
    feats = [torch.randn(1, 4, 8, 8) for _ in range(2)]
    cells = [torch.tensor([[0, 0], [4, 4], [8, 2]]), torch.tensor([[4, 5], [1, 1]])]
    assert torch.equal(patches_at_cells(feats[0][0], cells[0])[0],
                       torch.as_tensor(feature_patches(feats[0][0].numpy(), cells[0].numpy())))
    sets = []
    for f, c in zip(feats, cells):
        desc = matcher.describe(PatchFeatures(f), c)
        assert torch.allclose(desc, model.descriptor_extractor.get_descriptors(f, c)[0], atol=1e-5)
        coords = c.float() * 10 + 5
        sets.append(CandidateSet(c, torch.linspace(0.9, 0.3, len(c)), coords, desc, 1))
    with torch_threads(1):
        res = matcher.match(sets[0], sets[1], (120, 160))
    batch = {"patches0": patches_at_cells(feats[0][0], cells[0]), "patches1": patches_at_cells(feats[1][0], cells[1]),
             "coords0": sets[0].coords_yx[None], "coords1": sets[1].coords_yx[None],
             "scores0": sets[0].scores[None], "scores1": sets[1].scores[None],
             "image_size": torch.tensor([[120.0, 160.0]])}
    with torch.no_grad(), torch_threads(1):
        ref = forward(model, batch)
    assert res.log_assignment.shape == (4, 3)
    assert torch.allclose(res.log_assignment, ref.log_assignment[0], atol=1e-5)
    assert torch.equal(res.matches1, ref.matches1[0])
