"""The studio's main window: view assembly around the Qt-free `StudioModel` (app/model.py).

The window owns no state of its own about the session: the source, the current frame, the boxes (the
annotation document), the engine results and the planning of runs are the model's; the window builds the
views, turns keys and mouse into model calls, runs the workers, and redraws when the model says so.

Hooks for other parts of the studio (the annotation part uses these, and only these):
  - `menu(name)` returns (creating if needed) a top-level menu; `add_action(menu, text, slot, keys, key)` adds to
    it; `toolbar` is the main tool bar; `add_dock(dock)`; `add_view_item(item)` puts a graphics item over the frame;
    `view.set_layer(key, descriptions)` draws app.overlays descriptions over the frame, their labels placed with
    the engine's (the annotation box and its label).
  - `model.events` (plain events, see app/model.py) and the Qt signals `frameShown(int)` (a frame is on screen),
    `sourceOpened(FrameSource)`, `resultArrived(FrameResult)`, `trackingFinished(id, status)`, `aboutToClose()`.
  - `run_frames(count, direction, until_keyframe, reinitialise)` plans (model.plan_run) and starts a run.
"""
from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QStandardItemModel
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QListWidget, QMainWindow,
                               QMenu, QProgressBar, QPushButton, QStackedWidget, QStyle, QToolBar, QVBoxLayout,
                               QWidget)

from tracker.errors import InputError
from tracker.paths import RESOURCES
from tracker.registry import available_engines
from tracker.result import Box, FrameResult
from tracker.sources.base import FrameSource, open_source

from . import overlays as ov
from .debug_dock import DebugDock
from .dialogs import ShortcutsDialog, WeightsDialog
from .engines import WEIGHT_FILES, choose_engine, cuda_available, engine_params, engine_status, module_present
from .frame_view import FrameView
from .shortcuts import BY_ACTION
from .model import StudioModel
from .timeline import NumberBox, Timeline
from .workers import (FrameCounter, FrameDecoder, TargetRun, TrackingController, TrackRequest, describe_error,
                      engine_key)

SAMPLE_PATH = RESOURCES / "sample"
MAX_RECENT = 10
RENDER_INTERVAL_MS = 66  # live display while tracking: at most ~15 redraws a second, latest result wins
SERIES_INTERVAL_MS = 300  # debug dock while tracking


def parse_box(text: str) -> Box:
    """'x, y, w, h' (commas or spaces) -> a box; InputError naming the text otherwise."""
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise InputError(f"a box is four numbers x, y, w, h; got {text!r}") from None
    if len(values) != 4:
        raise InputError(f"a box is four numbers x, y, w, h; got {text!r}")
    return values  # type: ignore[return-value]


class MainWindow(QMainWindow):
    resultArrived = Signal(object)  # FrameResult
    frameShown = Signal(int)
    sourceOpened = Signal(object)  # FrameSource (the GUI thread's handle: length, fps, ground truth)
    trackingFinished = Signal(int, str)  # request id, "done" | "cancelled" | "failed"
    aboutToClose = Signal()  # the window is closing; the session (annotations, autosave) closes right after

    def __init__(self, settings: QSettings | None = None,
                 source_opener: Callable[[Path], FrameSource] = open_source):
        super().__init__()
        self.setWindowTitle("KeepTrack Studio")
        self.resize(1400, 860)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("KeepTrack", "KeepTrack Studio")
        self._open = source_opener
        self.model = StudioModel()
        self.decoder: FrameDecoder | None = None
        self.tracker: TrackingController | None = None
        self._counting: tuple | None = None  # (FrameCounter, source, path) while a source's frames are counted
        self.current_frame = None
        self.last_message = ""
        self.messages: list[str] = []  # every message shown (errors included), newest last
        self.tracked_count = 0  # results delivered by the current run
        self.overlay_enabled = {o.key: o.default_on for o in ov.OVERLAYS}
        self._follow = False  # while tracking, show each new result's frame
        self._live: tuple[FrameResult, object] | None = None
        self._progress: tuple[int, int, float] | None = None
        self._actions: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        # Asked before the open footage is closed (opening other footage, quitting), with what is about to
        # happen ("quit", "open NAME"); any returning False cancels it (e.g. unsaved annotations: Cancel).
        self.close_guards: list[Callable[[str], bool]] = []

        self._build_views()
        self.model.events.annotation_changed.connect(self._annotation_changed)
        self._build_actions()
        self._build_toolbar()
        self._build_status_bar()
        self._render_timer = QTimer(self, interval=RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render_live)
        self._series_timer = QTimer(self, interval=SERIES_INTERVAL_MS)
        self._series_timer.timeout.connect(self._refresh_series)
        # after an edit outside a run (undo, redo, import): the plots and the flag strip follow the document
        self._series_after_edit = QTimer(self, singleShot=True, interval=100)
        self._series_after_edit.timeout.connect(self._refresh_series)
        self._play_timer = QTimer(self)
        self._play_timer.timeout.connect(self._play_tick)
        self._preload: threading.Thread | None = None
        self.preloaded = threading.Event()  # set once the chosen engine's module is imported (or failed to)
        self._refresh_engines()
        self._refresh_recent()
        self._probe_cuda()
        self.engine_combo.currentTextChanged.connect(lambda _t: self._preload_engine())
        QTimer.singleShot(0, self._preload_engine)

    # ================================================================== construction
    def _build_views(self) -> None:
        self.stack = QStackedWidget()
        self.start_view = self._make_start_view()
        viewer = QWidget()
        lay = QVBoxLayout(viewer)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.message_bar = QLabel()
        self.message_bar.setWordWrap(True)
        self.message_bar.setStyleSheet("background:#5a1d1d; color:white; padding:6px;")
        self.message_bar.hide()
        self.message_bar.mousePressEvent = lambda _e: self.message_bar.hide()  # click to dismiss
        self.view = FrameView()
        self.view.boxEdited.connect(self._box_edited)
        self.timeline = Timeline()
        self.timeline.frameRequested.connect(self._user_go_to)
        lay.addWidget(self.message_bar)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.timeline)
        self.viewer = viewer
        self.stack.addWidget(self.start_view)
        self.stack.addWidget(viewer)
        self.setCentralWidget(self.stack)
        self.debug_dock = DebugDock(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.debug_dock)
        self.resizeDocks([self.debug_dock], [420], Qt.Orientation.Horizontal)

    def _make_start_view(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addStretch(1)
        title = QLabel("<h1>KeepTrack Studio</h1><p>Open a video, an image folder or a benchmark sequence "
                       "(or drop one here), draw a box around the target and track it.</p>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(title)
        row = QHBoxLayout()
        row.addStretch(1)
        self.sample_button = QPushButton("Open the sample and try it")
        self.sample_button.setMinimumHeight(48)
        self.sample_button.setStyleSheet("font-size: 15px; font-weight: bold; padding: 8px 20px;")
        self.sample_button.clicked.connect(self.open_sample)
        open_file = QPushButton("Open video...")
        open_file.clicked.connect(self.open_file_dialog)
        open_folder = QPushButton("Open folder...")
        open_folder.clicked.connect(self.open_folder_dialog)
        for b in (self.sample_button, open_file, open_folder):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        self.recent_list = QListWidget()
        self.recent_list.setMaximumWidth(600)
        self.recent_list.itemActivated.connect(lambda item: self.open_path(item.text()))
        rec = QHBoxLayout()
        rec.addStretch(1)
        col = QVBoxLayout()
        self.recent_label = QLabel("Recent:")
        col.addWidget(self.recent_label)
        col.addWidget(self.recent_list)
        rec.addLayout(col)
        rec.addStretch(1)
        lay.addLayout(rec)
        lay.addStretch(1)
        return w

    def action(self, key: str) -> QAction:
        return self._actions[key]

    def _make_action(self, key: str, slot: Callable, checkable: bool = False, checked: bool = False) -> QAction:
        s = BY_ACTION[key]
        act = QAction(s.text, self)
        if s.keys:
            act.setShortcut(QKeySequence(s.keys))
            act.setToolTip(f"{s.text} ({s.keys})")
        act.setCheckable(checkable)
        if checkable:
            act.setChecked(checked)
            act.toggled.connect(slot)
        else:
            act.triggered.connect(lambda _=False: slot())
        self.addAction(act)  # shortcuts work even while the menu bar is hidden
        self._actions[key] = act
        return act

    def _build_actions(self) -> None:
        m = self.menu("File")
        for key, slot in (("open_file", self.open_file_dialog), ("open_folder", self.open_folder_dialog),
                          ("open_sample", self.open_sample)):
            m.addAction(self._make_action(key, slot))
        self.recent_menu = m.addMenu("Open recent")
        m.addSeparator()
        m.addAction(self._make_action("save_screenshot", self._screenshot_dialog))
        m.addSeparator()
        m.addAction(self._make_action("quit", self.close))

        m = self.menu("Playback")
        for key, slot in (("play", self.toggle_play), ("next", lambda: self.step(1)), ("prev", lambda: self.step(-1)),
                          ("next10", lambda: self.step(10)), ("prev10", lambda: self.step(-10)),
                          ("first", lambda: self.go_to(0)), ("last", lambda: self.go_to(self.num_frames - 1)),
                          ("goto", self._goto_dialog)):
            m.addAction(self._make_action(key, slot))

        m = self.menu("Track")
        for key, slot in (("draw_box", self.start_drawing), ("enter_box", self._box_dialog)):
            m.addAction(self._make_action(key, slot))
        m.addSeparator()
        for key, slot in (("track_step", lambda: self.run_frames(1)),
                          ("track_n", lambda: self.run_frames(self.n_spin.value())),
                          ("track_end", lambda: self.run_frames(None)),
                          ("track_back_n", lambda: self.run_frames(self.n_spin.value(), direction=-1)),
                          ("track_stop", self.stop)):
            m.addAction(self._make_action(key, slot))
        m.addSeparator()
        m.addAction(self._make_action("settings", self._weights_dialog))

        m = self.menu("View")
        m.addAction(self._make_action("fit", self.view.fit))
        dbg = self.debug_dock.toggleViewAction()
        dbg.setShortcut(QKeySequence(BY_ACTION["toggle_debug"].keys))
        self.addAction(dbg)
        self._actions["toggle_debug"] = dbg
        m.addAction(dbg)
        m.addSeparator()
        for o in ov.OVERLAYS[::-1]:
            act = self._make_action(f"overlay_{o.key}", lambda on, k=o.key: self.set_overlay(k, on), True,
                                    self.overlay_enabled[o.key])
            m.addAction(act)

        m = self.menu("Help")
        m.addAction(self._make_action("shortcuts", lambda: ShortcutsDialog(self).exec()))

    def menu(self, name: str) -> QMenu:
        """The top-level menu `name`, created (before Help) if it does not exist yet."""
        if name not in self.menus:
            bar = self.menuBar()
            help_menu = self.menus.get("Help")
            menu = QMenu(name, self)
            if help_menu is not None:
                bar.insertMenu(help_menu.menuAction(), menu)
            else:
                bar.addMenu(menu)
            self.menus[name] = menu
        return self.menus[name]

    def add_action(self, menu: str, text: str, slot: Callable, keys: str = "", key: str | None = None) -> QAction:
        """Add an action to a menu (created if needed); `key` names it for `action(key)`."""
        act = QAction(text, self)
        if keys:
            act.setShortcut(QKeySequence(keys))
        act.triggered.connect(lambda _=False: slot())
        self.addAction(act)
        self.menu(menu).addAction(act)
        if key:
            self._actions[key] = act
        return act

    def add_dock(self, dock, area=Qt.DockWidgetArea.RightDockWidgetArea) -> None:
        self.addDockWidget(area, dock)

    def add_view_item(self, item) -> None:
        """Put a graphics item (image coordinates) over the frame, e.g. the annotation overlay."""
        self.view.viewbox.addItem(item)

    # ---- the model's state, for views and tests
    @property
    def source(self) -> FrameSource | None:
        return self.model.source

    @property
    def source_path(self) -> Path | None:
        return self.model.path

    @property
    def store(self):
        """The engine's results: a view of the annotation document's per-frame records."""
        return self.model.results

    @property
    def current_index(self) -> int:
        return self.model.current

    # Toolbar looks: a standard icon where one fits, else a short text (menus keep the long texts).
    TOOLBAR_LOOK = {
        "open_file": ("SP_DialogOpenButton", "Open"), "open_sample": (None, "Sample"),
        "first": ("SP_MediaSkipBackward", "First"), "prev10": ("SP_MediaSeekBackward", "-10"),
        "prev": (None, "◀ 1"), "play": ("SP_MediaPlay", "Play"), "next": (None, "1 ▶"),
        "next10": ("SP_MediaSeekForward", "+10"), "last": ("SP_MediaSkipForward", "Last"),
        "draw_box": (None, "Draw box"), "track_step": (None, "Track 1"), "track_n": (None, "Track N"),
        "track_end": (None, "Track to end"), "track_stop": ("SP_MediaStop", "Stop"),
    }

    def _toolbar_action(self, tb: QToolBar, key: str) -> None:
        act = self.action(key)
        icon_name, short = self.TOOLBAR_LOOK.get(key, (None, act.text()))
        tool = QAction(short, self)
        if icon_name:
            tool.setIcon(self.style().standardIcon(getattr(QStyle.StandardPixmap, icon_name)))
        tool.setToolTip(act.toolTip())
        tool.triggered.connect(act.trigger)
        act.changed.connect(lambda: tool.setEnabled(act.isEnabled()))
        tb.addAction(tool)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Navigation")
        tb.setObjectName("navigation_toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(tb)
        for key in ("open_file", "open_sample", None, "first", "prev10", "prev", "play", "next", "next10", "last"):
            if key is None:
                tb.addSeparator()
            else:
                self._toolbar_action(tb, key)
        tb = QToolBar("Tracking")
        tb.setObjectName("tracking_toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar = tb
        self.addToolBar(tb)
        self._toolbar_action(tb, "draw_box")
        tb.addWidget(QLabel(" Engine "))
        self.engine_combo = QComboBox()
        self.engine_combo.setMinimumWidth(150)
        tb.addWidget(self.engine_combo)
        tb.addWidget(QLabel(" Device "))
        self.device_combo = QComboBox()
        self.device_combo.addItem("cpu")
        tb.addWidget(self.device_combo)
        self._toolbar_action(tb, "track_step")
        self.n_spin = NumberBox()
        self.n_spin.setRange(1, 100000)
        self.n_spin.setValue(int(self.settings.value("run_n", 50)))
        self.n_spin.setPrefix("N = ")
        self.n_spin.valueChanged.connect(lambda v: self.settings.setValue("run_n", v))
        tb.addWidget(self.n_spin)
        for key in ("track_n", "track_end", "track_stop"):
            self._toolbar_action(tb, key)
        self.action("track_stop").setEnabled(False)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setFormat("")  # "%v / %m" once a run reports progress
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        # Always shown (idle: empty): showing and hiding it would relayout the whole window.
        # Fixed widths: a label that changes width relayouts the whole window (tens of ms) on every update.
        self.fps_label = QLabel("")  # empty until a run measured something (never "0.0 fps")
        self.fps_label.setFixedWidth(80)
        self.frame_label = QLabel("")
        self.frame_label.setFixedWidth(130)
        sb.addPermanentWidget(self.frame_label)
        sb.addPermanentWidget(self.fps_label)
        sb.addPermanentWidget(self.progress)

    # ================================================================== engines
    def weights(self) -> dict[str, str]:
        """The weight files set in Track > Engine weights: kind (e.g. 'keep_track') -> path."""
        return {wf.kind: str(self.settings.value(f"weights/{wf.kind}", "") or "") for wf in WEIGHT_FILES}

    def _refresh_engines(self, wanted: str | None = None) -> None:
        weights = self.weights()
        current = wanted or self.engine_combo.currentText() or None
        chosen, note = choose_engine(current, weights)
        model = QStandardItemModel()
        self.engine_combo.setModel(model)
        for info in available_engines():
            ok, why = engine_status(info, weights)
            self.engine_combo.addItem(info.name)
            item = model.item(model.rowCount() - 1)
            item.setEnabled(ok)
            item.setToolTip(info.description + ("" if ok else f" - {why}"))
        if chosen is not None:
            self.engine_combo.setCurrentText(chosen)
        if note:
            self.show_status(note)

    def _preload_engine(self) -> None:
        """Import the chosen engine's module in the background now, not when tracking starts.

        Importing torch the first time holds the GIL for up to a second (loading its libraries), which
        freezes the window wherever it happens; at start-up, on the start view, it disturbs nobody.
        """
        info = next((i for i in available_engines() if i.name == self.engine_name()), None)
        module = info.target.split(":")[0] if info is not None else None
        if module is None or module in sys.modules or not module_present(info.target):
            self.preloaded.set()
            return
        if self._preload is not None and self._preload.is_alive():
            return  # one at a time; the next change of engine starts another
        self.preloaded.clear()

        def load():
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - creating the engine reports it, with the window's message bar
                pass
            finally:
                self.preloaded.set()

        self._preload = threading.Thread(target=load, daemon=True, name="engine-preload")
        self._preload.start()

    def set_engine(self, name: str) -> None:
        """Select engine `name`; InputError where it is unknown or cannot be used here."""
        infos = {i.name: i for i in available_engines()}
        if name not in infos:
            raise InputError(f"unknown engine {name!r}; known engines: {', '.join(infos)}")
        ok, why = engine_status(infos[name], self.weights())
        if not ok:
            raise InputError(f"engine {name!r} cannot be used: {why}")
        self.engine_combo.setCurrentText(name)

    def _probe_cuda(self) -> None:
        if cuda_available():
            self.device_combo.addItem("cuda")

    def _weights_dialog(self) -> None:
        dlg = WeightsDialog(self.weights(), self)
        if dlg.exec():
            for kind, path in dlg.weights.items():
                self.settings.setValue(f"weights/{kind}", path)
            self._refresh_engines()

    # ================================================================== opening
    @property
    def num_frames(self) -> int:
        return self.model.num_frames

    def open_sample(self) -> bool:
        return self.open_path(SAMPLE_PATH)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video or image", str(self._last_dir()),
                                              "Videos and images (*.mp4 *.avi *.mov *.mkv *.webm *.jpg *.png);;All (*)")
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open image or sequence folder", str(self._last_dir()))
        if path:
            self.open_path(path)

    def _last_dir(self) -> Path:
        recent = self.recent_files()
        return Path(recent[0]).parent if recent else Path.home()

    def open_path(self, path: str | Path) -> bool:
        """Open a video, image folder or sequence folder: False (with a message in the window) where it cannot.

        The source is opened here (readers check the file and decode frame 0); its frames are counted once,
        in a worker (a video's count is one decoding pass), and the count is shared by everything that reads
        it. `sourceOpened` and the first `frameShown` follow when the count is known.
        """
        path = Path(path)
        try:
            source = self._open(path)
        except Exception as exc:  # noqa: BLE001 - a bad file is a message, never a crash
            self.show_message(f"Cannot open {path}: {describe_error(exc)}")
            return False
        if self.source is not None and not self.close_allowed(f"open {path.name}"):
            source.close()
            return False
        self.close_source()
        counter = FrameCounter(source, self)
        self._counting = (counter, source, path)
        counter.counted.connect(self._source_counted, Qt.ConnectionType.QueuedConnection)  # in this thread
        self.show_status(f"Opening {path} (counting its frames)...")
        counter.start()
        return True

    @property
    def opening(self) -> bool:
        """A source is open but its frames are still being counted."""
        return self._counting is not None

    def _source_counted(self, counter, n: int, error: str) -> None:
        if self._counting is None or self._counting[0] is not counter:
            return  # another source was opened meanwhile
        _, source, path = self._counting
        self._counting = None
        counter.wait()
        counter.deleteLater()
        try:
            if error:
                raise InputError(error)
            self.model.open(source, path, n)
        except Exception as exc:  # noqa: BLE001
            source.close()
            self.show_message(f"Cannot open {path}: {describe_error(exc)}")
            return
        self.decoder = FrameDecoder(source, self)
        self.decoder.frameReady.connect(self._frame_ready)
        self.decoder.frameFailed.connect(lambda i, msg: self.show_message(msg))
        self.tracker = TrackingController(source, n, self)
        self.tracker.batch.connect(self._on_batch)
        self.tracker.started.connect(self._on_started)
        self.tracker.failed.connect(lambda _id, msg: self.show_message(f"Tracking stopped: {msg}"))
        self.tracker.finished.connect(self._on_finished)
        self.timeline.set_length(n)
        self.debug_dock.set_length(n)
        self.stack.setCurrentWidget(self.viewer)
        self.message_bar.hide()
        self.setWindowTitle(f"{source.name} - KeepTrack Studio")
        self._add_recent(path)
        self.view.set_draw_mode(True)
        hint = "drag on the frame to draw the target's box"
        start = self.model.evaluation_start  # where `eval` starts: a run from its suggested box matches eval
        if start is not None and self.model.suggested_box(start) is not None:
            hint = (f"frame {start}'s box is taken from the sequence's ground truth"
                    + (" (evaluation starts there)" if start else "") + "; adjust it or draw a new one")
        self.show_status(f"Opened {path} ({n} frames, {source.fps:g} fps): {hint}")
        self.sourceOpened.emit(source)  # the annotation part may open a project or recover an autosave here
        self.go_to(start if start is not None and self.model.suggested_box(start) is not None else 0)

    def close_source(self) -> None:
        self.stop()
        if self._counting is not None:  # still counting: let it end, then close that source
            counter, source, _ = self._counting
            self._counting = None
            counter.wait()
            counter.deleteLater()
            source.close()
        for worker in (self.decoder, self.tracker):
            if worker is not None:
                worker.shutdown()
                worker.deleteLater()
        self.decoder = self.tracker = None
        self.model.close()  # the annotation session closes (autosave), then the one source handle
        self.reset_status_widgets()
        self.current_frame = None
        self.view.clear_frame()
        self.debug_dock.update_series(self.store)

    def recent_files(self) -> list[str]:
        v = self.settings.value("recent", [])
        return [v] if isinstance(v, str) else list(v or [])

    def _add_recent(self, path: Path) -> None:
        p = str(path.resolve())
        recent = [p] + [r for r in self.recent_files() if r != p]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        self.recent_list.clear()
        for p in self.recent_files():
            self.recent_menu.addAction(p, lambda p=p: self.open_path(p))
            self.recent_list.addItem(p)
        self.recent_menu.setEnabled(bool(self.recent_files()))
        self.recent_label.setVisible(bool(self.recent_files()))
        self.recent_list.setVisible(bool(self.recent_files()))

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0].toLocalFile())
            event.acceptProposedAction()

    # ================================================================== navigation
    def go_to(self, index: int) -> None:
        if self.decoder is None:
            return
        index = self.model.go_to(index)
        self.timeline.set_index(index)
        self.decoder.request(index)

    def _user_go_to(self, index: int) -> None:
        self._follow = False  # looking elsewhere while a run goes on: stop jumping to the newest frame
        self.go_to(index)

    def step(self, delta: int) -> None:
        self._follow = False
        self.go_to(self.current_index + delta)

    def _goto_dialog(self) -> None:
        if self.source is None:
            return
        i, ok = QInputDialog.getInt(self, "Go to frame", f"Frame (0..{self.num_frames - 1}):",
                                    self.current_index, 0, self.num_frames - 1)
        if ok:
            self.step(i - self.current_index)

    def toggle_play(self) -> None:
        self._follow = False
        if self._play_timer.isActive():
            self._play_timer.stop()
        elif self.source is not None:
            if self.current_index >= self.num_frames - 1:
                self.go_to(0)
            self._play_timer.start(max(int(1000 / max(self.source.fps, 1.0)), 1))

    @property
    def playing(self) -> bool:
        return self._play_timer.isActive()

    def _play_tick(self) -> None:
        if self.decoder is None or self.current_index >= self.num_frames - 1:
            self._play_timer.stop()
            return
        if self.decoder.in_flight:  # decoding slower than the video's fps: skip this tick, never queue up
            return
        self.go_to(self.current_index + 1)

    def _frame_ready(self, index: int, frame) -> None:
        if index != self.current_index:
            return
        self.model.frame_decoded(index, frame)
        self._show(index, frame)

    def _show(self, index: int, frame, live: bool = False) -> None:
        self.current_frame = frame
        self.view.set_frame(frame)
        result = self.store.get(index)
        self.view.show_overlays(self._overlays(index))
        self._show_handles(index)
        if not live:  # while tracking, the dock follows at the slower series rate (it is costly to redraw)
            self.debug_dock.show_frame(index, result)
        self.frame_label.setText(f"frame {index} / {self.num_frames - 1}")
        self.frameShown.emit(index)

    def _overlays(self, index: int) -> dict[str, list]:
        gt = self.source.ground_truth if self.source is not None else None
        gt_box = gt.boxes[index] if gt is not None and 0 <= index < len(gt.boxes) else None
        return ov.build_overlays(self.store.get(index), self.overlay_enabled, gt_box)

    def set_overlay(self, key: str, on: bool) -> None:
        self.overlay_enabled[key] = on
        if self.current_frame is not None:
            self.view.show_overlays(self._overlays(self.current_index))

    # ================================================================== boxes
    def start_drawing(self) -> None:
        """Box tool on: drag a new box, or adjust the current frame's own box (manual, tracked or suggested)."""
        self.view.set_draw_mode(True)
        self._show_handles(self.current_index)
        self.show_status("Drag on the frame to draw the target's box; drag its handles to adjust it")

    def _show_handles(self, index: int) -> None:
        """The handle box shows the box of the frame on screen, or nothing: never another frame's box."""
        box = self.model.box_at(index) if self.view.viewbox.draw_mode and not self.tracking else None
        if box is not None:
            self.view.set_box(box)
        else:
            self.view.hide_box()

    def set_box(self, box: Box) -> bool:
        """A box for the current frame (typed, scripted or drawn): a manual keyframe there. False (with a
        message) when it is refused."""
        try:
            self.model.set_box(self.current_index, box)
        except InputError as exc:
            self.show_message(str(exc))
            return False
        self.clear_message()
        self.show_status("Box [" + ", ".join(f"{v:g}" for v in self.model.box_at(self.current_index))
                         + f"] on frame {self.current_index}: press T to track one frame, R for N frames, "
                         "Ctrl+R to the end")
        return True

    def _box_edited(self, box: Box) -> None:
        if self.tracking:
            self.show_message("Tracking is running; stop it (Esc) before editing boxes")
            self._show_handles(self.current_index)
            return
        self.set_box(box)

    def _annotation_changed(self, frames) -> None:
        if self.current_frame is None or self.tracking:
            return
        if self.current_index in frames:
            self.view.show_overlays(self._overlays(self.current_index))
            self._show_handles(self.current_index)
        self._series_after_edit.start()

    def _box_dialog(self) -> None:
        box = self.model.box_at(self.current_index)
        current = ", ".join(f"{v:g}" for v in box) if box else ""
        text, ok = QInputDialog.getText(self, f"Box on frame {self.current_index}",
                                        "x, y, w, h (image pixels, top-left corner):", text=current)
        if ok and text.strip():
            try:
                box = parse_box(text)
            except InputError as exc:
                self.show_message(str(exc))
                return
            if self.set_box(box):
                self.view.set_draw_mode(True)
                self._show_handles(self.current_index)

    # ================================================================== tracking
    def engine_name(self) -> str:
        return self.engine_combo.currentText()

    def device(self) -> str:
        return self.device_combo.currentText()

    def run_frames(self, count: int | None, direction: int = 1, until_keyframe: bool = False,
                   reinitialise: bool = False, all_targets: bool = False) -> int | None:
        """Track `count` frames from the current one (None: to the end, or the start when going backwards;
        `until_keyframe`: stop before the next manual keyframe; `reinitialise`: never continue the engine),
        for the selected target, or with `all_targets` for every target that can be (one engine each).

        What the run starts from is the model's decision (`StudioModel.plan_run`, the rules in docs/studio.md).
        Returns the request id, or None (with the reason on screen).
        """
        if self.tracker is None or self.source is None:
            self.show_message("Open a video or sequence first (File > Open, or the sample)")
            return None
        if self.tracker.busy:
            self.show_status("Tracking is already running (Esc stops it)")
            return None
        name, device = self.engine_name(), self.device()
        if not name:
            self.show_message("No tracking engine is available in this copy")
            return None
        params = engine_params(name, self.weights())
        try:
            key = engine_key(name, device, params)
            if all_targets:
                plans = self.model.plan_all(key, count, direction, until_keyframe=until_keyframe,
                                            reinitialise=reinitialise)
            else:
                plans = [self.model.plan_run(key, count, direction, until_keyframe=until_keyframe,
                                             reinitialise=reinitialise)]
            self.model.begin_run(plans, name)
        except InputError as exc:
            self.show_message(str(exc))
            return None
        parts = tuple(TargetRun(p.target, p.start if p.init_box is not None else p.first_tracked, p.end, p.init_box)
                      for p in plans)
        plan = plans[0]
        request = TrackRequest(name, parts[0].start_index, plan.end, plan.init_box, direction, device, params,
                               target=plan.target, targets=parts if len(parts) > 1 else ())
        self.view.hide_box()
        self.view.set_draw_mode(False)
        self._play_timer.stop()
        self._follow = True
        self.tracked_count = 0
        try:
            return self.tracker.start(request)
        except RuntimeError as exc:
            self.model.abort_run()
            self.show_message(str(exc))
            return None

    def stop(self) -> None:
        self._play_timer.stop()
        if self.tracker is not None:
            self.tracker.cancel()

    @property
    def tracking(self) -> bool:
        return self.tracker is not None and self.tracker.busy

    def reset_status_widgets(self) -> None:
        """Progress and speed belong to one run on one footage: empty them before the next."""
        self._progress = None
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")  # not "0 / 1": nothing ran
        self.fps_label.setText("")

    def _on_started(self, request_id: int) -> None:
        self.reset_status_widgets()
        self.clear_message()
        self.action("track_stop").setEnabled(True)
        self.show_status(f"Tracking with {self.engine_name()} on {self.device()}... (Esc stops)")
        self._render_timer.start()
        self._series_timer.start()

    def _on_batch(self, batch) -> None:
        self.model.add_results(batch.results, batch.targets or None)
        for result in batch.results:
            self.tracked_count += 1
            self.resultArrived.emit(result)
        if self._follow:
            self._live = (batch.results[-1], batch.frame)
        elif self.current_frame is not None and any(r.frame_index == self.current_index for r in batch.results):
            # the user looks at another frame while the run goes on, and its result has just arrived
            self.view.show_overlays(self._overlays(self.current_index))
        self._progress = (batch.done, batch.total, batch.fps)  # shown by the next live redraw

    def _render_live(self) -> None:
        if self._progress is not None:
            done, total, fps = self._progress
            self._progress = None
            if total:
                self.progress.setFormat("%v / %m")
                self.progress.setRange(0, total)
                self.progress.setValue(done)
                self.fps_label.setText(f"{fps:.1f} fps" if done else "")
        if self._live is None:
            return
        result, frame = self._live
        self._live = None
        self.model.go_to(result.frame_index)
        self.timeline.set_index(result.frame_index)
        self._show(result.frame_index, frame, live=True)

    def _refresh_series(self) -> None:
        self.debug_dock.show_frame(self.current_index, self.store.get(self.current_index))
        self.debug_dock.update_series(self.store)
        self.timeline.strip.set_flags(self.store.flags(self.num_frames))

    def _on_finished(self, request_id: int, status: str) -> None:
        self._render_live()
        self.model.finish_run(status)
        self._render_timer.stop()
        self._series_timer.stop()
        if self.current_frame is not None:  # the stored result of the frame on screen may have just arrived
            self.view.show_overlays(self._overlays(self.current_index))
        self._refresh_series()
        self.action("track_stop").setEnabled(False)
        if status == "done":
            self.show_status(f"Tracked up to frame {self.current_index} ({self.fps_label.text() or 'no frames'})")
        elif status == "cancelled":
            self.show_status(f"Stopped at frame {self.current_index}; the frames tracked so far are kept "
                             "(Ctrl+Z removes them)")
        self.trackingFinished.emit(request_id, status)

    # ================================================================== messages, screenshots, closing
    def show_message(self, text: str) -> None:
        """An error or warning the user must see: a red bar above the frame (click to dismiss) and the status bar."""
        self.last_message = text
        self.messages.append(text)
        self.message_bar.setText(text)
        if self.stack.currentWidget() is self.viewer:
            self.message_bar.show()
        self.statusBar().showMessage(text, 15000)

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text)

    def clear_message(self) -> None:
        """The red bar goes once the next action succeeds (a run starts, footage opens, a save or export)."""
        self.message_bar.hide()

    def save_screenshot(self, path: str | Path) -> None:
        """The whole window as PNG: read back from the screen where there is one (what the user sees,
        e.g. under Xvfb), rendered by Qt on the offscreen platform."""
        from PySide6.QtGui import QGuiApplication

        self._render_live()
        image = None
        if QGuiApplication.platformName() not in ("offscreen", "minimal") and self.screen() is not None:
            image = self.screen().grabWindow(self.winId())
        if image is None or image.isNull():
            image = self.grab()
        if not image.save(str(path)):
            raise InputError(f"cannot write the screenshot {path}")

    def _screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "keeptrack-studio.png", "PNG (*.png)")
        if path:
            try:
                self.save_screenshot(path)
            except InputError as exc:
                self.show_message(str(exc))

    def close_allowed(self, doing: str) -> bool:
        return all(guard(doing) for guard in list(self.close_guards))

    def closeEvent(self, event):
        if not self.close_allowed("quit"):
            event.ignore()
            return
        self.aboutToClose.emit()
        if self._preload is not None:
            self._preload.join(60)  # never let the interpreter exit in the middle of importing torch
        self.close_source()
        super().closeEvent(event)
