"""How many intra-op threads the engine's torch uses: as many cores as other processes leave free.

Torch's default (one thread per physical core) collapses beside any busy process: its threads spin and
wait on each other, so one pass through the network waits for the slowest core (bench/threads.py measures
it: 2 threads beside one busy process run several times slower than 1). The policy here counts the cores
other processes keep busy (from /proc/stat minus this process's own CPU time, over a short window), uses
the cores left, at least 1 and at most torch's default, and re-checks every few seconds while a run goes
on (`ThreadGovernor.tick`), so a desktop that gets busy mid-run drops to 1 thread within a few seconds and
goes back up when the other work ends.

The count applies to every runtime an engine computes with: torch's intra-op pool, OpenCV's parallel_for
pool (the OpenCV baselines, NanoTrack's DNN) and ONNX Runtime's sessions (tracker/nets/onnx_backend.py reads
`onnx_threads()` at each call and keeps one session per count).

Per engine: an engine may cap torch's and OpenCV's count (`thread_ceiling`, read by `ThreadGovernor.fit`,
which the run loop calls for the engines of a run); ONNX Runtime keeps the load's count. keeptrack-lite with
its feature stage on ONNX Runtime caps torch at 1: its torch work is small ops, and a second spinning torch
pool beside ONNX Runtime's own makes both wait (quiet 2-core machine, docs/speed.md: torch 2 + ORT 2 ran
about 26 fps, torch 1 + ORT 1 about 34, torch 1 + ORT 2 about 42). On torch it says nothing (2 threads
idle, 1 under load, as measured). The ceiling caps the adaptive count only: a fixed count is an override
for every runtime and stays.

Override: $KEEPTRACK_THREADS (a number, or "auto") or a command's --threads flag; a number turns the
policy off and fixes the count. The studio's tracking worker calls `governor_for_run()` once per run, in
the worker thread, and `tick()` after each frame, like tracker.runloop does.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from .errors import InputError

ENV_VAR = "KEEPTRACK_THREADS"
RECHECK_SECONDS = 2.0  # how often a running governor looks at the load again
SAMPLE_SECONDS = 0.25  # the window of the first measurement, before a run starts

_torch_default: int | None = None
_onnx_threads: int | None = None  # ONNX Runtime's count where a governor set one apart from torch's


def torch_default_threads() -> int:
    """Torch's own choice (one per physical core), remembered before anything here changes it."""
    global _torch_default
    if _torch_default is None:
        import torch

        _torch_default = max(1, int(torch.get_num_threads()))
    return _torch_default


def current_threads() -> int:
    """Torch's intra-op thread count in force (which `ThreadGovernor` sets)."""
    import torch

    return max(1, int(torch.get_num_threads()))


def onnx_threads() -> int:
    """ONNX Runtime's intra-op count: the governor's load-based count, torch's where none was set."""
    return current_threads() if _onnx_threads is None else _onnx_threads


def _apply(threads: int, onnx: int | None = None) -> None:
    """Set the count for torch and OpenCV, and ONNX Runtime's (`onnx`, else the same count)."""
    global _onnx_threads
    import torch

    _onnx_threads = max(1, int(threads if onnx is None else onnx))

    torch.set_num_threads(threads)
    try:
        import cv2
    except ImportError:  # pragma: no cover - OpenCV is a project requirement
        return
    cv2.setNumThreads(threads)


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def parse_threads(value: str | int | None, what: str = ENV_VAR) -> int | None:
    """'auto', '' or None -> None (adaptive); a positive integer -> that count; InputError otherwise."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("", "auto", "0"):
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise InputError(f"{what} must be a positive number of threads or 'auto'; got {value!r}")
    return n


def requested_threads(flag: str | int | None = None) -> int | None:
    """A fixed count from the command-line flag, else from $KEEPTRACK_THREADS, else None (adaptive)."""
    if flag is not None:
        return parse_threads(flag, "--threads")
    return parse_threads(os.environ.get(ENV_VAR), ENV_VAR)


def _cpu_ticks() -> tuple[float, float] | None:
    """(busy, total) jiffies of all cores since boot, or None where /proc/stat is not there."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu":
        return None
    values = [float(v) for v in fields[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)  # idle + iowait
    return sum(values[:8]) - idle, sum(values[:8])


@dataclass
class LoadSample:
    wall: float
    own_cpu: float  # this process's CPU seconds (all its threads)
    ticks: tuple[float, float] | None


def _sample() -> LoadSample:
    return LoadSample(time.monotonic(), time.process_time(), _cpu_ticks())


def other_busy_cores(before: LoadSample, after: LoadSample) -> float:
    """Cores kept busy by other processes between two samples (this process's own work left out)."""
    wall = after.wall - before.wall
    if wall <= 0:
        return 0.0
    if before.ticks is None or after.ticks is None:
        if hasattr(os, "getloadavg"):  # no /proc/stat: the 1-minute load average, a slower signal
            return max(0.0, os.getloadavg()[0] - (after.own_cpu - before.own_cpu) / wall)
        return 0.0
    busy = after.ticks[0] - before.ticks[0]
    total = after.ticks[1] - before.ticks[1]
    if total <= 0:
        return 0.0
    all_busy = busy / total * usable_cores_on_machine()
    own = (after.own_cpu - before.own_cpu) / wall
    return max(0.0, all_busy - own)


def usable_cores_on_machine() -> int:
    """Cores /proc/stat counts (all online cores, not only those this process may use)."""
    return max(1, os.cpu_count() or 1)


def threads_for_load(other_busy: float, cores: int | None = None, ceiling: int | None = None) -> int:
    """The policy: the cores other processes leave free, rounded down (a core 80% free counts), 1..ceiling."""
    cores = usable_cores() if cores is None else cores
    ceiling = torch_default_threads() if ceiling is None else ceiling
    free = cores - other_busy
    return int(max(1, min(ceiling, int(free + 0.2))))


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    adaptive: bool
    reason: str  # one line for logs and bench output


class ThreadGovernor:
    """Sets the engine's intra-op thread count (torch, OpenCV; ONNX Runtime follows) for this run and adapts it to the load as the run goes on.

    Call `tick()` after each frame (cheap: it looks at the load at most every RECHECK_SECONDS).
    """

    def __init__(self, fixed: int | None = None, sample_seconds: float = SAMPLE_SECONDS,
                 recheck_seconds: float = RECHECK_SECONDS):
        self.ceiling = torch_default_threads()  # torch's and OpenCV's cap (an engine's `thread_ceiling`)
        self.fixed = fixed
        self.recheck_seconds = recheck_seconds
        self.changes = 0
        if fixed is not None:
            self.threads = int(fixed)
            self.reason = f"{self.threads} thread(s), fixed by --threads or ${ENV_VAR}"
            self._last = None
        else:
            first = _sample()
            time.sleep(sample_seconds)
            self._last = _sample()
            other = other_busy_cores(first, self._last)
            self.threads = threads_for_load(other, ceiling=self.ceiling)
            self.reason = (f"{self.threads} thread(s): other processes keep {other:.1f} of "
                           f"{usable_cores()} cores busy (override with --threads or ${ENV_VAR})")
        self.load_threads = self.threads  # the load's count, before any engine's cap: ONNX Runtime's
        _apply(self.threads)

    @property
    def choice(self) -> ThreadChoice:
        return ThreadChoice(self.threads, self.fixed is None, self.reason)

    def fit(self, engines) -> int:
        """Cap torch's and OpenCV's adaptive count at the lowest `thread_ceiling` of the engines about to run
        (engines without one, or with None, leave it alone; ONNX Runtime keeps the load's count); a fixed
        count is an override and is kept. Returns torch's count."""
        ceilings = [c for c in (getattr(e, "thread_ceiling", None) for e in engines) if c is not None]
        if self.fixed is not None or not ceilings:
            return self.threads
        ceiling = max(1, min(int(c) for c in ceilings))
        if ceiling < self.ceiling:
            self.ceiling = ceiling
            self.reason += f"; torch at most {ceiling} for this engine, ONNX Runtime {self.load_threads}"
        self.threads = min(self.threads, self.ceiling)
        _apply(self.threads, onnx=self.load_threads)
        return self.threads

    def tick(self) -> int:
        """Re-check the load if due; returns the thread count in force."""
        if self.fixed is not None or self._last is None:
            return self.threads
        now = time.monotonic()
        if now - self._last.wall < self.recheck_seconds:
            return self.threads
        current = _sample()
        other = other_busy_cores(self._last, current)
        self._last = current
        load = threads_for_load(other, ceiling=torch_default_threads())
        wanted = min(load, self.ceiling)
        if (wanted, load) != (self.threads, self.load_threads):
            self.threads, self.load_threads = wanted, load
            self.changes += 1
            _apply(wanted, onnx=load)
        return self.threads


def governor_for_run(flag: str | int | None = None) -> ThreadGovernor:
    """The one entry point (CLI commands, run loop, studio worker): the override if given, else adaptive.

    Call it in the thread that runs the engine, before the run.
    """
    return ThreadGovernor(requested_threads(flag))
