"""SuperDiMP-Simple target classifier against the reference vectors (c); SuperDiMP's learned-loss optimiser against
an independent autograd computation of the same step (no reference vectors exist for it)."""
import math

import pytest
import torch

import fidelity_weights as fw
from fidelity_weights import close
from tracker.nets.classifier import (ClassifierConfig, DiMPSteepestDescentGN, LinearFilterClassifier, apply_filter,
                                     gauss_newton_hinge, pool_target_filter)


@pytest.fixture(scope="module")
def vectors(fidelity):
    return torch.load(fidelity / "classifier.pt", weights_only=True)


@pytest.fixture(scope="module")
def classifier(fidelity):
    clf = LinearFilterClassifier().eval()
    clf.load_state_dict(fw.sub_state(fw.state_dict(fidelity, "super_dimp_simple"), "classifier."))
    return clf


def test_constants(vectors, classifier):
    assert float(classifier.filter_optimizer.residual_module.filter_reg.detach()) == pytest.approx(vectors["filter_reg"])
    assert classifier.filter_optimizer.residual_module.hinge_threshold == vectors["hinge_threshold"]
    assert classifier.filter_optimizer.residual_module.activation_leak == vectors["activation_leak"]


@torch.no_grad()
def test_classification_features(vectors, classifier):
    close(classifier.extract_classification_feat(vectors["layer3_train"]), vectors["clf_feat_train"])
    close(classifier.extract_classification_feat(vectors["layer3_test"]), vectors["clf_feat_test"])


@torch.no_grad()
def test_filter_initializer(vectors, classifier):
    close(classifier.init_filter(vectors["clf_feat_train"], vectors["train_boxes_xywh"]), vectors["filter_init"])


@torch.no_grad()
@pytest.mark.parametrize("weighted", [False, True])
def test_gauss_newton_iterates(vectors, classifier, weighted):
    tag = "weighted" if weighted else "uniform"
    weights = vectors["sample_weights"] if weighted else None
    final, iterates = classifier.optimize_filter(vectors["filter_init"], vectors["clf_feat_train"],
                                                 labels=vectors["labels"], sample_weights=weights, num_iter=5)
    close(torch.stack(iterates), vectors[f"filter_iterates_{tag}"])
    close(final, vectors[f"filter_gn5_{tag}"])
    # The optimiser moved the filter: the test would catch a no-op.
    assert float((final - vectors["filter_init"]).abs().max()) > 100 * 1e-4 * float(final.abs().max())


@torch.no_grad()
def test_scores(vectors, classifier):
    close(classifier.classify(vectors["clf_feat_test"], vectors["filter_init"]), vectors["scores_test_init_filter"])
    close(classifier.classify(vectors["clf_feat_test"], vectors["filter_gn5_uniform"]), vectors["scores_test_uniform"])
    close(classifier.classify(vectors["clf_feat_test"], vectors["filter_gn5_weighted"]), vectors["scores_test_weighted"])
    close(classifier.classify(vectors["clf_feat_train"], vectors["filter_gn5_uniform"]), vectors["scores_train_uniform"])


def test_standalone_pieces_with_other_dimensions():
    """What the weight-free tracker uses: no checkpoint, other feature dims, hand-set hyper-parameters."""
    g = torch.Generator().manual_seed(3)
    feat = torch.randn(4, 32, 12, 12, generator=g)
    boxes = torch.tensor([[40.0, 40.0, 48.0, 64.0]]).repeat(4, 1)
    filt = pool_target_filter(feat, boxes, filter_size=4, feature_stride=8)
    assert filt.shape == (1, 32, 4, 4)
    labels = torch.zeros(4, 1, 13, 13)
    labels[:, :, 5:8, 6:9] = 1.0
    final, iterates = gauss_newton_hinge(filt, feat, labels, num_iter=3, filter_reg=0.05)
    assert len(iterates) == 4 and final.shape == filt.shape

    def loss(f):  # the objective the hinge GN steps descend
        s = apply_filter(feat, f)
        m = ((labels > 0.05).float() + 0.1).clamp(max=1)
        a = (1 - m) / 2 * s.abs() + (1 + m) / 2 * s
        return ((a - m * labels) ** 2).sum() / 4 + 0.05 ** 2 * (f ** 2).sum()

    losses = [float(loss(f)) for f in iterates]
    assert losses[-1] < 0.5 * losses[0]


def test_learned_loss_step_equals_autograd_steepest_descent():
    torch.manual_seed(0)
    opt = DiMPSteepestDescentGN(num_dist_bins=20, bin_displacement=0.5)
    with torch.no_grad():  # non-trivial predictor weights
        for module in (opt.label_map_predictor, opt.target_mask_predictor[0], opt.spatial_weight_predictor):
            module.weight.add_(0.3 * torch.randn_like(module.weight))
    feat = torch.randn(3, 16, 10, 10)
    boxes = torch.tensor([[50.0, 60.0, 40.0, 30.0], [60.0, 50.0, 30.0, 40.0], [40.0, 40.0, 50.0, 50.0]])
    weights = torch.tensor([0.5, 0.3, 0.2])
    filt = 0.1 * torch.randn(1, 16, 4, 4)
    new, _ = opt(filt, feat, boxes, weights, num_iter=1)

    # Independent formulation: residual r(f) = sw * (act(f * x, m) - y), sw = sqrt(w) * spatial weight;
    # loss = 1/2 |r|^2 + lambda/2 |f|^2; g = grad(loss); alpha = |g|^2 / (|J_r g|^2 + lambda |g|^2).
    from tracker.nets.classifier import distance_bins
    centre = ((boxes[:, :2] + boxes[:, 2:] / 2) / 16).flip(1)
    dist = distance_bins(centre, (11, 11), 20, 0.5)
    with torch.no_grad():
        y, m, v = opt.label_map_predictor(dist), opt.target_mask_predictor(dist), opt.spatial_weight_predictor(dist)
    sw = weights.sqrt().view(-1, 1, 1, 1) * v
    lam = float(opt.filter_reg.detach()) ** 2

    def residual(f):
        s = torch.nn.functional.conv2d(feat, f, padding=2)
        return sw * ((1 - m) / 2 * s.abs() + (1 + m) / 2 * s - y)

    f = filt.clone().requires_grad_(True)
    loss = 0.5 * (residual(f) ** 2).sum() + 0.5 * lam * (f ** 2).sum()
    (g,) = torch.autograd.grad(loss, f)
    # J g by the double-vjp trick: d/du <J^T u, g> = J g.
    u = torch.zeros_like(residual(filt), requires_grad=True)
    f2 = filt.clone().requires_grad_(True)
    (jt_u,) = torch.autograd.grad(residual(f2), f2, u, create_graph=True)
    (jg,) = torch.autograd.grad(jt_u, u, g)
    alpha = (g * g).sum() / ((jg * jg).sum() + lam * (g * g).sum())
    expected = filt - math.exp(float(opt.log_step_length.detach())) * alpha * g
    assert torch.allclose(new.detach(), expected, rtol=1e-4, atol=1e-6)


def test_super_dimp_classifier_tree(fidelity):
    clf = LinearFilterClassifier(ClassifierConfig(optimizer="learned_loss"))
    keys = {k: tuple(s) for k, s in fw.manifest(fidelity, "super_dimp") if k.startswith("classifier.")}
    assert {"classifier." + k: tuple(v.shape) for k, v in clf.state_dict().items()} == keys


@pytest.mark.parametrize("k", [3, 4, 5])
def test_fixed_feature_correlator_equals_conv(k):
    from tracker.nets.classifier import FixedFeatureCorrelator
    g = torch.Generator().manual_seed(k)
    feat = torch.randn(3, 8, 9, 11, generator=g, dtype=torch.float64)
    filt = torch.randn(1, 8, k, k, generator=g, dtype=torch.float64)
    corr = FixedFeatureCorrelator(feat, k)
    scores = apply_filter(feat, filt)
    assert torch.allclose(corr.apply(filt), scores)
    out_grad = torch.randn(scores.shape, generator=g, dtype=torch.float64)
    expected = torch.nn.grad.conv2d_weight(feat, filt.shape, out_grad, padding=k // 2)
    assert torch.allclose(corr.transpose(out_grad), expected)
