"""Speaker: caching, rate changes, and the text fallback when synthesis fails or hangs. No audio device."""

from __future__ import annotations

import threading

from assistant.audio import Pcm
from assistant.errors import AudioDeviceError
from assistant.speaker import DEFAULT_RATE, MAX_RATE, MIN_RATE, RATE_STEP, Speaker


class FakeSynth:
    def __init__(self, fail: bool = False, hang: threading.Event | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail = fail
        self.hang = hang

    def synthesize(self, text: str, rate: int) -> Pcm:
        self.calls.append((text, rate))
        if self.hang is not None:
            self.hang.wait(5)
        if self.fail:
            raise RuntimeError("engine exploded")
        return Pcm(b"\x01\x00" * 160, 16000)


class FakeOutput:
    def __init__(self, fail: bool = False) -> None:
        self.played: list[Pcm] = []
        self.fail = fail

    def play(self, pcm: Pcm) -> None:
        if self.fail:
            raise AudioDeviceError("speaker unplugged")
        self.played.append(pcm)

    def close(self) -> None:
        pass


def test_says_and_caches() -> None:
    synth, out, printed = FakeSynth(), FakeOutput(), []
    speaker = Speaker(synth, out, fallback=printed.append)
    assert speaker.say("hello") and speaker.say("hello")
    assert synth.calls == [("hello", DEFAULT_RATE)]
    assert len(out.played) == 2 and printed == []


def test_prepare_renders_ahead() -> None:
    synth, out = FakeSynth(), FakeOutput()
    speaker = Speaker(synth, out)
    speaker.prepare(["a", "b"])
    speaker.say("b")
    assert ("a", DEFAULT_RATE) in synth.calls and synth.calls.count(("b", DEFAULT_RATE)) == 1


def test_rate_changes_persist_and_are_bounded() -> None:
    synth = FakeSynth()
    speaker = Speaker(synth, FakeOutput())
    speaker.change_rate(-1)
    speaker.say("x")
    assert synth.calls[-1] == ("x", DEFAULT_RATE - RATE_STEP)
    for _ in range(20):
        speaker.change_rate(+1)
    assert speaker.rate == MAX_RATE
    for _ in range(40):
        speaker.change_rate(-1)
    assert speaker.rate == MIN_RATE


def test_synthesis_failure_falls_back_to_text_and_continues() -> None:
    printed: list[str] = []
    speaker = Speaker(FakeSynth(fail=True), FakeOutput(), fallback=printed.append)
    assert not speaker.say("Call emergency services now.")
    assert "Call emergency services now." in printed
    assert any("Speech is not working" in line for line in printed)
    assert not speaker.say("next")
    assert printed[-1] == "next"


def test_synthesis_hang_times_out_to_text() -> None:
    release = threading.Event()
    printed: list[str] = []
    speaker = Speaker(FakeSynth(hang=release), FakeOutput(), timeout=0.2, fallback=printed.append)
    assert not speaker.say("Are you having new problems walking?")
    release.set()
    assert "Are you having new problems walking?" in printed
    assert "did not answer" in speaker.broken


def test_output_failure_falls_back_to_text() -> None:
    printed: list[str] = []
    speaker = Speaker(FakeSynth(), FakeOutput(fail=True), fallback=printed.append)
    assert not speaker.say("hello")
    assert printed[-1] == "hello"
    speaker.beep()
