"""The transcript: a JSONL audit log, one event per line, written as it happens (a crash loses nothing).

It is health data: the file is created with mode 0600 in a folder with mode 0700.
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.dialogue import Reply, Turn
from assistant.errors import AssistantError


class TranscriptError(AssistantError):
    """The transcript cannot be written."""


def default_path(now: float | None = None) -> Path:
    """`$XDG_STATE_HOME/tingle/transcripts/session-<UTC time>.jsonl` (XDG default ~/.local/state)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    stamp = datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y%m%d-%H%M%S")
    return base / "tingle" / "transcripts" / f"session-{stamp}.jsonl"


@dataclass
class Transcript:
    """Appends events to a JSONL file. Use as a context manager, or call `close()`."""

    path: Path
    content_version: str
    _fd: int = field(default=-1, init=False)

    def __enter__(self) -> Transcript:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> Transcript:
        """Create (mode 0600) or append to the file."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise TranscriptError(
                f"cannot write the transcript at {self.path}: {exc.strerror}. "
                "Choose a writable place with --transcript PATH."
            ) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise TranscriptError(f"the transcript path {self.path} is not a regular file; "
                                  "choose a file with --transcript PATH.")
        os.fchmod(fd, 0o600)
        self._fd = fd
        return self

    def close(self) -> None:
        """Close the file (safe to call twice)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def event(self, kind: str, **fields: Any) -> None:
        """Write one event line at once (one unbuffered write)."""
        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": kind,
                  "content_version": self.content_version, **fields}
        data = memoryview((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError as exc:
            raise TranscriptError(f"the transcript {self.path} could not be written ({exc.strerror}); "
                                  "the session goes on, but it is not being saved") from exc

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
