"""Many sequences at once: one task per sequence and engine, run here or on Ray workers.

The same task function runs in both places (tracker.runloop under it), so a Ray run gives the same boxes
as the serial one at the same thread count. Workers only compute; the driver writes every result file
(atomically, as each task finishes), so an interrupted batch leaves complete files only, and a rerun skips
the sequences whose files are complete. A failed task (a corrupt frame, a bad box) is reported and never
loses the others.

Ray is optional (`pip install -e .[cluster]`): `--ray` starts a local cluster with one worker per core,
`--ray-address ADDR` joins a running one (its nodes need this package installed; docs/cluster.md).
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .paths import REPO_ROOT


@dataclass(frozen=True)
class EvalTask:
    engine: str
    sequence: str  # folder path
    max_frames: int | None = None
    device: str = "cpu"
    threads: int | None = None  # None: the adaptive policy (Ray workers: 1, one worker per core)
    convention: str = "project"


def run_eval_task(task: EvalTask):
    """One engine over one sequence folder, scored; a SequenceEvaluation (never raises for bad input)."""
    from functools import partial

    from .evaluation.runner import evaluate_path
    from .registry import create_engine
    from .threads import ThreadGovernor

    governor = ThreadGovernor(task.threads)
    factory = partial(create_engine, task.engine, device=task.device)
    return evaluate_path(task.engine, factory, task.sequence, task.max_frames, governor, task.convention)


@dataclass(frozen=True)
class TrackTask:
    engine: str
    source: str
    box: tuple[float, float, float, float] | None = None  # None: the source's first ground-truth box
    frames: int | None = None
    device: str = "cpu"
    threads: int | None = None


def run_track_task(task: TrackTask):
    """Track one source; a TrackRun (its `failure` set where the source or box was refused)."""
    from .boxes import validate_init_box
    from .evaluation.runner import TrackRun, track_source
    from .registry import create_engine
    from .sources import open_source
    from .threads import ThreadGovernor

    empty = TrackRun(task.engine, Path(task.source).stem, 0, np.zeros((0, 4)), np.zeros(0), np.zeros(0), ())
    try:
        with open_source(task.source) as source:
            box = task.box
            if box is None:
                gt = source.ground_truth
                first = None if gt is None or len(gt.boxes) == 0 else np.asarray(gt.boxes[0], dtype=float)
                if first is None or np.isnan(first).any():
                    raise InputError(f"{source.path} has no ground-truth box for frame 0; give one in the list")
                box = tuple(float(v) for v in first)
            box = validate_init_box(box, source.frame(0).shape, f"{source.path}: initial box")
            engine = create_engine(task.engine, device=task.device)
            return track_source(engine, source, box, 0, task.frames, engine_name=task.engine,
                                governor=ThreadGovernor(task.threads))
    except InputError as exc:
        from dataclasses import replace

        return replace(empty, failure=str(exc))


def run_serial(fn: Callable, tasks: Sequence) -> Iterator[tuple[int, object]]:
    for i, task in enumerate(tasks):
        yield i, fn(task)


def run_on_ray(fn: Callable, tasks: Sequence, address: str | None = None,
               workers: int | None = None) -> Iterator[tuple[int, object]]:
    """Yield (task index, result) as Ray tasks finish. A local cluster started here is shut down after."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install -e '.[cluster]'") from None
    from .threads import usable_cores

    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            # Workers import this checkout's code, whatever the installed package points at.
            ray.init(num_cpus=workers or usable_cores(), include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}})
        started = True
    remote = ray.remote(num_cpus=1, max_retries=0)(fn)
    refs = {remote.remote(task): i for i, task in enumerate(tasks)}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield refs[ref], ray.get(ref)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def execute(fn: Callable, tasks: Sequence, use_ray: bool = False, address: str | None = None,
            workers: int | None = None, desc: str = "sequences") -> Iterator[tuple[int, object]]:
    """Run the tasks serially or on Ray, with a progress bar across the batch (on standard error)."""
    from .progress import progress_bar

    source = run_on_ray(fn, tasks, address, workers) if (use_ray or address) else run_serial(fn, tasks)
    with progress_bar(len(tasks), desc, unit="seq") as bar:
        for item in source:
            bar.update(1)
            yield item


def lines_in(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text().splitlines() if line.strip())
    except OSError:
        return -1


def complete_result(folder: Path, sequence: str, span: int) -> bool:
    """The three result files of a sequence are there with one line per frame (each was written atomically)."""
    return all(lines_in(folder / f"{sequence}{suffix}.txt") == span
               for suffix in ("", "_time", "_object_presence_scores"))


def evaluate_batch(engines: Iterable[str], sequences: Iterable[str | Path], results_root: str | Path | None = None,
                   max_frames: int | None = None, param: str = "default", run_id: int | None = None,
                   device: str = "cpu", threads: int | None = None, use_ray: bool = False,
                   address: str | None = None, workers: int | None = None, resume: bool = True,
                   convention: str = "project", log=lambda text: print(text, file=sys.stderr)) -> list:
    """`eval` over many sequences: one task per sequence and engine; same order and table as the serial run."""
    from .evaluation.runner import annotated_span, evaluate_result
    from .formats.pytracking import results_dir, write_sequence_result
    from .sources import open_source

    engines = list(engines)
    sequences = [str(p) for p in sequences]
    out: dict[tuple[int, int], object] = {}
    tasks, keys = [], []
    skipped = 0
    for s_i, path in enumerate(sequences):
        for e_i, name in enumerate(engines):
            if resume and results_root is not None:
                folder = results_dir(results_root, name, param, run_id)
                try:
                    with open_source(path) as source:
                        if complete_result(folder, source.name, annotated_span(source, max_frames)):
                            out[(e_i, s_i)] = evaluate_result(name, folder, source, max_frames, convention)
                            skipped += 1
                            continue
                except InputError:
                    pass  # the task reports it
            tasks.append(EvalTask(name, path, max_frames, device, 1 if (use_ray or address) and threads is None
                                  else threads, convention))
            keys.append((e_i, s_i))
    if skipped:
        log(f"skipped {skipped} sequence run(s) whose result files under {results_root} are complete")
    for i, ev in execute(run_eval_task, tasks, use_ray, address, workers):
        e_i, s_i = keys[i]
        out[(e_i, s_i)] = ev
        if ev.failure is None and results_root is not None:
            write_sequence_result(results_dir(results_root, engines[e_i], param, run_id), ev.sequence,
                                  ev.run.as_result())
        log(f"  {ev.engine} on {ev.sequence}: " + (f"AUC {ev.metrics.auc:.1f}, {ev.run.fps:.1f} frames/s"
                                                   if ev.failure is None else f"FAILED: {ev.failure}"))
    return [out[k] for k in sorted(out)]


def read_track_list(path: str | Path) -> list[tuple[str, tuple | None]]:
    """A batch list: one source per line, optionally followed by its box x,y,w,h; '#' starts a comment.
    Relative paths are relative to the list's folder."""
    from .commands.track import parse_box

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read batch list {path}: {exc.strerror or exc}") from exc
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        source = Path(parts[0]) if Path(parts[0]).is_absolute() else path.parent / parts[0]
        try:
            box = parse_box(parts[1]) if len(parts) > 1 else None
        except InputError as exc:
            raise InputError(f"{path}, line {number}: {exc}") from None
        items.append((str(source), box))
    if not items:
        raise InputError(f"{path}: the batch list names no sources")
    return items
