"""Fetch, verify and unpack the pinned Vosk model into models/. Idempotent: `python -m assistant.models.provision`.

Uses Maven (the machine's ordinary client for Maven Central) to fetch the archive by its coordinates,
checks the archive's sha256 against the value recorded in `assistant.models.modelstore`, unpacks `assets/model-en-us/`
beside the target (`models/.unpacking-*`), verifies every file's sha256 against the manifest, writes the file
list beside them (`.manifest`: every file's size and sha256, so a copy of the folder passed with --model can be
checked before Vosk reads it), then swaps it in: the old model is renamed aside (`models/.old-*`), the new one
renamed into place, and only then is the old one deleted. A kill at any moment leaves either the old model or
the new one in place, never a mixture.

Every run first takes a lock (`models/.<name>.lock`, so two runs cannot interleave) and removes what an
interrupted run left behind: `models/.unpacking-*`, `models/.old-*`, and download folders
`$TMPDIR/tingle-model-*` whose process is gone. An installed model is checked file by file (sha256 of every
file); any damage, same-size corruption included, is repaired by installing it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from assistant.errors import ModelError
from assistant.models.modelstore import (
    AAR_MODEL_PREFIX,
    AAR_SHA256,
    DEFAULT_MODEL_DIR,
    FILE_LIST,
    MAVEN_COORDS,
    STAMP,
    file_list_text,
    read_stamp,
    sha256_file,
    stamp_text,
    verify_pinned,
)

UNPACKING = ".unpacking-"
OLD = ".old-"
DOWNLOAD = "tingle-model-"
OWNER = "owner.pid"
"""In each download folder: the process id that made it (a leftover is one whose process is gone)."""


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
    """Verify `archive`, unpack its model beside `target`, verify every file, then swap it in atomically."""
    digest = sha256_file(archive)
    if digest != AAR_SHA256:
        raise ModelError(f"the downloaded archive {archive.name} has sha256 {digest}, expected {AAR_SHA256}; "
                         "refusing to use it. Delete ~/.m2/repository/com/alphacephei and try again.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=UNPACKING, dir=target.parent))
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
                    sink.flush()
                    os.fsync(sink.fileno())
        verify_pinned(staging, deep=True)
        _write_file_list(staging)
        _write_stamp(staging, AAR_SHA256)
        swap_in(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def swap_in(staging: Path, target: Path) -> None:
    """Put the folder `staging` at `target`: the old one renamed aside, the new one renamed in, the old deleted.
    Both renames are atomic and within one folder; between them `target` is briefly absent, never mixed."""
    aside = None
    if target.exists() or target.is_symlink():
        aside = Path(tempfile.mkdtemp(prefix=OLD, dir=target.parent))
        aside.rmdir()  # only its unique name is wanted
        os.rename(target, aside)
    try:
        os.rename(staging, target)
    except OSError as exc:
        if aside is not None:
            os.rename(aside, target)  # put the old model back
        raise ModelError(f"could not move the new model into {target} ({exc.strerror})") from exc
    _sync_folder(target.parent)
    if aside is not None:
        shutil.rmtree(aside)


def _write_stamp(folder: Path, archive_sha256: str) -> None:
    """Write the stamp atomically (a reader sees the old one or the new one)."""
    temporary = folder / f"{STAMP}.tmp"
    temporary.write_text(stamp_text(folder, archive_sha256), encoding="utf-8")
    os.replace(temporary, folder / STAMP)


def _write_file_list(folder: Path) -> None:
    """Write the model's file list (modelstore.FILE_LIST) atomically, so copies of the folder can be checked."""
    temporary = folder / f"{FILE_LIST}.tmp"
    temporary.write_text(file_list_text(), encoding="utf-8")
    os.replace(temporary, folder / FILE_LIST)


def _file_list_current(folder: Path) -> bool:
    try:
        return (folder / FILE_LIST).read_text(encoding="utf-8") == file_list_text()
    except (OSError, UnicodeDecodeError):
        return False  # none, or unreadable: written again


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def provisioning_lock(target: Path) -> Iterator[None]:
    """Held while provisioning `target`: a second run waits instead of interleaving with the first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def clean_leftovers(target: Path, temp_root: Path | None = None) -> list[Path]:
    """Remove what interrupted runs left behind (call with the lock held). Returns what was removed."""
    removed = []
    if target.parent.is_dir():
        for entry in sorted(target.parent.iterdir()):
            if entry.name.startswith((UNPACKING, OLD)) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
                removed.append(entry)
    root = temp_root or Path(tempfile.gettempdir())
    for entry in sorted(root.glob(f"{DOWNLOAD}*")):
        if entry.is_dir() and not entry.is_symlink() and entry.lstat().st_uid == os.geteuid() \
                and not _owner_alive(entry):
            shutil.rmtree(entry)
            removed.append(entry)
    return removed


def _owner_alive(folder: Path) -> bool:
    try:
        pid = int((folder / OWNER).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return False  # no readable owner: made by an older version or cut off while starting; not in use
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


@contextlib.contextmanager
def download_folder() -> Iterator[Path]:
    """A temporary folder for the download, marked with this process's id, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=DOWNLOAD))
    try:
        (folder / OWNER).write_text(f"{os.getpid()}\n", encoding="ascii")
        yield folder
    finally:
        shutil.rmtree(folder)


def provision(target: Path = DEFAULT_MODEL_DIR) -> str:
    """Make sure the pinned model is at `target`, every file checked. Returns what was done, in words."""
    with provisioning_lock(target):
        for leftover in clean_leftovers(target):
            print(f"setup: removed {leftover}, left by an interrupted run", file=sys.stderr)
        why = "not installed yet"
        if (target / STAMP).is_file():
            try:
                verify_pinned(target, deep=True)
            except ModelError as exc:
                why = f"the copy there is damaged: {exc}"
            else:
                if not read_stamp(target):  # an older stamp without fingerprints: record them now
                    _write_stamp(target, AAR_SHA256)
                if not _file_list_current(target):  # installed by an older version: add the file list
                    _write_file_list(target)
                return f"speech model ready at {target}"
        elif target.exists():
            why = "the copy there was never completed"
        print(f"setup: fetching the speech model {MAVEN_COORDS} ({why})", file=sys.stderr)
        with download_folder() as work:
            unpack(fetch_archive(work), target)
        return f"speech model installed at {target}"


def main() -> int:
    """Command-line entry point."""
    try:
        print(f"setup: {provision()}")
    except ModelError as exc:
        print(f"setup: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"setup: the speech model could not be installed ({exc}); check the disk and run scripts/setup again",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
