"""Why a candidate got a new object id although the assignment matrix shows a likely match (Qt-free).

KeepTrack keeps an id through a frame only when (1) the previous candidate and this one are each other's most
likely match in the real part of the assignment matrix and that probability exceeds the match threshold,
and (2), for the candidate that was the target, the match is not weak: the released code (which produced the
published numbers, keeptrack-reference.md §8.4) refuses a match to the target below probability 0.6, or below
0.85 while the candidate's score is under 0.2, and starts a new object instead. So a target row whose best
cell reads 0.54 is refused by design (the weak-match gate, not a bug); the debug dock says so beside the matrix.
"""
from __future__ import annotations

import numpy as np

from tracker.result import FrameResult

WEAK_MATCH_PROBABILITY = 0.6  # = tracker.keeptrack.params.TrackerParams defaults (plain numbers: no torch here)
WEAK_MATCH_PROBABILITY_LOW_SCORE = 0.85
LOW_CANDIDATE_SCORE = 0.2
MATCH_THRESHOLD = 0.2


def _label(c, k) -> str:
    return f"id {c.object_id}" if c.object_id is not None else f"#{k}"


def new_id_reasons(result: FrameResult | None) -> dict[int, str]:
    """Current candidate index -> why it did not keep the id of its most likely previous candidate.

    Only candidates whose id is new on this frame (no previous candidate had it) and whose most likely row
    is a real previous candidate are explained."""
    if result is None or result.assignment is None:
        return {}
    a = result.assignment
    probs = np.asarray(a.probabilities, dtype=float)
    prev, cur = a.previous, result.candidates
    m, n = len(prev), len(cur)
    if m == 0 or n == 0 or probs.shape[0] < m or probs.shape[1] < n:
        return {}
    real = probs[:m, :n]
    previous_ids = {c.object_id for c in prev if c.object_id is not None}
    out: dict[int, str] = {}
    for j, c in enumerate(cur):
        if c.object_id is None or c.object_id in previous_ids:
            continue
        row = int(np.argmax(real[:, j]))
        p = float(real[row, j])
        who = _label(prev[row], row)
        matched = j < len(a.matches) and a.matches[j] >= 0
        if matched:
            r = a.matches[j]
            p = float(real[r, j])
            who = _label(prev[r], r)
            if p < WEAK_MATCH_PROBABILITY:
                gate = f"p {p:.2f} < {WEAK_MATCH_PROBABILITY:g}"
            elif p < WEAK_MATCH_PROBABILITY_LOW_SCORE and c.score < LOW_CANDIDATE_SCORE:
                gate = (f"p {p:.2f} < {WEAK_MATCH_PROBABILITY_LOW_SCORE:g} with score "
                        f"{c.score:.2f} < {LOW_CANDIDATE_SCORE:g}")
            else:
                gate = f"p {p:.2f}"
            out[j] = (f"id {c.object_id}: matched to the target {who} but the weak-match gate refused it "
                      f"({gate}): a new object")
        elif int(np.argmax(real[row, :])) != j:
            k = int(np.argmax(real[row, :]))
            out[j] = (f"id {c.object_id}: {who} is its likeliest match (p {p:.2f}) but {who} matches "
                      f"{_label(cur[k], k)} better (p {real[row, k]:.2f}): not mutual, a new object")
        elif p <= MATCH_THRESHOLD:
            out[j] = f"id {c.object_id}: best match {who} at p {p:.2f} is below the match threshold {MATCH_THRESHOLD:g}"
        else:
            out[j] = f"id {c.object_id}: best match {who} at p {p:.2f} was not taken by the engine"
    return out
