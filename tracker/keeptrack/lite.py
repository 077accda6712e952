"""keeptrack-lite: KeepTrack's pipeline on built-in EfficientNet-Lite0 ImageNet features, no downloaded weights.

The tracking logic is the KeepTrack engine's own (tracker/keeptrack/engine.py: crops, candidates, object
association with persistent ids, fallback localisation, memory and update schedule, search-area rescaling).
This module only supplies the three parts (tracker/keeptrack/parts.py) and a parameter profile:

- `LiteBase`: EfficientNet-Lite0 layers as classification features (lite_features.py); the DiMP classifier
  set-up of tracker/nets/classifier.py without learned weights: the initial filter is the target's features
  PrRoI-pooled to the filter size (no learned 3x3 conv), then Gauss-Newton steps on the hinge residual with a
  fixed regulariser.
- `LiteScaleRefiner`: scale (and aspect) estimation without IoU-Net: the target box's features pooled at a few
  candidate sizes around the position the classifier chose, compared with a template of the target (cosine),
  best size taken with damping (lite_scale.py).
- `LiteMatcher`: association without learned weights: similarity of candidates from position (with a
  constant-velocity prediction), score and appearance (cosine of descriptors), fed to the same Sinkhorn with a
  dustbin and mutual-match extraction as the association network (tracker/nets/association.py)
  (lite_matcher.py).

A trained association model (another issue) can replace `LiteMatcher` through the same interface.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..engine import resolve_device
from ..errors import InputError
from ..nets.classifier import apply_filter, gauss_newton_hinge, pool_target_filter
from .engine import KeepTrackEngine
from .lite_features import LiteFeatures
from .lite_matcher import LiteMatcher, LiteMatcherParams
from .lite_scale import LiteScaleParams, LiteScaleRefiner
from .profiles import profile_params
from .parts import BaseNetwork, PatchFeatures

Tensor = torch.Tensor


@dataclass
class LiteNetParams:
    """The lite base network: which backbone layers, at which stride, and the classifier's fixed constants."""

    layers: tuple[str, ...] = ("s8", "s16")
    stride: int = 16
    filter_size: int = 4
    filter_reg: float = 0.1          # GN regulariser (SuperDiMP-Simple learns it; fixed here)
    hinge_threshold: float = 0.05
    activation_leak: float = 0.1


class LiteBase(BaseNetwork):
    """EfficientNet-Lite0 features + DiMP-style classifier with fixed hyper-parameters."""

    uses_own_labels = False
    takes_memory_layout = True

    def __init__(self, params: LiteNetParams = LiteNetParams(), device: str = "cpu", backend: str | None = None,
                 patch_size: int | None = None):
        self.params = params
        self.stride = params.stride
        self.filter_size = params.filter_size
        self.features = LiteFeatures(params.layers, params.stride, params.filter_size, device=device,
                                     backend=backend, patch_size=patch_size)

    def extract(self, patches: Tensor) -> PatchFeatures:
        clf, raw = self.features.extract(patches)
        return PatchFeatures(clf, raw)

    def same_features(self, other) -> bool:
        # every LiteBase carries the same built-in ImageNet backbone; only its layer choice can differ
        return isinstance(other, LiteBase) and other.params == self.params

    def _optimise(self, filt, features, labels, weights, num_iter, correlator=None):
        p = self.params
        filt, _ = gauss_newton_hinge(filt, features, labels, weights, num_iter=num_iter, filter_reg=p.filter_reg,
                                     hinge_threshold=p.hinge_threshold, activation_leak=p.activation_leak,
                                     correlator=correlator)
        return filt

    def init_filter(self, features, boxes, labels, num_iter):
        filt = pool_target_filter(features, boxes, self.filter_size, self.stride)
        # The pooled appearance has the right direction but an arbitrary magnitude: scale it so that the
        # identity sample's peak score starts at about 1, which GN then refines.
        peak = apply_filter(features[:1], filt).max().clamp(min=1e-6)
        filt = filt / peak
        if num_iter > 0:
            filt = self._optimise(filt, features, labels, None, num_iter)
        return filt

    def optimise_filter(self, filt, features, boxes, labels, weights, num_iter, correlator=None):
        return self._optimise(filt, features, labels, weights, num_iter, correlator)

    def classify(self, filt, features):
        return apply_filter(features, filt)


ASSOCIATION_MODELS = {
    "hand-made": None,                        # LiteMatcher: position, velocity, score and appearance
    "trained": "association_lite.pt",         # train-association on keeptrack-lite features (resources/)
}


def create_lite_engine(device: str = "cpu", *, profile: str = "keeptrack-lite", net: LiteNetParams | None = None,
                       scale: LiteScaleParams | None = None, matcher: LiteMatcherParams | None = None,
                       association: str = "hand-made", backend: str | None = None, **overrides) -> KeepTrackEngine:
    """The `keeptrack-lite` engine. Keyword arguments override TrackerParams fields of the lite profile
    (InputError for unknown names and for fields the lite parts do not read); `net`, `scale`, `matcher` replace
    the parts' own parameter sets; `association` names the candidate matcher: 'hand-made', 'trained' (the model
    in resources/) or the path of a model saved by `train-association`. `backend` runs the feature stage on
    "onnx" (ONNX Runtime), "torch", or "auto" (ONNX where it holds, else torch; the default, or
    $KEEPTRACK_BACKEND): tracker/nets/onnx_backend.py."""
    device = resolve_device(device)
    params = profile_params(profile, **overrides)
    net = net or LiteNetParams()
    if params.image_sample_size % 32:
        raise InputError(f"keeptrack-lite needs image_sample_size to be a multiple of 32; got {params.image_sample_size}")
    base = LiteBase(net, device, backend, params.image_sample_size)
    refiner = LiteScaleRefiner(scale or LiteScaleParams(), base.stride)
    return KeepTrackEngine(device, params, base=base, refiner=refiner,
                           matcher=association_matcher(association, matcher, base.filter_size, device),
                           name=profile)


def association_matcher(association: str, matcher: LiteMatcherParams | None, filter_size: int, device: str):
    """The candidate matcher part named by `association` (see create_lite_engine)."""
    if association not in ASSOCIATION_MODELS and not str(association).endswith(".pt"):
        raise InputError(f"unknown association {association!r}; choose from {', '.join(ASSOCIATION_MODELS)} "
                         "or give the path of a .pt model saved by train-association")
    file = ASSOCIATION_MODELS.get(association, association)
    if file is None:
        return LiteMatcher(matcher or LiteMatcherParams(), filter_size)
    if matcher is not None:
        raise InputError("matcher=LiteMatcherParams(...) sets the hand-made matcher; "
                         f"association={association!r} uses a trained model")
    from ..paths import RESOURCES
    from ..training.model import TrainedAssociationMatcher

    path = Path(file) if association not in ASSOCIATION_MODELS else RESOURCES / file
    return TrainedAssociationMatcher.from_file(path, device)
