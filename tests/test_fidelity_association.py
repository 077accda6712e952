"""Association network against the reference vectors (e), both image-size paths; standalone Sinkhorn and matches."""
import pytest
import torch

import fidelity_weights as fw
from fidelity_weights import close
from tracker.nets.association import (TargetCandidateMatchingNet, log_optimal_transport, mutual_matches,
                                      normalize_keypoints)


@pytest.fixture(scope="module")
def vectors(fidelity):
    return torch.load(fidelity / "association.pt", weights_only=True)


@pytest.fixture(scope="module")
def net(fidelity):
    net = TargetCandidateMatchingNet().eval()
    state = {k: v for k, v in fw.state_dict(fidelity, "keep_track").items() if not k.startswith("feature_extractor.")}
    net.load_state_dict(state)
    return net


@torch.no_grad()
def test_descriptors(vectors, net):
    close(net.descriptor_extractor(vectors["layer3_0"]), vectors["descriptor_map0"])
    close(net.descriptor_extractor.get_descriptors(vectors["layer3_0"], vectors["cells0_rc"]), vectors["descriptors0"])
    close(net.descriptor_extractor.get_descriptors(vectors["layer3_1"], vectors["cells1_rc"]), vectors["descriptors1"])
    assert float(net.matcher.bin_score) == vectors["bin_score"]
    assert net.matcher.sinkhorn_iterations == vectors["sinkhorn_iters"]


def run_matcher(net, v, path):
    h, w = v["image_size_hw"]
    if path == "inference":  # as the tracker calls it: unbatched coords, image size as a tuple (H, W)
        return net.matcher(v["descriptors0"], v["descriptors1"], v["img_coords0_yx"], v["img_coords1_yx"],
                           v["scores0"][None], v["scores1"][None], (h, w))
    size = torch.tensor([[float(h), float(w)]])  # as in training
    return net.matcher(v["descriptors0"], v["descriptors1"], v["img_coords0_yx"][None], v["img_coords1_yx"][None],
                       v["scores0"][None], v["scores1"][None], size)


@torch.no_grad()
@pytest.mark.parametrize("path", ["inference", "training"])
def test_matcher(vectors, net, path):
    result = run_matcher(net, vectors, path)
    ref = vectors[path]
    close(result.log_assignment, ref["log_assignment"], atol=1e-3)
    assert torch.equal(result.matches0, ref["matches0"]) and torch.equal(result.matches1, ref["matches1"])
    close(result.match_scores0, ref["match_scores0"], atol=1e-4)
    close(result.match_scores1, ref["match_scores1"], atol=1e-4)


@torch.no_grad()
def test_two_paths_differ_and_iteration_count_matters(vectors, net):
    a, b = run_matcher(net, vectors, "inference"), run_matcher(net, vectors, "training")
    assert float((a.log_assignment - b.log_assignment).abs().max()) > 1e-2
    for iters in (9, 11):
        net.matcher.sinkhorn_iterations = iters
        try:
            other = run_matcher(net, vectors, "inference")
        finally:
            net.matcher.sinkhorn_iterations = 10
        assert float((other.log_assignment.exp() - a.log_assignment.exp()).abs().max()) > 1e-3


def test_tuple_image_size_swaps_centring():
    coords = torch.tensor([[100.0, 50.0]])  # (y, x)
    as_tuple = normalize_keypoints(coords, (200, 400))  # -> size vector (W, H)
    as_tensor = normalize_keypoints(coords, torch.tensor([[200.0, 400.0]]))
    assert torch.allclose(as_tuple, torch.tensor([[[(100 - 200) / 280, (50 - 100) / 280]]]))
    assert torch.allclose(as_tensor, torch.tensor([[[(100 - 100) / 280, (50 - 200) / 280]]]))


def test_standalone_sinkhorn_and_mutual_matches():
    # Hand-made similarities: 0<->1 and 1<->0 clearly, 2 matches nothing (dustbin), column 2 unmatched.
    sim = torch.tensor([[[0.0, 8.0, 0.0], [8.0, 0.0, 0.0], [0.0, 0.0, -8.0]]])
    log_p = log_optimal_transport(sim, torch.tensor(2.0), num_iter=50)
    assert log_p.shape == (1, 4, 4)
    prob = log_p.exp()
    assert torch.allclose(prob[0, :3].sum(1), torch.ones(3), atol=1e-3)  # real rows sum to 1
    assert torch.allclose(prob[0, :, :3].sum(0), torch.ones(3), atol=1e-3)  # real columns too
    matches = mutual_matches(log_p, threshold=0.2)
    assert matches.matches0.tolist() == [[1, 0, -1]]
    assert matches.matches1.tolist() == [[1, 0, -1]]
    assert float(matches.match_scores0[0, 0]) > 0.9
    empty = mutual_matches(torch.zeros(1, 1, 4))
    assert empty.matches1.tolist() == [[-1, -1, -1]]


@torch.no_grad()
def test_joined_inference_gnn_equals_the_per_set_gnn(net):
    """Inference runs both candidate sets through the GNN side by side; training runs them one at a time (BatchNorm
    batch statistics per set). In eval mode both must be the same function, for unequal set sizes too."""
    g = torch.Generator().manual_seed(5)
    for n0, n1 in ((3, 7), (1, 1), (6, 2)):
        d0 = torch.randn(1, 256, n0, generator=g)
        d1 = torch.randn(1, 256, n1, generator=g)
        joined = net.matcher.gnn(d0, d1)
        separate = net.matcher.gnn._forward_separate(d0, d1)
        for a, b in zip(joined, separate):
            assert torch.allclose(a, b, atol=1e-4 * float(b.abs().max()))
        assert float((joined[0] - d0).abs().max()) > 1e-3  # the layers did something
