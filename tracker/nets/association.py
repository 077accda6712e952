"""KeepTrack's target-candidate association network (`keep_track.pth.tar`): descriptor conv, SuperGlue-style keypoint
encoder and attentional GNN, optimal transport with a dustbin, mutual-match extraction.

`log_optimal_transport` and `mutual_matches` are plain functions usable with any similarity matrix.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .resnet import ResNet50


# --- Optimal transport and match extraction (standalone) ---------------------------------------------------------------

def log_sinkhorn_iterations(couplings: Tensor, log_mu: Tensor, log_nu: Tensor, num_iter: int) -> Tensor:
    """Log-domain Sinkhorn from u = v = 0: alternately fit row then column marginals. Returns Z + u + v."""
    u = torch.zeros_like(log_mu)
    v = torch.zeros_like(log_nu)
    for _ in range(num_iter):
        u = log_mu - torch.logsumexp(couplings + v.unsqueeze(1), dim=2)
        v = log_nu - torch.logsumexp(couplings + u.unsqueeze(2), dim=1)
    return couplings + u.unsqueeze(2) + v.unsqueeze(1)


def log_optimal_transport(scores: Tensor, bin_score: Tensor | float, num_iter: int = 10) -> Tensor:
    """Similarities (B, M, N) -> log-assignment (B, M+1, N+1); the last row/column is the dustbin (score
    `bin_score` everywhere, corner included). Marginals: each real point 1, dustbins N (rows) and M (columns),
    all divided by M+N; the result is scaled back by M+N so that real rows sum to about 1 in probability."""
    batch, m, n = scores.shape
    alpha = torch.as_tensor(bin_score, dtype=scores.dtype, device=scores.device).reshape(1, 1, 1)
    ms = torch.tensor(float(m), dtype=scores.dtype, device=scores.device)
    ns = torch.tensor(float(n), dtype=scores.dtype, device=scores.device)
    couplings = torch.cat([torch.cat([scores, alpha.expand(batch, m, 1)], -1),
                           torch.cat([alpha.expand(batch, 1, n), alpha.expand(batch, 1, 1)], -1)], 1)
    norm = -(ms + ns).log()
    log_mu = torch.cat([norm.expand(m), ns.log()[None] + norm])[None].expand(batch, -1)
    log_nu = torch.cat([norm.expand(n), ms.log()[None] + norm])[None].expand(batch, -1)
    return log_sinkhorn_iterations(couplings, log_mu, log_nu, num_iter) - norm


@dataclass
class Matches:
    """Mutual best matches: partner index or -1, and exp(log-assignment) of kept matches (0 otherwise)."""
    matches0: Tensor  # (B, M) int64
    matches1: Tensor  # (B, N) int64
    match_scores0: Tensor  # (B, M)
    match_scores1: Tensor  # (B, N)


def mutual_matches(log_assignment: Tensor, threshold: float = 0.2) -> Matches:
    """From a (B, M+1, N+1) log-assignment (dustbins last): pairs that are each other's row/column argmax on the real
    part and whose probability exceeds `threshold`."""
    real = log_assignment[:, :-1, :-1]
    batch, m, n = real.shape
    if m == 0 or n == 0:
        return Matches(real.new_full((batch, m), -1, dtype=torch.long), real.new_full((batch, n), -1, dtype=torch.long),
                       real.new_zeros((batch, m)), real.new_zeros((batch, n)))
    max0, max1 = real.max(2), real.max(1)
    idx0, idx1 = max0.indices, max1.indices
    mutual0 = torch.arange(m, device=real.device)[None] == idx1.gather(1, idx0)
    mutual1 = torch.arange(n, device=real.device)[None] == idx0.gather(1, idx1)
    zero = real.new_tensor(0)
    scores0 = torch.where(mutual0, max0.values.exp(), zero)
    scores1 = torch.where(mutual1, scores0.gather(1, idx1), zero)
    valid0 = mutual0 & (scores0 > threshold)
    valid1 = mutual1 & valid0.gather(1, idx1)
    minus_one = idx0.new_tensor(-1)
    return Matches(torch.where(valid0, idx0, minus_one), torch.where(valid1, idx1, minus_one), scores0, scores1)


# --- Network pieces -----------------------------------------------------------------------------------------------------

class PointwiseConv1d(nn.Conv1d):
    """Conv1d with kernel 1 (checkpoint layout unchanged) computed as one matrix product: with a handful of
    candidates PyTorch's CPU convolution takes a slow generic path that cost several ms per frame."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        out = torch.matmul(self.weight[:, :, 0], x)
        return out if self.bias is None else out + self.bias[:, None]


def mlp_1d(channels: list[int]) -> nn.Sequential:
    """Conv1d (kernel 1) layers with BatchNorm1d + ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(1, len(channels)):
        layers.append(PointwiseConv1d(channels[i - 1], channels[i]))
        if i < len(channels) - 1:
            layers += [nn.BatchNorm1d(channels[i]), nn.ReLU()]
    return nn.Sequential(*layers)


def normalize_keypoints(coords_yx: Tensor, image_size) -> Tensor:
    """Centre and scale image coordinates: (coords - size / 2) / (0.7 * max(size)).

    `image_size` as a tensor (B, 2) is used in the order given ((H, W) for (y, x) coordinates: consistent centring,
    as in training). As a tuple/list (H, W) it becomes the vector (W, H), exactly as the original tracker passes
    it at inference: y is then centred by W/2 and x by H/2 (faithfulness quirk, see keeptrack-reference.md §8.1).
    """
    if isinstance(image_size, Tensor):
        size = image_size.to(coords_yx).reshape(-1, 2)
    else:
        height, width = image_size
        size = coords_yx.new_tensor([[float(width), float(height)]])
    center = size / 2
    scaling = size.max(1, keepdim=True).values * 0.7
    return (coords_yx - center[:, None, :]) / scaling[:, None, :]


class KeypointEncoder(nn.Module):
    """[norm_y, norm_x, score] (B, 3, N) -> (B, D, N) through 3 -> layers... -> D."""

    def __init__(self, feature_dim: int = 256, layers: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        self.encoder = mlp_1d([3, *layers, feature_dim])
        nn.init.constant_(self.encoder[-1].bias, 0.0)

    def forward(self, kpts: Tensor, scores: Tensor) -> Tensor:
        return self.encoder(torch.cat([kpts.transpose(1, 2), scores.unsqueeze(1)], dim=1))


class MultiHeadedAttention(nn.Module):
    """Heads interleaved in the channel axis: channel c belongs to head c % H, dimension c // H (checkpoint layout)."""

    def __init__(self, num_heads: int, d_model: int):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} not divisible by {num_heads} heads")
        self.dim = d_model // num_heads
        self.num_heads = num_heads
        self.merge = PointwiseConv1d(d_model, d_model)
        self.proj = nn.ModuleList([PointwiseConv1d(d_model, d_model) for _ in range(3)])

    def forward(self, query: Tensor, key: Tensor, value: Tensor) -> Tensor:
        batch = query.shape[0]
        q, k, v = (layer(x).view(batch, self.dim, self.num_heads, -1) for layer, x in zip(self.proj, (query, key, value)))
        return self.merge(self._attend(q, k, v))

    def _attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Projected q, k, v (B, dim, heads, N) -> messages (B, dim * heads, N), before `merge`."""
        logits = torch.einsum("bdhn,bdhm->bhnm", q, k) / self.dim ** 0.5
        prob = torch.softmax(logits, dim=-1)
        out = torch.einsum("bhnm,bdhm->bdhn", prob, v)
        return out.contiguous().view(q.shape[0], self.dim * self.num_heads, -1)

    def forward_pair(self, both: Tensor, count0: int, cross: bool) -> Tensor:
        """Messages for two sets at once, `both` = [set 0 | set 1] along N: each set attends to itself or, with
        `cross`, to the other. One projection / merge product over both sets instead of one per set."""
        batch = both.shape[0]
        q, k, v = (layer(both).view(batch, self.dim, self.num_heads, -1) for layer in self.proj)
        first, second = slice(None, count0), slice(count0, None)
        src0, src1 = (second, first) if cross else (first, second)
        out0 = self._attend(q[..., first], k[..., src0], v[..., src0])
        out1 = self._attend(q[..., second], k[..., src1], v[..., src1])
        return self.merge(torch.cat([out0, out1], 2))


class AttentionalPropagation(nn.Module):
    def __init__(self, feature_dim: int, num_heads: int):
        super().__init__()
        self.attn = MultiHeadedAttention(num_heads, feature_dim)
        self.mlp = mlp_1d([feature_dim * 2, feature_dim * 2, feature_dim])
        nn.init.constant_(self.mlp[-1].bias, 0.0)

    def forward(self, x: Tensor, source: Tensor) -> Tensor:
        return self.mlp(torch.cat([x, self.attn(x, source, source)], dim=1))


class GNNLayer(nn.Module):
    """One GNN layer; its propagation block is the child `update` (checkpoint layout)."""

    def __init__(self, feature_dim: int, num_heads: int):
        super().__init__()
        self.update = AttentionalPropagation(feature_dim, num_heads)

    def forward(self, x: Tensor, source: Tensor) -> Tensor:
        return self.update(x, source)


class AttentionalGNN(nn.Module):
    def __init__(self, feature_dim: int = 256, layer_names: tuple[str, ...] = ("self", "cross") * 2, num_heads: int = 4):
        super().__init__()
        self.names = tuple(layer_names)
        self.layers = nn.ModuleList([GNNLayer(feature_dim, num_heads) for _ in self.names])

    def forward(self, desc0: Tensor, desc1: Tensor) -> tuple[Tensor, Tensor]:
        if self.training:
            return self._forward_separate(desc0, desc1)
        return self._forward_joined(desc0, desc1)

    def _forward_separate(self, desc0: Tensor, desc1: Tensor) -> tuple[Tensor, Tensor]:
        """Each set through the layers on its own: in training BatchNorm's batch statistics are then per set, as in
        the original training."""
        for layer, name in zip(self.layers, self.names):
            src0, src1 = (desc1, desc0) if name == "cross" else (desc0, desc1)
            delta0, delta1 = layer(desc0, src0), layer(desc1, src1)  # both from the pre-layer descriptors
            desc0, desc1 = desc0 + delta0, desc1 + delta1
        return desc0, desc1

    def _forward_joined(self, desc0: Tensor, desc1: Tensor) -> tuple[Tensor, Tensor]:
        """Inference: both sets side by side along N through every 1x1 layer (BatchNorm on running statistics is
        per position, so this is the same function with half the weight reads; tests compare both paths)."""
        count0 = desc0.shape[2]
        both = torch.cat([desc0, desc1], 2)
        for layer, name in zip(self.layers, self.names):
            update = layer.update
            message = update.attn.forward_pair(both, count0, cross=name == "cross")
            both = both + update.mlp(torch.cat([both, message], 1))
        return both[..., :count0], both[..., count0:]


@dataclass
class MatchResult(Matches):
    log_assignment: Tensor = None  # (B, M+1, N+1)


class CandidateMatcher(nn.Module):
    """`matcher.*`: bin_score, kenc, gnn, final_proj."""

    def __init__(self, descriptor_dim: int = 256, keypoint_layers: tuple[int, ...] = (32, 64, 128, 256),
                 gnn_layers: tuple[str, ...] = ("self", "cross") * 2, num_heads: int = 4, sinkhorn_iterations: int = 10,
                 match_threshold: float = 0.2):
        super().__init__()
        self.descriptor_dim = descriptor_dim
        self.sinkhorn_iterations = int(sinkhorn_iterations)
        self.match_threshold = float(match_threshold)
        self.kenc = KeypointEncoder(descriptor_dim, keypoint_layers)
        self.gnn = AttentionalGNN(descriptor_dim, gnn_layers, num_heads)
        self.final_proj = PointwiseConv1d(descriptor_dim, descriptor_dim)
        self.bin_score = nn.Parameter(torch.tensor(1.0))

    def forward(self, descriptors0: Tensor, descriptors1: Tensor, coords0_yx: Tensor, coords1_yx: Tensor,
                scores0: Tensor, scores1: Tensor, image_size0, image_size1=None) -> MatchResult:
        """descriptors (B, D, M) / (B, D, N); coords (M, 2) or (B, M, 2) as (y, x) image pixels; scores (B, M);
        image size as the tracker passes it (tuple (H, W): inference quirk; tensor (B, 2): training)."""
        image_size1 = image_size0 if image_size1 is None else image_size1
        batch, m, n = descriptors0.shape[0], descriptors0.shape[2], descriptors1.shape[2]
        if m == 0 or n == 0:
            empty = descriptors0.new_zeros((batch, m + 1, n + 1))
            return MatchResult(**vars(mutual_matches(empty, self.match_threshold)), log_assignment=empty)
        kpts0 = normalize_keypoints(coords0_yx.to(descriptors0), image_size0)
        kpts1 = normalize_keypoints(coords1_yx.to(descriptors1), image_size1)
        desc0 = descriptors0 + self.kenc(kpts0, scores0.to(descriptors0))
        desc1 = descriptors1 + self.kenc(kpts1, scores1.to(descriptors1))
        desc0, desc1 = self.gnn(desc0, desc1)
        mdesc0, mdesc1 = self.final_proj(desc0), self.final_proj(desc1)
        similarity = torch.einsum("bdn,bdm->bnm", mdesc0, mdesc1) / self.descriptor_dim ** 0.5
        log_assignment = log_optimal_transport(similarity, self.bin_score, self.sinkhorn_iterations)
        return MatchResult(**vars(mutual_matches(log_assignment, self.match_threshold)), log_assignment=log_assignment)


class DescriptorExtractor(nn.Module):
    """`descriptor_extractor.conv`: 4x4 conv (padding 2) on base-network layer3, sampled at candidate cells."""

    def __init__(self, in_dim: int = 1024, descriptor_dim: int = 256, kernel_size: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(in_dim, descriptor_dim, kernel_size, padding=kernel_size // 2, bias=True)

    def forward(self, layer3: Tensor) -> Tensor:
        return self.conv(layer3)

    def get_descriptors(self, layer3: Tensor, cells_rc: Tensor) -> Tensor:
        """layer3 (1, 1024, H, W), cells (N, 2) integer (row, col) -> (1, D, N)."""
        desc_map = self.conv(layer3)
        cells_rc = cells_rc.long()
        return desc_map[..., cells_rc[:, 0], cells_rc[:, 1]]


class TargetCandidateMatchingNet(nn.Module):
    """Module tree of `keep_track.pth.tar`. The ResNet-50 `feature_extractor` exists in the checkpoint but the
    tracker never runs it (descriptors come from the base network's layer3), so it is optional."""

    def __init__(self, with_backbone: bool = False, sinkhorn_iterations: int = 10):
        super().__init__()
        if with_backbone:
            self.feature_extractor = ResNet50()
        self.descriptor_extractor = DescriptorExtractor()
        self.matcher = CandidateMatcher(sinkhorn_iterations=sinkhorn_iterations)
