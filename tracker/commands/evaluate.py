"""`main.py eval SEQ_DIR... --engines csrt,kcf [--results DIR] [--max-frames N] [--protocol ope|sre|tre]`

One-pass evaluation: each engine starts from each sequence's first ground-truth box and tracks to the
end; the table gives AUC, precision at 20 px, normalised precision at 0.2 and frames per second per
sequence and the mean per engine. With --results, pytracking result files are written to
DIR/<engine>/<param>[_<run id>]/<sequence>.txt (plus _time.txt and _object_presence_scores.txt).
--protocol sre|tre runs the robustness protocols of tracker/evaluation/protocols.py instead (12 perturbed
first boxes, or 20 later start frames) and reports mean AUC, the worst run and the runs lost.
"""
from __future__ import annotations

import argparse
import sys
from functools import partial

from ..errors import InputError
from ..evaluation.runner import evaluate_engines, format_table
from ..registry import create_engine, engine_info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sequences", nargs="+", help="annotated sequence folders (OTB, LaSOT, GOT-10k)")
    parser.add_argument("--engines", default="csrt,kcf,mil,nanotrack", help="comma-separated engine names")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--results", help="root folder for pytracking-style result files")
    parser.add_argument("--param", default="default", help="parameter-set name in the result path (default 'default')")
    parser.add_argument("--run-id", type=int, help="run number appended to the parameter folder as _NNN")
    parser.add_argument("--max-frames", type=int, help="evaluate only the first N frames of each sequence")
    parser.add_argument("--protocol", default="ope", choices=("ope", "sre", "tre"),
                        help="ope: one pass from the first box (default); sre: 12 perturbed first boxes; "
                             "tre: 20 start frames spread over the sequence")


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    if not names:
        raise InputError("--engines is empty; name at least one engine")
    if args.max_frames is not None and args.max_frames < 2:
        raise InputError(f"--max-frames must be at least 2 (the first frame only initialises); got {args.max_frames}")
    for name in names:
        engine_info(name)  # unknown names fail before any tracking
    factories = {name: partial(create_engine, name, device=args.device) for name in names}
    if args.protocol != "ope":
        return _run_protocol(args, factories)

    def progress(ev) -> None:
        print(f"  {ev.engine} on {ev.sequence}: AUC {ev.metrics.auc:.1f}, {ev.run.fps:.1f} frames/s",
              file=sys.stderr, flush=True)

    evaluations = evaluate_engines(factories, args.sequences, results_root=args.results,
                                   max_frames=args.max_frames, param=args.param, run_id=args.run_id,
                                   progress=progress)
    sys.stdout.write(format_table(evaluations))
    if args.results:
        print(f"result files written under {args.results}", file=sys.stderr)
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
