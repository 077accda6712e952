"""`main.py eval SEQ_DIR... --engines csrt,kcf [--results DIR] [--max-frames N] [--threads N|auto]
[--ray | --ray-address ADDR] [--no-resume]`

One-pass evaluation: each engine starts from each sequence's first ground-truth box and tracks to the
end; the table gives AUC, precision at 20 px, normalised precision at 0.2 and frames per second per
sequence and the mean per engine. With --results, pytracking result files are written to
DIR/<engine>/<param>[_<run id>]/<sequence>.txt (plus _time.txt and _object_presence_scores.txt);
a rerun skips the sequences whose files are complete. With --ray each sequence and engine is one Ray task
(tracker.batch); a sequence that fails is a FAILED row and the others go on.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from ..batch import evaluate_batch
from ..evaluation.runner import format_table
from ..registry import engine_info
from ..threads import requested_threads


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sequences", nargs="+", help="annotated sequence folders (OTB, LaSOT, GOT-10k)")
    parser.add_argument("--engines", default="csrt,kcf,mil,nanotrack", help="comma-separated engine names")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--results", help="root folder for pytracking-style result files")
    parser.add_argument("--param", default="default", help="parameter-set name in the result path (default 'default')")
    parser.add_argument("--run-id", type=int, help="run number appended to the parameter folder as _NNN")
    parser.add_argument("--max-frames", type=int, help="evaluate only the first N frames of each sequence")
    parser.add_argument("--threads", help="torch threads per run: a number, or 'auto' (default; follows the load; "
                                          "Ray workers default to 1)")
    parser.add_argument("--ray", action="store_true", help="run one task per sequence and engine on a local Ray "
                                                           "cluster, one worker per core (pip install -e .[cluster])")
    parser.add_argument("--ray-address", help="join a running Ray cluster at ADDR instead")
    parser.add_argument("--workers", type=int, help="local Ray workers (default: one per core)")
    parser.add_argument("--no-resume", action="store_true",
                        help="re-run sequences whose result files under --results are already complete")


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    if not names:
        raise InputError("--engines is empty; name at least one engine")
    if args.max_frames is not None and args.max_frames < 2:
        raise InputError(f"--max-frames must be at least 2 (the first frame only initialises); got {args.max_frames}")
    for name in names:
        engine_info(name)  # unknown names fail before any tracking
    evaluations = evaluate_batch(names, args.sequences, results_root=args.results, max_frames=args.max_frames,
                                 param=args.param, run_id=args.run_id, device=args.device,
                                 threads=requested_threads(args.threads), use_ray=args.ray,
                                 address=args.ray_address, workers=args.workers, resume=not args.no_resume)
    sys.stdout.write(format_table(evaluations))
    if args.results:
        print(f"result files written under {args.results}", file=sys.stderr)
    return 0
