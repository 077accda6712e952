"""KeepTrack Studio GUI (PySide6 + pyqtgraph). The engine is reached only through `tracker`."""
