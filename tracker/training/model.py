"""A trained association model: the keep_track module tree (`descriptor_extractor`, `matcher`) sized for
another backbone, and its checkpoint format.

Checkpoint format (`torch.save` of plain data only, so it loads with the safe loader and never runs code):
    {"format": "keeptrack-studio/association", "version": 1,
     "config": {...AssociationConfig fields...},
     "state_dict": {parameter name: tensor},     # keys as in keep_track.pth.tar minus feature_extractor.*
     "meta": {...how it was trained, figures...}} # JSON-like (str, int, float, lists, dicts)
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_write_bytes
from ..errors import CheckpointError
from ..keeptrack.parts import CandidateMatcher as MatcherPart
from ..keeptrack.parts import MatchResult
from ..nets.association import CandidateMatcher, DescriptorExtractor

MODEL_FORMAT = "keeptrack-studio/association"
MODEL_VERSION = 1


@dataclass(frozen=True)
class AssociationConfig:
    in_dim: int = 152  # channels of the features the descriptor conv reads (keeptrack-lite: 40 + 112)
    descriptor_dim: int = 128
    keypoint_layers: tuple[int, ...] = (32, 64, 128)
    gnn_layers: tuple[str, ...] = ("self", "cross", "self", "cross")
    num_heads: int = 4
    sinkhorn_iterations: int = 10
    match_threshold: float = 0.2
    # Which engine features the descriptor conv reads: "classification" = PatchFeatures.classification,
    # anything else = PatchFeatures.maps[name].
    feature_key: str = "classification"
    backbone: str = "keeptrack-lite"  # the engine whose features it was trained on

    @classmethod
    def from_dict(cls, data: dict) -> "AssociationConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CheckpointError(f"unknown association model settings: {', '.join(unknown)}")
        data = dict(data)
        for key in ("keypoint_layers", "gnn_layers"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


class AssociationModel(nn.Module):
    """`descriptor_extractor` (4x4 conv, padding 2) + `matcher` (keypoint encoder, GNN, Sinkhorn), the
    tracker.nets pieces, sized by an AssociationConfig."""

    def __init__(self, config: AssociationConfig = AssociationConfig()):
        super().__init__()
        self.config = config
        self.descriptor_extractor = DescriptorExtractor(config.in_dim, config.descriptor_dim)
        self.matcher = CandidateMatcher(config.descriptor_dim, tuple(config.keypoint_layers),
                                        tuple(config.gnn_layers), config.num_heads, config.sinkhorn_iterations,
                                        config.match_threshold)


def descriptors_from_patches(extractor: DescriptorExtractor, patches: torch.Tensor) -> torch.Tensor:
    """(B, K, C, 4, 4) feature patches -> (B, D, K) descriptors.

    The same numbers as `extractor.get_descriptors` at those cells (the conv evaluated only where it is
    needed), which makes a training step far cheaper than convolving whole maps."""
    b, k = patches.shape[:2]
    conv = extractor.conv
    out = F.conv2d(patches.reshape(b * k, *patches.shape[2:]), conv.weight, conv.bias)
    return out.reshape(b, k, -1).transpose(1, 2)


def save_model(path: str | Path, model: AssociationModel, meta: dict | None = None) -> None:
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "config": _plain(asdict(model.config)),
               "state_dict": state, "meta": _plain(meta or {})}
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return float(value)


def load_model(path: str | Path, device: str = "cpu") -> tuple[AssociationModel, dict]:
    """(model in eval mode on `device`, meta). Raises CheckpointError (naming the file) for anything that
    is not such a checkpoint; loading never executes code from the file."""
    from ..checkpoints import safe_torch_load  # the project's one unpickler

    path = Path(path)
    payload = safe_torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{path} is not an association model saved by train-association")
    if payload.get("version") != MODEL_VERSION:
        raise CheckpointError(f"{path}: association model version {payload.get('version')} is not supported")
    try:
        config = AssociationConfig.from_dict(payload["config"])
        model = AssociationModel(config)
        model.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{path}: the association model does not fit its own settings: {exc}") from exc
    return model.to(device).eval(), payload.get("meta", {})



def patches_at_cells(features: torch.Tensor, cells_rc: torch.Tensor) -> torch.Tensor:
    """(C, H, W) features, (N, 2) integer cells (row, col) of the (H+1, W+1) descriptor grid ->
    (1, N, C, 4, 4): the inputs of the 4x4 descriptor conv (padding 2) at those cells."""
    padded = torch.nn.functional.pad(features, (2, 2, 2, 2))
    offsets = torch.arange(4, device=features.device)
    rows = (cells_rc[:, 0].long()[:, None] + offsets)[:, :, None]  # (N, 4, 1)
    cols = (cells_rc[:, 1].long()[:, None] + offsets)[:, None, :]  # (N, 1, 4)
    return padded[:, rows, cols].permute(1, 0, 2, 3)[None]


class TrainedAssociationMatcher(MatcherPart):
    """A trained AssociationModel as the KeepTrack engine's candidate matcher part
    (tracker.keeptrack.parts.CandidateMatcher): descriptors from the engine features named by the
    model's config, keypoints normalised by (H, W) as in training (no inference-time swap, unlike the
    official network's quirk §8.1, which this model was never trained with)."""

    def __init__(self, model: AssociationModel):
        self.model = model.eval()
        self.config = model.config

    @classmethod
    def from_file(cls, path: str | Path, device: str = "cpu") -> "TrainedAssociationMatcher":
        model, _ = load_model(path, device)
        return cls(model)

    def describe(self, features, cells_rc: torch.Tensor) -> torch.Tensor:
        key = self.config.feature_key
        maps = features.classification if key == "classification" else features.maps[key]
        patches = patches_at_cells(maps[0], cells_rc)
        return descriptors_from_patches(self.model.descriptor_extractor, patches)[0]

    def match(self, previous, current, image_hw):
        size = torch.tensor([[float(image_hw[0]), float(image_hw[1])]], device=previous.scores.device)
        out = self.model.matcher(previous.descriptors[None], current.descriptors[None],
                                 previous.coords_yx[None], current.coords_yx[None],
                                 previous.scores[None], current.scores[None], size)
        return MatchResult(out.log_assignment[0], out.matches1[0], out.match_scores1[0])

