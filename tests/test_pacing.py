"""Pacing (`assistant.core.pacing`): "wait" holds the conversation until "go on"; the no-speech timeout adapts.
A scripted inner channel stands in for the voice channel; one test runs it from a recording, end to end."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.app.session import run_session
from assistant.core.channel import Heard
from assistant.core.dialogue import Dialogue, Kind, Utterance
from assistant.core.grammar import Listener
from assistant.core.pacing import HOLD_INTENT, RESUME_INTENT, PacedChannel, resume_listener, with_hold
from assistant.core.validate import Bundle
from assistant.speech.endpoint import EndpointConfig


@dataclass
class Scripted:
    """Answers (text, seconds until speech began or None for silence), interpreted with the listener given."""

    answers: list[tuple[str, float | None]]
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    use_tone: bool = True
    said: list[str] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)
    tones: list[bool] = field(default_factory=list)
    grammars: list[str] = field(default_factory=list)

    def say(self, utterance: Utterance) -> None:
        self.said.append(utterance.text)

    def listen(self, listener: Listener) -> Heard | None:
        self.timeouts.append(self.endpoint.no_speech_timeout)
        self.tones.append(self.use_tone)
        self.grammars.append(listener.grammar)
        if not self.answers:
            return None
        text, started = self.answers.pop(0)
        details: dict[str, Any] = {"speech_start_s": started}
        if started is None:
            return Heard(text="", intent=None, silence=True, details=details)
        return Heard(text=text, intent=listener.match(text), details=details)

    def change_rate(self, step: int) -> None:
        """Not needed."""

    def notice(self, message: str) -> None:
        self.said.append(message)


class Recorder:
    def __init__(self) -> None:
        self.turns: list[dict[str, Any]] = []

    def event(self, kind: str, **fields: Any) -> None:
        """Not needed."""

    def turn(self, turn: Any, reply: Any, at_node: str, **extra: Any) -> None:
        self.turns.append({"intent": getattr(turn, "intent", None), **extra})


def _session(bundle: Bundle, answers: list[tuple[str, float | None]]) -> tuple[Scripted, PacedChannel, Recorder]:
    inner = Scripted(answers)
    channel = PacedChannel(inner)
    recorder = Recorder()
    run_session(Dialogue(bundle.content, bundle.grammars, region="GB"), channel, recorder)
    return inner, channel, recorder


def test_wait_holds_until_go_on_then_the_question_is_asked_again(bundle: Bundle) -> None:
    inner, channel, recorder = _session(bundle, [("wait", 1.0), ("", None), ("something else", 2.0),
                                                 ("go on", 3.0), ("no", 1.0), ("stop", 1.0)])
    question = "Have your legs become weak, suddenly or over days?"
    assert inner.said.count(question) == 2  # asked, then again after "go on"
    at = inner.said.index("Okay, I'll wait. Say go on when you're ready.")
    assert inner.said[at + 1:at + 3] == ["Okay.", question]
    assert channel.holds == 1
    assert inner.tones[1:4] == [False, False, False]  # no "your turn" tone while holding
    assert all(g.endswith("+hold") for g in inner.grammars[1:4])
    assert [t["intent"] for t in recorder.turns[1:]] == ["no", "stop"]  # the hold itself is no dialogue turn
    assert recorder.turns[1]["audio"]["held_s"] >= 0.0


def test_an_emergency_while_holding_goes_straight_to_the_dialogue(bundle: Bundle) -> None:
    inner, _, recorder = _session(bundle, [("pause", 1.0), ("call an ambulance", 1.0)])
    assert recorder.turns[1]["intent"] == "emergency"
    assert any("Call emergency services now, on 999" in text for text in inner.said)


def test_a_hold_that_never_ends_returns_to_the_dialogue_as_no_answer() -> None:
    clock = [0.0]
    inner = Scripted([("hold on", 1.0)] + [("", None)] * 50)

    def listen_and_tick(listener: Listener) -> Heard | None:
        clock[0] += 30.0
        return Scripted.listen(inner, listener)

    inner.listen = listen_and_tick  # type: ignore[method-assign]
    channel = PacedChannel(inner, max_hold=120.0, clock=lambda: clock[0])
    listener = Listener("answers", {"yes": "yes", "no": "no"}, ("yes", "no"), "yes or no")
    heard = channel.listen(listener)
    assert heard is not None and heard.silence and heard.intent is None
    assert heard.details is not None and heard.details["held_s"] == pytest.approx(120.0, abs=30.0)


def test_slow_answers_get_more_time_and_quick_ones_bring_it_back(bundle: Bundle) -> None:
    listener = bundle.grammars.listener("answers")
    inner = Scripted([("yes", 6.0), ("yes", 1.0), ("", None), ("yes", 0.5), ("yes", 0.5), ("yes", 0.5),
                      ("yes", 0.5), ("yes", 0.5)])
    channel = PacedChannel(inner)
    for _ in range(8):
        channel.listen(listener)
    base = EndpointConfig().no_speech_timeout
    assert inner.timeouts[0] == base
    assert inner.timeouts[1] == pytest.approx(9.0)  # began after 6 s of 8: 1.5 x 6
    assert inner.timeouts[2] == base  # a quick answer: back down (never below the setting)
    assert inner.timeouts[3] > inner.timeouts[2]  # no answer at all: more time
    assert inner.timeouts[-1] == base  # quick answers: back to the setting
    assert max(inner.timeouts) <= channel.max_timeout
    assert inner.endpoint.no_speech_timeout == base  # the channel's own setting is left as it was


def test_listeners_keep_their_own_phrases_first(bundle: Bundle) -> None:
    more = bundle.grammars.listener("more")
    held = with_hold(more)
    assert held.match("go on") == more.match("go on")  # "go on" still means next between items
    assert held.match("wait") == HOLD_INTENT
    resume = resume_listener(more)
    assert resume.match("go on") == RESUME_INTENT and resume.match("emergency") == "emergency"
    assert resume.match("yes") is None


def test_the_last_question_is_what_is_said_again(bundle: Bundle) -> None:
    inner = Scripted([("wait", 1.0), ("go on", 1.0), ("yes", 1.0)])
    channel = PacedChannel(inner)
    channel.say(Utterance("legs_weak", Kind.INFO, "Some information."))
    channel.say(Utterance("legs_weak", Kind.PROMPT, "Is it there now?"))
    channel.listen(bundle.grammars.listener("answers"))
    assert inner.said[-1] == "Is it there now?"


@pytest.mark.voice
def test_wait_and_go_on_from_a_recording(bundle: Bundle, tmp_path: Path, recognizer: object) -> None:
    """Real recognizer, real VoiceChannel over a stream: "wait", 6 s of quiet, "go on", then "stop"."""
    from test_resident import _NullOutput, _ShortSynth, _wav

    from assistant.app.voice import VoiceChannel
    from assistant.speech.speaker import Speaker
    from assistant.speech.streamsource import StreamSource, TimedOutput
    from bench.corpus import Voice, synthesize

    voice = Voice("espeak-ng", "en-us")
    samples = np.zeros(40 * 16000, dtype=np.int16)
    for start, text in ((3.0, "wait"), (12.0, "go on"), (17.0, "stop")):
        clip = synthesize(text, voice)
        samples[int(start * 16000):int(start * 16000) + clip.size] = clip
    source = StreamSource([_wav(tmp_path / "s.wav", samples)], fast=True).open()
    speaker = Speaker(_ShortSynth(), TimedOutput(_NullOutput(), source), fallback=lambda text: None)
    inner = VoiceChannel(speaker=speaker, source=source, recognizer=recognizer, clock=source.now,  # type: ignore[arg-type]
                         show=lambda text: None)
    channel = PacedChannel(inner, clock=source.now)  # held time on the stream's clock
    said: list[str] = []
    inner.show = said.append
    recorder = Recorder()
    run_session(Dialogue(bundle.content, bundle.grammars, region="GB"), channel, recorder)
    assert channel.holds == 1
    assert "Okay, I'll wait. Say go on when you're ready." in said
    assert [t["intent"] for t in recorder.turns[1:]] == ["stop"]
    assert 6.0 < recorder.turns[1]["audio"]["held_s"] < 12.0


def test_a_command_said_before_the_session_reaches_the_inner_channel() -> None:
    """`tingle listen` wraps each session's VoiceChannel in a PacedChannel: an emergency said over a notice
    (Resident, VoiceChannel.cut_in) must get through it."""
    taken: list[object] = []

    @dataclass
    class _Takes(Scripted):
        def cut_in(self, heard: object) -> None:
            taken.append(heard)

    PacedChannel(_Takes([])).cut_in("emergency")
    PacedChannel(Scripted([])).cut_in("emergency")  # a channel without it: nothing to do
    assert taken == ["emergency"]
