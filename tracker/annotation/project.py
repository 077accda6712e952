"""Project files (save / open), autosave, and recovery of work after a crash.

A project is one JSON file (`*.ktproj`):
  {"format": "keeptrack-studio-project", "version": 1, "saved_at": unix seconds,
   "source": absolute path of the video/folder, "source_relative": the same relative to the project,
   "name", "num_frames", "image_size": [w, h] | null, "settings": {...},
   "frames": [[frame, x, y, w, h | null..., provenance, engine, presence], ...]   (annotated frames only),
   "debug": the engine's FrameResults as packed binary columns (debug_pack.py; no score maps) | null}
Every write goes through tracker.atomic (temp file, fsync, rename), so a crash at any moment
leaves either the previous file or the new one.

Autosave writes the same format to a separate file after every change (debounced), never over the
project the person saved. At the next start `find_recovery` offers it when it is newer than the project.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import InputError
from .debug_pack import pack, unpack
from .document import AnnotationDocument, FrameAnnotation, Provenance

PROJECT_FORMAT = "keeptrack-studio-project"
PROJECT_VERSION = 1
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
def project_to_dict(doc: AnnotationDocument, settings: dict | None = None, path: Path | None = None,
                    include_debug: bool = True, autosave_of: str | Path | None = None) -> dict:
    source_relative = None
    if doc.source and path is not None:
        try:
            source_relative = os.path.relpath(Path(doc.source).resolve(), Path(path).resolve().parent)
        except ValueError:  # different drives on Windows
            source_relative = None
    frames = []
    for i, a in enumerate(doc):
        if a is None:
            continue
        box = list(a.box) if a.box is not None else [None] * 4
        frames.append([i, *box, _PROVENANCE_CODE[a.provenance], a.engine, a.presence])
    debug = None
    if include_debug:  # packed columns (debug_pack): one JSON object per candidate made saves take seconds
        debug = pack([r for _, r in sorted(doc.debug_records.items())])
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
        "frames": frames,
        "debug": debug,
    }


def project_from_dict(data: dict, path: Path) -> Project:
    if not isinstance(data, dict) or data.get("format") != PROJECT_FORMAT:
        raise InputError(f"{path} is not a KeepTrack Studio project (no '{PROJECT_FORMAT}' format field)")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise InputError(f"{path}: missing or bad version field {version!r}")
    if version > PROJECT_VERSION:
        raise InputError(f"{path} was written by a newer version (project version {version}); "
                         f"this program reads up to {PROJECT_VERSION}")
    try:
        n = int(data["num_frames"])
        source = data.get("source")
        rel = data.get("source_relative")
        if source and rel and not Path(source).exists():  # the project and its video moved together
            moved = (path.resolve().parent / rel).resolve()
            if moved.exists():
                source = str(moved)
        doc = AnnotationDocument(n, source, data.get("name"), data.get("image_size"))
        frames = {}
        for k, row in enumerate(data["frames"]):
            try:
                i, x, y, w, h, code, engine, presence = row
                box = None if x is None else (float(x), float(y), float(w), float(h))
                frames[int(i)] = FrameAnnotation(box, _PROVENANCE_FROM[code], engine,
                                                 None if presence is None else float(presence))
            except (ValueError, TypeError, KeyError) as exc:
                raise InputError(f"{path}: frame entry {k} is malformed ({row!r}: {exc})") from None
        debug = {}
        packed = data.get("debug")
        if packed:
            try:
                records = unpack(packed)
            except InputError as exc:
                raise InputError(f"{path}: {exc}") from None
            for r in records:
                if not 0 <= r.frame_index < n:
                    raise InputError(f"{path}: a debug record is for frame {r.frame_index}, outside 0..{n - 1}")
                debug[r.frame_index] = r
        doc._replace(frames, debug)
    except KeyError as exc:
        raise InputError(f"{path}: missing field {exc}") from None
    doc.revision = 0
    autosave_of = data.get("autosave_of")
    return Project(doc, dict(data.get("settings") or {}), path, data.get("saved_at"),
                   None if autosave_of is None else Path(autosave_of))


def save_project(path: str | Path, doc: AnnotationDocument, settings: dict | None = None,
                 include_debug: bool = True, autosave_of: str | Path | None = None) -> Path:
    """Write the project atomically. On failure (full disk, read-only folder) an InputError says so
    and the previous file is unchanged."""
    path = Path(path)
    text = json.dumps(project_to_dict(doc, settings, path, include_debug, autosave_of), separators=(",", ":"))
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
    except InputError:
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
    for p in sorted(folder.glob(f"*{PROJECT_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            auto = load_project(p)
        except InputError:
            continue
        proj = auto.autosave_of
        proj_at = _saved_at(proj) if proj is not None and proj.exists() else None
        auto_at = auto.saved_at or p.stat().st_mtime
        if proj_at is not None and proj_at >= auto_at:
            continue
        out.append(Recovery(p, proj, auto_at, proj_at, len(auto.document.annotated_frames()), auto.document.source))
    return out
