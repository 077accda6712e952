"""Classification features of the lite tracker: EfficientNet-Lite0 ImageNet layers, no learned projection.

KeepTrack's classifier runs on a learned 1024->512 projection of ResNet-50 layer3. The lite tracker has
no trained weights beyond ImageNet, so its classification features are the backbone layers themselves,
each L2-normalised per sample (so that layers with different magnitudes weigh alike), resampled to the
common stride and concatenated, then scaled like DiMP's InstanceL2Norm (sum of squares = 1 per filter
cell), which keeps the Gauss-Newton step sizes and the hinge threshold meaningful.

The backbone runs on ONNX Runtime where it holds (tracker/nets/onnx_backend.py: exported locally from the
installed weights, cached, checked against torch) and on torch otherwise; `backend` says which to try
("auto", "onnx", "torch"; None: $KEEPTRACK_BACKEND, else "auto"). The torch network stays: it is the
reference path and the fallback.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from ..nets.efficientnet import LAYER_CHANNELS, LAYER_STRIDE, EfficientNetLite0Features
from ..nets.onnx_backend import MAX_BATCH, THREAD_CEILING, BackendError, OnnxNetwork, requested_backend

log = logging.getLogger(__name__)
_exporting: set[tuple] = set()  # background exports under way (layers, size)
EXPORT_TIMEOUT_S = 600


def export_to_cache(layers: Sequence[str], size: int) -> None:
    """Export the feature stage for (B, 3, size, size) patches into the cache (or find it there)."""
    layers = tuple(layers)
    OnnxNetwork.load_or_export(EfficientNetLite0Features(layers), (3, size, size), layers, _model_name(layers))


def _model_name(layers: Sequence[str]) -> str:
    return f"efficientnet-lite0-{'-'.join(layers)}"


def _export_in_background(layers: tuple[str, ...], size: int) -> None:
    """Export into the cache in a child process, for the engines created after it (see _onnx_for).

    A process, not a thread: torch.onnx.export traces the network with torch.export, which must not run beside
    the tracking and drawing threads of this process; the child writes the cache file atomically and inherits
    $KEEPTRACK_CACHE. A daemon thread only waits for it, so that a second request is not started meanwhile."""
    if (layers, size) in _exporting:
        return
    _exporting.add((layers, size))
    name = _model_name(layers)
    root = Path(__file__).resolve().parents[2]
    code = ("import sys, torch; torch.set_num_threads(1); sys.path.insert(0, sys.argv[1]); "
            "from tracker.keeptrack.lite_features import export_to_cache; "
            "export_to_cache(sys.argv[2].split(','), int(sys.argv[3]))")

    def wait():
        try:
            done = subprocess.run([sys.executable, "-c", code, str(root), ",".join(layers), str(size)],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S)
            if done.returncode == 0:
                log.info("%s: exported in the background; engines created from now on use ONNX Runtime", name)
            else:
                last = (done.stderr.strip().splitlines() or ["no message"])[-1]
                log.warning("%s: background ONNX export failed (exit %s: %s)", name, done.returncode, last[:300])
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("%s: background ONNX export failed (%s)", name, exc)
        finally:
            _exporting.discard((layers, size))

    threading.Thread(target=wait, name="onnx-export", daemon=True).start()


class LiteFeatures:
    """Patch (B,3,S,S RGB 0..255) -> classification features (B,C,S/stride,S/stride)."""

    def __init__(self, layers: Sequence[str] = ("s8", "s16"), stride: int = 16, filter_size: int = 4,
                 device: str = "cpu", backend: str | None = None, patch_size: int | None = None):
        self.layers = tuple(layers)
        self.stride = int(stride)
        self.filter_size = int(filter_size)
        self.backbone = EfficientNetLite0Features(self.layers).to(device)
        self.channels = sum(LAYER_CHANNELS[name] for name in self.layers)
        self.device = device
        self.requested_backend = requested_backend(backend)
        self._onnx: dict[int, OnnxNetwork] = {}  # by patch side: the export has a fixed spatial size
        self.backend = "torch"  # what the features run on: "onnx" once an ONNX model holds
        self.backend_reason = "asked for torch" if self.requested_backend == "torch" else ""
        if self.requested_backend != "torch" and patch_size is not None:
            self._onnx_for(int(patch_size))  # export (or load) now, not on the first frame

    def _onnx_for(self, size: int) -> OnnxNetwork | None:
        """The ONNX network for (B, 3, size, size) patches, or None where torch runs (said once, in the log)."""
        if self.requested_backend == "torch":
            return None
        if size in self._onnx:
            return self._onnx[size]
        network = None
        try:
            if str(self.device) != "cpu":
                raise BackendError(f"ONNX Runtime runs here on the CPU only; the device is {self.device}")
            name = _model_name(self.layers)
            if (self.requested_backend == "auto" and threading.current_thread() is not threading.main_thread()
                    and OnnxNetwork.cache_path(self.backbone, (3, size, size), self.layers, name) is None):
                # A worker thread (the studio's tracking worker) must not spend 10-30 s exporting: its owner
                # may stop it at any time. This engine runs torch; the export goes on in a child process.
                _export_in_background(self.layers, size)
                raise BackendError("not exported yet; exporting in the background for the next run")
            network = OnnxNetwork.load_or_export(self.backbone, (3, size, size), self.layers, name)
            self.backend = "onnx"
            self.backend_reason = (f"ONNX Runtime ({'exported, checked' if network.exported else 'cached'}: "
                                   f"{network.path or 'not cached'})")
        except BackendError as exc:
            if self.requested_backend == "onnx":
                raise BackendError(f"keeptrack-lite: backend 'onnx' cannot run: {exc}") from None
            self.backend = "torch"
            self.backend_reason = f"torch, ONNX Runtime not used: {exc}"
            log.warning("keeptrack-lite: feature stage runs on torch (ONNX Runtime not used: %s)", exc)
        self._onnx[size] = network
        return network

    @property
    def thread_ceiling(self) -> int | None:
        """Torch's thread cap while the feature stage is on ONNX Runtime (tracker.threads); none on torch."""
        return THREAD_CEILING if self.backend == "onnx" else None

    def _backbone(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        square = patches.shape[-1] == patches.shape[-2] and patches.shape[0] <= MAX_BATCH
        network = self._onnx_for(int(patches.shape[-1])) if square else None
        if network is None:
            return self.backbone(patches.to(self.device))
        return dict(zip(self.layers, network.run(patches)))

    @torch.no_grad()
    def __call__(self, patches: torch.Tensor) -> torch.Tensor:
        return self.extract(patches)[0]

    @torch.no_grad()
    def extract(self, patches: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(classification features, raw backbone layers by name)."""
        raw = self._backbone(patches)
        size = patches.shape[-1] // self.stride
        parts = []
        for name in self.layers:
            x = raw[name]
            if LAYER_STRIDE[name] != self.stride:
                # Area-average finer layers, bilinearly upsample coarser ones.
                if LAYER_STRIDE[name] < self.stride:
                    x = F.adaptive_avg_pool2d(x, size)
                else:
                    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            norm = x.pow(2).sum(dim=(1, 2, 3), keepdim=True).add(1e-5).sqrt()
            parts.append(x / norm)
        x = torch.cat(parts, dim=1)
        # DiMP's InstanceL2Norm: each sample scaled to sum of squares H*W / (filter_size^2).
        c, h, w = x.shape[1:]
        x = x * torch.sqrt(torch.tensor(h * w / (self.filter_size**2), dtype=x.dtype)
                           / (x.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-5))
        return x, raw
