"""Private files: every file the program writes holds health data, so it is made the same careful way.

`open_private(path)`:

* missing parent folders are created with mode 0700, whatever the umask;
* the file's own folder must be a real folder, not a symbolic link (opened with O_NOFOLLOW, and the file is
  opened relative to it, so the folder cannot be swapped between the check and the open);
* folders of the program's own state tree (`state_dir()`) that belong to this user and are open to others are
  tightened to 0700;
* the file is opened with O_NOFOLLOW and O_NONBLOCK (a symlink is refused; a FIFO is refused at once instead
  of blocking until a reader comes), must then be a regular file owned by this user, and gets mode 0600.
  It is created with mode 0600, never made private afterwards.

Problems raise PrivateFileError with the reason in words; callers add what to do.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from assistant.errors import PrivateFileError

FILE_MODE = 0o600
DIR_MODE = 0o700
_REASONS = {
    errno.ELOOP: "it is a symbolic link (refused: it could point anywhere)",
    errno.ENXIO: "it is not a regular file (a pipe or device)",
    errno.EISDIR: "it is a folder, not a file",
    errno.EEXIST: "it already exists",
}


def state_dir() -> Path:
    """The program's own state folder: `$XDG_STATE_HOME/tingle` (default ~/.local/state/tingle). As the XDG
    spec says, a relative XDG_STATE_HOME is ignored; an empty or relative HOME is not trusted either (the
    account's home folder from the password database is used): a transcript never lands in whatever folder the
    program happened to start in."""
    base = os.environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(base):
        return Path(base) / "tingle"
    return _home() / ".local" / "state" / "tingle"


def _home() -> Path:
    home = os.environ.get("HOME", "")
    if os.path.isabs(home):
        return Path(home)
    import pwd

    try:
        home = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        home = ""
    if not os.path.isabs(home):
        raise PrivateFileError("there is no home folder to keep transcripts in (HOME is empty or relative); "
                               "set HOME or XDG_STATE_HOME to an absolute folder, or give --transcript FILE")
    return Path(home)


def open_private(path: Path, *, append: bool = True, exclusive: bool = False) -> int:
    """Open `path` for writing as a private file (see the module docstring). Returns a blocking file
    descriptor; `append`: write at the end, else the file is emptied; `exclusive`: the file must be new."""
    path = Path(os.path.abspath(path))
    if path.name in ("", ".", ".."):
        raise PrivateFileError(f"{path} is a folder, not a file")
    make_private_dirs(path.parent)
    folder = _open_folder(path.parent)
    try:
        _tighten(path.parent, folder)
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        flags |= (os.O_APPEND if append else 0) | (os.O_EXCL if exclusive else 0)
        try:
            fd = os.open(path.name, flags, FILE_MODE, dir_fd=folder)
        except OSError as exc:
            raise PrivateFileError(f"{path}: {_REASONS.get(exc.errno or 0, exc.strerror)}") from exc
    finally:
        os.close(folder)
    try:
        _check_file(path, fd, append)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_file(path: Path, fd: int, append: bool) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise PrivateFileError(f"{path}: it is not a regular file (a pipe or device)")
    if info.st_uid != os.geteuid():
        raise PrivateFileError(f"{path}: it belongs to another user")
    try:
        if stat.S_IMODE(info.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
        if not append:
            os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
    except OSError as exc:
        raise PrivateFileError(f"{path}: {exc.strerror}") from exc


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and any missing parents with mode 0700 (not left to the umask)."""
    missing = []
    current = Path(os.path.abspath(folder))
    while not os.path.lexists(current) and current != current.parent:  # climbs to "/", which exists
        missing.append(current)
        current = current.parent
    for made in reversed(missing):
        try:
            os.mkdir(made, DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: checked when opened
        except OSError as exc:
            raise PrivateFileError(f"cannot create the folder {made}: {exc.strerror}") from exc
        fd = _open_folder(made)
        try:
            os.fchmod(fd, DIR_MODE)  # mkdir's mode went through the umask
        finally:
            os.close(fd)


def _open_folder(folder: Path) -> int:
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(folder):
            reason = "it is a symbolic link (refused: it could point anywhere)"
        elif exc.errno == errno.ENOTDIR:
            reason = "it is not a folder"
        else:
            reason = str(exc.strerror)
        raise PrivateFileError(f"the folder {folder}: {reason}") from exc


def _tighten(folder: Path, fd: int) -> None:
    """Tighten `folder` (open as `fd`) and its parents up to the state folder, when they are the program's
    own: inside `state_dir()` and owned by this user. With no state folder at all (no home folder), nothing is
    inside it: a file at a path the user gave is still written."""
    try:
        root = state_dir()
    except PrivateFileError:
        return
    if folder != root and root not in folder.parents:
        return
    _tighten_one(folder, fd)
    for parent in folder.parents:
        if parent != root and root not in parent.parents:
            break
        parent_fd = _open_folder(parent)
        try:
            _tighten_one(parent, parent_fd)
        finally:
            os.close(parent_fd)


def _tighten_one(folder: Path, fd: int) -> None:
    info = os.fstat(fd)
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        try:
            os.fchmod(fd, DIR_MODE)
        except OSError as exc:
            raise PrivateFileError(f"the folder {folder} is open to other users and cannot be made private: "
                                   f"{exc.strerror}") from exc
