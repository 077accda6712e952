"""The pluggable parts of the KeepTrack engine, and the plain data passed between them.

`tracker.keeptrack.engine.KeepTrackEngine` owns all tracking logic (crop arithmetic, candidate extraction,
object association with persistent ids, fallback localisation, not-found handling, memory and update schedule,
initial augmentation). It talks to networks only through the three parts below, so the same engine runs

- `keeptrack` / `keeptrack-fast` / `superdimp`: ResNet-50 + DiMP classifier + IoU-Net + association network
  from the official checkpoints (tracker/keeptrack/dimp_parts.py, tracker/keeptrack/refine.py);
- `keeptrack-lite`: EfficientNet-Lite features, a weight-free classifier set-up, scale estimation without IoU-Net
  and a hand-made candidate matcher (tracker/keeptrack/lite.py).

Assembling an engine from parts (how keeptrack-lite is built):

    from tracker.keeptrack.engine import KeepTrackEngine
    from tracker.keeptrack.profiles import profile_params
    engine = KeepTrackEngine(device, profile_params('keeptrack', **overrides), base=MyBase(device),
                             refiner=MyRefiner() or None, matcher=MyMatcher() or None, name='keeptrack-lite')

`refiner=None`: position only, the box size never changes (and the search scale stays the initial one).
`matcher=None` (or params.use_candidate_matching False): plain DiMP localisation on every frame, no object ids.

Conventions (all parts):
- Tensors live on the engine's device (`engine.device`, 'cpu' or 'cuda[:n]'); parts must not assume either.
  Everything is float32 unless stated. Parts are called under `torch.no_grad()` except where they need
  gradients themselves (a box refiner may enable them locally with `torch.enable_grad()`).
- A *patch* is the square image crop the engine resampled to `params.image_sample_size` (S) pixels:
  shape (B, 3, S, S), RGB, values 0..255 (not normalised: each base network normalises as it needs).
- Patch boxes are [x, y, w, h] in patch pixels (x = column of the left edge); positions inside the engine are
  (row, col).
- Feature maps have spatial size (Hf, Wf) = (S / stride, S / stride). The score map produced by `classify` has
  Ho = Hf + (filter_size + 1) % 2 rows and columns (31 x 31 for 480 px, stride 16, filter 4).
  Score-map cell (r, c) corresponds to the patch point (row, col) = ((r - (Ho - 1) / 2) * S / Hf + (S - 1) / 2,
  same for c): the map centre is the patch centre, one cell = one stride. The engine reads Hf and Ho from the
  tensors it gets, so any stride works as long as the map stays square and centred.
- Score maps are "raw": no sigmoid, no window; a target peak is about 1, background about 0.
  The engine's thresholds (candidate 0.05, not found 0.25, ...) assume that scale.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

Tensor = torch.Tensor


# --------------------------------------------------------------------------------------------------------------
# Plain data
# --------------------------------------------------------------------------------------------------------------

@dataclass
class PatchFeatures:
    """What a base network computed for a batch of B patches.

    `classification`: (B, C, Hf, Wf) features the target filter is applied to (the engine stores them in the
    memory and appends dropout copies of the first one at initialisation).
    `maps`: any other per-patch tensors (batch first) that the box refiner or the candidate matcher of the same
    family needs, keyed by name (the DiMP parts use 'layer2', 'layer3'). The engine never reads `maps`; it only
    slices the batch (see `select`).
    """

    classification: Tensor
    maps: dict[str, Tensor] = field(default_factory=dict)

    def select(self, index: int | slice) -> "PatchFeatures":
        """The features of some of the patches (batch dimension kept)."""
        sl = slice(index, index + 1) if isinstance(index, int) else index
        return PatchFeatures(self.classification[sl], {k: v[sl] for k, v in self.maps.items()})

    @property
    def batch_size(self) -> int:
        return int(self.classification.shape[0])


@dataclass
class CandidateSet:
    """The candidates (score-map peaks) of one frame, sorted by score, highest first.

    `cells_rc`: (N, 2) int64 score-map cells (row, col); `scores`: (N,) raw scores at those cells;
    `coords_yx`: (N, 2) float image positions (row, col) in full-image pixels;
    `descriptors`: (D, N) from `CandidateMatcher.describe` (None where no matcher is used);
    `frame_num`: the engine's frame counter (1 = the initial frame) when they were found.
    All tensors are on the engine's device.
    """

    cells_rc: Tensor
    scores: Tensor
    coords_yx: Tensor
    descriptors: Tensor | None
    frame_num: int

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass
class MatchResult:
    """Output of a candidate matcher for M previous and N current candidates.

    `log_assignment`: (M + 1, N + 1) log assignment probabilities; the last row / column are the dustbins
    ("no match"); rows of the M x N part plus the dustbin column sum to about 1.
    `matches1`: (N,) int64, the previous candidate matched to each current one, or -1.
    `match_scores1`: (N,) the assignment probability of that match (0 where unmatched).
    """

    log_assignment: Tensor
    matches1: Tensor
    match_scores1: Tensor


@dataclass(frozen=True)
class FrameContext:
    """What the engine knows about the current frame that a part may need, handed over explicitly before the
    part is used on that frame (`BoxRefiner.set_context`, `CandidateMatcher.set_context`).

    `frame_num`: the engine's frame counter (1 = the initial frame); `image_hw`: full image (H, W);
    `target_size_hw`: (2,) float32 CPU, the target's current size (h, w) in image pixels;
    `classify`: raw score maps (B, 1, Ho, Wo) of classification features under the current filter;
    `scores`: the raw score map (1, 1, Ho, Wo) the engine computed for this frame's search patch (what
    `classify` gives on it; None on the initial frame), so that a part need not compute it again.
    """

    frame_num: int
    image_hw: tuple[int, int]
    target_size_hw: Tensor
    classify: Callable[[Tensor], Tensor]
    scores: Tensor | None = None


# --------------------------------------------------------------------------------------------------------------
# Randomness (replaceable so that the fidelity test can replay the original's recorded draws)
# --------------------------------------------------------------------------------------------------------------

class RandomSource(ABC):
    """Every random number the engine and its parts use comes from here (CPU float32 tensors)."""

    @abstractmethod
    def uniform(self, shape: tuple[int, ...]) -> Tensor:
        """Uniform [0, 1) draws, like torch.rand(shape)."""

    @abstractmethod
    def dropout_keep(self, num: int, channels: int, p: float) -> Tensor:
        """(num, channels) 0/1 mask: 1 = channel kept (each dropped with probability p)."""

    def restart(self) -> None:
        """Called on every initialize: a seeded source starts its sequence again (a recorded one goes on)."""


class TorchRandom(RandomSource):
    """A seeded torch.Generator: the same seed gives the same track."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    def restart(self):
        self.generator.manual_seed(self.seed)

    def uniform(self, shape):
        return torch.rand(tuple(shape), generator=self.generator)

    def dropout_keep(self, num, channels, p):
        return (torch.rand((num, channels), generator=self.generator) >= p).float()


# --------------------------------------------------------------------------------------------------------------
# Parts
# --------------------------------------------------------------------------------------------------------------

class BaseNetwork(ABC):
    """Features and the discriminative target classifier (DiMP-style filter learnt online).

    The engine calls, per track: `extract` on the augmented initial patches, `init_filter` once,
    then per frame `extract` + `classify`, and `optimise_filter` on the update schedule.
    """

    #: feature stride w.r.t. the patch (16 for ResNet-50 layer3); Hf = image_sample_size / stride
    stride: int = 16
    #: side of the square filter (4 for DiMP); decides the score-map size (Hf + 1 for even sizes)
    filter_size: int = 4
    #: True when the classifier's optimiser builds its own labels from boxes (SuperDiMP's learned loss):
    #: the engine then still passes Gaussian labels, which the network may ignore.
    uses_own_labels: bool = False
    #: True when `optimise_filter` takes the memory's features already laid out for its correlation
    #: (`correlator=`, SampleMemory.correlator), which the memory then keeps up to date sample by sample.
    takes_memory_layout: bool = False

    @abstractmethod
    def extract(self, patches: Tensor) -> PatchFeatures:
        """Features of (B, 3, S, S) RGB 0..255 patches."""

    def same_features(self, other: "BaseNetwork") -> bool:
        """Whether `other.extract` computes exactly what this `extract` does (then the patches of several
        targets may go through one batched call, keeptrack.engine.track_together). Default: the same object."""
        return other is self

    @abstractmethod
    def init_filter(self, features: Tensor, boxes: Tensor, labels: Tensor, num_iter: int) -> Tensor:
        """Initial filter (1, C, k, k) from N training samples.

        features: (N, C, Hf, Wf) classification features; boxes: (N, 4) target boxes [x, y, w, h] in patch
        pixels; labels: (N, 1, Ho, Wo) Gaussian label maps (peak 1 at the target); num_iter: optimiser steps
        (all samples weighted 1/N).
        """

    @abstractmethod
    def optimise_filter(self, filt: Tensor, features: Tensor, boxes: Tensor, labels: Tensor,
                        weights: Tensor, num_iter: int, correlator=None) -> Tensor:
        """`num_iter` optimiser steps from `filt` over the memory: features (N, C, Hf, Wf), boxes (N, 4),
        labels (N, 1, Ho, Wo), weights (N,) (not normalised; zero = ignored); `correlator`: `features` laid
        out (only where `takes_memory_layout`). Returns the new filter."""

    @abstractmethod
    def classify(self, filt: Tensor, features: Tensor) -> Tensor:
        """Raw score maps (B, 1, Ho, Wo) of the filter on features (B, C, Hf, Wf)."""


class _Contextual:
    """A part that may read the engine's per-frame context (set before each use, None before the first)."""

    context: FrameContext | None = None

    def set_context(self, context: FrameContext) -> None:
        self.context = context

    def reset(self) -> None:
        """Forget everything about the previous track (the engine calls this on every initialize)."""


class BoxRefiner(_Contextual, ABC):
    """Estimates the target box (position and size) inside the search patch; optional part.

    The engine calls `reset` and `initialize` once per track on the identity initial sample, and `refine` on
    every frame where the target was found (flag not 'not_found'), after `set_context` for that frame. The
    engine turns the returned box into the new position, size and search scale (keeptrack-reference.md §1.8.6).
    """

    @abstractmethod
    def initialize(self, features: PatchFeatures, box: Tensor) -> None:
        """features: the identity initial sample (batch 1); box: (4,) its target box [x, y, w, h], patch px."""

    @abstractmethod
    def refine(self, features: PatchFeatures, box: Tensor, rng: RandomSource) -> Tensor | None:
        """Refined (4,) [x, y, w, h] patch box starting from `box` (the current estimate), or None to keep the
        current estimate unchanged. `features` are the current search patch's (batch 1)."""


class CandidateMatcher(_Contextual, ABC):
    """Associates the candidates of consecutive frames (KeepTrack's association network or a hand-made one).

    Only consecutive frames are matched; the engine does the bookkeeping of object ids (§1.6), the
    "one strong candidate in both frames" shortcut and the fallback when the previous frame had no candidates.
    The engine calls `reset` on every initialize and `set_context` before each frame's `describe`/`match`;
    on the shortcut it calls `matched` instead of `match`, so a matcher with per-candidate state (velocities)
    sees every association the engine made.
    """

    @abstractmethod
    def describe(self, features: PatchFeatures, cells_rc: Tensor) -> Tensor:
        """(D, N) descriptors of the candidates at score-map cells (N, 2) of the patch with these features."""

    @abstractmethod
    def match(self, previous: CandidateSet, current: CandidateSet, image_hw: tuple[int, int]) -> MatchResult:
        """Assignment between previous (M) and current (N >= 1, M >= 1) candidates; image_hw = full image size."""

    def matched(self, previous: CandidateSet, current: CandidateSet, matches1: Tensor) -> None:
        """The engine associated `current` with `previous` without calling `match` (matches1: (N,) as in
        MatchResult). Default: nothing to remember."""
