"""Text mode: typed answers in, plain printed lines out (screen-reader friendly, no colour codes).

Input is read as bytes and decoded leniently: invalid UTF-8, NUL and other control bytes, a closed
stdin, or a line of many megabytes never end the session with a traceback. Output that cannot be
written (a closed pipe, a full disk) is reported once on stderr and ends the input, so the session closes.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from assistant.core.channel import Heard
from assistant.core.dialogue import Utterance
from assistant.core.grammar import Listener

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 4096
"""Longest typed line kept (bytes); the rest of a longer line is read and dropped."""
_CONTROL = {c: " " for c in range(32) if c not in (9,)} | {127: " "}


def clean_line(raw: bytes) -> str:
    """Bytes of one typed line -> text: invalid UTF-8 replaced, control characters and NUL as spaces."""
    return raw.decode("utf-8", errors="replace").translate(_CONTROL).strip()


def _stdin_bytes() -> BinaryIO | None:
    stream = sys.stdin
    if stream is None or stream.closed:
        return None
    return getattr(stream, "buffer", None)


@dataclass
class TextChannel:
    """Reads one answer per line; an empty line counts as silence; end of input ends the session."""

    stdin: BinaryIO | None = field(default_factory=_stdin_bytes)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    output_error: str | None = None
    """Why output stopped working, if it did."""

    def say(self, utterance: Utterance) -> None:
        self._print(utterance.text)

    def listen(self, listener: Listener) -> Heard | None:
        if self.output_error is not None or self.stdin is None:
            return None
        if _isatty(self.stdin):
            self._print("> ", end="")
        try:
            line = self.stdin.readline(MAX_LINE_BYTES)
            if line and not line.endswith(b"\n") and len(line) >= MAX_LINE_BYTES:
                dropped = self._drain_line()
                log.warning("a typed line of more than %d bytes was cut (%d bytes dropped)", MAX_LINE_BYTES, dropped)
        except (OSError, ValueError) as exc:  # a closed or unreadable stdin ends the input
            log.warning("cannot read the typed input (%s); closing the session", exc)
            return None
        if not line:
            return None
        text = clean_line(line)
        if not text:
            return Heard(text="", intent=None, silence=True)
        understood = listener.understand(text)
        # An answer found inside a longer line is marked uncertain: a "no" to a warning sign is read back.
        return Heard(text=text, intent=understood.intent, uncertain=not understood.whole)

    def _drain_line(self) -> int:
        dropped = 0
        while self.stdin is not None:
            chunk = self.stdin.readline(1 << 16)
            dropped += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                return dropped
        return dropped

    def change_rate(self, step: int) -> None:
        """Text has no speaking rate; nothing to do."""

    def notice(self, message: str) -> None:
        self._print(message)

    def _print(self, text: str, end: str = "\n") -> None:
        if self.output_error is not None:
            return
        try:
            print(text, end=end, file=self.stdout, flush=True)
        except OSError as exc:
            self.output_error = exc.strerror or str(exc)
            log.warning("cannot write the output (%s); closing the session", self.output_error)
            silence_broken_output(self.stdout)


def _isatty(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def silence_broken_output(stream: TextIO) -> None:
    """Point a broken stdout at /dev/null so the interpreter's final flush cannot fail again."""
    if stream is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError) as exc:
        log.warning("could not detach the broken output: %s", exc)
