"""Which engines the studio can offer, and the hook for engines that need weight files (Qt-free).

The studio reaches engines only through tracker.registry. An engine is offered when its module can be
found (without importing it: torch is slow to import) and, where it needs weights, the user has pointed
to checkpoint files in Track > Engine weights.
"""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

from tracker.registry import DEFAULT_ENGINE, EngineInfo, available_engines


def module_present(target: str) -> bool:
    module = target.split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def engine_status(info: EngineInfo, weights: Mapping[str, Sequence[str]]) -> tuple[bool, str]:
    """(usable, why not) for one engine, given the weight files configured per engine name."""
    if not module_present(info.target):
        return False, f"not built into this copy ({info.target.split(':')[0]} is missing)"
    if info.needs_weights and not weights.get(info.name):
        return False, "needs checkpoint files: Track > Engine weights..."
    return True, ""


def choose_engine(requested: str | None, weights: Mapping[str, Sequence[str]]) -> tuple[str | None, str]:
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


def validate_weights(engine: str, paths: Sequence[str]) -> list[str]:
    """Problems with the checkpoint files chosen for `engine` (empty list: fine).

    Each file is inspected by tracker.checkpoints (the only module that unpickles anything, through a
    restricted unpickler) where this copy has it: what network it holds and whether its keys and shapes
    fit. Without that module only existence is checked.
    """
    problems = [f"{p}: no such file" for p in paths if not Path(p).is_file()]
    if problems or not paths:
        return problems
    try:
        checkpoints = importlib.import_module("tracker.checkpoints")
    except ImportError:
        return []
    inspect = getattr(checkpoints, "inspect_checkpoint", None)
    if inspect is None:
        return []
    for p in paths:
        try:
            report = inspect(p)
        except Exception as exc:  # CheckpointError and friends: messages for the user
            problems.append(str(exc))
            continue
        if not report.fits:
            problems.append(f"{p}: {report.label}: " + "; ".join(report.problems))
    return problems


def engine_params(engine: str, weights: Mapping[str, Sequence[str]]) -> dict:
    """Parameters passed to create_engine for `engine`: the checkpoint files, where it needs any."""
    paths = list(weights.get(engine, ()))
    return {"checkpoints": paths} if paths else {}


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
