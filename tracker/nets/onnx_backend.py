"""A frozen torch network run by ONNX Runtime (CPU), exported locally from the installed weights and cached.

Why: on CPU, ONNX Runtime runs the lite tracker's EfficientNet-Lite0 feature stage several times faster
than torch eager (bench/onnx_backbone.py, docs/speed.md). Nothing is downloaded: the model is exported
here with `torch.onnx.export` from the network already built from the installed weights, checked against
torch's own outputs once (on a fixed input, within `TOLERANCE` of the largest output magnitude), and only
then written to the cache, atomically. The cache key is a hash of the weights, the network's source file,
the input shape and the versions of torch, onnx, onnxscript and onnxruntime, so a change to any of them
exports again.

A cache file is one file: a header (magic, JSON with the key and the SHA-256 of the model bytes) followed
by the ONNX model. The loader reads at most `MAX_CACHE_BYTES`, and a file that is short, has another key
or digest, or that ONNX Runtime refuses, is removed and exported again; it never ends a run. ONNX models
hold no code, so loading one executes nothing from it.

Backend setting (`requested_backend`): "auto" (default) uses ONNX Runtime where it holds and falls back
to torch with one log line (onnxruntime missing, export failed, outputs differ, not a CPU device);
"onnx" insists and raises `BackendError` instead; "torch" never tries. Override per engine
(`create_engine("keeptrack-lite", backend="torch")`) or for a whole process with $KEEPTRACK_BACKEND.

Threads: the ORT session's intra-op thread count follows `tracker.threads.onnx_threads()` (the count the
ThreadGovernor sets from the load); one session per count in use is kept, created when first needed.
"""
from __future__ import annotations

import hashlib
import inspect
import io
import json
import logging
import os
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..threads import onnx_threads

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")
ENV_VAR = "KEEPTRACK_BACKEND"
CACHE_ENV_VAR = "KEEPTRACK_CACHE"
FORMAT = 1  # bump when the export recipe changes: older cache files are then simply not found
MAGIC = b"KTONNX1\n"
MAX_CACHE_BYTES = 512 * 1024 * 1024  # ResNet-50 to layer3 is ~35 MB; refuse anything wildly larger
MAX_HEADER_BYTES = 64 * 1024
TOLERANCE = 1e-4  # largest |ORT - torch| allowed, relative to the largest |torch| output of that layer
# Torch's (and OpenCV's) thread cap for an engine whose network is on ONNX Runtime (tracker.threads
# ThreadGovernor.fit; ONNX Runtime keeps the load's count): the rest of keeptrack-lite's frame is small torch
# ops, and a second spinning torch pool beside ONNX Runtime's makes both wait (docs/speed.md).
THREAD_CEILING = 1
MAX_BATCH = 64  # export range of the batch dimension (KeepTrack's initialisation uses 13-15)


class BackendError(InputError):
    """The ONNX backend was asked for explicitly and cannot run; the message says why."""


def requested_backend(value: str | None = None, what: str = "backend") -> str:
    """The backend in force: `value` if given, else $KEEPTRACK_BACKEND, else 'auto'."""
    if value is None or str(value).strip() == "":
        value, what = os.environ.get(ENV_VAR, "auto"), f"${ENV_VAR}"
    text = str(value).strip().lower() or "auto"
    if text not in BACKENDS:
        raise InputError(f"{what} must be one of {', '.join(BACKENDS)}; got {value!r}")
    return text


def use_backend_for_process(value: str | None) -> None:
    """A command's --backend: validated, then set as $KEEPTRACK_BACKEND, so that every engine this process
    creates, and the workers of a local Ray cluster started after it, use it. None leaves the setting alone."""
    if value is not None:
        os.environ[ENV_VAR] = requested_backend(value, "--backend")


def cache_dir() -> Path:
    """$KEEPTRACK_CACHE, else $XDG_CACHE_HOME/keeptrack-studio, else ~/.cache/keeptrack-studio; + /onnx."""
    root = os.environ.get(CACHE_ENV_VAR)
    if root:
        return Path(root) / "onnx"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "keeptrack-studio" / "onnx"


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import onnxscript

    return {"torch": torch.__version__, "onnx": onnx.__version__, "onnxscript": onnxscript.__version__,
            "onnxruntime": onnxruntime.__version__}


def model_key(net: torch.nn.Module, input_shape: Sequence[int], output_names: Sequence[str], name: str) -> str:
    """Hash of everything the exported model depends on (see the module docstring)."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT, "name": name, "shape": [int(v) for v in input_shape],
                         "outputs": list(output_names), "versions": _versions(),
                         "class": f"{type(net).__module__}.{type(net).__qualname__}"}, sort_keys=True).encode())
    for source in {inspect.getfile(type(net)), inspect.getfile(type(getattr(net, "net", net)))}:
        try:
            h.update(Path(source).read_bytes())
        except OSError:
            h.update(source.encode())
    for key, value in net.state_dict().items():
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode() + str(value.dtype).encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def check_input(input_shape: Sequence[int], batch: int = 2) -> torch.Tensor:
    """The fixed input the export is checked on: uniform 0..255 (an image patch's range), seeded."""
    g = torch.Generator().manual_seed(0)
    return torch.rand((batch, *[int(v) for v in input_shape]), generator=g) * 255


def max_relative_difference(reference: Sequence[np.ndarray], other: Sequence[np.ndarray]) -> float:
    """Largest |other - reference| over each output, relative to that output's largest |reference|."""
    worst = 0.0
    for ref, out in zip(reference, other):
        if ref.shape != out.shape:
            return float("inf")
        scale = max(float(np.abs(ref).max()), 1e-6)
        worst = max(worst, float(np.abs(out.astype(np.float64) - ref).max()) / scale)
    return worst


class _Tupled(torch.nn.Module):
    """Exports a network that returns a dict of named tensors as one with a tuple of outputs."""

    def __init__(self, net: torch.nn.Module, output_names: Sequence[str]):
        super().__init__()
        self.net = net
        self.output_names = tuple(output_names)

    def forward(self, x):
        out = self.net(x)
        if isinstance(out, dict):
            return tuple(out[k] for k in self.output_names)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def export_model(net: torch.nn.Module, input_shape: Sequence[int], output_names: Sequence[str]) -> bytes:
    """ONNX bytes of `net` (eval mode, frozen) for inputs (B, *input_shape), B dynamic in 1..MAX_BATCH."""
    from torch.export import Dim

    wrapped = _Tupled(net, output_names).eval()
    example = check_input(input_shape)
    quiet = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in quiet]
    try:
        for lg in quiet:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(wrapped, (example,), None, input_names=["input"],
                                        output_names=list(output_names), dynamo=True, verbose=False,
                                        dynamic_shapes=({0: Dim("batch", min=1, max=MAX_BATCH)},))
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
    buffer = io.BytesIO()
    import onnx

    onnx.save_model(program.model_proto, buffer)
    return buffer.getvalue()


def _pack(key: str, model: bytes, check: float) -> bytes:
    header = json.dumps({"key": key, "sha256": hashlib.sha256(model).hexdigest(), "bytes": len(model),
                         "checked_difference": check}).encode()
    return MAGIC + struct.pack("<I", len(header)) + header + model


def _unpack(path: Path, key: str) -> bytes:
    """The model bytes of a cache file; ValueError saying what is wrong with it."""
    size = path.stat().st_size
    if size > MAX_CACHE_BYTES:
        raise ValueError(f"{size} bytes, more than the {MAX_CACHE_BYTES} a cached model may have")
    with open(path, "rb") as f:
        data = f.read(MAX_CACHE_BYTES + 1)
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise ValueError("not a keeptrack ONNX cache file")
    (n,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    if n > MAX_HEADER_BYTES or start + n > len(data):
        raise ValueError("truncated header")
    try:
        header = json.loads(data[start:start + n])
    except ValueError as exc:
        raise ValueError(f"unreadable header ({exc})") from None
    model = data[start + n:]
    if not isinstance(header, dict) or header.get("key") != key:
        raise ValueError("made for another network, weights or versions")
    if header.get("bytes") != len(model) or header.get("sha256") != hashlib.sha256(model).hexdigest():
        raise ValueError("the model bytes do not match their recorded digest (truncated or altered)")
    return model


class OnnxNetwork:
    """Runs an exported network: (B, *input_shape) float32 -> tuple of torch tensors, one per output name.

    Build with `OnnxNetwork.load_or_export`; it raises BackendError when ONNX Runtime cannot run `net`.
    """

    def __init__(self, model: bytes, output_names: Sequence[str], path: Path | None, exported: bool,
                 difference: float | None):
        self.model = model
        self.output_names = tuple(output_names)
        self.path = path
        self.exported = exported  # False: taken from the cache
        self.difference = difference  # relative difference measured at export (None: loaded from the cache)
        self._sessions: dict[int, object] = {}
        self.session(1)  # refuse a model ORT cannot load here, before anyone relies on it

    def __deepcopy__(self, memo):
        # Immutable once built (model bytes, sessions whose run() is thread-safe): copies of an engine share it.
        return self

    def session(self, threads: int):
        session = self._sessions.get(threads)
        if session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(self.model, options, providers=["CPUExecutionProvider"])
            self._sessions[threads] = session
        return session

    def run(self, x: torch.Tensor, threads: int | None = None) -> tuple[torch.Tensor, ...]:
        """Outputs for `x`; `threads` defaults to the ThreadGovernor's count for ONNX Runtime."""
        n = onnx_threads() if threads is None else threads
        feed = {"input": np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)}
        return tuple(torch.from_numpy(out) for out in self.session(max(1, int(n))).run(None, feed))

    @staticmethod
    def cache_path(net: torch.nn.Module, input_shape: Sequence[int], output_names: Sequence[str], name: str,
                   folder: Path | None = None) -> Path | None:
        """Where the cache file of `net` is, or None where none is there yet (or the exporter is missing)."""
        try:
            key = model_key(net, input_shape, output_names, name)
        except ImportError:
            return None
        path = (cache_dir() if folder is None else Path(folder)) / f"{name}-{key}.onnx.cache"
        return path if path.is_file() else None

    @classmethod
    def load_or_export(cls, net: torch.nn.Module, input_shape: Sequence[int], output_names: Sequence[str],
                       name: str, folder: Path | None = None) -> OnnxNetwork:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise BackendError(f"ONNX Runtime is not installed ({exc})") from None
        try:
            key = model_key(net, input_shape, output_names, name)
        except ImportError as exc:
            raise BackendError(f"the ONNX exporter is not installed ({exc})") from None
        folder = cache_dir() if folder is None else Path(folder)
        path = folder / f"{name}-{key}.onnx.cache"
        if path.is_file():
            try:
                return cls(_unpack(path, key), output_names, path, exported=False, difference=None)
            except Exception as exc:  # any refusal of a cache file means: export again
                log.warning("%s: cached ONNX model %s refused (%s); exporting again", name, path, exc)
                try:
                    path.unlink()
                except OSError:
                    pass
        log.info("%s: exporting to ONNX once (cached in %s)", name, folder)
        try:
            model = export_model(net, input_shape, output_names)
        except Exception as exc:
            raise BackendError(f"torch.onnx.export failed ({type(exc).__name__}: {str(exc)[:200]})") from None
        try:
            network = cls(model, output_names, path, exported=True, difference=None)
        except Exception as exc:
            raise BackendError(f"ONNX Runtime cannot load the exported model ({str(exc)[:200]})") from None
        x = check_input(input_shape)
        with torch.no_grad():
            reference = _Tupled(net, output_names).eval()(x)
        ours = network.run(x, threads=1)
        difference = max_relative_difference([r.numpy() for r in reference], [o.numpy() for o in ours])
        if not difference <= TOLERANCE:
            raise BackendError(f"ONNX Runtime's outputs differ from torch's by {difference:.1e} of their "
                               f"magnitude (allowed {TOLERANCE:.0e})")
        network.difference = difference
        try:
            from ..atomic import atomic_write_bytes

            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, _pack(key, model, difference))
        except (OSError, InputError) as exc:  # an unwritable cache costs an export per run, nothing else
            log.warning("%s: cannot cache the ONNX model in %s (%s); it is exported again next time", name,
                        folder, exc)
            network.path = None
        return network
