"""The session loop: wires the dialogue engine to a channel (text or voice) and the transcript."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

from assistant.app.transcript import TranscriptError
from assistant.core.channel import Channel
from assistant.core.dialogue import Dialogue, Reply, Turn
from assistant.errors import AssistantError

log = logging.getLogger(__name__)


class SessionInterrupted(BaseException):
    """The process was asked to stop (SIGTERM, SIGHUP): the session closes with its safety net."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(f"stopped by {name}")
        self.signum = signum
        self.name = name


@contextmanager
def signals_interrupt_session(names: Sequence[str] = ("SIGTERM", "SIGHUP", "SIGQUIT")) -> Iterator[None]:
    """While inside, these signals raise SessionInterrupted, so a running session says its safety net and
    writes its end event (SIGINT is Ctrl-C: KeyboardInterrupt, closed the same way). Handlers are restored after."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise SessionInterrupted(signum, signal.Signals(signum).name)

    wanted = [s for s in (getattr(signal, n, None) for n in names) if s is not None]
    previous = {s: signal.signal(s, interrupt) for s in wanted}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Recorder(Protocol):
    """Where the session's events go (the transcript)."""

    def event(self, kind: str, **fields: Any) -> None:
        """Write one event."""

    def turn(self, turn: Turn | None, reply: Reply, at_node: str, **extra: Any) -> None:
        """Write one turn."""


@dataclass
class Outcome:
    """How a session ended."""

    reply: Reply
    """The last reply."""
    transcript_ok: bool
    """Every event was written."""
    how: str
    """'closed' (the conversation ended), 'end of input', 'input failed', 'output failed' (the replies could not be
    shown: a full disk, a closed pipe), or 'interrupted: <why>'."""
    error: str = ""
    """With 'input failed' or 'output failed': what failed (the model, the microphone, an audio file, the
    output), in words."""


def run_session(dialogue: Dialogue, channel: Channel, transcript: Recorder) -> Outcome:
    """Run one conversation to its end.

    Ends on the engine's own close, on end of input or a failing input (as if the user said "stop": the
    advice, with its fail-safe floor, and the safety net are still said), or on an interruption (a
    signal, Ctrl-C), which is closed the same way before it is passed on. Each reply is delivered before
    it is logged, so a failing transcript can never hold back advice.
    """
    journal = _Log(transcript, channel)
    reply = dialogue.start()
    how, error = "closed", ""
    try:
        _deliver(channel, reply)
        journal.turn(None, reply, at_node="opening")
        while not reply.ended and reply.listener is not None:
            at_node = reply.node
            extra: dict[str, Any] = {}
            try:
                heard = channel.listen(reply.listener)
            except AssistantError as exc:
                channel.notice(str(exc))
                journal.event("error", node=at_node, message=str(exc))
                heard, how, error = None, "input failed", str(exc)
            if heard is None:
                output_error = getattr(channel, "output_error", None)  # a TextChannel's stdout that failed
                if how == "closed" and output_error:
                    how, error = "output failed", f"the output could not be written ({output_error})"
                how = "end of input" if how == "closed" else how
                turn = Turn(intent="stop", text=f"({how})")
                extra = {"note": f"{how}; closing with the advice and the safety net"}
            else:
                turn = Turn(intent=heard.intent, text=heard.text, confidence=heard.confidence,
                            uncertain=heard.uncertain, silence=heard.silence, noisy=heard.noisy)
                extra = {"audio": heard.details} if heard.details else {}
            reply = dialogue.handle(turn)
            _deliver(channel, reply)
            journal.turn(turn, reply, at_node=at_node, **extra)
            if "note" in extra:
                break
    except (SessionInterrupted, KeyboardInterrupt) as exc:
        how = f"interrupted: {exc}" if str(exc) else "interrupted: Ctrl-C"
        reply = _close_safely(dialogue, channel, journal, reply, how)
        journal.event("end", node=reply.node, level=reply.level, how=how)
        raise
    journal.event("end", node=reply.node, level=reply.level, how=how)
    return Outcome(reply=reply, transcript_ok=not journal.failed, how=how, error=error)


def _close_safely(dialogue: Dialogue, channel: Channel, journal: _Log, reply: Reply, how: str) -> Reply:
    """Say the closing (advice, fail-safe, safety net) when the session is cut short."""
    if reply.ended:
        return reply
    turn = Turn(intent="stop", text=f"({how})")
    at_node = reply.node
    closing = dialogue.handle(turn)
    note = f"{how}; closing with the advice and the safety net"
    try:
        _deliver(channel, closing)
    except (SessionInterrupted, KeyboardInterrupt):  # a second Ctrl-C or signal while the closing was said
        journal.turn(turn, closing, at_node=at_node, note=f"{note}; interrupted again while saying it")
        journal.event("end", node=closing.node, level=closing.level, how=f"{how}, again during the closing")
        raise
    except BaseException:
        journal.turn(turn, closing, at_node=at_node, note=note)
        raise
    journal.turn(turn, closing, at_node=at_node, note=note)
    return closing


@dataclass
class _Log:
    """Writes to the transcript; if that fails, tells the user once and lets the session go on."""

    transcript: Recorder
    channel: Channel
    failed: bool = False

    def turn(self, turn: Turn | None, reply: Reply, at_node: str, **extra: Any) -> None:
        self._guard(lambda: self.transcript.turn(turn, reply, at_node=at_node, **extra))

    def event(self, kind: str, **fields: Any) -> None:
        self._guard(lambda: self.transcript.event(kind, **fields), always=kind == "end")

    def _guard(self, write: Callable[[], None], always: bool = False) -> None:
        """After a failure later writes are skipped, except the end event, which is tried once more (the
        transcript keeps room for it, and every write is a whole line or nothing)."""
        if self.failed and not always:
            return
        try:
            write()
        except TranscriptError as exc:
            if self.failed:
                log.warning("transcript: the end event could not be written either: %s", exc)
                return
            self.failed = True
            log.warning("transcript: %s", exc)
            self.channel.notice(str(exc))


def _deliver(channel: Channel, reply: Reply) -> None:
    if reply.rate_change:
        channel.change_rate(reply.rate_change)
    for utterance in reply.utterances:
        channel.say(utterance)
