"""Reading pytracking checkpoints (`*.pth.tar`) safely: the ONLY place in the project that unpickles anything.

The official files are `torch.save` pickles of a dict {'net': state dict, 'constructor': a pickled
`ltr.admin.model_constructor.NetConstructor`, 'epoch', 'stats', 'settings', ...}. They are read with torch.load through
a restricted unpickler: the only globals it will resolve are tensor-rebuilding functions, plain containers and dtypes;
any class from the pytracking packages (`ltr.*`, `dlframework.*`, `pytracking.*`) becomes an inert data holder.
Everything else (os.system, builtins.exec, subprocess, ...) stops the load before the object is called. TorchScript
archives and the pre-1.0 tar format are refused outright. No code from a checkpoint ever runs.

After reading, a file is identified (SuperDiMP-Simple / SuperDiMP base network, KeepTrack association network) from
its stored constructor (or, for a bare state dict, from its keys), the constructor arguments are checked against what
tracker.nets implements, and the state dict is checked key by key and shape by shape; every mismatch is listed.
"""
from __future__ import annotations

import _compat_pickle
import collections
import math
import pickle
import tarfile
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from .errors import CheckpointError

SUPER_DIMP_SIMPLE = "super_dimp_simple"
SUPER_DIMP = "super_dimp"
KEEP_TRACK = "keep_track"

KIND_LABELS = {
    SUPER_DIMP_SIMPLE: "SuperDiMP-Simple base network (super_dimp_simple.pth.tar, constructor dimpnet50_simple)",
    SUPER_DIMP: "SuperDiMP base network (super_dimp.pth.tar, constructor dimpnet50)",
    KEEP_TRACK: "KeepTrack association network (keep_track.pth.tar, constructor target_candidate_matching_net_resnet50)",
}
BASE_KINDS = (SUPER_DIMP_SIMPLE, SUPER_DIMP)

# Module prefixes whose classes are replaced by inert stand-ins ('dlframework' is the pre-release name of 'ltr').
_PYTRACKING_PREFIXES = ("ltr", "dlframework", "pytracking")


# --- Restricted unpickling ---------------------------------------------------------------------------------------------

class UnsafeCheckpoint(pickle.UnpicklingError):
    """The pickle refers to a global that is neither a tensor piece, a plain container nor a pytracking class."""


class PickledObject:
    """Inert stand-in for a pytracking class: keeps constructor arguments and pickled state as plain data and does
    nothing else (no methods of the original class exist)."""

    pickled_name = "?"

    def __init__(self, *args, **kwargs):
        self.__dict__["_init_args"] = args
        self.__dict__["_init_kwargs"] = kwargs

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):  # (dict, slots)
            state = {**(state[0] or {}), **state[1]}
        if isinstance(state, dict):
            self.__dict__.update({str(key): value for key, value in state.items()})
        else:
            self.__dict__["_state"] = state

    # Containers subclassed in pytracking (TensorList, TensorDict) are pickled with APPENDS / SETITEMS.
    def append(self, item):
        self.__dict__.setdefault("_items", []).append(item)

    def extend(self, items):
        self.__dict__.setdefault("_items", []).extend(items)

    def __setitem__(self, key, value):
        self.__dict__.setdefault("_mapping", {})[key] = value

    def __repr__(self):
        return f"<pickled {self.pickled_name}>"


_STUB_CLASSES: dict[str, type] = {}


def _stub_class(module: str, name: str) -> type:
    full = f"{module}.{name}"
    if full not in _STUB_CLASSES:
        _STUB_CLASSES[full] = type(name, (PickledObject,), {"pickled_name": full, "__module__": "tracker.checkpoints"})
    return _STUB_CLASSES[full]


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import torch._utils as tu

    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "slice"): slice,
        ("builtins", "complex"): complex,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
        ("torch", "Tensor"): torch.Tensor,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch._utils", "_rebuild_tensor"): tu._rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): tu._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): tu._rebuild_parameter,
    }
    for optional in ("_rebuild_parameter_with_state", "_rebuild_tensor_v3"):
        if hasattr(tu, optional):
            allowed[("torch._utils", optional)] = getattr(tu, optional)
    for name in dir(torch):
        value = getattr(torch, name, None)
        if isinstance(value, torch.dtype):
            allowed[("torch", name)] = value
    return allowed


_ALLOWED = _allowed_globals()
# numpy pieces that only rebuild arrays/scalars from bytes (optimizer states or settings may hold numpy scalars).
_NUMPY_ALLOWED = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                  ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy", "dtype"), ("numpy", "ndarray")}
# Protocol-2 pickles encode bytes as _codecs.encode(text, 'latin1'); only that codec is let through.
_CODECS = {"latin1", "latin-1", "iso-8859-1", "iso8859-1"}


def _latin1_encode(text, encoding="latin1"):
    if not isinstance(text, str) or str(encoding).lower() not in _CODECS:
        raise UnsafeCheckpoint(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        # Protocol 0-2 pickles (torch.save uses 2) name Python 2 modules: map them as pickle itself would.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if key == ("_codecs", "encode"):
            return _latin1_encode
        if module.split(".")[0] in _PYTRACKING_PREFIXES:
            return _stub_class(module, name)
        if key in _NUMPY_ALLOWED:
            import importlib

            return getattr(importlib.import_module(module), name)
        raise UnsafeCheckpoint(f"refers to {module}.{name}, which is not allowed in a weight file "
                               "(only tensors, plain containers and pytracking records are)")


def _restricted_load(file, **kwargs):
    return RestrictedUnpickler(file, **kwargs).load()


# torch.load(pickle_module=...) needs a module-like object with Unpickler and load.
_RESTRICTED_PICKLE = types.SimpleNamespace(Unpickler=RestrictedUnpickler, load=_restricted_load,
                                           __name__="tracker.checkpoints.restricted_pickle")


def safe_torch_load(path: str | Path) -> Any:
    """torch.load with the restricted unpickler, on CPU; CheckpointError (naming the file) on anything wrong."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise CheckpointError(f"{path}: damaged zip archive ({exc})") from None
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            raise CheckpointError(f"{path}: this is a TorchScript archive (it contains code); refused")
        if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
            raise CheckpointError(f"{path}: a zip archive, but not a PyTorch checkpoint (no data.pkl inside)")
    else:
        try:
            is_tar = tarfile.is_tarfile(path)
        except OSError:
            is_tar = False
        if is_tar:
            raise CheckpointError(f"{path}: a tar archive (pre-1.0 PyTorch format or not a checkpoint); not supported")
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RESTRICTED_PICKLE)
    except UnsafeCheckpoint as exc:
        raise CheckpointError(f"{path}: refused as unsafe: it {exc}. Nothing from it was run.") from None
    except CheckpointError:
        raise
    except Exception as exc:  # truncated zip, wrong magic number, garbage bytes, ...
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        text = text.split(". ")[0][:200]
        if "Invalid magic number" in text or isinstance(exc, pickle.UnpicklingError):
            raise CheckpointError(f"{path}: not a PyTorch checkpoint ({text})") from None
        raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint; truncated or damaged? ({text})") from None


# --- Reading, identifying and checking ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConstructorRecord:
    """What the checkpoint's pickled NetConstructor says about how the network was built."""
    fun_name: str | None
    fun_module: str | None
    args: tuple
    kwds: dict

    def describe(self) -> str:
        return f"{self.fun_module}.{self.fun_name}"


@dataclass
class Checkpoint:
    path: Path
    state: dict[str, torch.Tensor]
    constructor: ConstructorRecord | None
    top_level_keys: list[str]
    net_type: str | None = None


def _constructor_record(obj: Any, path: Path) -> ConstructorRecord | None:
    if obj is None:
        return None
    data = getattr(obj, "__dict__", None)
    if not isinstance(data, dict) and isinstance(obj, dict):
        data = obj
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: its 'constructor' entry is a {type(obj).__name__}, not a pytracking "
                              "NetConstructor record")
    fun_name, fun_module = data.get("fun_name"), data.get("fun_module")
    if isinstance(fun_module, str) and fun_module.startswith("dlframework."):
        fun_module = "ltr." + fun_module[len("dlframework."):]
    args = data.get("args", ())
    kwds = data.get("kwds", {})
    return ConstructorRecord(fun_name if isinstance(fun_name, str) else None,
                             fun_module if isinstance(fun_module, str) else None,
                             tuple(args) if isinstance(args, (tuple, list)) else (args,),
                             dict(kwds) if isinstance(kwds, Mapping) else {"<kwds>": kwds})


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Safely load a checkpoint file and pick out its state dict and constructor record."""
    path = Path(path)
    obj = safe_torch_load(path)
    if isinstance(obj, Mapping) and "net" in obj:
        state = obj["net"]
        if not _is_state_dict(state):
            raise CheckpointError(f"{path}: its 'net' entry is not a state dict of named tensors")
        return Checkpoint(path, dict(state), _constructor_record(obj.get("constructor"), path),
                          [str(k) for k in obj.keys()], obj.get("net_type") if isinstance(obj.get("net_type"), str) else None)
    if _is_state_dict(obj):  # a bare state dict (e.g. re-saved weights): identified by its keys
        return Checkpoint(path, dict(obj), None, [])
    what = f"a dict with keys {sorted(map(str, obj.keys()))[:8]}" if isinstance(obj, Mapping) else f"a {type(obj).__name__}"
    raise CheckpointError(f"{path}: not a pytracking checkpoint (expected a dict with a 'net' state dict, found {what})")


# Constructor expectations. `required`: arguments the implementation depends on (must be stated, with this value).
# `if_present`: must have this value when stated (their defaults in the original code match the implementation).
# `ignored`: training-only settings with no effect on inference with loaded weights.
@dataclass(frozen=True)
class _Expectation:
    fun_name: str
    fun_module: str
    required: dict = field(default_factory=dict)
    if_present: dict = field(default_factory=dict)
    ignored: frozenset = frozenset()


_TRAINING_ONLY = frozenset({"backbone_pretrained", "frozen_backbone_layers", "optim_iter", "optim_init_reg",
                            "optim_init_step", "init_gauss_sigma", "mask_init_factor", "detach_length"})
_DIMP_STRUCTURE = {"classification_layer": "layer3", "feat_stride": 16, "init_filter_norm": False,
                   "iou_input_dim": (256, 256), "iou_inter_dim": (256, 256), "act_param": None}

EXPECTATIONS = {
    SUPER_DIMP_SIMPLE: _Expectation(
        "dimpnet50_simple", "ltr.models.tracking.dimpnet",
        required={"filter_size": 4, "clf_feat_norm": True, "clf_feat_blocks": 0, "final_conv": True,
                  "out_feature_dim": 512, "score_act": "relu", "hinge_threshold": 0.05, "activation_leak": 0.1},
        if_present=_DIMP_STRUCTURE,
        ignored=_TRAINING_ONLY | {"num_dist_bins", "bin_displacement", "target_mask_act"}),
    SUPER_DIMP: _Expectation(
        "dimpnet50", "ltr.models.tracking.dimpnet",
        required={"filter_size": 4, "clf_feat_norm": True, "clf_feat_blocks": 0, "final_conv": True,
                  "out_feature_dim": 512, "num_dist_bins": 100, "bin_displacement": 0.1, "score_act": "relu",
                  "target_mask_act": "sigmoid"},
        if_present=_DIMP_STRUCTURE,
        ignored=_TRAINING_ONLY),
    KEEP_TRACK: _Expectation(
        "target_candidate_matching_net_resnet50", "ltr.models.target_candidate_matching.target_candidate_matching",
        if_present={"classification_layer": "layer3", "GNN_layers": ("self", "cross", "self", "cross"),
                    "num_sinkhorn_iterations": 10, "output_normalization": "sinkhorn", "skip_gnn": False},
        ignored=frozenset({"backbone_pretrained", "frozen_backbone_layers"})),
}
_KIND_BY_FUN = {exp.fun_name: kind for kind, exp in EXPECTATIONS.items()}
_KNOWN_OTHERS = {"dimpnet50": None, "dimpnet18": "DiMP-18", "klcedimpnet50": "PrDiMP-50", "klcedimpnet18": "PrDiMP-18",
                 "atom_resnet18": "ATOM", "atom_resnet50": "ATOM", "kysnet_res50": "KYS", "steepest_descent_resnet50": "LWL"}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (list, tuple)) and len(a) == 1:  # ['layer3'] == 'layer3'
        return _same(a[0], b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (type(a) is type(b) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def identify(checkpoint: Checkpoint) -> tuple[str | None, str]:
    """(kind or None, how it was decided)."""
    record = checkpoint.constructor
    if record is not None and record.fun_name is not None:
        kind = _KIND_BY_FUN.get(record.fun_name)
        if kind is not None:
            return kind, f"stored constructor {record.describe()}"
        other = _KNOWN_OTHERS.get(record.fun_name)
        hint = f" (a {other} network)" if other else ""
        return None, f"stored constructor {record.describe()}{hint} is none of the networks KeepTrack uses"
    keys = checkpoint.state.keys()
    if "matcher.bin_score" in keys:
        return KEEP_TRACK, "its keys (no constructor record)"
    if "classifier.filter_optimizer.residual_module.filter_reg" in keys:
        return SUPER_DIMP_SIMPLE, "its keys (no constructor record)"
    if "classifier.filter_optimizer.log_step_length" in keys:
        return SUPER_DIMP, "its keys (no constructor record)"
    return None, "no constructor record and no key that marks a known network"


def check_constructor(record: ConstructorRecord | None, kind: str) -> list[str]:
    """Problems with the stored constructor for `kind` (empty when it matches what tracker.nets implements)."""
    if record is None:
        return []
    exp = EXPECTATIONS[kind]
    problems = []
    if record.fun_name != exp.fun_name or record.fun_module != exp.fun_module:
        problems.append(f"constructor is {record.describe()}, expected {exp.fun_module}.{exp.fun_name}")
    if record.args:
        problems.append(f"constructor has positional arguments {record.args!r}; the implementation assumes none")
    for name, value in exp.required.items():
        if name not in record.kwds:
            problems.append(f"constructor does not state {name}; the implementation assumes {name}={value!r}")
        elif not _same(record.kwds[name], value):
            problems.append(f"constructor has {name}={record.kwds[name]!r}; the implementation assumes {value!r}")
    for name, value in record.kwds.items():
        if name in exp.required or name in exp.ignored:
            continue
        if name in exp.if_present:
            if not _same(value, exp.if_present[name]):
                problems.append(f"constructor has {name}={value!r}; the implementation assumes {exp.if_present[name]!r}")
        else:
            problems.append(f"constructor argument {name}={value!r} is unknown to the implementation")
    return problems


def expected_state_shapes(kind: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the module tree tracker.nets builds for `kind` (built on the meta device: no memory)."""
    from .nets.association import TargetCandidateMatchingNet
    from .nets.base_net import DiMPNet

    with torch.device("meta"):
        net = TargetCandidateMatchingNet(with_backbone=True) if kind == KEEP_TRACK else DiMPNet(kind)
    return {key: tuple(value.shape) for key, value in net.state_dict().items()}


def check_state(state: Mapping[str, torch.Tensor], kind: str) -> list[str]:
    """Every missing, unexpected or wrongly shaped entry, and non-finite values. Missing BatchNorm
    `num_batches_tracked` counters are tolerated (older files may lack them; they do not affect inference)."""
    expected = expected_state_shapes(kind)
    problems = []
    missing = [k for k in expected if k not in state and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing:
        problems.append(f"{len(missing)} missing entries: " + ", ".join(missing))
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected entries: " + ", ".join(unexpected))
    for key, shape in expected.items():
        if key in state and tuple(state[key].shape) != shape:
            problems.append(f"{key} has shape {tuple(state[key].shape)}, expected {shape}")
    for key, value in state.items():
        # A sum is finite when every element is (the full check only runs when it is not: it is slow).
        if key in expected and value.is_floating_point() and not bool(torch.isfinite(value.sum())):
            if not bool(torch.isfinite(value).all()):
                problems.append(f"{key} contains NaN or infinite values")
    return problems


@dataclass
class CheckpointReport:
    path: Path
    kind: str | None
    how_identified: str
    problems: list[str]

    @property
    def fits(self) -> bool:
        return self.kind is not None and not self.problems

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, "unknown network")


def inspect_checkpoint(path: str | Path) -> CheckpointReport:
    """Say what a file is and whether it fits; CheckpointError only where it cannot be read at all."""
    checkpoint = read_checkpoint(path)
    kind, how = identify(checkpoint)
    if kind is None:
        return CheckpointReport(Path(path), None, how, [how])
    problems = check_constructor(checkpoint.constructor, kind) + check_state(checkpoint.state, kind)
    return CheckpointReport(Path(path), kind, how, problems)


def _checked(path: str | Path, accepted: tuple[str, ...], slot: str) -> tuple[Checkpoint, str]:
    checkpoint = read_checkpoint(path)
    kind, how = identify(checkpoint)
    if kind is None:
        raise CheckpointError(f"{path}: cannot be used as the {slot}: {how}")
    if kind not in accepted:
        wanted = " or ".join(KIND_LABELS[k] for k in accepted)
        raise CheckpointError(f"{path}: this is the {KIND_LABELS[kind]} (from {how}), but the {slot} must be the {wanted}")
    problems = check_constructor(checkpoint.constructor, kind) + check_state(checkpoint.state, kind)
    if problems:
        raise CheckpointError(f"{path}: does not fit the {KIND_LABELS[kind]}:\n  - " + "\n  - ".join(problems))
    return checkpoint, kind


def _assign_state(net: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    """Give a module built on the meta device the checkpoint's tensors (cast to the module's dtypes; absent BN
    counters become zeros). Building on meta skips the random initialisation of ~35M parameters."""
    own = net.state_dict()
    values = {}
    for key, ref in own.items():
        value = state.get(key)
        values[key] = torch.zeros(ref.shape, dtype=ref.dtype) if value is None else value.to(ref.dtype).contiguous()
    net.load_state_dict(values, strict=True, assign=True)
    return net


def load_base_net(path: str | Path, variant: str | tuple[str, ...] = SUPER_DIMP_SIMPLE, device: str = "cpu"):
    """The DiMP base network (eval mode) from a checkpoint of `variant` (KeepTrack needs SuperDiMP-Simple)."""
    from .nets.base_net import DiMPNet

    accepted = (variant,) if isinstance(variant, str) else tuple(variant)
    checkpoint, kind = _checked(path, accepted, "base network")
    with torch.device("meta"):
        net = DiMPNet(kind)
    return _assign_state(net, checkpoint.state).to(device).eval()


def load_association_net(path: str | Path, device: str = "cpu", with_backbone: bool = False):
    """KeepTrack's association network (eval mode). Its ResNet-50 is checked but not kept unless asked for: the
    tracker computes descriptors from the base network's layer3."""
    from .nets.association import TargetCandidateMatchingNet

    checkpoint, _ = _checked(path, (KEEP_TRACK,), "association network")
    with torch.device("meta"):
        net = TargetCandidateMatchingNet(with_backbone=with_backbone)
    return _assign_state(net, checkpoint.state).to(device).eval()
