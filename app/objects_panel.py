"""The objects panel: every target of the open sequence (id, label, colour, visible, locked, frames annotated).

A view that only listens: it reads the document (`model.document`) and turns clicks into model / session
calls (select, relabel, show/hide, lock, new, remove, track selected / all, add a label). Selecting a row
selects the target (the one drawn boxes go to and whose engine overlays are shown).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDockWidget, QHBoxLayout, QInputDialog, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from tracker.errors import InputError

COLUMNS = ("id", "label", "colour", "visible", "locked", "frames")
COUNT_REFRESH_MS = 250  # the frames-annotated column while a run writes: at most four updates a second


class ObjectsPanel(QDockWidget):
    def __init__(self, window, controller):
        super().__init__("Objects", window)
        self.setObjectName("objects_panel")
        self.w = window
        self.model = window.model
        self.controller = controller
        self._shape = None  # what the rows were built from: (targets, labels, selected)
        self._filling = False
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(2, 2, 2, 2)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.table.itemChanged.connect(self._item_changed)
        self.table.installEventFilter(self)
        lay.addWidget(self.table)
        buttons = QHBoxLayout()
        for text, tip, slot in (("New", "New target (N): draw its box next", controller.new_target),
                                ("Delete", "Remove the selected target (Shift+Del; undoable)", controller.remove_target),
                                ("Label +", "Add a label to the project's list", self.add_label_dialog),
                                ("Track sel.", "Track the selected target to the end", controller.track_selected),
                                ("Track all", "Track every target to the end (Ctrl+Shift+R)", controller.track_all)):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(lambda _c=False, f=slot: f())
            buttons.addWidget(b)
            setattr(self, "button_" + text.lower().replace(" ", "_").replace(".", "").replace("+", "add"), b)
        lay.addLayout(buttons)
        self.setWidget(body)
        self._count_timer = QTimer(self, singleShot=True, interval=COUNT_REFRESH_MS)
        self._count_timer.timeout.connect(self.refresh_counts)
        self.model.events.annotation_changed.connect(self._changed)
        self.model.events.session_replaced.connect(lambda _s: self.refresh())

    # ---- reading the document
    def _document(self):
        return self.model.document

    def rows(self) -> list[dict]:
        """What the panel shows, row by row (for tests and the status line)."""
        out = []
        for r in range(self.table.rowCount()):
            out.append({
                "id": int(self.table.item(r, 0).text()),
                "label": self.table.cellWidget(r, 1).currentText(),
                "colour": self.table.item(r, 2).text(),
                "visible": self.table.item(r, 3).checkState() == Qt.CheckState.Checked,
                "locked": self.table.item(r, 4).checkState() == Qt.CheckState.Checked,
                "frames": int(self.table.item(r, 5).text()),
            })
        return out

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _changed(self, _frames) -> None:
        doc = self._document()
        shape = None if doc is None else (tuple(doc.targets), doc.labels, doc.selected)
        if shape != self._shape:
            self.refresh()
        elif not self._count_timer.isActive():
            self._count_timer.start()

    def refresh(self) -> None:
        doc = self._document()
        self._filling = True
        try:
            self._shape = None if doc is None else (tuple(doc.targets), doc.labels, doc.selected)
            targets = [] if doc is None else doc.targets
            self.table.setRowCount(len(targets))
            for r, t in enumerate(targets):
                colour = doc.colour(t.id)
                self.table.setItem(r, 0, QTableWidgetItem(str(t.id)))
                combo = QComboBox()
                combo.addItems([lab.name for lab in doc.labels])
                combo.setCurrentText(t.label)
                combo.currentTextChanged.connect(lambda text, tid=t.id: self._relabel(tid, text))
                self.table.setCellWidget(r, 1, combo)
                swatch = QTableWidgetItem(colour)
                swatch.setBackground(QColor(colour))
                self.table.setItem(r, 2, swatch)
                for col, on in ((3, t.visible), (4, t.locked)):
                    item = QTableWidgetItem("")
                    item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled
                                  | Qt.ItemFlag.ItemIsSelectable)
                    item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                    self.table.setItem(r, col, item)
                self.table.setItem(r, 5, QTableWidgetItem(str(doc.frames_annotated(t.id))))
                if t.id == doc.selected:
                    self.table.selectRow(r)
            if doc is None or doc.selected is None:
                self.table.clearSelection()
        finally:
            self._filling = False

    def refresh_counts(self) -> None:
        doc = self._document()
        if doc is None:
            return
        for r in range(self.table.rowCount()):
            tid = int(self.table.item(r, 0).text())
            if doc.has_target(tid):
                self.table.item(r, 5).setText(str(doc.frames_annotated(tid)))

    # ---- acting
    def _row_selected(self) -> None:
        if self._filling:
            return
        r = self.selected_row()
        if r is not None:
            self.controller.select_target(int(self.table.item(r, 0).text()))

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() not in (3, 4):
            return
        tid = int(self.table.item(item.row(), 0).text())
        on = item.checkState() == Qt.CheckState.Checked
        self.controller.change_target(tid, **({"visible": on} if item.column() == 3 else {"locked": on}))

    def _relabel(self, tid: int, label: str) -> None:
        if not self._filling and label:
            self.controller.change_target(tid, label=label)

    def add_label_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "Add label", "Label name (e.g. person, car):")
        if ok and name.strip():
            self.controller.add_label(name.strip())

    def eventFilter(self, obj, event):
        from PySide6.QtCore import QEvent

        if obj is self.table and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) \
                and event.key() == Qt.Key.Key_Delete:
            if event.type() == QEvent.Type.ShortcutOverride:  # Delete here removes the target, not the frame's box
                event.accept()
                return False
            self.controller.remove_target()
            return True
        return super().eventFilter(obj, event)
