"""Engines by name. Modules are imported only when an engine is created, so listing engines is cheap."""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from .engine import Engine
from .errors import InputError


@dataclass(frozen=True)
class EngineInfo:
    name: str
    target: str  # "module:attribute" of a callable(device=..., **params) -> Engine
    description: str
    needs_weights: bool = False  # True: the user must point to checkpoint files
    defaults: tuple[tuple[str, object], ...] = ()  # parameters passed unless overridden (e.g. a profile)


_ENGINES: dict[str, EngineInfo] = {}

DEFAULT_ENGINE = "keeptrack-lite"


def register(info: EngineInfo) -> None:
    _ENGINES[info.name] = info


def available_engines() -> list[EngineInfo]:
    return list(_ENGINES.values())


def engine_info(name: str) -> EngineInfo:
    try:
        return _ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(_ENGINES))
        raise InputError(f"unknown engine {name!r}; known engines: {known}") from None


def create_engine(name: str, device: str = "cpu", **params) -> Engine:
    info = engine_info(name)
    module_name, attr = info.target.split(":")
    factory = getattr(importlib.import_module(module_name), attr)
    merged = dict(info.defaults)
    merged.update(params)
    return factory(device=device, **merged)


from .keeptrack.profiles import PROFILES  # noqa: E402  (plain data, no torch)

for _info in tuple(EngineInfo(p.name, "tracker.keeptrack.profiles:create_profile_engine", p.description,
                              p.needs_weights, (("profile", p.name),)) for p in PROFILES.values()) + (
    EngineInfo("csrt", "tracker.baselines.opencv:OpenCVEngine", "OpenCV CSRT", False, (("kind", "csrt"),)),
    EngineInfo("kcf", "tracker.baselines.opencv:OpenCVEngine", "OpenCV KCF", False, (("kind", "kcf"),)),
    EngineInfo("mil", "tracker.baselines.opencv:OpenCVEngine", "OpenCV MIL", False, (("kind", "mil"),)),
    EngineInfo("nanotrack", "tracker.baselines.opencv:OpenCVEngine",
               "OpenCV NanoTrack v2 (needs its two .onnx model files)", False, (("kind", "nanotrack"),)),
):
    register(_info)
