"""Faults in the transcript and in every private file: disk full, short writes, read-only places, FIFOs,
devices, symlinks, folder modes, huge fields, unique names. Issue 8, items 4-6 and the size half of 10.

Faults are injected at the system-call layer (a fake `os.write` / `os.ftruncate` for the transcript's own file
descriptor only), so the code under test runs its real path.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_support import time_limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.app.transcript import MAX_FIELD_CHARS, Transcript, default_path
from assistant.errors import AudioDeviceError, TranscriptError
from assistant.privatefile import open_private, state_dir
from assistant.speech.audio import Pcm
from assistant.speech.speaker import WavFileOutput

IS_ROOT = os.geteuid() == 0


@pytest.fixture()
def umask_zero() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture()
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def whole_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the file, each a complete JSON record (fails on a torn line)."""
    text = path.read_bytes().decode("utf-8")
    assert text == "" or text.endswith("\n"), f"torn last line: {text[-80:]!r}"
    return [json.loads(line) for line in text.split("\n")[:-1]]


def fake_write(monkeypatch: pytest.MonkeyPatch, transcript: Transcript,
               behaviour: Callable[[int, Any], int]) -> None:
    """Route os.write for the transcript's descriptor (only) through `behaviour(fd, data)`."""
    real = os.write

    def write(fd: int, data: Any) -> int:
        return behaviour(fd, data) if fd == transcript._fd else real(fd, data)

    monkeypatch.setattr(os, "write", write)


def no_space(fd: int, data: Any) -> int:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# --- one file per session, with its id ----------------------------------------------------------------------

def test_default_names_are_unique_even_within_a_second(state: Path) -> None:
    """500 back-to-back sessions made 80 files of up to 8 sessions each (names had one-second resolution)."""
    now = 1_800_000_000.0
    names = {default_path(now) for _ in range(500)}  # the same instant, even
    assert len(names) == 500
    assert all(path.parent == state / "tingle" / "transcripts" for path in names)


def test_every_event_names_its_session(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Transcript(path, "v1") as first:
        first.event("session", mode="text")
        first.event("end")
    with Transcript(path, "v1") as second:
        second.event("session", mode="voice")
    events = whole_lines(path)
    assert [e["session_id"] for e in events] == [first.session_id] * 2 + [second.session_id]
    assert first.session_id != second.session_id


def test_exclusive_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("", encoding="utf-8")
    with pytest.raises(TranscriptError, match="already exists"):
        Transcript(path, "v1", exclusive=True).open()


def test_reserved_keys_cannot_be_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Transcript(path, "v1") as transcript:
        transcript.event("turn", time="yesterday", session_id="forged")
    (event,) = whole_lines(path)
    assert event["session_id"] == transcript.session_id and event["session_id_"] == "forged"
    assert event["time"] != "yesterday" and event["time_"] == "yesterday"


# --- disk full and other write failures ---------------------------------------------------------------------

def test_disk_full_mid_session_leaves_whole_lines_and_says_so(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """It left a torn partial JSON line, no end event, and claimed success."""
    path = tmp_path / "t.jsonl"
    with Transcript(path, "v1") as transcript:
        transcript.event("session")
        fake_write(monkeypatch, transcript, no_space)
        with pytest.raises(TranscriptError, match="No space left"):
            transcript.event("turn", heard="yes")
        assert transcript.failed and transcript.lost == 1 and "No space left" in transcript.problem
        monkeypatch.undo()  # space comes back: later events are whole again
        transcript.event("end")
    assert [e["event"] for e in whole_lines(path)] == ["session", "end"]
    assert transcript.failed  # stays set: something was lost


def test_a_short_write_then_failure_is_cut_back_to_the_last_whole_line(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.jsonl"
    real = os.write
    calls = []

    def half_then_full(fd: int, data: Any) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data[: len(data) // 2]))  # the disk takes half the line...
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # ...then is full

    with Transcript(path, "v1") as transcript:
        transcript.event("session")
        fake_write(monkeypatch, transcript, half_then_full)
        with pytest.raises(TranscriptError):
            transcript.event("turn", heard="x" * 500)
    assert len(calls) == 2
    assert [e["event"] for e in whole_lines(path)] == ["session"]


def test_when_the_cut_back_fails_the_message_says_the_line_may_be_torn(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.jsonl"
    real = os.write
    with Transcript(path, "v1") as transcript:
        fake_write(monkeypatch, transcript, lambda fd, data: real(fd, bytes(data[:10])) if len(data) > 10
                   else no_space(fd, data))

        def no_truncate(fd: int, size: int) -> None:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        monkeypatch.setattr(os, "ftruncate", no_truncate)
        with pytest.raises(TranscriptError, match="could not be removed"):
            transcript.event("turn")


def test_a_write_that_accepts_nothing_cannot_loop_forever(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Transcript(tmp_path / "t.jsonl", "v1") as transcript:
        fake_write(monkeypatch, transcript, lambda fd, data: 0)
        with time_limit(3.0), pytest.raises(TranscriptError):
            transcript.event("turn")
    assert whole_lines(tmp_path / "t.jsonl") == []


def test_a_failed_fsync_at_close_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transcript = Transcript(tmp_path / "t.jsonl", "v1").open()
    transcript.event("session")

    def bad_fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", bad_fsync)
    with pytest.raises(TranscriptError, match="saved to disk"):
        transcript.close()
    assert transcript.failed
    transcript.close()  # closed for good: safe again


@pytest.mark.parametrize("device", ["/dev/full", "/dev/null"])
def test_a_device_is_refused(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(TranscriptError, match="not a regular file"):
        Transcript(Path(device), "v1").open()


@pytest.mark.skipif(IS_ROOT, reason="root ignores folder permissions")
def test_a_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(TranscriptError, match=r"Permission denied.*--transcript"):
            Transcript(folder / "t.jsonl", "v1").open()
    finally:
        folder.chmod(0o700)


def test_a_read_only_file_system_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(Injected: EROFS from the open of the file itself, as a read-only mount gives, even to root.)"""
    real = os.open

    def read_only(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if dir_fd is not None and flags & os.O_WRONLY:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(TranscriptError, match=r"Read-only file system.*--transcript"):
        Transcript(tmp_path / "t.jsonl", "v1").open()


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """It blocked forever before the greeting, waiting for a reader."""
    fifo = tmp_path / "t.jsonl"
    os.mkfifo(fifo)
    with time_limit(3.0), pytest.raises(TranscriptError, match="not a regular file"):
        Transcript(fifo, "v1").open()
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # with a reader, the open succeeds: still refused
    try:
        with time_limit(3.0), pytest.raises(TranscriptError, match="not a regular file"):
            Transcript(fifo, "v1").open()
    finally:
        os.close(reader)


# --- symlinks and modes ------------------------------------------------------------------------------------------

def test_a_symlinked_file_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep", encoding="utf-8")
    link = tmp_path / "t.jsonl"
    link.symlink_to(target)
    with pytest.raises(TranscriptError, match="symbolic link"):
        Transcript(link, "v1").open()
    assert target.read_text(encoding="utf-8") == "keep"


def test_a_symlinked_parent_folder_is_refused(tmp_path: Path) -> None:
    """It was followed."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "transcripts").symlink_to(elsewhere)
    with pytest.raises(TranscriptError, match=r"transcripts: it is a symbolic link"):
        Transcript(tmp_path / "transcripts" / "t.jsonl", "v1").open()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.usefixtures("umask_zero")
def test_created_folders_are_0700_whatever_the_umask(state: Path) -> None:
    """They followed the umask (0777 at umask 000)."""
    path = default_path()
    with Transcript(path, "v1") as transcript:
        transcript.event("session")
    assert mode(path) == 0o600
    for folder in (state, state / "tingle", state / "tingle" / "transcripts"):
        assert mode(folder) == 0o700, folder


@pytest.mark.usefixtures("umask_zero")
def test_an_open_transcripts_folder_of_ours_is_tightened(state: Path) -> None:
    """An existing 0777 transcripts folder was left open."""
    folder = state / "tingle" / "transcripts"
    folder.mkdir(parents=True)
    for each in (state / "tingle", folder):
        each.chmod(0o777)
    with Transcript(default_path(), "v1") as transcript:
        transcript.event("session")
    assert mode(folder) == 0o700 and mode(state / "tingle") == 0o700


@pytest.mark.usefixtures("umask_zero", "state")
def test_a_folder_chosen_by_the_user_keeps_its_mode(tmp_path: Path) -> None:
    """Outside the program's own state folder, an existing folder is the user's business (the file is 0600)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    with Transcript(folder / "t.jsonl", "v1"):
        pass
    assert mode(folder) == 0o755 and mode(folder / "t.jsonl") == 0o600


@pytest.mark.skipif(not IS_ROOT, reason="needs root to give a file to another user")
def test_a_file_of_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("", encoding="utf-8")
    os.chown(path, 65534, 65534)
    with pytest.raises(TranscriptError, match="another user"):
        Transcript(path, "v1").open()


# --- --audio-out: the same rules ---------------------------------------------------------------------------------

@pytest.mark.usefixtures("umask_zero")
def test_audio_out_is_private(tmp_path: Path) -> None:
    """It was written with mode 0644."""
    path = tmp_path / "new" / "said.wav"
    output = WavFileOutput(path).open()
    output.play(Pcm(bytes(4410), 22050))
    output.close()
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    with wave.open(str(path), "rb") as reader:
        assert reader.getnframes() == 2205


def test_audio_out_never_follows_a_symlink(tmp_path: Path) -> None:
    """It followed the symlink and overwrote its target."""
    target = tmp_path / "precious.txt"
    target.write_text("keep", encoding="utf-8")
    link = tmp_path / "said.wav"
    link.symlink_to(target)
    with pytest.raises(AudioDeviceError, match=r"symbolic link.*--audio-out"):
        WavFileOutput(link).open()
    assert target.read_text(encoding="utf-8") == "keep"


def test_audio_out_refuses_a_fifo_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "said.wav"
    os.mkfifo(fifo)
    with time_limit(3.0), pytest.raises(AudioDeviceError, match="not a regular file"):
        WavFileOutput(fifo).open()


def test_audio_out_replaces_an_old_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "said.wav"
    path.write_bytes(b"x" * 100_000)
    path.chmod(0o644)
    output = WavFileOutput(path).open()
    output.close()
    assert mode(path) == 0o600 and path.stat().st_size == 44


def test_private_files_refuse_a_folder_path(tmp_path: Path) -> None:
    from assistant.errors import PrivateFileError

    with pytest.raises(PrivateFileError, match="folder"):
        open_private(tmp_path)
    assert state_dir().name == "tingle"


@pytest.mark.parametrize(("home", "xdg", "expected"), [
    ("/home/a", "/state", "/state/tingle"),
    ("/home/a", "", "/home/a/.local/state/tingle"),
    ("/home/a", "relative/state", "/home/a/.local/state/tingle"),  # the XDG spec: a relative path is ignored
    ("", None, "PASSWD/.local/state/tingle"),  # not the folder the program started in
    ("relative", "also/relative", "PASSWD/.local/state/tingle"),
])
def test_the_state_folder_is_always_absolute(monkeypatch: pytest.MonkeyPatch, home: str, xdg: str | None,
                                             expected: str) -> None:
    import pwd

    monkeypatch.setenv("HOME", home)
    if xdg is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", xdg)
    passwd = pwd.getpwuid(os.getuid()).pw_dir
    assert str(state_dir()) == expected.replace("PASSWD", passwd)


def test_with_no_home_folder_at_all_a_file_the_user_named_is_still_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An account with no usable home (HOME empty, no password-database entry): the state folder cannot be
    found, but --transcript FILE and --audio-out name their own place and still work."""
    import pwd

    from assistant.errors import PrivateFileError

    def no_entry(uid: int) -> Any:
        raise KeyError(uid)

    monkeypatch.setenv("HOME", "")
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    with pytest.raises(PrivateFileError, match="--transcript FILE"):
        state_dir()
    fd = open_private(tmp_path / "given" / "t.jsonl")
    os.write(fd, b"{}\n")
    os.close(fd)
    assert (tmp_path / "given" / "t.jsonl").read_bytes() == b"{}\n"


# --- bounded sizes -------------------------------------------------------------------------------------------

def test_a_10_mb_answer_is_stored_once_and_cut(tmp_path: Path) -> None:
    """A 10 MB typed line was stored (twice) in full."""
    path = tmp_path / "t.jsonl"
    huge = "a" * 10_000_000
    with Transcript(path, "v1") as transcript:
        transcript.event("turn", heard=huge, said=[{"text": huge}])
    (event,) = whole_lines(path)
    assert path.stat().st_size < 3 * MAX_FIELD_CHARS
    assert event["truncated"] is True and event["heard"].startswith("a" * MAX_FIELD_CHARS)
    assert "more characters cut" in event["heard"]


def test_the_file_is_bounded_and_still_ends_with_its_end_event(tmp_path: Path) -> None:
    """Nothing bounded a transcript's size."""
    path = tmp_path / "t.jsonl"
    limit = 64 * 1024
    with Transcript(path, "v1", max_bytes=limit) as transcript:
        transcript.event("session")
        refused = 0
        for n in range(2000):
            try:
                transcript.event("turn", n=n, heard="x" * 200)
            except TranscriptError:
                refused += 1
        transcript.event("end", disposition="self_care")
    events = whole_lines(path)
    assert path.stat().st_size <= limit
    assert refused > 0 and transcript.failed and transcript.lost == refused
    assert [e["event"] for e in events[-2:]] == ["transcript_full", "end"]


def test_odd_values_are_still_json(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Transcript(path, "v1") as transcript:
        transcript.event("turn", nan=float("nan"), inf=float("inf"), raw=b"\x00\x01", tags={"b", "a"},
                         path=tmp_path, lone="\udc80 surrogate", nested=[[[[[[[[[["deep"]]]]]]]]]])
    (event,) = whole_lines(path)
    assert event["nan"] == "nan" and event["raw"] == "<2 bytes>" and sorted(event["tags"]) == ["a", "b"]
    assert event["path"] == str(tmp_path) and "surrogate" in event["lone"]
    assert "nested too deep" in json.dumps(event["nested"])


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300) | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=150) | st.dictionaries(st.text(max_size=20), inner, max_size=150),
    max_leaves=400,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(fields=st.dictionaries(st.text(min_size=1, max_size=30), JSONISH, max_size=8),
       text=st.text(alphabet=st.characters(codec="utf-8"), max_size=20_000) | st.text(max_size=50))
def test_any_fields_give_one_bounded_json_line(tmp_path: Path, fields: dict[str, Any], text: str) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.unlink(missing_ok=True)
    with time_limit(5.0), Transcript(path, "v1", max_field=500) as transcript:
        transcript.event("turn", heard=text, **{f"f_{k}": v for k, v in fields.items()})
    events = whole_lines(path)
    assert len(events) == 1
    assert path.stat().st_size <= transcript.max_record
