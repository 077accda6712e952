"""Helpers shared by the studio's end-to-end tests (pytest-qt, the real MainWindow)."""
from __future__ import annotations


def save_and_wait(qtbot, ctrl, path=None):
    """Save the project (written in the file thread) and wait: the file written, None where it failed
    (the window's message says why)."""
    with qtbot.waitSignal(ctrl.saved, timeout=20000) as blocker:
        assert ctrl.save(path) is not None
    return blocker.args[0].written


def export_and_wait(qtbot, ctrl, path, fmt):
    """Export (checked, asked and written from the file thread) and wait: the main file written, None where
    the export was declined or failed."""
    with qtbot.waitSignal(ctrl.exported, timeout=20000) as blocker:
        assert ctrl.export(path, fmt)
    return blocker.args[0].written


def trigger_and_wait(qtbot, ctrl, action, signal="exported"):
    """Trigger a menu action that exports or saves, and wait for the file thread's answer."""
    with qtbot.waitSignal(getattr(ctrl, signal), timeout=20000) as blocker:
        action.trigger()
    return blocker.args[0]
