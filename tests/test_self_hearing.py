"""The assistant never hears itself: its own speech, picked up by the microphone while it plays, is dropped.

A simulated room: the real Speaker plays into `Room`, which pushes the played audio
(resampled to 16 kHz, 40 ms chunks) into a real `Microphone` (fake stream), stamped with capture times during
the playback, plus a short echo tail after it. A fake clock advances as audio is played, so nothing sleeps.
When a turn begins, the room keeps sounding: 20 s of quiet room noise are captured from the end of the last
playback on (more than the longest possible turn: 8 s no-speech timeout + 7 s longest utterance), so every
turn ends by the end-of-speech rules and a read can never block.

The voice is espeak-ng en-us through bench.corpus (deterministic, cached) rather than pyttsx3, whose
renderings are sometimes cut short or empty (see test_voice_session), which would make these tests flaky.

The control tests open the gate (capture from -inf, no guard): the very same echo is then recognized as "yes"
or as the emergency command, so the gated tests can fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from voice_support import ROOT

from assistant.app.voice import GUARD_SECONDS, VoiceChannel
from assistant.core.channel import Heard
from assistant.core.dialogue import Kind, Utterance
from assistant.core.grammar import Grammars
from assistant.core.validate import Bundle
from assistant.speech.audio import CHUNK_SECONDS, Pcm, chunks, resample
from assistant.speech.microphone import Microphone
from assistant.speech.recognizer import VoskRecognizer
from assistant.speech.speaker import DEFAULT_RATE, Speaker
from bench.corpus import SAMPLE_RATE, TEST_VOICES, pad, synthesize

pytestmark = pytest.mark.voice

START = 1000.0
ECHO_TAIL_S = 0.1
"""Room reverberation after playback ends (s); shorter than the guard."""
QUIET_S = 20.0
QUIET_DBFS = -60.0
USER_PAUSE_S = 0.4
"""The user starts answering this long after the listening tone's echo has died away (s)."""
EMERGENCY_ADVICE = "<the emergency advice>"
"""Stands for the content's emergency advice, read from content/ at test time."""


class FakeClock:
    """Monotonic time that moves only when audio is played."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@dataclass
class Room:
    """The speaker's Output: whatever is played is captured by the microphone as it plays."""

    clock: FakeClock
    mic: RoomMicrophone | None = None
    user: np.ndarray | None = None
    """What the user says once the turn begins (after a short pause), if anything."""
    played_s: float = 0.0
    stamps: list[float] = field(default_factory=list)
    """Capture time of every chunk pushed into the microphone."""
    _heard_until: float = START

    def _push(self, at: float, data: bytes) -> float:
        assert self.mic is not None
        for i, chunk in enumerate(chunks(data, self.mic.rate)):
            self.mic.push(at + i * CHUNK_SECONDS, chunk)
            self.stamps.append(at + i * CHUNK_SECONDS)
        return at + len(data) / 2 / self.mic.rate

    def play(self, pcm: Pcm) -> None:
        assert self.mic is not None
        audio = resample(pcm, self.mic.rate)
        start = self.clock()
        end = self._push(start, audio.data)
        self.clock.now = end  # play() returns when the last sample has been played
        self.played_s += audio.seconds
        samples = np.frombuffer(audio.data, dtype="<i2").astype(np.float64)
        n = int(ECHO_TAIL_S * self.mic.rate)
        tail = samples[-n:] * np.linspace(0.5, 0.0, min(n, samples.size)) if samples.size else np.zeros(0)
        self._heard_until = self._push(end, tail.astype("<i2").tobytes())

    def keep_sounding(self, seconds: float, sound: np.ndarray | None = None) -> None:
        """Quiet room noise (or `sound` in it), captured from the end of the last sound on."""
        assert self.mic is not None
        base = np.zeros(0, dtype=np.int16) if sound is None else sound
        audio = pad(base, 0.0, seconds, floor_dbfs=QUIET_DBFS, seed=7)
        self._heard_until = self._push(self._heard_until, audio.astype("<i2").tobytes())

    def idle(self, seconds: float) -> None:
        """Nobody speaks for `seconds`: quiet room noise is captured, and time passes."""
        self.keep_sounding(seconds)
        self.clock.now = max(self.clock.now, self._heard_until)

    def close(self) -> None:
        """Nothing to release."""


class RoomMicrophone(Microphone):
    """The real Microphone (gate and all) on a fake stream; the room keeps sounding while a turn listens."""

    room: Room
    gate: float = 0.0

    def begin(self, not_before: float) -> None:
        self.gate = not_before
        super().begin(not_before)
        if self.room.user is not None:
            self.room.keep_sounding(USER_PAUSE_S)
            self.room.keep_sounding(0.0, self.room.user)
        self.room.keep_sounding(QUIET_S)


class UngatedMicrophone(RoomMicrophone):
    """Control: the capture gate is open from the beginning of time."""

    def begin(self, not_before: float) -> None:
        super().begin(float("-inf"))


class CorpusSynthesizer:
    """The Speaker's Synthesizer: espeak-ng en-us at the Speaker's rate, 16 kHz."""

    def synthesize(self, text: str, rate: int) -> Pcm:
        return Pcm(synthesize(text, TEST_VOICES[0], rate / DEFAULT_RATE).astype("<i2").tobytes(), SAMPLE_RATE)


@pytest.fixture(scope="module")
def synthesizer() -> CorpusSynthesizer:
    return CorpusSynthesizer()


def build(recognizer: VoskRecognizer, synthesizer: CorpusSynthesizer, gated: bool,
          ) -> tuple[VoiceChannel, RoomMicrophone, Room, list[str]]:
    clock = FakeClock()
    room = Room(clock)
    mic = (RoomMicrophone if gated else UngatedMicrophone)(stream_factory=lambda rate, block, callback: room,
                                                           clock=clock)
    mic.room = room
    room.mic = mic
    mic.open()
    room.idle(0.5)  # the microphone was already running before the assistant spoke
    shown: list[str] = []
    speaker = Speaker(synthesizer, room, fallback=shown.append)
    channel = VoiceChannel(speaker=speaker, source=mic, recognizer=recognizer, clock=clock, show=shown.append,
                           guard=GUARD_SECONDS if gated else 0.0)
    return channel, mic, room, shown


def say_then_listen(recognizer: VoskRecognizer, synthesizer: CorpusSynthesizer, texts: tuple[str, ...],
                    *, gated: bool, user: np.ndarray | None = None, advice: str = "",
                    ) -> tuple[Heard | None, RoomMicrophone, Room, VoiceChannel]:
    channel, mic, room, _ = build(recognizer, synthesizer, gated)
    room.user = user
    for text in texts:
        channel.say(Utterance("test", Kind.PROMPT, advice if text == EMERGENCY_ADVICE else text))
    heard = channel.listen(Grammars.from_dir(ROOT / "grammars").listener("answers"))
    assert not channel.speaker.broken, f"speech failed, so nothing was tested: {channel.speaker.broken}"
    assert room.played_s > 0.4, "the assistant's speech never reached the room"
    return heard, mic, room, channel


SAID = [("yes",), ("I need help now",), ("Have you had sudden weakness in your legs?", "yes"),
        (EMERGENCY_ADVICE, "I need help now")]


@pytest.mark.parametrize("texts", SAID, ids=[" + ".join(t)[:40] for t in SAID])
def test_own_speech_is_never_heard(recognizer: VoskRecognizer, synthesizer: CorpusSynthesizer, bundle: Bundle,
                                   texts: tuple[str, ...]) -> None:
    advice = " ".join(bundle.content.levels["emergency"].say).replace("{emergency}", "999")
    heard, mic, room, _ = say_then_listen(recognizer, synthesizer, texts, gated=True, advice=advice)
    echo_chunks = sum(1 for t in room.stamps if t < mic.gate)
    assert mic.gate >= room.clock() + GUARD_SECONDS - 1e-9
    assert echo_chunks > 10 and mic.dropped == echo_chunks, (mic.dropped, echo_chunks)
    assert heard is not None, "the input ended instead of timing out"
    assert heard.intent is None and heard.text == "" and heard.silence, heard


@pytest.mark.parametrize(("text", "intent"), [("yes", "yes"), ("I need help now", "emergency")])
def test_control_without_gate_the_echo_is_heard(recognizer: VoskRecognizer, synthesizer: CorpusSynthesizer,
                                                text: str, intent: str) -> None:
    heard, mic, _, _ = say_then_listen(recognizer, synthesizer, (text,), gated=False)
    assert mic.dropped == 0
    assert heard is not None and heard.intent == intent, heard


@pytest.mark.parametrize(("answer", "intent"), [("no", "no"), ("yes", "yes"), ("I need help now", "emergency")])
def test_the_answer_after_the_prompt_is_heard(recognizer: VoskRecognizer, synthesizer: CorpusSynthesizer,
                                              answer: str, intent: str) -> None:
    """The gate drops only our own speech: the user's answer, after it, gets through."""
    user = synthesize(answer, TEST_VOICES[2])  # another voice than the assistant's
    heard, mic, room, _ = say_then_listen(recognizer, synthesizer, ("Have you had sudden weakness in your legs?",),
                                          gated=True, user=user)
    assert mic.dropped == sum(1 for t in room.stamps if t < mic.gate)
    assert heard is not None and heard.intent == intent, heard
