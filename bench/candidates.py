"""Look-alikes keeptrack-lite sees around vtest pedestrians: what an annotator can promote to a target.

    .venv/bin/python bench/candidates.py [--frames 100] [--boxes "x,y,w,h;..."]

On ../shared/data/videos/vtest.avi at its own size (768x576, as the studio opens it), each of the three
pedestrians walking on frame 0 (`TARGETS`, boxed by eye; --boxes gives others) is tracked alone from frame 0 to
--frames - 1 with the studio's default engine. Printed per target: how many frames have k candidates
(k = 0, 1, 2, ...), how many have at least one candidate besides the one chosen as the target (a look-alike
the studio draws as a circle, which a right-click makes a target), its score range, and the frames where such a
candidate stands outside every given target's box (a pedestrian nobody has boxed yet). Candidates are the
score map's local maxima above the profile's `local_max_candidate_score_th` (0.1 for keeptrack-lite).
About 2 minutes for the three default targets over 100 frames on the 2 loaded cores it was measured on.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from tracker.paths import shared_dir  # noqa: E402

# Frame 0 of vtest.avi (768x576): the pedestrian on the grass at the left, the one in the middle at the
# back, the one walking left on the right.
TARGETS = ((254.0, 220.0, 30.0, 88.0), (500.0, 157.0, 30.0, 78.0), (640.0, 240.0, 45.0, 80.0))


def inside(box, x: float, y: float) -> bool:
    return box is not None and box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--boxes", help='"x,y,w,h;..." on frame 0 instead of TARGETS')
    args = parser.parse_args(argv)
    root = shared_dir()
    if root is None:
        print("needs ../shared (data/videos/vtest.avi)", file=sys.stderr)
        return 2
    from tracker.keeptrack.profiles import create_profile_engine, profile_params
    from tracker.sources import open_source

    boxes = [tuple(float(v) for v in b.split(",")) for b in args.boxes.split(";")] if args.boxes else list(TARGETS)
    with open_source(root / "data" / "videos" / "vtest.avi") as source:
        frames = [source.frame(i) for i in range(min(args.frames, len(source)))]
    th = profile_params("keeptrack-lite").local_max_candidate_score_th
    print(f"# keeptrack-lite on vtest.avi 768x576, frames 0..{len(frames) - 1}, candidate threshold {th}")
    tracks = []
    for box in boxes:
        engine = create_profile_engine(profile="keeptrack-lite")
        engine.initialize(frames[0], box, 0)
        tracks.append([engine.track(frames[i], i) for i in range(1, len(frames))])
    for k, (box, results) in enumerate(zip(boxes, tracks)):
        counts = np.bincount([len(r.candidates) for r in results])
        others = [(r.frame_index, c) for r in results for c in r.candidates if c.object_id != r.selected_id]
        free = sorted({i for i, c in others
                       if not any(inside(t[i - 1].box, c.x, c.y) for t in tracks)})
        scores = [c.score for _, c in others]
        print(f"target {k + 1} {','.join(f'{v:g}' for v in box)}: frames with 0, 1, 2.. candidates "
              f"{counts.tolist()}; with a look-alike {len({i for i, _ in others})} of {len(results)}"
              + (f" (scores {min(scores):.2f}..{max(scores):.2f})" if scores else ""))
        print(f"  look-alike outside every target's box on frames {free}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
