"""Pacing for a person in pain: "wait" holds the conversation until "go on", and the no-speech timeout adapts.

`PacedChannel` wraps a voice channel (anything with `say`, `listen`, `change_rate`, `notice` and an `endpoint`
EndpointConfig) and needs nothing from the dialogue engine:

* Every prompt also listens for the hold phrases ("wait", "pause", "hold on", "one moment"). Heard, the
  channel says it will wait and then listens only for "go on" (and the like), for the emergency phrases and
  for "stop", for as long as `max_hold` (no reprompt in between: silence is allowed). On "go on" it says the
  last question again and listens for its answer; an emergency or a stop goes straight to the dialogue. How
  long the hold lasted is in the transcript, in the `audio` details of the turn that follows.
* The no-speech timeout of each turn adapts: an answer that began late (after more than half the timeout),
  or no answer at all, gives the next turn more time (1.5 times the wait, up to `max_timeout`); quick answers
  bring it back down step by step to the configured value.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from assistant.core.channel import Heard
from assistant.core.dialogue import Kind, Utterance
from assistant.core.grammar import EMERGENCY_INTENT, Listener

HOLD_INTENT = "hold"
RESUME_INTENT = "resume"
HOLD_PHRASES = ("wait", "please wait", "wait a moment", "wait a minute", "pause", "hold on", "one moment")
RESUME_PHRASES = ("go on", "carry on", "continue", "please continue", "i'm ready", "ready", "okay go on")
MAX_HOLD_SECONDS = 600.0
"""Longest hold (s); then the turn counts as no answer, and the dialogue reprompts as usual."""
MAX_TIMEOUT_SECONDS = 20.0
"""Most time the adaptive timeout gives an answer to begin (s)."""
HOLD_LISTEN_SECONDS = 30.0
"""While holding, each listening turn waits this long for speech before listening again (s)."""
PROMPT_KINDS = (Kind.PROMPT, Kind.CONFIRM, Kind.MORE)
"""What the user is asked to answer: said again after a hold."""
LATE_FRACTION = 0.5
"""An answer that began after this fraction of the timeout was slow: the next turn gets more time."""
GROWTH = 1.5
"""How much more time a slow answer (or none) gives the next turn (factor)."""


@dataclass
class PacedChannel:
    """A channel that can hold the conversation, with an adaptive no-speech timeout."""

    inner: Any
    """The voice channel (assistant.app.voice.VoiceChannel, or a fake with the same members and `endpoint`)."""
    max_hold: float = MAX_HOLD_SECONDS
    """Longest hold (s)."""
    max_timeout: float = MAX_TIMEOUT_SECONDS
    """Upper bound of the adaptive no-speech timeout (s)."""
    clock: Callable[[], float] = time.monotonic
    base_timeout: float = field(default=0.0, init=False)
    """The configured no-speech timeout (s)."""
    timeout: float = field(default=0.0, init=False)
    """The no-speech timeout of the next turn (s)."""
    holds: int = field(default=0, init=False)
    """How many times the user asked to wait."""
    _last_question: Utterance | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_timeout = self.timeout = float(self.inner.endpoint.no_speech_timeout)

    def say(self, utterance: Utterance) -> None:
        if utterance.kind in PROMPT_KINDS:
            self._last_question = utterance
        self.inner.say(utterance)

    def change_rate(self, step: int) -> None:
        self.inner.change_rate(step)

    def attach_recorder(self, record: Callable[..., None], to_stream: Callable[[float], float]) -> None:
        """Barge-in events of the inner channel go to `record` (see VoiceChannel.attach_recorder)."""
        attach = getattr(self.inner, "attach_recorder", None)
        if attach is not None:
            attach(record, to_stream)

    def cut_in(self, heard: Any) -> None:
        """A command said before the session's first words (see VoiceChannel.cut_in), for the inner channel."""
        cut_in = getattr(self.inner, "cut_in", None)
        if cut_in is not None:
            cut_in(heard)

    def notice(self, message: str) -> None:
        self.inner.notice(message)

    def listen(self, listener: Listener) -> Heard | None:
        held_s = 0.0
        while True:
            heard = self._listen_timed(with_hold(listener), self.timeout)
            if heard is None or heard.intent != HOLD_INTENT:
                self._adapt(heard)
                return _noted(heard, held_s, self.timeout) if held_s else heard
            self.holds += 1
            started = self.clock()
            resumed = self._hold(listener)
            held_s += self.clock() - started
            if resumed is None or resumed.intent != RESUME_INTENT:
                return _noted(resumed, held_s, self.timeout)  # emergency, stop, end of input, or held too long
            self.inner.say(Utterance(self._node(), Kind.ACK, "Okay."))
            if self._last_question is not None:
                self.inner.say(self._last_question)

    def _hold(self, listener: Listener) -> Heard | None:
        """Listen only for "go on", emergencies and stop, until one comes or max_hold has passed."""
        self.inner.say(Utterance(self._node(), Kind.ACK, "Okay, I'll wait. Say go on when you're ready."))
        deadline = self.clock() + self.max_hold
        waiting = resume_listener(listener)
        while self.clock() < deadline:
            heard = self._listen_timed(waiting, min(HOLD_LISTEN_SECONDS, max(1.0, deadline - self.clock())),
                                       tone=False)
            if heard is None or heard.intent is not None:
                return heard
        return Heard(text="", intent=None, silence=True, confidence=0.0,
                     details={"note": f"held for the longest hold ({self.max_hold:.0f} s) without a go on"})

    def _listen_timed(self, listener: Listener, timeout: float, *, tone: bool = True) -> Heard | None:
        endpoint = self.inner.endpoint
        use_tone = getattr(self.inner, "use_tone", None)
        self.inner.endpoint = replace(endpoint, no_speech_timeout=timeout)
        if use_tone is not None and not tone:
            self.inner.use_tone = False
        try:
            return self.inner.listen(listener)  # type: ignore[no-any-return]
        finally:
            self.inner.endpoint = endpoint
            if use_tone is not None:
                self.inner.use_tone = use_tone

    def _adapt(self, heard: Heard | None) -> None:
        """Slow answers and silences give the next turn more time; quick ones bring it back down."""
        if heard is None:
            return
        started = (heard.details or {}).get("speech_start_s")
        if heard.silence and started is None:
            self.timeout = min(self.max_timeout, self.timeout * GROWTH)
        elif isinstance(started, int | float) and started > LATE_FRACTION * self.timeout:
            self.timeout = min(self.max_timeout, max(self.timeout, GROWTH * started))
        else:
            self.timeout = max(self.base_timeout, self.timeout / GROWTH)

    def _node(self) -> str:
        return self._last_question.node if self._last_question is not None else "opening"


def with_hold(listener: Listener) -> Listener:
    """`listener` that also listens for the hold phrases (its own phrases win where they overlap)."""
    table = {phrase: HOLD_INTENT for phrase in HOLD_PHRASES} | dict(listener.table)
    return replace(listener, table=table, whole_only=listener.whole_only | frozenset(HOLD_PHRASES))


def resume_listener(listener: Listener) -> Listener:
    """While holding: "go on" and the like, plus `listener`'s emergency and stop phrases."""
    keep = {p: i for p, i in listener.table.items() if i in (EMERGENCY_INTENT, "stop") and p not in listener.typed_only}
    table = {phrase: RESUME_INTENT for phrase in RESUME_PHRASES} | keep
    return Listener(grammar=f"{listener.grammar}+hold", table=table, answer_intents=(RESUME_INTENT,),
                    choices="go on", ignore=listener.ignore, whole_only=frozenset(RESUME_PHRASES) | listener.whole_only)


def _noted(heard: Heard | None, held_s: float, timeout: float) -> Heard | None:
    if heard is None:
        return None
    details = dict(heard.details or {})
    details["held_s"] = round(held_s, 1)
    details["no_speech_timeout_s"] = round(timeout, 1)
    return replace(heard, details=details)
