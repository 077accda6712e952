"""Write the bundled sample sequence `resources/sample/` (OTB layout: img/0001.jpg..., groundtruth_rect.txt).

A textured target tile drifts across a mildly textured background while three look-alike tiles (the same
texture, slightly re-tinted: distractors) cross its path; one passes in front of it (a short partial
occlusion). The ground truth comes from the synthesis itself, so the first row is the initial box.
Deterministic: a fixed seed and no randomness at run time. Run: `python resources/make_sample.py`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROWS, COLS = 270, 480
NUM_FRAMES = 120
TILE = 40  # side of the target and distractor tiles, pixels
SEED = 7


def _smooth_noise(rng: np.random.Generator, rows: int, cols: int, cell: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: random values on a coarse grid, upsampled with bicubic interpolation."""
    coarse = rng.random((rows // cell + 2, cols // cell + 2)).astype(np.float32)
    big = cv2.resize(coarse, ((cols // cell + 2) * cell, (rows // cell + 2) * cell), interpolation=cv2.INTER_CUBIC)
    return np.clip(big[:rows, :cols], 0, 1)


def _tile_texture(rng: np.random.Generator) -> np.ndarray:
    """A colourful tile with stripes and blobs, RGB float in [0, 255]."""
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float32)
    stripes = 0.5 + 0.5 * np.sin((xx + yy) * 0.55)
    blobs = _smooth_noise(rng, TILE, TILE, 8)
    tile = np.empty((TILE, TILE, 3), np.float32)
    tile[..., 0] = 200 * stripes + 55 * blobs
    tile[..., 1] = 80 + 120 * blobs
    tile[..., 2] = 60 + 140 * (1 - stripes)
    return tile


def _path(t: np.ndarray, start: tuple[float, float], end: tuple[float, float], wobble: float, phase: float):
    """Top-left corners along a straight line from start to end with a sinusoidal wobble across it."""
    x = start[0] + (end[0] - start[0]) * t
    y = start[1] + (end[1] - start[1]) * t + wobble * np.sin(2 * np.pi * (1.5 * t + phase))
    return x, y


def render(out_dir: Path) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    background = np.empty((ROWS, COLS, 3), np.float32)
    base = _smooth_noise(rng, ROWS, COLS, 60)
    fine = _smooth_noise(rng, ROWS, COLS, 6)
    for c, (lo, hi) in enumerate(((70, 120), (95, 135), (80, 110))):
        background[..., c] = lo + (hi - lo) * base + 18 * (fine - 0.5)
    texture = _tile_texture(rng)
    # Distractors: the same texture, mirrored and slightly re-tinted, so appearance alone cannot tell them apart.
    tints = (np.array([1.0, 0.95, 1.05]), np.array([0.95, 1.05, 1.0]), np.array([1.05, 1.0, 0.9]))
    distractor_textures = [np.clip(texture[:, ::-1] * tint, 0, 255) for tint in tints]

    t = np.linspace(0.0, 1.0, NUM_FRAMES)
    target = _path(t, (30, 120), (410, 110), 45, 0.0)
    distractors = [  # (path, drawn in front of the target?)
        (_path(t, (420, 20), (40, 210), 10, 0.3), False),
        (_path(t, (260, 230), (200, 0), 20, 0.6), True),
        (_path(t, (470, 150), (-20, 130), 25, 0.1), False),
    ]
    img_dir = out_dir / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    boxes = np.zeros((NUM_FRAMES, 4))
    for i in range(NUM_FRAMES):
        frame = background.copy()
        layers = [(d_tex, p, front) for d_tex, (p, front) in zip(distractor_textures, distractors)]
        behind = [(tex, p) for tex, p, front in layers if not front]
        front = [(tex, p) for tex, p, front in layers if front]
        for tex, (px, py) in behind + [(texture, target)] + front:
            _paste(frame, tex, px[i], py[i])
        boxes[i] = (round(target[0][i]), round(target[1][i]), TILE, TILE)
        rgb = np.clip(frame, 0, 255).astype(np.uint8)
        cv2.imwrite(str(img_dir / f"{i + 1:04d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 85])
    with open(out_dir / "groundtruth_rect.txt", "w") as f:
        for b in boxes:
            f.write(",".join(str(int(v)) for v in b) + "\n")
    return boxes


def _paste(frame: np.ndarray, tile: np.ndarray, x: float, y: float) -> None:
    """Paste `tile` with its top-left corner at integer (round(x), round(y)), clipped to the frame."""
    x0, y0 = int(round(x)), int(round(y))
    r0, r1 = max(y0, 0), min(y0 + TILE, ROWS)
    c0, c1 = max(x0, 0), min(x0 + TILE, COLS)
    if r0 >= r1 or c0 >= c1:
        return
    frame[r0:r1, c0:c1] = tile[r0 - y0:r1 - y0, c0 - x0:c1 - x0]


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "sample"
    render(out)
    print(f"wrote {NUM_FRAMES} frames of {COLS}x{ROWS} to {out}")
