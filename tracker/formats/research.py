"""Research export: every frame's annotation and the engine's full debug record as JSON lines.

Line 1 is a header: {"format": "keeptrack-research", "version": 1, "name", "source", "num_frames",
"image_size"}. Then one line per frame, in order:
  {"frame": i, "annotation": {"box": [x,y,w,h] | null, "provenance", "engine", "presence"} | null,
   "result": FrameResult as a dict | null}
A FrameResult dict has frame_index, box, presence, flag, search_area, candidates [{x, y, score,
object_id}], selected_id, assignment {probabilities (rows), previous [candidates], matches},
score_map {origin_x, origin_y, step_x, step_y, shape, values (rows) or null}, timings.
Frames are 0-based. Reading a file back gives the same document, debug records included.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..errors import InputError
from ..result import Assignment, Candidate, Flag, FrameResult, ScoreMap

FORMAT_NAME = "keeptrack-research"
VERSION = 1


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
    box = d.get("box")
    area = d.get("search_area")
    return FrameResult(
        frame_index=int(d["frame_index"]),
        box=None if box is None else tuple(float(v) for v in box),
        presence=float(d.get("presence", 1.0)),
        flag=Flag(d.get("flag", "normal")),
        search_area=None if area is None else tuple(float(v) for v in area),
        score_map=score_map,
        candidates=tuple(_candidate_from(c) for c in d.get("candidates", ())),
        selected_id=d.get("selected_id"),
        assignment=assignment,
        timings={k: float(v) for k, v in d.get("timings", {}).items()},
    )


def annotation_to_dict(a) -> dict | None:
    if a is None:
        return None
    return {"box": _box(a.box), "provenance": a.provenance.value, "engine": a.engine, "presence": a.presence}


def annotation_from_dict(d: dict | None):
    from ..annotation.document import FrameAnnotation, Provenance

    if d is None:
        return None
    box = d.get("box")
    presence = d.get("presence")
    return FrameAnnotation(None if box is None else tuple(float(v) for v in box), Provenance(d["provenance"]),
                           d.get("engine"), None if presence is None else float(presence))


# ---- the JSON-lines file
def write_research(path: str | Path, doc, score_map_values: bool = True) -> None:
    """Write `doc` (an AnnotationDocument) as research JSON lines at `path` (atomically)."""
    header = {"format": FORMAT_NAME, "version": VERSION, "name": doc.name, "source": doc.source,
              "num_frames": len(doc), "image_size": None if doc.image_size is None else list(doc.image_size)}
    lines = [json.dumps(header)]
    for i in range(len(doc)):
        r = doc.debug_record(i)
        lines.append(json.dumps({
            "frame": i,
            "annotation": annotation_to_dict(doc[i]),
            "result": None if r is None else frame_result_to_dict(r, score_map_values),
        }))
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_research(path: str | Path):
    """Read a research JSON-lines file back into an AnnotationDocument."""
    from ..annotation.document import AnnotationDocument

    path = Path(path)
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
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise InputError(f"{path}, line 1: not a {FORMAT_NAME} header")
    if int(header.get("version", 0)) > VERSION:
        raise InputError(f"{path} is version {header['version']}; this program reads up to {VERSION}")
    n = int(header["num_frames"])
    doc = AnnotationDocument(n, header.get("source"), header.get("name"), header.get("image_size"))
    frames, debug = {}, {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            i = int(rec["frame"])
            if not 0 <= i < n:
                raise ValueError(f"frame {i} outside 0..{n - 1}")
            frames[i] = annotation_from_dict(rec.get("annotation"))
            if rec.get("result") is not None:
                debug[i] = frame_result_from_dict(rec["result"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}, line {lineno}: bad frame record ({exc})") from None
    doc._replace(frames, debug)
    doc.revision = 0
    return doc
