"""Keyboard shortcuts of the annotation commands (same Shortcut rows as app/shortcuts.py; none clash with it)."""
from __future__ import annotations

from .shortcuts import SHORTCUTS, Shortcut

ANNOTATION_SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open_project", "Ctrl+Alt+O", "Open project...", "File"),
    Shortcut("save_project", "Ctrl+S", "Save project", "File"),
    Shortcut("save_project_as", "Ctrl+Shift+S", "Save project as...", "File"),
    Shortcut("import_annotations", "Ctrl+I", "Import annotations...", "File"),
    Shortcut("import_ground_truth", "", "Import the sequence's ground truth", "File"),
    Shortcut("autosave", "", "Autosave", "File"),
    Shortcut("undo", "Ctrl+Z", "Undo", "Annotate"),
    Shortcut("redo", "Ctrl+Shift+Z", "Redo", "Annotate"),
    Shortcut("retrack", "Shift+T", "Re-track from here (to the next keyframe)", "Annotate"),
    Shortcut("retrack_back", "Ctrl+Shift+T", "Track backwards from here (to the previous keyframe)", "Annotate"),
    Shortcut("mark_absent", "A", "Mark target absent on this frame", "Annotate"),
    Shortcut("clear_frame", "Del", "Clear this frame's annotation", "Annotate"),
    Shortcut("interpolate", "I", "Interpolate between keyframes", "Annotate"),
    Shortcut("next_keyframe", "K", "Next keyframe", "Annotate"),
    Shortcut("prev_keyframe", "Shift+K", "Previous keyframe", "Annotate"),
    Shortcut("absent_threshold", "", "Automatic absent threshold...", "Annotate"),
    Shortcut("stop_at_keyframe", "", "Re-track stops at the next keyframe", "Annotate"),
    Shortcut("new_target", "N", "New target (draw its box next)", "Targets"),
    Shortcut("next_target", "Tab", "Select the next target", "Targets"),
    Shortcut("prev_target", "Shift+Tab", "Select the previous target", "Targets"),
    Shortcut("remove_target", "Shift+Del", "Remove the selected target (Delete in the objects panel)", "Targets"),
    Shortcut("promote_candidate", "P", "Candidate becomes a target (the clicked one, else the strongest distractor)",
             "Targets"),
    Shortcut("colour_by_label", "", "Colour targets by label (else each target its own colour)", "View"),
    Shortcut("edit_labels", "", "Labels (add, rename, recolour, remove)...", "Targets"),
    Shortcut("split_target", "", "Split the selected track at this frame", "Targets"),
    Shortcut("merge_target", "", "Merge another track into the selected one...", "Targets"),
    Shortcut("track_selected", "", "Track the selected target to the end", "Targets"),
    Shortcut("track_all", "Ctrl+Shift+R", "Track all targets to the end", "Targets"),
    Shortcut("track_all_n", "Alt+R", "Track all targets N frames", "Targets"),
    Shortcut("track_all_back", "", "Track all targets backwards to the start", "Targets"),
    Shortcut("annotation_shortcuts", "", "Annotation shortcuts", "Help"),
)

BY_ACTION: dict[str, Shortcut] = {s.action: s for s in ANNOTATION_SHORTCUTS}

_clash = {s.keys for s in SHORTCUTS if s.keys} & {s.keys for s in ANNOTATION_SHORTCUTS if s.keys}
assert not _clash, f"annotation shortcuts clash with the studio's: {_clash}"
