"""Every keyboard shortcut of the studio, in one table (Help > Shortcuts shows this table)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    action: str  # the action's key in MainWindow.actions
    keys: str  # QKeySequence text ("" = no shortcut)
    text: str  # menu text
    group: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open_file", "Ctrl+O", "Open video or image file...", "File"),
    Shortcut("open_folder", "Ctrl+Shift+O", "Open image or sequence folder...", "File"),
    Shortcut("open_sample", "Ctrl+Shift+E", "Open sample (example)", "File"),
    Shortcut("save_screenshot", "Ctrl+Shift+P", "Save screenshot...", "File"),
    Shortcut("quit", "Ctrl+Q", "Quit", "File"),
    Shortcut("play", "Space", "Play / pause", "Playback"),
    Shortcut("next", "Right", "Next frame", "Playback"),
    Shortcut("prev", "Left", "Previous frame", "Playback"),
    Shortcut("next10", "Shift+Right", "Forward 10 frames", "Playback"),
    Shortcut("prev10", "Shift+Left", "Back 10 frames", "Playback"),
    Shortcut("first", "Home", "First frame", "Playback"),
    Shortcut("last", "End", "Last frame", "Playback"),
    Shortcut("goto", "Ctrl+G", "Go to frame...", "Playback"),
    Shortcut("draw_box", "B", "Draw / adjust box on this frame", "Track"),
    Shortcut("enter_box", "Ctrl+B", "Type box x, y, w, h...", "Track"),
    Shortcut("track_step", "T", "Track one frame", "Track"),
    Shortcut("track_n", "R", "Track N frames", "Track"),
    Shortcut("track_end", "Ctrl+R", "Track to the end", "Track"),
    Shortcut("track_back_n", "Shift+R", "Track N frames backwards", "Track"),
    Shortcut("track_stop", "Esc", "Stop tracking / playback", "Track"),
    Shortcut("settings", "Ctrl+,", "Engine weights...", "Track"),
    Shortcut("fit", "F", "Fit frame in view", "View"),
    Shortcut("toggle_debug", "D", "Show / hide debug dock", "View"),
    Shortcut("overlay_box", "1", "Overlay: tracked box", "View"),
    Shortcut("overlay_search_area", "2", "Overlay: search area", "View"),
    Shortcut("overlay_score_map", "3", "Overlay: score map", "View"),
    Shortcut("overlay_candidates", "4", "Overlay: candidates and ids", "View"),
    Shortcut("overlay_selected", "5", "Overlay: selected target", "View"),
    Shortcut("overlay_matches", "6", "Overlay: match lines", "View"),
    Shortcut("overlay_ground_truth", "7", "Overlay: ground truth (benchmark sequences)", "View"),
    Shortcut("shortcuts", "F1", "Keyboard shortcuts", "Help"),
)

BY_ACTION: dict[str, Shortcut] = {s.action: s for s in SHORTCUTS}
