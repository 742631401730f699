"""The session loop: wires the dialogue engine to a channel (text or voice) and the transcript."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from assistant.dialogue import Dialogue, Reply, Turn, Utterance
from assistant.errors import AssistantError
from assistant.grammar import Listener
from assistant.transcript import Transcript


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
    (reported to the user; the transcript keeps everything up to that point).
    """
    reply = dialogue.start()
    transcript.turn(None, reply, at_node=dialogue.content.start)
    _deliver(channel, reply)
    while not reply.ended and reply.listener is not None:
        at_node = reply.node
        try:
            heard = channel.listen(reply.listener)
        except AssistantError as exc:
            channel.notice(str(exc))
            transcript.event("error", node=at_node, message=str(exc))
            turn = Turn(intent="stop", text="(input failed)")
            reply = dialogue.handle(turn)
            transcript.turn(turn, reply, at_node=at_node, note="input failed; closing with the summary")
            _deliver(channel, reply)
            break
        if heard is None:
            turn = Turn(intent="stop", text="(end of input)")
            reply = dialogue.handle(turn)
            transcript.turn(turn, reply, at_node=at_node, note="end of input; closing with the summary")
        else:
            turn = Turn(intent=heard.intent, text=heard.text, confidence=heard.confidence,
                        uncertain=heard.uncertain, silence=heard.silence)
            reply = dialogue.handle(turn)
            transcript.turn(turn, reply, at_node=at_node, **({"audio": heard.details} if heard.details else {}))
        _deliver(channel, reply)
    transcript.event("end", node=reply.node, disposition=dialogue.state.disposition)
    return reply


def _deliver(channel: Channel, reply: Reply) -> None:
    if reply.rate_change:
        channel.change_rate(reply.rate_change)
    for utterance in reply.utterances:
        channel.say(utterance)
