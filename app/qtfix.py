"""Work around a reference-count bug in the installed Qt binding.

With PySide6 6.12.0 on Python 3.11 every `Signal.emit` drops one reference to `True` that it never took
(measured: 50 emits -> sys.getrefcount(True) 50 lower). After some thousands of signals (pyqtgraph emits
many) the count reaches zero and the interpreter aborts ("Fatal Python error: bool_dealloc"). Python 3.12+
makes True immortal, so there the bug is harmless. Where the bug is detected, we give True (and False) a
reference count so large that no session can exhaust it (None too: some emits drop it as well).
"""
from __future__ import annotations

import ctypes
import sys

PINNED = False


def _leaks() -> bool:
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        fired = Signal(object)

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(32):
        probe.fired.emit(None)
    return sys.getrefcount(True) < before - 16


def pin_booleans() -> bool:
    """Apply the workaround where needed; True where it was applied (idempotent)."""
    global PINNED
    if PINNED or sys.version_info >= (3, 12):
        return PINNED
    if _leaks():
        for obj in (True, False, None):
            # ob_refcnt is the first field of every CPython object.
            ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
        PINNED = True
    return PINNED


# A worker thread running pure-Python engine code holds the GIL for the whole switch interval (5 ms by
# default) each time the GUI thread asks for it, and the GUI thread asks at every C++ -> Python call
# (each paint of a pyqtgraph item, each slot): dozens per redraw, so redraws took hundreds of ms.
# A shorter interval bounds each wait; the engine loses little (numpy, OpenCV and torch release the GIL).
GUI_SWITCH_INTERVAL_S = 0.0005


def shorten_switch_interval() -> None:
    if sys.getswitchinterval() != GUI_SWITCH_INTERVAL_S:
        sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
