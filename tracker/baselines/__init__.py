"""Baseline trackers to compare KeepTrack against (OpenCV's CSRT, KCF, MIL and NanoTrack)."""
