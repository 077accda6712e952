"""Annotations you can trust: the per-sequence document, undo history, correct-and-continue
planning, project files with autosave and recovery. Qt-free."""
from .document import AnnotationDocument, FrameAnnotation, Provenance
from .history import Edit, History, RunInProgress
from .retrack import RetrackOptions, TrackingPlan, TrackingRun, plan_retrack

__all__ = [
    "AnnotationDocument", "FrameAnnotation", "Provenance", "Edit", "History", "RunInProgress",
    "RetrackOptions", "TrackingPlan", "TrackingRun", "plan_retrack",
]
