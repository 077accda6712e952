"""The association loss (KeepTrack §5.6) and the match metrics logged with it.

With P the (B, M+1, N+1) log-assignment (last row/column = dustbin):
  positive = -sum(P[:M, :N] * gt_assignment) / max(#positives, 1)
  negative = -(sum_i P[i, dustbin] [gt_matches0_i = -1] + sum_j P[dustbin, j] [gt_matches1_j = -1])
             / max(#negatives, 1)
  loss = balance * positive + (1 - balance) * negative, per sample, averaged over the batch.
Entries labelled -2 (artificial or unlabelled candidates) contribute nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .samples import DUSTBIN


@dataclass(frozen=True)
class LossParams:
    balance: float = 0.5  # the reference's nll_balancing
    weight: float = 1.0  # the reference's nll_weight


def association_loss(log_assignment: torch.Tensor, gt_assignment: torch.Tensor, gt_matches0: torch.Tensor,
                     gt_matches1: torch.Tensor, params: LossParams = LossParams()) -> tuple[torch.Tensor, dict]:
    """(loss, stats). Shapes: (B, M+1, N+1), (B, M, N), (B, M), (B, N)."""
    m, n = gt_assignment.shape[1], gt_assignment.shape[2]
    core = log_assignment[:, :m, :n]
    n_pos = gt_assignment.sum(dim=(1, 2))
    pos = -(core * gt_assignment).sum(dim=(1, 2)) / n_pos.clamp(min=1)
    neg0 = (gt_matches0 == DUSTBIN).to(core.dtype)
    neg1 = (gt_matches1 == DUSTBIN).to(core.dtype)
    n_neg = neg0.sum(dim=1) + neg1.sum(dim=1)
    neg = -((log_assignment[:, :m, n] * neg0).sum(dim=1) + (log_assignment[:, m, :n] * neg1).sum(dim=1))
    neg = neg / n_neg.clamp(min=1)
    per_sample = params.balance * pos + (1.0 - params.balance) * neg
    loss = params.weight * per_sample.mean()
    stats = {"loss": float(loss.detach()), "nll_pos": float(pos.mean().detach()),
             "nll_neg": float(neg.mean().detach()), "num_pos": float(n_pos.sum()), "num_neg": float(n_neg.sum())}
    return loss, stats


def match_counts(pred_matches1: torch.Tensor, gt_matches1: torch.Tensor) -> dict:
    """Counts for recall (over labelled matches, gt >= 0) and precision (over predicted matches whose
    label is known, gt >= -1), on frame 1's matches as the reference logs them."""
    labelled = gt_matches1 >= 0
    predicted = (pred_matches1 >= 0) & (gt_matches1 >= DUSTBIN)
    return {
        "recall_hits": int(((pred_matches1 == gt_matches1) & labelled).sum()),
        "recall_total": int(labelled.sum()),
        "precision_hits": int(((pred_matches1 == gt_matches1) & predicted).sum()),
        "precision_total": int(predicted.sum()),
    }


def ratio(hits: int, total: int) -> float:
    return hits / total if total else float("nan")
