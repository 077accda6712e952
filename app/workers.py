"""Background work: frame decoding, tracking and file writing (exports, project saves), each in its own QThread.

Only plain data crosses threads: request dataclasses in, FrameResult objects and RGB arrays out.
Both workers read the one FrameSource the studio opened (sources guard their reader with a lock) and are
given its frame count: a video is opened and counted once. The source's owner (StudioModel) closes it.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from tracker.errors import InputError
from tracker.registry import create_engine
from tracker.result import Box, FrameResult
from tracker.runloop import RunPlan, Step, TargetPlan, engine_uses_torch, run_engines
from tracker.sources.base import FrameSource
from tracker.threads import governor_for_run

def describe_error(exc: BaseException) -> str:
    """A one-line message for the person at the window: InputErrors speak for themselves, other errors get their type."""
    if isinstance(exc, InputError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


WORKER_NICENESS = int(os.environ.get("KEEPTRACK_WORKER_NICE", "5"))


def _lower_thread_priority(niceness: int = WORKER_NICENESS) -> None:
    """Make the calling thread yield the CPU to the GUI thread when both want it (Linux: per-thread nice).

    Threads the engine starts from here (OpenCV, torch pools) inherit it. Elsewhere this does nothing.
    $KEEPTRACK_WORKER_NICE overrides the level (0: off).
    """
    if niceness <= 0 or not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except OSError:
        pass


# ----------------------------------------------------------------------------------------------- opening


class FrameCounter(QThread):
    """Counts a source's frames once, off the GUI thread (for a video: one decoding pass)."""

    counted = Signal(object, int, str)  # this counter, the count, an error message ("" when counted)

    def __init__(self, source: FrameSource, parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName("count")
        self._source = source

    def run(self) -> None:
        try:
            n, error = len(self._source), ""
        except Exception as exc:  # noqa: BLE001 - an unreadable file is a message, never a crash
            n, error = 0, describe_error(exc)
        self.counted.emit(self, n, error)


# ----------------------------------------------------------------------------------------------- decoding


class DecodeWorker(QObject):
    """Decodes one frame at a time; only the newest request waiting is served (older ones are dropped)."""

    decoded = Signal(int, int, object)  # request id, frame index, RGB array
    failed = Signal(int, int, str)  # request id, frame index, message

    def __init__(self, source: FrameSource, cache_size: int = 48):
        super().__init__()
        self._source = source
        self._lock = threading.Lock()
        self._pending: tuple[int, int] | None = None
        self._cache: OrderedDict[int, object] = OrderedDict()
        self._cache_size = cache_size

    def submit(self, request_id: int, index: int) -> None:
        """Called from the GUI thread: replaces whatever request was still waiting."""
        with self._lock:
            self._pending = (request_id, index)

    @Slot()
    def serve(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None:  # a newer wake-up already took it
            return
        request_id, index = pending
        try:
            frame = self._cache.get(index)
            if frame is None:
                frame = self._source.frame(index)
                self._cache[index] = frame
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(index)
            self.decoded.emit(request_id, index, frame)
        except Exception as exc:  # noqa: BLE001 - any failure becomes a message, never a crash
            self.failed.emit(request_id, index, describe_error(exc))

    def close(self) -> None:
        self._cache.clear()


class FrameDecoder(QObject):
    """GUI-side handle of the decode thread. `request(i)` returns a request id; only the latest id's frame is shown."""

    frameReady = Signal(int, object)  # frame index, RGB array
    frameFailed = Signal(int, str)
    _wake = Signal()

    def __init__(self, source: FrameSource, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("decode")
        self._worker = DecodeWorker(source)
        self._worker.moveToThread(self._thread)
        self._wake.connect(self._worker.serve)
        self._worker.decoded.connect(self._on_decoded)
        self._worker.failed.connect(self._on_failed)
        self._thread.start()
        self._next_id = 0
        self.latest_id = 0
        self.in_flight = False
        self.dropped = 0  # stale frames that arrived after a newer request (for tests and diagnostics)

    def request(self, index: int) -> int:
        self._next_id += 1
        self.latest_id = self._next_id
        self.in_flight = True
        self._worker.submit(self.latest_id, int(index))
        self._wake.emit()
        return self.latest_id

    def _on_decoded(self, request_id: int, index: int, frame) -> None:
        if request_id != self.latest_id:
            self.dropped += 1
            return
        self.in_flight = False
        self.frameReady.emit(index, frame)

    def _on_failed(self, request_id: int, index: int, message: str) -> None:
        if request_id != self.latest_id:
            self.dropped += 1
            return
        self.in_flight = False
        self.frameFailed.emit(index, message)

    def shutdown(self) -> None:
        self._thread.quit()
        self._thread.wait(5000)
        self._worker.close()


# ----------------------------------------------------------------------------------------------- tracking


@dataclass(frozen=True)
class TargetRun:
    """One target's part of a run: with `init_box`, its engine is (re)initialised on `start_index` and tracks
    start+direction .. `end_index`; without, the engine the worker holds for the target continues, tracking
    `start_index` .. `end_index` (`start_index` right after its last tracked frame)."""

    target: int
    start_index: int
    end_index: int
    init_box: Box | None = None


@dataclass(frozen=True)
class TrackRequest:
    """One tracking run.

    With `init_box`, the engine is (re)initialised on frame `start_index` with that box ([x, y, w, h]) and
    then tracks start+direction .. end_index. Without it, the run continues the track the worker already
    holds: `start_index` must then be the frame right after the last one tracked (in `direction`).
    `end_index` is inclusive. direction -1 tracks backwards (e.g. from a keyframe towards the start).

    `targets`: several targets in one run ("track all"), each with its own engine instance; every frame is
    decoded once for all of them. Empty: the one target `target` with the fields above.
    """

    engine: str
    start_index: int
    end_index: int
    init_box: Box | None = None
    direction: int = 1
    device: str = "cpu"
    params: dict = field(default_factory=dict)
    request_id: int = 0
    target: int = 1
    targets: tuple[TargetRun, ...] = ()

    def parts(self) -> tuple[TargetRun, ...]:
        return self.targets or (TargetRun(self.target, self.start_index, self.end_index, self.init_box),)


def engine_key(engine: str, device: str, params: dict) -> tuple:
    """What must match for a run to continue the engine the worker holds."""
    return (engine, device, repr(sorted(params.items())))


@dataclass(frozen=True)
class ResultBatch:
    """Results of consecutive frames of one run, sent together: every cross-thread signal makes the GUI
    thread wait for the GIL, so at 100+ frames/s one signal per frame would starve the event loop."""

    request_id: int
    results: tuple[FrameResult, ...]
    frame: object  # the RGB frame of the last result (what the live view shows)
    done: int  # frames tracked so far in this run (the initialisation not counted)
    total: int  # frames this run tracks
    fps: float  # tracked frames per second so far
    targets: tuple[int, ...] = ()  # the target of each result


@dataclass
class _Held:
    """An engine the worker holds for one target, and where it stands."""

    engine: object
    key: tuple
    last_index: int | None = None


class TrackingWorker(QObject):
    started = Signal(int)  # request id
    batch = Signal(object)  # ResultBatch
    failed = Signal(int, str)  # request id, message
    finished = Signal(int, str)  # request id, "done" | "cancelled" | "failed"

    BATCH_INTERVAL_S = 0.04

    def __init__(self, source: FrameSource, num_frames: int):
        super().__init__()
        self._source = source
        self._num_frames = int(num_frames)
        self._engines: dict[int, _Held] = {}  # target id -> its engine
        self._governor = None  # the thread policy (tracker.threads, $KEEPTRACK_THREADS) when an engine uses torch
        self._cancel_upto = 0  # runs with request_id <= this are cancelled
        self._lock = threading.Lock()

    def cancel_upto(self, request_id: int) -> None:
        with self._lock:
            self._cancel_upto = max(self._cancel_upto, request_id)

    def _cancelled(self, request_id: int) -> bool:
        with self._lock:
            return request_id <= self._cancel_upto

    @Slot(object)
    def run(self, req: TrackRequest) -> None:
        """One run, driven by tracker.runloop.run_engines like every other run (CLI, evaluation, Ray, training
        dump): what a cancel, a frame without a box or an unreadable frame does is decided there."""
        _lower_thread_priority()
        status = "done"
        self.started.emit(req.request_id)
        self._pending: list[FrameResult] = []
        self._pending_targets: list[int] = []
        self._pending_frame = None
        self._last_flush = time.perf_counter()
        self._req, self._done, self._total, self._fps = req, 0, 0, 0.0
        self._single = True  # one target: each result may go at once; several: whole frames only
        try:
            parts = self._plan(req)
            self._single = len(parts) == 1
            self._total = len(set().union(*(p.plan.frames for p in parts)))  # frames, however many targets
            t0 = time.perf_counter()
            tracked_frames: set[int] = set()

            def on_step(target: int, step: Step) -> None:
                if not step.initial and step.index not in tracked_frames:
                    tracked_frames.add(step.index)
                    elapsed = time.perf_counter() - t0
                    self._done = len(tracked_frames)
                    self._fps = self._done / elapsed if elapsed > 0 else 0.0
                self._add(step.result, step.frame, step.index, target)
                self._engines[target].last_index = step.index

            end = run_engines(parts, self._source, on_step, lambda: self._cancelled(req.request_id),
                              self._governor, req.direction)
            if end.cancelled:
                status = "cancelled"
            elif end.failure is not None:
                raise InputError(end.failure)
        except Exception as exc:  # noqa: BLE001 - engine errors become a message in the window, never a crash
            status = "failed"
            if not isinstance(exc, InputError):
                traceback.print_exc(file=sys.stderr)
            self._flush()  # what was computed before the failure is delivered first
            self.failed.emit(req.request_id, describe_error(exc))
        self._flush()
        self.finished.emit(req.request_id, status)

    def _plan(self, req: TrackRequest) -> list[TargetPlan]:
        """The run loop's plan of each target of a request; creates (or keeps) each target's engine, refuses
        what cannot run."""
        if req.direction not in (1, -1):
            raise InputError(f"direction must be +1 or -1, got {req.direction}")
        n, d = self._num_frames, req.direction
        key = engine_key(req.engine, req.device, req.params)
        parts, created = [], False
        for part in req.parts():
            for what, idx in (("start", part.start_index), ("end", part.end_index)):
                if not 0 <= idx < n:
                    raise InputError(f"{what} frame {idx} is outside the sequence (frames 0..{n - 1})")
            held = self._engines.get(part.target)
            if part.init_box is not None:
                if held is None or held.key != key:
                    held = _Held(create_engine(req.engine, device=req.device, **req.params), key)
                    self._engines[part.target] = held
                    created = True
                held.last_index = None
                start, first = part.start_index, part.start_index + d
            else:
                if held is None or held.key != key or held.last_index is None:
                    raise InputError("there is no track to continue: draw a box first")
                if part.start_index != held.last_index + d:
                    raise InputError(f"cannot continue from frame {part.start_index}: the track is at frame "
                                     f"{held.last_index}")
                start, first = held.last_index, part.start_index
            plan = RunPlan(start, part.init_box, range(first, part.end_index + d, d))
            parts.append(TargetPlan(part.target, held.engine, plan))
        if not any(engine_uses_torch(p.engine) for p in parts):
            self._governor = None
        elif self._governor is None or created:
            self._governor = governor_for_run()
        return parts

    def forget(self, target: int) -> None:
        """Drop the engine held for a removed target."""
        self._engines.pop(target, None)

    def _add(self, result: FrameResult, frame, index: int, target: int) -> None:
        if not isinstance(result, FrameResult):
            raise TypeError(f"the engine returned {type(result).__name__} for frame {index}, not a FrameResult")
        if result.frame_index != index:
            raise ValueError(f"the engine labelled frame {index} as frame {result.frame_index}")
        # A batch holds whole frames: the live view shows a batch's last frame, which must have every
        # target's result of that frame (a run over several targets steps them one after the other).
        if self._pending and self._pending[-1].frame_index != index \
                and time.perf_counter() - self._last_flush >= self.BATCH_INTERVAL_S:
            self._flush()
        self._pending.append(result)
        self._pending_targets.append(target)
        self._pending_frame = frame
        if self._single and time.perf_counter() - self._last_flush >= self.BATCH_INTERVAL_S:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.batch.emit(ResultBatch(self._req.request_id, tuple(self._pending), self._pending_frame,
                                        self._done, self._total, self._fps, tuple(self._pending_targets)))
            self._pending, self._pending_targets, self._pending_frame = [], [], None
        self._last_flush = time.perf_counter()

    def close(self) -> None:
        self._engines = {}


class TrackingController(QObject):
    """GUI-side handle of the tracking thread. One run at a time; `start` refuses while busy."""

    started = Signal(int)
    batch = Signal(object)  # ResultBatch
    failed = Signal(int, str)
    finished = Signal(int, str)
    _run = Signal(object)

    def __init__(self, source: FrameSource, num_frames: int, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("tracking")
        self.worker = TrackingWorker(source, num_frames)
        self.worker.moveToThread(self._thread)
        self._run.connect(self.worker.run)
        # Clear `busy` before anyone hears `finished`, so a listener may start the next run at once.
        self.worker.finished.connect(self._on_finished)
        for name in ("started", "batch", "failed", "finished"):
            getattr(self.worker, name).connect(getattr(self, name))
        self._thread.start()
        self._next_id = 0
        self.busy_id: int | None = None

    @property
    def busy(self) -> bool:
        return self.busy_id is not None

    def start(self, request: TrackRequest) -> int:
        if self.busy:
            raise RuntimeError("a tracking run is already going")
        from dataclasses import replace

        self._next_id += 1
        self.busy_id = self._next_id
        self._run.emit(replace(request, request_id=self._next_id))
        return self._next_id

    def cancel(self) -> None:
        if self.busy_id is not None:
            self.worker.cancel_upto(self.busy_id)

    def _on_finished(self, request_id: int, status: str) -> None:
        if request_id == self.busy_id:
            self.busy_id = None

    def shutdown(self) -> None:
        self.cancel()
        self._thread.quit()
        self._thread.wait(10000)
        self.worker.close()


# ----------------------------------------------------------------------------------------------- files


@dataclass(frozen=True)
class FileJob:
    """File work for the file thread, on a snapshot of the document (the window may edit on meanwhile).

    kind "check": which existing files an export of `document` to `path` in `format` would replace;
    "export": write it; "save": write the project (`save`, an AnnotationSession SaveJob); "load": read the
    project file `path`.
    """

    kind: str
    path: Path
    document: object = None
    format: str = ""
    save: object = None
    job_id: int = 0


@dataclass(frozen=True)
class FileJobDone:
    job_id: int
    kind: str
    path: Path
    format: str = ""
    written: Path | None = None
    replaced: tuple[Path, ...] = ()
    loaded: object = None  # "load": the Project read (a dataclass: document, settings)
    error: str | None = None  # the message, naming the file; None when it went through


class FileWorker(QObject):
    done = Signal(object)  # FileJobDone

    @Slot(object)
    def run(self, job: FileJob) -> None:
        from tracker.annotation.project import load_project
        from tracker.annotation.session import write_save
        from tracker.formats.registry import files_replaced_by, write_annotations

        written, replaced, loaded, error = None, (), None, None
        try:
            if job.kind == "check":
                replaced = tuple(files_replaced_by(job.document, job.path, job.format))
            elif job.kind == "export":
                written = write_annotations(job.document, job.path, job.format)
            elif job.kind == "save":
                written = write_save(job.save)
            elif job.kind == "load":
                loaded = load_project(job.path)
            else:
                raise InputError(f"unknown file job {job.kind!r}")
        except Exception as exc:  # noqa: BLE001 - a failed write is a message; the previous files are unchanged
            if not isinstance(exc, InputError):
                traceback.print_exc(file=sys.stderr)
            error = describe_error(exc)
        self.done.emit(FileJobDone(job.job_id, job.kind, job.path, job.format, written, replaced, loaded, error))


class FileJobs(QObject):
    """GUI-side handle of the file thread: exports, project saves and loads run there, in the order submitted;
    each job's callback runs on the GUI thread with its FileJobDone."""

    _run = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("files")
        self._worker = FileWorker()
        self._worker.moveToThread(self._thread)
        self._run.connect(self._worker.run)
        self._worker.done.connect(self._done)  # queued: callbacks run on the GUI thread
        self._worker.done.connect(self._count_done, Qt.ConnectionType.DirectConnection)  # in the file thread
        self._thread.start()
        self._next_id = 0
        self._callbacks: dict[int, Callable[[FileJobDone], None]] = {}
        self._finished = threading.Condition()
        self._outcomes: dict[int, FileJobDone] = {}  # done in the file thread, not yet delivered

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def submit(self, job: FileJob, callback: Callable[[FileJobDone], None]) -> int:
        from dataclasses import replace

        self._next_id += 1
        self._callbacks[self._next_id] = callback
        self._run.emit(replace(job, job_id=self._next_id))
        return self._next_id

    def _count_done(self, outcome: FileJobDone) -> None:
        with self._finished:
            self._outcomes[outcome.job_id] = outcome
            self._finished.notify_all()

    def _done(self, outcome: FileJobDone) -> None:
        with self._finished:
            self._outcomes.pop(outcome.job_id, None)
        callback = self._callbacks.pop(outcome.job_id, None)
        if callback is not None:
            callback(outcome)

    def flush(self) -> None:
        """Wait for every job submitted so far and run their callbacks now (before footage is closed or the
        window quits: a save in flight is finished and recorded, never cut off). Jobs the callbacks submit
        (an export after its check) are waited for too."""
        while self._callbacks:
            job_id = min(self._callbacks)
            with self._finished:
                self._finished.wait_for(lambda: job_id in self._outcomes)
                outcome = self._outcomes.pop(job_id)
            self._callbacks.pop(job_id)(outcome)  # its queued delivery later finds no callback

    def shutdown(self) -> None:
        self.flush()
        self._thread.quit()
        self._thread.wait()
