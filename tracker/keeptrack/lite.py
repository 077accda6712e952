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

import torch

from ..engine import resolve_device
from ..errors import InputError
from ..nets.classifier import apply_filter, gauss_newton_hinge, pool_target_filter
from .engine import KeepTrackEngine
from .lite_features import LiteFeatures
from .lite_matcher import LiteMatcher, LiteMatcherParams
from .lite_scale import LiteScaleParams, LiteScaleRefiner
from .params import TrackerParams
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


# The lite profile over the KeepTrack engine's parameters. Values chosen by measurement on the six OTB
# sequences (bench/lite.py, docs/keeptrack-lite.md); everything not listed keeps KeepTrack's value.
LITE_TRACKER_PARAMS = TrackerParams(
    image_sample_size=256,
    search_area_scale=4.0,
    # ImageNet features change more with the target's appearance than SuperDiMP's trained ones: learn faster,
    # update the filter more often, and accept lower certainties into the optimiser (KeepTrack: 0.01, 20, 0.5).
    learning_rate=0.05,
    train_skipping=4,
    certainty_for_weight_computation_ths=0.3,
    use_box_refinement=True,
    local_max_candidate_score_th=0.1,
)


# TrackerParams fields that only the DiMP parts read (ResNet-50 backbone options, IoU-Net refinement): passing
# one to the lite profile would change nothing, so it is refused rather than silently ignored.
DIMP_ONLY_PARAMS = frozenset({
    "fold_batchnorm", "channels_last", "iou_feature_window", "bf16", "compile", "iounet_k",
    "num_init_random_boxes", "box_jitter_pos", "box_jitter_sz", "maximal_aspect_ratio", "box_refinement_iter",
    "box_refinement_step_length", "box_refinement_step_decay",
})


class LiteBase(BaseNetwork):
    """EfficientNet-Lite0 features + DiMP-style classifier with fixed hyper-parameters."""

    uses_own_labels = False

    def __init__(self, params: LiteNetParams = LiteNetParams(), device: str = "cpu"):
        self.params = params
        self.stride = params.stride
        self.filter_size = params.filter_size
        self.features = LiteFeatures(params.layers, params.stride, params.filter_size, device=device)

    def extract(self, patches: Tensor) -> PatchFeatures:
        clf, raw = self.features.extract(patches)
        return PatchFeatures(clf, raw)

    def same_features(self, other) -> bool:
        # every LiteBase carries the same built-in ImageNet backbone; only its layer choice can differ
        return isinstance(other, LiteBase) and other.params == self.params

    def _optimise(self, filt, features, labels, weights, num_iter):
        p = self.params
        filt, _ = gauss_newton_hinge(filt, features, labels, weights, num_iter=num_iter, filter_reg=p.filter_reg,
                                     hinge_threshold=p.hinge_threshold, activation_leak=p.activation_leak)
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

    def optimise_filter(self, filt, features, boxes, labels, weights, num_iter):
        return self._optimise(filt, features, labels, weights, num_iter)

    def classify(self, filt, features):
        return apply_filter(features, filt)


def create_lite_engine(device: str = "cpu", *, net: LiteNetParams | None = None, scale: LiteScaleParams | None = None,
                       matcher: LiteMatcherParams | None = None, **overrides) -> KeepTrackEngine:
    """The `keeptrack-lite` engine. Keyword arguments override TrackerParams fields of the lite profile
    (InputError for unknown names); `net`, `scale`, `matcher` replace the parts' own parameter sets."""
    device = resolve_device(device)
    unused = sorted(DIMP_ONLY_PARAMS & set(overrides))
    if unused:
        raise InputError(f"keeptrack-lite does not use {', '.join(unused)} (options of the DiMP parts: ResNet-50 "
                         "backbone and IoU-Net); its scale search is set with scale=LiteScaleParams(...)")
    params = LITE_TRACKER_PARAMS.replace(**overrides)
    net = net or LiteNetParams()
    if params.image_sample_size % 32:
        raise InputError(f"keeptrack-lite needs image_sample_size to be a multiple of 32; got {params.image_sample_size}")
    base = LiteBase(net, device)
    refiner = LiteScaleRefiner(scale or LiteScaleParams(), base.stride)
    lite_matcher = LiteMatcher(matcher or LiteMatcherParams(), base.filter_size)
    # The parts read the target size and the current filter's score map from the engine's per-frame context.
    return KeepTrackEngine(device, params, base=base, refiner=refiner, matcher=lite_matcher, name="keeptrack-lite")
