"""Every KeepTrack-family engine, registered the same way: a name, its parameters, the parts it is built from.

A profile is one engine of tracker/keeptrack/engine.py with a parameter set and a parts builder:
- `keeptrack`, `keeptrack-fast`, `superdimp`: the DiMP parts from the official checkpoints
  (engine.create_keeptrack_engine: ResNet-50 + DiMP classifier + IoU-Net (+ association network));
- `keeptrack-lite`: the lite parts (lite.create_lite_engine: EfficientNet-Lite0 features, weight-free
  classifier set-up, feature-map scale search, hand-made or trained association).

A TrackerParams field that a profile's parts never read (`Profile.unused`) is refused when given, rather than
silently ignored. This module imports no torch: tracker/registry.py lists the profiles from it cheaply.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import InputError
from .params import TrackerParams

# Options of the DiMP parts only (ResNet-50 backbone, IoU-Net refinement).
DIMP_PART_PARAMS = frozenset({
    "fold_batchnorm", "channels_last", "iou_feature_window", "bf16", "compile", "iounet_k",
    "num_init_random_boxes", "box_jitter_pos", "box_jitter_sz", "maximal_aspect_ratio", "box_refinement_iter",
    "box_refinement_step_length", "box_refinement_step_decay",
})
# Candidate extraction and object association: unused where the profile never matches candidates.
ASSOCIATION_PARAMS = frozenset({
    "local_max_candidate_score_th", "local_max_kernel_size", "skip_match_score_th", "weak_match_probability",
    "weak_match_probability_low_score", "low_candidate_score", "redetection_score_th",
    "certain_selection_score_th", "certain_collection_frames", "takeover_margin",
})
# Search-area widening while lost (§1.9): unused where it is off.
RESCALING_PARAMS = frozenset({"scale_history_length", "scale_history_max_average"})


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    params: TrackerParams
    factory: str                        # "module:function"(device=..., profile=..., **options) -> KeepTrackEngine
    needs_weights: bool = False
    unused: frozenset[str] = frozenset()  # TrackerParams fields this profile's parts never read

    def tracker_params(self, **overrides) -> TrackerParams:
        """The profile's parameters with `overrides` (InputError for unknown names and for unused ones)."""
        refused = sorted(self.unused & set(overrides))
        if refused:
            raise InputError(f"{self.name} does not use {', '.join(refused)}"
                             + (" (options of the DiMP parts: ResNet-50 backbone and IoU-Net; its scale search is "
                                "set with scale=LiteScaleParams(...))" if refused[0] in DIMP_PART_PARAMS else ""))
        return self.params.replace(**overrides)


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
    # Say when it fails (docs/keeptrack-lite.md, flags; thresholds from `bench/flags.py derive`, held out by
    # sequence): a switch of the target's object id, a presence below 0.35, and a box side more than
    # exp(0.45) = 1.57x off the first box's that the scale search finds unlike the target (similarity < 0.25)
    # are reported 'uncertain'; the reported box is the part of the image it covers.
    # An identical look-alike scores like the target: KeepTrack's rule "the object with the higher best score
    # takes over" then hands the track to whichever peaks last (tests/test_lite.py, look-alike crossing).
    takeover_margin=0.1,
    flag_identity_change=True,
    uncertain_presence_th=0.35,
    uncertain_max_log_side=0.45,
    uncertain_min_similarity=0.25,
    clip_box_to_image=True,
)

_DIMP = "tracker.keeptrack.engine:create_keeptrack_engine"

PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("keeptrack-lite", "KeepTrack's pipeline on built-in EfficientNet-Lite0 ImageNet features (no downloads)",
            LITE_TRACKER_PARAMS, "tracker.keeptrack.lite:create_lite_engine", unused=DIMP_PART_PARAMS),
    Profile("keeptrack", "KeepTrack (Mayer et al. 2021), official checkpoints", TrackerParams(), _DIMP, True),
    Profile("keeptrack-fast", "KeepTrack, fast profile (352 px, 3 IoU-Net steps)",
            TrackerParams(image_sample_size=22 * 16, search_area_scale=6.0, box_refinement_iter=3,
                          local_max_candidate_score_th=0.1), _DIMP, True),
    Profile("superdimp", "SuperDiMP base tracker, official checkpoint",
            TrackerParams(image_sample_size=22 * 16, search_area_scale=6.0, use_candidate_matching=False,
                          use_certainty_for_weight_computation=False, search_area_rescaling=False),
            _DIMP, True, ASSOCIATION_PARAMS | RESCALING_PARAMS),
)}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise InputError(f"unknown KeepTrack profile {name!r}; known: {', '.join(PROFILES)}") from None


def profile_params(name: str, **overrides) -> TrackerParams:
    """The parameters of a named profile, with `overrides` applied (InputError for unknown or unused names)."""
    return get_profile(name).tracker_params(**overrides)


def create_profile_engine(device: str = "cpu", profile: str = "keeptrack-lite", **options):
    """The engine of a profile (the registry's entry point for every KeepTrack-family engine)."""
    info = get_profile(profile)
    module, attr = info.factory.split(":")
    return getattr(importlib.import_module(module), attr)(device=device, profile=profile, **options)
