"""`python main.py train-association`: dump candidates with a base engine, then train the association network.

The default reproduces the shipped model resources/association_lite.pt from ../shared/data:
    python main.py train-association --work /tmp/assoc-dumps --out resources/association_lite.pt
Stages: `--stage dump` (only write the candidate dumps), `--stage train` (train from existing dumps),
`--stage all` (default: dump what is missing, then train).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from ..errors import InputError

# Unannotated video for self-supervision, with the people tracked from its first frame ([x, y, w, h]).
DEFAULT_VIDEO_TRACKS = (("videos/vtest.avi", (250.0, 218.0, 34.0, 90.0)),
                        ("videos/vtest.avi", (640.0, 240.0, 45.0, 82.0)))
DEFAULT_VAL = ("Crossing", "Coke")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stage", choices=("all", "dump", "train"), default="all")
    p.add_argument("--engine", default="keeptrack-lite", help="base engine whose candidates and features are used")
    p.add_argument("--feature-key", default="classification",
                   help="engine features the descriptor conv reads: 'classification' or a PatchFeatures.maps name")
    p.add_argument("--work", required=True, help="folder for the candidate dumps (*.npz, summary.json)")
    p.add_argument("--out", help="where to write the trained model (.pt); needed for --stage all/train")
    p.add_argument("--sequences", nargs="*", help="annotated sequence folders (default: all of ../shared/data/otb)")
    p.add_argument("--video", action="append", default=None, metavar="PATH@X,Y,W,H",
                   help="an unannotated video and the box to start on (repeatable; default: vtest.avi, 2 people)")
    p.add_argument("--val-sequences", default=",".join(DEFAULT_VAL),
                   help="comma-separated names of sequences held out for validation (not trained on)")
    p.add_argument("--max-frames", type=int, default=None, help="frames per sequence/video to dump (default all)")
    p.add_argument("--redump", action="store_true", help="dump again even where a dump exists")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--iterations", type=int, default=100, help="batches per epoch")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-step", type=int, default=6, help="epochs between learning-rate drops (x0.2)")
    p.add_argument("--val-samples", type=int, default=256, help="fixed validation samples scored after each epoch")
    p.add_argument("--descriptor-dim", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (the networks are small: 1 is fastest, above all on a busy machine)")


def _video_tracks(args, shared: Path | None) -> list[tuple[Path, tuple[float, ...]]]:
    if args.video is None:
        if shared is None:
            return []
        return [(shared / "data" / rel, box) for rel, box in DEFAULT_VIDEO_TRACKS]
    out = []
    for spec in args.video:
        path, sep, box = spec.rpartition("@")
        try:
            values = tuple(float(v) for v in box.split(","))
        except ValueError:
            values = ()
        if not sep or len(values) != 4:
            raise InputError(f"--video {spec!r}: write PATH@X,Y,W,H (the box to start tracking on frame 0)")
        out.append((Path(path), values))
    return out


def _sequences(args, shared: Path | None) -> list[Path]:
    if args.sequences:
        return [Path(s) for s in args.sequences]
    if shared is None:
        raise InputError("no --sequences given and ../shared/data is not there to take the OTB sequences from")
    return sorted(p for p in (shared / "data" / "otb").iterdir() if p.is_dir())


def _dump(args, work: Path) -> None:
    import numpy as np

    from ..paths import shared_dir
    from ..registry import create_engine
    from ..sources import open_source
    from ..training.dump import DumpParams, EngineFeatureHook, dump_sequence, format_summary, load_dumps, summarize, \
        write_summary

    shared = shared_dir()
    work.mkdir(parents=True, exist_ok=True)
    params = DumpParams(max_frames=args.max_frames, seed=args.seed)
    jobs = [(p, p.name, None) for p in _sequences(args, shared)]
    for k, (path, box) in enumerate(_video_tracks(args, shared)):
        jobs.append((path, f"{path.stem}-{k}", box))
    from ..progress import progress_bar

    bar = progress_bar(len(jobs), "dump", unit="sequence")
    for path, name, box in jobs:
        bar.update(1)
        target = work / f"{name}.npz"
        if target.exists() and not args.redump:
            print(f"{name}: dump exists, kept ({target})")
            continue
        t0 = time.perf_counter()
        with open_source(path) as source:
            gt = None
            if box is None:
                if source.ground_truth is None:
                    raise InputError(f"{path}: no ground truth; give unannotated videos with --video PATH@X,Y,W,H")
                gt = np.asarray(source.ground_truth.boxes, np.float64)
                box = tuple(gt[0])
            engine = create_engine(args.engine, device=args.device)
            if not hasattr(engine, "base"):
                raise InputError(f"engine {args.engine!r} has no base network to take features from; "
                                 "use a KeepTrack-family engine (keeptrack-lite, keeptrack, ...)")
            hook = EngineFeatureHook(engine, args.feature_key)
            dump = dump_sequence(engine, hook, source, name, box, gt, replace(params, seed=args.seed + len(name)))
        dump.save(target)
        c = dump.counts
        print(f"{name}: {c.get('frames', 0)} frames tracked, {len(dump)} kept (D {c.get('D', 0)}: H {c.get('H', 0)} "
              f"G {c.get('G', 0)} J {c.get('J', 0)} K {c.get('K', 0)}; pairs HH {c.get('HH', 0)} HK {c.get('HK', 0)} "
              f"HG {c.get('HG', 0)}) in {time.perf_counter() - t0:.0f} s")
    bar.close()
    dumps = load_dumps(work)
    write_summary(work, dumps, params, args.engine)
    print(format_summary(summarize(dumps)))


def _train(args, work: Path) -> None:
    from ..training.dump import load_dumps
    from ..training.model import AssociationConfig, AssociationModel, save_model
    from ..training.samples import CandidateSampler, SampleParams
    from ..training.train import TrainParams, train, training_meta, validation_set

    import torch

    if not args.out:
        raise InputError("--out FILE.pt is needed to train")
    dumps = load_dumps(work)
    val_names = {s for s in args.val_sequences.split(",") if s}
    train_dumps = [d for d in dumps if d.name not in val_names]
    val_dumps = [d for d in dumps if d.name in val_names]
    if not train_dumps:
        raise InputError(f"all dumps in {work} are held out for validation ({', '.join(sorted(val_names))})")
    in_dim = int(train_dumps[0].features.shape[1])
    config = AssociationConfig(in_dim=in_dim, descriptor_dim=args.descriptor_dim, feature_key=args.feature_key,
                               backbone=args.engine)
    sample_params = SampleParams()
    params = TrainParams(epochs=args.epochs, iterations_per_epoch=args.iterations, batch_size=args.batch,
                         learning_rate=args.lr, lr_step_epochs=args.lr_step, seed=args.seed,
                         val_samples=args.val_samples, device=args.device,
                         threads=args.threads)
    sampler = CandidateSampler(train_dumps, sample_params)
    val = validation_set(CandidateSampler(val_dumps, sample_params), params.val_samples) if val_dumps else []
    print(f"training on {', '.join(d.name for d in train_dumps)}; validating on "
          f"{', '.join(d.name for d in val_dumps) or 'nothing'}")
    torch.manual_seed(args.seed)
    model = AssociationModel(config)
    t0 = time.perf_counter()
    from ..progress import progress_bar

    with progress_bar(params.epochs * params.iterations_per_epoch, "train", unit="batch") as bar:
        history = train(model, sampler, val, params, log=bar.write, on_batch=lambda: bar.update(1))
    meta = training_meta(params, sample_params, history, engine=args.engine,
                         train_sequences=[d.name for d in train_dumps], val_sequences=[d.name for d in val_dumps],
                         seconds=time.perf_counter() - t0,
                         command="python main.py train-association " + " ".join(_argv_of(args)))
    save_model(args.out, model.cpu(), meta)
    print(f"saved {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB) after {meta['seconds']:.0f} s")


def _argv_of(args) -> list[str]:
    out = []
    for key, value in sorted(vars(args).items()):
        if key in ("command",) or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif isinstance(value, list):
            out += [flag + " " + " ".join(str(v) for v in value)] if key != "video" else \
                [f"--video {v}" for v in value]
        else:
            out.append(f"{flag} {json.dumps(value) if isinstance(value, str) and ' ' in value else value}")
    return out


def run(args) -> int:
    from ..training.train import torch_threads

    work = Path(args.work)
    with torch_threads(max(args.threads, 0)):
        if args.stage in ("all", "dump"):
            _dump(args, work)
        if args.stage in ("all", "train"):
            _train(args, work)
    return 0
