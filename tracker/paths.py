"""Where the project finds things outside the package: the shared data beside a checkout, resources."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = REPO_ROOT / "resources"


def shared_dir() -> Path | None:
    """The project's `../shared` folder (or $KEEPTRACK_SHARED), or None where this clone has none."""
    env = os.environ.get("KEEPTRACK_SHARED")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared"
    return candidate if (candidate / "data").is_dir() else None
