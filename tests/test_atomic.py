import os

import pytest

from tracker.atomic import atomic_write_text
from tracker.errors import InputError


def test_writes_and_replaces(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]  # no temporary files left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_keeps_previous_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(InputError, match="cannot write"):
            atomic_write_text(p, "new")
    finally:
        tmp_path.chmod(0o700)
    assert p.read_text() == "old"


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    p = tmp_path / "a.txt"
    p.write_text("old")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(InputError, match="No space left"):
        atomic_write_text(p, "new")
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]
