"""Project files (save / open), autosave, and recovery of work after a crash.

A project is one JSON file (`*.ktproj`), version 2:
  {"format": "keeptrack-studio-project", "version": 2, "saved_at": unix seconds,
   "source": absolute path of the video/folder, "source_relative": the same relative to the project,
   "name", "num_frames", "image_size": [w, h] | null, "settings": {...},
   "labels": [{"name", "colour": "#rrggbb"}, ...], "selected": target id | null,
   "targets": [{"id", "label", "locked", "visible", "origin": {"frame", "object_id", "from_target"} | null,
                "frames": [[frame, x, y, w, h | null..., provenance, engine, presence], ...]  (annotated only),
                "debug": the engine's FrameResults as packed binary columns (debug_pack.py; no score maps) | null},
               ...]}
Version 1 (one target) had "frames" and "debug" at the top level and no labels; it opens as one target
(id 1, label "object").
Every write goes through tracker.atomic (temp file, fsync, rename), so a crash at any moment
leaves either the previous file or the new one.

Autosave writes the same format to a separate file after every change (debounced), never over the
project the person saved. At the next start `find_recovery` offers it when it is newer than the project.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import InputError
from ..limits import check_file_size
from .debug_pack import pack, unpack
from .document import (DEFAULT_LABEL, MAX_LABELS, MAX_TARGETS, AnnotationDocument, Label, Provenance, Target,
                       TargetOrigin, check_targets)

PROJECT_FORMAT = "keeptrack-studio-project"
PROJECT_VERSION = 2
PROJECT_SUFFIX = ".ktproj"
_PROVENANCE_CODE = {Provenance.MANUAL: "m", Provenance.TRACKED: "t", Provenance.INTERPOLATED: "i"}
_PROVENANCE_FROM = {v: k for k, v in _PROVENANCE_CODE.items()}


@dataclass
class Project:
    document: AnnotationDocument
    settings: dict = field(default_factory=dict)  # plain data the studio wants back (engine, options)
    path: Path | None = None
    saved_at: float | None = None
    autosave_of: Path | None = None  # for an autosave: the project file it shadows (None: never saved)


# ---- (de)serialisation
def _frame_rows(track) -> list:
    rows = []
    for i, a in enumerate(track):
        if a is None:
            continue
        box = list(a.box) if a.box is not None else [None] * 4
        presence = a.presence if a.presence is None or math.isfinite(a.presence) else None  # NaN: unknown
        rows.append([i, *box, _PROVENANCE_CODE[a.provenance], a.engine, presence])
    return rows


def project_to_dict(doc: AnnotationDocument, settings: dict | None = None, path: Path | None = None,
                    include_debug: bool = True, autosave_of: str | Path | None = None) -> dict:
    source_relative = None
    if doc.source and path is not None:
        try:
            source_relative = os.path.relpath(Path(doc.source).resolve(), Path(path).resolve().parent)
        except ValueError:  # different drives on Windows
            source_relative = None
    targets = []
    for t in doc.targets:
        track = doc.track(t.id)
        debug = None
        if include_debug:  # packed columns (debug_pack): one JSON object per candidate made saves take seconds
            debug = pack([r for _, r in sorted(track.debug_records.items())])
        o = t.origin
        targets.append({"id": t.id, "label": t.label, "locked": t.locked, "visible": t.visible,
                        "origin": None if o is None else {"frame": o.frame, "object_id": o.object_id,
                                                          "from_target": o.from_target},
                        "frames": _frame_rows(track), "debug": debug})
    return {
        "format": PROJECT_FORMAT,
        "version": PROJECT_VERSION,
        "saved_at": time.time(),
        "source": doc.source,
        "source_relative": source_relative,
        "name": doc.name,
        "num_frames": len(doc),
        "image_size": None if doc.image_size is None else list(doc.image_size),
        "settings": settings or {},
        "autosave_of": None if autosave_of is None else str(autosave_of),  # the project an autosave belongs to
        "labels": [{"name": lab.name, "colour": lab.colour} for lab in doc.labels],
        "selected": doc.selected,
        "targets": targets,
    }


def project_from_dict(data: dict, path: Path) -> Project:
    """The Project a file's JSON describes; InputError naming the file and the field for anything malformed.
    Every value is checked before a document exists, so a bad file never yields a half-right document."""
    from ..formats.research import check_header, check_version

    if not isinstance(data, dict) or data.get("format") != PROJECT_FORMAT:
        raise InputError(f"{path} is not a KeepTrack Studio project (no '{PROJECT_FORMAT}' format field)")
    version = check_version(data, path, PROJECT_VERSION)
    if "num_frames" not in data:
        raise InputError(f"{path}: missing field 'num_frames'")
    n, source, name, image_size = check_header(data, path)
    rel = data.get("source_relative")
    if rel is not None and not isinstance(rel, str):
        raise InputError(f"{path}: source_relative must be text or null")
    settings = check_settings(data.get("settings"), path)
    saved_at = data.get("saved_at")
    if saved_at is not None and not (isinstance(saved_at, (int, float)) and not isinstance(saved_at, bool)
                                     and math.isfinite(saved_at)):
        raise InputError(f"{path}: saved_at must be a time in seconds, got {saved_at!r}"[:300])
    autosave_of = data.get("autosave_of")
    if autosave_of is not None and not isinstance(autosave_of, str):
        raise InputError(f"{path}: autosave_of must be a path or null")
    if version == 1:  # one target, its frames and debug records at the top level
        labels = (Label(DEFAULT_LABEL),)
        entries = [({"id": 1, "label": DEFAULT_LABEL, "frames": data.get("frames"), "debug": data.get("debug")},
                    "frames", "debug")]
        selected = 1
    else:
        labels = _labels(data.get("labels"), path)
        raw = data.get("targets")
        if not isinstance(raw, list):
            raise InputError(f"{path}: missing field 'targets' (a list of targets)")
        if len(raw) > MAX_TARGETS:
            raise InputError(f"{path}: {len(raw)} targets, over the limit of {MAX_TARGETS}")
        entries = [(t, f"targets[{k}].frames", f"targets[{k}].debug") for k, t in enumerate(raw)]
        selected = data.get("selected")
    targets, frames, debug = [], {}, {}
    for k, (entry, frames_field, debug_field) in enumerate(entries):
        where = "target" if version == 1 else f"targets[{k}]"
        target = _target(entry, path, where)
        targets.append(target)
        if target.id in {t.id for t in targets[:-1]}:
            raise InputError(f"{path}: {where}: target id {target.id} appears twice; nothing was opened")
        frames.update({(target.id, i): a for i, a in _frames(entry.get("frames"), n, path, frames_field).items()})
        debug.update({(target.id, i): r for i, r in _debug(entry.get("debug"), n, path, debug_field).items()})
    try:
        check_targets(labels, targets)
    except InputError as exc:
        raise InputError(f"{path}: {exc}; nothing was opened") from None
    if selected is not None and selected not in {t.id for t in targets}:
        raise InputError(f"{path}: selected is {str(selected)[:40]}, which is not a target id")
    if source and rel and not Path(source).exists():  # the project and its video moved together
        moved = (path.resolve().parent / rel).resolve()
        if moved.exists():
            source = str(moved)
    doc = AnnotationDocument(n, source, name, image_size, labels=labels, targets=targets)
    doc._apply(frames, debug, notify=False)
    doc.selected = selected if selected is not None else doc.selected
    doc.revision = 0
    return Project(doc, settings, path, saved_at, None if autosave_of is None else Path(autosave_of))


def _labels(raw, path: Path) -> tuple[Label, ...]:
    if not isinstance(raw, list):
        raise InputError(f"{path}: missing field 'labels' (a list of {{name, colour}})")
    if len(raw) > MAX_LABELS:
        raise InputError(f"{path}: {len(raw)} labels, over the limit of {MAX_LABELS}")
    out, seen = [], set()
    for k, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise InputError(f"{path}: labels[{k}] must be an object {{name, colour}}, got {str(entry)[:80]!r}")
        try:
            lab = Label(entry.get("name"), entry.get("colour", "#e69f00"))
        except InputError as exc:
            raise InputError(f"{path}: labels[{k}]: {exc}") from None
        if lab.name in seen:
            raise InputError(f"{path}: labels[{k}]: label {lab.name!r} appears twice")
        seen.add(lab.name)
        out.append(lab)
    return tuple(out)


def _target(entry, path: Path, where: str) -> Target:
    if not isinstance(entry, dict):
        raise InputError(f"{path}: {where} must be an object, got {str(entry)[:80]!r}")
    label, locked, visible = entry.get("label"), entry.get("locked", False), entry.get("visible", True)
    if not isinstance(label, str):
        raise InputError(f"{path}: {where}.label must be a label name, got {str(label)[:80]!r}")
    if not isinstance(locked, bool) or not isinstance(visible, bool):
        raise InputError(f"{path}: {where}.locked and .visible must be true or false")
    origin = entry.get("origin")
    if origin is not None:
        ok = isinstance(origin, dict) and all(
            (v is None and key != "frame") or (isinstance(v, int) and not isinstance(v, bool))
            for key, v in ((key, origin.get(key)) for key in ("frame", "object_id", "from_target")))
        if not ok:
            raise InputError(f"{path}: {where}.origin must be {{frame, object_id, from_target}} (whole numbers; "
                             f"the last two may be null), got {str(origin)[:120]!r}")
        origin = TargetOrigin(origin["frame"], origin.get("object_id"), origin.get("from_target"))
    try:
        return Target(entry.get("id"), label, locked, visible, origin)
    except InputError as exc:
        raise InputError(f"{path}: {where}.id: {exc}") from None


def _frames(rows, n: int, path: Path, field_name: str) -> dict:
    from ..formats.research import annotation_from_values

    if not isinstance(rows, list):
        raise InputError(f"{path}: missing field '{field_name}' (a list of annotated frames)")
    frames = {}
    for k, row in enumerate(rows):
        try:
            if not isinstance(row, list) or len(row) != 8:
                raise ValueError("expected [frame, x, y, w, h, provenance, engine, presence]")
            i, x, y, w, h, code, engine, presence = row
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
                raise ValueError(f"frame must be a whole number in 0..{n - 1}")
            if i in frames:
                raise ValueError(f"frame {i} appears twice for this target")
            box = None if (x, y, w, h) == (None,) * 4 else [x, y, w, h]
            if code not in _PROVENANCE_FROM:
                raise ValueError(f"unknown provenance code {code!r}")
            frames[i] = annotation_from_values(box, _PROVENANCE_FROM[code], engine, presence)
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(f"{path}: {field_name}[{k}] is malformed ({str(row)[:120]}: {exc})") from None
    return frames


def _debug(packed, n: int, path: Path, field_name: str) -> dict:
    debug = {}
    if packed:
        if not isinstance(packed, dict):
            raise InputError(f"{path}: the {field_name} field must be an object or null")
        try:
            records = unpack(packed)
        except InputError as exc:
            raise InputError(f"{path}: {field_name}: {exc}") from None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
            raise InputError(f"{path}: malformed debug records in {field_name} ({str(exc)[:200]})") from None
        for r in records:
            if not 0 <= r.frame_index < n:
                raise InputError(f"{path}: {field_name}: a debug record is for frame {r.frame_index}, "
                                 f"outside 0..{n - 1}")
            debug[r.frame_index] = r
    return debug


def check_settings(settings, path: Path) -> dict:
    """The project's settings, checked where the studio acts on them (the re-track options)."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise InputError(f"{path}: settings must be an object, got {str(settings)[:80]!r}")
    retrack = settings.get("retrack")
    if retrack is not None:
        from dataclasses import fields

        from .retrack import RetrackOptions

        if not isinstance(retrack, dict):
            raise InputError(f"{path}: settings.retrack must be an object")
        known = {f.name for f in fields(RetrackOptions)}
        unknown = sorted(set(map(str, retrack)) - known)
        if unknown:
            raise InputError(f"{path}: settings.retrack has unknown option(s) {', '.join(unknown)[:200]}; "
                             f"known: {', '.join(sorted(known))}")
        for key, value in retrack.items():
            if key in ("stop_at_keyframe", "not_found_is_absent", "keep_debug"):
                ok = isinstance(value, bool)
            elif key == "max_frames":
                ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
            else:  # absent_below
                ok = value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)
                                       and math.isfinite(value))
            if not ok:
                raise InputError(f"{path}: settings.retrack.{key} has a bad value {str(value)[:80]!r}")
    return dict(settings)


def save_project(path: str | Path, doc: AnnotationDocument, settings: dict | None = None,
                 include_debug: bool = True, autosave_of: str | Path | None = None) -> Path:
    """Write the project atomically. On failure (full disk, read-only folder) an InputError says so
    and the previous file is unchanged."""
    path = Path(path)
    try:
        text = json.dumps(project_to_dict(doc, settings, path, include_debug, autosave_of), separators=(",", ":"),
                          allow_nan=False)
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot save {path}: the project holds a value JSON cannot carry ({exc}); "
                         "the previous file is unchanged") from None
    try:  # never write a file this program's own reader would refuse
        project_from_dict(json.loads(text), path)
    except InputError as exc:
        raise InputError(f"cannot save {path}: the result would not open again ({exc}); "
                         "the previous file is unchanged") from None
    atomic_write_text(path, text)
    remove_stale_temporaries(path)
    return path


def remove_stale_temporaries(path: Path, older_than_s: float = 600.0) -> int:
    """Delete temporary files a killed write left beside `path` (tracker.atomic names them
    `.<name>.<random>.tmp`); only old ones, so a write in progress elsewhere is never touched."""
    removed = 0
    now = time.time()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def load_project(path: str | Path) -> Project:
    path = Path(path)
    check_file_size(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"project {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read project {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deep") from None
    return project_from_dict(data, path)


# ---- autosave and recovery
def autosave_folder() -> Path:
    """$KEEPTRACK_AUTOSAVE_DIR, else the user's state folder (XDG_STATE_HOME or ~/.local/state)."""
    env = os.environ.get("KEEPTRACK_AUTOSAVE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "keeptrack-studio" / "autosave"


def autosave_path(project_path: str | Path | None = None, source: str | None = None,
                  folder: Path | None = None) -> Path:
    """Where the autosave of a project (or, before the first save, of a source) lives.

    One file per project/source, named by a hash of its absolute path, in the autosave folder, so
    a read-only project folder does not stop autosave.
    """
    key_path = project_path if project_path is not None else source
    if key_path is None:
        key, stem = "untitled", "untitled"
    else:
        resolved = str(Path(key_path).resolve())
        key = hashlib.sha1(resolved.encode("utf-8")).hexdigest()[:12]
        stem = Path(key_path).stem or Path(key_path).name
    return (folder or autosave_folder()) / f"{stem}-{key}{PROJECT_SUFFIX}"


class Autosaver:
    """Saves the document to `path` shortly after every change.

    Debounced: a save happens `delay_s` after the last change, and at most `max_wait_s` after the
    first unsaved change even while changes keep coming (a long tracker run). The caller drives it
    by calling `poll()` regularly (the studio from a timer).

    With `background=True` the file is written by a short-lived thread from a snapshot of the
    document (`AnnotationDocument.copy`, cheap), so a large sequence never stalls the caller; all
    bookkeeping still happens in the caller's thread, in `poll`. Autosaves leave out the engine's
    debug records unless `include_debug` (they can be 20x the size of the annotations; see
    docs/annotations.md). A failed write (full disk, read-only folder) is kept in `last_error` and
    retried after another delay; the previous autosave stays intact.
    """

    def __init__(self, document: AnnotationDocument, path: str | Path, *, delay_s: float = 1.0,
                 max_wait_s: float = 10.0, enabled: bool = True, clock: Callable[[], float] = time.monotonic,
                 settings: Callable[[], dict] | None = None, project_path: str | Path | None = None,
                 background: bool = False, include_debug: bool = False):
        self.document = document
        self.project_path = project_path  # recorded in the autosave so recovery can name it
        self.path = Path(path)
        self.delay_s = delay_s
        self.max_wait_s = max_wait_s
        self.enabled = enabled
        self.clock = clock
        self.settings = settings or dict
        self.background = background
        self.include_debug = include_debug
        self.last_error: str | None = None
        self.saves = 0
        self._first_change: float | None = None
        self._last_change: float | None = None
        self._saved_revision = document.revision
        self._job: tuple | None = None  # (thread, revision, outcome list) of a background write
        self._unsubscribe = document.subscribe(self._changed)

    def _changed(self, _frames) -> None:
        if not self.pending:  # a selection change: nothing new to write
            return
        now = self.clock()
        if self._first_change is None:
            self._first_change = now
        self._last_change = now

    @property
    def pending(self) -> bool:
        return self.document.revision != self._saved_revision

    def due_at(self) -> float | None:
        if not self.pending or self._last_change is None:
            return None
        return min(self._last_change + self.delay_s, self._first_change + self.max_wait_s)

    def poll(self) -> bool:
        """Save if a save is due (start it, in background mode). True when a save was written/started."""
        self._collect()
        if self._job is not None:
            return False
        due = self.due_at()
        if not self.enabled or due is None or self.clock() < due:
            return False
        return self._start(self.background)

    def save_now(self) -> bool:
        """Write now, in this thread (e.g. when the program closes). True when written."""
        self.wait()
        if not self.pending and self.path.exists():
            return False
        return self._start(background=False)

    def wait(self) -> None:
        """Let a background write finish and take its outcome."""
        if self._job is not None:
            self._job[0].join()
        self._collect()

    def _start(self, background: bool) -> bool:
        snapshot = self.document.copy()
        revision = snapshot.revision
        settings = self.settings()
        self._first_change = self._last_change = None  # changes from here on start a new debounce
        outcome: list = []

        def write():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                save_project(self.path, snapshot, settings, include_debug=self.include_debug,
                             autosave_of=self.project_path)
                outcome.append(None)
            except (InputError, OSError) as exc:
                outcome.append(f"autosave failed: {exc}")

        if background:
            import threading

            thread = threading.Thread(target=write, name="autosave", daemon=True)
            self._job = (thread, revision, outcome)
            thread.start()
            return True
        write()
        self._finish(revision, outcome[0])
        return outcome[0] is None

    def _collect(self) -> None:
        if self._job is not None and not self._job[0].is_alive():
            _, revision, outcome = self._job
            self._job = None
            self._finish(revision, outcome[0] if outcome else "autosave failed: the writer stopped")

    def _finish(self, revision: int, error: str | None) -> None:
        self.last_error = error
        if error is None:
            self.saves += 1
            self._saved_revision = revision
        else:  # try again after another delay
            now = self.clock()
            self._last_change = now
            if self._first_change is None:
                self._first_change = now

    def discard(self) -> None:
        """Remove the autosave (after an explicit save, or a clean close with nothing unsaved)."""
        self.wait()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        self._saved_revision = self.document.revision
        self._first_change = self._last_change = None

    def close(self) -> None:
        self.wait()
        self._unsubscribe()


@dataclass(frozen=True)
class Recovery:
    """An autosave worth offering at start: newer than the saved project (or there is none)."""

    autosave: Path
    project: Path | None
    autosaved_at: float
    project_saved_at: float | None
    annotated_frames: int
    source: str | None = None  # the footage the autosaved document belongs to

    def load(self) -> Project:
        return load_project(self.autosave)


def _saved_at(path: Path) -> float | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return float(data.get("saved_at") or path.stat().st_mtime)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def find_recovery(project_path: str | Path | None = None, source: str | None = None,
                  folder: Path | None = None) -> Recovery | None:
    """The autosave for this project/source if it holds work newer than the saved project."""
    path = autosave_path(project_path, source, folder)
    if not path.exists():
        return None
    try:
        auto = load_project(path)
    except (InputError, OSError):
        return None  # an unreadable autosave is not offered (the atomic write makes this rare)
    auto_at = auto.saved_at or path.stat().st_mtime
    proj_at = None
    if project_path is not None and Path(project_path).exists():
        proj_at = _saved_at(Path(project_path))
        if proj_at is not None and proj_at >= auto_at:
            return None
    return Recovery(path, None if project_path is None else Path(project_path), auto_at, proj_at,
                    len(auto.document.annotated_frames()), auto.document.source)


def list_recoveries(folder: Path | None = None) -> list[Recovery]:
    """Every autosave in the folder (newest first), for a start-up prompt that does not know the project."""
    folder = folder or autosave_folder()
    out = []
    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    for p in sorted(folder.glob(f"*{PROJECT_SUFFIX}"), key=mtime, reverse=True):
        try:
            auto = load_project(p)
        except (InputError, OSError):
            continue  # a broken autosave is skipped; the good ones beside it are still offered
        proj = auto.autosave_of
        proj_at = _saved_at(proj) if proj is not None and proj.exists() else None
        auto_at = auto.saved_at or p.stat().st_mtime
        if proj_at is not None and proj_at >= auto_at:
            continue
        out.append(Recovery(p, proj, auto_at, proj_at, len(auto.document.annotated_frames()), auto.document.source))
    return out
