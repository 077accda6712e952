"""Success, precision and normalised-precision plots of evaluations, as pytracking's plot_results draws
them: one curve per engine (or published result), averaged over sequences, the legend sorted best
first with the figure of merit in brackets (AUC for success; the value at 20 px / 0.2 for precision);
per-attribute success plots where sequences carry attributes (OTB attrs.txt / cfg.json); and a
per-sequence table. PNG and PDF of every plot.

matplotlib is used through its object API with the Agg canvas: no pyplot state, no GUI backend.
All figures are rendered in memory before any file is written, so a failure leaves no partial set.
"""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import InputError
from .metrics import (
    NORM_PRECISION_THRESHOLDS, PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS, SequenceMetrics, average_metrics,
)
from .runner import SequenceEvaluation, format_table

FORMATS = ("png", "pdf")


@dataclass(frozen=True)
class Curve:
    """What one plot shows for one engine: x, y in %, and the legend's figure of merit."""

    x: np.ndarray
    y: np.ndarray
    score: float


def _by_engine(evaluations: Sequence[SequenceEvaluation]) -> dict[str, list[SequenceEvaluation]]:
    grouped: dict[str, list[SequenceEvaluation]] = {}
    for e in evaluations:
        grouped.setdefault(e.engine, []).append(e)
    return grouped


def curves(evaluations: Sequence[SequenceEvaluation], kind: str,
           sequences: set[str] | None = None) -> dict[str, Curve]:
    """Per-engine mean curve of `kind` ('success', 'precision', 'norm_precision'), over `sequences`
    (all where None). Every engine must have been scored on the same sequences, as in one table."""
    result = {}
    for engine, evs in _by_engine(evaluations).items():
        chosen = [e.metrics for e in evs if sequences is None or e.sequence in sequences]
        if not chosen:
            continue
        mean: SequenceMetrics = average_metrics(chosen)
        if kind == "success":
            result[engine] = Curve(SUCCESS_THRESHOLDS, mean.success_curve * 100.0, mean.auc)
        elif kind == "precision":
            result[engine] = Curve(PRECISION_THRESHOLDS, mean.precision_curve * 100.0, mean.precision)
        elif kind == "norm_precision":
            result[engine] = Curve(NORM_PRECISION_THRESHOLDS, mean.norm_precision_curve * 100.0,
                                   mean.norm_precision)
        else:
            raise InputError(f"unknown plot kind {kind!r}")
    return result


_AXES = {
    "success": ("Overlap threshold", "Overlap precision [%]", "Success plot", (0, 1)),
    "precision": ("Location error threshold [pixels]", "Distance precision [%]", "Precision plot", (0, 50)),
    "norm_precision": ("Location error threshold", "Distance precision [%]", "Normalized precision plot",
                       (0, 0.5)),
}


def legend_entries(plot_curves: Mapping[str, Curve]) -> list[tuple[str, Curve]]:
    """(label, curve) best first, as the legend lists them: 'name [score]', ties by name."""
    ranked = sorted(plot_curves.items(), key=lambda kv: (-kv[1].score, kv[0]))
    return [(f"{name} [{c.score:.1f}]", c) for name, c in ranked]


def render(plot_curves: Mapping[str, Curve], kind: str, title: str, fmt: str) -> bytes:
    """One plot as PNG or PDF bytes; the legend lists engines best first as 'name [score]'."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xlabel, ylabel, default_title, xlim = _AXES[kind]
    fig = Figure(figsize=(7, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    styles = ["-", "--", "-.", ":"]  # matplotlib cycles 10 colours; the style changes after each 10
    for i, (label, c) in enumerate(legend_entries(plot_curves)):
        ax.plot(c.x, c.y, linestyle=styles[(i // 10) % len(styles)], linewidth=2, label=label)
    ax.set_xlim(*xlim)
    ax.set_ylim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or default_title)
    ax.grid(True, linestyle=":", alpha=0.6)
    ax.legend(loc="lower left" if kind == "success" else "lower right", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    return buffer.getvalue()


def _attributes(evaluations: Sequence[SequenceEvaluation],
                attributes: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
    """attribute -> the evaluated sequences that carry it."""
    evaluated = {e.sequence for e in evaluations}
    by_attribute: dict[str, set[str]] = {}
    for sequence, attrs in attributes.items():
        if sequence in evaluated:
            for a in attrs:
                by_attribute.setdefault(a, set()).add(sequence)
    return by_attribute


def write_plots(folder: str | Path, evaluations: Sequence[SequenceEvaluation],
                attributes: Mapping[str, Sequence[str]] | None = None, title: str = "",
                convention: str | None = None) -> list[Path]:
    """Write success/precision/normalised-precision plots (PNG and PDF), per-attribute success plots
    and per_sequence.txt into `folder`; returns the paths written."""
    if not evaluations:
        raise InputError("nothing to plot: no evaluations")
    folder = Path(folder)
    prefix = f"{title} " if title else ""
    files: dict[str, bytes] = {}
    for kind in ("success", "precision", "norm_precision"):
        c = curves(evaluations, kind)
        for fmt in FORMATS:
            files[f"{kind}_plot.{fmt}"] = render(c, kind, prefix + _AXES[kind][2], fmt)
    for attribute, sequences in sorted(_attributes(evaluations, attributes or {}).items()):
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in attribute)
        c = curves(evaluations, "success", sequences)
        for fmt in FORMATS:
            files[f"success_plot_{safe}.{fmt}"] = render(
                c, "success", f"{prefix}Success plot, {attribute} ({len(sequences)} sequences)", fmt)
    table = format_table(evaluations, ("auc", "op50", "op75", "precision", "norm_precision", "fps"), convention)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create plot folder {folder}: {exc.strerror or exc}") from exc
    written = []
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
        written.append(folder / name)
    atomic_write_text(folder / "per_sequence.txt", table)
    written.append(folder / "per_sequence.txt")
    return written
