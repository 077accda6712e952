"""The reported flag of a frame: when the tracker says it may have failed (not in KeepTrack, whose flags only
steer the update schedule; docs/keeptrack-lite.md, "Flags").

A frame the schedule calls `normal` is reported `uncertain` when the evidence of that frame, or of the frames
before it, shows a failure. The rule reads nothing but the evidence below and never changes the tracking state,
so the bench (bench/flags.py) can evaluate any rule offline on recorded evidence and get exactly the flags the
engine would report; the thresholds are chosen there, held out by sequence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class FlagEvidence:
    """What one tracked frame tells about failure."""

    presence: float           # the frame's presence (score peak, boosted while the first object id is selected)
    schedule_bad: bool        # the update schedule's flag is uncertain / not_found
    id_change: bool           # the selected object id changed within one candidate collection
    log_side: float           # log(side / first side), side = sqrt(w * h) of the tracked box
    similarity: float = math.nan  # the scale search's similarity of the current size to the template (nan: none)


@dataclass(frozen=True)
class FlagRule:
    """Plain-data rule; every threshold at 0 (False) switches its test off."""

    identity_change: bool = False   # an object-id switch of the target
    presence_th: float = 0.0        # presence below this
    hold_presence_th: float = 0.0   # once flagged, stay flagged while the presence stays below this
    max_log_side: float = 0.0       # the box side more than exp(this) times larger or smaller than the first box
    min_similarity: float = 0.0     # ... (when > 0: and) the scale search's similarity below this

    @classmethod
    def from_params(cls, p) -> "FlagRule":
        """The rule of a TrackerParams (tracker/keeptrack/params.py, 'reported flags')."""
        return cls(p.flag_identity_change, p.uncertain_presence_th, p.uncertain_hold_presence_th,
                   p.uncertain_max_log_side, p.uncertain_min_similarity)

    def start(self) -> "FlagState":
        return FlagState()

    def flagged(self, state: "FlagState", ev: FlagEvidence) -> bool:
        """Whether this frame is reported `uncertain` / `not_found` (True where the schedule says so)."""
        bad = ev.schedule_bad or self._sign(ev)
        if not bad and state.flagged and self.hold_presence_th > 0 and ev.presence < self.hold_presence_th:
            bad = True
        state.flagged = bad
        return bad

    def _sign(self, ev: FlagEvidence) -> bool:
        if self.identity_change and ev.id_change:
            return True
        if ev.presence < self.presence_th:
            return True
        if self.max_log_side > 0 and abs(ev.log_side) > self.max_log_side:
            if self.min_similarity <= 0 or not ev.similarity >= self.min_similarity:
                return True
        return False


@dataclass
class FlagState:
    """What the rule carries from frame to frame of one track."""

    flagged: bool = False
