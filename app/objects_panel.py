"""The objects panel: every target of the open sequence (id, label, colour, visible, locked, frames annotated).
The colour is the one the target is drawn in (`AnnotationController.target_colour`).

A view that only listens: it reads the document (`model.document`) and turns clicks into model / session
calls (select, relabel, show/hide, lock, new, remove, track selected / all, add a label). Selecting a row
selects the target (the one drawn boxes go to and whose engine overlays are shown).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QDockWidget, QHBoxLayout,
                               QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from tracker.errors import InputError

COLUMNS = ("id", "label", "colour", "visible", "locked", "frames")
VISIBLE_ROWS = 5  # rows the panel is given at start (resizeDocks); it never shrinks below MIN_ROWS
MIN_ROWS = 1
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
        self._sized = False
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
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the label's list takes what is left
        header.setMinimumSectionSize(24)
        # every column fits the dock's width, and several targets show at once, under the debug dock's plots
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setMinimumHeight(self.table_height(MIN_ROWS))
        lay.addWidget(self.table)
        buttons = QHBoxLayout()
        for text, tip, slot in (("New", "New target (N): draw its box next", controller.new_target),
                                ("Delete", "Remove the selected target (Shift+Del; undoable)", controller.remove_target),
                                ("Labels", "Edit the project's label list: add, rename, recolour, remove",
                                 self.labels_dialog),
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
        # A run's last frames may still wait on the throttle: when it ends, the counts are shown at once.
        self.model.events.run_finished.connect(lambda _plan, _status: self.refresh_counts())

    def table_height(self, rows: int) -> int:
        """Height of the table showing its header and `rows` rows."""
        return (self.table.horizontalHeader().sizeHint().height()
                + rows * self.table.verticalHeader().defaultSectionSize() + 2 * self.table.frameWidth())

    def preferred_height(self) -> int:
        """The dock's height at start: VISIBLE_ROWS rows, the buttons and the title."""
        return self.table_height(VISIBLE_ROWS) + self.button_new.sizeHint().height() + 40

    def showEvent(self, event):
        super().showEvent(event)
        if not self._sized:  # docks take their sizes once the window is laid out, not before it is shown
            self._sized = True
            QTimer.singleShot(0, lambda: self.w.resizeDocks([self], [self.preferred_height()],
                                                             Qt.Orientation.Vertical))

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
                colour = self.controller.target_colour(t.id)
                id_item = QTableWidgetItem(str(t.id))
                id_item.setToolTip(origin_text(t))
                self.table.setItem(r, 0, id_item)
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
        self._count_timer.stop()
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

    def labels_dialog(self) -> "LabelsDialog | None":
        """The label list editor (modal); returns it after it closed (tests drive it through `exec`)."""
        doc = self._document()
        if doc is None:
            self.w.show_message("Open a video or sequence first")
            return None
        dialog = LabelsDialog(self, doc.labels, {t.label for t in doc.targets})
        if dialog.exec():
            self.controller.set_labels(dialog.labels(), dialog.renamed())
        return dialog

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


def origin_text(target) -> str:
    """Where a target came from, for its row's tooltip and the status line ('' when it was drawn)."""
    o = target.origin
    if o is None:
        return ""
    seen = f", seen while tracking target {o.from_target}" if o.from_target is not None else ""
    oid = "without an object id" if o.object_id is None else f"object id {o.object_id}"
    return f"promoted from the engine's candidate ({oid}) on frame {o.frame}{seen}"


class LabelsDialog(QDialog):
    """The project's label list: one row per label (name and colour editable), Add, Remove (labels no target
    uses). OK gives `labels()` and `renamed()` (old name -> new name, for the targets that carry it)."""

    def __init__(self, parent, labels, used: set[str]):
        super().__init__(parent)
        self.setWindowTitle("Labels")
        self._used = set(used)
        lay = QVBoxLayout(self)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(("name", "colour"))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.cellDoubleClicked.connect(lambda r, c: self.choose_colour(r) if c == 1 else None)
        lay.addWidget(self.table)
        for lab in labels:
            self._add_row(lab.name, lab.colour, lab.name)
        row = QHBoxLayout()
        for text, slot in (("Add", self.add), ("Remove", self.remove), ("Colour...", self.choose_colour)):
            b = QPushButton(text)
            b.clicked.connect(lambda _c=False, f=slot: f())
            row.addWidget(b)
        lay.addLayout(row)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020;")
        lay.addWidget(self.error)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        lay.addWidget(box)

    def _add_row(self, name: str, colour: str, original: str | None) -> int:
        r = self.table.rowCount()
        self.table.insertRow(r)
        item = QTableWidgetItem(name)
        item.setData(Qt.ItemDataRole.UserRole, original)  # the name it had when the dialog opened
        self.table.setItem(r, 0, item)
        swatch = QTableWidgetItem(colour)
        swatch.setBackground(QColor(colour))
        swatch.setFlags(swatch.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.table.setItem(r, 1, swatch)
        return r

    def add(self, name: str | None = None) -> int:
        names = {self.table.item(r, 0).text() for r in range(self.table.rowCount())}
        k = 1
        while name is None or name in names:
            name, k = f"label{k}", k + 1
        from tracker.annotation.document import new_label_colour

        r = self._add_row(name, new_label_colour(self.labels(check=False)), None)
        self.table.setCurrentCell(r, 0)
        return r

    def remove(self, row: int | None = None) -> bool:
        row = self.table.currentRow() if row is None else row
        if not 0 <= row < self.table.rowCount():
            return False
        original = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
        if original in self._used:
            self.error.setText(f"label {original!r} is used by a target: give that target another label first")
            return False
        self.table.removeRow(row)
        return True

    def set_colour(self, row: int, colour: str) -> None:
        item = self.table.item(row, 1)
        item.setText(colour)
        item.setBackground(QColor(colour))

    def choose_colour(self, row: int | None = None) -> None:
        from PySide6.QtWidgets import QColorDialog

        row = self.table.currentRow() if row is None else row
        if 0 <= row < self.table.rowCount():
            colour = QColorDialog.getColor(QColor(self.table.item(row, 1).text()), self, "Label colour")
            if colour.isValid():
                self.set_colour(row, colour.name())

    def labels(self, check: bool = True) -> tuple:
        from tracker.annotation.document import Label

        out = []
        for r in range(self.table.rowCount()):
            name, colour = self.table.item(r, 0).text().strip(), self.table.item(r, 1).text()
            out.append(Label(name, colour) if check else Label(name or "?", colour))
        return tuple(out)

    def renamed(self) -> dict[str, str]:
        out = {}
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            original = item.data(Qt.ItemDataRole.UserRole)
            if original is not None and original != item.text().strip():
                out[original] = item.text().strip()
        return out

    def accept(self) -> None:
        try:
            labels = self.labels()
        except InputError as exc:
            self.error.setText(str(exc))
            return
        names = [lab.name for lab in labels]
        if len(set(names)) != len(names) or not names:
            self.error.setText("every label needs a name of its own, and the list at least one label")
            return
        super().accept()
