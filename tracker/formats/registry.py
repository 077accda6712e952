"""Annotation formats by name: how to read one into an AnnotationDocument and write a document out.

Used by `python main.py convert` and by the studio's import/export menu. Each entry adapts one
format module (one module per format; OTB, LaSOT and GOT-10k live in foundation-io's modules,
pytracking result files in foundation-eval's), imported only when used.

Ground-truth formats import as manual annotations (a person made them); pytracking result files
import as tracked boxes. What a format cannot hold is lost on export and says so in `carries`.

Many targets: MOT, COCO-VID, research and project files hold every target with its id and label
(`many_targets`). The single-object formats (OTB, LaSOT, GOT-10k, VOT, pytracking) write the selected
target at the path (`targets="selected"`), or, for a document with several targets, one sequence per
target (`targets="all"`, the default then) in a folder named label-id under the path (pytracking: a
<label-id>.txt result file beside it), all files or none.
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


# ---- the multi-target formats
def _labels_in_order(names) -> tuple:
    from ..annotation.document import LABEL_COLOURS, Label

    out = []
    for name in names:
        if name not in [lab.name for lab in out]:
            out.append(Label(name, LABEL_COLOURS[len(out) % len(LABEL_COLOURS)]))
    return tuple(out)


def _document_of_tracks(path: Path, name: str, num_frames: int, tracks, image_size=None, labels=None):
    """A document from (target id, label name, boxes, absent) tracks read from `path`."""
    from ..annotation.document import AnnotationDocument, Target, frames_from_arrays

    labels = labels if labels is not None else _labels_in_order(label for _, label, _, _ in tracks)
    targets, frames = [], {}
    for tid, label, boxes, absent in tracks:
        if isinstance(tid, bool) or not isinstance(tid, int) or not 0 < tid < 2 ** 31:
            raise InputError(f"{path}: track id {str(tid)[:40]!r} cannot be a target id (whole numbers from 1); "
                             "nothing was imported")
        targets.append(Target(tid, label))
        for i, a in enumerate(frames_from_arrays(boxes, absent)):
            if a is not None:
                frames[(tid, i)] = a
    if not targets:
        targets = None  # an empty file: the document's one default target
        labels = labels or None
    doc = AnnotationDocument(num_frames, None, name, image_size, labels=labels, targets=targets)
    doc._apply(frames, notify=False)
    doc.revision = 0
    return doc


def _chosen_tracks(path, tracks, id_field: str, wanted, quote: bool = False) -> list:
    """Every track, or the one whose `id_field` is `wanted` (InputError naming the file where none is)."""
    if wanted is None:
        return list(tracks)
    chosen = [t for t in tracks if getattr(t, id_field) == wanted]
    if not chosen:
        shown = repr(wanted) if quote else wanted
        raise InputError(f"{path} has no track {shown}; its tracks are {[getattr(t, id_field) for t in tracks][:20]}")
    return chosen


def _read_mot(path, object_id: int | None = None, num_frames: int | None = None, **options):
    mot = _module("mot")
    tracks = mot.read_tracks(path, num_frames)
    chosen = _chosen_tracks(tracks.path, tracks.tracks, "object_id", object_id)
    named = [tracks.class_names[k] for k in sorted(tracks.class_names)]  # the file's label list, used or not
    used = [tracks.label(t.class_id) for t in chosen]
    return _document_of_tracks(Path(path), _sequence_name(Path(path)), tracks.num_frames,
                               [(t.object_id, label, t.boxes, t.absent) for t, label in zip(chosen, used)],
                               labels=_labels_in_order(named + used) or None)


def _write_mot(doc, path, **options):
    class_of = {lab.name: k + 1 for k, lab in enumerate(doc.labels)}
    tracks = [(t.id, class_of[t.label], doc.track(t.id).boxes(), doc.track(t.id).absent()) for t in doc.targets]
    return _module("mot").write_tracks(path, tracks, num_frames=len(doc), name=doc.name,
                                       class_names={k: n for n, k in class_of.items()}, image_size=doc.image_size,
                                       frames=None if not doc.source else Path(doc.source))


def _read_coco(path, video: str | None = None, instance_id=None, **options):
    from ..annotation.document import LABEL_COLOURS, Label

    v = _module("coco_vid").read_video(path, video)
    chosen = _chosen_tracks(v.path, v.tracks, "instance_id", instance_id, quote=True)
    labels = []
    for k, (cid, (cname, colour)) in enumerate(v.categories.items()):
        try:
            labels.append(Label(cname, colour or LABEL_COLOURS[k % len(LABEL_COLOURS)]))
        except InputError as exc:
            raise InputError(f"{v.path}: category {cid!r}: {exc}") from None
    names = [lab.name for lab in labels]
    if len(set(names)) != len(names):
        raise InputError(f"{v.path}: two categories share a name; names are the labels")
    tracks = []
    for t in chosen:
        if t.category_id not in v.categories:
            if t.category_id is not None:
                raise InputError(f"{v.path}: track {t.instance_id!r} has category {t.category_id!r}, which is not "
                                 "in the file's categories")
            label = "object"
            if label not in names:
                labels.append(Label(label, LABEL_COLOURS[len(labels) % len(LABEL_COLOURS)]))
                names.append(label)
        else:
            label = v.categories[t.category_id][0]
        tracks.append((t.instance_id, label, t.boxes, t.absent))
    name = v.name or _sequence_name(Path(path))
    return _document_of_tracks(Path(path), name, v.num_frames, tracks, v.image_size, tuple(labels) or None)


def _write_coco(doc, path, **options):
    cat_of = {lab.name: k + 1 for k, lab in enumerate(doc.labels)}
    tracks = [(t.id, cat_of[t.label], doc.track(t.id).boxes(), doc.track(t.id).absent()) for t in doc.targets]
    categories = [(k + 1, lab.name, lab.colour) for k, lab in enumerate(doc.labels)]
    return _module("coco_vid").write_tracks(path, tracks, categories, len(doc), name=doc.name,
                                            image_size=doc.image_size)


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
    AnnotationFormat("mot", "MOT Challenge gt.txt (every track with id and class; visibility 0 = absent)",
                     _read_mot, _write_mot, "file (.txt) or folder",
                     "targets (ids, labels), boxes, absent, empty frames", many_targets=True),
    AnnotationFormat("coco-vid", "COCO-VID JSON (videos, images, annotations with instance_id and category)",
                     _read_coco, _write_coco, "file",
                     "targets (ids, labels, colours), boxes, absent, empty frames", ".json", many_targets=True),
    AnnotationFormat("vot", "VOT region text (rectangles; nan = absent; 0 = no annotation)", _gt_reader("vot"),
                     _gt_writer("vot"), "file (.txt) or folder", "boxes, absent, empty frames"),
    AnnotationFormat("pytracking", "pytracking result file <seq>.txt (+ presence scores)", _read_pytracking,
                     _write_pytracking, "file", "boxes (1/1000 px), presence", ".txt"),
    AnnotationFormat("research", "per-frame annotation and engine debug record, JSON lines", _read_research,
                     _write_research, "file", "everything", ".jsonl", many_targets=True),
    AnnotationFormat("project", "KeepTrack Studio project (.ktproj)", _read_project, _write_project, "file",
                     "everything except score-map values", ".ktproj", many_targets=True),
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


def write_annotations(doc, path: str | Path, format: str, targets: str | None = None, **options) -> Path:
    """Write a document in any exportable format; returns the main file written (for one sequence per
    target: the folder holding them). `targets`: "selected" or "all" for the single-object formats
    (default: all where the document has several targets)."""
    fmt = get_format(format)
    if fmt.write is None:
        raise InputError(f"format {fmt.name} can be imported but not exported")
    if targets not in (None, "all", "selected"):
        raise InputError(f"targets must be 'all' or 'selected', got {targets!r}")
    path = Path(path)
    folder = path if not path.suffix else path.parent  # a name without extension is a sequence folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create folder {folder}: {exc.strerror or exc}") from exc
    if fmt.many_targets:
        return fmt.write(doc, path, **options)
    if doc.selected is None:
        raise InputError("there is no target to export")
    if targets == "selected" or (targets is None and len(doc.targets) == 1):
        return fmt.write(doc.only(doc.selected), path, **options)
    return _write_each_target(doc, path, fmt, **options)


def target_paths(doc, path: str | Path, format: str) -> dict[int, Path]:
    """Where each target's sequence goes when a single-object format writes one per target."""
    fmt = get_format(format)
    path = Path(path)
    out = {}
    for t in doc.targets:
        name = safe_file_name(t.name)
        if fmt.name == "pytracking":
            out[t.id] = path.parent / f"{name}.txt"
        elif path.suffix:  # a file inside the sequence folder (OTB groundtruth_rect.txt, VOT groundtruth.txt)
            out[t.id] = path.parent / name / path.name
        else:
            out[t.id] = path / name
    return out


def _write_each_target(doc, path: Path, fmt: AnnotationFormat, **options) -> Path:
    """One sequence per target, written into a scratch folder first, then moved all or nothing."""
    import shutil
    import tempfile

    from ..atomic import atomic_write_files

    where = target_paths(doc, path, fmt.name)
    base = path.parent if path.suffix else path
    scratch = Path(tempfile.mkdtemp(prefix="keeptrack-export-"))
    try:
        for tid, dest in where.items():
            mirror = scratch / dest.relative_to(base)
            (mirror if not mirror.suffix else mirror.parent).mkdir(parents=True, exist_ok=True)
            fmt.write(doc.only(tid), mirror, **options)
        files = {base / p.relative_to(scratch): p.read_bytes() for p in sorted(scratch.rglob("*")) if p.is_file()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for dest in files:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create folder {dest.parent}: {exc.strerror or exc}") from exc
    atomic_write_files(files)
    return base


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
