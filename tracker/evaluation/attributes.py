"""Sequence attributes for per-attribute plots: OTB's come with the sequence (attrs.txt / cfg.json, read by
the sequence source); LaSOT's live in its evaluation toolkit, one file per sequence (`annos/att/<seq>.txt`):
14 comma-separated 0/1 flags in the toolkit's order (LASOT_ATTRIBUTES), read here."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError
from ..formats.boxtext import read_labels

LASOT_ATTRIBUTES: tuple[tuple[str, str], ...] = (  # (code, name) in the order of LaSOT's att files
    ("IV", "Illumination Variation"), ("POC", "Partial Occlusion"), ("DEF", "Deformation"),
    ("MB", "Motion Blur"), ("CM", "Camera Motion"), ("ROT", "Rotation"), ("BC", "Background Clutter"),
    ("VC", "Viewpoint Change"), ("SV", "Scale Variation"), ("FOC", "Full Occlusion"), ("FM", "Fast Motion"),
    ("OV", "Out-of-View"), ("LR", "Low Resolution"), ("ARC", "Aspect Ratio Change"),
)


def read_lasot_attributes(path: str | Path) -> tuple[str, ...]:
    """The attribute codes a LaSOT att file sets (InputError naming the file where it is not 14 flags)."""
    flags = read_labels(path, range(0, 2), one_per_line=False)
    if len(flags) != len(LASOT_ATTRIBUTES):
        raise InputError(f"{path}: {len(flags)} flags; a LaSOT attribute file has {len(LASOT_ATTRIBUTES)} "
                         f"({', '.join(code for code, _ in LASOT_ATTRIBUTES)})")
    return tuple(code for (code, _), flag in zip(LASOT_ATTRIBUTES, flags) if flag)


def lasot_attributes(folder: str | Path, sequences: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """sequence -> attribute codes, from `folder/<sequence>.txt` (the toolkit's annos/att folder). Every
    sequence needs its file: a plot over part of them would be mislabelled."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of LaSOT attribute files (annos/att/<sequence>.txt)")
    found = {}
    for name in sequences:
        path = folder / f"{name}.txt"
        if not path.is_file():
            raise InputError(f"{path}: no attribute file for sequence {name} in {folder}")
        found[name] = read_lasot_attributes(path)
    return found
