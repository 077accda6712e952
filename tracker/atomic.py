"""Atomic file writes: a reader (or a crash) sees either the old file or the new one, never half of one."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError


def _umask() -> int:
    try:  # Linux: read it, without the set-and-restore race of os.umask
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """The mode a plain open() would give: the replaced file's own, or 0o666 less the user's umask
    (mkstemp makes its files 0600, which would make every saved file private)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder, fsync, then rename over it.

    The file gets the mode a plain write would give (the replaced file's, else 0o666 less the umask).
    A symbolic link is followed: its target is replaced, the link stays. On failure (full disk,
    read-only folder, ...) the previous file is left as it was and an InputError says what went wrong.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    mode = _mode_for(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"cannot write {path}: {exc.strerror or exc}; the previous file is unchanged") from exc
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_files(files: dict[str | Path, str | bytes], encoding: str = "utf-8") -> None:
    """Write several files (a sequence's groundtruth and side files) all or nothing.

    Every new file is first written and fsynced beside its target; only when all of them are on disk are
    they renamed into place (the old files kept aside until then). A failure at any step (full disk,
    read-only folder) restores the old files, removes the new ones and raises InputError: the folder is
    left as it was. Modes and symbolic links are kept as `atomic_write_bytes` keeps them.
    """
    targets = [Path(os.path.realpath(p)) if Path(p).is_symlink() else Path(p) for p in files]
    temps: list[tuple[Path, str]] = []
    try:
        for path, data in zip(targets, files.values()):
            folder = path.parent if str(path.parent) else Path(".")
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
            temps.append((path, tmp))
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), _mode_for(path))
                f.write(data.encode(encoding) if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
    except OSError as exc:
        for _, tmp in temps:
            _unlink_quietly(tmp)
        where = targets[len(temps) - 1] if temps else targets[0]
        raise InputError(f"cannot write {where}: {exc.strerror or exc}; none of "
                         f"{', '.join(p.name for p in targets)} was changed") from exc
    moved: list[tuple[Path, str | None]] = []  # (target, where its old file was put aside)
    try:
        for path, tmp in temps:
            aside = None
            if path.exists():
                aside = f"{tmp[:-4]}.old"
                os.replace(path, aside)
            moved.append((path, aside))
            os.replace(tmp, path)
    except OSError as exc:
        for path, aside in reversed(moved):
            try:
                if aside is not None:
                    os.replace(aside, path)
                elif path.exists():
                    os.unlink(path)
            except OSError:
                pass
        for _, tmp in temps:
            _unlink_quietly(tmp)
        raise InputError(f"cannot write {targets[0].parent}: {exc.strerror or exc}; the previous files were "
                         "restored") from exc
    for _, aside in moved:
        if aside is not None:
            _unlink_quietly(aside)


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
