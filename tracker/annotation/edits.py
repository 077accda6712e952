"""The edits a person makes (each returns an `Edit` for `History.execute`; nothing changes until then).

Frame edits act on one target (`target`, default: the document's selected target); a locked target
refuses them. Target edits add, remove or change targets and the label list.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..errors import InputError
from .document import AnnotationDocument, FrameAnnotation, Label, Provenance, Target, TargetOrigin, new_label_colour
from .history import Edit, make_edit


def set_box(doc: AnnotationDocument, frame: int, box, target: int | None = None) -> Edit:
    """Draw or move the box on `frame`: it becomes a manual keyframe. A document without any target
    gets one (the same undo step)."""
    if target is None and doc.selected is None:
        edit = add_target(doc)
        tid = edit.target
        edit.after[(tid, doc._check_frame(frame))] = FrameAnnotation.manual(box)
        edit.description, edit.frame = f"set box on frame {frame}", frame
        return edit
    return make_edit(doc, f"set box on frame {frame}", frame,
                     {frame: FrameAnnotation.manual(box)}, target=target)


def mark_absent(doc: AnnotationDocument, frame: int, target: int | None = None) -> Edit:
    """Say the target is not visible on `frame` (a manual keyframe, too)."""
    return make_edit(doc, f"mark frame {frame} absent", frame, {frame: FrameAnnotation.manual(None)}, target=target)


def clear_frames(doc: AnnotationDocument, frames: Iterable[int], description: str | None = None,
                 target: int | None = None) -> Edit:
    """Remove the annotations (and debug records) of `frames`."""
    frames = sorted(set(int(f) for f in frames))
    if not frames:
        return Edit(description or "clear nothing", 0)
    what = description or (f"clear frame {frames[0]}" if len(frames) == 1
                           else f"clear frames {frames[0]}..{frames[-1]}")
    return make_edit(doc, what, frames[0], {f: None for f in frames}, {f: None for f in frames}, target=target)


def clear_after(doc: AnnotationDocument, frame: int, direction: int = 1, keep_manual: bool = True,
                target: int | None = None) -> Edit:
    """Clear the tail after `frame` (before it with direction -1), keeping manual keyframes by default."""
    track = doc.track(target)
    rng = range(frame + 1, len(doc)) if direction > 0 else range(frame - 1, -1, -1)
    frames = [i for i in rng if track[i] is not None and not (keep_manual and track[i].is_keyframe)]
    return clear_frames(doc, frames, f"clear {'after' if direction > 0 else 'before'} frame {frame}", target)


def interpolate(doc: AnnotationDocument, first: int = 0, last: int | None = None,
                replace_tracked: bool = False, target: int | None = None) -> Edit:
    """Fill frames between consecutive manual keyframes with boxes by linear interpolation.

    Only gaps whose two ends are manual boxes are filled, and only frames that are empty or already
    interpolated (also tracked ones with `replace_tracked`). A gap that contains an absent frame,
    manual or tracked, is left alone: interpolating through an occlusion invents boxes.
    """
    track = doc.track(target)
    last = len(doc) - 1 if last is None else last
    anchors = [k for k in track.keyframes() if first <= k <= last]
    changes: dict[int, FrameAnnotation | None] = {}
    for a, b in zip(anchors, anchors[1:]):
        ba, bb = track[a].box, track[b].box
        if ba is None or bb is None or b - a < 2:
            continue
        gap = [track[i] for i in range(a + 1, b)]
        if any(g is not None and g.absent for g in gap):
            continue
        for i in range(a + 1, b):
            cur = track[i]
            if cur is not None and not (cur.provenance is Provenance.INTERPOLATED
                                        or (replace_tracked and cur.provenance is Provenance.TRACKED)):
                continue
            t = (i - a) / (b - a)
            changes[i] = FrameAnnotation.interpolated(tuple(p + t * (q - p) for p, q in zip(ba, bb)))
    return make_edit(doc, f"interpolate frames {first}..{last}", first, changes,
                     {i: None for i in changes if track.debug_record(i) is not None}, target=target)


def replace_all(doc: AnnotationDocument, imported: AnnotationDocument, description: str) -> Edit:
    """Replace the document's annotations by `imported`'s (an import into the open sequence): its labels,
    its targets (same ids), their frames; targets the file does not have are removed.

    Debug records are replaced only when `imported` has some (research and project files).

    `imported` may be shorter (the rest becomes empty); a longer one is refused so that no
    annotation is silently dropped.
    """
    if len(imported) > len(doc):
        raise InputError(
            f"{description}: the file has {len(imported)} frames but the open sequence has {len(doc)}; "
            "nothing was changed"
        )
    locked = [t.name for t in doc.targets if t.locked]
    if locked:
        raise InputError(f"{description}: target(s) {', '.join(locked)} are locked; unlock them to import over "
                         "them; nothing was changed")
    edit = Edit(description, 0, target=imported.selected)
    with_debug = any(imported.track(t.id).debug_records for t in imported.targets)
    n, m = len(doc), len(imported)
    for t in doc.targets:
        if not imported.has_target(t.id):
            _record_removal(edit, doc, t)
    for t in imported.targets:
        old_t = doc._targets.get(t.id)
        if old_t != t:
            edit.targets_before[t.id], edit.targets_after[t.id] = old_t, t
        new = imported.track(t.id)
        old = doc.track(t.id) if old_t is not None else None
        for i in range(n):
            a = new[i] if i < m else None
            b = old[i] if old is not None else None
            if a != b:
                edit.before[(t.id, i)], edit.after[(t.id, i)] = b, a
        if with_debug:  # a research/project file brings its own engine records: take them all
            for i in range(n):
                r = new.debug_record(i) if i < m else None
                q = old.debug_record(i) if old is not None else None
                if r is not q:
                    edit.debug_before[(t.id, i)], edit.debug_after[(t.id, i)] = q, r
        # otherwise the engine records already here stay: they still say what the engine computed
    if imported.labels != doc.labels:
        edit.labels_before, edit.labels_after = doc.labels, tuple(imported.labels)
    return edit


def replace_track(doc: AnnotationDocument, frames: list[FrameAnnotation | None], description: str,
                  target: int | None = None) -> Edit:
    """Replace one target's frames (default: the selected target; a document without targets gets one) by
    `frames` (an import of a single-object file, or ground truth). Its debug records stay. A longer list
    than the sequence is refused so that no annotation is silently dropped."""
    if len(frames) > len(doc):
        raise InputError(f"{description}: the file has {len(frames)} frames but the open sequence has {len(doc)}; "
                         "nothing was changed")
    changes = {i: (frames[i] if i < len(frames) else None) for i in range(len(doc))}
    if target is None and doc.selected is None:
        edit = add_target(doc)
        for i, a in changes.items():
            if a is not None:
                edit.before[(edit.target, i)], edit.after[(edit.target, i)] = None, a
        edit.description = description
        return edit
    return make_edit(doc, description, 0, changes, target=target)


def apply_presence_threshold(doc: AnnotationDocument, absent_below: float | None,
                             not_found_is_absent: bool = True, target: int | None = None) -> Edit:
    """Re-decide "absent" on every tracked frame that kept its engine result, with a new threshold.

    A tracked frame becomes absent where the presence score is below `absent_below` (or the engine
    said not found); an absent tracked frame gets the engine's box back where it is now above.
    Manual and interpolated frames are not touched.
    """
    from ..result import Flag

    track = doc.track(target)
    changes: dict[int, FrameAnnotation | None] = {}
    for i, a in enumerate(track):
        r = track.debug_record(i)
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
    return make_edit(doc, f"absent where presence is {what}", 0, changes, target=target)


# ---- targets and labels
def add_target(doc: AnnotationDocument, label: str | None = None, *, frame: int | None = None, box=None,
               origin: TargetOrigin | None = None) -> Edit:
    """A new target (the next id) with `label` (default: the selected target's, else the first label), and
    optionally its first box on `frame` (a manual keyframe)."""
    if label is None:
        label = doc.target().label if doc.selected is not None else (doc.labels[0].name if doc.labels else None)
    if label is None:
        raise InputError("the label list is empty; add a label first")
    doc.label(label)
    tid = doc.next_target_id()
    edit = Edit(f"add target {label}-{tid}", frame or 0, target=tid)
    edit.targets_before[tid], edit.targets_after[tid] = None, Target(tid, label, origin=origin)
    if box is not None:
        if frame is None:
            raise InputError("a first box needs its frame")
        edit.after[(tid, doc._check_frame(frame))] = FrameAnnotation.manual(box)
        edit.before[(tid, frame)] = None
    return edit


def remove_target(doc: AnnotationDocument, target_id: int) -> Edit:
    """Remove a target with all its frames (undo brings it back whole)."""
    t = doc.target(target_id)
    edit = Edit(f"remove target {t.name}", 0, target=t.id)
    _record_removal(edit, doc, t)
    return edit


def _record_removal(edit: Edit, doc: AnnotationDocument, t) -> None:
    """Put the removal of target `t` with every frame and debug record into `edit`."""
    track = doc.track(t.id)
    edit.targets_before[t.id], edit.targets_after[t.id] = t, None
    for i, a in enumerate(track):
        if a is not None:
            edit.before[(t.id, i)], edit.after[(t.id, i)] = a, None
    for i, r in track.debug_records.items():
        edit.debug_before[(t.id, i)], edit.debug_after[(t.id, i)] = r, None


def change_target(doc: AnnotationDocument, target_id: int, **changes) -> Edit:
    """Change a target's label, locked or visible flag (one undo step)."""
    t = doc.target(target_id)
    unknown = set(changes) - {"label", "locked", "visible"}
    if unknown:
        raise InputError(f"a target has no attribute {sorted(unknown)[0]!r} to change")
    if "label" in changes:
        doc.label(changes["label"])
    new = replace(t, **changes)
    what = ", ".join(f"{k} {v}" for k, v in changes.items())
    edit = Edit(f"target {t.name}: {what}", 0, target=t.id)
    if new != t:
        edit.targets_before[t.id], edit.targets_after[t.id] = t, new
    return edit


def set_labels(doc: AnnotationDocument, labels: Iterable[Label], rename: dict[str, str] | None = None) -> Edit:
    """Replace the label list (names, colours). `rename` maps old names to new ones for the targets that
    carry them; a label still in use that is neither kept nor renamed is refused."""
    labels = tuple(labels)
    rename = dict(rename or {})
    names = {lab.name for lab in labels}
    edit = Edit("edit the label list", 0)
    for t in doc.targets:
        new_label = rename.get(t.label, t.label)
        if new_label not in names:
            raise InputError(f"label {t.label!r} is still used by target {t.name}; keep it or rename it")
        if new_label != t.label:
            edit.targets_before[t.id], edit.targets_after[t.id] = t, replace(t, label=new_label)
    if labels != doc.labels:
        edit.labels_before, edit.labels_after = doc.labels, labels
    return edit


def add_label(doc: AnnotationDocument, name: str, colour: str | None = None) -> Edit:
    """Add one label to the list (its colour: the next unused one of the palette by default)."""
    if any(lab.name == name for lab in doc.labels):
        raise InputError(f"there is already a label {name!r}")
    return set_labels(doc, (*doc.labels, Label(name, colour or new_label_colour(doc.labels))))


def split_target(doc: AnnotationDocument, target_id: int, frame: int) -> Edit:
    """CVAT's split: the target's frames from `frame` on become a new target (next id, same label); the
    frames before stay. One undo step."""
    t = doc.target(target_id)
    from .history import check_unlocked

    check_unlocked(t)
    track = doc.track(t.id)
    frame = doc._check_frame(frame)
    moved = [i for i in range(frame, len(doc)) if track[i] is not None or track.debug_record(i) is not None]
    if not moved or frame == 0 or not any(track[i] is not None for i in range(frame)):
        raise InputError(f"splitting {t.name} at frame {frame} leaves one side without boxes; nothing was changed")
    tid = doc.next_target_id()
    edit = Edit(f"split {t.name} at frame {frame}", frame, target=tid)
    edit.targets_before[tid], edit.targets_after[tid] = None, Target(tid, t.label)
    for i in moved:
        if track[i] is not None:
            edit.before[(t.id, i)], edit.after[(t.id, i)] = track[i], None
            edit.before[(tid, i)], edit.after[(tid, i)] = None, track[i]
        r = track.debug_record(i)
        if r is not None:
            edit.debug_before[(t.id, i)], edit.debug_after[(t.id, i)] = r, None
            edit.debug_before[(tid, i)], edit.debug_after[(tid, i)] = None, r
    return edit


def merge_targets(doc: AnnotationDocument, keep: int, other: int) -> Edit:
    """CVAT's merge: `other`'s frames join `keep` (its id and label stay) and `other` is removed. Both may not
    annotate the same frame: that is refused, naming the frames, and nothing changes. One undo step."""
    a, b = doc.target(keep), doc.target(other)
    if a.id == b.id:
        raise InputError("merging a target with itself changes nothing")
    from .history import check_unlocked

    check_unlocked(a)
    check_unlocked(b)
    ta, tb = doc.track(a.id), doc.track(b.id)
    both = [i for i in range(len(doc)) if ta[i] is not None and tb[i] is not None]
    if both:
        shown = ", ".join(map(str, both[:10])) + (" ..." if len(both) > 10 else "")
        raise InputError(f"{a.name} and {b.name} both have boxes on frame(s) {shown}; clear one side there "
                         "before merging; nothing was changed")
    edit = remove_target(doc, b.id)
    edit.description, edit.target = f"merge {b.name} into {a.name}", a.id
    for i in range(len(doc)):
        if tb[i] is not None:
            edit.before[(a.id, i)], edit.after[(a.id, i)] = None, tb[i]
        r = tb.debug_record(i)
        if r is not None and ta.debug_record(i) is None:
            edit.debug_before[(a.id, i)], edit.debug_after[(a.id, i)] = None, r
    edit.frame = next((i for i in range(len(doc)) if tb[i] is not None), 0)
    return edit
