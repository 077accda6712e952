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
- Thread count: a ThreadGovernor (tracker.threads) is ticked after each frame, so the intra-op threads
  follow the machine's load. The studio gives one to engines that use torch (`engine_uses_torch`).
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


@dataclass
class _State:
    box: Box | None = None
    steps: int = 0


def run_engine(engine, frames, plan: RunPlan, on_step: Callable[[Step], None] | None = None,
               should_stop: Callable[[], bool] | None = None, governor=None) -> RunEnd:
    """Drive `engine` over `plan`, reading frames from `frames` (anything indexable by frame number,
    e.g. a FrameSource), and report each frame to `on_step`. Returns how the run ended."""
    state = _State(box=None if plan.init_box is None else tuple(float(v) for v in plan.init_box))
    planned = len(plan)
    current = plan.start

    def report(index: int, result: FrameResult, seconds: float, initial: bool, frame) -> None:
        if result.box is not None:
            state.box = tuple(float(v) for v in result.box)
        box = state.box if state.box is not None else (float("nan"),) * 4
        state.steps += 1
        if on_step is not None:
            on_step(Step(index, result, box, seconds, initial, frame))
        if governor is not None:
            governor.tick()

    try:
        if plan.init_box is not None:
            frame = frames[plan.start]
            t0 = time.perf_counter()
            result = engine.initialize(frame, plan.init_box, plan.start)
            report(plan.start, result, time.perf_counter() - t0, True, frame)
        for index in plan.frames:
            if should_stop is not None and should_stop():
                return RunEnd(state.steps, planned, cancelled=True, thread_changes=_changes(governor))
            current = index
            frame = frames[index]
            t0 = time.perf_counter()
            result = engine.track(frame, index)
            report(index, result, time.perf_counter() - t0, False, frame)
    except InputError as exc:
        message = str(exc)
        if f"frame {current}" not in message:
            message = f"frame {current}: {message}"
        return RunEnd(state.steps, planned, failed_frame=current, failure=message,
                      thread_changes=_changes(governor))
    return RunEnd(state.steps, planned, thread_changes=_changes(governor))


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
