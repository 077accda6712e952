"""The project's scoreboard: engines over the OTB sequences in ../shared/data/otb, one pass each.

    .venv/bin/python bench/scoreboard.py [--engines csrt,kcf] [--max-frames N] [--results DIR] [--data DIR]
                                         [--no-sre]

Prints per-sequence AUC, precision at 20 px, normalised precision and the median time per tracked
frame, and the mean per engine (tracker.evaluation.runner does the work, as for `main.py eval`), then the
SRE table (12 perturbed first boxes per sequence: mean AUC, worst run, runs lost; tracker/evaluation/protocols.py,
as `main.py eval --protocol sre`). SRE costs 12 one-pass runs per engine and sequence.
By default every registered engine that needs no weight files and can be created here runs;
engines that cannot be created are listed with the reason. Times depend on the machine and on what
else runs on it: quote them with the machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.errors import InputError  # noqa: E402
from tracker.evaluation.runner import evaluate_engines, format_table  # noqa: E402
from tracker.paths import shared_dir  # noqa: E402
from tracker.registry import available_engines, create_engine, engine_info  # noqa: E402


def usable_engines(names: list[str] | None, device: str) -> tuple[dict, dict[str, str]]:
    """Factories for the engines that can be created, and the reason for each that cannot."""
    if names is None:
        names = [e.name for e in available_engines() if not e.needs_weights]
    factories, skipped = {}, {}
    for name in names:
        try:
            engine_info(name)
            create_engine(name, device=device)  # a trial: import errors, missing files
        except (InputError, ImportError, OSError) as exc:
            skipped[name] = f"{type(exc).__name__}: {exc}"
            continue
        factories[name] = partial(create_engine, name, device=device)
    return factories, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", help="comma-separated engine names (default: all that need no weights)")
    parser.add_argument("--data", help="folder of sequence folders (default ../shared/data/otb)")
    parser.add_argument("--max-frames", type=int, help="only the first N frames of each sequence")
    parser.add_argument("--results", help="also write pytracking result files under this folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-sre", action="store_true", help="one-pass table only")
    args = parser.parse_args(argv)

    data = Path(args.data) if args.data else (shared_dir() / "data" / "otb" if shared_dir() else None)
    if data is None or not data.is_dir():
        print("no sequence folder: pass --data DIR (../shared/data/otb is absent)", file=sys.stderr)
        return 2
    sequences = sorted(p for p in data.iterdir() if p.is_dir())
    names = [n.strip() for n in args.engines.split(",") if n.strip()] if args.engines else None
    factories, skipped = usable_engines(names, args.device)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}", file=sys.stderr)
    if not factories:
        print("no engine could be created", file=sys.stderr)
        return 2

    def progress(ev) -> None:
        print(f"  {ev.engine:>14s} {ev.sequence:<12s} AUC {ev.metrics.auc:5.1f}", file=sys.stderr, flush=True)

    try:
        evaluations = evaluate_engines(factories, sequences, results_root=args.results,
                                       max_frames=args.max_frames, progress=progress)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"# OTB one-pass evaluation, {len(sequences)} sequences from {data}"
          + (f", first {args.max_frames} frames" if args.max_frames else ""))
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"# {platform.machine()}, {os.cpu_count()} CPU cores{load}, Python {platform.python_version()}; "
          "AUC/Prec/NPrec in %, med ms = median seconds x 1000 per tracked frame (engine time only)")
    sys.stdout.write(format_table(evaluations, ("auc", "precision", "norm_precision", "median_ms", "not_found")))
    if not args.no_sre:
        from tracker.evaluation.protocols import evaluate_protocol, format_protocol_table

        def sre_progress(ev) -> None:
            print(f"  {ev.engine:>14s} {ev.sequence:<12s} SRE AUC {ev.auc:5.1f}, {ev.lost} lost", file=sys.stderr,
                  flush=True)

        sre = evaluate_protocol(factories, sequences, "sre", max_frames=args.max_frames, progress=sre_progress)
        print("\n# SRE: 12 runs per sequence from perturbed first boxes (8 shifts by 10% of the side, scales "
              "0.8 0.9 1.1 1.2); lost = last-fifth mean IoU < 0.1")
        sys.stdout.write(format_protocol_table(sre))
    return 0


if __name__ == "__main__":
    sys.exit(main())
