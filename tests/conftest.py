"""Shared fixtures: the real content and grammars of this repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.core.validate import Bundle, load_bundle

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    return load_bundle(ROOT / "content", ROOT / "grammars")


def model_or_skip() -> Path:
    """The provisioned Vosk model. Missing: fail when TINGLE_REQUIRE_MODEL=1 (CI), else skip."""
    import os

    from assistant.errors import ModelError
    from assistant.models.modelstore import resolve_model

    try:
        return resolve_model()
    except ModelError as exc:
        if os.environ.get("TINGLE_REQUIRE_MODEL") == "1":
            pytest.fail(f"the Vosk model is required here (TINGLE_REQUIRE_MODEL=1): {exc}")
        pytest.skip(f"no Vosk model: {exc}")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return model_or_skip()


@pytest.fixture(scope="module")
def model() -> object:
    """The real Vosk recognizer, model loaded once per module (voice tests)."""
    from voice_support import load_recognizer

    return load_recognizer()


@pytest.fixture
def recognizer(model: object) -> object:
    """The module's recognizer, starting fresh: no speaker adaptation carried over from earlier cases."""
    model.forget()  # type: ignore[attr-defined]
    return model
