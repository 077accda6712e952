"""Correct and continue: plan a tracker run from a frame, and write its results into the document.

The plan says where the engine is initialised (frame, box), in which direction it runs and where it
stops: by default just before the next manual keyframe, so a person's boxes are never overwritten.
The engine is driven by tracker.runloop.run_engine (the studio's worker, or `run_plan` here); each
FrameResult goes to `TrackingRun.add`, which writes it at once (the view shows progress) and `finish`
records the whole run as one undo step. Qt-free.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..result import Box, Flag, FrameResult
from .document import AnnotationDocument, FrameAnnotation
from .history import Edit, History


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

    def frames(self) -> range:
        """The frames to track after the initialisation frame, in order (empty when nothing to do)."""
        return range(self.start + self.direction, self.end + self.direction, self.direction)

    def __len__(self) -> int:
        return len(self.frames())


def plan_retrack(doc: AnnotationDocument, frame: int, direction: int = 1,
                 options: RetrackOptions = RetrackOptions()) -> TrackingPlan:
    """Where a run "from here" starts and stops. The start frame must have a box."""
    if direction not in (1, -1):
        raise InputError(f"direction must be +1 (forward) or -1 (backward), got {direction}")
    here = doc[frame]
    if here is None or here.box is None:
        state = "is marked absent" if here is not None else "has no box"
        raise InputError(f"frame {frame} {state}; draw the target's box there before tracking from it")
    return TrackingPlan(frame, here.box, run_end(doc, frame, direction, options), direction)


def run_end(doc: AnnotationDocument, frame: int, direction: int, options: RetrackOptions) -> int:
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
    """Writes one run's results into the document and records them as a single undo step."""

    def __init__(self, history: History, plan: TrackingPlan, engine: str,
                 options: RetrackOptions = RetrackOptions()):
        self.history = history
        self.document = history.document
        self.plan = plan
        self.engine = engine
        self.options = options
        self._planned = set(plan.frames()) | {plan.start}
        self._before: dict[int, FrameAnnotation | None] = {}
        self._debug_before: dict = {}
        self._open = True
        self.frames_written = 0
        history._begin_run(self)

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

    def add(self, result: FrameResult) -> bool:
        """Write one result. Returns False (and writes nothing) for frames outside the plan."""
        if not self._open:
            raise RuntimeError("this tracking run is finished")
        i = result.frame_index
        if i not in self._planned:
            return False
        frames = {}
        current = self.document[i]
        # The start frame keeps its box (it is the init box); manual frames are never overwritten.
        if i != self.plan.start and not (current is not None and current.is_keyframe):
            frames[i] = self.annotation_for(result)
        debug = {i: result} if self.options.keep_debug else {}
        for j in frames:
            self._before.setdefault(j, current)
        for j in debug:
            self._debug_before.setdefault(j, self.document.debug_record(j))
        self.document._replace(frames, debug)
        self.frames_written += 1
        return True

    def finish(self) -> Edit | None:
        """Close the run (also after a cancel: what was written stays) and record it as one step."""
        if not self._open:
            return None
        self._open = False
        edit = Edit(f"track {'forward' if self.plan.direction > 0 else 'backward'} from frame "
                    f"{self.plan.start} ({self.engine})", self.plan.start)
        for i, old in self._before.items():
            new = self.document[i]
            if new != old:
                edit.before[i], edit.after[i] = old, new
        for i, old in self._debug_before.items():
            new = self.document.debug_record(i)
            if new is not old:
                edit.debug_before[i], edit.debug_after[i] = old, new
        self.history._end_run(self, edit)
        return edit if edit else None

    def rollback(self) -> None:
        """Undo what the run wrote and close it without recording anything (e.g. the engine failed)."""
        if not self._open:
            return
        self._open = False
        self.document._replace(self._before, self._debug_before)
        self.history._end_run(self, None)


def run_plan(engine, frames, plan: TrackingPlan, run: TrackingRun, should_stop=lambda: False,
             governor=None) -> Edit | None:
    """Drive an engine over a plan in this thread (command line, tests; the studio uses its worker), through
    tracker.runloop.run_engine like every run: a stop keeps what was tracked until then; a frame that cannot
    be read ends the run there, keeps the frames before it (one undo step) and raises InputError naming
    the frame; any other engine error rolls the run back and re-raises.

    `frames` is anything indexable by frame number (a FrameSource).
    """
    from ..runloop import RunPlan, run_engine

    try:
        end = run_engine(engine, frames, RunPlan(plan.start, plan.init_box, plan.frames()),
                         lambda step: run.add(step.result), should_stop, governor)
    except BaseException:
        run.rollback()
        raise
    edit = run.finish()
    if end.failure is not None:
        raise InputError(f"tracking stopped: {end.failure}; the frames before it are kept (undo removes them)")
    return edit
