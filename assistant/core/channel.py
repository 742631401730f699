"""The contract between the session loop and a channel (text or voice): what a channel must do, and what it
heard for one turn. Pure: channels and wrappers (pacing) in any layer implement it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from assistant.core.dialogue import Utterance
from assistant.core.grammar import Listener


@dataclass(frozen=True)
class Heard:
    """What a channel heard (or read) for one turn."""

    text: str
    """Raw text ("" when nothing was heard)."""
    intent: str | None
    """Intent from the prompt's phrase table, or None."""
    confidence: float = 1.0
    """0..1."""
    uncertain: bool = False
    """The recognizer doubts the result."""
    silence: bool = False
    """No speech before the timeout."""
    noisy: bool = False
    """Speech was heard but not understood, in a room too loud (or from a voice too quiet) to hear it well."""
    details: dict[str, Any] | None = None
    """Channel-specific facts for the transcript (timings, alternatives)."""


class Channel(Protocol):
    """A way to talk with the user: say things, and hear one answer at a time."""

    def say(self, utterance: Utterance) -> None:
        """Deliver one utterance (speak or print). Must not raise for a speech failure: fall back to text."""

    def listen(self, listener: Listener) -> Heard | None:
        """Wait for one answer. None means the input has ended (end of file, no more audio files)."""

    def change_rate(self, step: int) -> None:
        """Speak slower (-1) or faster (+1) from now on."""

    def notice(self, message: str) -> None:
        """Tell the user about a problem (printed, and spoken when possible)."""
