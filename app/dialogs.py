"""Dialogs: keyboard shortcuts, engine weight files."""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout)

from tracker.registry import available_engines

from .engines import validate_weights
from .shortcuts import SHORTCUTS


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
    """Checkpoint files for the engines that need them; each engine's files are validated before saving."""

    def __init__(self, weights: dict[str, list[str]], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Engine weights")
        self.weights = {k: list(v) for k, v in weights.items()}
        grid = QGridLayout()
        grid.addWidget(QLabel("Engines that need checkpoint files (the files are checked, never executed):"),
                       0, 0, 1, 3)
        self.edits: dict[str, QLineEdit] = {}
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #e05050")
        row = 1
        for info in available_engines():
            if not info.needs_weights:
                continue
            edit = QLineEdit("; ".join(self.weights.get(info.name, [])))
            edit.setPlaceholderText("checkpoint files, separated by ;")
            edit.setToolTip(info.description)
            browse = QPushButton("Browse...")
            browse.clicked.connect(lambda _=False, e=edit: self._browse(e))
            grid.addWidget(QLabel(info.name), row, 0)
            grid.addWidget(edit, row, 1)
            grid.addWidget(browse, row, 2)
            self.edits[info.name] = edit
            row += 1
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addWidget(self.problems)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(buttons)
        lay.addLayout(bottom)
        self.resize(700, 60 + 40 * row)

    def _browse(self, edit: QLineEdit) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Checkpoint files", "", "Checkpoints (*.pth *.tar *.pt);;All (*)")
        if files:
            edit.setText("; ".join(files))

    def _save(self) -> None:
        problems: list[str] = []
        for name, edit in self.edits.items():
            paths = [p.strip() for p in edit.text().split(";") if p.strip()]
            problems += [f"{name}: {p}" for p in validate_weights(name, paths)]
            self.weights[name] = paths
        if problems:
            self.problems.setText("\n".join(problems))
            return
        self.accept()
