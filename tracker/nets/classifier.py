"""DiMP target classifier pieces: classification features, linear filter initialiser, and the two filter optimisers
(SuperDiMP-Simple's Gauss-Newton steepest descent on a hinge residual, SuperDiMP's learned-loss steepest descent).

Everything works standalone, without a checkpoint: feature dimensions, filter size and hyper-parameters are
constructor / function arguments. Shapes: training features (N, C, H, W), one filter (1, C, k, k), score maps
(N, 1, H + 1, W + 1) for an even k (zero padding k // 2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .prroi_pool import prroi_pool2d


class InstanceL2Norm(nn.Module):
    """Scale each sample so that its mean squared value is scale**2 (parameter free)."""

    def __init__(self, scale: float = 1.0, eps: float = 1e-5):
        super().__init__()
        self.scale = float(scale)
        self.eps = float(eps)

    def forward(self, x: Tensor) -> Tensor:
        numel = x.shape[1] * x.shape[2] * x.shape[3]
        sq_sum = (x * x).reshape(x.shape[0], 1, 1, -1).sum(dim=3, keepdim=True)
        return x * (self.scale * (numel / (sq_sum + self.eps)).sqrt())


def make_classification_feature_extractor(in_dim: int = 1024, out_dim: int = 512, filter_size: int = 4) -> nn.Sequential:
    """[0] 3x3 conv without bias, [1] instance L2 norm with scale sqrt(1 / (out_dim * k * k)) (checkpoint layout)."""
    norm_scale = math.sqrt(1.0 / (out_dim * filter_size * filter_size))
    return nn.Sequential(nn.Conv2d(in_dim, out_dim, 3, padding=1, bias=False), InstanceL2Norm(scale=norm_scale))


def apply_filter(feat: Tensor, filt: Tensor) -> Tensor:
    """Correlate features (N, C, H, W) with filter(s) (F, C, k, k), zero padding k // 2 -> (N, F, H', W')."""
    return F.conv2d(feat, filt, padding=filt.shape[-1] // 2)


class FixedFeatureCorrelator:
    """Correlation with a k x k filter (zero padding k // 2) over fixed features, and its transpose, as matrix
    products. The optimisers apply many filters to the same features: laying the padded features out once as a
    (C, N * Hp * Wp) matrix makes each application one GEMM plus k * k shifted additions, which on CPU is several
    times faster than conv2d with a single output channel (and than its weight gradient).

    The shifts are offsets i * Wp + j along each flat row of the GEMM's output (one contiguous slice each,
    instead of a strided (N, Ho, Wo) window): an output cell reads the same k * k values in the same order, and
    the cells that wrap into the padding are never read back, so the numbers are the same."""

    def __init__(self, feat: Tensor | None, filter_size: int, *, padded: Tensor | None = None):
        """`feat` (N, C, H, W); or `padded`: the features already laid out, (C, N, Hp, Wp) with zero borders of
        k // 2 (`FeatureLayout`; each (Hp, Wp) block contiguous, the (C, N) dimensions may be strided)."""
        self.k = int(filter_size)
        self.pad = self.k // 2
        if padded is None:
            n, c, h, w = feat.shape
            # Padded and laid out in one copy (zeros, then the features into the middle): the same matrix as
            # F.pad followed by a transposing copy, with one pass over the features less.
            padded = feat.new_zeros((c, n, h + 2 * self.pad, w + 2 * self.pad))
            padded[:, :, self.pad:self.pad + h, self.pad:self.pad + w] = feat.transpose(0, 1)
        c, n, hp, wp = padded.shape
        self.shape = (n, c, hp, wp)
        self.out_hw = (hp - self.k + 1, wp - self.k + 1)
        self.matrix = padded.reshape(c, -1)  # (C, N * Hp * Wp), a view where the layout allows
        self._offsets = [i * wp + j for i in range(self.k) for j in range(self.k)]

    def apply(self, filt: Tensor) -> Tensor:
        """filt (1, C, k, k) -> scores (N, 1, Ho, Wo); equals apply_filter(feat, filt)."""
        n, c, hp, wp = self.shape
        k, (ho, wo) = self.k, self.out_hw
        z = filt.reshape(c, k * k).t() @ self.matrix  # (k * k, N * Hp * Wp)
        length = z.shape[1] - self._offsets[-1]
        out = z[0].clone()
        head = out[:length]
        for row, offset in enumerate(self._offsets[1:], start=1):
            head += z[row, offset:offset + length]
        return out.view(n, hp, wp)[:, :ho, :wo].unsqueeze(1).contiguous()

    def transpose(self, scores_grad: Tensor) -> Tensor:
        """(N, 1, Ho, Wo) -> (1, C, k, k): the gradient of <scores, scores_grad> w.r.t. the filter."""
        n, c, hp, wp = self.shape
        k, (ho, wo) = self.k, self.out_hw
        grid = scores_grad.new_zeros((n, hp, wp))
        grid[:, :ho, :wo] = scores_grad[:, 0]
        flat = grid.view(-1)
        size = flat.shape[0]
        shifted = scores_grad.new_zeros((k * k, size))
        for row, offset in enumerate(self._offsets):
            shifted[row, offset:] = flat[:size - offset]
        return (self.matrix @ shifted.t()).reshape(1, c, k, k)


class FeatureLayout:
    """A sample memory's features kept in the correlator's padded layout, (C, capacity, Hp, Wp), written one
    sample at a time, so that an optimiser over the memory does not lay out the whole memory again on every
    update (`correlator`: the same matrix as FixedFeatureCorrelator(features[:n], k) builds)."""

    def __init__(self, capacity: int, channels: int, height: int, width: int, filter_size: int, like: Tensor):
        self.k = int(filter_size)
        self.pad = self.k // 2
        self.hw = (int(height), int(width))
        self.padded = like.new_zeros((int(channels), int(capacity), height + 2 * self.pad, width + 2 * self.pad))

    def write(self, slot: int, features: Tensor) -> None:
        """Samples `features` (B, C, H, W) into slots slot .. slot + B - 1."""
        (h, w), p = self.hw, self.pad
        self.padded[:, slot:slot + features.shape[0], p:p + h, p:p + w] = features.transpose(0, 1)

    def correlator(self, n: int) -> FixedFeatureCorrelator:
        """The correlator over the first `n` slots."""
        return FixedFeatureCorrelator(None, self.k, padded=self.padded[:, :n])


def boxes_to_rois(boxes_xywh: Tensor) -> Tensor:
    """(N, 4) [x, y, w, h] -> (N, 5) PrRoIPool rows [i, x, y, x + w, y + h] (box i pools from sample i)."""
    boxes_xywh = boxes_xywh.reshape(-1, 4)
    index = torch.arange(boxes_xywh.shape[0], device=boxes_xywh.device, dtype=boxes_xywh.dtype)[:, None]
    return torch.cat([index, boxes_xywh[:, :2], boxes_xywh[:, :2] + boxes_xywh[:, 2:]], dim=1)


def pool_target_filter(feat: Tensor, boxes_xywh: Tensor, filter_size: int, feature_stride: float) -> Tensor:
    """PrRoIPool each sample's features over its target box to k x k, then average the samples -> (1, C, k, k)."""
    pooled = prroi_pool2d(feat, boxes_to_rois(boxes_xywh), filter_size, filter_size, 1.0 / feature_stride)
    return pooled.mean(dim=0, keepdim=True)


class FilterInitializerLinear(nn.Module):
    """Initial filter = mean over samples of PrRoIPool(conv3x3(features), target box) (`filter_conv` with bias)."""

    def __init__(self, feature_dim: int = 512, filter_size: int = 4, feature_stride: float = 16):
        super().__init__()
        self.filter_size = int(filter_size)
        self.feature_stride = float(feature_stride)
        self.filter_conv = nn.Conv2d(feature_dim, feature_dim, 3, padding=1, bias=True)

    def forward(self, feat: Tensor, boxes_xywh: Tensor) -> Tensor:
        """feat (N, C, H, W), boxes_xywh (N, 4) in patch pixels -> (1, C, k, k)."""
        return pool_target_filter(self.filter_conv(feat), boxes_xywh, self.filter_size, self.feature_stride)


# --- SuperDiMP-Simple: Gauss-Newton steepest descent on the hinge residual -------------------------------------------

def hinge_target_mask(labels: Tensor, hinge_threshold: float, activation_leak: float) -> Tensor:
    """1 where the label exceeds the threshold (target region), `activation_leak` elsewhere."""
    return ((labels > hinge_threshold).to(labels.dtype) + activation_leak).clamp(max=1.0)


def _sqrt_sample_weights(sample_weights: Tensor | None, num_samples: int, like: Tensor) -> Tensor:
    if sample_weights is None:
        return torch.full((num_samples, 1, 1, 1), math.sqrt(1.0 / num_samples), dtype=like.dtype, device=like.device)
    sample_weights = sample_weights.to(like)
    if sample_weights.numel() != num_samples:
        raise ValueError(f"{sample_weights.numel()} sample weights for {num_samples} samples")
    return sample_weights.reshape(num_samples, 1, 1, 1).sqrt()


def gauss_newton_hinge(filt: Tensor, feat: Tensor, labels: Tensor, sample_weights: Tensor | None = None, *,
                       num_iter: int, filter_reg: float | Tensor, hinge_threshold: float = 0.05,
                       activation_leak: float = 0.1,
                       correlator: FixedFeatureCorrelator | None = None) -> tuple[Tensor, list[Tensor]]:
    """Run `num_iter` Gauss-Newton steepest-descent steps from `filt` (1, C, k, k).

    Residuals: r_i = sqrt(w_i) * (a(s_i, m_i) - m_i * y_i) with scores s_i = filt * x_i, labels y_i, target mask
    m_i, a(s, m) = (1 - m)/2 |s| + (1 + m)/2 s (leaky ReLU outside the target region); regulariser filter_reg * filt.
    Without weights every sample weighs 1/N. One step: g = J^T r, alpha = |g|^2 / |J g|^2 (>= 1e-8 in the
    denominator), filt -= alpha g. J is piecewise constant in the filter, so g and J g are written out directly.
    `correlator`: `feat` already laid out (FeatureLayout.correlator), else laid out here.
    Returns the final filter and the iterates (start included).
    """
    num_samples = feat.shape[0]
    labels = labels.reshape(num_samples, 1, *labels.shape[-2:]).to(feat)
    sqrt_w = _sqrt_sample_weights(sample_weights, num_samples, feat)
    mask = hinge_target_mask(labels, hinge_threshold, activation_leak)
    reg = filter_reg if isinstance(filter_reg, Tensor) else torch.tensor(float(filter_reg))
    reg = reg.to(feat).reshape(())
    iterates = [filt]
    if num_iter <= 0:
        return filt, iterates
    corr = correlator
    if corr is None:
        corr = FixedFeatureCorrelator(feat, filt.shape[-1])
    elif corr.shape[:2] != tuple(feat.shape[:2]) or corr.k != filt.shape[-1]:
        raise ValueError(f"correlator laid out for {corr.shape[:2]} samples x channels and k = {corr.k}; "
                         f"features {tuple(feat.shape[:2])}, filter {filt.shape[-1]}")
    scores = corr.apply(filt)
    for i in range(num_iter):
        if i:
            # The scores are linear in the filter: those of filt - alpha * grad follow from the two products
            # already made, so each step after the first costs one correlation less (equal to float rounding).
            scores = scores - alpha * applied_grad
        slope = (1 - mask) / 2 * torch.sign(scores) + (1 + mask) / 2  # d a / d s
        activation = (1 - mask) / 2 * scores.abs() + (1 + mask) / 2 * scores
        residual = sqrt_w * (activation - mask * labels)
        grad = corr.transpose(sqrt_w * slope * residual) + reg * reg * filt
        applied_grad = corr.apply(grad)
        jac_grad = sqrt_w * slope * applied_grad
        grad_sq = (grad * grad).sum()
        jac_sq = (jac_grad * jac_grad).sum() + reg * reg * grad_sq
        alpha = grad_sq / jac_sq.clamp(min=1e-8)
        filt = filt - alpha * grad
        iterates.append(filt)
    return filt, iterates


class LinearFilterHinge(nn.Module):
    """Holds the learned regularisation weight (`filter_reg`, shape (1)) and the hinge constants."""

    def __init__(self, init_filter_reg: float = 0.1, hinge_threshold: float = 0.05, activation_leak: float = 0.1):
        super().__init__()
        self.filter_reg = nn.Parameter(torch.full((1,), float(init_filter_reg)))
        self.hinge_threshold = float(hinge_threshold)
        self.activation_leak = float(activation_leak)


class GNSteepestDescent(nn.Module):
    """SuperDiMP-Simple's filter optimiser (`classifier.filter_optimizer`, child `residual_module`)."""

    def __init__(self, num_iter: int = 5, init_filter_reg: float = 0.1, hinge_threshold: float = 0.05,
                 activation_leak: float = 0.1):
        super().__init__()
        self.num_iter = int(num_iter)
        self.residual_module = LinearFilterHinge(init_filter_reg, hinge_threshold, activation_leak)

    def forward(self, filt: Tensor, feat: Tensor, labels: Tensor, sample_weights: Tensor | None = None,
                num_iter: int | None = None) -> tuple[Tensor, list[Tensor]]:
        module = self.residual_module
        return gauss_newton_hinge(filt, feat, labels, sample_weights,
                                  num_iter=self.num_iter if num_iter is None else int(num_iter),
                                  filter_reg=module.filter_reg, hinge_threshold=module.hinge_threshold,
                                  activation_leak=module.activation_leak)


# --- SuperDiMP: learned-loss steepest descent -------------------------------------------------------------------------

def distance_bins(center_rc: Tensor, output_hw: tuple[int, int], num_bins: int, bin_displacement: float) -> Tensor:
    """(N, num_bins, H, W) triangular bin memberships of each cell's distance to `center_rc` (N, 2) in cells; the
    last bin collects every distance beyond it."""
    rows = torch.arange(output_hw[0], dtype=center_rc.dtype, device=center_rc.device).view(1, 1, -1, 1)
    cols = torch.arange(output_hw[1], dtype=center_rc.dtype, device=center_rc.device).view(1, 1, 1, -1)
    d_row = rows - center_rc[:, 0].view(-1, 1, 1, 1)
    d_col = cols - center_rc[:, 1].view(-1, 1, 1, 1)
    dist = torch.sqrt(d_row * d_row + d_col * d_col)
    bins = torch.arange(num_bins, dtype=center_rc.dtype, device=center_rc.device).view(1, -1, 1, 1)
    diff = dist / bin_displacement - bins
    return torch.cat([F.relu(1.0 - diff[:, :-1].abs()), (1.0 + diff[:, -1:]).clamp(0, 1)], dim=1)


class DiMPSteepestDescentGN(nn.Module):
    """SuperDiMP's optimiser: label, target mask and spatial weight predicted from distance bins; learned step.
    The score activation is the same leaky form as the hinge optimiser's, with the predicted mask as the leak."""

    def __init__(self, num_iter: int = 5, feat_stride: float = 16, init_step_length: float = 0.9,
                 init_filter_reg: float = 0.1, init_gauss_sigma: float = 0.91667, num_dist_bins: int = 100,
                 bin_displacement: float = 0.1, mask_init_factor: float = 3.0, min_filter_reg: float = 1e-3):
        super().__init__()
        self.num_iter = int(num_iter)
        self.feat_stride = float(feat_stride)
        self.num_dist_bins = int(num_dist_bins)
        self.bin_displacement = float(bin_displacement)
        self.min_filter_reg = float(min_filter_reg)
        self.log_step_length = nn.Parameter(math.log(init_step_length) * torch.ones(1))
        self.filter_reg = nn.Parameter(init_filter_reg * torch.ones(1))
        self.label_map_predictor = nn.Conv2d(num_dist_bins, 1, 1, bias=False)
        self.target_mask_predictor = nn.Sequential(nn.Conv2d(num_dist_bins, 1, 1, bias=False), nn.Sigmoid())
        self.spatial_weight_predictor = nn.Conv2d(num_dist_bins, 1, 1, bias=False)
        # Initial values (training from scratch only; a checkpoint overwrites them).
        d = torch.arange(num_dist_bins, dtype=torch.float32) * bin_displacement
        gauss = torch.exp(-0.5 * (d / init_gauss_sigma) ** 2)
        with torch.no_grad():
            self.label_map_predictor.weight.copy_((gauss - gauss.min()).view(1, -1, 1, 1))
            self.target_mask_predictor[0].weight.copy_((mask_init_factor * torch.tanh(2.0 - d)).view(1, -1, 1, 1))
            self.spatial_weight_predictor.weight.fill_(1.0)

    def forward(self, filt: Tensor, feat: Tensor, boxes_xywh: Tensor, sample_weights: Tensor | None = None,
                num_iter: int | None = None) -> tuple[Tensor, list[Tensor]]:
        num_iter = self.num_iter if num_iter is None else int(num_iter)
        num_samples = feat.shape[0]
        k = filt.shape[-1]
        output_hw = (feat.shape[-2] + (k + 1) % 2, feat.shape[-1] + (k + 1) % 2)
        step_factor = torch.exp(self.log_step_length).reshape(())
        reg = (self.filter_reg * self.filter_reg).clamp(min=self.min_filter_reg ** 2).reshape(())
        boxes_xywh = boxes_xywh.reshape(-1, 4).to(feat)
        offset = (k % 2) / 2.0
        center_rc = ((boxes_xywh[:, :2] + boxes_xywh[:, 2:] / 2) / self.feat_stride).flip(1) - offset
        dist = distance_bins(center_rc, output_hw, self.num_dist_bins, self.bin_displacement)
        label = self.label_map_predictor(dist)
        mask = self.target_mask_predictor(dist)
        spatial_weight = self.spatial_weight_predictor(dist)
        sw = _sqrt_sample_weights(sample_weights, num_samples, feat) * spatial_weight
        iterates = [filt]
        if num_iter <= 0:
            return filt, iterates
        corr = FixedFeatureCorrelator(feat, k)
        for _ in range(num_iter):
            scores = corr.apply(filt)
            activation = (1 - mask) / 2 * scores.abs() + (1 + mask) / 2 * scores
            slope = (1 - mask) / 2 * torch.sign(scores) + (1 + mask) / 2
            residual = sw * (activation - label)
            grad = corr.transpose(slope * (sw * residual)) + reg * filt
            scores_grad = sw * (slope * corr.apply(grad))
            num = (grad * grad).sum()
            den = ((scores_grad * scores_grad).sum() + reg * num).clamp(min=1e-8)
            filt = filt - step_factor * (num / den) * grad
            iterates.append(filt)
        return filt, iterates


# --- The classifier module as stored in the checkpoints ----------------------------------------------------------------

@dataclass(frozen=True)
class ClassifierConfig:
    """Structure of the target classifier (the values of both released base networks are the defaults)."""
    in_dim: int = 1024
    feature_dim: int = 512
    filter_size: int = 4
    feature_stride: int = 16
    optimizer: str = "hinge_gn"  # "hinge_gn" (SuperDiMP-Simple) or "learned_loss" (SuperDiMP)
    hinge_threshold: float = 0.05
    activation_leak: float = 0.1
    num_dist_bins: int = 100
    bin_displacement: float = 0.1


class LinearFilterClassifier(nn.Module):
    """`classifier.*`: children feature_extractor, filter_initializer, filter_optimizer."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        # Children registered in the original's order (initializer, optimiser, features) so that state_dict()
        # lists keys exactly as the checkpoints do.
        self.filter_initializer = FilterInitializerLinear(config.feature_dim, config.filter_size,
                                                          config.feature_stride)
        if config.optimizer == "hinge_gn":
            self.filter_optimizer: nn.Module = GNSteepestDescent(
                hinge_threshold=config.hinge_threshold, activation_leak=config.activation_leak)
        elif config.optimizer == "learned_loss":
            self.filter_optimizer = DiMPSteepestDescentGN(
                feat_stride=config.feature_stride, num_dist_bins=config.num_dist_bins,
                bin_displacement=config.bin_displacement)
        else:
            raise ValueError(f"unknown classifier optimiser {config.optimizer!r}")
        self.feature_extractor = make_classification_feature_extractor(config.in_dim, config.feature_dim,
                                                                       config.filter_size)

    @property
    def uses_labels(self) -> bool:
        """True for the hinge optimiser (the tracker passes Gaussian label maps), False for the learned loss
        (it builds its own labels from the boxes)."""
        return self.config.optimizer == "hinge_gn"

    def extract_classification_feat(self, backbone_feat: Tensor) -> Tensor:
        """Backbone layer3 (N, 1024, H, W) -> classification features (N, 512, H, W)."""
        return self.feature_extractor(backbone_feat)

    def classify(self, clf_feat: Tensor, filt: Tensor) -> Tensor:
        return apply_filter(clf_feat, filt)

    def init_filter(self, clf_feat: Tensor, boxes_xywh: Tensor) -> Tensor:
        return self.filter_initializer(clf_feat, boxes_xywh)

    def optimize_filter(self, filt: Tensor, clf_feat: Tensor, *, labels: Tensor | None = None,
                        boxes_xywh: Tensor | None = None, sample_weights: Tensor | None = None,
                        num_iter: int | None = None) -> tuple[Tensor, list[Tensor]]:
        """Gauss-Newton steps from `filt`. Hinge optimiser: needs `labels` (N, 1, H+1, W+1); learned loss: needs
        `boxes_xywh` (N, 4). `sample_weights` (N elements) or None for 1/N each."""
        if self.uses_labels:
            if labels is None:
                raise ValueError("the SuperDiMP-Simple optimiser needs label maps")
            return self.filter_optimizer(filt, clf_feat, labels, sample_weights, num_iter)
        if boxes_xywh is None:
            raise ValueError("the SuperDiMP optimiser needs the target boxes")
        return self.filter_optimizer(filt, clf_feat, boxes_xywh, sample_weights, num_iter)
