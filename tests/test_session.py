"""The session loop (assistant/app/session.py) with a scripted channel: how a session ends, and what the
transcript says about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from assistant.app.session import SessionInterrupted, run_session
from assistant.core.channel import Heard
from assistant.core.dialogue import Dialogue, Kind, Utterance
from assistant.core.grammar import Listener
from assistant.core.validate import Bundle


@dataclass
class Interrupting:
    """Answers "no" to every question; raises `interrupt` when asked to listen for the `listen_at`-th time and
    again when it is given advice to say (a second Ctrl-C while the closing is said), if `again`."""

    interrupt: BaseException
    listen_at: int = 2
    again: bool = True
    said: list[str] = field(default_factory=list)
    listened: int = 0

    def say(self, utterance: Utterance) -> None:
        if self.again and utterance.kind is Kind.ADVICE:
            raise self.interrupt
        self.said.append(utterance.text)

    def listen(self, listener: Listener) -> Heard | None:
        self.listened += 1
        if self.listened == self.listen_at:
            raise self.interrupt
        return Heard(text="no", intent=listener.interpret("no"))

    def change_rate(self, step: int) -> None:
        """Not needed."""

    def notice(self, message: str) -> None:
        self.said.append(message)


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def event(self, kind: str, **fields: Any) -> None:
        self.events.append({"event": kind, **fields})

    def turn(self, turn: Any, reply: Any, at_node: str, **extra: Any) -> None:
        self.events.append({"event": "turn", "heard": getattr(turn, "text", None), "node": at_node, **extra})


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SessionInterrupted(15, "SIGTERM")])
def test_an_interruption_closes_with_the_advice_and_an_end_event(bundle: Bundle, interrupt: BaseException) -> None:
    channel, recorder = Interrupting(interrupt, again=False), Recorder()
    with pytest.raises(type(interrupt)):
        run_session(Dialogue(bundle.content, bundle.grammars, region="GB"), channel, recorder)
    end = recorder.events[-1]
    assert end["event"] == "end" and end["how"].startswith("interrupted") and end["level"], end
    assert any(text.startswith("My advice") for text in channel.said)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SessionInterrupted(15, "SIGTERM")])
def test_a_second_interruption_during_the_closing_still_writes_the_end_event(bundle: Bundle,
                                                                            interrupt: BaseException) -> None:
    channel, recorder = Interrupting(interrupt), Recorder()
    with pytest.raises(type(interrupt)):
        run_session(Dialogue(bundle.content, bundle.grammars, region="GB"), channel, recorder)
    closing, end = recorder.events[-2], recorder.events[-1]
    assert closing["event"] == "turn" and "interrupted again while saying it" in closing["note"], closing
    assert end["event"] == "end" and end["how"].endswith("again during the closing"), end
    assert end["level"] == "doctor_today", end  # the closing's fail-safe level, not the unfinished question's
    assert [e["event"] for e in recorder.events].count("end") == 1
