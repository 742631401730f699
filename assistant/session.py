"""The session loop: wires the dialogue engine to a channel (text or voice) and the transcript."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.dialogue import Dialogue, Reply, Turn, Utterance
from assistant.errors import AssistantError
from assistant.grammar import Listener
from assistant.transcript import Transcript, TranscriptError


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


def run_session(dialogue: Dialogue, channel: Channel, transcript: Transcript) -> Reply:
    """Run one conversation to its end. Returns the final reply.

    Ends on the engine's own close, on end of input (as if the user said "stop"), or on a channel failure
    (reported to the user; the transcript keeps everything up to that point). Each reply is delivered
    before it is logged, so a failing transcript can never hold back advice.
    """
    log = _Log(transcript, channel)
    reply = dialogue.start()
    _deliver(channel, reply)
    log.turn(None, reply, at_node=dialogue.content.start)
    while not reply.ended and reply.listener is not None:
        at_node = reply.node
        extra: dict[str, Any] = {}
        try:
            heard = channel.listen(reply.listener)
        except AssistantError as exc:
            channel.notice(str(exc))
            log.event("error", node=at_node, message=str(exc))
            heard, extra = None, {"note": "input failed; closing with the summary"}
        if heard is None:
            turn = Turn(intent="stop", text="(end of input)")
            extra = extra or {"note": "end of input; closing with the summary"}
        else:
            turn = Turn(intent=heard.intent, text=heard.text, confidence=heard.confidence,
                        uncertain=heard.uncertain, silence=heard.silence)
            extra = {"audio": heard.details} if heard.details else {}
        reply = dialogue.handle(turn)
        _deliver(channel, reply)
        log.turn(turn, reply, at_node=at_node, **extra)
        if "note" in extra:
            break
    log.event("end", node=reply.node, disposition=dialogue.state.disposition)
    return reply


@dataclass
class _Log:
    """Writes to the transcript; if that fails, tells the user once and lets the session go on."""

    transcript: Transcript
    channel: Channel
    failed: bool = False

    def turn(self, turn: Turn | None, reply: Reply, at_node: str, **extra: Any) -> None:
        self._guard(lambda: self.transcript.turn(turn, reply, at_node=at_node, **extra))

    def event(self, kind: str, **fields: Any) -> None:
        self._guard(lambda: self.transcript.event(kind, **fields))

    def _guard(self, write: Callable[[], None]) -> None:
        if self.failed:
            return
        try:
            write()
        except TranscriptError as exc:
            self.failed = True
            self.channel.notice(str(exc))


def _deliver(channel: Channel, reply: Reply) -> None:
    if reply.rate_change:
        channel.change_rate(reply.rate_change)
    for utterance in reply.utterances:
        channel.say(utterance)
