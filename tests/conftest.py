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


# Modules that create keeptrack-lite engines in threads or other processes (the studio's tracking worker, Ray
# workers): the ONNX model is exported once here, in the main thread, so that they load it from the cache
# instead of each exporting it (10-30 s) inside a worker that a test then tears down.
_EXPORT_FIRST = {"test_app_window", "test_app_units", "test_annotation_gui", "test_annotation_retrack",
                 "test_studio_workflow", "test_studio_usability", "test_studio_model", "test_batch_ray", "test_interface",
                 "test_studio_targets"}


@pytest.fixture(scope="session", autouse=True)
def _lite_model_exported(_own_model_cache, request):
    modules = {getattr(item.module, "__name__", "").rsplit(".", 1)[-1] for item in request.session.items}
    if modules & _EXPORT_FIRST:
        from tracker.keeptrack.lite_features import LiteFeatures

        LiteFeatures(backend="auto", patch_size=256)
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
