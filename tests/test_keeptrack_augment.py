"""The first-frame transforms compute blurred / rotated samples on the output window only; they must equal
transforming the whole enlarged patch and then cutting the window (tracker/keeptrack/augment.py)."""
from __future__ import annotations

import torch

from tracker.keeptrack import augment as aug


def _full_then_crop(big, transforms, size):
    out = []
    for t in transforms:
        img = big
        if t.name == "FlipHorizontal":
            img = img.flip((3,))
        elif t.name == "Blur":
            img = aug._blur(img, t.sigma)
        elif t.name == "Rotate":
            img = aug._rotate(img, t.degrees)
        out.append(aug._crop_to_output(img, t.shift, size))
    return torch.cat(out)


def test_windowed_transforms_equal_full_patch_transforms():
    gen = torch.Generator().manual_seed(3)
    big = torch.rand((1, 3, 96, 96), generator=gen) * 255
    transforms = [aug.Transform("Identity", (0, 0)), aug.Transform("Translation", (14, -14)),
                  aug.Transform("FlipHorizontal", (-7, 5)),
                  aug.Transform("Blur", (3, -4), sigma=(3.0, 1.0)), aug.Transform("Blur", (0, 0), sigma=(2.0, 2.0)),
                  aug.Transform("Blur", (22, -23), sigma=(1.0, 3.0)),     # margins leave the patch: full-patch path
                  aug.Transform("Rotate", (5, 2), degrees=10.0), aug.Transform("Rotate", (-30, 31), degrees=-45.0)]
    got = aug.apply_transforms(big, transforms, 48)
    assert got.shape == (len(transforms), 3, 48, 48)
    assert torch.equal(got, _full_then_crop(big, transforms, 48))


def test_rotation_is_counter_clockwise_about_the_centre():
    img = torch.zeros((1, 1, 9, 9))
    img[0, 0, 4, 8] = 1.0                                   # right of the centre
    out = aug._rotate(img, 90.0)
    assert out[0, 0, 0, 4] == 1.0 and out.sum() == 1.0     # counter-clockwise as displayed: now above the centre
