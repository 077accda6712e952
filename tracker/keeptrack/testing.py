"""Support for tests and benchmarks: networks with the rule-generated fidelity weights, and replayed randomness.

The weights come from ../shared/fidelity/deterministic_weights.py and its manifests (never downloaded, never
shipped); see ../shared/fidelity/README.md. Nothing here is used by the engines at run time.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from .parts import RandomSource

Tensor = torch.Tensor


def _weights_module(fidelity_dir: Path):
    spec = importlib.util.spec_from_file_location("deterministic_weights", fidelity_dir / "deterministic_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rule_networks(fidelity_dir: Path, variant: str = "super_dimp_simple"):
    """(DiMPNet, TargetCandidateMatchingNet) in eval mode on CPU with the rule-generated fidelity weights."""
    from ..nets.association import TargetCandidateMatchingNet
    from ..nets.base_net import DiMPNet

    dw = _weights_module(Path(fidelity_dir))
    base = DiMPNet(variant)
    base_sd = dw.make_state_dict(dw.load_manifest(Path(fidelity_dir) / f"manifest_{variant}.json"))
    base.load_state_dict(base_sd, strict=True)
    assoc = TargetCandidateMatchingNet(with_backbone=False)
    manifest = [e for e in dw.load_manifest(Path(fidelity_dir) / "manifest_keep_track.json")
                if not e[0].startswith("feature_extractor.")]
    assoc.load_state_dict(dw.make_state_dict(manifest), strict=True)
    return base.eval(), assoc.eval()


class ReplayRandom(RandomSource):
    """Serves the draws recorded in a fidelity trace, in order, checking their kind and shape."""

    def __init__(self, draws: list[dict]):
        self.draws = list(draws)
        self.position = 0

    def _next(self, kind: str, shape) -> Tensor:
        if self.position >= len(self.draws):
            raise AssertionError(f"the engine asked for more random draws than recorded ({kind} {tuple(shape)})")
        draw = self.draws[self.position]
        self.position += 1
        values = draw["values"]
        if draw["kind"] != kind or tuple(values.shape) != tuple(shape):
            raise AssertionError(f"draw {self.position - 1}: engine asked for {kind} {tuple(shape)}, trace has "
                                 f"{draw['kind']} {tuple(values.shape)} (frame {draw['frame_index']})")
        return values.clone().float()

    def uniform(self, shape):
        return self._next("torch.rand", shape)

    def dropout_keep(self, num, channels, p):
        return self._next("dropout2d_keep_mask", (num, channels))
