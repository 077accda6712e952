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
    suffix: str = ""  # for formats that are one file: its extension (batch conversion names files with it)
    many_targets: bool = False  # one file holds every target (else: one target per file or folder)

    def batch_target(self, folder: Path, sequence: str) -> Path:
        """Where sequence `sequence` goes when several are converted into `folder`: always directly inside it,
        whatever the name read from the input file says (see `safe_file_name`)."""
        return Path(folder) / f"{safe_file_name(sequence)}{self.suffix}"


_SAFE_NAME_LENGTH = 120


def safe_file_name(name) -> str:
    """A sequence name (read from a file, so not to be trusted) as one plain file name: letters, digits, '.', '-'
    and '_' kept, everything else (path separators, '..', control characters) replaced by '_', no leading dot."""
    text = "".join(c if (c.isalnum() and c.isascii()) or c in "-_." else "_" for c in str(name or ""))
    text = text.lstrip(".")[:_SAFE_NAME_LENGTH].rstrip(".")
    return text or "sequence"


def _module(name: str):
    try:
        return importlib.import_module(f"tracker.formats.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"tracker.formats.{name}":
            raise InputError(f"the {name} format module (tracker/formats/{name}.py) is not in this build") from None
        raise


def _document_from_gt(gt, path: Path, provenance=None, engine=None, presence=None, name=None):
    from ..annotation.document import AnnotationDocument, Provenance

    seq = name or _sequence_name(path)
    doc = AnnotationDocument.from_arrays(gt.boxes, gt.absent, provenance=provenance or Provenance.MANUAL,
                                         engine=engine, presence=presence, name=seq)
    return doc


def _sequence_name(path: Path) -> str:
    """The sequence a file belongs to: its folder (MOT: the folder above gt/), or a JSON file's stem."""
    if path.is_file() and path.suffix.lower() in (".json", ".jsonl", ".ktproj"):
        return path.stem
    folder = path.parent if path.is_file() else path
    if folder.name == "gt":
        folder = folder.parent
    return folder.resolve().name or "sequence"


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


# ---- pytracking result files (foundation-eval's module): tracked boxes with presence scores
# A result file needs a box on every line. Absent frames are written as -1 -1 -1 -1 (what
# pytracking's own trackers emit with output_not_found_box), frames without annotation as
# 0 0 0 0 (pytracking's analysis replaces zero-size boxes by the previous one); reading maps them back.
# Unknown presence scores are written as nan.
NOT_FOUND_BOX = (-1.0, -1.0, -1.0, -1.0)


def _pytracking_location(path: Path) -> tuple[Path, str]:
    if path.suffix.lower() != ".txt":
        raise InputError(f"a pytracking result is a <sequence>.txt file; got {path}")
    return path.parent, path.stem


def _read_pytracking(path, engine: str | None = None, **options):
    from ..annotation.document import Provenance
    from ..sources.base import GroundTruth

    folder, sequence = _pytracking_location(Path(path))
    res = _module("pytracking").read_sequence_result(folder, sequence)
    boxes = np.asarray(res.boxes, dtype=np.float64).reshape(-1, 4)
    absent = np.all(boxes == NOT_FOUND_BOX, axis=1)
    empty = (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
    boxes = np.where((absent | empty)[:, None], np.nan, boxes)
    presence = None
    if res.presence is not None:
        presence = [None if not np.isfinite(p) else float(p) for p in res.presence]
    gt = GroundTruth(boxes, absent, "pytracking", Path(path))
    doc = _document_from_gt(gt, Path(path), Provenance.TRACKED, engine, None, name=sequence)
    if presence is not None:  # attach the scores frame by frame (None stays None)
        from ..annotation.document import FrameAnnotation

        doc._replace({i: FrameAnnotation(a.box, a.provenance, a.engine, presence[i])
                      for i, a in enumerate(doc) if a is not None})
        doc.revision = 0
    return doc


def _write_pytracking(doc, path, **options):
    mod = _module("pytracking")
    folder, sequence = _pytracking_location(Path(path))
    boxes = doc.boxes()
    boxes[doc.absent()] = NOT_FOUND_BOX
    boxes[~doc.annotated()] = 0.0
    scores = [np.nan if a is None or a.presence is None else a.presence for a in doc]
    presence = np.array(scores) if np.isfinite(scores).any() else None
    return mod.write_sequence_result(folder, sequence, mod.SequenceResult(boxes, None, presence))


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
                     "boxes, absent, empty frames", ".json"),
    AnnotationFormat("vot", "VOT region text (rectangles; nan = absent; 0 = no annotation)", _gt_reader("vot"),
                     _gt_writer("vot"), "file (.txt) or folder", "boxes, absent, empty frames"),
    AnnotationFormat("pytracking", "pytracking result file <seq>.txt (+ presence scores)", _read_pytracking,
                     _write_pytracking, "file", "boxes (1/1000 px), presence", ".txt"),
    AnnotationFormat("research", "per-frame annotation and engine debug record, JSON lines", _read_research,
                     _write_research, "file", "everything", ".jsonl"),
    AnnotationFormat("project", "KeepTrack Studio project (.ktproj)", _read_project, _write_project, "file",
                     "everything except score-map values", ".ktproj"),
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
    if suffix == ".txt" and any((p.parent / f"{p.stem}{tail}.txt").is_file()
                                for tail in ("_object_presence_scores", "_time")):
        return "pytracking"
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
    path = Path(path)
    folder = path if not path.suffix else path.parent  # a name without extension is a sequence folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create folder {folder}: {exc.strerror or exc}") from exc
    return fmt.write(doc, path, **options)


def files_replaced_by(doc, path: str | Path, format: str, **options) -> list[Path]:
    """The files that already exist and that `write_annotations(doc, path, format)` would replace
    (side files included: a LaSOT export into a sequence folder replaces its groundtruth.txt).

    Found by writing the export into an empty temporary folder laid out like `path`, so every format
    answers with exactly the files its writer makes. Where the export cannot be written at all, [] (the
    export itself then says why).
    """
    import shutil
    import tempfile

    path = Path(path)
    scratch = Path(tempfile.mkdtemp(prefix="keeptrack-export-check-"))
    try:
        mirror = scratch / (path.name or "export")
        if path.is_dir():
            mirror.mkdir()
        try:
            write_annotations(doc, mirror, format, **options)
        except InputError:
            return []
        written = [p.relative_to(scratch) for p in scratch.rglob("*") if p.is_file()]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return sorted(path.parent / rel for rel in written if (path.parent / rel).exists())
