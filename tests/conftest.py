"""Shared fixtures: the real content and grammars of this repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.validate import Bundle, load_bundle

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    return load_bundle(ROOT / "content", ROOT / "grammars")


def model_or_skip() -> Path:
    """The provisioned Vosk model. Missing: fail when TINGLE_REQUIRE_MODEL=1 (CI), else skip."""
    import os

    from assistant.errors import ModelError
    from assistant.modelstore import resolve_model

    try:
        return resolve_model()
    except ModelError as exc:
        if os.environ.get("TINGLE_REQUIRE_MODEL") == "1":
            pytest.fail(f"the Vosk model is required here (TINGLE_REQUIRE_MODEL=1): {exc}")
        pytest.skip(f"no Vosk model: {exc}")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return model_or_skip()
