"""Research export: every frame's annotation and the engine's full debug record as JSON lines.

Line 1 is a header: {"format": "keeptrack-research", "version": 2, "name", "source", "num_frames",
"image_size", "labels": [{"name", "colour"}], "selected", "targets": [{"id", "label", "locked", "visible",
"origin": {"frame", "object_id", "from_target"} | null}]}. Then, target by target, one line per frame:
  {"target": id, "frame": i, "annotation": {"box": [x,y,w,h] | null, "provenance", "engine", "presence"} | null,
   "result": FrameResult as a dict | null}
Version 1 files (one target: no labels, targets or "target" fields) read as one target.
A FrameResult dict has frame_index, box, presence, flag, search_area, candidates [{x, y, score,
object_id}], selected_id, assignment {probabilities (rows), previous [candidates], matches},
score_map {origin_x, origin_y, step_x, step_y, shape, values (rows) or null}, timings.
Frames are 0-based. Reading a file back gives the same document, debug records included.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..errors import InputError
from ..limits import MAX_COORDINATE, check_file_size, check_frame_count
from ..result import Assignment, Candidate, Flag, FrameResult, ScoreMap

FORMAT_NAME = "keeptrack-research"
VERSION = 2


# ---- FrameResult <-> plain JSON-able dict (also used by project files)
def _box(b):
    return None if b is None else [float(v) for v in b]


def _candidate(c: Candidate) -> dict:
    return {"x": float(c.x), "y": float(c.y), "score": float(c.score), "object_id": c.object_id}


def frame_result_to_dict(r: FrameResult, score_map_values: bool = True) -> dict:
    """A FrameResult as plain JSON data, every value exact (score-map values optional)."""
    d = {
        "frame_index": int(r.frame_index),
        "box": _box(r.box),
        "presence": float(r.presence),
        "flag": Flag(r.flag).value,
        "search_area": _box(r.search_area),
        "candidates": [_candidate(c) for c in r.candidates],
        "selected_id": r.selected_id,
        "assignment": None,
        "score_map": None,
        "timings": {k: float(v) for k, v in r.timings.items()},
    }
    if r.assignment is not None:
        a = r.assignment
        d["assignment"] = {
            "probabilities": np.asarray(a.probabilities, dtype=np.float64).tolist(),
            "previous": [_candidate(c) for c in a.previous],
            "matches": [int(m) for m in a.matches],
        }
    if r.score_map is not None:
        s = r.score_map
        d["score_map"] = {
            "origin_x": float(s.origin_x), "origin_y": float(s.origin_y),
            "step_x": float(s.step_x), "step_y": float(s.step_y),
            "shape": list(s.values.shape),
            "values": np.asarray(s.values, dtype=np.float64).tolist() if score_map_values else None,
        }
    return d


def _candidate_from(d: dict) -> Candidate:
    oid = d.get("object_id")
    return Candidate(float(d["x"]), float(d["y"]), float(d["score"]), None if oid is None else int(oid))


def _four(values, what: str):
    """None, or a list of four numbers as a tuple of floats (a string is not a list of digits)."""
    if values is None:
        return None
    if not (isinstance(values, (list, tuple)) and len(values) == 4 and all(_is_number(v) for v in values)):
        raise ValueError(f"{what} must be four numbers or null, got {_short(values)}")
    return tuple(float(v) for v in values)


def frame_result_from_dict(d: dict) -> FrameResult:
    """Inverse of frame_result_to_dict. A score map written without values comes back as None."""
    assignment = None
    if d.get("assignment") is not None:
        a = d["assignment"]
        assignment = Assignment(np.asarray(a["probabilities"], dtype=np.float32),
                                tuple(_candidate_from(c) for c in a["previous"]),
                                tuple(int(m) for m in a["matches"]))
    score_map = None
    s = d.get("score_map")
    if s is not None and s.get("values") is not None:
        score_map = ScoreMap(np.asarray(s["values"], dtype=np.float32).reshape(s["shape"]),
                             float(s["origin_x"]), float(s["origin_y"]), float(s["step_x"]), float(s["step_y"]))
    box = _four(d.get("box"), "box")
    area = _four(d.get("search_area"), "search_area")
    return FrameResult(
        frame_index=int(d["frame_index"]),
        box=box,
        presence=float(d.get("presence", 1.0)),
        flag=Flag(d.get("flag", "normal")),
        search_area=area,
        score_map=score_map,
        candidates=tuple(_candidate_from(c) for c in d.get("candidates", ())),
        selected_id=d.get("selected_id"),
        assignment=assignment,
        timings={k: float(v) for k, v in d.get("timings", {}).items()},
    )


def annotation_to_dict(a) -> dict | None:
    if a is None:
        return None
    presence = a.presence if a.presence is None or math.isfinite(a.presence) else None  # NaN: unknown
    return {"box": _box(a.box), "provenance": a.provenance.value, "engine": a.engine, "presence": presence}


def annotation_from_dict(d: dict | None):
    if d is None:
        return None
    if not isinstance(d, dict):
        raise ValueError(f"an annotation must be an object or null, got {_short(d)}")
    return annotation_from_values(d.get("box"), d.get("provenance"), d.get("engine"), d.get("presence"))


def annotation_from_values(box, provenance, engine, presence):
    """A FrameAnnotation from values read out of a file, each checked (ValueError saying which is wrong)."""
    from ..annotation.document import FrameAnnotation, Provenance
    from ..boxes import check_box

    if box is not None:
        if not (isinstance(box, (list, tuple)) and len(box) == 4 and all(_is_number(v) for v in box)):
            raise ValueError(f"box must be four numbers [x, y, w, h] or null, got {_short(box)}")
        box = check_box(box)
        if any(abs(v) > MAX_COORDINATE for v in box):
            raise ValueError(f"box {list(box)} has a value beyond {MAX_COORDINATE:g} pixels")
    try:
        provenance = Provenance(provenance)
    except ValueError:
        raise ValueError(f"unknown provenance {_short(provenance)}") from None
    if engine is not None and not isinstance(engine, str):
        raise ValueError(f"engine must be a name or null, got {_short(engine)}")
    if presence is not None and not (_is_number(presence) and math.isfinite(presence)):
        raise ValueError(f"presence must be a finite number or null, got {_short(presence)}")
    return FrameAnnotation(box, provenance, engine, None if presence is None else float(presence))


def check_header(data: dict, path: Path) -> tuple[int, str | None, str | None, tuple[int, int] | None]:
    """(num_frames, source, name, image_size) of a research or project header, each checked (InputError)."""
    n = check_frame_count(data.get("num_frames"), f"{path}: num_frames")
    source, name, size = data.get("source"), data.get("name"), data.get("image_size")
    for field_name, value in (("source", source), ("name", name)):
        if value is not None and not isinstance(value, str):
            raise InputError(f"{path}: {field_name} must be text or null, got {_short(value)}")
    if size is not None:
        if not (isinstance(size, (list, tuple)) and len(size) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 1_000_000 for v in size)):
            raise InputError(f"{path}: image_size must be [width, height] in pixels, got {_short(size)}")
        size = (size[0], size[1])
    return n, source, name, size


def check_version(data: dict, path: Path, newest: int) -> int:
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"{path}: missing or bad version field {_short(version)}")
    if version > newest:
        raise InputError(f"{path} was written by a newer version (version {version}); this program reads up to "
                         f"{newest}")
    return version


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---- the JSON-lines file
def write_research(path: str | Path, doc, score_map_values: bool = True) -> None:
    """Write `doc` (an AnnotationDocument) as research JSON lines at `path` (atomically)."""
    from ..annotation.project import project_to_dict

    meta = project_to_dict(doc, include_debug=False)
    header = {"format": FORMAT_NAME, "version": VERSION, "name": doc.name, "source": doc.source,
              "num_frames": len(doc), "image_size": None if doc.image_size is None else list(doc.image_size),
              "labels": meta["labels"], "selected": doc.selected,
              "targets": [{k: v for k, v in t.items() if k not in ("frames", "debug")} for t in meta["targets"]]}
    lines = [json.dumps(header)]
    for t in doc.targets:
        track = doc.track(t.id)
        for i in range(len(doc)):
            r = track.debug_record(i)
            lines.append(json.dumps({
                "target": t.id,
                "frame": i,
                "annotation": annotation_to_dict(track[i]),
                "result": None if r is None else frame_result_to_dict(r, score_map_values),
            }))
    text = "\n".join(lines) + "\n"
    _check_readable(text, Path(path))
    atomic_write_text(path, text)


def _check_readable(text: str, path: Path) -> None:
    """Refuse to write a research file `read_research` would refuse (the previous file stays)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / path.name
        probe.write_text(text, encoding="utf-8")
        try:
            read_research(probe)
        except InputError as exc:
            raise InputError(f"cannot write {path}: the result would not read back "
                             f"({str(exc).replace(str(probe), path.name)}); the previous file is unchanged") from None


def read_research(path: str | Path):
    """Read a research JSON-lines file back into an AnnotationDocument."""
    from ..annotation.project import project_from_dict

    path = Path(path)
    check_file_size(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    lines = text.splitlines()
    if not lines:
        raise InputError(f"{path} is empty; expected a {FORMAT_NAME} JSON-lines file")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line 1: not JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{path}, line 1: JSON nested too deep") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise InputError(f"{path}, line 1: not a {FORMAT_NAME} header")
    where = Path(f"{path}, line 1")
    version = check_version(header, where, VERSION)
    n, source, name, size = check_header(header, where)
    # The header's targets and labels are checked by the project reader (same fields, same errors).
    shell = {"format": "keeptrack-studio-project", "version": version, "num_frames": n, "source": source,
             "name": name, "image_size": None if size is None else list(size), "frames": [], "debug": None}
    if version >= 2:
        targets = header.get("targets")
        if not isinstance(targets, list):
            raise InputError(f"{path}, line 1: missing field 'targets' (a list of targets)")
        shell.update(labels=header.get("labels"), selected=header.get("selected"),
                     targets=[dict(t, frames=[], debug=None) if isinstance(t, dict) else t for t in targets])
    doc = project_from_dict(shell, where).document
    ids = {t.id for t in doc.targets}
    frames, debug = {}, {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("a frame record must be a JSON object")
            tid = rec.get("target", 1) if version >= 2 else 1
            if tid not in ids or isinstance(tid, bool):
                raise ValueError(f"target {_short(tid)} is not in the header's targets")
            i = rec["frame"]
            if isinstance(i, bool) or not isinstance(i, int):
                raise ValueError(f"frame must be a whole number, got {_short(i)}")
            if (tid, i) in frames:
                raise ValueError(f"frame {i} of target {tid} appears twice")
            if not 0 <= i < n:
                raise ValueError(f"frame {i} outside 0..{n - 1}")
            frames[(tid, i)] = annotation_from_dict(rec.get("annotation"))
            if rec.get("result") is not None:
                debug[(tid, i)] = frame_result_from_dict(rec["result"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise InputError(f"{path}, line {lineno}: bad frame record ({str(exc)[:300]})") from None
        except RecursionError:
            raise InputError(f"{path}, line {lineno}: JSON nested too deep") from None
    doc._apply(frames, debug, notify=False)
    doc.revision = 0
    return doc
