"""The classifier's training memory: samples, labels, boxes, certainties, weights (keeptrack-reference.md §1.10).

Reproduced quirks (§8.2, §8.3): the certainty of a new sample is the global maximum of the frame's score map
(sqrt-boosted while the selected object id is 0), and certainties below the threshold are zeroed *in the memory*
when the optimiser weights are computed -- after every insertion, whether or not the filter is then optimised (as
the reference trace shows) -- so those slots are replaced first. `num_stored` keeps counting past the
memory size (as the original's counter does); only its comparison with the size matters.
"""
from __future__ import annotations

import torch

from ..nets.classifier import FeatureLayout, FixedFeatureCorrelator
from .params import TrackerParams

Tensor = torch.Tensor


class SampleMemory:
    def __init__(self, features: Tensor, labels: Tensor, boxes: Tensor, params: TrackerParams,
                 layout_filter_size: int | None = None):
        """Start with the N initial samples (features (N, C, H, W), labels (N, 1, Ho, Wo), boxes (N, 4)),
        each weighted 1/N and certainty 1. With `layout_filter_size` k the memory also keeps its features laid
        out for a k x k correlation (`correlator`), updated sample by sample."""
        self.params = params
        size = params.sample_memory_size
        n = int(features.shape[0])
        if n > size:
            raise ValueError(f"sample_memory_size {size} is smaller than the {n} initial samples")
        self.features = features.new_zeros((size,) + tuple(features.shape[1:]))
        self.labels = labels.new_zeros((size,) + tuple(labels.shape[1:]))
        self.boxes = boxes.new_zeros((size, 4))
        self.features[:n] = features
        self.layout = None
        if layout_filter_size is not None:
            self.layout = FeatureLayout(size, *features.shape[1:], layout_filter_size, features)
            self.layout.write(0, features)
        self.labels[:n] = labels
        self.boxes[:n] = boxes
        self.weights = torch.zeros(size, dtype=torch.float32, device=features.device)
        self.weights[:n] = 1.0 / n
        self.certainties = torch.zeros(size, dtype=torch.float32, device=features.device)
        self.certainties[:n] = 1.0
        self.num_init = n
        self.num_stored = n
        self.previous_replace_ind: int | None = None

    @property
    def capacity(self) -> int:
        return int(self.weights.shape[0])

    def _replace_index(self) -> int:
        if self.num_stored < self.capacity:
            return self.num_stored
        start = self.num_init if self.params.init_samples_minimum_weight > 0 else 0
        score = self.weights[start:]
        if self.params.use_certainty_for_weight_computation:
            score = score * self.certainties[start:]
        return int(torch.argmin(score).item()) + start

    def _update_weights(self, learning_rate: float) -> int:
        """Pick the slot for a new sample and update the weights; returns the slot."""
        sw = self.weights
        lr = learning_rate
        min_init = self.params.init_samples_minimum_weight
        if self.num_stored == 0 or lr == 1:
            sw[:] = 0
            sw[0] = 1
            slot = 0
        else:
            slot = self._replace_index()
            if self.previous_replace_ind is None:
                sw /= 1 - lr
                sw[slot] = lr
            elif slot != self.previous_replace_ind:
                # Newest sample weighs most; writing the same slot again leaves the weights as they are.
                sw[slot] = sw[self.previous_replace_ind] / (1 - lr)
        sw /= sw.sum()
        if min_init > 0 and sw[: self.num_init].sum() < min_init:
            sw /= min_init + sw[self.num_init:].sum()
            sw[: self.num_init] = min_init / self.num_init
        return slot

    def insert(self, features: Tensor, label: Tensor, box: Tensor, certainty: float, learning_rate: float) -> int:
        """Store one sample (features (1, C, H, W), label (1, 1, Ho, Wo), box (4,)); returns the slot used."""
        slot = self._update_weights(learning_rate)
        self.previous_replace_ind = slot
        self.features[slot: slot + 1] = features
        if self.layout is not None:
            self.layout.write(slot, features)
        self.labels[slot: slot + 1] = label
        self.boxes[slot] = box.to(self.boxes.device)
        self.certainties[slot] = float(certainty)
        self.num_stored += 1
        if self.params.use_certainty_for_weight_computation:
            # The original computes the optimiser weights after every insertion (whether or not it then
            # optimises) and zeroes low certainties in the memory itself while doing so (§8.3).
            n = min(self.num_stored, self.capacity)
            cert = self.certainties[:n]
            cert[cert < self.params.certainty_for_weight_computation_ths] = 0.0
        return slot

    def training_set(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(features, labels, boxes, optimiser weights) of the stored samples.

        With certainties in use the weight is certainty x memory weight, certainties below the threshold being
        zeroed in the memory itself (§8.3)."""
        n = min(self.num_stored, self.capacity)
        weights = self.weights[:n]
        if self.params.use_certainty_for_weight_computation:
            weights = self.certainties[:n] * weights  # low certainties were zeroed at insertion
        return self.features[:n], self.labels[:n], self.boxes[:n], weights

    def correlator(self) -> FixedFeatureCorrelator | None:
        """The stored samples' features laid out for the optimiser (the same numbers as laying out
        `training_set()`'s features), or None where the memory keeps no layout."""
        return None if self.layout is None else self.layout.correlator(min(self.num_stored, self.capacity))


def gn_iterations(params: TrackerParams, frame_num: int, hard_negative: bool, raw_max_score: float) -> int:
    """Optimiser steps after storing this frame's sample (§1.10.5)."""
    if hard_negative:
        # KeepTrack skips the optimisation on a hard negative whose raw score maximum is below 0.5
        # (plain SuperDiMP, without certainties, does not).
        gate = params.use_certainty_for_weight_computation and raw_max_score < params.hard_negative_threshold
        return 0 if gate else params.net_opt_hn_iter
    if (frame_num - 1) % params.train_skipping == 0:
        return params.net_opt_update_iter
    return 0
