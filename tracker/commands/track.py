"""`main.py track SOURCE [--engine NAME] [--box x,y,w,h] [--out FILE] [--frames N]
[--base-weights F --association-weights F] [--bf16] [--compile]`

Tracks one video, image folder or benchmark sequence forward from frame 0 and writes one box per
frame (the first included) in pytracking's result format: `x<TAB>y<TAB>w<TAB>h`, rounded to 1/1000 px
(integral values without a point), one line per frame. Without --out the boxes go to standard output. A frame that cannot be
read ends the run: the boxes before it are written, the error names the frame, and the exit status is 1.

`main.py track --batch LIST --out DIR [--ray | --ray-address ADDR]` tracks every source of LIST (one per
line, optionally followed by its box x,y,w,h) into DIR/<name>.txt (tracker.batch); complete files are skipped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..boxes import validate_init_box
from ..errors import InputError
from ..evaluation.runner import track_source
from ..formats.pytracking import format_boxes, write_boxes
from ..nets.onnx_backend import use_backend_for_process
from ..progress import progress_bar
from ..registry import DEFAULT_ENGINE, create_engine, engine_info
from ..sources import open_source
from ..threads import governor_for_run


def parse_box(text: str) -> tuple[float, float, float, float]:
    """'x,y,w,h' (commas or spaces) -> four floats; InputError otherwise."""
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise InputError(f"--box must be four numbers x,y,w,h; got {text!r}")
    return values  # type: ignore[return-value]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", nargs="?", help="video file, image folder, or benchmark sequence folder")
    parser.add_argument("--batch", help="a list of sources, one per line, each optionally followed by its box "
                                        "x,y,w,h (default: its first ground-truth box); --out is then a folder")
    parser.add_argument("--ray", action="store_true", help="--batch: one Ray task per source on a local cluster")
    parser.add_argument("--ray-address", help="--batch: join a running Ray cluster at ADDR")
    parser.add_argument("--engine", default=DEFAULT_ENGINE, help=f"engine name (default {DEFAULT_ENGINE})")
    parser.add_argument("--box", help="initial box x,y,w,h in pixels (default: the sequence's first ground-truth box)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--out", help="result file to write (default: standard output)")
    parser.add_argument("--frames", type=int, help="track at most N frames (the first included)")
    parser.add_argument("--base-weights", help="keeptrack engines: super_dimp_simple.pth.tar (super_dimp.pth.tar)")
    parser.add_argument("--association-weights", help="keeptrack engines: keep_track.pth.tar")
    parser.add_argument("--bf16", action="store_true",
                        help="keeptrack engines: opt-in bfloat16 features (~2x faster on CPU, not the reference numbers)")
    parser.add_argument("--compile", action="store_true",
                        help="keeptrack engines: opt-in torch.compile of the feature stage (needs a C++ compiler)")
    parser.add_argument("--backend", choices=("auto", "onnx", "torch"),
                        help="keeptrack-lite's feature stage: auto (ONNX Runtime where it holds, else torch; the "
                             "default), onnx, or torch (the reference path); also $KEEPTRACK_BACKEND")
    parser.add_argument("--threads", help="torch threads: a number, or 'auto' (default; follows the load; "
                                          "also $KEEPTRACK_THREADS)")


def keeptrack_options(args: argparse.Namespace) -> dict:
    """The weight files and opt-in fast paths given on the command line, for the keeptrack engines only."""
    options = {"base_weights": args.base_weights, "association_weights": args.association_weights,
               "bf16": args.bf16 or None, "compile": args.compile or None}
    options = {k: v for k, v in options.items() if v is not None}
    if options and not engine_info(args.engine).needs_weights:
        flags = ", ".join("--" + k.replace("_", "-") for k in options)
        raise InputError(f"{flags} apply to the keeptrack, keeptrack-fast and superdimp engines, not {args.engine}")
    return options


def check_out_file(path: str | None) -> None:
    """Fail before any tracking where the result file's folder is missing."""
    if path:
        folder = Path(path).parent
        if not folder.is_dir():
            raise InputError(f"--out {path}: the folder {folder} does not exist; create it first")


def run(args: argparse.Namespace) -> int:
    use_backend_for_process(args.backend)
    if args.frames is not None and args.frames < 1:
        raise InputError(f"--frames must be at least 1; got {args.frames}")
    if args.batch:
        return run_batch(args)
    if args.source is None:
        raise InputError("name a source to track, or a list of them with --batch LIST")
    check_out_file(args.out)
    governor = governor_for_run(args.threads)
    with open_source(args.source) as source:
        if args.box is not None:
            box = parse_box(args.box)
        else:
            gt = source.ground_truth
            first = None if gt is None or len(gt.boxes) == 0 else np.asarray(gt.boxes[0], dtype=float)
            if first is None or np.isnan(first).any():
                raise InputError(f"{source.path} has no ground-truth box for frame 0; give one with --box x,y,w,h")
            box = tuple(float(v) for v in first)
        # Checked against the real frame before any engine sees it (a huge box overflows crop arithmetic).
        box = validate_init_box(box, source.frame(0).shape,
                                "--box" if args.box is not None else f"{source.path}: ground-truth box of frame 0")
        engine = create_engine(args.engine, device=args.device, **keeptrack_options(args))
        total = len(source) if args.frames is None else min(len(source), args.frames)
        with progress_bar(total, f"track {args.engine}") as bar:
            run_ = track_source(engine, source, box, 0, args.frames, engine_name=args.engine,
                                on_frame=lambda index, box_: bar.update(1), governor=governor)
    if run_.num_frames == 0:  # nothing tracked: the first frame or the box was refused
        raise InputError(run_.failure or f"{source.path}: nothing was tracked")
    if args.out:
        write_boxes(args.out, run_.boxes)
    else:
        sys.stdout.write(format_boxes(run_.boxes))
    print(f"{args.engine}: {run_.num_frames} frames of {source.name}, {run_.fps:.1f} frames/s, "
          f"{run_.not_found} reported lost" + (f"; boxes written to {args.out}" if args.out else "")
          + f" ({governor.choice.reason})", file=sys.stderr)
    if run_.failure is not None:
        print(f"error: stopped after {run_.num_frames} frames: {run_.failure}", file=sys.stderr)
        return 1
    return 0


def run_batch(args: argparse.Namespace) -> int:
    """`track --batch LIST --out DIR`: DIR/<source name>.txt per source; complete files are skipped."""
    from ..batch import TrackTask, execute, lines_in, read_track_list, run_track_task
    from ..threads import requested_threads

    if not args.out:
        raise InputError("--batch needs --out DIR, the folder for one result file per source")
    if keeptrack_options(args):
        raise InputError("--batch runs engines with their installed weights; weight and fast-path flags "
                         "apply to a single track")
    out = Path(args.out)
    if not out.is_dir():
        raise InputError(f"--out {out}: the folder does not exist; create it first")
    items = read_track_list(args.batch)
    names = [Path(src).stem if Path(src).is_file() else Path(src).name for src, _ in items]
    if len(set(names)) != len(names):
        raise InputError(f"{args.batch}: two sources share a name; their result files would collide")
    threads = requested_threads(args.threads)
    use_ray = bool(args.ray or args.ray_address)
    tasks, todo_names, skipped = [], [], 0
    for (src, box), name in zip(items, names):
        try:
            with open_source(src) as source:
                span = len(source) if args.frames is None else min(len(source), args.frames)
        except InputError:
            span = None  # the task reports it
        if span is not None and lines_in(out / f"{name}.txt") == span:
            skipped += 1
            continue
        tasks.append(TrackTask(args.engine, src, box, args.frames, args.device,
                               1 if use_ray and threads is None else threads))
        todo_names.append(name)
    if skipped:
        print(f"skipped {skipped} source(s) whose result files in {out} are complete", file=sys.stderr)
    failed = 0
    for i, run_ in execute(run_track_task, tasks, use_ray, args.ray_address, desc="sources"):
        name = todo_names[i]
        if run_.num_frames:
            write_boxes(out / f"{name}.txt", run_.boxes)
        state = f"FAILED after {run_.num_frames} frames: {run_.failure}" if run_.failure else "done"
        failed += run_.failure is not None
        print(f"  {name}: {run_.num_frames} frames, {run_.fps:.1f} frames/s, {state}", file=sys.stderr)
    print(f"{len(tasks) - failed} of {len(items)} sources tracked now, {skipped} skipped, {failed} failed; "
          f"results in {out}", file=sys.stderr)
    return 1 if failed else 0
