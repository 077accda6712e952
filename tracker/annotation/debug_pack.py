"""Debug records (FrameResults) packed as columns of little-endian binary, base64 in JSON.

Project files hold thousands of records; one JSON object per candidate made saving a 10,000-frame
project take seconds. Here each field of all records is one array: boxes and presence as float64,
candidate positions, scores and assignment probabilities as float32 (what engines compute in),
ids as int64 with a sentinel for "no id". Score-map values and timings are not kept (the research
export has them). The research JSON-lines export stays the readable, exact form.
"""
from __future__ import annotations

import base64

import numpy as np

from ..errors import InputError
from ..result import Assignment, Candidate, Flag, FrameResult

ENCODING = "columns-v1"
NO_ID = np.iinfo(np.int64).min
_FLAG_CODE = {Flag.NORMAL: "n", Flag.UNCERTAIN: "u", Flag.HARD_NEGATIVE: "h", Flag.NOT_FOUND: "x"}
_FLAG_FROM = {v: k for k, v in _FLAG_CODE.items()}


def _b64(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode()


def _array(text: str, dtype: str, shape) -> np.ndarray:
    raw = base64.b64decode(text.encode(), validate=True)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).astype(dtype)


def _box(b) -> tuple[float, float, float, float]:
    return (np.nan,) * 4 if b is None else tuple(float(v) for v in b)


def _id(v) -> int:
    return NO_ID if v is None else int(v)


def pack(records: list[FrameResult]) -> dict:
    n = len(records)
    cands = [c for r in records for c in r.candidates]
    with_assign = [r for r in records if r.assignment is not None]
    prevs = [c for r in with_assign for c in r.assignment.previous]
    return {
        "encoding": ENCODING,
        "count": n,
        "frame": _b64([r.frame_index for r in records], "i8"),
        "box": _b64(np.array([_box(r.box) for r in records]).reshape(n, 4), "f8"),
        "presence": _b64([r.presence for r in records], "f8"),
        "flag": "".join(_FLAG_CODE[Flag(r.flag)] for r in records),
        "search_area": _b64(np.array([_box(r.search_area) for r in records]).reshape(n, 4), "f8"),
        "selected_id": _b64([_id(r.selected_id) for r in records], "i8"),
        "candidates": _b64([len(r.candidates) for r in records], "i4"),
        "candidate_xys": _b64(np.array([(c.x, c.y, c.score) for c in cands]).reshape(-1, 3), "f4"),
        "candidate_id": _b64([_id(c.object_id) for c in cands], "i8"),
        "assigned": _b64([r.assignment is not None for r in records], "u1"),
        "previous": _b64([len(r.assignment.previous) for r in with_assign], "i4"),
        "previous_xys": _b64(np.array([(c.x, c.y, c.score) for c in prevs]).reshape(-1, 3), "f4"),
        "previous_id": _b64([_id(c.object_id) for c in prevs], "i8"),
        "matches": _b64([len(r.assignment.matches) for r in with_assign], "i4"),
        "match": _b64([m for r in with_assign for m in r.assignment.matches], "i4"),
        "probability_shape": _b64(np.array([np.shape(r.assignment.probabilities) for r in with_assign],
                                           dtype=np.int32).reshape(-1, 2), "i4"),
        "probability": _b64(np.concatenate([np.asarray(r.assignment.probabilities, np.float32).ravel()
                                            for r in with_assign]) if with_assign else np.zeros(0), "f4"),
    }


def _candidates(xys: list, ids: list, start: int, count: int) -> tuple[Candidate, ...]:
    return tuple(Candidate(x, y, score, None if oid == NO_ID else oid)
                 for (x, y, score), oid in zip(xys[start:start + count], ids[start:start + count]))


def unpack(data: dict) -> list[FrameResult]:
    """Inverse of `pack` (candidate values come back as float32-rounded floats). InputError if malformed."""
    try:
        if data.get("encoding") != ENCODING:
            raise ValueError(f"unknown encoding {data.get('encoding')!r}")
        n = int(data["count"])
        frames = _array(data["frame"], "i8", n)
        boxes = _array(data["box"], "f8", (n, 4))
        presence = _array(data["presence"], "f8", n)
        flags = data["flag"]
        if len(flags) != n:
            raise ValueError("flag string length")
        areas = _array(data["search_area"], "f8", (n, 4))
        selected = _array(data["selected_id"], "i8", n)
        ncand = _array(data["candidates"], "i4", n)
        cand_xys = _array(data["candidate_xys"], "f4", (-1, 3))
        cand_id = _array(data["candidate_id"], "i8", -1)
        assigned = _array(data["assigned"], "u1", n).astype(bool)
        m = int(assigned.sum())
        nprev = _array(data["previous"], "i4", m)
        prev_xys = _array(data["previous_xys"], "f4", (-1, 3))
        prev_id = _array(data["previous_id"], "i8", -1)
        nmatch = _array(data["matches"], "i4", m)
        match = _array(data["match"], "i4", -1)
        pshape = _array(data["probability_shape"], "i4", (m, 2))
        prob = _array(data["probability"], "f4", -1)
        if len(cand_xys) != ncand.sum() or len(cand_id) != len(cand_xys) or len(prev_xys) != nprev.sum() \
                or len(match) != nmatch.sum() or len(prob) != int(np.prod(pshape, axis=1).sum()):
            raise ValueError("column lengths do not agree")
        # Python lists once: indexing numpy scalars one by one is what made loading slow.
        cand_xys, cand_id, prev_xys, prev_id = cand_xys.tolist(), cand_id.tolist(), prev_xys.tolist(), prev_id.tolist()
        ncand, nprev, nmatch, match = ncand.tolist(), nprev.tolist(), nmatch.tolist(), match.tolist()
        frames, presence, selected, pshape = frames.tolist(), presence.tolist(), selected.tolist(), pshape.tolist()
        box_nan, area_nan = np.isnan(boxes).all(axis=1).tolist(), np.isnan(areas).all(axis=1).tolist()
        boxes, areas, assigned = boxes.tolist(), areas.tolist(), assigned.tolist()
        out, c0, a, p0, m0, q0 = [], 0, 0, 0, 0, 0
        for i in range(n):
            cands = _candidates(cand_xys, cand_id, c0, ncand[i])
            c0 += ncand[i]
            assignment = None
            if assigned[i]:
                rows, cols = pshape[a]
                previous = _candidates(prev_xys, prev_id, p0, nprev[a])
                matches = tuple(match[m0:m0 + nmatch[a]])
                assignment = Assignment(prob[q0:q0 + rows * cols].reshape(rows, cols).copy(), previous, matches)
                p0, m0, q0, a = p0 + nprev[a], m0 + nmatch[a], q0 + rows * cols, a + 1
            box = None if box_nan[i] else tuple(boxes[i])
            area = None if area_nan[i] else tuple(areas[i])
            out.append(FrameResult(frames[i], box, presence[i], _FLAG_FROM[flags[i]], area, None, cands,
                                   None if selected[i] == NO_ID else selected[i], assignment))
        return out
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"debug records are malformed ({exc})") from None
