"""Fetch, verify and unpack the pinned Vosk model into models/. Idempotent: `python -m assistant.provision`.

Uses Maven (the machine's ordinary client for Maven Central) to fetch the archive by its coordinates,
checks the archive's sha256 against the value recorded in `assistant.modelstore`, unpacks `assets/model-en-us/`
to a temporary folder, verifies every file against the manifest, then renames it into place.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from assistant.errors import ModelError
from assistant.modelstore import (
    AAR_MODEL_PREFIX,
    AAR_SHA256,
    DEFAULT_MODEL_DIR,
    MAVEN_COORDS,
    STAMP,
    sha256_file,
    verify_pinned,
)


def fetch_archive(work: Path) -> Path:
    """Download the archive with Maven into `work`; return its path."""
    if shutil.which("mvn") is None:
        raise ModelError("Maven (mvn) is needed to fetch the speech model: install it with `apt-get install maven`.")
    command = ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={MAVEN_COORDS}", f"-DoutputDirectory={work}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    archives = sorted(work.glob("*.aar"))
    if result.returncode != 0 or not archives:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise ModelError(f"Maven could not fetch {MAVEN_COORDS}: {' | '.join(tail)}. Check access to Maven Central.")
    return archives[0]


def unpack(archive: Path, target: Path) -> None:
    """Verify `archive` and unpack its model into `target` (replaced atomically)."""
    digest = sha256_file(archive)
    if digest != AAR_SHA256:
        raise ModelError(f"the downloaded archive {archive.name} has sha256 {digest}, expected {AAR_SHA256}; "
                         "refusing to use it. Delete ~/.m2/repository/com/alphacephei and try again.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                name = member.filename
                if member.is_dir() or not name.startswith(AAR_MODEL_PREFIX):
                    continue
                relative = Path(name[len(AAR_MODEL_PREFIX):])
                if relative.is_absolute() or ".." in relative.parts:
                    raise ModelError(f"unsafe path {name!r} in {archive.name}")
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
        verify_pinned(staging, deep=True)
        (staging / STAMP).write_text(AAR_SHA256 + "\n", encoding="ascii")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def provision(target: Path = DEFAULT_MODEL_DIR) -> str:
    """Make sure the pinned model is at `target`. Returns what was done, in words."""
    why = "not installed yet"
    if (target / STAMP).is_file():
        try:
            verify_pinned(target, deep=False)
        except ModelError as exc:
            why = f"the copy there is damaged: {exc}"
        else:
            return f"speech model ready at {target}"
    print(f"setup: fetching the speech model {MAVEN_COORDS} ({why})", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="tingle-model-") as work:
        unpack(fetch_archive(Path(work)), target)
    return f"speech model installed at {target}"


def main() -> int:
    """Command-line entry point."""
    try:
        print(f"setup: {provision()}")
    except ModelError as exc:
        print(f"setup: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
