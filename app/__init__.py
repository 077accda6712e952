"""KeepTrack Studio GUI (PySide6 + pyqtgraph). The engine is reached only through `tracker`."""
from .threading_tune import shorten_switch_interval

shorten_switch_interval()  # keeps the GUI responsive while a Python-heavy engine runs in a worker thread
