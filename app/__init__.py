"""KeepTrack Studio GUI (PySide6 + pyqtgraph). The engine is reached only through `tracker`."""
from .qtfix import pin_booleans

pin_booleans()  # before any window exists: see qtfix.py (a PySide6 6.12 reference-count bug)
