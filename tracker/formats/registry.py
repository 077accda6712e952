"""Annotation formats by name: how to read one into an AnnotationDocument and write a document out.

Used by `python main.py convert` and by the studio's import/export menu. Each entry adapts one
format module (one module per format; OTB, LaSOT and GOT-10k live in foundation-io's modules,
pytracking result files in foundation-eval's), imported only when used.

Ground-truth formats import as manual annotations (a person made them); pytracking result files
import as tracked boxes. What a format cannot hold is lost on export and says so in `carries`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class AnnotationFormat:
    name: str
    description: str
    read: Callable[..., object] | None  # (path, **options) -> AnnotationDocument
    write: Callable[..., Path] | None  # (document, path, **options) -> path written
    target: str  # what the path names: "file", "folder" or "file or folder"
    carries: str  # what survives a round trip


def _module(name: str):
    try:
        return importlib.import_module(f"tracker.formats.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"tracker.formats.{name}":
            raise InputError(f"the {name} format module (tracker/formats/{name}.py) is not in this build") from None
        raise


def _document_from_gt(gt, path: Path, provenance=None, engine=None, presence=None, name=None):
    from ..annotation.document import AnnotationDocument, Provenance

    seq = name or (path.parent.name if path.is_file() else path.name)
    doc = AnnotationDocument.from_arrays(gt.boxes, gt.absent, provenance=provenance or Provenance.MANUAL,
                                         engine=engine, presence=presence, name=seq)
    return doc


# ---- ground-truth formats written as (boxes, absent) through their modules
def _gt_reader(module: str):
    def read(path, **options):
        path = Path(path)
        gt = _module(module).read_ground_truth(path, **options)
        return _document_from_gt(gt, path)

    return read


def _gt_writer(module: str, with_name: bool = False, with_size: bool = False):
    def write(doc, path, **options):
        path = Path(path)
        if with_name:
            options.setdefault("name", doc.name)
        if with_size and doc.image_size is not None:
            options.setdefault("image_size", doc.image_size)
        written = _module(module).write_ground_truth(path, doc.boxes(), doc.absent(), **options)
        return Path(written) if written is not None else path

    return write


# ---- pytracking result files (foundation-eval's module), tracked boxes with presence scores
def _read_pytracking(path, engine: str | None = None, **options):
    from ..annotation.document import Provenance

    path = Path(path)
    mod = _module("pytracking")
    res = mod.read_results(path, **options)
    boxes, presence = res.boxes, getattr(res, "presence", None)
    absent = ~np.all(np.isfinite(boxes) & (boxes[:, 2:3] > 0) & (boxes[:, 3:4] > 0), axis=1) \
        if len(boxes) else np.zeros(0, bool)
    from ..sources.base import GroundTruth

    gt = GroundTruth(np.where(absent[:, None], np.nan, boxes), absent, "pytracking", path)
    return _document_from_gt(gt, path, Provenance.TRACKED, engine or getattr(res, "tracker", None) or path.parent.name,
                             presence, name=path.stem)


def _write_pytracking(doc, path, **options):
    mod = _module("pytracking")
    presence = np.array([np.nan if a is None or a.presence is None else a.presence for a in doc])
    written = mod.write_results(Path(path), doc.boxes(), presence=presence, **options)
    return Path(written) if written is not None else Path(path)


# ---- formats that hold the whole document
def _read_research(path, **options):
    from .research import read_research

    return read_research(path)


def _write_research(doc, path, **options):
    from .research import write_research

    write_research(path, doc, **options)
    return Path(path)


def _read_project(path, **options):
    from ..annotation.project import load_project

    return load_project(path).document


def _write_project(doc, path, **options):
    from ..annotation.project import save_project

    return save_project(path, doc, **options)


FORMATS: dict[str, AnnotationFormat] = {f.name: f for f in (
    AnnotationFormat("otb", "OTB groundtruth_rect.txt (x,y,w,h per frame)", _gt_reader("otb"),
                     _gt_writer("otb"), "file or folder", "boxes"),
    AnnotationFormat("lasot", "LaSOT groundtruth.txt + full_occlusion.txt + out_of_view.txt",
                     _gt_reader("lasot"), _gt_writer("lasot"), "folder", "boxes, absent"),
    AnnotationFormat("got10k", "GOT-10k groundtruth.txt + absence.label (+ cover.label)",
                     _gt_reader("got10k"), _gt_writer("got10k"), "folder", "boxes, absent"),
    AnnotationFormat("mot", "MOT Challenge gt.txt (one track; visibility 0 = absent)", _gt_reader("mot"),
                     _gt_writer("mot", with_name=True), "file (.txt) or folder", "boxes, absent, empty frames"),
    AnnotationFormat("coco-vid", "COCO-VID JSON (videos, images, annotations with instance_id)",
                     _gt_reader("coco_vid"), _gt_writer("coco_vid", with_name=True, with_size=True), "file",
                     "boxes, absent, empty frames"),
    AnnotationFormat("vot", "VOT region text (rectangles; nan = absent; 0 = no annotation)", _gt_reader("vot"),
                     _gt_writer("vot"), "file (.txt) or folder", "boxes, absent, empty frames"),
    AnnotationFormat("pytracking", "pytracking result file <seq>.txt (+ presence scores)", _read_pytracking,
                     _write_pytracking, "file", "boxes (integers), presence"),
    AnnotationFormat("research", "per-frame annotation and engine debug record, JSON lines", _read_research,
                     _write_research, "file", "everything"),
    AnnotationFormat("project", "KeepTrack Studio project (.ktproj)", _read_project, _write_project, "file",
                     "everything except score-map values"),
)}


def get_format(name: str) -> AnnotationFormat:
    try:
        return FORMATS[name.lower().replace("_", "-")]
    except KeyError:
        raise InputError(f"unknown annotation format {name!r}; known formats: {', '.join(FORMATS)}") from None


def detect_format(path: str | Path) -> str:
    """Guess the format of an existing file or folder, or say why it cannot be guessed."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p} does not exist")
    if p.is_dir():
        if (p / "groundtruth_rect.txt").is_file():
            return "otb"
        if (p / "groundtruth.txt").is_file() and (p / "full_occlusion.txt").is_file():
            return "lasot"
        if (p / "groundtruth.txt").is_file() and (p / "absence.label").is_file():
            return "got10k"
        if (p / "gt" / "gt.txt").is_file():
            return "mot"
        raise InputError(f"cannot tell the annotation format of folder {p}; name it with --from")
    name, suffix = p.name.lower(), p.suffix.lower()
    if suffix == ".ktproj":
        return "project"
    if suffix == ".jsonl":
        return "research"
    if suffix == ".json":
        return "coco-vid"
    if name == "groundtruth_rect.txt" or name.startswith("groundtruth_rect"):
        return "otb"
    if name == "gt.txt":
        return "mot"
    if name == "groundtruth.txt":
        if (p.parent / "full_occlusion.txt").is_file():
            return "lasot"
        if (p.parent / "absence.label").is_file():
            return "got10k"
        return "vot"
    raise InputError(f"cannot tell the annotation format of {p}; name it with --from ({', '.join(FORMATS)})")


def read_annotations(path: str | Path, format: str | None = None, **options):
    """Read any importable format into a new AnnotationDocument."""
    fmt = get_format(format or detect_format(path))
    if fmt.read is None:
        raise InputError(f"format {fmt.name} can be exported but not imported")
    if not Path(path).exists():
        raise InputError(f"{path} does not exist")
    return fmt.read(Path(path), **options)


def write_annotations(doc, path: str | Path, format: str, **options) -> Path:
    """Write a document in any exportable format; returns the main file written."""
    fmt = get_format(format)
    if fmt.write is None:
        raise InputError(f"format {fmt.name} can be imported but not exported")
    return fmt.write(doc, Path(path), **options)
