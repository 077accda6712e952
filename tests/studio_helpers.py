"""Helpers shared by the studio's end-to-end tests (pytest-qt, the real MainWindow): the deterministic
engine "test-step" and the waits for the file thread.

The engine is registered under this module's own name (`studio_helpers:StepEngine`): the tracking worker
imports an engine's module by that name, and finds this one already imported.
"""
from __future__ import annotations

from tracker.engine import Engine, check_frame
from tracker.registry import EngineInfo, register
from tracker.result import FrameResult


class StepEngine(Engine):
    """Deterministic: the box moves 1 px right per frame away from the frame it was initialised on."""

    name = "test-step"

    def initialize(self, frame, box, frame_index=0):
        check_frame(frame)
        self.start, self.box = frame_index, tuple(float(v) for v in box)
        return FrameResult(frame_index, self.box, 1.0)

    def track(self, frame, frame_index=None):
        check_frame(frame)
        i = self._next_index(frame_index)
        x, y, w, h = self.box
        return FrameResult(i, (x + abs(i - self.start), y, w, h), 0.8)


register(EngineInfo("test-step", f"{__name__}:StepEngine", "deterministic studio test engine"))


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
