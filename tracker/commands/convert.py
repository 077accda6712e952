"""`python main.py convert INPUT [INPUT ...] --to FORMAT OUT`: annotations from any importable format
to any exportable one. With several inputs OUT is a folder and each input gets OUT/<sequence name>.

Multi-track inputs (MOT, COCO-VID) keep every track with its id and label; to a single-object format
(OTB, LaSOT, GOT-10k, VOT, pytracking) each track becomes its own sequence, named label-id, under OUT.
`--object-id N` takes just one track."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..formats.registry import FORMATS, detect_format, get_format, read_annotations, write_annotations


def add_arguments(parser: argparse.ArgumentParser) -> None:
    readable = ", ".join(n for n, f in FORMATS.items() if f.read)
    writable = ", ".join(n for n, f in FORMATS.items() if f.write)
    # argparse stops taking positionals at the first option, so `INPUT --to FORMAT OUT` would leave OUT
    # unclaimed: --to takes FORMAT plus any paths after it, and run() puts them back in order.
    parser.add_argument("paths", nargs="*", metavar="INPUT",
                        help=f"annotation files or folders ({readable}), then OUT: the output file or folder "
                             "(a folder when several inputs)")
    parser.add_argument("--to", required=True, nargs="+", metavar="FORMAT", help=f"output format: {writable}")
    parser.usage = ("main.py convert INPUT [INPUT ...] --to FORMAT OUT [--from FORMAT] [--object-id N] "
                    "[--frames N] [--video NAME]")
    parser.add_argument("--from", dest="source_format", metavar="FORMAT",
                        help="input format when it cannot be told from the name")
    parser.add_argument("--object-id", type=int, help="take only this track of a multi-track file (MOT, COCO-VID); "
                                                        "default: every track")
    parser.add_argument("--frames", type=int, help="sequence length, where the input cannot say (MOT)")
    parser.add_argument("--video", help="video to take from a COCO-VID file with several")


def _read_options(fmt: str, args) -> dict:
    opts = {}
    if args.object_id is not None:
        if fmt == "mot":
            opts["object_id"] = args.object_id
        elif fmt == "coco-vid":
            opts["instance_id"] = args.object_id
        else:
            raise InputError(f"--object-id applies to mot and coco-vid inputs, not {fmt}")
    if args.video is not None:
        if fmt != "coco-vid":
            raise InputError(f"--video applies to coco-vid input, not {fmt}")
        opts["video"] = args.video
    if args.frames is not None:
        if fmt != "mot":
            raise InputError(f"--frames applies to mot input, not {fmt}")
        opts["num_frames"] = args.frames
    return opts


def run(args) -> int:
    to, *more = args.to
    paths = list(args.paths) + more
    if len(paths) < 2:
        raise InputError("convert needs at least one INPUT and an OUT path: convert INPUT --to FORMAT OUT")
    *inputs, out = paths
    if get_format(to).write is None:  # refuse a bad output format before reading anything
        raise InputError(f"format {to} cannot be written")
    out = Path(out)
    several = len(inputs) > 1
    written_to: set[Path] = set()
    for inp in inputs:
        fmt = args.source_format or detect_format(inp)
        doc = read_annotations(inp, fmt, **_read_options(fmt, args))
        target = get_format(to).batch_target(out, doc.name) if several else out
        if several:
            stem, k = target, 2
            while target in written_to:  # two inputs with the same sequence name must not overwrite each other
                target = stem.with_name(f"{stem.stem}-{k}{stem.suffix}")
                k += 1
            written_to.add(target)
        written = write_annotations(doc, target, to)
        tracks = [doc.track(t.id) for t in doc.targets]
        n_boxes = sum(int((~t.absent() & t.annotated()).sum()) for t in tracks)
        n_absent = sum(int(t.absent().sum()) for t in tracks)
        many = f"{len(tracks)} targets, " if len(tracks) > 1 else ""
        print(f"{inp} ({fmt}, {len(doc)} frames, {many}{n_boxes} boxes, {n_absent} absent) -> {written} ({to})")
    return 0
