"""Model location, verification and provisioning (with a fake archive: no network, no Maven)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from assistant.core.grammar import COMMAND_INTENTS, Grammars
from assistant.core.validate import Bundle
from assistant.errors import ModelError
from assistant.models import modelstore, provision


def fake_manifest(files: dict[str, bytes]) -> dict[str, tuple[int, str]]:
    return {name: (len(data), hashlib.sha256(data).hexdigest()) for name, data in files.items()}


FILES = {"am/final.mdl": b"acoustic", "conf/model.conf": b"conf", "graph/Gr.fst": b"graph"}


def make_archive(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("classes.jar", b"")
        for name, data in files.items():
            archive.writestr(modelstore.AAR_MODEL_PREFIX + name, data)
    return path


@pytest.fixture()
def fake_pin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    archive = make_archive(tmp_path / "model.aar", FILES)
    monkeypatch.setattr(modelstore, "MANIFEST", fake_manifest(FILES))
    monkeypatch.setattr(provision, "AAR_SHA256", modelstore.sha256_file(archive))
    return archive


def test_unpack_verifies_and_is_idempotent(fake_pin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "models" / "m"
    provision.unpack(fake_pin, target)
    assert (target / "graph" / "Gr.fst").read_bytes() == b"graph"
    assert (target / modelstore.STAMP).is_file()
    modelstore.verify_pinned(target, deep=True)
    monkeypatch.setattr(provision, "fetch_archive", lambda work: pytest.fail("must not fetch again"))
    assert "ready" in provision.provision(target)


def test_wrong_archive_checksum_is_refused(fake_pin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provision, "AAR_SHA256", "0" * 64)
    with pytest.raises(ModelError, match="refusing"):
        provision.unpack(fake_pin, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_partial_or_corrupt_model_is_reported(fake_pin: Path, tmp_path: Path) -> None:
    target = tmp_path / "m"
    provision.unpack(fake_pin, target)
    (target / "graph" / "Gr.fst").write_bytes(b"grapx")
    with pytest.raises(ModelError, match="corrupt"):
        modelstore.verify_pinned(target, deep=True)
    (target / "am" / "final.mdl").unlink()
    with pytest.raises(ModelError, match=r"missing.*scripts/setup"):
        modelstore.verify_pinned(target, deep=False)


def test_resolve_explains_how_to_get_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(modelstore.ENV_VAR, raising=False)
    monkeypatch.setattr(modelstore, "DEFAULT_MODEL_DIR", tmp_path / "absent")
    with pytest.raises(ModelError, match="scripts/setup"):
        modelstore.resolve_model()
    monkeypatch.setenv(modelstore.ENV_VAR, str(tmp_path))
    with pytest.raises(ModelError, match="incomplete"):
        modelstore.resolve_model()
    for name in ("am/final.mdl", "conf/model.conf", "graph/x"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert modelstore.resolve_model() == tmp_path
    assert modelstore.resolve_model(tmp_path) == tmp_path


def test_missing_grammar_words_name_word_and_file(bundle: Bundle) -> None:
    vocabulary = frozenset(bundle.grammars.all_words()) - {"ambulance"}
    missing = modelstore.missing_words(bundle.grammars, vocabulary)
    assert list(missing) == ["ambulance"] and missing["ambulance"].endswith("commands.yaml")


def test_check_vocabulary_error_message(bundle: Bundle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(modelstore, "load_vocabulary", lambda path: frozenset({"yes"}))
    grammars = Grammars.from_yaml({
        "answers.yaml": "name: answers\ndescription: yes\nintents:\n  yes: [yes]\n  no: [nope]\n",
        "commands.yaml": "name: commands\ndescription: c\nintents:\n" + "".join(
            f"  {c}: [{c}]\n" for c in COMMAND_INTENTS),
        "more.yaml": "name: more\ndescription: next\nintents:\n  next: [next]\n  enough: [enough]\n",
    })
    with pytest.raises(ModelError, match=r"'nope' in answers.yaml"):
        modelstore.check_vocabulary(grammars, tmp_path)
