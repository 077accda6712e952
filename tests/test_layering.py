"""The engine side never imports Qt: checked on the source text and on a real import."""
import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QT_MODULES = {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "qtpy", "shiboken6"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_tracker_module_imports_qt():
    offenders = {
        str(p.relative_to(REPO)): sorted(_imported_roots(p) & QT_MODULES)
        for p in (REPO / "tracker").rglob("*.py")
        if _imported_roots(p) & QT_MODULES
    }
    assert not offenders, f"tracker/ must stay Qt-free: {offenders}"


def test_checker_catches_a_qt_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from PySide6 import QtCore\n")
    assert _imported_roots(bad) & QT_MODULES == {"PySide6"}


def test_importing_all_of_tracker_loads_no_qt():
    code = (
        "import pkgutil, importlib, sys, tracker\n"
        "for m in pkgutil.walk_packages(tracker.__path__, 'tracker.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {sorted(QT_MODULES)!r}]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


QT_FREE_APP_MODULES = ("app.model", "app.store", "app.assignment", "app.compare")  # the studio's session model: views listen, it never draws


def test_the_studio_model_imports_no_qt():
    for name in QT_FREE_APP_MODULES:
        path = REPO / (name.replace(".", "/") + ".py")
        assert not _imported_roots(path) & QT_MODULES, f"{name} must stay Qt-free"
    code = (
        "import sys, importlib\n"
        f"for m in {QT_FREE_APP_MODULES!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {sorted(QT_MODULES)!r}]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
