"""Candidate association for keeptrack-lite without learned weights.

KeepTrack's association network scores every pair (previous candidate i, current candidate j) with a GNN and
turns the scores into an assignment with Sinkhorn and a dustbin. Here the pair score is written by hand:

    S_ij = bias - w_pos * (|p_j - (p_i + v_i)| / sqrt(target area))^2      (motion, constant-velocity prediction)
                - w_app * (1 - cos(d_i, d_j))                             (appearance)
                - w_score * |s_i - s_j|                                   (score continuity)

and fed to the same optimal transport and mutual-match extraction (tracker/nets/association.py). v_i is the
velocity of previous candidate i measured when it was itself matched (zero for a new candidate), so two
look-alike objects that cross keep their ids when their motion is steady. A trained association model replaces
this through the same CandidateMatcher interface.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..nets.association import log_optimal_transport, mutual_matches
from .parts import CandidateMatcher, CandidateSet, MatchResult, PatchFeatures

Tensor = torch.Tensor


@dataclass
class LiteMatcherParams:
    bias: float = 4.0
    w_pos: float = 1.5
    w_app: float = 5.0
    w_score: float = 2.0
    bin_score: float = 0.0            # dustbin score (the association network learns it)
    sinkhorn_iterations: int = 10
    match_threshold: float = 0.2      # mutual matches below this probability are dropped (as in KeepTrack)
    velocity_smoothing: float = 0.5   # v <- s * v_previous + (1 - s) * displacement


class LiteMatcher(CandidateMatcher):
    def __init__(self, params: LiteMatcherParams = LiteMatcherParams(), filter_size: int = 4):
        self.params = params
        self.filter_size = int(filter_size)
        # Velocities of the candidates of the last associated frame and that frame's number; the frame counter
        # restarts with every track, so `reset` (called on initialize) must clear them.
        self._velocities: Tensor | None = None     # (N, 2)
        self._velocity_frame: int | None = None

    def reset(self) -> None:
        self._velocities, self._velocity_frame = None, None

    def _previous_velocities(self, previous: CandidateSet) -> Tensor | None:
        if (self._velocity_frame == previous.frame_num and self._velocities is not None
                and len(self._velocities) == len(previous)):
            return self._velocities
        return None

    def describe(self, features: PatchFeatures, cells_rc: Tensor) -> Tensor:
        """Mean classification feature under the filter's footprint at each cell, L2-normalised -> (C, N)."""
        k, pad = self.filter_size, self.filter_size // 2
        x = features.classification[0]
        h, w = x.shape[-2:]
        # A score cell (r, c) of the k x k correlation (padding k // 2) sees feature rows r - k//2 ... r + k - 1 - k//2:
        # the average over that window's part inside the map (avg_pool2d with count_include_pad=False at that
        # cell), pooled at the candidates' cells only (the same numbers as pooling the whole map).
        columns = []
        for r, c in cells_rc.tolist():
            window = x[:, max(r - pad, 0):min(r - pad + k, h), max(c - pad, 0):min(c - pad + k, w)]
            columns.append(F.avg_pool2d(window.unsqueeze(0), tuple(window.shape[-2:]))[0, :, 0, 0])
        desc = torch.stack(columns, 1) if columns else x.new_zeros((x.shape[0], 0))
        return F.normalize(desc, dim=0)

    def similarity(self, previous: CandidateSet, current: CandidateSet) -> Tensor:
        """(M, N) hand-made pair scores."""
        p = self.params
        prev_pos = previous.coords_yx.float()
        velocities = self._previous_velocities(previous)
        if velocities is not None:
            prev_pos = prev_pos + velocities.to(prev_pos)
        if self.context is not None:
            size = self.context.target_size_hw.float()
            unit = math.sqrt(max(float(size[0] * size[1]), 1.0))
        else:
            unit = 1.0
        dist = torch.cdist(prev_pos, current.coords_yx.float().to(prev_pos)) / unit
        score = -p.w_pos * dist.pow(2) + p.bias
        if previous.descriptors is not None and current.descriptors is not None:
            cos = previous.descriptors.t().float() @ current.descriptors.float().to(previous.descriptors.device)
            score = score - p.w_app * (1 - cos.to(score))
        score = score - p.w_score * (previous.scores.float()[:, None] - current.scores.float()[None, :].to(score)).abs()
        return score

    def match(self, previous: CandidateSet, current: CandidateSet, image_hw) -> MatchResult:
        p = self.params
        score = self.similarity(previous, current)
        log_assignment = log_optimal_transport(score[None], p.bin_score, p.sinkhorn_iterations)
        found = mutual_matches(log_assignment, p.match_threshold)
        matches1 = found.matches1[0]
        self.matched(previous, current, matches1)
        return MatchResult(log_assignment[0], matches1, found.match_scores1[0])

    def matched(self, previous: CandidateSet, current: CandidateSet, matches1: Tensor) -> None:
        """Velocities of the current candidates, for the next frame's prediction."""
        p = self.params
        velocity = torch.zeros(len(current), 2)
        prev_vel = self._previous_velocities(previous)
        for j, i in enumerate(matches1.tolist()):
            if i >= 0:
                step = (current.coords_yx[j].float() - previous.coords_yx[i].float()).cpu()
                old = prev_vel[i].cpu() if prev_vel is not None else step
                velocity[j] = p.velocity_smoothing * old + (1 - p.velocity_smoothing) * step
        self._velocities, self._velocity_frame = velocity, current.frame_num
