"""The timeline: frame slider (debounced while dragged), frame number box, and a strip of every frame's flag."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QVBoxLayout, QWidget

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


class Timeline(QWidget):
    frameRequested = Signal(int)

    DEBOUNCE_MS = 25

    def __init__(self, parent=None):
        super().__init__(parent)
        self.strip = FlagStrip()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrow keys belong to the window's shortcuts
        self.spin = QSpinBox()
        self.spin.setKeyboardTracking(False)
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
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.addLayout(col, 1)
        row.addWidget(QLabel("Frame"))
        row.addWidget(self.spin)
        row.addWidget(self.total)

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
