"""Shared fixtures. Tests that need the project's real data use the `shared` fixture: it skips with a
reason in a clone without ../shared, and fails in CI (KEEPTRACK_REQUIRE_SHARED=1), where it must exist."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tracker.paths import shared_dir  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _own_model_cache(tmp_path_factory):
    """Models exported during the tests (keeptrack-lite's ONNX feature stage) go to a cache of this session,
    never to the user's; subprocesses and Ray workers inherit it through the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KEEPTRACK_CACHE", str(tmp_path_factory.mktemp("model-cache")))
        yield


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if path is None:
        if os.environ.get("KEEPTRACK_REQUIRE_SHARED"):
            pytest.fail("../shared is required here (KEEPTRACK_REQUIRE_SHARED is set) but is absent")
        pytest.skip("needs ../shared (real OTB data, fidelity vectors), which this clone does not have")
    return path


@pytest.fixture(scope="session")
def otb(shared) -> Path:
    return shared / "data" / "otb"


@pytest.fixture(scope="session")
def fidelity(shared) -> Path:
    path = shared / "fidelity"
    if not path.is_dir():
        pytest.skip("needs ../shared/fidelity")
    return path


@pytest.fixture(autouse=True)
def _no_modal_questions():
    """No test may block on a real question box: app.dialogs.ask answers Don't save / Cancel by default
    (tests that check a question replace it with their own)."""
    try:
        from app import dialogs
    except ImportError:  # no Qt in this environment
        yield
        return

    def ask(parent, text, choices=("yes", "no")):
        for default in ("discard", "cancel", "no"):
            if default in choices:
                return default
        return choices[-1]

    with pytest.MonkeyPatch.context() as mp:  # its own: a test's monkeypatch.undo() must not undo this
        mp.setattr(dialogs, "ask", ask)
        yield
