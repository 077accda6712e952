"""Training samples for the association network (KeepTrack §5.3-5.4), built from candidate dumps.

Two kinds of sample, each a pair of candidate sets padded to `num_candidates`:
- partial supervision: two consecutive real frames (pair categories HH, HK, HG); only the target
  is labelled (the candidate nearest the annotation in each frame); with some probability the
  target is dropped in one frame and must then go to the dustbin;
- self-supervision: one real frame and an augmented copy of it (jittered search area, brightness
  and blur applied before feature extraction - see dump.py - then jittered locations, perturbed
  scores, dropped candidates); every candidate is labelled (itself, or the dustbin if dropped).
Empty slots are filled with artificial candidates, far from every real one, that the loss ignores
(label -2). Labels: `gt_matches0[i]` = index in frame 1, -1 = must go to the dustbin, -2 = ignored.

Deliberate differences from the reference, each for a reason:
- artificial candidates are ignored by the loss (the reference labels them "dustbin" in
  self-supervision); they never occur at inference, so they should not shape the dustbin;
- partial supervision with the target dropped in frame 1 does not write -2 into gt_matches0[gt1]
  (the reference's typo, §8.13);
- frame-1 descriptors are sampled at the cells of the augmented view's own grid (the reference used
  frame 0's box), and where the target is not among the first five candidates it replaces the fifth.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .dump import PAIR_CATEGORIES, SequenceDump, cells_to_image, image_to_cell

IGNORE = -2
DUSTBIN = -1


@dataclass(frozen=True)
class SampleParams:
    num_candidates: int = 5
    p_sup_modes: tuple[tuple[str, float], ...] = (("self_sup", 0.5), ("partial_sup", 0.5))
    # frame categories for self-supervision; "D" = frames of unannotated sequences with >= 2 candidates
    p_frame_modes: tuple[tuple[str, float], ...] = (("H", 1.0), ("K", 0.5), ("J", 0.5), ("D", 1.0))
    p_pair_modes: tuple[tuple[str, float], ...] = (("HH", 1.0), ("HK", 0.1), ("HG", 0.1))
    drop_fraction: float = 0.25  # self-sup: drop round(drop_fraction * n * U) candidates in one view
    target_drop_probability: float = 0.25  # partial-sup: drop the target in one frame
    fake_tries: int = 20  # random points tried per artificial candidate (the farthest one is kept)
    score_noise: float = 0.1
    min_score: float = 0.075


@dataclass
class Sample:
    """One training pair. Arrays have `num_candidates` rows (fewer only for `real_pair`)."""

    patches0: np.ndarray  # (N0, C, 4, 4) feature patches under the descriptor conv at each candidate
    patches1: np.ndarray
    coords0: np.ndarray  # (N0, 2) image (y, x)
    coords1: np.ndarray
    scores0: np.ndarray  # (N0,)
    scores1: np.ndarray
    image_size: tuple[int, int]  # (rows, cols)
    valid0: np.ndarray  # (N0,) bool: a real candidate (False: artificial)
    valid1: np.ndarray
    gt_assignment: np.ndarray  # (N0, N1) 1 where the pair must match
    gt_matches0: np.ndarray  # (N0,) int: partner in frame 1, DUSTBIN or IGNORE
    gt_matches1: np.ndarray
    mode: str = ""  # e.g. "self_sup/H", "partial_sup/HH"
    targets: tuple[int, int] = (-1, -1)  # partial supervision: target slot in each frame (-1: none)
    # where the descriptors were taken: (N, 2) grid cells and the source of each frame's features,
    # (dump name, record index, view) with view 0 = stored features, 1 = augmented view (for bench/)
    cells0: np.ndarray | None = None
    cells1: np.ndarray | None = None
    sources: tuple = ()


def feature_patches(features: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """(N, C, 4, 4) inputs of the 4x4 descriptor conv (padding 2) at grid cells (row, col).

    Output cell (r, c) of that conv sees input rows r-2..r+1 and cols c-2..c+1 (zero outside)."""
    c, h, w = features.shape
    padded = np.zeros((c, h + 4, w + 4), np.float32)
    padded[:, 2:2 + h, 2:2 + w] = features
    cells = np.asarray(cells, np.int64).reshape(-1, 2)
    out = np.empty((len(cells), c, 4, 4), np.float32)
    for k, (r, col) in enumerate(cells):
        out[k] = padded[:, r:r + 4, col:col + 4]
    return out


def _cells(points_yx: np.ndarray, origin, step, grid_shape) -> np.ndarray:
    rc = np.array([image_to_cell(x, y, origin, step) for y, x in np.asarray(points_yx).reshape(-1, 2)])
    rc = rc.reshape(-1, 2)
    return np.clip(np.rint(rc), 0, np.array(grid_shape) - 1).astype(np.int64)


def _farthest_points(count: int, area, image_size, avoid: np.ndarray, tries: int,
                     rng: np.random.Generator) -> np.ndarray:
    """`count` points (y, x), each the farthest (max-min distance) of `tries` random ones inside the
    search area and the image from the points to avoid (which grow as points are added)."""
    x0, y0, w, h = area
    rows, cols = image_size
    lo_x, hi_x = max(x0, 0.0), min(x0 + w, cols - 1.0)
    lo_y, hi_y = max(y0, 0.0), min(y0 + h, rows - 1.0)
    if hi_x <= lo_x:
        lo_x, hi_x = 0.0, cols - 1.0
    if hi_y <= lo_y:
        lo_y, hi_y = 0.0, rows - 1.0
    avoid = np.asarray(avoid, np.float64).reshape(-1, 2)
    out = []
    for _ in range(count):
        pts = np.stack([rng.uniform(lo_y, hi_y, tries), rng.uniform(lo_x, hi_x, tries)], axis=1)
        if len(avoid):
            d = np.linalg.norm(pts[:, None, :] - avoid[None, :, :], axis=2).min(axis=1)
            best = pts[int(np.argmax(d))]
        else:
            best = pts[0]
        out.append(best)
        avoid = np.vstack([avoid, best[None]])
    return np.array(out).reshape(-1, 2)


def _fake_scores(count: int, rng: np.random.Generator) -> np.ndarray:
    return (0.05 + np.minimum(np.abs(rng.normal(size=count)) / 50.0, 0.025)).astype(np.float32)


def _grid_shape(dump: SequenceDump) -> tuple[int, int]:
    return dump.features.shape[2] + 1, dump.features.shape[3] + 1


def self_supervised(dump: SequenceDump, f: int, params: SampleParams, rng: np.random.Generator,
                    mode: str = "self_sup") -> Sample:
    """Frame `f` against its augmented view; all real candidates supervised."""
    if not dump.has_aug[f]:
        raise InputError(f"{dump.name} frame {dump.frame_index[f]} has no augmented view in the dump")
    k = params.num_candidates
    cells, scores = dump.candidates(f)
    n = min(len(scores), k)
    cells, scores = cells[:n], scores[:n].astype(np.float32)
    grid = _grid_shape(dump)
    origin, step = dump.origin[f], dump.step[f]
    points = cells_to_image(cells, origin, step)  # (n, 2) y, x: the same places in both views
    valid0 = np.zeros(k, bool)
    valid0[:n] = True
    valid1 = valid0.copy()
    n_drop = int(round(params.drop_fraction * n * rng.random()))
    if n_drop:
        dropped = rng.choice(n, size=n_drop, replace=False)
        (valid0 if rng.random() < 0.5 else valid1)[dropped] = False

    # frame-1 scores: noisy, rank-ordered over the fixed candidate order; sometimes a distractor
    # is pushed close to (or above) the target
    s1 = np.sort(scores + rng.normal(0.0, params.score_noise, n).astype(np.float32))[::-1].copy()
    if n > 2 and n_drop == 0 and s1[1] > 0.5 * s1[0] and s1[0] > 0.2 and s1[1] > 0.2:
        kind = rng.integers(3)
        if kind >= 1:
            a, b = np.abs(rng.normal(0.0, params.score_noise, 2))
            s1[0] -= a
            s1[1] += b
            s1 = np.sort(s1)[::-1].copy()
            if kind == 2:
                s1[[0, 1]] = s1[[1, 0]]
    s1 = np.maximum(s1, params.min_score)

    # frame-1 locations: jitter by at most a quarter of the closest spacing (and one cell)
    if n > 1:
        d = np.linalg.norm(points[:, None] - points[None], axis=2)
        nz = d[d > 0]
    else:
        nz = np.zeros(0)
    if len(nz):
        amp = np.minimum(np.sqrt(2) * nz.min() / 4.0, [step[1], step[0]])
    else:
        amp = 0.5 * np.array([step[1], step[0]])
    rows, cols = dump.image_size
    points1 = points + rng.uniform(-1, 1, size=points.shape) * amp
    points1 = np.clip(points1, 0, [rows - 1, cols - 1])
    cells1 = _cells(points, dump.aug_origin[f], dump.aug_step[f], grid)

    coords0 = np.zeros((k, 2))
    coords1 = np.zeros((k, 2))
    coords0[:n], coords1[:n] = points, points1
    sc0 = np.zeros(k, np.float32)
    sc1 = np.zeros(k, np.float32)
    sc0[:n], sc1[:n] = scores, s1
    rc0 = np.zeros((k, 2), np.int64)
    rc1 = np.zeros((k, 2), np.int64)
    rc0[:n], rc1[:n] = cells, cells1
    avoid = np.vstack([coords0[valid0], coords1[valid1]])
    aug_area = _aug_area(dump, f)
    for valid, coords, sc, rc, area, org, stp in (
            (valid0, coords0, sc0, rc0, dump.search_area[f], origin, step),
            (valid1, coords1, sc1, rc1, aug_area, dump.aug_origin[f], dump.aug_step[f])):
        empty = np.flatnonzero(~valid)
        if len(empty):
            pts = _farthest_points(len(empty), area, dump.image_size, avoid, params.fake_tries, rng)
            avoid = np.vstack([avoid, pts])
            coords[empty] = pts
            sc[empty] = _fake_scores(len(empty), rng)
            rc[empty] = _cells(pts, org, stp, grid)

    target = -1  # the target's slot where the frame says which candidate it is (H, G, K)
    if dump.category[f] in ("H", "G", "K"):
        t = target_index(cells, dump.anno_cell[f])
        target = t if valid0[t] and valid1[t] else -1
    both = valid0 & valid1
    gt_assignment = np.diag(both.astype(np.float32))
    idx = np.arange(k)
    gt0 = np.where(both, idx, np.where(valid0, DUSTBIN, IGNORE))
    gt1 = np.where(both, idx, np.where(valid1, DUSTBIN, IGNORE))
    return Sample(
        patches0=feature_patches(dump.features[f].astype(np.float32), rc0),
        patches1=feature_patches(dump.aug_features[f].astype(np.float32), rc1),
        coords0=coords0.astype(np.float32), coords1=coords1.astype(np.float32),
        scores0=sc0, scores1=sc1, image_size=tuple(dump.image_size), valid0=valid0, valid1=valid1,
        gt_assignment=gt_assignment, gt_matches0=gt0.astype(np.int64), gt_matches1=gt1.astype(np.int64),
        mode=mode, cells0=rc0, cells1=rc1, sources=((dump.name, f, 0), (dump.name, f, 1)),
        targets=(target, target))


def _aug_area(dump: SequenceDump, f: int):
    """The augmented view's search area, recovered from its grid (same grid size as view 0)."""
    rows, cols = _grid_shape(dump)
    ox, oy = dump.aug_origin[f]
    sx, sy = dump.aug_step[f]
    return (ox, oy, sx * (cols - 1), sy * (rows - 1))


def target_index(cells: np.ndarray, anno_cell: np.ndarray) -> int:
    """The candidate nearest to the annotation cell (the reference's GT candidate)."""
    d = np.hypot(*(np.asarray(cells, np.float64) - anno_cell).T)
    return int(np.argmin(d))


def partially_supervised(dump: SequenceDump, p: int, params: SampleParams, rng: np.random.Generator,
                         mode: str = "partial_sup") -> Sample:
    """Consecutive kept frames p, p+1; only the target is supervised."""
    k = params.num_candidates
    grid = _grid_shape(dump)
    sets = []
    for f in (p, p + 1):
        cells, scores = dump.candidates(f)
        t = target_index(cells, dump.anno_cell[f])
        order = list(range(min(len(scores), k)))
        if t >= k:  # keep the target: it replaces the weakest kept candidate
            order[-1] = t
            t = k - 1
        sets.append((f, cells[order], scores[order].astype(np.float32), t))
    drop = -1
    if rng.random() < params.target_drop_probability:
        drop = int(rng.integers(2))

    out = []
    anno_points = np.vstack([cells_to_image(dump.anno_cell[f][None], dump.origin[f], dump.step[f])
                             for f, *_ in sets])
    real_points = [cells_to_image(c, dump.origin[f], dump.step[f]) for f, c, _, _ in sets]
    avoid = np.vstack([anno_points, *real_points])
    for side, (f, cells, scores, t) in enumerate(sets):
        n = len(scores)
        valid = np.zeros(k, bool)
        valid[:n] = True
        if side == drop:
            valid[t] = False
        coords = np.zeros((k, 2))
        coords[:n] = real_points[side]
        sc = np.zeros(k, np.float32)
        sc[:n] = scores
        rc = np.zeros((k, 2), np.int64)
        rc[:n] = cells
        empty = np.flatnonzero(~valid)
        if len(empty):
            pts = _farthest_points(len(empty), dump.search_area[f], dump.image_size, avoid, params.fake_tries, rng)
            avoid = np.vstack([avoid, pts])
            coords[empty] = pts
            sc[empty] = _fake_scores(len(empty), rng)
            rc[empty] = _cells(pts, dump.origin[f], dump.step[f], grid)
        out.append((f, valid, coords, sc, rc, t))
    (f0, valid0, coords0, sc0, rc0, t0), (f1, valid1, coords1, sc1, rc1, t1) = out
    gt_assignment = np.zeros((k, k), np.float32)
    gt0 = np.full(k, IGNORE, np.int64)
    gt1 = np.full(k, IGNORE, np.int64)
    gt_assignment[t0, t1] = float(valid0[t0] and valid1[t1])
    if drop == 0:
        gt1[t1] = DUSTBIN
    elif drop == 1:
        gt0[t0] = DUSTBIN
    else:
        gt0[t0], gt1[t1] = t1, t0
    return Sample(
        patches0=feature_patches(dump.features[f0].astype(np.float32), rc0),
        patches1=feature_patches(dump.features[f1].astype(np.float32), rc1),
        coords0=coords0.astype(np.float32), coords1=coords1.astype(np.float32), scores0=sc0, scores1=sc1,
        image_size=tuple(dump.image_size), valid0=valid0, valid1=valid1, gt_assignment=gt_assignment,
        gt_matches0=gt0, gt_matches1=gt1, mode=mode,
        targets=(t0 if valid0[t0] else -1, t1 if valid1[t1] else -1),
        cells0=rc0, cells1=rc1, sources=((dump.name, f0, 0), (dump.name, f1, 0)))


def real_pair(dump: SequenceDump, p: int) -> Sample:
    """Consecutive kept frames p, p+1 with all their real candidates, no padding, no augmentation;
    only the target pair is labelled (the reference's validation on real candidates)."""
    sets = []
    for f in (p, p + 1):
        cells, scores = dump.candidates(f)
        sets.append((f, cells, scores.astype(np.float32), target_index(cells, dump.anno_cell[f])))
    (f0, c0, s0, t0), (f1, c1, s1, t1) = sets
    gt_assignment = np.zeros((len(s0), len(s1)), np.float32)
    gt_assignment[t0, t1] = 1.0
    gt0 = np.full(len(s0), IGNORE, np.int64)
    gt1 = np.full(len(s1), IGNORE, np.int64)
    gt0[t0], gt1[t1] = t1, t0
    return Sample(
        patches0=feature_patches(dump.features[f0].astype(np.float32), c0),
        patches1=feature_patches(dump.features[f1].astype(np.float32), c1),
        coords0=cells_to_image(c0, dump.origin[f0], dump.step[f0]).astype(np.float32),
        coords1=cells_to_image(c1, dump.origin[f1], dump.step[f1]).astype(np.float32),
        scores0=s0, scores1=s1, image_size=tuple(dump.image_size),
        valid0=np.ones(len(s0), bool), valid1=np.ones(len(s1), bool), gt_assignment=gt_assignment,
        gt_matches0=gt0, gt_matches1=gt1, mode="real", targets=(t0, t1),
        cells0=np.asarray(c0, np.int64), cells1=np.asarray(c1, np.int64),
        sources=((dump.name, f0, 0), (dump.name, f1, 0)))


@dataclass
class SamplePools:
    """Where each sampling mode draws from: (dump index, record index) lists."""

    frames: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # self-sup, by frame category
    pairs: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # partial-sup, by pair category


def build_pools(dumps: list[SequenceDump]) -> SamplePools:
    pools = SamplePools({c: [] for c in ("G", "H", "J", "K", "D")}, {c: [] for c in PAIR_CATEGORIES})
    for di, d in enumerate(dumps):
        for f, c in enumerate(d.category.tolist()):
            if d.has_aug[f] and c in pools.frames:
                pools.frames[c].append((di, f))
        for key, ps in d.pairs().items():
            pools.pairs[key].extend((di, p) for p in ps)
    return pools


def _choose(weights: tuple[tuple[str, float], ...], available, rng) -> str | None:
    names = [n for n, w in weights if w > 0 and available(n)]
    if not names:
        return None
    w = np.array([dict(weights)[n] for n in names], np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


class CandidateSampler:
    """Draws training samples with the reference's ratios (modes with no data are left out and the
    remaining weights renormalised)."""

    def __init__(self, dumps: list[SequenceDump], params: SampleParams = SampleParams()):
        self.dumps = dumps
        self.params = params
        self.pools = build_pools(dumps)
        if not any(self._has(m) for m, _ in params.p_sup_modes):
            raise InputError("the candidate dumps hold no usable frame or frame pair for training "
                             "(no frame with distractors and an augmented view, no HH/HK/HG pair)")

    def _has(self, sup_mode: str) -> bool:
        if sup_mode == "self_sup":
            return any(self.pools.frames.get(m) for m, _ in self.params.p_frame_modes)
        return any(self.pools.pairs.get(m) for m, _ in self.params.p_pair_modes)

    def sample(self, rng: np.random.Generator) -> Sample:
        sup = _choose(self.params.p_sup_modes, self._has, rng)
        if sup == "self_sup":
            mode = _choose(self.params.p_frame_modes, lambda m: bool(self.pools.frames.get(m)), rng)
            di, f = self.pools.frames[mode][int(rng.integers(len(self.pools.frames[mode])))]
            return self_supervised(self.dumps[di], f, self.params, rng, mode=f"self_sup/{mode}")
        mode = _choose(self.params.p_pair_modes, lambda m: bool(self.pools.pairs.get(m)), rng)
        di, p = self.pools.pairs[mode][int(rng.integers(len(self.pools.pairs[mode])))]
        return partially_supervised(self.dumps[di], p, self.params, rng, mode=f"partial_sup/{mode}")
