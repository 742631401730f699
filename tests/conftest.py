"""Shared fixtures: the real content and grammars of this repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.validate import Bundle, load_bundle

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    return load_bundle(ROOT / "content", ROOT / "grammars")
