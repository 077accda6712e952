"""KeepTrack Studio GUI (PySide6 + pyqtgraph). The engine is reached only through `tracker`."""
from .qtfix import pin_booleans, shorten_switch_interval

pin_booleans()  # before any window exists: see qtfix.py (a PySide6 6.12 reference-count bug)
shorten_switch_interval()  # keeps the GUI responsive while a Python-heavy engine runs in a worker thread
