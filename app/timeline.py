"""The timeline: frame slider (debounced while dragged), frame number box, and a strip of every frame's flag."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QStyle, QStyleOptionSpinBox,
                               QVBoxLayout, QWidget)

from tracker.result import Flag

from .overlays import FLAG_COLORS

NO_RESULT_COLOR = (70, 70, 70)


class ColorStrip(QWidget):
    """One coloured column per frame, drawn under the slider (the flag strip, the annotations' provenance strip)."""

    def __init__(self, height: int, parent=None):
        super().__init__(parent)
        self.setFixedHeight(height)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.colors: list[tuple[int, int, int]] = []
        self._image: QImage | None = None

    def set_colors(self, colors: list[tuple[int, int, int]], empty: tuple[int, int, int]) -> None:
        """Colour of every frame; `empty` fills a strip with no frames."""
        self.colors = list(colors)
        image = QImage(max(len(self.colors), 1), 1, QImage.Format.Format_RGB32)
        for i, color in enumerate(self.colors or [empty]):
            image.setPixelColor(i, 0, QColor(*color))
        self._image = image
        self.update()

    def paintEvent(self, event):
        if self._image is None:
            return
        painter = QPainter(self)
        # The slider's groove is inset by about half a handle on each side; match it roughly.
        inset = 6
        painter.drawImage(QRect(inset, 0, max(self.width() - 2 * inset, 1), self.height()), self._image)
        painter.end()


class FlagStrip(ColorStrip):
    """One coloured column per frame: its flag's colour, grey where the frame has no result yet."""

    def __init__(self, parent=None):
        super().__init__(8, parent)
        self.flags: list[Flag | None] = []

    def set_flags(self, flags: list[Flag | None]) -> None:
        self.flags = list(flags)
        self.set_colors([FLAG_COLORS[f] if f is not None else NO_RESULT_COLOR for f in self.flags], NO_RESULT_COLOR)


class NumberBox(QSpinBox):
    """A spin box that is no keyboard trap: it keeps only the keys that edit a number (digits, Backspace,
    Delete, Up/Down), so every other application shortcut (R, A, Space, Ctrl+Z, ...) works while it has
    focus. Enter commits and gives focus back, Esc restores the value it had and gives focus back (a
    half-typed number is not committed). Clicking its arrows steps it without taking focus.
    The value changes only on Enter (or focus loss), never on every digit typed."""

    EDIT_KEYS = frozenset((*(getattr(Qt.Key, f"Key_{d}") for d in range(10)), Qt.Key.Key_Backspace,
                           Qt.Key.Key_Delete, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp,
                           Qt.Key.Key_PageDown, Qt.Key.Key_Return, Qt.Key.Key_Enter))
    COMMAND_MODIFIERS = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | \
        Qt.KeyboardModifier.MetaModifier

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

    def event(self, e):
        if e.type() == QEvent.Type.ShortcutOverride:
            if e.key() in self.EDIT_KEYS and not (e.modifiers() & self.COMMAND_MODIFIERS):
                e.accept()  # typing a number
            elif e.key() == Qt.Key.Key_Escape and self.edited:
                e.accept()  # Esc abandons the half-typed number (keyPressEvent); a second Esc is the shortcut
            else:
                if e.key() == Qt.Key.Key_Escape:
                    self.clearFocus()  # nothing typed: Esc is the application's (stop) and leaves the box
                e.ignore()  # an application shortcut: let it through
            return True
        return super().event(e)

    @property
    def edited(self) -> bool:
        """Text typed that is not the value yet."""
        return self.lineEdit().text() != self.prefix() + self.textFromValue(self.value()) + self.suffix()

    def keyPressEvent(self, e):
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            super().keyPressEvent(e)  # commits the typed value
            self.clearFocus()
        elif e.key() == Qt.Key.Key_Escape:
            self.lineEdit().setText(self.prefix() + self.textFromValue(self.value()) + self.suffix())
            self.clearFocus()
        else:
            super().keyPressEvent(e)

    def mousePressEvent(self, e):
        had_focus = self.hasFocus()
        super().mousePressEvent(e)
        opt = QStyleOptionSpinBox()
        self.initStyleOption(opt)
        part = self.style().hitTestComplexControl(QStyle.ComplexControl.CC_SpinBox, opt, e.position().toPoint(), self)
        if not had_focus and part in (QStyle.SubControl.SC_SpinBoxUp, QStyle.SubControl.SC_SpinBoxDown):
            self.clearFocus()


class Timeline(QWidget):
    frameRequested = Signal(int)

    DEBOUNCE_MS = 25

    def __init__(self, parent=None):
        super().__init__(parent)
        self.strip = FlagStrip()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrow keys belong to the window's shortcuts
        self.spin = NumberBox()
        self.spin.setFixedWidth(80)
        self.total = QLabel("/ 0")
        self._debounce = QTimer(self, singleShot=True, interval=self.DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.frameRequested.emit(self.slider.value()))
        self.slider.valueChanged.connect(self._slider_changed)
        self.spin.valueChanged.connect(self._spin_changed)
        self._quiet = False

        col = QVBoxLayout()
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(1)
        col.addWidget(self.strip)
        col.addWidget(self.slider)
        self._column = col
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.addLayout(col, 1)
        row.addWidget(QLabel("Frame"))
        row.addWidget(self.spin)
        row.addWidget(self.total)

    def add_strip(self, widget: QWidget) -> None:
        """Put a strip under the slider, in its column, so that frame i lines up with slider position i."""
        self._column.addWidget(widget)

    def set_length(self, n: int) -> None:
        self._quiet = True
        self.slider.setRange(0, max(n - 1, 0))
        self.spin.setRange(0, max(n - 1, 0))
        self.total.setText(f"/ {max(n - 1, 0)}")
        self._quiet = False
        self.strip.set_flags([None] * n)

    def set_index(self, i: int) -> None:
        """Show frame `i` as current without asking for it again."""
        self._quiet = True
        self.slider.setValue(i)
        self.spin.setValue(i)
        self._quiet = False

    def _slider_changed(self, value: int) -> None:
        if self._quiet:
            return
        self._quiet = True
        self.spin.setValue(value)
        self._quiet = False
        if self.slider.isSliderDown():
            self._debounce.start()  # while dragging, ask only once the handle rests for a moment
        else:
            self.frameRequested.emit(value)

    def _spin_changed(self, value: int) -> None:
        if self._quiet:
            return
        self._quiet = True
        self.slider.setValue(value)
        self._quiet = False
        self.frameRequested.emit(value)
