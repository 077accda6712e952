"""StudioModel: the studio session without Qt (the napari ViewerModel idea).

It owns the open source (opened once; its frame count measured once and shared with the workers), the
current frame, the annotation session (the document is the only place boxes live), the engine results
(a view of the document's per-frame records, `EngineResults`), where the engine stands, and the one
function that plans a run (`plan_run`). Views listen to its plain events and never keep state of their own:

  source_opened(model)  frame_changed(index)  annotation_changed(frozenset of frames)
  session_replaced(AnnotationSession)  run_planned(RunPlan)  results_arrived(tuple of FrameResult)
  run_finished(RunPlan, status)

Rules of a run (docs/studio.md): a run from frame k starts from the document's box at k (manual, tracked or
interpolated), or continues the engine where it stands (same engine, same direction, standing on k, and k
still holds what the engine wrote there); it writes only the frames it tracks, never a box of another frame,
never over a manual keyframe. A run is for the selected target ("track selected"), or for every target that
is not locked and has a box on k ("track all", one RunPlan per target, each with its own engine in the
worker, recorded as one undo step). Each target's engine position is kept apart (`engine_at[target]`).

Targets: the document's selected target is the one drawn boxes go to and the one the engine overlays show;
`new_target`, `select_target`, `cycle_target`, `remove_target`, `target_at` (click select) and
`promote_candidate` (an engine candidate becomes a target, linked to its object id) act on it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tracker.annotation.document import FrameAnnotation, TargetOrigin
from tracker.annotation.retrack import RetrackOptions, TrackingPlan, TrackingRun, run_end
from tracker.annotation.session import AnnotationSession
from tracker.boxes import validate_init_box
from tracker.errors import InputError
from tracker.result import Box, FrameResult
from tracker.sources.base import FrameSource

from .store import EngineResults

NO_BOX_MESSAGE = ("Draw a box around the target first: drag on the frame (B), "
                  "or type it with Track > Type box (Ctrl+B)")


class Event:
    """A plain event: `connect(callback)`, `disconnect(callback)`, `emit(*args)` (callbacks run in order)."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args) -> None:
        for callback in list(self._callbacks):
            callback(*args)


class Events:
    def __init__(self):
        for name in ("source_opened", "frame_changed", "annotation_changed", "session_replaced", "run_planned",
                     "results_arrived", "run_finished"):
            setattr(self, name, Event(name))


@dataclass(frozen=True)
class EnginePosition:
    """Where the engine the tracking worker holds stands: its key, the last frame it tracked, its direction,
    and what it wrote on that frame (a correction there since means it no longer stands on the document)."""

    key: tuple
    frame: int
    direction: int
    written: FrameAnnotation | None


@dataclass(frozen=True)
class RunPlan:
    """One run for one target: initialise at `start` with `init_box` (None: continue the engine, which stands
    on `start`), then track start+direction .. `end` (inclusive). `may_overwrite`: the frames it may write
    (its tracked frames without the manual keyframes). `writes_keyframe`: the box on `start` is a suggestion
    (the sequence's ground truth) that becomes a manual keyframe there when the run starts."""

    start: int
    end: int
    direction: int
    init_box: Box | None
    engine_key: tuple
    may_overwrite: frozenset[int] = field(default_factory=frozenset)
    writes_keyframe: bool = False
    target: int = 1  # the target it tracks

    @property
    def continues(self) -> bool:
        return self.init_box is None

    @property
    def first_tracked(self) -> int:
        return self.start + self.direction

    def tracking_plan(self) -> TrackingPlan:
        return TrackingPlan(self.start, self.init_box, self.end, self.direction, self.target)

    def frames(self) -> range:
        return self.tracking_plan().frames()


class StudioModel:
    """The studio session: see the module doc. `autosave_folder`/`autosave` configure the annotation
    session's autosave; autosave is off unless the annotation part turns it on (`configure_autosave`)."""

    def __init__(self):
        self.events = Events()
        self.source: FrameSource | None = None
        self.path: Path | None = None
        self.num_frames = 0
        self.frame_shape: tuple[int, ...] | None = None
        self.current = 0
        self.evaluation_start: int | None = None  # the frame `eval` initialises on (ground truth only)
        self.annotations: AnnotationSession | None = None
        self.results = EngineResults()
        self.engine_at: dict[int, EnginePosition] = {}  # target id -> where its engine stands
        self._run: TrackingRun | None = None
        self._run_plans: dict[int, RunPlan] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self.autosave_folder: Path | None = None
        self.autosave_enabled = False
        self._autosave_configured = False

    # ================================================================== source
    def configure_autosave(self, folder: Path | None, enabled: bool) -> None:
        self.autosave_folder, self.autosave_enabled, self._autosave_configured = folder, enabled, True
        if self.annotations is not None:
            self.annotations.set_autosave(enabled)

    def open(self, source: FrameSource, path: str | Path, num_frames: int | None = None) -> None:
        """Take an opened source (the one handle every part of the studio reads) and start a fresh session.
        `num_frames`: its count, where the caller measured it (once, in a worker); else it is measured here."""
        n = len(source) if num_frames is None else int(num_frames)
        if n == 0:
            raise InputError(f"{path} holds no frames")
        self.close()
        self.source, self.path, self.num_frames, self.current = source, Path(path), n, 0
        self.evaluation_start = _evaluation_start(source, n)
        self.frame_shape = None
        self.engine_at = {}
        self.set_annotations(self.new_annotations())
        self.events.source_opened.emit(self)

    def new_annotations(self) -> AnnotationSession:
        """An empty annotation session for the open source, with this model's autosave settings."""
        return AnnotationSession.new(self.num_frames, source=str(self.path.resolve()),
                                     autosave_folder=self.autosave_folder, autosave=self.autosave_enabled,
                                     autosave_background=True, settings={})

    def set_annotations(self, session: AnnotationSession) -> None:
        """Replace the annotation session (a project opened, an autosave recovered); it must fit the source."""
        if len(session.document) != self.num_frames:
            raise InputError(f"the annotations have {len(session.document)} frames but {self.path} has "
                             f"{self.num_frames}")
        old = self.annotations
        if old is not None and old is not session:
            self._close_annotations(replaced=True)
        self.annotations = session
        session.set_autosave(self.autosave_enabled)
        self.results = EngineResults(session.document)
        self.engine_at = {}
        self._unsubscribe = session.document.subscribe(self.events.annotation_changed.emit)
        self.events.session_replaced.emit(session)
        self.events.annotation_changed.emit(frozenset(range(self.num_frames)))

    def _close_annotations(self, replaced: bool = False) -> None:
        """Close the annotation session. `replaced`: a project or autosave takes its place; an unmodified
        session then removes no autosave (the one about to be recovered may live at its path)."""
        if self.annotations is None:
            return
        if self._run is not None:
            self._run.finish()
            self._run = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._autosave_configured and not (replaced and not self.annotations.modified):
            self.annotations.close()  # unsaved work is autosaved, a clean session removes its autosave
        else:
            self.annotations.autosaver.close()  # a window without the annotation part touches no autosave
        self.annotations = None
        self.results = EngineResults()

    def close(self) -> None:
        self._close_annotations()
        if self.source is not None:
            self.source.close()
        self.source, self.path, self.num_frames, self.engine_at = None, None, 0, {}
        self.evaluation_start = None

    @property
    def document(self):
        return None if self.annotations is None else self.annotations.document

    @property
    def ground_truth(self):
        return None if self.source is None else self.source.ground_truth

    # ================================================================== frames
    def go_to(self, index: int) -> int:
        """Make `index` (clamped to the sequence) the current frame; returns it."""
        if self.num_frames == 0:
            return 0
        index = max(0, min(int(index), self.num_frames - 1))
        if index != self.current:
            self.current = index
            self.events.frame_changed.emit(index)
        return index

    def frame_decoded(self, index: int, frame) -> None:
        self.frame_shape = getattr(frame, "shape", self.frame_shape)
        doc = self.document
        if doc is not None and doc.image_size is None and self.frame_shape is not None:
            doc.image_size = (int(self.frame_shape[1]), int(self.frame_shape[0]))  # (w, h): exports write it

    # ================================================================== boxes
    def annotation_at(self, index: int) -> FrameAnnotation | None:
        doc = self.document
        return None if doc is None or not 0 <= index < len(doc) else doc[index]

    def suggested_box(self, index: int) -> Box | None:
        """The sequence's ground truth on the frame evaluation starts from (`evaluation_start`: frame 0, or
        OTB cfg.json's startFrame), offered there while the document has nothing on it, so that a run started
        from it is the run `eval` scores. No other frame: a run from a box nobody drew or saw there would
        write work (and with several targets none: the ground truth is of one object)."""
        gt = self.ground_truth
        doc = self.document
        if index != self.evaluation_start or gt is None or doc is None or len(doc.targets) != 1 \
                or self.annotation_at(index) is not None:
            return None
        row = gt.boxes[index]
        absent = gt.absent is not None and bool(gt.absent[index])
        if absent or not all(math.isfinite(float(v)) for v in row) or row[2] <= 0 or row[3] <= 0:
            return None
        return tuple(float(v) for v in row)

    def box_at(self, index: int) -> Box | None:
        """The box of frame `index`: the document's, else the suggestion for that very frame; never another's."""
        a = self.annotation_at(index)
        if a is not None:
            return a.box
        return self.suggested_box(index)

    def set_box(self, index: int, box: Box, target: int | None = None) -> None:
        """A drawn, adjusted or typed box: a manual keyframe on `index` of the selected target (one undo step)."""
        if self.annotations is None:
            raise InputError("Open a video or sequence first (File > Open, or the sample)")
        if self.frame_shape is not None:
            box = validate_init_box(box, self.frame_shape)
        self.annotations.set_box(index, tuple(float(v) for v in box), target)

    # ================================================================== runs
    @property
    def running(self) -> bool:
        return self._run is not None

    def plan_run(self, engine_key: tuple, count: int | None, direction: int = 1, frame: int | None = None,
                 until_keyframe: bool = False, reinitialise: bool = False, target: int | None = None) -> RunPlan:
        """Plan a run of one target (default: the selected one) from `frame` (default: the current one) over
        `count` frames (None: to the end, or to the start backwards; `until_keyframe`: stop before the target's
        next manual keyframe). InputError says why not."""
        plan = self._plan(engine_key, count, direction, frame, until_keyframe, reinitialise, target)
        self.events.run_planned.emit(plan)
        return plan

    def plan_all(self, engine_key: tuple, count: int | None, direction: int = 1, frame: int | None = None,
                 until_keyframe: bool = False, reinitialise: bool = False) -> list[RunPlan]:
        """One plan per target that can be tracked from the frame ("track all"): not locked, a box there (or
        its engine standing there). InputError when none can; the others are skipped."""
        if self.annotations is None:
            raise InputError("Open a video or sequence first (File > Open, or the sample)")
        plans, why = [], []
        for t in self.document.targets:
            if t.locked:
                why.append(f"{t.name} is locked")
                continue
            try:
                plans.append(self._plan(engine_key, count, direction, frame, until_keyframe, reinitialise, t.id))
            except InputError as exc:
                why.append(f"{t.name}: {exc}")
        if not plans:
            raise InputError("No target can be tracked from here: " + "; ".join(why)[:400])
        for plan in plans:
            self.events.run_planned.emit(plan)
        return plans

    def _plan(self, engine_key, count, direction, frame, until_keyframe, reinitialise, target) -> RunPlan:
        if self.annotations is None:
            raise InputError("Open a video or sequence first (File > Open, or the sample)")
        if direction not in (1, -1):
            raise InputError(f"direction must be +1 (forward) or -1 (backward), got {direction}")
        doc = self.document
        if target is None and doc.selected is None:
            raise InputError(NO_BOX_MESSAGE + " (there is no target yet: N starts one)")
        t = doc.target(target)
        if t.locked:
            raise InputError(f"Target {t.name} is locked: unlock it in the objects panel to track it")
        track = doc.track(t.id)
        k = self.current if frame is None else int(frame)
        end = run_end(track, k, direction, replace(self.options, stop_at_keyframe=until_keyframe, max_frames=count))
        if end == k:
            where = "last" if direction > 0 else "first"
            raise InputError(f"Nothing to track from frame {k}: it is the {where} frame"
                             + (" or next to a keyframe" if until_keyframe else ""))
        here = track[k]
        pos = self.engine_at.get(t.id)
        stands = (pos is not None and pos.key == engine_key and pos.frame == k and pos.direction == direction
                  and pos.written == here)
        init_box, writes_keyframe = None, False
        if reinitialise or not stands:
            if here is not None:
                if here.box is None:
                    raise InputError(f"Frame {k} is marked absent: draw the target's box there before tracking "
                                     "from it (B or Ctrl+B)")
                init_box = here.box
            elif t.id == doc.selected:
                init_box = self.suggested_box(k)
                writes_keyframe = init_box is not None
            if init_box is None:
                raise InputError(NO_BOX_MESSAGE + f" (frame {k} has no box)")
        plan = RunPlan(k, end, direction, init_box, engine_key, writes_keyframe=writes_keyframe, target=t.id)
        tracked = plan.frames()
        return replace(plan, may_overwrite=frozenset(i for i in tracked if not _is_keyframe(track[i])))

    def begin_run(self, plans: RunPlan | list[RunPlan], engine: str) -> None:
        """The run is about to start in the worker: open its undo step (and write a suggested box first)."""
        if self._run is not None:
            raise InputError("A tracking run is still being written; wait for it to finish")
        plans = [plans] if isinstance(plans, RunPlan) else list(plans)
        for plan in plans:
            if plan.writes_keyframe:
                self.set_box(plan.start, plan.init_box, target=plan.target)
        options = replace(self.options, keep_debug=True)  # the engine results are the document's records
        self._run = self.annotations.begin_run([p.tracking_plan() for p in plans], engine, options)
        self._run_plans = {p.target: p for p in plans}

    def abort_run(self) -> None:
        """The worker refused to start: nothing was written."""
        if self._run is not None:
            self._run.rollback()
        self._run, self._run_plans = None, {}

    def add_results(self, results: tuple[FrameResult, ...] | list[FrameResult],
                    targets: tuple[int, ...] | None = None) -> None:
        """Results of the run in progress; `targets[i]` is the target of `results[i]` (left out in a run of
        one target)."""
        if self._run is None or not self._run_plans:
            return
        if targets is None:
            targets = (next(iter(self._run_plans)),) * len(results)
        last: dict[int, int] = {}
        for r, tid in zip(results, targets):
            if tid in self._run_plans:
                self._run.add(r, tid)
                last[tid] = r.frame_index
        for tid, i in last.items():
            plan = self._run_plans[tid]
            self.engine_at[tid] = EnginePosition(plan.engine_key, i, plan.direction, self.document.track(tid)[i])
        self.events.results_arrived.emit(tuple(results))

    def finish_run(self, status: str):
        """The run ended ("done", "cancelled", "failed"): record what it wrote as one undo step (returned)."""
        plans, run = self._run_plans, self._run
        self._run, self._run_plans = None, {}
        edit = run.finish() if run is not None else None
        if status == "failed":
            for tid in plans:
                self.engine_at.pop(tid, None)  # an engine that raised is not continued
        for plan in plans.values():
            self.events.run_finished.emit(plan, status)
        return edit

    @property
    def run_plans(self) -> list[RunPlan]:
        return list(self._run_plans.values())

    # ================================================================== targets
    @property
    def selected_target(self) -> int | None:
        return None if self.document is None else self.document.selected

    def select_target(self, target_id: int | None) -> None:
        if self.annotations is not None:
            self.annotations.select_target(target_id)

    def cycle_target(self, step: int = 1) -> int | None:
        """Select the next (step +1) or previous (-1) target in the panel's order; returns it."""
        doc = self.document
        if doc is None or not doc.targets:
            return None
        ids = [t.id for t in doc.targets]
        k = ids.index(doc.selected) if doc.selected in ids else -step
        self.select_target(ids[(k + step) % len(ids)])
        return doc.selected

    def new_target(self, label: str | None = None) -> int:
        """A new target (one undo step), selected: the next box drawn is its first."""
        if self.annotations is None:
            raise InputError("Open a video or sequence first (File > Open, or the sample)")
        self._check_no_run()
        return self.annotations.add_target(label)

    def remove_target(self, target_id: int | None = None) -> None:
        """Remove a target (default: the selected one) with its boxes (one undo step)."""
        if self.annotations is None or self.selected_target is None:
            raise InputError("There is no target to remove")
        self._check_no_run()
        tid = self.selected_target if target_id is None else target_id
        self.annotations.remove_target(tid)
        self.engine_at.pop(tid, None)

    def target_at(self, index: int, x: float, y: float) -> int | None:
        """The visible target whose box on frame `index` contains (x, y) (the smallest one where boxes overlap)."""
        doc = self.document
        if doc is None or not 0 <= index < len(doc):
            return None
        hits = []
        for t in doc.targets:
            a = doc.track(t.id)[index]
            if t.visible and a is not None and a.box is not None:
                bx, by, bw, bh = a.box
                if bx <= x <= bx + bw and by <= y <= by + bh:
                    hits.append((bw * bh, t.id))
        return min(hits)[1] if hits else None

    def promote_candidate(self, index: int, candidate) -> int:
        """Make an engine candidate of frame `index` (one of the selected target's FrameResult candidates) a
        new target: its first box centred on the candidate, sized like the selected target's box there (else
        the engine's box), a manual keyframe; linked to the candidate's object id (`Target.origin`)."""
        if self.annotations is None:
            raise InputError("Open a video or sequence first (File > Open, or the sample)")
        self._check_no_run()
        doc = self.document
        source = doc.selected
        a = self.annotation_at(index)
        r = self.results.get(index)
        size = a.box[2:] if a is not None and a.box is not None else (r.box[2:] if r is not None and r.box else None)
        if size is None:
            raise InputError(f"Frame {index} has no box of the selected target to size the new target by")
        w, h = size
        box = (float(candidate.x) - w / 2, float(candidate.y) - h / 2, float(w), float(h))
        if self.frame_shape is not None:
            box = validate_init_box(box, self.frame_shape)
        origin = TargetOrigin(int(index), candidate.object_id, source)
        label = doc.target(source).label if source is not None else None
        return self.annotations.add_target(label, frame=index, box=box, origin=origin)

    def _check_no_run(self) -> None:
        if self._run is not None:
            raise InputError("Tracking is running; stop it (Esc) before changing targets")

    @property
    def options(self) -> RetrackOptions:
        """How runs write into the document (the annotation session's, saved with the project)."""
        return RetrackOptions() if self.annotations is None else self.annotations.options

    def set_options(self, **changes) -> None:
        if self.annotations is not None:
            self.annotations.options = replace(self.annotations.options, **changes)


def _is_keyframe(a: FrameAnnotation | None) -> bool:
    return a is not None and a.is_keyframe


def _evaluation_start(source: FrameSource, num_frames: int) -> int | None:
    """The frame `eval` initialises a one-pass evaluation on (runner.evaluation_range: OTB cfg.json's
    startFrame, Tiger1's initOmit, else the first annotated frame); None without usable ground truth."""
    from .compare import SequenceInfo, evaluated_frames  # (app.compare imports this module)

    if source.ground_truth is None:
        return None
    start, _stop, why = evaluated_frames(SequenceInfo.of(source, num_frames))
    return None if why is not None else start
