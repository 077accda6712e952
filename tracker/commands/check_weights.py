"""`main.py check-weights FILE...`: say what each checkpoint file is, whether it fits this implementation, and why not.
Files are read with the restricted loader of tracker.checkpoints (nothing in them is executed)."""
from __future__ import annotations

import argparse

from ..checkpoints import KEEP_TRACK, SUPER_DIMP, SUPER_DIMP_SIMPLE, inspect_checkpoint
from ..errors import CheckpointError

USED_BY = {
    SUPER_DIMP_SIMPLE: "base network of the keeptrack and keeptrack-fast engines",
    SUPER_DIMP: "base network of the superdimp engine (KeepTrack itself needs super_dimp_simple.pth.tar)",
    KEEP_TRACK: "association network of the keeptrack and keeptrack-fast engines",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="checkpoint files (*.pth.tar)")


def describe(path: str) -> tuple[bool, str]:
    """(fits, text) for one file."""
    try:
        report = inspect_checkpoint(path)
    except CheckpointError as exc:
        return False, f"{exc}"
    if report.kind is None:
        return False, f"{path}: not a network KeepTrack uses: {report.how_identified}"
    head = f"{path}: {report.label}, identified from {report.how_identified}"
    if report.fits:
        return True, f"{head}\n  fits: {USED_BY[report.kind]}"
    return False, f"{head}\n  does NOT fit:\n" + "\n".join(f"    - {problem}" for problem in report.problems)


def run(args: argparse.Namespace) -> int:
    all_fit = True
    for path in args.files:
        fits, text = describe(path)
        all_fit &= fits
        print(text)
    return 0 if all_fit else 1
