"""The one loop that drives an engine over frames; every behaviour of a run is decided here.

Used by the evaluation runner (`eval`, `track`, bench), the training dump, the Ray batch task, the studio's
tracking worker (app/workers.py) and the annotation re-track (`tracker.annotation.retrack.run_plan`), each
with its own `on_step` / `should_stop`.

- The engine is initialised on `plan.start` with `plan.init_box` (None: it continues the track it holds),
  then tracks `plan.frames` in the order given (forwards, backwards, any subset).
- Where the engine gives no box, the step's `box` is the previous one (the result keeps `box=None`, so a
  caller can still tell "not found" apart); every step has a box.
- `should_stop()` is asked before each tracked frame: a cancel keeps every step reported until then.
- A frame that cannot be read or an input the engine refuses (InputError: corrupt JPEG, bad box) ends the
  run cleanly: the steps so far stand, and the RunEnd names the frame and the reason. Other exceptions
  (bugs) propagate.
- Several targets (the studio's "track all"): `run_engines` drives one engine per target and reads each
  frame once for all of them (engines of a class with `track_many(engines, frame, index)` track a frame
  together: keeptrack-lite's k search patches go through one backbone call); `run_engine` is its one-target
  case.
- An initial box the engine refuses (InputError: outside the image) ends the run like an unreadable frame.
- Thread count: a ThreadGovernor (tracker.threads) is ticked after each frame, so the intra-op threads
  follow the machine's load, capped by the engines' `thread_ceiling` (`ThreadGovernor.fit`). The studio
  gives one to engines that use torch (`engine_uses_torch`).
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import InputError
from .result import Box, FrameResult


@dataclass(frozen=True)
class RunPlan:
    """Initialise at `start` (with `init_box`, or continue the engine's track where None), then track `frames`."""

    start: int
    init_box: Box | None
    frames: Sequence[int] = ()

    @classmethod
    def forward(cls, start: int, init_box: Box | None, end: int) -> "RunPlan":
        """Frames start+1 .. end-1 after initialising on `start` (end exclusive, like range)."""
        return cls(start, init_box, range(start + 1, end))

    def __len__(self) -> int:
        return len(self.frames) + (self.init_box is not None)


@dataclass(frozen=True)
class Step:
    """One frame done: the engine's result, the box the run keeps for the frame, the engine's seconds."""

    index: int
    result: FrameResult
    box: Box
    seconds: float
    initial: bool  # the initialisation frame
    frame: object = None  # the RGB frame tracked (for callers that work on it, e.g. the training dump)


@dataclass(frozen=True)
class RunEnd:
    steps: int  # frames reported (the initial one included)
    planned: int
    cancelled: bool = False
    failed_frame: int | None = None
    failure: str | None = None  # the message, naming the frame
    thread_changes: int = 0

    @property
    def complete(self) -> bool:
        return self.steps == self.planned and not self.cancelled and self.failure is None


@dataclass(frozen=True)
class TargetPlan:
    """One target's part of a run over several targets: its engine and its plan."""

    target: int
    engine: object
    plan: RunPlan


@dataclass
class _State:
    box: Box | None = None


def run_engine(engine, frames, plan: RunPlan, on_step: Callable[[Step], None] | None = None,
               should_stop: Callable[[], bool] | None = None, governor=None) -> RunEnd:
    """Drive `engine` over `plan`, reading frames from `frames` (anything indexable by frame number,
    e.g. a FrameSource), and report each frame to `on_step`. Returns how the run ended."""
    report = None if on_step is None else (lambda _target, step: on_step(step))
    return run_engines([TargetPlan(0, engine, plan)], frames, report, should_stop, governor)


def run_engines(parts: Sequence[TargetPlan], frames, on_step: Callable[[int, Step], None] | None = None,
                should_stop: Callable[[], bool] | None = None, governor=None, direction: int = 1) -> RunEnd:
    """Drive one engine per target over its plan, reading each frame once for every target on it, and
    report each (target, step). One plan runs in its own order; several are merged by frame number in
    `direction` (+1 forward, -1 backward), each target initialised on its start frame."""
    schedule = _schedule(parts, direction)
    states = {p.target: _State(None if p.plan.init_box is None else tuple(float(v) for v in p.plan.init_box))
              for p in parts}
    planned = sum(len(p.plan) for p in parts)
    if governor is not None:
        governor.fit([p.engine for p in parts])  # an engine may cap torch's threads (tracker.threads)
    steps = 0
    current = schedule[0][0] if schedule else 0
    try:
        for index, todo in schedule:
            if should_stop is not None and any(not initial for _, initial in todo) and should_stop():
                return RunEnd(steps, planned, cancelled=True, thread_changes=_changes(governor))
            current = index
            frame = frames[index]
            together = _track_together([part.engine for part, initial in todo if not initial], frame, index)
            for part, initial in todo:
                t0 = time.perf_counter()
                if initial:
                    result = part.engine.initialize(frame, part.plan.init_box, index)
                    seconds = time.perf_counter() - t0
                elif together:
                    result, seconds = together.pop(0)
                else:
                    result = part.engine.track(frame, index)
                    seconds = time.perf_counter() - t0
                state = states[part.target]
                if result.box is not None:
                    state.box = tuple(float(v) for v in result.box)
                kept = state.box if state.box is not None else (float("nan"),) * 4
                steps += 1
                if on_step is not None:
                    on_step(part.target, Step(index, result, kept, seconds, initial, frame))
            if governor is not None:
                governor.tick()
    except InputError as exc:
        message = str(exc)
        if f"frame {current}" not in message:
            message = f"frame {current}: {message}"
        return RunEnd(steps, planned, failed_frame=current, failure=message, thread_changes=_changes(governor))
    return RunEnd(steps, planned, thread_changes=_changes(governor))


def _track_together(engines: list, frame, index: int) -> list[tuple[FrameResult, float]]:
    """Several engines' results on one frame from their class's `track_many` (e.g. one batched backbone call
    for k keeptrack-lite targets), each with its share of the time; [] where they track one by one."""
    if len(engines) < 2 or len({type(e) for e in engines}) > 1:
        return []
    track_many = getattr(type(engines[0]), "track_many", None)
    if track_many is None:
        return []
    t0 = time.perf_counter()
    results = list(track_many(engines, frame, index))
    share = (time.perf_counter() - t0) / len(engines)
    return [(r, share) for r in results]


def _schedule(parts: Sequence[TargetPlan], direction: int) -> list[tuple[int, list[tuple[TargetPlan, bool]]]]:
    """The frames a run visits, in order, each with its (part, initialise?) steps."""
    if len({p.target for p in parts}) != len(parts):
        raise ValueError("each target may have one plan in a run")
    if len(parts) == 1:
        part = parts[0]
        order = [(part.plan.start, [(part, True)])] if part.plan.init_box is not None else []
        return order + [(i, [(part, False)]) for i in part.plan.frames]
    if direction not in (1, -1):
        raise InputError(f"direction must be +1 or -1, got {direction}")
    by_frame: dict[int, list[tuple[TargetPlan, bool]]] = {}
    for part in parts:
        if part.plan.init_box is not None:
            by_frame.setdefault(part.plan.start, []).append((part, True))
        frames = list(part.plan.frames)
        if any((b - a) * direction <= 0 for a, b in zip(frames, frames[1:])):
            raise InputError(f"target {part.target}'s frames do not run in the run's direction ({direction:+d})")
        for i in frames:
            by_frame.setdefault(i, []).append((part, False))
    return sorted(by_frame.items(), key=lambda kv: kv[0] * direction)


def engine_uses_torch(engine) -> bool:
    """Whether the engine works with torch (its intra-op thread count then matters): its `uses_torch`
    where it says, else whether its own module imported torch."""
    said = getattr(engine, "uses_torch", None)
    if said is not None:
        return bool(said)
    module = sys.modules.get(type(engine).__module__)
    return module is not None and "torch" in vars(module)


def _changes(governor) -> int:
    return 0 if governor is None else int(getattr(governor, "changes", 0))
