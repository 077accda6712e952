"""The edits a person makes (each returns an `Edit` for `History.execute`; nothing changes until then)."""
from __future__ import annotations

from collections.abc import Iterable

from ..errors import InputError
from .document import AnnotationDocument, FrameAnnotation, Provenance
from .history import Edit, make_edit


def set_box(doc: AnnotationDocument, frame: int, box) -> Edit:
    """Draw or move the box on `frame`: it becomes a manual keyframe."""
    return make_edit(doc, f"set box on frame {frame}", frame,
                     {frame: FrameAnnotation.manual(box)})


def mark_absent(doc: AnnotationDocument, frame: int) -> Edit:
    """Say the target is not visible on `frame` (a manual keyframe, too)."""
    return make_edit(doc, f"mark frame {frame} absent", frame, {frame: FrameAnnotation.manual(None)})


def clear_frames(doc: AnnotationDocument, frames: Iterable[int], description: str | None = None) -> Edit:
    """Remove the annotations (and debug records) of `frames`."""
    frames = sorted(set(int(f) for f in frames))
    if not frames:
        return Edit(description or "clear nothing", 0)
    what = description or (f"clear frame {frames[0]}" if len(frames) == 1
                           else f"clear frames {frames[0]}..{frames[-1]}")
    return make_edit(doc, what, frames[0], {f: None for f in frames}, {f: None for f in frames})


def clear_after(doc: AnnotationDocument, frame: int, direction: int = 1, keep_manual: bool = True) -> Edit:
    """Clear the tail after `frame` (before it with direction -1), keeping manual keyframes by default."""
    rng = range(frame + 1, len(doc)) if direction > 0 else range(frame - 1, -1, -1)
    frames = [i for i in rng if doc[i] is not None and not (keep_manual and doc[i].is_keyframe)]
    return clear_frames(doc, frames, f"clear {'after' if direction > 0 else 'before'} frame {frame}")


def interpolate(doc: AnnotationDocument, first: int = 0, last: int | None = None,
                replace_tracked: bool = False) -> Edit:
    """Fill frames between consecutive manual keyframes with boxes by linear interpolation.

    Only gaps whose two ends are manual boxes are filled, and only frames that are empty or already
    interpolated (also tracked ones with `replace_tracked`). A gap that contains an absent frame,
    manual or tracked, is left alone: interpolating through an occlusion invents boxes.
    """
    last = len(doc) - 1 if last is None else last
    anchors = [k for k in doc.keyframes() if first <= k <= last]
    changes: dict[int, FrameAnnotation | None] = {}
    for a, b in zip(anchors, anchors[1:]):
        ba, bb = doc[a].box, doc[b].box
        if ba is None or bb is None or b - a < 2:
            continue
        gap = [doc[i] for i in range(a + 1, b)]
        if any(g is not None and g.absent for g in gap):
            continue
        for i in range(a + 1, b):
            cur = doc[i]
            if cur is not None and not (cur.provenance is Provenance.INTERPOLATED
                                        or (replace_tracked and cur.provenance is Provenance.TRACKED)):
                continue
            t = (i - a) / (b - a)
            changes[i] = FrameAnnotation.interpolated(tuple(p + t * (q - p) for p, q in zip(ba, bb)))
    return make_edit(doc, f"interpolate frames {first}..{last}", first, changes,
                     {i: None for i in changes if doc.debug_record(i) is not None})


def replace_all(doc: AnnotationDocument, imported: AnnotationDocument, description: str) -> Edit:
    """Replace the document's annotations by `imported`'s (an import into the open sequence).

    Debug records are replaced only when `imported` has some (research and project files).

    `imported` may be shorter (the rest becomes empty); a longer one is refused so that no
    annotation is silently dropped.
    """
    if len(imported) > len(doc):
        raise InputError(
            f"{description}: the file has {len(imported)} frames but the open sequence has {len(doc)}; "
            "nothing was changed"
        )
    changes = {i: (imported[i] if i < len(imported) else None) for i in range(len(doc))}
    debug = None
    if imported.debug_records:  # a research/project file brings its own engine records: take them all
        debug = {i: imported.debug_record(i) if i < len(imported) else None for i in range(len(doc))}
    # otherwise the engine records already here stay: they still say what the engine computed
    return make_edit(doc, description, 0, changes, debug)


def apply_presence_threshold(doc: AnnotationDocument, absent_below: float | None,
                             not_found_is_absent: bool = True) -> Edit:
    """Re-decide "absent" on every tracked frame that kept its engine result, with a new threshold.

    A tracked frame becomes absent where the presence score is below `absent_below` (or the engine
    said not found); an absent tracked frame gets the engine's box back where it is now above.
    Manual and interpolated frames are not touched.
    """
    from ..result import Flag

    changes: dict[int, FrameAnnotation | None] = {}
    for i, a in enumerate(doc):
        r = doc.debug_record(i)
        if a is None or a.provenance is not Provenance.TRACKED or r is None:
            continue
        absent = (r.box is None or (absent_below is not None and r.presence < absent_below)
                  or (not_found_is_absent and r.flag == Flag.NOT_FOUND))
        box = None if absent else r.box
        try:
            new = FrameAnnotation.tracked(box, a.engine, r.presence)
        except InputError:
            new = FrameAnnotation.tracked(None, a.engine, r.presence)
        changes[i] = new
    what = "never" if absent_below is None else f"below {absent_below:g}"
    return make_edit(doc, f"absent where presence is {what}", 0, changes)
