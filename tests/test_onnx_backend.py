"""keeptrack-lite's feature stage on ONNX Runtime: same features as torch on the real weights, a cache that is
reused and that refuses bad files, and a clear fallback to torch (tracker/nets/onnx_backend.py)."""
from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
import torch

from tracker.errors import InputError
from tracker.keeptrack.lite_features import LiteFeatures
from tracker.nets import onnx_backend
from tracker.nets.onnx_backend import BackendError, OnnxNetwork, requested_backend
from tracker.registry import create_engine

SIZE = 256  # keeptrack-lite's patch side


def _patches(batch: int, seed: int = 3) -> torch.Tensor:
    """Image-like patches: smooth colour blobs with some texture, 0..255."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand((batch, 3, 8, 8), generator=g) * 255
    fine = torch.rand((batch, 3, SIZE, SIZE), generator=g) * 40
    return (torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="bilinear") + fine).clamp(0, 255)


@pytest.fixture(scope="module")
def torch_features():
    return LiteFeatures(backend="torch")


@pytest.fixture(scope="module")
def onnx_features():
    return LiteFeatures(backend="onnx", patch_size=SIZE)


def test_onnx_features_equal_torch_on_the_real_weights(torch_features, onnx_features):
    assert onnx_features.backend == "onnx" and torch_features.backend == "torch"
    for batch in (1, 13):  # a tracking frame, and the initialisation's augmented samples
        x = _patches(batch)
        clf_t, raw_t = torch_features.extract(x)
        clf_o, raw_o = onnx_features.extract(x)
        assert clf_o.shape == clf_t.shape == (batch, 152, SIZE // 16, SIZE // 16)
        scale = float(clf_t.abs().max())
        assert float((clf_o - clf_t).abs().max()) <= 1e-4 * scale
        for name in ("s8", "s16"):
            assert float((raw_o[name] - raw_t[name]).abs().max()) <= 1e-4 * float(raw_t[name].abs().max())
        assert not torch.equal(clf_o, clf_t)  # really another runtime, not torch's numbers passed through


def test_the_ort_session_follows_torchs_thread_count(onnx_features):
    network = onnx_features._onnx[SIZE]
    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)  # what tracker.threads.ThreadGovernor does
            onnx_features.extract(_patches(1))
            session = network.session(n)
            assert session.get_session_options().intra_op_num_threads == n
        assert {1, 2} <= set(network._sessions)
    finally:
        torch.set_num_threads(before)


def test_cached_model_is_reused_without_exporting(onnx_features, monkeypatch):
    first = onnx_features._onnx[SIZE]
    assert first.path is not None and first.path.is_file()

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the cache holds the model")

    monkeypatch.setattr(onnx_backend, "export_model", no_export)
    again = LiteFeatures(backend="onnx", patch_size=SIZE)
    network = again._onnx[SIZE]
    assert not network.exported and network.path == first.path
    x = _patches(2, seed=5)
    assert torch.equal(again.extract(x)[0], onnx_features.extract(x)[0])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped byte", "other key", "too big"])
def test_a_bad_cache_file_is_refused_and_exported_again(onnx_features, damage, monkeypatch, caplog):
    path = onnx_features._onnx[SIZE].path
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00not a model" * 100)
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "flipped byte":
        path.write_bytes(good[:-100] + bytes([good[-100] ^ 0xFF]) + good[-99:])
    elif damage == "other key":
        path.write_bytes(good.replace(path.name.split("-")[-1].split(".")[0].encode(), b"0" * 32, 1))
    else:
        monkeypatch.setattr(onnx_backend, "MAX_CACHE_BYTES", len(good) - 1)
    exports = []
    model = onnx_features._onnx[SIZE].model  # exporting again gives these bytes; skip the 15 s it takes
    monkeypatch.setattr(onnx_backend, "export_model", lambda *a: exports.append(1) or model)
    with caplog.at_level(logging.WARNING, logger="tracker.nets.onnx_backend"):
        features = LiteFeatures(backend="onnx", patch_size=SIZE)
    assert features.backend == "onnx" and exports == [1]
    assert any("refused" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(onnx_backend, "MAX_CACHE_BYTES", 512 * 1024 * 1024)
    assert path.read_bytes()[:8] == onnx_backend.MAGIC
    assert onnx_backend._unpack(path, path.name.split("-")[-1].split(".")[0])  # a good file again
    x = _patches(1)
    assert torch.allclose(features.extract(x)[0], onnx_features.extract(x)[0], atol=1e-6)


def test_without_onnxruntime_auto_falls_back_to_torch_with_one_log_line(torch_features, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    with caplog.at_level(logging.WARNING):
        features = LiteFeatures(backend="auto", patch_size=SIZE)
        x = _patches(2)
        clf = features.extract(x)[0]
        features.extract(x)
    assert features.backend == "torch"
    lines = [r.getMessage() for r in caplog.records if "ONNX Runtime" in r.getMessage()]
    assert len(lines) == 1 and "runs on torch" in lines[0] and "not installed" in lines[0]
    assert torch.equal(clf, torch_features.extract(x)[0])
    with pytest.raises(BackendError, match="not installed"):
        LiteFeatures(backend="onnx", patch_size=SIZE)


def test_outputs_beyond_the_tolerance_are_not_used(onnx_features, monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("KEEPTRACK_CACHE", str(tmp_path))
    model = onnx_features._onnx[SIZE].model
    monkeypatch.setattr(onnx_backend, "export_model", lambda *a: model)
    monkeypatch.setattr(onnx_backend, "TOLERANCE", 0.0)  # any difference at all fails the check
    with caplog.at_level(logging.WARNING):
        features = LiteFeatures(backend="auto", patch_size=SIZE)
    assert features.backend == "torch" and "differ from torch" in features.backend_reason
    assert not list(tmp_path.rglob("*.cache"))  # a model that failed its check is never cached


def test_backend_setting_and_engine_parameter(monkeypatch):
    monkeypatch.delenv("KEEPTRACK_BACKEND", raising=False)
    assert requested_backend() == "auto"
    monkeypatch.setenv("KEEPTRACK_BACKEND", "Torch")
    assert requested_backend() == "torch"
    assert requested_backend("onnx") == "onnx"  # the engine's own parameter wins
    monkeypatch.setenv("KEEPTRACK_BACKEND", "tensorrt")
    with pytest.raises(InputError, match="KEEPTRACK_BACKEND"):
        requested_backend()
    with pytest.raises(InputError, match="backend"):
        create_engine("keeptrack-lite", backend="fast")
    monkeypatch.setenv("KEEPTRACK_BACKEND", "torch")
    assert create_engine("keeptrack-lite").base.features.backend == "torch"


def test_engine_tracks_the_same_on_either_backend():
    h, w = 240, 320
    rng = np.random.default_rng(0)
    background = rng.integers(60, 190, (h // 16, w // 16, 3)).astype(np.uint8)
    background = np.kron(background, np.ones((16, 16, 1), np.uint8))
    frames = []
    for i in range(8):
        frame = background.copy()
        x, y = 100 + 4 * i, 80 + 2 * i
        frame[y:y + 40, x:x + 30] = (220, 40, 40)
        frame[y + 10:y + 20, x + 5:x + 25] = (30, 200, 60)
        frames.append(frame)
    boxes = {}
    for backend in ("torch", "onnx"):
        engine = create_engine("keeptrack-lite", backend=backend)
        assert engine.base.features.backend == backend
        assert engine.thread_ceiling == (1 if backend == "onnx" else None)  # the thread policy's cap
        engine.initialize(frames[0], (100.0, 80.0, 30.0, 40.0))
        boxes[backend] = np.array([engine.track(f).box for f in frames[1:]], dtype=float)
    assert np.abs(boxes["onnx"] - boxes["torch"]).max() < 0.5
    assert abs(boxes["torch"][-1][0] - 128) < 6  # and it followed the target


def test_onnx_network_refuses_a_model_ort_cannot_load():
    with pytest.raises(Exception):
        OnnxNetwork(b"definitely not onnx", ("s8",), None, exported=True, difference=None)


def test_track_and_eval_take_a_backend_flag(tmp_path, monkeypatch, capsys):
    import cv2

    from tracker.cli import main as cli_main
    from tracker.keeptrack import lite_features

    monkeypatch.delenv("KEEPTRACK_BACKEND", raising=False)  # the flag sets it; monkeypatch restores it after
    folder = tmp_path / "clip"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        image[40:80, 50 + 3 * i:80 + 3 * i] = (20, 30, 220)
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), image)
    used = []
    real_init = lite_features.LiteFeatures.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        used.append(self.backend)

    monkeypatch.setattr(lite_features.LiteFeatures, "__init__", spy)
    out = tmp_path / "boxes.txt"
    assert cli_main(["track", str(folder), "--box", "50,40,30,40", "--out", str(out), "--backend", "torch",
                     "--threads", "1"]) == 0
    assert used == ["torch"] and len(out.read_text().splitlines()) == 3
    with pytest.raises(SystemExit):
        cli_main(["eval", str(folder), "--engines", "keeptrack-lite", "--backend", "tensorrt"])
    assert "invalid choice" in capsys.readouterr().err


def test_a_worker_thread_never_exports_itself_it_runs_torch_while_a_child_process_fills_the_cache(monkeypatch,
                                                                                                   tmp_path):
    import threading

    monkeypatch.setenv("KEEPTRACK_CACHE", str(tmp_path))

    def not_here(*args):
        raise AssertionError("exported in the tracking process")

    monkeypatch.setattr(onnx_backend, "export_model", not_here)
    made = {}
    worker = threading.Thread(target=lambda: made.update(f=LiteFeatures(backend="auto", patch_size=SIZE)))
    worker.start()
    worker.join(120)
    assert made["f"].backend == "torch" and "background" in made["f"].backend_reason
    for thread in [t for t in threading.enumerate() if t.name == "onnx-export"]:
        thread.join(300)
    assert len(list(tmp_path.rglob("*.onnx.cache"))) == 1
    later = {}
    worker = threading.Thread(target=lambda: later.update(f=LiteFeatures(backend="auto", patch_size=SIZE)))
    worker.start()
    worker.join(120)
    assert later["f"].backend == "onnx"  # the next run takes the cached model
