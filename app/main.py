"""Start the studio: `python main.py [PATH] [--box x,y,w,h] [--run N] [--screenshot FILE.png] [--engine NAME]`.

With --run and/or --screenshot the studio runs a script and quits: it opens PATH, initialises on --box (or
the sequence's ground truth), tracks N frames in the tracking worker exactly as the Run button does, saves a
screenshot of the whole window with every overlay on, and exits 0 (non-zero with a message on error).
"""
from __future__ import annotations

import argparse
import sys

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from tracker.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="main.py", description="KeepTrack Studio")
    p.add_argument("path", nargs="?", help="video file, image folder or benchmark sequence folder to open")
    p.add_argument("--box", help="initial box x,y,w,h in image pixels (top-left corner)")
    p.add_argument("--run", type=int, metavar="N", help="track N frames after opening, then quit")
    p.add_argument("--screenshot", metavar="FILE.png", help="save a screenshot of the window, then quit")
    p.add_argument("--screenshot-at", type=int, metavar="K",
                   help="take the screenshot mid-run, once frame K is on screen (tracking then goes on to the end)")
    p.add_argument("--engine", help="tracking engine (default: keeptrack-lite, or the first one available)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--compare", action="append", default=[], metavar="PATH",
                   help="result file, result folder (pytracking layout) or research record to compare on the opened "
                        "sequence (Compare menu); repeatable")
    p.add_argument("--timeout", type=float, default=600.0, help="scripted runs give up after this many seconds")
    return p


class ScriptedRun(QObject):
    """Open -> first frame shown -> box -> track N frames -> screenshot -> quit, driven by the window's signals."""

    def __init__(self, window, args):
        super().__init__(window)
        self.w, self.args = window, args
        self.exit_code = 0
        self._stage = "opening"

    def start(self) -> None:
        self._shot_taken = False
        self.w.frameShown.connect(self._frame_shown)
        self.w.trackingFinished.connect(self._tracked)
        QTimer.singleShot(int(self.args.timeout * 1000), self, lambda: self._fail(
            f"gave up after {self.args.timeout:g} s (stage: {self._stage})"))
        if not self.w.open_path(self.args.path):
            self._fail(self.w.last_message)

    def _frame_shown(self, index: int) -> None:
        at = self.args.screenshot_at
        if self._stage == "tracking" and at is not None and index >= at and not self._shot_taken:
            self._shot_taken = True
            QTimer.singleShot(150, self, self._take_screenshot)  # after this frame has been painted
        if self._stage != "opening":
            return
        self._stage = "tracking"
        try:
            if self.args.box:
                from .main_window import parse_box

                if not self.w.set_box(parse_box(self.args.box)):
                    raise InputError(self.w.last_message)
            if self.args.run:
                if self.w.model.box_at(self.w.current_index) is None:
                    raise InputError("no initial box: pass --box x,y,w,h (the sequence has no ground truth)")
                if self.w.run_frames(self.args.run) is None:
                    raise InputError(self.w.last_message or "tracking could not start")
                return
        except InputError as exc:
            self._fail(str(exc))
            return
        self._finish()

    def _tracked(self, request_id: int, status: str) -> None:
        if status != "done":
            self._fail(self.w.last_message or f"tracking {status}")
            return
        self._finish()

    def _take_screenshot(self) -> bool:
        try:
            self.w.save_screenshot(self.args.screenshot)
        except InputError as exc:
            self._fail(str(exc))
            return False
        print(f"saved {self.args.screenshot} (frame {self.w.current_index})")
        self._shot_taken = True
        return True

    def _finish(self) -> None:
        self._stage = "screenshot"
        if self.args.screenshot and not self._shot_taken and not self._take_screenshot():
            return
        n = self.w.tracked_count
        print(f"tracked {max(n - 1, 0)} frames with {self.w.engine_name()} (+1 initialisation); "
              f"now on frame {self.w.current_index}")
        self._quit(0)

    def _fail(self, message: str) -> None:
        if self._stage == "done":
            return
        print(f"error: {message}", file=sys.stderr)
        self._quit(1)

    def _quit(self, code: int) -> None:
        self._stage = "done"
        self.exit_code = code
        QTimer.singleShot(0, self.w.close)
        QTimer.singleShot(0, lambda: QApplication.instance().exit(code))


def _exec(app: QApplication, window) -> int:
    """`app.exec()`, leaving nothing behind for whatever runs event loops in this process afterwards.

    Closing the last window posts a Quit event. Where exit() ends the loop before that event is handled (a
    script or test that closes the window and exits at once), it stays queued; handled later, outside exec(),
    it calls exit() with no loop to end, which leaves the thread flagged to quit: every later QEventLoop (modal
    dialogs, pytest-qt's waits) then returns at once. So drop it here, and close the window (stopping its
    decode and tracking threads) where the loop ended with the window still open.
    """
    try:
        return app.exec()
    finally:
        if window.isVisible():
            window.close()
        QCoreApplication.removePostedEvents(app, QEvent.Type.Quit)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    scripted = args.run is not None or args.screenshot is not None
    if scripted and not args.path:
        print("error: --run and --screenshot need a PATH to open", file=sys.stderr)
        return 2
    if args.run is not None and args.run < 1:
        print("error: --run needs a positive number of frames", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("KeepTrack Studio")
    app.setOrganizationName("KeepTrack")
    from .main_window import MainWindow

    window = MainWindow()
    from .annotation import attach_annotations  # annotations: Annotate menu, projects, autosave + recovery

    annotations = attach_annotations(window, autosave=not scripted)  # scripted runs leave no autosave behind
    annotations.confirm_unsaved = not scripted
    from .compare_dock import attach_compare  # Compare menu: several trackers' boxes, IoU strips, success curves

    comparison = attach_compare(window)
    if args.compare:
        def load_compare(_source) -> None:  # once, when the sequence is open
            window.sourceOpened.disconnect(load_compare)
            comparison.load(args.compare)

        window.sourceOpened.connect(load_compare)
    window.show()
    try:
        if args.engine:
            window.set_engine(args.engine)
        if args.device != "cpu":
            from tracker.engine import resolve_device

            window.device_combo.addItem(resolve_device(args.device))
            window.device_combo.setCurrentText(args.device)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        window.close()
        return 2
    if scripted:
        for key in window.overlay_enabled:  # screenshots show every overlay
            window.action(f"overlay_{key}").setChecked(True)
        script = ScriptedRun(window, args)
        QTimer.singleShot(0, script.start)
        code = _exec(app, window)
        return code if code else script.exit_code
    if not args.path:
        QTimer.singleShot(0, annotations.offer_recovery_at_start)
    if args.path:
        window.open_path(args.path)
        if args.box:
            def apply_box(_index: int) -> None:  # once, after the first frame is on screen
                window.frameShown.disconnect(apply_box)
                try:
                    from .main_window import parse_box

                    window.set_box(parse_box(args.box))
                except InputError as exc:
                    window.show_message(str(exc))

            window.frameShown.connect(apply_box)
    return _exec(app, window)
