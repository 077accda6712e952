"""Test helper: the rule-generated fidelity weights (../shared/fidelity/deterministic_weights.py, imported by path)
and checkpoints written in the official pytracking layout, with a pickled stand-in for
`ltr.admin.model_constructor.NetConstructor` (the fake `ltr` package exists only while saving)."""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import sys
import types
from pathlib import Path

import torch

SIMPLE_KWDS = dict(filter_size=4, optim_iter=5, clf_feat_norm=True, clf_feat_blocks=0, final_conv=True,
                   out_feature_dim=512, optim_init_reg=0.1, score_act="relu", hinge_threshold=0.05,
                   activation_leak=0.1, frozen_backbone_layers=["conv1", "bn1", "layer1", "layer2"],
                   backbone_pretrained=True)
SUPER_DIMP_KWDS = dict(filter_size=4, optim_iter=5, clf_feat_norm=True, clf_feat_blocks=0, final_conv=True,
                       out_feature_dim=512, optim_init_step=0.9, optim_init_reg=0.1, init_gauss_sigma=0.91667,
                       num_dist_bins=100, bin_displacement=0.1, mask_init_factor=3.0, target_mask_act="sigmoid",
                       score_act="relu", frozen_backbone_layers=["conv1", "bn1", "layer1", "layer2"],
                       backbone_pretrained=True)
KEEP_TRACK_KWDS = dict(backbone_pretrained=True, frozen_backbone_layers=["conv1", "bn1", "layer1", "layer2"])
CONSTRUCTORS = {
    "super_dimp_simple": ("dimpnet50_simple", "ltr.models.tracking.dimpnet", SIMPLE_KWDS),
    "super_dimp": ("dimpnet50", "ltr.models.tracking.dimpnet", SUPER_DIMP_KWDS),
    "keep_track": ("target_candidate_matching_net_resnet50",
                   "ltr.models.target_candidate_matching.target_candidate_matching", KEEP_TRACK_KWDS),
}


@functools.lru_cache(maxsize=None)
def rule_module(fidelity_dir: Path):
    spec = importlib.util.spec_from_file_location("deterministic_weights", Path(fidelity_dir) / "deterministic_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest(fidelity_dir: Path, kind: str) -> list:
    """[key, shape] list. super_dimp has no manifest in ../shared: it is the simple one with the learned-loss
    optimiser keys of keeptrack-reference.md §3.3 in place of the hinge regulariser."""
    if kind == "super_dimp":
        out = []
        for key, shape in manifest(fidelity_dir, "super_dimp_simple"):
            if key == "classifier.filter_optimizer.residual_module.filter_reg":
                prefix = "classifier.filter_optimizer."
                out += [[prefix + "log_step_length", [1]], [prefix + "filter_reg", [1]],
                        [prefix + "label_map_predictor.weight", [1, 100, 1, 1]],
                        [prefix + "target_mask_predictor.0.weight", [1, 100, 1, 1]],
                        [prefix + "spatial_weight_predictor.weight", [1, 100, 1, 1]]]
            else:
                out.append([key, shape])
        return out
    with open(Path(fidelity_dir) / f"manifest_{kind}.json") as f:
        return json.load(f)


@functools.lru_cache(maxsize=None)
def state_dict(fidelity_dir: Path, kind: str) -> dict:
    """The rule's tensors (cached for the session; callers must not modify them in place).

    The rule draws each entry from a generator seeded by its own key (and looks only at siblings under the same
    prefix), so entries shared with the SuperDiMP-Simple manifest (the ResNet of keep_track, everything but the
    optimiser in super_dimp) are taken from that state dict instead of being drawn again (saves seconds)."""
    entries = manifest(fidelity_dir, kind)
    if kind == "super_dimp_simple":
        return rule_module(Path(fidelity_dir)).make_state_dict(entries)
    simple = state_dict(fidelity_dir, "super_dimp_simple")
    simple_shapes = {k: tuple(s) for k, s in manifest(fidelity_dir, "super_dimp_simple")}
    shared = {k for k, s in entries if simple_shapes.get(k) == tuple(s)
              and (kind == "super_dimp" or k.startswith("feature_extractor."))}
    fresh = rule_module(Path(fidelity_dir)).make_state_dict([e for e in entries if e[0] not in shared])
    return {k: simple[k] if k in shared else fresh[k] for k, _ in entries}


def sub_state(state: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


@contextlib.contextmanager
def fake_ltr_package():
    """Make `ltr.admin.model_constructor.NetConstructor` importable (for pickling only), then remove it again."""
    names = ["ltr", "ltr.admin", "ltr.admin.model_constructor", "ltr.admin.settings", "ltr.admin.stats"]
    saved = {name: sys.modules.get(name) for name in names}
    modules = {name: types.ModuleType(name) for name in names}

    class NetConstructor:
        def __init__(self, fun_name, fun_module, args, kwds):
            self.fun_name, self.fun_module, self.args, self.kwds = fun_name, fun_module, args, kwds

    class Settings:
        def __init__(self):
            self.batch_size, self.normalize_mean, self.module_name = 20, [0.485, 0.456, 0.406], "dimp"

    class AverageMeter:
        def __init__(self):
            self.val, self.avg, self.count = 0.25, 0.5, 100

    for cls, module in ((NetConstructor, "ltr.admin.model_constructor"), (Settings, "ltr.admin.settings"),
                        (AverageMeter, "ltr.admin.stats")):
        cls.__module__ = module
        cls.__qualname__ = cls.__name__
        setattr(modules[module], cls.__name__, cls)
    sys.modules.update(modules)
    try:
        yield NetConstructor
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def save_checkpoint(path: Path, state: dict, kind: str | None = None, *, fun_name=None, fun_module=None, kwds=None,
                    args=(), legacy: bool = False, extra: dict | None = None) -> Path:
    """Write `state` as the LTR trainer does: {'epoch', 'actor_type', 'net_type', 'net', 'net_info', 'constructor',
    ...}; constructor fields default to the official ones of `kind`."""
    if kind is not None:
        default_name, default_module, default_kwds = CONSTRUCTORS[kind]
        fun_name = fun_name or default_name
        fun_module = fun_module or default_module
        kwds = dict(default_kwds) if kwds is None else kwds
    with fake_ltr_package() as NetConstructor:
        ltr_admin = sys.modules["ltr.admin.settings"], sys.modules["ltr.admin.stats"]
        payload = {"epoch": 50, "actor_type": "SomeActor", "net_type": "DiMPnet", "net": state, "net_info": None,
                   "constructor": NetConstructor(fun_name, fun_module, tuple(args), kwds or {}),
                   "settings": ltr_admin[0].Settings(), "stats": {"train": {"Loss/total": ltr_admin[1].AverageMeter()}}}
        payload.update(extra or {})
        torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    return Path(path)


def close(mine, ref, rtol=1e-4, atol=None):
    """The fidelity README's tolerance: rtol 1e-4 and atol 1e-4 of the reference's largest magnitude."""
    import torch

    atol = 1e-4 * float(ref.abs().max()) if atol is None else atol
    assert mine.shape == ref.shape, (mine.shape, ref.shape)
    assert torch.allclose(mine, ref, rtol=rtol, atol=atol), f"max |diff| {float((mine - ref).abs().max()):.3g}"
