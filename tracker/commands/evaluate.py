"""`main.py eval SEQ_DIR... [--engines csrt,kcf] [--results-from NAME=DIR ...] [--results DIR]
[--plots DIR [--attributes DIR]] [--convention project|pytracking] [--max-frames N] [--threads N|auto]
[--ray | --ray-address ADDR] [--no-resume] [--protocol ope|sre|tre]`

One-pass evaluation: each engine starts from each sequence's first evaluated ground-truth box
(OTB cfg.json's startFrame where it says one) and tracks to the end; the table gives AUC, precision at
20 px, normalised precision at 0.2 and frames per second per sequence and the mean per engine.
Published raw results in pytracking's layout (`DIR/<sequence>.txt`) are ranked in the same table with
--results-from. The boxes scored are exactly the boxes written with --results
(DIR/<engine>/<param>[_<run id>]/<sequence>.txt, plus _time.txt and _object_presence_scores.txt);
a rerun skips the sequences whose files are complete. With --ray each sequence and engine is one Ray
task (tracker.batch); a sequence that fails is a FAILED row and the others go on.
--plots DIR draws success, precision and normalised-precision plots, per-attribute success plots (OTB's
attributes, or LaSOT's with --attributes DIR, the toolkit's annos/att folder) and a per-sequence table.
--protocol sre|tre runs the robustness protocols of tracker/evaluation/protocols.py instead (12 perturbed
first boxes, or 20 later start frames) and reports mean AUC, the worst run and the runs lost.
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..batch import evaluate_batch
from ..errors import InputError
from ..evaluation.attributes import lasot_attributes
from ..evaluation.metrics import CONVENTIONS
from ..evaluation.runner import evaluate_engines, format_table
from ..nets.onnx_backend import use_backend_for_process
from ..registry import create_engine, engine_info
from ..sources import open_source
from ..threads import requested_threads

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
    parser.add_argument("--attributes", metavar="DIR",
                        help="LaSOT attribute files for --plots (the LaSOT toolkit's annos/att folder, "
                             "<sequence>.txt each); OTB attributes come with the sequences")
    parser.add_argument("--convention", choices=CONVENTIONS, default="project",
                        help="normalised precision on frames without a valid box: 'project' counts them as "
                             "failures (default), 'pytracking' as successes (pytracking's rule)")
    parser.add_argument("--threads", help="torch threads per run: a number, or 'auto' (default; follows the load; "
                                          "Ray workers default to 1)")
    parser.add_argument("--ray", action="store_true", help="run one task per sequence and engine on a local Ray "
                                                           "cluster, one worker per core (pip install -e .[cluster])")
    parser.add_argument("--ray-address", help="join a running Ray cluster at ADDR instead")
    parser.add_argument("--workers", type=int, help="local Ray workers (default: one per core)")
    parser.add_argument("--no-resume", action="store_true",
                        help="re-run sequences whose result files under --results are already complete")
    parser.add_argument("--backend", choices=("auto", "onnx", "torch"),
                        help="keeptrack-lite's feature stage: auto (ONNX Runtime where it holds, else torch; the "
                             "default), onnx, or torch (the reference path); also $KEEPTRACK_BACKEND")
    parser.add_argument("--protocol", default="ope", choices=("ope", "sre", "tre"),
                        help="ope: one pass from the first box (default); sre: 12 perturbed first boxes; "
                             "tre: 20 start frames spread over the sequence")


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


def _attributes(sequences: list[str], lasot_folder: str | None = None) -> dict[str, tuple[str, ...]]:
    """sequence -> attribute codes: the sequence's own (OTB), and LaSOT's from `lasot_folder`."""
    found = {}
    for path in sequences:
        try:
            source = open_source(path)
        except InputError:
            continue  # its evaluation is a FAILED row that says why
        with source:
            found[source.name] = tuple(getattr(source, "attributes", ()))
    if lasot_folder is not None:
        for name, codes in lasot_attributes(lasot_folder, list(found)).items():
            found[name] = tuple(dict.fromkeys((*found[name], *codes)))
    return found


def run(args: argparse.Namespace) -> int:
    use_backend_for_process(args.backend)
    published = parse_results_from(args.results_from)
    spec = args.engines if args.engines is not None else ("" if published else DEFAULT_ENGINES)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names and not published:
        raise InputError("--engines is empty; name at least one engine (or give --results-from)")
    if args.max_frames is not None and args.max_frames < 2:
        raise InputError(f"--max-frames must be at least 2 (the first frame only initialises); got {args.max_frames}")
    for name in names:
        engine_info(name)  # unknown names fail before any tracking
    if args.protocol != "ope":
        if published or args.ray or args.ray_address or args.plots:
            raise InputError(f"--protocol {args.protocol} runs engines here, one by one; --results-from, --ray and "
                             "--plots apply to the one-pass protocol")
        return _run_protocol(args, {name: partial(create_engine, name, device=args.device) for name in names})
    if args.attributes and not args.plots:
        raise InputError("--attributes gives the per-attribute plots of --plots; add --plots DIR")
    attributes = _attributes(args.sequences, args.attributes) if args.plots else None  # bad files fail first
    clash = set(published) & set(names)
    if clash:
        raise InputError(f"{', '.join(sorted(clash))}: named both as an engine and as --results-from")
    # Published results need no tracking: read and scored first, so that a bad file fails before minutes of
    # tracking are spent (and lost); ranked after the engines, by name then sequence.
    published_evaluations = evaluate_engines({}, args.sequences, max_frames=args.max_frames, results_from=published,
                                             convention=args.convention)
    evaluations = evaluate_batch(names, args.sequences, results_root=args.results, max_frames=args.max_frames,
                                 param=args.param, run_id=args.run_id, device=args.device,
                                 threads=requested_threads(args.threads), use_ray=args.ray,
                                 address=args.ray_address, workers=args.workers, resume=not args.no_resume,
                                 convention=args.convention)
    evaluations += published_evaluations
    sys.stdout.write(format_table(evaluations, convention=args.convention))
    if args.results:
        print(f"result files written under {args.results}", file=sys.stderr)
    if args.plots:
        from ..evaluation.plots import write_plots

        scored = [ev for ev in evaluations if ev.failure is None]
        written = write_plots(args.plots, scored, attributes, convention=args.convention)
        print(f"{len(written)} plot and table files written to {args.plots}", file=sys.stderr)
    return 0


def _run_protocol(args: argparse.Namespace, factories) -> int:
    from ..evaluation.protocols import evaluate_protocol, format_protocol_table

    if args.results:
        raise InputError(f"--results writes one-pass result files; it cannot be combined with --protocol {args.protocol}")

    def progress(ev) -> None:
        print(f"  {ev.engine} on {ev.sequence}: {args.protocol.upper()} AUC {ev.auc:.1f} over {len(ev.runs)} runs, "
              f"{ev.lost} lost", file=sys.stderr, flush=True)

    evaluations = evaluate_protocol(factories, args.sequences, args.protocol, max_frames=args.max_frames,
                                    progress=progress)
    sys.stdout.write(format_protocol_table(evaluations))
    return 0
