"""Run one blocking check (reading a weight file) in a worker thread while the GUI thread keeps handling events.

For a dialog whose button must answer "fits or not" before it closes: the caller gets the result as a plain
value, but the window goes on repainting and reacting meanwhile (a local event loop runs until the worker ends).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QEventLoop, QTimer

T = TypeVar("T")

POLL_MS = 20


def run_in_worker(fn: Callable[[], T], name: str = "background-check") -> T:
    """fn() in a daemon thread; returns its value (or raises its exception) once it is done."""
    outcome: list = []

    def work():
        try:
            outcome.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(POLL_MS)
    timer.timeout.connect(lambda: loop.quit() if not thread.is_alive() else None)
    timer.start()
    if thread.is_alive():
        loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
    timer.stop()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
