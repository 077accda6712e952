"""The frame view: the frame (fixed levels, zoom and pan), the box-drawing tool and the overlays."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsLineItem, QGraphicsRectItem

from tracker.result import Box

from . import overlays as ov


def _pen(color, width: float, dashed: bool = False) -> QPen:
    pen = QPen(QColor(*color))
    pen.setCosmetic(True)  # width in screen pixels, whatever the zoom
    pen.setWidthF(width)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def _heat_lut() -> np.ndarray:
    """Transparent blue at 0 through red to opaque yellow at 1 (RGBA, 256 entries)."""
    t = np.linspace(0, 1, 256)
    r = np.clip(3 * t, 0, 1)
    g = np.clip(3 * t - 1.2, 0, 1)
    b = np.clip(1 - 3 * t, 0, 1) * 0.8
    a = np.clip(t * 1.3, 0, 1)
    return (np.stack([r, g, b, a], axis=1) * 255).astype(np.uint8)


HEAT_LUT = _heat_lut()
TEXT_Z = 19  # labels above every other drawing, below the box tool's handles (20)
LABEL_GAP_PX = 3  # screen pixels between a label and what it labels


class FrameViewBox(pg.ViewBox):
    """A ViewBox where, in draw mode, a left drag draws a box (middle drag and the wheel still pan and zoom)."""

    boxDragged = Signal(object, bool)  # (x, y, w, h) in image pixels, finished?
    clicked = Signal(float, float, bool)  # image x, y; right button?

    def __init__(self):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.draw_mode = False

    def mouseClickEvent(self, ev):
        if ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.clicked.emit(float(p.x()), float(p.y()), ev.button() == Qt.MouseButton.RightButton)
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if self.draw_mode and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p0 = self.mapSceneToView(ev.buttonDownScenePos())
            p1 = self.mapSceneToView(ev.scenePos())
            x0, x1 = sorted((p0.x(), p1.x()))
            y0, y1 = sorted((p0.y(), p1.y()))
            self.boxDragged.emit((x0, y0, x1 - x0, y1 - y0), ev.isFinish())
            return
        super().mouseDragEvent(ev, axis)


class FrameView(pg.GraphicsView):
    boxEdited = Signal(object)  # the initial box [x, y, w, h] after a draw or a handle drag

    def __init__(self, parent=None):
        super().__init__(parent, background=(30, 30, 30))
        self.viewbox = FrameViewBox()
        self.setCentralItem(self.viewbox)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setZValue(0)
        self.viewbox.addItem(self.image_item)
        self.frame_shape: tuple[int, ...] | None = None
        self.roi = pg.ROI([0, 0], [10, 10], pen=pg.mkPen((0, 255, 255), width=2), removable=False,
                          rotatable=False)
        for corner, opposite in (([0, 0], [1, 1]), ([1, 1], [0, 0]), ([1, 0], [0, 1]), ([0, 1], [1, 0])):
            self.roi.addScaleHandle(corner, opposite)
        for edge, opposite in (([0.5, 0], [0.5, 1]), ([0.5, 1], [0.5, 0]), ([0, 0.5], [1, 0.5]), ([1, 0.5], [0, 0.5])):
            self.roi.addScaleHandle(edge, opposite)
        self.roi.setZValue(20)
        self.roi.hide()
        self.viewbox.addItem(self.roi)
        self.roi.sigRegionChangeFinished.connect(self._roi_changed)
        self.viewbox.boxDragged.connect(self._box_dragged)
        self.viewbox.sigRangeChanged.connect(self.place_labels)
        self.overlay_items: dict[str, list] = {}  # the items showing the current descriptions, by overlay
        self.overlay_descriptions: dict[str, list] = {}
        self.layer_descriptions: dict[str, list] = {}  # set_layer: other parts' drawings over the frame
        self._pools: dict[str, list] = {}  # every item made so far, by overlay (reused, hidden when spare)

    # ------------------------------------------------------------------ frame
    def set_frame(self, frame: np.ndarray) -> None:
        first = self.frame_shape is None or self.frame_shape[:2] != frame.shape[:2]
        # Fixed levels: the frame is shown as it is, never stretched per frame.
        self.image_item.setImage(frame, autoLevels=False, levels=(0, 255))
        self.frame_shape = frame.shape
        if first:
            self.fit()

    def fit(self) -> None:
        if self.frame_shape is not None:
            rows, cols = self.frame_shape[:2]
            self.viewbox.setRange(QRectF(0, 0, cols, rows), padding=0.02)

    def clear_frame(self) -> None:
        self.image_item.clear()
        self.frame_shape = None
        for key in list(self.layer_descriptions):
            self.set_layer(key, [])
        self.show_overlays({})
        self.hide_box()

    # ------------------------------------------------------------------ box tool
    def set_draw_mode(self, on: bool) -> None:
        self.viewbox.draw_mode = on
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def set_box(self, box: Box) -> None:
        x, y, w, h = box
        self.roi.setPos((x, y), update=False, finish=False)
        self.roi.setSize((w, h), update=True, finish=False)
        self.roi.show()

    def hide_box(self) -> None:
        self.roi.hide()

    def box(self) -> Box | None:
        if not self.roi.isVisible():
            return None
        pos, size = self.roi.pos(), self.roi.size()
        return (float(pos.x()), float(pos.y()), float(size.x()), float(size.y()))

    def _box_dragged(self, box, finished: bool) -> None:
        self.set_box(box)
        if finished:
            self._roi_changed()

    def _roi_changed(self, *_):
        box = self.box()
        if box is not None and box[2] >= 1 and box[3] >= 1:
            self.boxEdited.emit(tuple(round(v, 1) for v in box))

    def image_to_widget(self, x: float, y: float):
        """Widget (viewport) position of image point (x, y): for tests that drive the mouse."""
        scene = self.viewbox.mapViewToScene(pg.Point(x, y))
        return self.mapFromScene(scene)

    # ------------------------------------------------------------------ overlays
    def show_overlays(self, descriptions: dict[str, list]) -> None:
        """Draw the engine's overlays (one list of descriptions per overlay key), then place the labels."""
        self.overlay_descriptions = descriptions
        for z, (key, descs) in enumerate(descriptions.items(), start=1):
            self._draw(key, descs, z)
        for key in set(self.overlay_items) - set(descriptions) - set(self.layer_descriptions):
            self._draw(key, [], 0)
        self.place_labels()

    def set_layer(self, key: str, descriptions: list, z: float = 15) -> None:
        """Draw a layer of another part of the studio (the annotation box and its label) over the frame;
        its labels are placed together with the engine's, so none covers another or a target's box."""
        self.layer_descriptions[key] = descriptions
        self._draw(key, descriptions, z)
        self.place_labels()

    def _draw(self, key: str, descs: list, z: float) -> None:
        """Items of the same kind are reused from frame to frame (creating graphics items, text ones above
        all, is what makes a redraw slow); spare ones are hidden."""
        pool = self._pools.setdefault(key, [])
        used: list = []
        for d in descs:
            item = next((it for it in pool if it not in used and it._kind is type(d)), None)
            if item is None:
                item = self._make_item(d)
                item._kind = type(d)
                self.viewbox.addItem(item)
                pool.append(item)
            else:
                self._update_item(item, d)
            item.setZValue(TEXT_Z if isinstance(d, ov.Text) else z)
            item.setVisible(True)
            used.append(item)
        for item in pool:
            if item not in used:
                item.setVisible(False)
        self.overlay_items[key] = used

    def _drawn(self):
        """(description, item) of everything on screen, engine overlays first, then the other layers."""
        for group in (self.overlay_descriptions, self.layer_descriptions):
            for key, descs in group.items():
                yield from zip(descs, self.overlay_items.get(key, []))

    def place_labels(self, *_) -> None:
        """Move every label beside what it labels, off the targets' boxes, the candidates' circles and the
        labels placed before it (app.overlays.place_labels). Again at every zoom: labels keep their size on
        screen, so their size in image pixels changes."""
        texts, items, clear = [], [], []
        for d, item in self._drawn():
            if isinstance(d, ov.Text):
                texts.append(d)
                items.append(item)
            elif isinstance(d, ov.Rect) and d.keep_clear:
                clear.append((d.x, d.y, d.w, d.h))
            elif isinstance(d, ov.Circle):
                clear.append((d.x - d.radius, d.y - d.radius, 2 * d.radius, 2 * d.radius))
        if not texts:
            return
        px, py = (abs(float(v)) for v in self.viewbox.viewPixelSize())
        if not (np.isfinite(px) and np.isfinite(py) and px > 0 and py > 0):  # not laid out yet
            return
        sizes = [(item.textItem.boundingRect().width() * px, item.textItem.boundingRect().height() * py)
                 for item in items]
        vr = self.viewbox.viewRect()
        bounds = (vr.left(), min(vr.top(), vr.bottom()), vr.width(), abs(vr.height()))
        for item, (x, y) in zip(items, ov.place_labels(texts, sizes, clear, bounds, gap=LABEL_GAP_PX * px)):
            item.setPos(x, y)

    def label_rects(self) -> list[tuple[str, tuple[float, float, float, float]]]:
        """(text, rectangle in image pixels) of every label on screen, from the drawn items' geometry."""
        out = []
        for d, item in self._drawn():
            if isinstance(d, ov.Text) and item.isVisible():
                item.updateTransform()
                r = self.viewbox.mapSceneToView(item.sceneBoundingRect()).boundingRect()
                out.append((item.toPlainText(), (r.x(), r.y(), r.width(), r.height())))
        return out

    @staticmethod
    def _make_item(d):
        if isinstance(d, ov.Rect):
            item = QGraphicsRectItem()
        elif isinstance(d, ov.Circle):
            item = QGraphicsEllipseItem()
        elif isinstance(d, ov.Line):
            item = QGraphicsLineItem()
        elif isinstance(d, ov.Text):
            item = pg.TextItem("", anchor=(0, 0))
        elif isinstance(d, ov.Heatmap):
            item = pg.ImageItem(axisOrder="row-major")
            item.setLookupTable(HEAT_LUT)
        else:
            raise TypeError(f"unknown overlay description {type(d).__name__}")
        FrameView._update_item(item, d)
        return item

    @staticmethod
    def _update_item(item, d) -> None:
        if isinstance(d, ov.Rect):
            item.setRect(d.x, d.y, d.w, d.h)
            item.setPen(_pen(d.color, d.width, d.dashed))
        elif isinstance(d, ov.Circle):
            item.setRect(d.x - d.radius, d.y - d.radius, 2 * d.radius, 2 * d.radius)
            item.setPen(_pen(d.color, d.width))
        elif isinstance(d, ov.Line):
            item.setLine(d.x1, d.y1, d.x2, d.y2)
            item.setPen(_pen(d.color, d.width))
        elif isinstance(d, ov.Text):
            item.setText(d.text, color=d.color)
            item.fill = pg.mkBrush(*d.fill, d.fill_alpha)
            item.border = pg.mkPen(d.border, width=1.5) if d.border is not None else pg.mkPen(None)
            item.setPos(d.x, d.y)
            item.update()
        elif isinstance(d, ov.Heatmap):
            item.setImage(d.values, autoLevels=False, levels=(0.0, 1.0))
            item.setRect(QRectF(d.x, d.y, d.w, d.h))
            item.setOpacity(d.opacity)
