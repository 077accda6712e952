import numpy as np
import pytest

from tracker.boxes import validate_init_box
from tracker.errors import InputError
from tracker.registry import available_engines, create_engine, engine_info
from tracker.result import ScoreMap


def test_unknown_engine_names_the_known_ones():
    with pytest.raises(InputError, match="keeptrack-lite"):
        engine_info("no-such-engine")


def test_registry_lists_the_default_and_baselines():
    names = {e.name for e in available_engines()}
    assert {"keeptrack-lite", "keeptrack", "keeptrack-fast", "superdimp", "csrt", "kcf", "mil", "nanotrack"} <= names


@pytest.mark.parametrize("box, message", [
    ((0, 0, 0, 5), "empty"),
    ((10, 10, 5, -1), "empty"),
    ((200, 10, 5, 5), "outside"),
    ((-20, 10, 5, 5), "outside"),
    ((1, 2, 3), "four numbers"),
    ((1, 2, float("nan"), 3), "non-finite"),
])
def test_bad_initial_boxes_are_refused_with_a_reason(box, message):
    with pytest.raises(InputError, match=message):
        validate_init_box(box, (100, 150, 3))


def test_box_partly_inside_is_accepted():
    assert validate_init_box((-2, -2, 10, 10), (100, 150, 3)) == (-2.0, -2.0, 10.0, 10.0)


def test_score_map_cell_to_image_mapping():
    sm = ScoreMap(np.zeros((31, 31), np.float32), origin_x=100.0, origin_y=50.0, step_x=16.0, step_y=8.0)
    assert sm.cell_to_image(15, 15) == (100 + 15 * 16, 50 + 15 * 8)
    x, y, w, h = sm.image_rect()
    assert (x, y, w, h) == (92.0, 46.0, 31 * 16, 31 * 8)


def test_cuda_device_refused_clearly_without_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(InputError, match="no CUDA"):
        create_engine("csrt", device="cuda")
