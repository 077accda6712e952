"""The training loop for the association network (KeepTrack §5.5-5.7).

Adam over all parameters, learning rate 1e-4 divided by 5 every 6 epochs (the reference's StepLR);
each epoch draws `iterations_per_epoch` batches of fresh samples (partial supervision and
self-supervision, see samples.py) and then scores a fixed validation set. The backbone is not
trained: its features were stored by the dump; the descriptor conv, keypoint encoder, GNN, final
projection and dustbin score are.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .loss import LossParams, association_loss, match_counts, ratio
from .model import AssociationModel, descriptors_from_patches
from .samples import CandidateSampler, Sample, SampleParams


@dataclass(frozen=True)
class TrainParams:
    epochs: int = 15
    iterations_per_epoch: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-4
    lr_step_epochs: int = 6
    lr_gamma: float = 0.2
    val_samples: int = 256
    seed: int = 0
    device: str = "cpu"
    # torch CPU threads while training (0: leave as is). The model is small: one thread is fastest,
    # and on a busy machine two threads spin against each other (measured 30x slower here).
    threads: int = 1
    loss: LossParams = field(default_factory=LossParams)


def collate(samples: list[Sample], device: str = "cpu") -> dict[str, torch.Tensor]:
    """Stack samples of equal candidate count into batch tensors."""
    def stack(name, dtype=torch.float32):
        return torch.as_tensor(np.stack([getattr(s, name) for s in samples]), dtype=dtype, device=device)

    return {
        "patches0": stack("patches0"), "patches1": stack("patches1"),
        "coords0": stack("coords0"), "coords1": stack("coords1"),
        "scores0": stack("scores0"), "scores1": stack("scores1"),
        "image_size": torch.as_tensor([s.image_size for s in samples], dtype=torch.float32, device=device),
        "gt_assignment": stack("gt_assignment"),
        "gt_matches0": stack("gt_matches0", torch.long), "gt_matches1": stack("gt_matches1", torch.long),
    }


def forward(model: AssociationModel, batch: dict[str, torch.Tensor]):
    """The association network on a batch; keypoints normalised consistently with (H, W) sizes."""
    desc0 = descriptors_from_patches(model.descriptor_extractor, batch["patches0"])
    desc1 = descriptors_from_patches(model.descriptor_extractor, batch["patches1"])
    return model.matcher(desc0, desc1, batch["coords0"], batch["coords1"], batch["scores0"], batch["scores1"],
                         batch["image_size"])


@torch.no_grad()
def evaluate(model: AssociationModel, samples: list[Sample], batch_size: int = 64, device: str = "cpu",
             loss_params: LossParams = LossParams()) -> dict:
    """Loss, match recall and precision over samples (batched where candidate counts agree)."""
    was_training = model.training
    model.eval()
    totals = {"recall_hits": 0, "recall_total": 0, "precision_hits": 0, "precision_total": 0}
    losses, weights = [], []
    groups: dict[tuple[int, int], list[Sample]] = {}
    for s in samples:
        groups.setdefault((len(s.scores0), len(s.scores1)), []).append(s)
    for group in groups.values():
        for i in range(0, len(group), batch_size):
            batch = collate(group[i:i + batch_size], device)
            out = forward(model, batch)
            loss, _ = association_loss(out.log_assignment, batch["gt_assignment"], batch["gt_matches0"],
                                       batch["gt_matches1"], loss_params)
            losses.append(float(loss))
            weights.append(len(group[i:i + batch_size]))
            for k, v in match_counts(out.matches1, batch["gt_matches1"]).items():
                totals[k] += v
    model.train(was_training)
    return {"loss": float(np.average(losses, weights=weights)) if losses else math.nan,
            "recall": ratio(totals["recall_hits"], totals["recall_total"]),
            "precision": ratio(totals["precision_hits"], totals["precision_total"]), **totals}


@contextlib.contextmanager
def torch_threads(count: int):
    """Run with `count` torch CPU threads (0: unchanged), restoring the previous setting after."""
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train(model: AssociationModel, sampler: CandidateSampler, val_samples: list[Sample],
          params: TrainParams = TrainParams(), log=print, on_batch=None) -> list[dict]:
    """Train `model` in place; returns one row of figures per epoch. `on_batch()` is called after every
    batch (a progress bar)."""
    with torch_threads(params.threads):
        return _train(model, sampler, val_samples, params, log, on_batch)


def _train(model, sampler, val_samples, params: TrainParams, log, on_batch=None) -> list[dict]:
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    model.to(params.device).train()
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=params.learning_rate)
    schedule = torch.optim.lr_scheduler.StepLR(optimiser, step_size=params.lr_step_epochs, gamma=params.lr_gamma)
    history = []
    for epoch in range(1, params.epochs + 1):
        t0 = time.perf_counter()
        stats = {"loss": 0.0, "nll_pos": 0.0, "nll_neg": 0.0}
        counts = {"recall_hits": 0, "recall_total": 0, "precision_hits": 0, "precision_total": 0}
        for _ in range(params.iterations_per_epoch):
            batch = collate([sampler.sample(rng) for _ in range(params.batch_size)], params.device)
            out = forward(model, batch)
            loss, s = association_loss(out.log_assignment, batch["gt_assignment"], batch["gt_matches0"],
                                       batch["gt_matches1"], params.loss)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            for k in stats:
                stats[k] += s[k] / params.iterations_per_epoch
            for k, v in match_counts(out.matches1.detach(), batch["gt_matches1"]).items():
                counts[k] += v
            if on_batch is not None:
                on_batch()
        lr = optimiser.param_groups[0]["lr"]
        schedule.step()
        val = evaluate(model, val_samples, params.batch_size, params.device, params.loss) if val_samples else {}
        row = {"epoch": epoch, "lr": lr, "train_loss": stats["loss"], "train_nll_pos": stats["nll_pos"],
               "train_nll_neg": stats["nll_neg"],
               "train_recall": ratio(counts["recall_hits"], counts["recall_total"]),
               "train_precision": ratio(counts["precision_hits"], counts["precision_total"]),
               "val_loss": val.get("loss", math.nan), "val_recall": val.get("recall", math.nan),
               "val_precision": val.get("precision", math.nan),
               "bin_score": float(model.matcher.bin_score.detach()), "seconds": time.perf_counter() - t0}
        history.append(row)
        if log is not None:
            log(format_row(row))
    model.eval()
    return history


def format_row(row: dict) -> str:
    return (f"epoch {row['epoch']:2d} lr {row['lr']:.1e}  train loss {row['train_loss']:.3f} "
            f"(pos {row['train_nll_pos']:.3f} neg {row['train_nll_neg']:.3f}) recall {row['train_recall']:.3f} "
            f"precision {row['train_precision']:.3f} | val loss {row['val_loss']:.3f} recall {row['val_recall']:.3f} "
            f"precision {row['val_precision']:.3f} | bin {row['bin_score']:.2f}  {row['seconds']:.1f}s")


def validation_set(sampler: CandidateSampler, count: int, seed: int = 12345) -> list[Sample]:
    """A fixed set of samples (same draws every time for the same dumps and seed)."""
    rng = np.random.default_rng(seed)
    return [sampler.sample(rng) for _ in range(count)]


def training_meta(params: TrainParams, sample_params: SampleParams, history: list[dict], **extra) -> dict:
    return {"train_params": asdict(params), "sample_params": asdict(sample_params), "history": history, **extra}
