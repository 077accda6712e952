"""The engine side of KeepTrack Studio: trackers, frame sources, formats, evaluation, training.

Nothing in this package imports Qt or pyqtgraph (tests/test_layering.py enforces it).
"""
