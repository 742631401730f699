"""Speaker: caching, rate changes, and the text fallback when synthesis fails or hangs. No audio device."""

from __future__ import annotations

import threading

import pytest

from assistant.errors import AudioDeviceError
from assistant.speech.audio import Pcm
from assistant.speech.speaker import DEFAULT_RATE, MAX_RATE, MIN_RATE, RATE_STEP, Speaker


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


def test_close_waits_for_the_rendering_under_way_and_drops_the_queue() -> None:
    """The process must not end while the engine still writes a rendering (pyttsx3 then fails in its
    callback, into a folder being removed, and prints a traceback)."""
    release, finished = threading.Event(), []

    class Slow(FakeSynth):
        def synthesize(self, text: str, rate: int) -> Pcm:
            self.calls.append((text, rate))
            release.wait(5)
            finished.append(text)
            return Pcm(b"\x01\x00" * 160, 16000)

    synth = Slow()
    speaker = Speaker(synth, FakeOutput())
    speaker.prepare(["first", "second", "third"])
    while not synth.calls:  # the first rendering has begun
        threading.Event().wait(0.01)
    threading.Timer(0.2, release.set).start()
    speaker.close()
    assert finished == ["first"] and synth.calls == [("first", DEFAULT_RATE)]
    assert speaker.say("after")  # still usable: a new rendering thread
    assert finished == ["first", "after"]


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


def test_a_caller_that_shows_every_line_gets_only_the_notice() -> None:
    """The voice channel prints each line itself: the speaker adds the one notice, not the lines again."""
    shown: list[str] = []
    notices: list[str] = []
    speaker = Speaker(FakeSynth(fail=True), FakeOutput(), fallback=lambda text: None, notify=notices.append)
    for text in ("Call emergency services now.", "next"):
        shown.append(text)
        assert not speaker.say(text)
    assert len(notices) == 1 and notices[0].startswith("(Speech is not working")
    assert shown == ["Call emergency services now.", "next"]


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


# ----------------------------------------------------------------------------- interruptible device playback


class _FakeDeviceStream:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class _TimeInfo:
    outputBufferDacTime = 10.05
    currentTime = 10.0


def test_device_playback_is_cut_with_a_fade_and_gives_the_reference_by_time() -> None:
    import numpy as np

    from assistant.speech.speaker import SoundDeviceOutput

    streams: list[_FakeDeviceStream] = []

    def factory(rate: int, callback: object, finished: object) -> _FakeDeviceStream:
        streams.append(_FakeDeviceStream())
        return streams[-1]

    now = [100.0]
    samples = (np.ones(16000) * 8000).astype("<i2")  # 1 s at 16 kHz
    output = SoundDeviceOutput(stream_factory=factory)
    playing = output.start(Pcm(samples.tobytes(), 16000))
    playing.clock = lambda: now[0]
    block = np.zeros((160, 1), dtype="<i2")
    playing.callback(block, 160, _TimeInfo(), None)
    assert playing.started_at == pytest.approx(100.05)  # the first block reaches the loudspeaker 50 ms later
    assert np.all(block == 8000)
    assert playing.reference(100.05, 3).tolist() == pytest.approx([8000 / 32768] * 3)
    assert playing.reference(100.0, 800)[:799].tolist() == [0.0] * 799  # before the sound: silence
    assert not playing.finished()
    playing._stop = True  # what stop() sets; the device's next callback fades out
    playing.callback(block, 160, _TimeInfo(), None)
    assert block[0, 0] == 8000 and block[-1, 0] == 0 and np.all(np.diff(block[:, 0].astype(int)) <= 0)
    assert playing.finished()
    assert playing.stop(100.1) == pytest.approx(100.05 + 320 / 16000)
    assert streams[0].closed
    playing.callback(block, 160, _TimeInfo(), None)
    assert np.all(block == 0)  # nothing more after the cut


def test_the_microphone_stamps_the_chunk_it_hands_out() -> None:
    from assistant.speech.microphone import Microphone

    mic = Microphone(stream_factory=lambda rate, block, callback: _FakeDeviceStream()).open()
    mic.push(5.0, b"\x01\x00" * 640)
    mic.push(5.04, b"\x02\x00" * 640)
    mic.begin(5.01)
    assert mic.read() == b"\x02\x00" * 640 and mic.last_chunk_at == 5.04


def test_an_error_is_said_without_its_example_command() -> None:
    from assistant.speech.speaker import speakable
    from assistant.speech.wavfile import ADVICE

    message = f"/tmp/a.wav: it declares 3 channels; {ADVICE}"
    said = speakable(message)
    assert "sox" not in said and "e.g." not in said
    assert said == "/tmp/a.wav: it declares 3 channels; use a WAV file at 8-192 kHz, 8/16/24/32-bit PCM or " \
                   "32/64-bit float, 1 to 8 channels"
    assert speakable("no example here (really)") == "no example here (really)"
