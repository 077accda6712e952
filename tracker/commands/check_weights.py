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


FITS, DOES_NOT_FIT, REFUSED = 0, 1, 2  # per file; the exit status is the worst of them


def describe(path: str) -> tuple[int, str]:
    """(verdict, text) for one file: FITS, DOES_NOT_FIT (a readable checkpoint of another network or shape),
    or REFUSED (not readable as a checkpoint at all: bad input)."""
    try:
        report = inspect_checkpoint(path)
    except CheckpointError as exc:
        return REFUSED, f"{exc}"
    if report.kind is None:
        return DOES_NOT_FIT, f"{path}: not a network KeepTrack uses: {report.how_identified}"
    head = f"{path}: {report.label}, identified from {report.how_identified}"
    if report.fits:
        return FITS, f"{head}\n  fits: {USED_BY[report.kind]}"
    return DOES_NOT_FIT, f"{head}\n  does NOT fit:\n" + "\n".join(f"    - {problem}" for problem in report.problems)


def run(args: argparse.Namespace) -> int:
    """0: every file fits; 1: some readable checkpoint does not fit; 2: some file was refused (bad input)."""
    worst = FITS
    for path in args.files:
        verdict, text = describe(path)
        worst = max(worst, verdict)
        print(text)
    return worst
