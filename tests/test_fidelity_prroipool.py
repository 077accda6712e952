"""PrRoIPool against the reference vectors (a) and against brute-force integration of the bilinear surface."""
import pytest
import torch

from tracker.nets.prroi_pool import PrRoIPool2D, prroi_pool2d
from fidelity_weights import close


@pytest.fixture(scope="module")
def vectors(fidelity):
    return torch.load(fidelity / "prroipool.pt", weights_only=True)


CONFIGS = ["pool4x4_s16", "pool3x3_s8", "pool1x1_s16", "pool5x5_s8", "pool3x3_s16"]


@pytest.mark.parametrize("name", CONFIGS)
def test_output_and_gradients_match_reference(vectors, name):
    config = {c[0]: c for c in vectors["configs"]}[name]
    _, ph, pw, scale, which = config
    feat = (vectors["feat_s16"] if which == "f16" else vectors["feat_s8"]).clone().requires_grad_(True)
    rois = vectors["rois"].clone().requires_grad_(True)
    out = PrRoIPool2D(ph, pw, scale)(feat, rois)
    weights = torch.linspace(-1, 1, out.numel()).view(out.shape)
    (out * weights).sum().backward()
    ref = vectors[name]
    close(out.detach(), ref["out"])
    close(rois.grad, ref["grad_rois"], atol=1e-3)
    close(feat.grad, ref["grad_feat"])
    assert torch.all(rois.grad[:, 0] == 0)  # batch index column


def test_zero_width_roi_gives_zero_and_no_gradient():
    feat = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    rois = torch.tensor([[0.0, 16.0, 8.0, 16.0, 40.0]], requires_grad=True)
    out = prroi_pool2d(feat, rois, 2, 2, 0.25)
    out.sum().backward()
    assert torch.all(out == 0) and torch.all(rois.grad == 0)


def test_matches_brute_force_integration():
    """Independent check of the closed form: midpoint rule on the bilinear surface (zero outside the map)."""
    g = torch.Generator().manual_seed(1)
    feat = torch.randn(1, 1, 6, 7, generator=g, dtype=torch.float64)
    roi = torch.tensor([[0.0, -3.0, 2.5, 21.0, 26.0]], dtype=torch.float64)  # crosses the left border, scale 1/4
    out = prroi_pool2d(feat, roi, 2, 3, 0.25)[0, 0]
    x0, y0, x1, y1 = (roi[0, 1:] * 0.25).tolist()
    padded = torch.nn.functional.pad(feat[0, 0], (1, 1, 1, 1))  # zero ring so that cells -1 and W exist

    def surface(y, x):
        y, x = y + 1, x + 1
        yi, xi = y.floor().long().clamp(0, padded.shape[0] - 2), x.floor().long().clamp(0, padded.shape[1] - 2)
        fy, fx = (y - yi).clamp(0, 1), (x - xi).clamp(0, 1)
        inside = (y >= 0) & (y <= padded.shape[0] - 1) & (x >= 0) & (x <= padded.shape[1] - 1)
        val = (padded[yi, xi] * (1 - fy) * (1 - fx) + padded[yi + 1, xi] * fy * (1 - fx)
               + padded[yi, xi + 1] * (1 - fy) * fx + padded[yi + 1, xi + 1] * fy * fx)
        return torch.where(inside, val, torch.zeros_like(val))

    n = 300
    for p in range(2):
        for q in range(3):
            bh, bw = (y1 - y0) / 2, (x1 - x0) / 3
            ys = y0 + p * bh + (torch.arange(n, dtype=torch.float64) + 0.5) * bh / n
            xs = x0 + q * bw + (torch.arange(n, dtype=torch.float64) + 0.5) * bw / n
            brute = surface(ys[:, None].expand(n, n), xs[None, :].expand(n, n)).mean()
            assert abs(float(brute - out[p, q])) < 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_runs_the_same_code(vectors):
    name, ph, pw, scale, _ = vectors["configs"][0]
    out = prroi_pool2d(vectors["feat_s16"].cuda(), vectors["rois"].cuda(), ph, pw, scale).cpu()
    close(out, vectors[name]["out"])


def _dense_reference(feat, rois, ph, pw, scale):
    """The closed form with weights over EVERY cell of the map (no support restriction), written out per ROI."""
    from tracker.nets.prroi_pool import _tent_integral
    _, channels, height, width = feat.shape
    outs = []
    for roi in rois:
        b = int(roi[0])
        x0, y0, x1, y1 = (roi[i] * scale for i in range(1, 5))
        bw, bh = (x1 - x0).clamp(min=0) / pw, (y1 - y0).clamp(min=0) / ph

        def weights(start, size, bins, cells):
            edges = start + torch.arange(bins + 1, dtype=feat.dtype) * size
            j = torch.arange(cells, dtype=feat.dtype)
            return _tent_integral(edges[1:, None] - j) - _tent_integral(edges[:-1, None] - j)

        wy, wx = weights(y0, bh, ph, height), weights(x0, bw, pw, width)
        area = bw * bh
        pooled = torch.einsum("ph,chw,qw->cpq", wy, feat[b], wx)
        outs.append(pooled / area if float(area) > 0 else torch.zeros_like(pooled))
    return torch.stack(outs)


def test_support_restriction_is_exact_for_small_and_outside_rois():
    """Pooling reads only the cells under the ROIs; ROIs far smaller than the map, across its edges, entirely
    outside it and on two images must give the same values and ROI gradients as weights over the whole map."""
    g = torch.Generator().manual_seed(3)
    feat = torch.randn(2, 3, 40, 50, generator=g, dtype=torch.float64)
    rois = torch.tensor([[0, 100.0, 60.0, 130.0, 140.0],    # small, inside
                         [0, -20.0, 30.0, 25.0, 70.0],      # across the left edge
                         [1, 380.0, 300.0, 420.0, 340.0],   # across the bottom-right corner
                         [1, -90.0, -80.0, -40.0, -30.0],   # entirely outside
                         [1, 200.0, 10.0, 203.5, 150.0]],   # thin
                        dtype=torch.float64)
    for ph, pw, scale in ((5, 5, 1 / 8), (3, 3, 1 / 8), (1, 1, 1 / 16)):
        r1 = rois.clone().requires_grad_(True)
        r2 = rois.clone().requires_grad_(True)
        out = prroi_pool2d(feat, r1, ph, pw, scale)
        ref = _dense_reference(feat, r2, ph, pw, scale)
        assert torch.allclose(out, ref, atol=1e-12)
        weights = torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view(out.shape)
        (out * weights).sum().backward()
        (ref * weights).sum().backward()
        assert torch.allclose(r1.grad, r2.grad, atol=1e-10)
        assert float(r1.grad[:4, 1:].abs().sum()) > 0  # the check is not vacuous
