"""Correct and continue: plan a tracker run from a frame, and write its results into the document.

The plan says where the engine is initialised (frame, box), in which direction it runs and where it
stops: by default just before the next manual keyframe, so a person's boxes are never overwritten.
Each plan is for one target (its own engine instance); one run may carry the plans of several targets
("track all"). The engines are driven by tracker.runloop.run_engines (the studio's worker, or `run_plans`
here), which reads each frame once for all targets; each FrameResult goes to `TrackingRun.add(result,
target)`, which writes it at once (the view shows progress) and `finish` records the whole run, every target
of it, as one undo step. A locked target is never written. Qt-free.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InputError
from ..result import Box, Flag, FrameResult
from .document import AnnotationDocument, FrameAnnotation, TrackReading
from .history import Edit, History, check_unlocked


@dataclass(frozen=True)
class RetrackOptions:
    stop_at_keyframe: bool = True  # False: run on, still leaving manual frames untouched
    max_frames: int | None = None  # at most this many frames after the start (None: no limit)
    absent_below: float | None = 0.25  # presence below this marks the frame absent (None: never)
    not_found_is_absent: bool = True  # the engine's "not found" flag marks the frame absent
    keep_debug: bool = True  # keep each FrameResult as the frame's debug record


@dataclass(frozen=True)
class TrackingPlan:
    """Initialise at `start` with `init_box`, track frames start+direction ... `end` (inclusive).

    `init_box` None: the run continues a track the engine already holds, `start` being the frame it
    last tracked (the studio's "track on" buttons).
    """

    start: int
    init_box: Box | None
    end: int
    direction: int  # +1 forward, -1 backward
    target: int | None = None  # the target it tracks (None: the document's selected target)

    def frames(self) -> range:
        """The frames to track after the initialisation frame, in order (empty when nothing to do)."""
        return range(self.start + self.direction, self.end + self.direction, self.direction)

    def __len__(self) -> int:
        return len(self.frames())


def plan_retrack(doc: AnnotationDocument, frame: int, direction: int = 1,
                 options: RetrackOptions = RetrackOptions(), target: int | None = None) -> TrackingPlan:
    """Where a run "from here" starts and stops for one target (default: the selected one). The start frame
    must have a box; the run stops before that target's next manual keyframe (`stop_at_keyframe`)."""
    if direction not in (1, -1):
        raise InputError(f"direction must be +1 (forward) or -1 (backward), got {direction}")
    t = doc.target(target)
    check_unlocked(t)
    track = doc.track(t.id)
    here = track[frame]
    if here is None or here.box is None:
        state = "is marked absent" if here is not None else "has no box"
        raise InputError(f"frame {frame} {state} for target {t.name}; draw its box there before tracking from it")
    return TrackingPlan(frame, here.box, run_end(track, frame, direction, options), direction, t.id)


def run_end(doc: TrackReading, frame: int, direction: int, options: RetrackOptions) -> int:
    """The last frame a run from `frame` tracks: the sequence's end, or just before the next manual keyframe
    (`stop_at_keyframe`), at most `max_frames` away; `frame` itself when there is nothing to track."""
    stop = len(doc) - 1 if direction > 0 else 0
    if options.stop_at_keyframe:
        nxt = doc.next_keyframe(frame, direction)
        if nxt is not None:
            stop = nxt - direction
    if options.max_frames is not None:
        limit = frame + direction * max(0, int(options.max_frames))
        stop = min(stop, limit) if direction > 0 else max(stop, limit)
    if (stop - frame) * direction < 0:  # the very next frame is a keyframe
        stop = frame
    return stop


class TrackingRun:
    """Writes one run's results into the document and records them as a single undo step.

    `plans`: one TrackingPlan, or several for different targets (each plan's `target`; None means the
    document's selected target when the run begins)."""

    def __init__(self, history: History, plans: TrackingPlan | Iterable[TrackingPlan], engine: str,
                 options: RetrackOptions = RetrackOptions()):
        self.history = history
        self.document = doc = history.document
        plans = [plans] if isinstance(plans, TrackingPlan) else list(plans)
        if not plans:
            raise InputError("nothing to track: no target has a plan")
        self.plans: dict[int, TrackingPlan] = {}
        for p in plans:
            t = doc.target(p.target)
            check_unlocked(t)
            if t.id in self.plans:
                raise InputError(f"target {t.name} has two plans in one run")
            self.plans[t.id] = p if p.target == t.id else TrackingPlan(p.start, p.init_box, p.end, p.direction, t.id)
        self.engine = engine
        self.options = options
        self._planned = {tid: set(p.frames()) | {p.start} for tid, p in self.plans.items()}
        self._before: dict[tuple[int, int], FrameAnnotation | None] = {}
        self._debug_before: dict = {}
        self._open = True
        self.frames_written = 0
        history._begin_run(self)

    @property
    def plan(self) -> TrackingPlan:
        """The plan of a one-target run (the first plan of a run over several)."""
        return next(iter(self.plans.values()))

    def annotation_for(self, result: FrameResult) -> FrameAnnotation:
        """How a result reads as an annotation: a tracked box, or absent by presence / flag."""
        o = self.options
        absent = (
            result.box is None
            or (o.absent_below is not None and result.presence < o.absent_below)
            or (o.not_found_is_absent and result.flag == Flag.NOT_FOUND)
        )
        box = None if absent else result.box
        try:
            return FrameAnnotation.tracked(box, self.engine, result.presence)
        except InputError:  # a degenerate box (zero size): the engine lost the target
            return FrameAnnotation.tracked(None, self.engine, result.presence)

    def add(self, result: FrameResult, target: int | None = None) -> bool:
        """Write one result of `target` (may be left out in a one-target run). Returns False (and writes
        nothing) for frames outside that target's plan."""
        if not self._open:
            raise RuntimeError("this tracking run is finished")
        tid = self.plan.target if target is None else target
        if tid not in self.plans:
            raise InputError(f"target {tid} is not part of this run")
        i = result.frame_index
        if i not in self._planned[tid]:
            return False
        frames = {}
        track = self.document.track(tid)
        current = track[i]
        # The start frame keeps its box (it is the init box); manual frames are never overwritten.
        if i != self.plans[tid].start and not (current is not None and current.is_keyframe):
            frames[(tid, i)] = self.annotation_for(result)
        debug = {(tid, i): result} if self.options.keep_debug else {}
        for k in frames:
            self._before.setdefault(k, current)
        for k in debug:
            self._debug_before.setdefault(k, track.debug_record(i))
        self.document._apply(frames, debug)
        self.frames_written += 1
        return True

    def finish(self) -> Edit | None:
        """Close the run (also after a cancel: what was written stays) and record it as one step."""
        if not self._open:
            return None
        self._open = False
        p = self.plan
        way = "forward" if p.direction > 0 else "backward"
        if len(self.plans) == 1:
            what = f"track {way} from frame {p.start} ({self.engine})"
        else:
            what = f"track {len(self.plans)} targets {way} from frame {p.start} ({self.engine})"
        edit = Edit(what, p.start, target=p.target)
        for (tid, i), old in self._before.items():
            new = self.document.track(tid)[i] if self.document.has_target(tid) else None
            if new != old:
                edit.before[(tid, i)], edit.after[(tid, i)] = old, new
        for (tid, i), old in self._debug_before.items():
            new = self.document.track(tid).debug_record(i) if self.document.has_target(tid) else None
            if new is not old:
                edit.debug_before[(tid, i)], edit.debug_after[(tid, i)] = old, new
        self.history._end_run(self, edit)
        return edit if edit else None

    def rollback(self) -> None:
        """Undo what the run wrote and close it without recording anything (e.g. the engine failed)."""
        if not self._open:
            return
        self._open = False
        self.document._apply(self._before, self._debug_before)
        self.history._end_run(self, None)


def run_plan(engine, frames, plan: TrackingPlan, run: TrackingRun, should_stop=lambda: False,
             governor=None) -> Edit | None:
    """Drive an engine over a one-target plan in this thread (see `run_plans`)."""
    return run_plans({run.plan.target: engine}, frames, run, should_stop, governor)


def run_plans(engines, frames, run: TrackingRun, should_stop=lambda: False, governor=None) -> Edit | None:
    """Drive one engine per target (`engines`: target id -> engine) over the run's plans in this thread
    (command line, tests; the studio uses its worker), through tracker.runloop.run_engines like every run.

    `frames` is anything indexable by frame number (a FrameSource). The plans must share a direction. A stop
    keeps what was tracked until then; a frame that cannot be read ends the run there, keeps the frames
    before it (one undo step) and raises InputError naming the frame; any other engine error rolls the run
    back and re-raises.
    """
    from ..runloop import RunPlan, TargetPlan, run_engines

    plans = list(run.plans.values())
    parts = [TargetPlan(p.target, engines[p.target], RunPlan(p.start, p.init_box, p.frames())) for p in plans]
    try:
        if len({p.direction for p in plans}) > 1:
            raise InputError("the targets of one run must all be tracked in the same direction")
        end = run_engines(parts, frames, lambda target, step: run.add(step.result, target), should_stop,
                          governor, plans[0].direction)
    except BaseException:
        run.rollback()
        raise
    edit = run.finish()
    if end.failure is not None:
        raise InputError(f"tracking stopped: {end.failure}; the frames before it are kept (undo removes them)")
    return edit
