"""Association accuracy of the trained association model against keeptrack-lite's hand-made matcher.

    .venv/bin/python bench/association.py --work DUMPS [--model resources/association_lite.pt]
        [--val-sequences Crossing,Coke] [--auc] [--auc-sequences all|val] [--max-frames N]

Part 1 (held-out frame pairs from the candidate dumps of the validation sequences, see
`python main.py train-association --stage dump`):
  - real pairs: consecutive frames where the target is among the candidates in both (H, G, K);
    target recall = the target is matched to itself; target precision = of the frames where the
    target got a match, how often it is the right one; wrong = matched to a distractor;
  - self-supervised pairs (a frame and its augmented view, candidates dropped at random): every
    candidate labelled; distractor recall/precision over the non-target candidates, and how often a
    dropped candidate's partner correctly stays unmatched.
Part 2 (--auc): one-pass AUC / precision of keeptrack-lite with each matcher via
tracker.evaluation.runner (the same code as `main.py eval`).
Both matchers are run through the engine's candidate-matcher interface (describe + match).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.keeptrack.parts import CandidateSet, FrameContext, PatchFeatures  # noqa: E402
from tracker.paths import RESOURCES, shared_dir  # noqa: E402
from tracker.training.dump import load_dumps  # noqa: E402
from tracker.training.samples import DUSTBIN, SampleParams, real_pair, self_supervised  # noqa: E402


def run_matcher(matcher, dumps: dict, sample) -> np.ndarray:
    """matches1 of `matcher` on a sample, through describe() + match() as the engine calls them."""
    sets = []
    # The hand-made matcher measures motion in target sizes, which the engine hands over in its frame context.
    name, f, _ = sample.sources[0]
    x, y, w, h = dumps[name].box[f]
    matcher.reset()
    matcher.set_context(FrameContext(1, tuple(sample.image_size), torch.tensor([float(h), float(w)]), lambda _: None))
    for k, (name, f, view) in enumerate(sample.sources):
        d = dumps[name]
        feats = (d.aug_features if view else d.features)[f].astype(np.float32)
        cells = torch.as_tensor(sample.cells0 if k == 0 else sample.cells1)
        coords = torch.as_tensor(sample.coords0 if k == 0 else sample.coords1)
        scores = torch.as_tensor(sample.scores0 if k == 0 else sample.scores1)
        desc = matcher.describe(PatchFeatures(torch.as_tensor(feats)[None]), cells)
        sets.append(CandidateSet(cells, scores, coords, desc, k + 1))
    with torch.no_grad():
        result = matcher.match(sets[0], sets[1], sample.image_size)
    return result.matches1.cpu().numpy()


def real_pairs(dumps) -> list:
    out = []
    for d in dumps:
        cats = d.category.tolist()
        for p in range(len(d) - 1):
            if d.frame_index[p + 1] == d.frame_index[p] + 1 and cats[p] in "HGK" and cats[p + 1] in "HGK":
                out.append(real_pair(d, p))
    return out


def self_sup_pairs(dumps, per_frame: int = 2, seed: int = 7) -> list:
    rng = np.random.default_rng(seed)
    params = SampleParams()
    out = []
    for d in dumps:
        for f in range(len(d)):
            if d.has_aug[f]:
                out += [self_supervised(d, f, params, rng) for _ in range(per_frame)]
    return out


def figures(matcher, dumps_by_name, pairs, selfsup) -> dict:
    hits = matched = wrong = 0
    for s in pairs:
        m = run_matcher(matcher, dumps_by_name, s)
        t0, t1 = s.targets
        hits += int(m[t1] == t0)
        matched += int(m[t1] >= 0)
        wrong += int(m[t1] >= 0 and m[t1] != t0)
    d_hits = d_total = d_pred = d_pred_ok = bin_ok = bin_total = 0
    for s in selfsup:
        m = run_matcher(matcher, dumps_by_name, s)
        gt = s.gt_matches1
        # distractors: every candidate but the target (all of them in J and D frames)
        for j in (j for j in range(len(gt)) if j != s.targets[1]):
            if gt[j] >= 0:
                d_total += 1
                d_hits += int(m[j] == gt[j])
            if m[j] >= 0 and gt[j] >= DUSTBIN:
                d_pred += 1
                d_pred_ok += int(m[j] == gt[j])
        for j in np.flatnonzero(gt == DUSTBIN):
            bin_total += 1
            bin_ok += int(m[j] < 0)
    n = len(pairs)
    return {"pairs": n, "target_recall": hits / n if n else np.nan, "target_precision": hits / matched if matched
            else np.nan, "target_wrong": wrong / n if n else np.nan, "selfsup": len(selfsup),
            "distractor_recall": d_hits / d_total if d_total else np.nan,
            "distractor_precision": d_pred_ok / d_pred if d_pred else np.nan,
            "dropped_unmatched": bin_ok / bin_total if bin_total else np.nan}


def matchers(model_path: Path) -> dict:
    from tracker.training.model import TrainedAssociationMatcher

    out = {}
    try:
        from tracker.keeptrack.lite_matcher import LiteMatcher
        out["hand-made"] = LiteMatcher()
    except ImportError as exc:
        print(f"(hand-made matcher not available: {exc})")
    out["trained"] = TrainedAssociationMatcher.from_file(model_path)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="folder of candidate dumps")
    ap.add_argument("--model", default=str(RESOURCES / "association_lite.pt"))
    ap.add_argument("--val-sequences", default="Crossing,Coke")
    ap.add_argument("--auc", action="store_true", help="also run one-pass AUC of keeptrack-lite with each matcher")
    ap.add_argument("--auc-sequences", choices=("all", "val"), default="all")
    ap.add_argument("--max-frames", type=int, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    val = {s for s in args.val_sequences.split(",") if s}
    dumps = [d for d in load_dumps(args.work) if d.name in val]
    by_name = {d.name: d for d in dumps}
    pairs, selfsup = real_pairs(dumps), self_sup_pairs(dumps)
    ms = matchers(Path(args.model))
    print(f"held-out sequences: {', '.join(sorted(by_name))}; {len(pairs)} real pairs, {len(selfsup)} "
          "self-supervised pairs")
    keys = ("target_recall", "target_precision", "target_wrong", "distractor_recall", "distractor_precision",
            "dropped_unmatched")
    print(f"{'matcher':10s} " + " ".join(f"{k:>20s}" for k in keys))
    for name, m in ms.items():
        fig = figures(m, by_name, pairs, selfsup)
        print(f"{name:10s} " + " ".join(f"{fig[k]:20.3f}" for k in keys))

    if args.auc:
        from tracker.evaluation.runner import evaluate_engines, format_table
        from tracker.keeptrack.lite import create_lite_engine

        otb = shared_dir() / "data" / "otb"
        seqs = sorted(p for p in otb.iterdir() if p.is_dir() and (args.auc_sequences == "all" or p.name in val))
        def factory(kind):
            engine = create_lite_engine()
            if kind == "trained":  # the engine's matcher part swapped for the trained model
                engine.matcher = TrainedAssociationMatcher.from_file(args.model)
            return engine

        from tracker.training.model import TrainedAssociationMatcher

        factories = {f"lite+{name}": (lambda k=name: factory(k)) for name in ms}
        evs = evaluate_engines(factories, seqs, max_frames=args.max_frames)
        print(format_table(evs, ("auc", "precision", "norm_precision", "not_found")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
