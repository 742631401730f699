"""The layout of `assistant/` is its architecture: the core imports no adapter, application or audio, model or
speech library; speech and the model store do not import the application. Read from the source with `ast`
(every import, including those inside functions), so nothing is imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"
CORE_BANNED = ("assistant.speech", "assistant.models", "assistant.app",
               "vosk", "sounddevice", "pyttsx3", "numpy", "pymicro_wakeword", "webrtc_noise_gain")
ADAPTER_BANNED = ("assistant.app",)
def imported(path: Path) -> set[str]:
    """Every module a file imports (absolute, or relative resolved against its package)."""
    package = "assistant." + ".".join(path.relative_to(PACKAGE).parent.parts)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rstrip(".").split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from assistant import app`
    return names


def violations(folder: str, banned: tuple[str, ...]) -> set[tuple[str, str]]:
    found = set()
    for path in sorted((PACKAGE / folder).glob("*.py")):
        hits = {name for name in imported(path) if any(name == ban or name.startswith(ban + ".") for ban in banned)}
        # the module, not also each name taken from it (`from numpy import x` is one hit, "numpy")
        found.update((f"{folder}/{path.name}", name) for name in hits
                     if not any(name.startswith(other + ".") for other in hits))
    return found


@pytest.mark.parametrize(("folder", "banned"), [("core", CORE_BANNED), ("speech", ADAPTER_BANNED),
                                                ("models", ADAPTER_BANNED)])
def test_layer_imports_nothing_it_must_not(folder: str, banned: tuple[str, ...]) -> None:
    assert sorted((PACKAGE / folder).glob("*.py")), f"no modules in assistant/{folder}"
    assert violations(folder, banned) == set()


def test_the_check_sees_imports_inside_functions() -> None:
    names = imported(PACKAGE / "speech" / "recognizer.py")
    assert {"vosk", "assistant.models.vocabulary"} <= names  # both imported inside functions only


def test_the_check_finds_a_banned_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule can fail: a core module that imports the application is reported."""
    fake = tmp_path / "assistant"
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "bad.py").write_text("def f():\n    from assistant.app import session\n    import vosk\n",
                                          encoding="utf-8")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    assert violations("core", CORE_BANNED) == {("core/bad.py", "assistant.app"), ("core/bad.py", "vosk")}
