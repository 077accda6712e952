"""Candidate dumps (KeepTrack §5.2): run a base engine over sequences and keep, per frame, what
training the association network needs, with the data-mining category of every frame and pair.

Per kept frame: the search area, the descriptor grid's geometry, the candidates as grid cells
(row, col) with their scores, the annotated target's cell, the backbone features of the search
patch (from which the trainable descriptor conv builds descriptors), and for self-supervision the
features of a second, augmented view (jittered search area, brightness and blur applied *before*
feature extraction, as in the reference).

Data-mining categories (distances in grid cells between the annotation cell and the candidates):
  D  the frame has at least two candidates and the target is visible (distractors present);
     in unannotated sequences: at least two candidates (the target cannot be checked);
  H  within D: nearest candidate within `near_cells`, second nearest beyond `far_cells`, the nearest
     is the top-scoring candidate and the top score >= `score_threshold` (tracked despite distractors);
  G  as H but the top score < `score_threshold` (correct, low confidence);
  J  nearest candidate beyond `far_cells` and top score >= threshold (target not among candidates);
  K  as H but a distractor outscores the target (the correct candidate is not the top one).
Pairs of consecutive kept frames: HH, HK, HG (previous frame H, current frame H, K or G).

Storage: one `<sequence>.npz` per sequence (plain arrays, read with allow_pickle=False) and a
`summary.json` with the counts, in the folder given.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import InputError
from ..keeptrack.geometry import cells_to_image, crop_for_search_area, image_to_cell, score_grid
from ..result import Box, FrameResult
from ..runloop import RunPlan, Step, run_engine

FRAME_CATEGORIES = ("G", "H", "J", "K")
PAIR_CATEGORIES = ("HH", "HK", "HG")
DUMP_FORMAT = "keeptrack-studio/candidate-dump"
DUMP_VERSION = 1


@dataclass(frozen=True)
class MiningParams:
    near_cells: float = 2.0  # the correct candidate lies within this many cells of the annotation
    far_cells: float = 4.0  # the second nearest (or, for J, the nearest) lies farther than this
    score_threshold: float = 0.25  # "confident" top score (the reference's th)


@dataclass(frozen=True)
class AugmentParams:
    """The second view for self-supervision (reference §5.4 steps 1-2)."""

    area_jitter: float = 0.01  # x, w shift by an integer in [-w*j, w*j] (y, h likewise with h)
    brightness: tuple[float, float] = (0.5, 1.5)
    blur_probability: float = 0.75
    blur_sigma: float = 0.5


@dataclass(frozen=True)
class DumpParams:
    mining: MiningParams = field(default_factory=MiningParams)
    augment: AugmentParams = field(default_factory=AugmentParams)
    max_frames: int | None = None  # None: the whole sequence
    feature_dtype: str = "float16"  # features are stored at half precision to keep dumps small
    seed: int = 0


@dataclass(frozen=True)
class GridFeatures:
    """Backbone features of one search patch and where the descriptor grid's cells lie in the image.

    `features` is (C, rows - 1, cols - 1): the descriptor conv (4x4, padding 2) turns it into a
    (rows, cols) grid, the same grid as the engine's score map (as in KeepTrack, §1.5 step 3).
    Cell (r, c) is centred at image point (origin[0] + c * step[0], origin[1] + r * step[1]).
    """

    features: np.ndarray
    origin: tuple[float, float]  # (x, y)
    step: tuple[float, float]  # (x, y)

    @property
    def grid_shape(self) -> tuple[int, int]:
        return self.features.shape[1] + 1, self.features.shape[2] + 1


class SearchFeatures(Protocol):
    """What a base engine offers the dump (see EngineFeatureHook for KeepTrack-family engines)."""

    def frame_features(self, frame: np.ndarray, result: FrameResult) -> GridFeatures:
        """The features the engine itself computed for the search patch of the frame it just tracked."""

    def search_features(self, frame: np.ndarray, search_area: Box) -> GridFeatures:
        """Features of a new crop of `search_area` (about that region; the grid says exactly where)."""


def mine_frame(cells: np.ndarray, scores: np.ndarray, anno_cell, visible: bool,
               params: MiningParams = MiningParams()) -> tuple[bool, str | None]:
    """(in D, category) of one frame. `cells` (N, 2) and `scores` (N,) are its candidates; `anno_cell`
    the annotated target's cell or None where the frame has no annotation."""
    cells = np.asarray(cells, np.float64).reshape(-1, 2)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if len(scores) < 2:
        return False, None
    if anno_cell is None:
        return True, None  # unannotated: distractors present, the target cannot be checked
    if not visible:
        return False, None
    dist = np.hypot(*(cells - np.asarray(anno_cell, np.float64)).T)
    order = np.argsort(dist, kind="stable")
    nearest, d1, d2 = order[0], dist[order[0]], dist[order[1]]
    top = int(np.argmax(scores))
    confident = scores.max() >= params.score_threshold
    if d1 > params.far_cells:
        return True, ("J" if confident else None)
    if d1 <= params.near_cells and d2 > params.far_cells:
        if nearest == top:
            return True, ("H" if confident else "G")
        return True, ("K" if confident else None)
    return True, None


def mine_pairs(frame_indices, categories) -> dict[str, list[int]]:
    """Pair category -> positions p (into the record list) such that records p, p+1 are consecutive
    frames forming that pair (previous frame H; current H, K or G)."""
    pairs: dict[str, list[int]] = {k: [] for k in PAIR_CATEGORIES}
    for p in range(len(frame_indices) - 1):
        if frame_indices[p + 1] != frame_indices[p] + 1:
            continue
        key = f"{categories[p]}{categories[p + 1]}"
        if key in pairs:
            pairs[key].append(p)
    return pairs


@dataclass
class SequenceDump:
    """The kept frames of one sequence, as arrays (one row per kept frame)."""

    name: str
    image_size: tuple[int, int]  # (rows, cols)
    annotated: bool
    frame_index: np.ndarray  # (F,) int
    search_area: np.ndarray  # (F, 4) [x, y, w, h]
    box: np.ndarray  # (F, 4) the engine's target box [x, y, w, h] on that frame (NaN where none)
    origin: np.ndarray  # (F, 2) (x, y) of grid cell (0, 0)
    step: np.ndarray  # (F, 2) (x, y)
    cand_offsets: np.ndarray  # (F + 1,) candidates of frame f are rows offsets[f]:offsets[f+1]
    cand_cells: np.ndarray  # (K, 2) int (row, col), per frame sorted by score, descending
    cand_scores: np.ndarray  # (K,)
    anno_cell: np.ndarray  # (F, 2) (row, col), NaN where unannotated or invisible
    category: np.ndarray  # (F,) str: "G", "H", "J", "K", "D" (in D, no finer category)
    features: np.ndarray  # (F, C, h, w)
    aug_features: np.ndarray  # (F, C, h, w) second view (zeros where has_aug is False)
    aug_origin: np.ndarray  # (F, 2)
    aug_step: np.ndarray  # (F, 2)
    has_aug: np.ndarray  # (F,) bool
    counts: dict = field(default_factory=dict)  # frames seen per category, incl. frames not kept

    def __len__(self) -> int:
        return len(self.frame_index)

    def candidates(self, f: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.cand_offsets[f], self.cand_offsets[f + 1]
        return self.cand_cells[a:b], self.cand_scores[a:b]

    def pairs(self) -> dict[str, list[int]]:
        return mine_pairs(self.frame_index.tolist(), self.category.tolist())

    def frames_of(self, category: str) -> list[int]:
        return [i for i, c in enumerate(self.category.tolist()) if c == category]

    # -- storage -------------------------------------------------------------------------------
    _ARRAYS = ("frame_index", "search_area", "box", "origin", "step", "cand_offsets", "cand_cells", "cand_scores",
               "anno_cell", "category", "features", "aug_features", "aug_origin", "aug_step", "has_aug")

    def save(self, path: str | Path) -> None:
        import io

        meta = json.dumps({"format": DUMP_FORMAT, "version": DUMP_VERSION, "name": self.name,
                           "image_size": list(self.image_size), "annotated": self.annotated,
                           "counts": self.counts})
        arrays = {k: getattr(self, k) for k in self._ARRAYS}
        arrays["category"] = arrays["category"].astype("U1")
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.array(meta), **arrays)
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "SequenceDump":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != DUMP_FORMAT:
                    raise InputError(f"{path} is not a candidate dump (format {meta.get('format')!r})")
                if meta.get("version") != DUMP_VERSION:
                    raise InputError(f"{path}: candidate dump version {meta.get('version')} is not supported")
                arrays = {k: z[k] for k in cls._ARRAYS}
        except (OSError, KeyError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"cannot read candidate dump {path}: {exc}") from exc
        return cls(name=meta["name"], image_size=tuple(meta["image_size"]), annotated=meta["annotated"],
                   counts=meta.get("counts", {}), **arrays)


def load_dumps(folder: str | Path) -> list[SequenceDump]:
    folder = Path(folder)
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise InputError(f"no candidate dumps (*.npz) in {folder}; run `python main.py train-association dump` first")
    return [SequenceDump.load(f) for f in files]


# -- building dumps ----------------------------------------------------------------------------


def augment_frame(frame: np.ndarray, params: AugmentParams, rng: np.random.Generator) -> np.ndarray:
    """Brightness jitter and (sometimes) a slight blur: the photometric part of the second view."""
    factor = rng.uniform(*params.brightness)
    out = np.clip(frame.astype(np.float32) * factor, 0, 255)
    if rng.random() < params.blur_probability:
        out = cv2.GaussianBlur(out, (0, 0), params.blur_sigma)
    return out.round().astype(np.uint8)


def jitter_area(area: Box, params: AugmentParams, rng: np.random.Generator) -> Box:
    x, y, w, h = area
    jx, jy = int(w * params.area_jitter), int(h * params.area_jitter)
    dx, dw = rng.integers(-jx, jx + 1, size=2)
    dy, dh = rng.integers(-jy, jy + 1, size=2)
    return (x + dx, y + dy, max(w + dw, 1.0), max(h + dh, 1.0))


def annotation_cell(box, grid: GridFeatures) -> tuple[float, float]:
    """The cell nearest to the box centre, clipped to the grid (the argmax of a Gaussian label
    centred there, as the reference computes `target_anno_coord`)."""
    x, y, w, h = box
    r, c = image_to_cell(x + w / 2, y + h / 2, grid.origin, grid.step)
    rows, cols = grid.grid_shape
    return float(np.clip(round(r), 0, rows - 1)), float(np.clip(round(c), 0, cols - 1))


def box_visible(box, image_size) -> bool:
    if box is None:
        return False
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        return False
    rows, cols = image_size
    return x < cols and y < rows and x + w > 0 and y + h > 0


def candidate_cells(result: FrameResult, grid: GridFeatures) -> tuple[np.ndarray, np.ndarray]:
    """The engine's candidates as grid cells (row, col), sorted by score (descending)."""
    cands = sorted(result.candidates, key=lambda c: -c.score)
    rows, cols = grid.grid_shape
    cells = np.array([image_to_cell(c.x, c.y, grid.origin, grid.step) for c in cands], np.float64).reshape(-1, 2)
    cells = np.clip(np.rint(cells), 0, [rows - 1, cols - 1]).astype(np.int32)
    return cells, np.array([c.score for c in cands], np.float32)


def dump_sequence(engine, hook: SearchFeatures, frames, name: str, init_box: Box,
                  ground_truth: np.ndarray | None = None, params: DumpParams = DumpParams(),
                  progress=None) -> SequenceDump:
    """Run `engine` (initialised on frame 0 with `init_box`, then tracking freely, never reset to the
    annotation) over `frames` (a FrameSource or a list of RGB frames) and keep the frames in D.

    `ground_truth` is (num_frames, 4) [x, y, w, h] with NaN rows where unannotated, or None for an
    unannotated sequence (its frames with >= 2 candidates are kept for self-supervision).
    """
    rng = np.random.default_rng(params.seed)
    n = len(frames) if params.max_frames is None else min(len(frames), params.max_frames)
    first = frames[0]
    image_size = (int(first.shape[0]), int(first.shape[1]))
    rows: list[dict] = []
    counts: Counter = Counter()
    dtype = np.dtype(params.feature_dtype)

    def on_step(step: Step) -> None:
        if step.initial:
            return
        i, frame, result = step.index, step.frame, step.result
        counts["frames"] += 1
        if result.search_area is None or result.score_map is None:
            counts["no_score_map"] += 1
            return
        if len(result.candidates) < 2:
            counts["fewer_than_2_candidates"] += 1
            return
        grid = hook.frame_features(frame, result)
        if grid.grid_shape != tuple(result.score_map.values.shape):
            raise InputError(f"{name} frame {i}: feature grid {grid.grid_shape} does not match the score map "
                             f"{tuple(result.score_map.values.shape)} (the descriptor conv maps h x w -> h+1 x w+1)")
        cells, scores = candidate_cells(result, grid)
        gt = None if ground_truth is None or i >= len(ground_truth) else ground_truth[i]
        annotated = gt is not None and np.all(np.isfinite(gt))
        visible = annotated and box_visible(gt, image_size)
        anno = annotation_cell(gt, grid) if visible else None
        if ground_truth is not None and not annotated:
            counts["unannotated"] += 1
            return  # an annotated sequence's unannotated frame: nothing to check against
        # anno None = unannotated sequence (frames with >= 2 candidates are kept, uncategorised)
        anno_arg = None if ground_truth is None else (anno if visible else (np.nan, np.nan))
        in_d, category = mine_frame(cells, scores, anno_arg, visible, params.mining)
        if not in_d:
            counts["target_not_visible"] += 1
            return
        counts["D"] += 1
        if category is not None:
            counts[category] += 1
        category = category or "D"
        self_sup = category in ("H", "K", "J") or ground_truth is None
        aug = None
        if self_sup:
            area = jitter_area(result.search_area, params.augment, rng)
            aug = hook.search_features(augment_frame(frame, params.augment, rng), area)
        rows.append(dict(frame_index=i, search_area=np.asarray(result.search_area, np.float64),
                         box=np.asarray(result.box if result.box is not None else (np.nan,) * 4, np.float64),
                         origin=np.asarray(grid.origin, np.float64), step=np.asarray(grid.step, np.float64),
                         cells=cells, scores=scores,
                         anno_cell=np.asarray(anno if anno is not None else (np.nan, np.nan), np.float64),
                         category=category, features=grid.features.astype(dtype),
                         aug_features=None if aug is None else aug.features.astype(dtype),
                         aug_origin=np.asarray(aug.origin if aug else (np.nan, np.nan), np.float64),
                         aug_step=np.asarray(aug.step if aug else (np.nan, np.nan), np.float64)))
        if progress is not None:
            progress(i, n)

    end = run_engine(engine, frames, RunPlan.forward(0, tuple(float(v) for v in init_box), n), on_step)
    if end.failure is not None:
        raise InputError(f"{name}: {end.failure}")
    dump = _assemble(name, image_size, ground_truth is not None, rows, dtype)
    for key, idx in dump.pairs().items():
        counts[key] = len(idx)
    dump.counts = dict(counts)
    return dump


def _assemble(name, image_size, annotated, rows, dtype) -> SequenceDump:
    f = len(rows)
    if f == 0:
        empty2 = np.zeros((0, 2))
        return SequenceDump(name, image_size, annotated, np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros((0, 4)),
                            empty2, empty2,
                            np.zeros(1, np.int64), np.zeros((0, 2), np.int32), np.zeros(0, np.float32), empty2,
                            np.zeros(0, "U1"), np.zeros((0, 1, 1, 1), dtype), np.zeros((0, 1, 1, 1), dtype),
                            empty2, empty2, np.zeros(0, bool))
    feats = np.stack([r["features"] for r in rows])
    aug = np.zeros_like(feats)
    has_aug = np.zeros(f, bool)
    for k, r in enumerate(rows):
        if r["aug_features"] is not None:
            aug[k] = r["aug_features"]
            has_aug[k] = True
    offsets = np.concatenate([[0], np.cumsum([len(r["scores"]) for r in rows])]).astype(np.int64)
    return SequenceDump(
        name=name, image_size=image_size, annotated=annotated,
        frame_index=np.array([r["frame_index"] for r in rows], np.int64),
        search_area=np.stack([r["search_area"] for r in rows]), box=np.stack([r["box"] for r in rows]),
        origin=np.stack([r["origin"] for r in rows]), step=np.stack([r["step"] for r in rows]),
        cand_offsets=offsets,
        cand_cells=np.concatenate([r["cells"] for r in rows]).astype(np.int32),
        cand_scores=np.concatenate([r["scores"] for r in rows]).astype(np.float32),
        anno_cell=np.stack([r["anno_cell"] for r in rows]),
        category=np.array([r["category"] for r in rows], "U1"),
        features=feats, aug_features=aug,
        aug_origin=np.stack([r["aug_origin"] for r in rows]), aug_step=np.stack([r["aug_step"] for r in rows]),
        has_aug=has_aug)


def summarize(dumps: list[SequenceDump]) -> list[dict]:
    """One row per sequence with the mining counts (and a total row)."""
    keys = ("frames", "D", *FRAME_CATEGORIES, *PAIR_CATEGORIES)
    table = []
    total = Counter()
    for d in dumps:
        row = {"sequence": d.name, **{k: int(d.counts.get(k, 0)) for k in keys}}
        total.update({k: row[k] for k in keys})
        table.append(row)
    table.append({"sequence": "total", **{k: int(total.get(k, 0)) for k in keys}})
    return table


def format_summary(table: list[dict]) -> str:
    keys = [k for k in table[0] if k != "sequence"]
    lines = [f"{'sequence':12s} " + " ".join(f"{k:>6s}" for k in keys)]
    for row in table:
        lines.append(f"{row['sequence']:12s} " + " ".join(f"{row[k]:6d}" for k in keys))
    return "\n".join(lines)


def write_summary(folder: str | Path, dumps: list[SequenceDump], params: DumpParams, engine_name: str) -> None:
    data = {"format": DUMP_FORMAT, "engine": engine_name, "params": asdict(params), "sequences": summarize(dumps)}
    atomic_write_bytes(Path(folder) / "summary.json", json.dumps(data, indent=2).encode())


class EngineFeatureHook:
    """SearchFeatures for a KeepTrackEngine (tracker.keeptrack.engine): records the features its base
    network computes while tracking (no second backbone pass) and crops new search areas the engine's way.

    `feature_key`: "classification" (PatchFeatures.classification, e.g. keeptrack-lite) or a name in
    PatchFeatures.maps (e.g. "layer3" for the DiMP networks)."""

    def __init__(self, engine, feature_key: str = "classification"):
        self.engine = engine
        self.feature_key = feature_key
        self._last = None
        original = engine.base.extract

        def extract(patches):
            out = original(patches)
            self._last = out
            return out

        engine.base.extract = extract  # an instance attribute: the engine's part is otherwise unchanged

    def _select(self, features) -> np.ndarray:
        t = features.classification if self.feature_key == "classification" else features.maps[self.feature_key]
        return t[0].detach().float().cpu().numpy()

    def _grid(self, features: np.ndarray, crop) -> GridFeatures:
        import torch

        size = self.engine.params.image_sample_size
        hf, wf = features.shape[1:]
        # The score-map grid of a 4x4 filter: one cell more than the features per side.
        origin, step = score_grid(crop.sample_pos, crop.sample_scale(size), torch.tensor([float(hf), float(wf)]),
                                  torch.tensor([float(hf + 1), float(wf + 1)]), size)
        return GridFeatures(features, origin, step)

    def frame_features(self, frame: np.ndarray, result: FrameResult) -> GridFeatures:
        crop = self.engine.debug["crop"]
        return self._grid(self._select(self._last), crop)

    def search_features(self, frame: np.ndarray, search_area: Box) -> GridFeatures:
        import torch

        from ..keeptrack.crop import image_to_tensor, sample_patch

        size = self.engine.params.image_sample_size
        image = image_to_tensor(frame, self.engine.device)
        pos, side = crop_for_search_area(search_area)
        with torch.no_grad():
            crop = sample_patch(image, pos, side, size, mode="replicate")
            features = self.engine.base.extract(crop.patch)
        return self._grid(self._select(features), crop)
