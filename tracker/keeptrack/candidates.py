"""Candidates (score-map peaks) and their persistent object ids (keeptrack-reference.md §1.5, §1.6).

Object association follows the released code rather than the paper's prose, because the code produced the
published numbers (§8.4): a match to the currently selected target object is refused when it is weak
(probability < 0.6, or < 0.85 while the candidate's score < 0.2) and the candidate then starts a new object;
the paper's "selection certain" threshold (0.75) is recorded but changes nothing; re-detection takes the
candidate with the highest current score if it exceeds 0.25. Object id 0 means "the identity tracked since the
first frames": a collection created before frame_num 10 numbers its objects from 0, a later one from 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .params import TrackerParams

Tensor = torch.Tensor


def find_peaks(scores: Tensor, threshold: float, kernel_size: int = 5) -> tuple[Tensor, Tensor]:
    """Local maxima of a (H, W) score map: cells equal to their kernel_size max-pool and > threshold.

    Returns (cells (N, 2) int64 (row, col), scores (N,)) sorted by score, highest first.
    """
    s = scores.reshape(1, 1, scores.shape[-2], scores.shape[-1])
    pooled = F.max_pool2d(s, kernel_size=kernel_size, stride=1, padding=kernel_size // 2)
    mask = (s == pooled) & (s > threshold)
    cells = torch.nonzero(mask[0, 0])
    values = s[0, 0][mask[0, 0]]
    order = torch.argsort(-values, stable=True)
    return cells[order], values[order]


@dataclass
class TrackedObject:
    """One object followed through consecutive frames by the association."""

    object_id: int
    scores: list[float] = field(default_factory=list)   # score history, one per frame seen
    candidate_index: int = -1                            # index among the current frame's candidates

    @property
    def best_score(self) -> float:
        return max(self.scores)

    @property
    def last_score(self) -> float:
        return self.scores[-1]


class CandidateCollection:
    """The objects present in the current frame, their ids, and which one is the target."""

    def __init__(self, scores: list[float], certain: bool, params: TrackerParams):
        self.params = params
        first_id = 0 if certain else 1
        self.objects: list[TrackedObject] = [
            TrackedObject(first_id + i, [s], i) for i, s in enumerate(scores)
        ]
        self.next_id = first_id + len(scores)
        self.flag = "normal"
        self.selection_is_certain = certain
        self.selected_index: int | None = 0 if scores else None
        self.selected_id: int | None = first_id if scores else None

    @property
    def object_ids(self) -> list[int]:
        """Object id of each current candidate, in candidate order."""
        return [o.object_id for o in self.objects]

    def _new_object(self, score: float, index: int) -> TrackedObject:
        obj = TrackedObject(self.next_id, [score], index)
        self.next_id += 1
        return obj

    def update(self, scores: list[float], matches: list[int], match_probs: list[float]) -> None:
        """Advance to a new frame: `scores` of the current candidates (sorted), `matches[j]` = index of the
        previous candidate matched to current j or -1, `match_probs[j]` its probability."""
        p = self.params
        previous = self.objects
        current: list[TrackedObject] = []
        for j, (score, m) in enumerate(zip(scores, matches)):
            if m >= 0:
                prev = previous[m]
                prob = match_probs[j]
                weak = prob < p.weak_match_probability or (
                    prob < p.weak_match_probability_low_score and score < p.low_candidate_score)
                if prev.object_id == self.selected_id and weak:
                    current.append(self._new_object(score, j))
                else:
                    current.append(TrackedObject(prev.object_id, prev.scores + [score], j))
            else:
                current.append(self._new_object(score, j))
        self.objects = current

        index = next((i for i, o in enumerate(current) if o.object_id == self.selected_id), None)
        if index is not None:
            self.selected_index = index
            self.flag = "normal"
            if current[index].best_score > p.certain_selection_score_th:
                self.selection_is_certain = True
            # A stronger object (by its best score so far) takes over as the target.
            if index != 0 and current[0].best_score > current[index].best_score + p.takeover_margin:
                self.selected_index = 0
                self.selected_id = current[0].object_id
                self.flag = "normal"
            return

        self.selected_index = None
        if self.flag == "normal":
            self.flag = "not_found"
            self.selection_is_certain = False
        if current:
            best = max(range(len(current)), key=lambda i: (current[i].last_score, -i))
            if current[best].last_score > p.redetection_score_th:
                self.selected_index = best
                self.selected_id = current[best].object_id
                self.flag = "normal"
