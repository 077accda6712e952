"""Tracker parameters (plain data); the named profiles are in tracker/keeptrack/profiles.py.

Names follow the original parameter files (keeptrack-reference.md §1.1) so that a value can be looked up there;
the one misspelt original name (`dispalcement_scale`) is spelt correctly here as `displacement_scale`.
Constants that the original hard-codes in its candidate association (match gates 0.6 / 0.85, re-detection
threshold 0.25, ...) are exposed as parameters with the code's values as defaults (§1.6).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import InputError


@dataclass
class TrackerParams:
    # --- search geometry (§1.2, §1.4.2) ---
    image_sample_size: int = 480          # patch side in pixels
    search_area_scale: float = 8.0         # crop side = scale * sqrt(w * h)
    border_mode: str = "inside_major"      # crop placement for tracking frames
    patch_max_scale_change: float = 1.5    # max shrink when forcing the crop inside the image
    target_inside_ratio: float = 0.2       # the target centre may leave the image by 0.5 - ratio of its size

    # --- classifier memory and update schedule (§1.10) ---
    sample_memory_size: int = 50
    learning_rate: float = 0.01
    init_samples_minimum_weight: float = 0.25
    train_skipping: int = 20               # periodic update on frame_num % train_skipping == 1
    update_classifier: bool = True
    net_opt_iter: int = 10                 # GN steps at initialisation
    net_opt_update_iter: int = 2           # GN steps at the periodic update
    net_opt_hn_iter: int = 1               # GN steps on hard-negative frames
    hard_negative_learning_rate: float = 0.02
    use_certainty_for_weight_computation: bool = True   # KeepTrack: optimiser weight = certainty * memory weight
    certainty_for_weight_computation_ths: float = 0.5   # certainties below are zeroed (in the memory, §8.3)
    output_sigma_factor: float = 0.25

    # --- initialisation augmentation (§1.3) ---
    use_augmentation: bool = True
    augmentation_expansion_factor: float = 2.0
    random_shift_factor: float = 1.0 / 3.0
    translation_shift_fraction: float = 0.6        # 4 translations of +-0.6 * (patch / 2)
    blur_sigmas: tuple[tuple[float, float], ...] = ((3.0, 1.0), (1.0, 3.0), (2.0, 2.0))  # (sigma_row, sigma_col)
    rotation_degrees: tuple[float, ...] = (10.0, -10.0, 45.0, -45.0)
    num_dropout_samples: int = 2
    dropout_probability: float = 0.2

    # --- fallback ("advanced") localisation (§1.7) ---
    target_not_found_threshold: float = 0.25
    distractor_threshold: float = 0.8
    hard_negative_threshold: float = 0.5
    target_neighborhood_scale: float = 2.2
    displacement_scale: float = 0.8

    # --- box refinement (§1.8) ---
    use_box_refinement: bool = True
    update_scale_when_uncertain: bool = True
    iounet_k: int = 3
    num_init_random_boxes: int = 9
    box_jitter_pos: float = 0.1
    box_jitter_sz: float = 0.5
    maximal_aspect_ratio: float = 6.0
    box_refinement_iter: int = 10
    box_refinement_step_length: float = 2.5e-3
    box_refinement_step_decay: float = 1.0
    fold_batchnorm: bool = True            # backbone BatchNorm folded into its convs (inference copy); fp32
    channels_last: bool = True             # NHWC backbone convolutions (dimp_parts.DiMPBase); fp32, faster on CPU
    iou_feature_window: bool = True        # IoU-Net features only around the boxes (refine.py); same numbers
    # Opt-in fast paths (not the reference numbers; bench/keeptrack_speed.py reports their speed and drift):
    bf16: bool = False                     # backbone + classification conv in bfloat16 (features move)
    compile: bool = False                  # torch.compile of that stage (fp32: same numbers; slow 1st frame)

    # --- candidates and object association (§1.5, §1.6) ---
    use_candidate_matching: bool = True    # False: plain SuperDiMP (always the fallback localisation)
    local_max_candidate_score_th: float = 0.05
    local_max_kernel_size: int = 5
    skip_match_score_th: float = 0.5       # one candidate in both frames, both above: assume they match
    weak_match_probability: float = 0.6    # a match to the target weaker than this starts a new object
    weak_match_probability_low_score: float = 0.85  # ... or weaker than this while the candidate score is low
    low_candidate_score: float = 0.2
    redetection_score_th: float = 0.25     # re-detect the target on a candidate at least this strong
    certain_selection_score_th: float = 0.75  # the paper's omega; recorded, no downstream effect (§8.4)
    certain_collection_frames: int = 10    # a collection created before this frame_num starts with object id 0
    takeover_margin: float = 0.0           # another object takes over as the target only when its best score
                                           # exceeds the target's by more than this (KeepTrack: 0)

    # --- reported flags and boxes (not in KeepTrack: its flags only steer the update schedule) ---
    # A frame the schedule handles as 'normal' is reported 'uncertain' on a sign of failure (flags.FlagRule):
    # the selected object id changes (flag_identity_change), the presence is below `uncertain_presence_th`, the
    # box side is more than exp(uncertain_max_log_side) times off the first box's (and, when
    # uncertain_min_similarity > 0, the scale search's similarity is below it), or a flagged track's presence
    # stays below `uncertain_hold_presence_th`. The schedule itself is unchanged.
    # False / 0: the KeepTrack profiles (their reported flags stay the reference's).
    flag_identity_change: bool = False
    uncertain_presence_th: float = 0.0
    uncertain_hold_presence_th: float = 0.0
    uncertain_max_log_side: float = 0.0
    uncertain_min_similarity: float = 0.0
    # Reported box clipped to the part of the image it covers (the state keeps the whole box); a box wholly
    # outside is reported 'uncertain'. False: the KeepTrack profiles (the reference reports unclipped boxes).
    clip_box_to_image: bool = False

    # --- not-found handling (§1.9) ---
    search_area_rescaling: bool = True     # KeepTrack widens the search while lost; plain SuperDiMP does not
    scale_history_length: int = 60
    scale_history_max_average: int = 30

    # --- randomness (init shifts, dropout, IoU-Net jitter) ---
    seed: int = 20211

    def replace(self, **changes) -> "TrackerParams":
        """A copy with some fields changed; unknown names raise InputError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise InputError(f"unknown tracker parameter(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)


# A plain-data description of the fields, for documentation and the studio's parameter panel.
PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrackerParams))
