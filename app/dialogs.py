"""Dialogs: keyboard shortcuts, engine weight files, and the few questions the studio asks.

Every question and file chooser goes through the module-level functions `ask`, `get_save_path` and
`get_folder`, so tests answer them (monkeypatch) without a modal box.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QMessageBox, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout)

from .background_check import run_in_worker
from .engines import ENGINE_WEIGHTS, WEIGHT_FILES, validate_weight_file
from .shortcuts import SHORTCUTS

# choice key -> (button text, role); the first choice given is the default button, "cancel" is Esc
CHOICES = {
    "yes": ("Yes", QMessageBox.ButtonRole.YesRole),
    "no": ("No", QMessageBox.ButtonRole.NoRole),
    "save": ("Save", QMessageBox.ButtonRole.AcceptRole),
    "discard": ("Don't save", QMessageBox.ButtonRole.DestructiveRole),
    "overwrite": ("Overwrite", QMessageBox.ButtonRole.DestructiveRole),
    "cancel": ("Cancel", QMessageBox.ButtonRole.RejectRole),
}


def ask(parent, text: str, choices: tuple[str, ...] = ("yes", "no")) -> str:
    """Ask `text`; returns the key of the button chosen (one of `choices`, keys of CHOICES).
    Closing the box counts as "cancel" where that is a choice, else the last choice."""
    box = QMessageBox(QMessageBox.Icon.Question, "KeepTrack Studio", text, QMessageBox.StandardButton.NoButton, parent)
    buttons = {}
    for key in choices:
        label, role = CHOICES[key]
        buttons[box.addButton(label, role)] = key
    first = next(iter(buttons))
    box.setDefaultButton(first)
    box.exec()
    fallback = "cancel" if "cancel" in choices else choices[-1]
    return buttons.get(box.clickedButton(), fallback)


def get_save_path(parent, title: str, start: str, filter: str = "") -> str:
    """A file name to write ('' when cancelled). It does not ask about replacing a file: the caller does,
    through `ask`, for every file the write will replace (side files too)."""
    path, _ = QFileDialog.getSaveFileName(parent, title, start, filter,
                                          options=QFileDialog.Option.DontConfirmOverwrite)
    return path


def get_folder(parent, title: str, start: str) -> str:
    """A folder ('' when cancelled)."""
    return QFileDialog.getExistingDirectory(parent, title, start)


class ShortcutsDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(SHORTCUTS), 3)
        table.setHorizontalHeaderLabels(["Group", "Keys", "Action"])
        for r, s in enumerate(SHORTCUTS):
            for c, text in enumerate((s.group, s.keys, s.text)):
                table.setItem(r, c, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(table)
        lay.addWidget(buttons)
        self.table = table
        self.resize(520, 620)


class WeightsDialog(QDialog):
    """The official checkpoint files; each is inspected (never executed) before it is saved."""

    def __init__(self, weights: dict[str, str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Engine weights")
        self.weights = dict(weights)
        grid = QGridLayout()
        grid.addWidget(QLabel("Checkpoint files for keeptrack, keeptrack-fast and superdimp "
                              "(read with a restricted unpickler: no code in them runs):"), 0, 0, 1, 3)
        self.edits: dict[str, QLineEdit] = {}
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #e05050")
        for row, wf in enumerate(WEIGHT_FILES, start=1):
            users = [e for e, slots in ENGINE_WEIGHTS.items() if wf.kind in slots.values()]
            edit = QLineEdit(self.weights.get(wf.kind, ""))
            edit.setPlaceholderText(wf.file_name)
            edit.setToolTip("used by " + ", ".join(users))
            browse = QPushButton("Browse...")
            browse.clicked.connect(lambda _=False, e=edit, w=wf: self._browse(e, w))
            grid.addWidget(QLabel(wf.label), row, 0)
            grid.addWidget(edit, row, 1)
            grid.addWidget(browse, row, 2)
            self.edits[wf.kind] = edit
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addWidget(self.problems)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(buttons)
        lay.addLayout(bottom)
        self.resize(760, 220)

    def _browse(self, edit: QLineEdit, wf) -> None:
        path, _ = QFileDialog.getOpenFileName(self, wf.label, "", f"{wf.file_name} (*.pth.tar *.pth *.tar);;All (*)")
        if path:
            edit.setText(path)

    def save(self) -> bool:
        """Validate every file given; accept only when all fit (the problems are listed otherwise)."""
        chosen = {kind: edit.text().strip() for kind, edit in self.edits.items()}

        def check() -> list[str]:  # reads up to 1 GiB per file: off the GUI thread
            return [p for kind, path in chosen.items() if path for p in validate_weight_file(kind, path)]

        self.setEnabled(False)
        self.problems.setText("checking the files...")
        try:
            problems = run_in_worker(check, "weights-check")
        finally:
            self.setEnabled(True)
        self.weights.update(chosen)
        if problems:
            self.problems.setText("\n".join(problems))
            return False
        self.accept()
        return True
