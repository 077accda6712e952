"""ResNet-50 of the base network against the reference vectors (b); module tree against the manifest."""
import pytest
import torch

import fidelity_weights as fw
from tracker.nets.base_net import IMAGENET_MEAN, IMAGENET_STD, image_to_tensor, normalize_image
from tracker.nets.resnet import ResNet50


@pytest.fixture(scope="module")
def vectors(fidelity):
    return torch.load(fidelity / "backbone.pt", weights_only=True)


def test_module_tree_matches_manifest(fidelity):
    manifest = {k: tuple(s) for k, s in fw.manifest(fidelity, "super_dimp_simple")}
    ours = {"feature_extractor." + k: tuple(v.shape) for k, v in ResNet50().state_dict().items()}
    assert ours == {k: s for k, s in manifest.items() if k.startswith("feature_extractor.")}


def test_layer2_layer3_match_reference(fidelity, vectors):
    assert torch.allclose(vectors["mean"], torch.tensor(IMAGENET_MEAN))
    assert torch.allclose(vectors["std"], torch.tensor(IMAGENET_STD))
    net = ResNet50().eval()
    net.load_state_dict(fw.sub_state(fw.state_dict(fidelity, "super_dimp_simple"), "feature_extractor."))
    with torch.no_grad():
        out = net(normalize_image(image_to_tensor(vectors["patch_uint8_hwc"])), ("layer2", "layer3"))
    assert set(out) == {"layer2", "layer3"}  # stops after layer3
    for name in ("layer2", "layer3"):
        ref = vectors[name]
        assert out[name].shape == ref.shape
        assert torch.allclose(out[name], ref, rtol=1e-4, atol=1e-3), f"{name}: {float((out[name] - ref).abs().max())}"
