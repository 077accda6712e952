"""`main.py eval SEQ_DIR... [--engines csrt,kcf] [--results-from NAME=DIR ...] [--results DIR]
[--plots DIR] [--convention project|pytracking] [--max-frames N]`

One-pass evaluation: each engine starts from each sequence's first evaluated ground-truth box
(OTB cfg.json's startFrame where it says one) and tracks to the end; the table gives AUC, precision at
20 px, normalised precision at 0.2 and frames per second per sequence and the mean per engine.
Published raw results in pytracking's layout (`DIR/<sequence>.txt`) are ranked in the same table with
--results-from. The boxes scored are exactly the boxes written with --results
(DIR/<engine>/<param>[_<run id>]/<sequence>.txt, plus _time.txt and _object_presence_scores.txt).
--plots DIR draws success, precision and normalised-precision plots, per-attribute success plots and
a per-sequence table.
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..errors import InputError
from ..evaluation.metrics import CONVENTIONS
from ..evaluation.runner import count_frames, evaluate_engines, format_table
from ..progress import progress_bar
from ..registry import create_engine, engine_info
from ..sources import open_source

DEFAULT_ENGINES = "csrt,kcf,mil,nanotrack"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sequences", nargs="+", help="annotated sequence folders (OTB, LaSOT, GOT-10k)")
    parser.add_argument("--engines", help=f"comma-separated engine names (default {DEFAULT_ENGINES}, "
                                          "or none when --results-from is given)")
    parser.add_argument("--results-from", action="append", default=[], metavar="NAME=DIR",
                        help="published results in pytracking's layout (DIR/<sequence>.txt), ranked as NAME; "
                             "repeatable")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--results", help="root folder for pytracking-style result files")
    parser.add_argument("--param", default="default", help="parameter-set name in the result path (default 'default')")
    parser.add_argument("--run-id", type=int, help="run number appended to the parameter folder as _NNN")
    parser.add_argument("--max-frames", type=int, help="evaluate only the first N frames of each sequence")
    parser.add_argument("--plots", help="folder for success/precision plots (PNG, PDF) and the per-sequence table")
    parser.add_argument("--convention", choices=CONVENTIONS, default="project",
                        help="normalised precision on frames without a valid box: 'project' counts them as "
                             "failures (default), 'pytracking' as successes (pytracking's rule)")


def parse_results_from(specs: list[str]) -> dict[str, Path]:
    """['NAME=DIR', ...] -> {NAME: DIR}; each DIR must be a folder."""
    found: dict[str, Path] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        name = name.strip()
        if not sep or not name or not folder:
            raise InputError(f"--results-from needs NAME=DIR; got {spec!r}")
        if name in found:
            raise InputError(f"--results-from names {name!r} twice")
        path = Path(folder)
        if not path.is_dir():
            raise InputError(f"--results-from {name}: {path} is not a folder")
        found[name] = path
    return found


def _attributes(sequences: list[str]) -> dict[str, tuple[str, ...]]:
    found = {}
    for path in sequences:
        with open_source(path) as source:
            found[source.name] = tuple(getattr(source, "attributes", ()))
    return found


def run(args: argparse.Namespace) -> int:
    published = parse_results_from(args.results_from)
    spec = args.engines if args.engines is not None else ("" if published else DEFAULT_ENGINES)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names and not published:
        raise InputError("--engines is empty; name at least one engine (or give --results-from)")
    if args.max_frames is not None and args.max_frames < 2:
        raise InputError(f"--max-frames must be at least 2 (the first frame only initialises); got {args.max_frames}")
    for name in names:
        engine_info(name)  # unknown names fail before any tracking
    factories = {name: partial(create_engine, name, device=args.device) for name in names}

    bar = progress_bar(None, "eval")
    if not bar.disable and factories:  # the total costs a pass over the sequence folders: only for a terminal
        bar.total = count_frames(args.sequences, args.max_frames) * len(factories)
        bar.refresh()

    def progress(ev) -> None:
        line = f"  {ev.engine} on {ev.sequence}: AUC {ev.metrics.auc:.1f}, {ev.run.fps:.1f} frames/s"
        if bar.disable:
            print(line, file=sys.stderr, flush=True)
        else:
            bar.write(line, file=sys.stderr)  # above the bar, which stays at the bottom

    def on_frame(index, box) -> None:
        bar.update(1)

    try:
        evaluations = evaluate_engines(factories, args.sequences, results_root=args.results,
                                       max_frames=args.max_frames, param=args.param, run_id=args.run_id,
                                       progress=progress, results_from=published, convention=args.convention,
                                       on_frame=on_frame)
    finally:
        bar.close()
    sys.stdout.write(format_table(evaluations, convention=args.convention))
    if args.results:
        print(f"result files written under {args.results}", file=sys.stderr)
    if args.plots:
        from ..evaluation.plots import write_plots

        written = write_plots(args.plots, evaluations, _attributes(args.sequences), convention=args.convention)
        print(f"{len(written)} plot and table files written to {args.plots}", file=sys.stderr)
    return 0
