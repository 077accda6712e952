"""KeepTrack engine: the tracking logic of keeptrack-reference.md §1 behind tracker.engine.Engine.

Networks are reached only through the parts of tracker/keeptrack/parts.py, so keeptrack, keeptrack-fast,
superdimp and keeptrack-lite are the same class with different parts and parameters.

Faithfulness (keeptrack-reference.md §8) — we follow the released code, which produced the published numbers:
§8.1 swapped keypoint centring (dimp_parts.AssociationMatcher), §8.2/8.3 memory certainty = global score maximum
(sqrt-boosted while object id 0 is selected), zeroed in place below 0.5 (memory.py), §8.4 the 0.6 / 0.85 match gates
and ids from 0 before frame 10 (candidates.py), §8.5 a stale collection still decides the presence boost on
early-exit frames, §8.6 replicate padding for the first crop, §8.7 true-division crop arithmetic (crop.py),
§8.8 IoU ranking before the last step (refine.py), §8.10 rescaling changes only the search scale, §8.11 hard
negatives only from the fallback path, §8.12 association only between consecutive frames. One deliberate
difference: §8.9 (a stale IoU-Net position reused when every refined box is rejected) is not reproduced; the
position from the classifier is kept instead (it never happens in the reference trace).
Zero candidates despite a maximum at the threshold (possible only when the maximum equals it) are handled like the
early-exit path.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..boxes import validate_init_box
from ..engine import Engine, check_frame
from ..errors import InputError
from ..result import Assignment, Candidate, Flag, FrameResult, ScoreMap
from .augment import Transform, apply_transforms, init_transforms
from .candidates import CandidateCollection, find_peaks
from .crop import Crop, image_to_tensor, sample_patch
from .geometry import (association_coords, box_from_state, cell_translation, clip_box, label_centre, patch_box,
                       refined_state, score_grid, state_from_box)
from .flags import FlagEvidence, FlagRule, FlagState
from .localisation import localise_advanced
from .memory import SampleMemory, gn_iterations
from .params import TrackerParams
from .profiles import profile_params
from .parts import (BaseNetwork, BoxRefiner, CandidateMatcher, CandidateSet, FrameContext, MatchResult, RandomSource,
                    TorchRandom)

Tensor = torch.Tensor


def gaussian_label(feature_size: Tensor, sigma: Tensor, centre: Tensor, end_pad: Tensor) -> Tensor:
    """Separable Gaussian (peak 1) on the score grid; grid coordinates run from -(F-1)/2 to (F+1)/2 + end_pad - 1,
    centre in the same units. Returns (1, 1, F + end_pad, F + end_pad) float32 CPU."""
    axes = []
    for d in range(2):
        f = feature_size[d].item()
        k = torch.arange(-(f - 1) / 2, (f + 1) / 2 + end_pad[d].item())
        axes.append(torch.exp(-1.0 / (2 * sigma[d].item() ** 2) * (k - centre[d]) ** 2))
    return (axes[0].reshape(1, 1, -1, 1) * axes[1].reshape(1, 1, 1, -1)).float()


class StageTimer:
    """Seconds per named stage; synchronises CUDA so that asynchronous kernels are counted where they run."""

    def __init__(self, device: str):
        self.cuda = str(device).startswith("cuda")
        self.times: dict[str, float] = {}

    def _sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def start(self):
        self._sync()
        self._t = time.perf_counter()

    def stop(self, stage: str):
        self._sync()
        now = time.perf_counter()
        self.times[stage] = self.times.get(stage, 0.0) + now - self._t
        self._t = now


@dataclass
class TrackState:
    """Everything the engine knows about the current track; a new one per `initialize`.

    Image positions are (row, col) and sizes (h, w), float32 CPU (tracker/keeptrack/geometry.py).
    """

    image_hw: tuple[int, int]
    image_sz: Tensor                     # (2,) float image (H, W)
    pos: Tensor                          # target centre
    target_sz: Tensor                    # target size
    target_scale: Tensor                 # image px per patch px of the next search crop (0-d)
    base_target_sz: Tensor               # target size at scale 1 (fixed per track)
    init_search_area: tuple[float, float, float, float]
    feature_sz: Tensor = None            # (2,) classification feature map (Hf, Wf)
    ksz_even: Tensor = None              # (2,) 1 where the filter side is even (score map one cell larger)
    output_sz: Tensor = None             # (2,) score map (Ho, Wo)
    sigma: Tensor = None                 # (2,) Gaussian label width in feature cells
    filter: Tensor = None                # current target filter (1, C, k, k)
    memory: SampleMemory = None
    transforms: list[Transform] = field(default_factory=list)   # initial augmentation (with dropout copies)
    frame_num: int = 1                   # 1 = the initial frame
    previous_candidates: CandidateSet | None = None
    collection: CandidateCollection | None = None
    target_scales: list[Tensor] = field(default_factory=list)   # search scale of every frame found
    target_not_found_counter: int = 0
    previous_result_candidates: tuple[Candidate, ...] = ()      # as reported, for the assignment's rows
    first_side: float = 1.0              # sqrt(w * h) of the first box (the reported flag's size test)
    flags: FlagState = field(default_factory=FlagState)   # the reported flag's memory (flags.py)


@dataclass
class _Localised:
    cell: Tensor                      # (2,) float score-map cell of the chosen position
    flag: str
    candidates: CandidateSet | None
    assignment: MatchResult | None
    previous: CandidateSet | None


class KeepTrackEngine(Engine):
    """Single-object KeepTrack tracker assembled from parts (see tracker/keeptrack/parts.py)."""

    def __init__(self, device: str = "cpu", params: TrackerParams | None = None, *, base: BaseNetwork,
                 refiner: BoxRefiner | None = None, matcher: CandidateMatcher | None = None,
                 name: str = "keeptrack", rng: RandomSource | None = None):
        super().__init__(device)
        self.params = params if params is not None else TrackerParams()
        self.base = base
        self.refiner = refiner if self.params.use_box_refinement else None
        self.matcher = matcher if self.params.use_candidate_matching else None
        self.name = name
        self.rng = rng if rng is not None else TorchRandom(self.params.seed)
        self._flag_rule = FlagRule.from_params(self.params)  # the params are fixed for the engine's life
        self.state: TrackState | None = None
        self.debug: dict = {}  # per-frame internals for tests and the fidelity check (not part of the API)

    @property
    def thread_ceiling(self) -> int | None:
        """Torch's and OpenCV's thread cap for this engine (tracker.threads.ThreadGovernor.fit), its feature
        stage's (keeptrack-lite on ONNX Runtime: 1; ONNX Runtime keeps the load's count); None: no cap."""
        return getattr(getattr(self.base, "features", None), "thread_ceiling", None)

    # ------------------------------------------------------------------ initialisation

    def initialize(self, frame: np.ndarray, box: Sequence[float], frame_index: int = 0) -> FrameResult:
        check_frame(frame)
        x, y, w, h = validate_init_box(box, frame.shape, what=f"initial box on frame {frame_index}")
        index = self._next_index(frame_index)
        timer = StageTimer(self.device)
        timer.start()
        with torch.no_grad():
            self._initialize(frame, (x, y, w, h), timer)
        return FrameResult(frame_index=index, box=(x, y, w, h), presence=1.0, flag=Flag.NORMAL,
                           search_area=self.state.init_search_area, timings=dict(timer.times))

    def _initialize(self, frame: np.ndarray, box, timer: StageTimer) -> None:
        p = self.params
        S = p.image_sample_size
        pos, target_sz = state_from_box(box)
        search_area = torch.prod(target_sz * p.search_area_scale).item()
        target_scale = math.sqrt(search_area) / torch.tensor([float(S), float(S)]).prod().sqrt()
        # A new track starts from nothing: no randomness, velocities or templates carried over from the last one.
        self.rng.restart()
        for part in (self.refiner, self.matcher):
            if part is not None:
                part.reset()

        # Enlarged patch around the rounded position, plain replicate padding (§8.6), then the 13 transforms.
        init_pos = pos.round()
        init_scale = target_scale
        expansion = S
        if p.use_augmentation and p.augmentation_expansion_factor != 1:
            expansion = int(S * p.augmentation_expansion_factor)
            expansion += (expansion - S) % 2
        image = image_to_tensor(frame, self.device)
        exp_size = torch.tensor([float(expansion), float(expansion)])
        big = sample_patch(image, init_pos, init_scale * exp_size, expansion, mode="replicate")
        self.state = st = TrackState(
            image_hw=(int(frame.shape[0]), int(frame.shape[1])),
            image_sz=torch.tensor([float(frame.shape[0]), float(frame.shape[1])]),
            pos=pos, target_sz=target_sz, target_scale=target_scale, base_target_sz=target_sz / target_scale,
            init_search_area=_scaled_search_area(big, S / expansion),
            first_side=math.sqrt(float(target_sz.prod())), flags=self._flag_rule.start())
        transforms = init_transforms(p, self.rng)
        patches = apply_transforms(big.patch, transforms, S)
        timer.stop("crop")
        features = self.base.extract(patches)
        timer.stop("backbone")

        # Classifier: 13 image samples + dropout copies of the identity sample's features.
        clf = features.classification
        if p.use_augmentation and p.num_dropout_samples > 0:
            n, ch = p.num_dropout_samples, int(clf.shape[1])
            keep = self.rng.dropout_keep(n, ch, p.dropout_probability).to(clf)
            drop = clf[0:1].expand(n, -1, -1, -1) * (keep / (1 - p.dropout_probability)).view(n, ch, 1, 1)
            clf = torch.cat([clf, drop])
            transforms = transforms + [Transform("Identity", (0, 0))] * n
        st.transforms = transforms
        st.feature_sz = torch.tensor([float(clf.shape[-2]), float(clf.shape[-1])])
        ksz = float(self.base.filter_size)
        st.ksz_even = torch.tensor([(ksz + 1) % 2, (ksz + 1) % 2])
        st.output_sz = st.feature_sz + st.ksz_even
        st.sigma = ((st.feature_sz / S * st.base_target_sz).prod().sqrt()
                    * p.output_sigma_factor * torch.ones(2))

        base_box = patch_box(st.pos, st.target_sz, init_pos, init_scale, S)
        shifts = torch.tensor([t.shift for t in transforms], dtype=torch.float32)  # (N, 2) (row, col)
        boxes = base_box.view(1, 4) + torch.cat([shifts.flip(1), torch.zeros_like(shifts)], 1)
        centre = label_centre(st.pos, init_pos, init_scale, st.feature_sz, S, st.ksz_even)
        labels = torch.cat([
            gaussian_label(st.feature_sz, st.sigma, centre + shift / S * st.feature_sz, st.ksz_even)
            for shift in shifts])
        boxes_dev, labels_dev = boxes.to(self.device), labels.to(self.device)
        st.filter = self.base.init_filter(clf, boxes_dev, labels_dev, p.net_opt_iter)
        st.memory = SampleMemory(clf, labels_dev, boxes_dev, p,
                                 self.base.filter_size if self.base.takes_memory_layout else None)
        timer.stop("classifier")

        if self.refiner is not None:
            self.refiner.set_context(self._context())
            self.refiner.initialize(features.select(0), boxes_dev[0])
            timer.stop("iounet")
        self.debug = {"init_sample_pos": init_pos, "init_boxes": boxes, "init_labels": labels,
                      "transforms": transforms}

    # ------------------------------------------------------------------ tracking

    def track(self, frame: np.ndarray, frame_index: int | None = None) -> FrameResult:
        index, timer = self._begin_track(frame, frame_index)
        with torch.no_grad():
            crop = self._search_crop(image_to_tensor(frame, self.device))
            timer.stop("crop")
            features = self.base.extract(crop.patch)
            timer.stop("backbone")
            return self._track(index, crop, features, timer)

    @staticmethod
    def track_many(engines, frame: np.ndarray, frame_index: int | None = None) -> list[FrameResult]:
        """The run loop's hook for several targets on one frame: `track_together`."""
        return track_together(engines, frame, frame_index)

    def _begin_track(self, frame: np.ndarray, frame_index: int | None) -> tuple[int, StageTimer]:
        st = self.state
        if st is None:
            raise InputError("track() called before initialize(): draw a box on a frame first")
        check_frame(frame)
        index = self._next_index(frame_index)
        if (int(frame.shape[0]), int(frame.shape[1])) != st.image_hw:
            raise InputError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]} but the track started on a "
                             f"{st.image_hw[1]}x{st.image_hw[0]} image")
        timer = StageTimer(self.device)
        timer.start()
        return index, timer

    def _search_crop(self, image: Tensor) -> Crop:
        p, st = self.params, self.state
        S = p.image_sample_size
        return sample_patch(image, st.pos, st.target_scale * torch.tensor([float(S), float(S)]), S,
                            mode=p.border_mode, max_scale_change=p.patch_max_scale_change)

    def _track(self, index: int, crop: Crop, features, timer: StageTimer) -> FrameResult:
        """One frame from the search patch's features on (crop and backbone done, by `track` or
        `track_together`)."""
        p, st = self.params, self.state
        S = p.image_sample_size
        st.frame_num += 1
        sample_pos, sample_scale = crop.sample_pos, crop.sample_scale(S)
        scores_raw = self.base.classify(st.filter, features.classification)
        scores = scores_raw[0, 0]
        scores_cpu = scores.detach().float().cpu()
        max_score = float(scores_cpu.max().item())
        timer.stop("classifier")

        context = self._context(scores_raw)
        for part in (self.refiner, self.matcher):
            if part is not None:
                part.set_context(context)
        selected_before = (st.collection, st.collection.selected_id if st.collection is not None else None)
        loc = self._localise(scores_cpu, features, crop, sample_pos, sample_scale, timer)
        flag = loc.flag
        translation = cell_translation(loc.cell, torch.tensor([float(scores.shape[0]), float(scores.shape[1])]),
                                       st.feature_sz, S, sample_scale)
        new_pos = sample_pos + translation

        boosted = st.collection is None or st.collection.selected_id == 0
        presence = _boost(max_score) if boosted else max_score

        refined = False
        if flag != "not_found":
            st.target_not_found_counter = 0
            st.target_scales.append(st.target_scale)
            inside = (p.target_inside_ratio - 0.5) * st.target_sz
            st.pos = torch.max(torch.min(new_pos, st.image_sz - inside), inside)
            if self.refiner is not None:
                refined = self._refine(features, sample_pos, sample_scale,
                                       update_scale=p.update_scale_when_uncertain or flag != "uncertain")
                timer.stop("iounet")
        else:
            self._rescale_search_area()

        update = None
        if flag in ("normal", "hard_negative") and p.update_classifier:
            update = self._update_memory(features, scores_cpu, sample_pos, sample_scale, flag, boosted, max_score)
            timer.stop("memory_update")

        self.debug = {"frame_num": st.frame_num, "flag": flag, "max_score": max_score, "scores": scores_cpu,
                      "crop": crop, "candidates": loc.candidates, "assignment": loc.assignment,
                      "refined": refined, "update": update,
                      "refine_start_boxes": getattr(self.refiner, "last_start_boxes", None) if refined else None}
        reported = self._reported_flag(flag, presence, selected_before, refined)
        self.debug["reported_flag"] = reported
        return self._frame_result(index, reported, presence, crop, sample_pos, sample_scale, scores_cpu, loc,
                                  dict(timer.times))

    def _reported_flag(self, flag: str, presence: float, selected_before, refined: bool) -> str:
        """The flag the frame result carries: the schedule's flag, or 'uncertain' where a 'normal' frame shows a
        sign of failure by the profile's rule (flags.FlagRule: an object-id change within one collection, low
        presence, a box side far off the first box's, a flagged track whose presence has not recovered)."""
        st = self.state
        collection, selected_id = selected_before
        id_change = (collection is not None and collection is st.collection and selected_id is not None
                     and st.collection.selected_id != selected_id)
        sims = getattr(self.refiner, "last_similarities", None) if refined else None
        similarity = float(sims.flatten()[sims.numel() // 2]) if sims is not None else math.nan
        side = math.sqrt(max(float(st.target_sz.prod()), 1e-12))
        evidence = FlagEvidence(presence=presence, schedule_bad=flag != "normal", id_change=id_change,
                                log_side=math.log(side / st.first_side), similarity=similarity)
        bad = self._flag_rule.flagged(st.flags, evidence)
        return flag if flag != "normal" or not bad else "uncertain"

    # ------------------------------------------------------------------ steps

    def _localise(self, scores: Tensor, features, crop: Crop, sample_pos, sample_scale, timer) -> _Localised:
        """Candidate extraction and association (§1.5, §1.6), or the fallback localisation (§1.7)."""
        st = self.state
        p = self.params
        S = p.image_sample_size

        def fallback() -> tuple[Tensor, str]:
            loc = localise_advanced(scores, p, st.target_sz, st.pos, sample_pos, sample_scale,
                                    st.feature_sz, S)
            return loc.cell_rc, loc.flag

        th = p.local_max_candidate_score_th
        if self.matcher is None or float(scores.max()) < th:
            cell, flag = fallback()
            timer.stop("candidates")
            return _Localised(cell, flag, None, None, None)

        cells, cand_scores = find_peaks(scores, th, p.local_max_kernel_size)
        if len(cand_scores) == 0:
            cell, flag = fallback()
            timer.stop("candidates")
            return _Localised(cell, flag, None, None, None)
        device_cells = cells.to(features.classification.device)
        descriptors = self.matcher.describe(features, device_cells)
        coords = association_coords(cells, int(scores.shape[0]), crop.search_area)
        current = CandidateSet(cells, cand_scores, coords, descriptors, st.frame_num)
        previous = st.previous_candidates
        timer.stop("candidates")

        assignment = None
        score_list = [float(v) for v in cand_scores]
        if previous is None or previous.frame_num != st.frame_num - 1:
            cell, flag = fallback()
            st.collection = None
            prev_for_result = None
        else:
            if (len(previous) == 1 and len(current) == 1 and float(previous.scores[0]) > p.skip_match_score_th
                    and float(current.scores[0]) > p.skip_match_score_th):
                matches, probs = [0], [1.0]
                self.matcher.matched(previous, current, torch.zeros(1, dtype=torch.long))
            else:
                dev = features.classification.device
                on_dev = lambda c: CandidateSet(c.cells_rc.to(dev), c.scores.to(dev), c.coords_yx.to(dev),
                                                c.descriptors, c.frame_num)
                assignment = self.matcher.match(on_dev(previous), on_dev(current), st.image_hw)
                matches = [int(v) for v in assignment.matches1.cpu()]
                probs = [float(v) for v in assignment.match_scores1.cpu()]
                timer.stop("association")
            st.collection.update(score_list, matches, probs)
            sel = st.collection.selected_index
            cell = cells[sel if sel is not None else 0].float()
            flag = st.collection.flag
            prev_for_result = previous

        if st.collection is None:
            st.collection = CandidateCollection(score_list, st.frame_num < p.certain_collection_frames, p)
        st.previous_candidates = current
        return _Localised(cell, flag, current, assignment, prev_for_result)

    def _context(self, scores: Tensor | None = None) -> FrameContext:
        st = self.state
        filt, base = st.filter, self.base
        return FrameContext(st.frame_num, st.image_hw, st.target_sz.clone(),
                            lambda feats: base.classify(filt, feats), scores)

    def _refine(self, features, sample_pos, sample_scale, update_scale: bool) -> bool:
        st = self.state
        p = self.params
        S = p.image_sample_size
        start = patch_box(st.pos, st.target_sz, sample_pos, sample_scale, S)
        box = self.refiner.refine(features, start.to(self.device), self.rng)
        if box is None:
            return False
        st.pos, st.target_sz = refined_state(box.detach().float().cpu(), sample_pos, sample_scale, S)
        if update_scale:
            st.target_scale = torch.sqrt(st.target_sz.prod() / st.base_target_sz.prod())
        return True

    def _rescale_search_area(self) -> None:
        """Target not found: widen the search from the history of crop scales (§1.9)."""
        st = self.state
        p = self.params
        st.target_not_found_counter += 1
        if not st.target_scales or not p.search_area_rescaling:
            return
        n = max(2, min(p.scale_history_max_average, st.target_not_found_counter))
        history = torch.stack([torch.as_tensor(s, dtype=torch.float32) for s in st.target_scales])
        history = history[-p.scale_history_length:]
        history = history[history >= history[-1]]
        st.target_scale = torch.mean(history[-n:])

    def _update_memory(self, features, scores: Tensor, sample_pos, sample_scale, flag: str, boosted: bool,
                       max_score: float) -> dict:
        st = self.state
        p = self.params
        S = p.image_sample_size
        hard = flag == "hard_negative"
        lr = p.hard_negative_learning_rate if hard else p.learning_rate
        centre = label_centre(st.pos, sample_pos, sample_scale, st.feature_sz, S, st.ksz_even)
        label = gaussian_label(st.feature_sz, st.sigma, centre, st.ksz_even).to(self.device)
        box = patch_box(st.pos, st.target_sz, sample_pos, sample_scale, S)
        certainty = _boost(max_score) if boosted else max_score
        slot = st.memory.insert(features.classification[0:1], label, box, certainty, lr)
        iters = gn_iterations(p, st.frame_num, hard, max_score)
        if iters > 0:
            feats, labels, boxes, weights = st.memory.training_set()
            extra = {"correlator": st.memory.correlator()} if self.base.takes_memory_layout else {}
            st.filter = self.base.optimise_filter(st.filter, feats, boxes, labels, weights, iters, **extra)
        return {"slot": slot, "lr": lr, "num_gn_iter": iters, "certainty": certainty}

    # ------------------------------------------------------------------ output

    def _frame_result(self, index, flag, presence, crop, sample_pos, sample_scale, scores, loc: _Localised,
                      timings) -> FrameResult:
        st = self.state
        S = self.params.image_sample_size
        origin, step = score_grid(sample_pos, sample_scale, st.feature_sz,
                                  torch.tensor([float(scores.shape[0]), float(scores.shape[1])]), S)
        score_map = ScoreMap(scores.numpy().astype(np.float32), origin[0], origin[1], step[0], step[1])

        def to_candidates(cs: CandidateSet | None, ids: list[int] | None) -> tuple[Candidate, ...]:
            if cs is None:
                return ()
            out = []
            for j in range(len(cs)):
                r, c = (float(v) for v in cs.cells_rc[j])
                x, y = score_map.cell_to_image(r, c)
                out.append(Candidate(x, y, float(cs.scores[j]), ids[j] if ids is not None else None))
            return tuple(out)

        candidates: tuple[Candidate, ...] = ()
        selected_id = None
        if loc.candidates is not None and st.collection is not None:
            candidates = to_candidates(loc.candidates, st.collection.object_ids)
            if st.collection.selected_index is not None:
                selected_id = st.collection.selected_id
        assignment = None
        if loc.assignment is not None:
            prev = st.previous_result_candidates
            probs = loc.assignment.log_assignment.exp().cpu().numpy().astype(np.float32)
            # Real columns (with the dustbin row) sum to 1, real rows (with the dustbin column) to about 1 (10
            # Sinkhorn iterations ending on columns); the dustbin-dustbin corner holds left-over transport mass
            # (up to max(M, N)), not a probability: reported as 0.
            probs[-1, -1] = 0.0
            assignment = Assignment(probs, prev,
                                    tuple(int(v) for v in loc.assignment.matches1.cpu()))
        st.previous_result_candidates = candidates
        # State box; when not found the state is unchanged, so the last box is re-emitted (§1.4.12).
        box = box_from_state(st.pos, st.target_sz)
        if self.params.clip_box_to_image:
            box, shown = clip_box(box, st.image_hw)
            if not shown and flag == "normal":
                flag = "uncertain"
        return FrameResult(frame_index=index, box=box, presence=float(presence), flag=Flag(flag),
                           search_area=crop.search_area, score_map=score_map, candidates=candidates,
                           selected_id=selected_id, assignment=assignment, timings=timings)


def track_together(engines, frame: np.ndarray, frame_index: int | None = None) -> list[FrameResult]:
    """Track one frame with several engines (one per target): the frame is converted once and the k search
    patches go through the backbone in one batched call; the rest (classifier, candidates, association,
    memory) runs per engine as in `track`. The engines must share a backbone (`can_batch`); each one's
    "backbone" timing is its share (1/k) of the batched call."""
    engines = list(engines)
    if len(engines) == 1 or not can_batch(engines):
        return [e.track(frame, frame_index) for e in engines]
    begun = [e._begin_track(frame, frame_index) for e in engines]
    first = engines[0]
    with torch.no_grad():
        image = image_to_tensor(frame, first.device)
        crops = [e._search_crop(image) for e in engines]
        for _, timer in begun:
            timer.stop("crop")
        batch = StageTimer(first.device)
        batch.start()
        features = first.base.extract(torch.cat([c.patch for c in crops]))
        batch.stop("backbone")
        share = batch.times["backbone"] / len(engines)
        out = []
        for k, (e, (index, timer)) in enumerate(zip(engines, begun)):
            timer.times["backbone"] = timer.times.get("backbone", 0.0) + share
            timer.start()  # the classifier stage starts now
            out.append(e._track(index, crops[k], features.select(k), timer))
    return out


def can_batch(engines) -> bool:
    """Whether the engines' search patches may go through one backbone call: same class, device and patch
    size, and bases that compute the same features (`BaseNetwork.same_features`)."""
    first = engines[0]
    return all(type(e) is type(first) and e.device == first.device
               and e.params.image_sample_size == first.params.image_sample_size
               and first.base.same_features(e.base) for e in engines)


def _boost(m: float) -> float:
    """max(m, sqrt(m)): the presence / certainty boost while the original target identity is selected."""
    return max(m, math.sqrt(m)) if m > 0 else m


def _scaled_search_area(big: Crop, factor: float) -> tuple[float, float, float, float]:
    """Search area of the central part (`factor` of the side) of the enlarged first crop."""
    x, y, w, h = big.search_area
    cx, cy = x + w / 2, y + h / 2
    return (cx - w * factor / 2, cy - h * factor / 2, w * factor, h * factor)


# ---------------------------------------------------------------------- factory

def create_keeptrack_engine(device: str = "cpu", profile: str = "keeptrack", base_weights=None,
                            association_weights=None, **overrides) -> KeepTrackEngine:
    """KeepTrack / KeepTrack-fast / SuperDiMP from the official checkpoint files.

    base_weights: super_dimp_simple.pth.tar (keeptrack profiles) or super_dimp.pth.tar (superdimp);
    association_weights: keep_track.pth.tar (keeptrack profiles only). Other keyword arguments override
    TrackerParams fields (InputError for unknown names).
    """
    from ..engine import resolve_device

    device = resolve_device(device)
    params = profile_params(profile, **overrides)
    if base_weights is None:
        raise InputError(f"engine {profile!r} needs the base network checkpoint "
                         f"({'super_dimp.pth.tar' if profile == 'superdimp' else 'super_dimp_simple.pth.tar'}); "
                         "pass base_weights=PATH")
    if params.use_candidate_matching and association_weights is None:
        raise InputError(f"engine {profile!r} needs the association network checkpoint keep_track.pth.tar; "
                         "pass association_weights=PATH")
    from .. import checkpoints  # written by the nets branch: safe loading, key checks

    variant = "super_dimp" if profile == "superdimp" else "super_dimp_simple"
    base_net = checkpoints.load_base_net(base_weights, variant=variant, device=device)
    assoc_net = None
    if params.use_candidate_matching:
        assoc_net = checkpoints.load_association_net(association_weights, device=device)
    return engine_from_networks(device, params, base_net, assoc_net, name=profile)


def engine_from_networks(device: str, params: TrackerParams, base_net, assoc_net=None, name: str = "keeptrack",
                         rng: RandomSource | None = None) -> KeepTrackEngine:
    """An engine from already-built networks (a DiMPNet and a TargetCandidateMatchingNet, weights loaded)."""
    from .dimp_parts import AssociationMatcher, DiMPBase
    from .refine import IoUNetRefiner

    base_net = base_net.to(device).eval()
    matcher = None
    if assoc_net is not None:
        matcher = AssociationMatcher(assoc_net.to(device).eval())
    refiner = IoUNetRefiner(base_net.bb_regressor, params)
    base = DiMPBase(base_net, channels_last=params.channels_last, fold_batchnorm=params.fold_batchnorm,
                    bf16=params.bf16, compile=params.compile)
    return KeepTrackEngine(device, params, base=base, refiner=refiner, matcher=matcher, name=name, rng=rng)
