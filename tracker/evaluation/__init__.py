"""One-pass evaluation: metrics (pytracking's protocol) and the runner shared by `eval` and bench/."""
from .metrics import SequenceMetrics, average_metrics, evaluate_sequence
from .runner import (
    SequenceEvaluation, TrackRun, evaluate_engines, evaluate_result, evaluation_range, format_table, track_source,
)

__all__ = ["SequenceMetrics", "average_metrics", "evaluate_sequence", "SequenceEvaluation", "TrackRun",
           "evaluate_engines", "evaluate_result", "evaluation_range", "format_table", "track_source"]
