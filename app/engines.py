"""Which engines the studio can offer, and the hook for engines that need weight files (Qt-free).

The studio reaches engines only through tracker.registry. An engine is offered when its module can be
found (without importing it: torch is slow to import) and, where it needs weights, the user has pointed
to checkpoint files in Track > Engine weights.
"""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tracker.registry import DEFAULT_ENGINE, EngineInfo, available_engines


def module_present(target: str) -> bool:
    module = target.split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class WeightFile:
    """One official checkpoint file the user points to once (Track > Engine weights)."""

    kind: str  # what tracker.checkpoints identifies the file as
    label: str
    file_name: str  # its usual name


WEIGHT_FILES: tuple[WeightFile, ...] = (
    WeightFile("super_dimp_simple", "SuperDiMP-Simple base network (KeepTrack)", "super_dimp_simple.pth.tar"),
    WeightFile("keep_track", "KeepTrack association network", "keep_track.pth.tar"),
    WeightFile("super_dimp", "SuperDiMP base network", "super_dimp.pth.tar"),
)
# Engine -> {create_engine parameter: weight file kind}.
ENGINE_WEIGHTS: dict[str, dict[str, str]] = {
    "keeptrack": {"base_weights": "super_dimp_simple", "association_weights": "keep_track"},
    "keeptrack-fast": {"base_weights": "super_dimp_simple", "association_weights": "keep_track"},
    "superdimp": {"base_weights": "super_dimp"},
}


def engine_status(info: EngineInfo, weights: Mapping[str, str]) -> tuple[bool, str]:
    """(usable, why not) for one engine, given the weight files set so far (kind -> path)."""
    if not module_present(info.target):
        return False, f"not built into this copy ({info.target.split(':')[0]} is missing)"
    if info.needs_weights:
        slots = ENGINE_WEIGHTS.get(info.name)
        if slots is None:
            return False, "needs weight files the studio does not know how to pass"
        missing = [kind for kind in slots.values() if not weights.get(kind)]
        if missing:
            names = ", ".join(w.file_name for w in WEIGHT_FILES if w.kind in missing)
            return False, f"needs {names}: Track > Engine weights..."
    return True, ""


def choose_engine(requested: str | None, weights: Mapping[str, str]) -> tuple[str | None, str]:
    """The engine to use and a note for the status bar when it is not the one asked for (or the default)."""
    engines = available_engines()
    wanted = requested or DEFAULT_ENGINE
    by_name = {e.name: e for e in engines}
    if wanted in by_name:
        ok, why = engine_status(by_name[wanted], weights)
        if ok:
            return wanted, ""
    else:
        why = "unknown engine"
    for e in engines:
        if engine_status(e, weights)[0]:
            return e.name, f"{wanted} is not available: {why}; using {e.name}"
    return None, f"no tracking engine is available ({wanted}: {why})"


def validate_weight_file(kind: str, path: str) -> list[str]:
    """Problems with `path` as the weight file `kind` (empty list: fine).

    The file is inspected by tracker.checkpoints (the only module that unpickles anything, through a
    restricted unpickler) where this copy has it: which network it holds and whether its keys and shapes
    fit. Without that module only its existence is checked.
    """
    if not Path(path).is_file():
        return [f"{path}: no such file"]
    try:
        checkpoints = importlib.import_module("tracker.checkpoints")
    except ImportError:
        return []
    inspect = getattr(checkpoints, "inspect_checkpoint", None)
    if inspect is None:
        return []
    try:
        report = inspect(path)
    except Exception as exc:  # noqa: BLE001 - CheckpointError and friends are messages for the user
        return [str(exc)]
    wanted = next((w.file_name for w in WEIGHT_FILES if w.kind == kind), kind)
    if report.kind != kind:
        return [f"{path}: this is the {report.label}, not {wanted}"]
    if report.problems:
        return [f"{path}: " + "; ".join(report.problems)]
    return []


def engine_params(engine: str, weights: Mapping[str, str]) -> dict:
    """Parameters passed to create_engine for `engine`: its weight files, where it needs any."""
    return {param: weights[kind] for param, kind in ENGINE_WEIGHTS.get(engine, {}).items() if weights.get(kind)}


def cuda_available() -> bool:
    """True where torch sees a CUDA GPU. Without an NVIDIA driver on the machine, torch (slow to import) is not asked."""
    import shutil

    if not Path("/proc/driver/nvidia/version").exists() and shutil.which("nvidia-smi") is None:
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
