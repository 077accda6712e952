"""Keep the GUI thread responsive while a Python-heavy engine runs in a worker thread.

This is about the GIL only. How many intra-op threads an engine's torch uses is decided by the one thread
policy, tracker.threads (the tracking worker runs engines on torch under a ThreadGovernor, as every run does).
"""
from __future__ import annotations

import sys

# A worker thread running pure-Python engine code holds the GIL for the whole switch interval (5 ms by
# default) each time the GUI thread asks for it, and the GUI thread asks at every C++ -> Python call
# (each paint of a pyqtgraph item, each slot): dozens per redraw, so redraws took hundreds of ms.
# A shorter interval bounds each wait; the engine loses little (numpy, OpenCV and torch release the GIL).
GUI_SWITCH_INTERVAL_S = 0.0005


def shorten_switch_interval() -> None:
    if sys.getswitchinterval() != GUI_SWITCH_INTERVAL_S:
        sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
