"""The transcript: a JSONL audit log, one event per line, written as it happens (a crash loses nothing).

It is health data, written through `assistant.privatefile`: mode 0600 (folders 0700), never through a
symlink, never to a pipe or device. Guarantees:

* one file per session: `default_path()` is unique (microseconds, process id and a random part), and every
  event carries the session's id;
* no torn records: each event is one whole line written at once; if a write fails or falls short, the file is
  cut back to the end of the last whole line, `failed` is set and TranscriptError raised (later events are
  still tried: each is whole or absent);
* bounded: each string field at most `max_field` characters, each record at most 256 KiB (and a quarter of `max_bytes`),
  and the file at most `max_bytes`; the last part is kept for the closing `end` event and a note that the
  log was cut, so the end of a session is recorded even when its middle was too long.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.core.dialogue import Reply, Turn
from assistant.errors import PrivateFileError, TranscriptError
from assistant.privatefile import open_private, state_dir

__all__ = ["MAX_FIELD_CHARS", "MAX_FILE_BYTES", "Transcript", "TranscriptError", "default_path"]

MAX_FIELD_CHARS = 4096
"""Longest string kept in any field; longer ones are cut and marked (characters)."""
MAX_ITEMS = 100
"""Most entries kept in any list or mapping field."""
MAX_NESTING = 8
"""Deepest nesting kept in a field."""
MAX_FILE_BYTES = 16 * 2**20
"""Largest transcript file (bytes)."""
MAX_RECORD_BYTES = 256 * 2**10
"""Largest single event line (bytes)."""
FINAL_EVENTS = frozenset({"end"})
"""Events that may use the space kept back at the end of a full file."""


def default_path(now: float | None = None) -> Path:
    """`$XDG_STATE_HOME/tingle/transcripts/session-<UTC time to the microsecond>-<pid>-<random>.jsonl`
    (XDG default ~/.local/state): a new name for every session, even many in the same second."""
    return state_dir() / "transcripts" / session_name(now)


def session_name(now: float | None = None) -> str:
    """`session-<UTC time to the microsecond>-<pid>-<random>.jsonl`: a new name for every session."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return f"session-{moment:%Y%m%d-%H%M%S.%f}-{os.getpid()}-{secrets.token_hex(4)}.jsonl"


@dataclass
class Transcript:
    """Appends events to a JSONL file. Use as a context manager, or call `open()` and `close()`."""

    path: Path
    content_version: str
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Written in every event: tells sessions apart even if two ever share a file."""
    max_bytes: int = MAX_FILE_BYTES
    max_field: int = MAX_FIELD_CHARS
    exclusive: bool = False
    """Refuse to open a file that already exists (for a fresh default path), instead of appending."""
    choose_with: str = "--transcript PATH"
    """The option that chooses another place, named when the file cannot be opened."""
    failed: bool = field(default=False, init=False)
    """Some event could not be written, or the file is full: the transcript is incomplete. (Fields cut to
    their size limit are marked `"truncated": true` in their record instead.)"""
    problem: str = field(default="", init=False)
    """The first failure, in words ("" while all is well)."""
    lost: int = field(default=0, init=False)
    """Events not written."""
    _fd: int = field(default=-1, init=False, repr=False)
    _full: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_bytes < 1024 or self.max_field < 16:
            raise ValueError(f"transcript limits too small: max_bytes={self.max_bytes}, max_field={self.max_field}")

    @property
    def max_record(self) -> int:
        """Largest single line (bytes); twice this is kept back for the end of a full file."""
        return min(MAX_RECORD_BYTES, self.max_bytes // 4)

    def __enter__(self) -> Transcript:
        return self.open()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            self.close()
        except TranscriptError:
            if exc_type is None:
                raise
            # an exception is already on its way out; the failure stays recorded in failed/problem

    def open(self) -> Transcript:
        """Create (mode 0600) or append to the file."""
        try:
            self._fd = open_private(self.path, append=True, exclusive=self.exclusive)
        except PrivateFileError as exc:
            raise TranscriptError(f"cannot write the transcript at {self.path}: {exc}. "
                                  f"Choose a writable place with {self.choose_with}.") from exc
        return self

    def close(self) -> None:
        """Flush to disk and close (safe to call twice). Raises TranscriptError if the data may not be safe."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
        except OSError as exc:
            self._fail(f"the transcript {self.path} could not be saved to disk ({exc.strerror})")
            raise TranscriptError(self.problem) from exc
        finally:
            os.close(fd)

    def event(self, kind: str, **fields: Any) -> None:
        """Write one event as one whole line, or nothing (then TranscriptError, and `failed` is set)."""
        try:
            self._event(kind, fields)
        except TranscriptError:
            self.lost += 1
            raise

    def _event(self, kind: str, fields: dict[str, Any]) -> None:
        if self._fd < 0:
            raise TranscriptError(f"the transcript {self.path} is not open")
        base = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": kind,
                "session_id": self.session_id, "content_version": self.content_version}
        extra = {(f"{key}_" if key in base else key): value for key, value in fields.items()}
        bounded, cut = _bound(extra, self.max_field, 0)
        record = {**base, **bounded, **({"truncated": True} if cut else {})}
        line = _line(record)
        if len(line) > self.max_record:
            line = _line({**base, "truncated": True,
                          "note": f"this record had {len(line)} bytes, more than the {self.max_record} kept"})
        final = kind in FINAL_EVENTS
        if self._full and not final:
            raise TranscriptError(f"the transcript {self.path} is full; this event was not saved")
        size = self._size()
        if size + len(line) > self.max_bytes - (0 if final else 2 * self.max_record):
            self._full_now(base, size)
            size = self._size()
            if not final or size + len(line) > self.max_bytes:
                raise TranscriptError(self.problem)
        self._write(line, size)

    def _full_now(self, base: dict[str, Any], size: int) -> None:
        if self._full:
            return
        self._full = True
        self._fail(f"the transcript {self.path} reached its size limit ({self.max_bytes} bytes); "
                   "the rest of the session is not saved, except its end")
        note = _line({**base, "event": "transcript_full", "note": self.problem})
        if size + len(note) <= self.max_bytes:
            self._write(note, size)

    def _size(self) -> int:
        try:
            return os.fstat(self._fd).st_size
        except OSError as exc:
            self._fail(f"the transcript {self.path} cannot be examined ({exc.strerror})")
            raise TranscriptError(self.problem) from exc

    def _write(self, line: bytes, size: int) -> None:
        """Append `line` whole, or cut the file back to `size` (the end of the last whole line) and raise."""
        view = memoryview(line)
        try:
            while view:
                written = os.write(self._fd, view)
                if written <= 0:  # a write that moves nothing would loop forever
                    raise OSError(0, "no data was accepted")
                view = view[written:]
        except OSError as exc:
            why = f"the transcript {self.path} could not be written ({exc.strerror})"
            if len(view) < len(line):  # part of the line went out: take it back
                try:
                    os.ftruncate(self._fd, size)
                except OSError as cut:
                    why += f", and the partial last line could not be removed ({cut.strerror})"
            self._fail(why + "; the session goes on, but not everything is saved")
            raise TranscriptError(self.problem) from exc

    def _fail(self, why: str) -> None:
        self.failed = True
        if not self.problem:
            self.problem = why

    def turn(self, turn: Turn | None, reply: Reply, at_node: str, **extra: Any) -> None:
        """Record what was heard at `at_node`, what the engine decided, and what it said."""
        heard: dict[str, Any] = {}
        if turn is not None:
            heard = {"heard": turn.text, "intent": turn.intent, "confidence": round(turn.confidence, 3),
                     "uncertain": turn.uncertain, "silence": turn.silence}
        self.event(
            "turn" if turn is not None else "start",
            node=at_node,
            **heard,
            decision=reply.decision,
            said=[{"node": u.node, "kind": u.kind.value, "text": u.text} for u in reply.utterances],
            next_node=reply.node,
            ended=reply.ended,
            **extra,
        )


_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
"""Characters that some readers take as line ends (Python's str.splitlines): escaped, so one event is one line
for every reader. (JSON escapes the ASCII control characters itself.)"""


def _line(record: dict[str, Any]) -> bytes:
    text = json.dumps(record, ensure_ascii=False, allow_nan=False)
    for char, escaped in _LINE_BREAKS.items():
        text = text.replace(char, escaped)  # such characters can only be inside JSON strings
    return (text + "\n").encode("utf-8")


def _utf8(text: str) -> str:
    """`text`, with any lone surrogate (undecodable input bytes) written out as an escape."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _bound(value: Any, cap: int, depth: int) -> tuple[Any, bool]:
    """`value` with strings cut to `cap` characters, containers to MAX_ITEMS entries and MAX_NESTING levels,
    and anything JSON cannot hold turned into text. Returns (bounded value, whether anything was cut)."""
    if value is None or isinstance(value, bool | int):
        return value, False
    if isinstance(value, float):
        return (value, False) if math.isfinite(value) else (str(value), False)
    if isinstance(value, str):
        if len(value) > cap:
            return f"{_utf8(value[:cap])}…[{len(value) - cap} more characters cut]", True
        return _utf8(value), False
    if depth >= MAX_NESTING:
        return "…[nested too deep]", True
    if isinstance(value, dict):
        entries = list(value.items())
        out: dict[str, Any] = {}
        cut = len(entries) > MAX_ITEMS
        for key, item in entries[:MAX_ITEMS]:
            name, key_cut = _bound(str(key), cap, depth + 1)
            out[name], item_cut = _bound(item, cap, depth + 1)
            cut = cut or key_cut or item_cut
        if len(entries) > MAX_ITEMS:
            out["…"] = f"{len(entries) - MAX_ITEMS} more entries cut"
        return out, cut
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        bounded = [_bound(item, cap, depth + 1) for item in items[:MAX_ITEMS]]
        values = [v for v, _ in bounded]
        if len(items) > MAX_ITEMS:
            values.append(f"…[{len(items) - MAX_ITEMS} more items cut]")
        return values, len(items) > MAX_ITEMS or any(c for _, c in bounded)
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>", False
    return _bound(str(value), cap, depth)
