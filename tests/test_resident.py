"""Resident mode: wake -> session -> back to waiting, faults of a session, a lost microphone, signals, and the
continuous stream of recordings (`assistant.speech.streamsource`).

The loop's tests use hand-written fakes (a scripted source, a detector that fires on marked chunks, a
scripted channel); the end-to-end tests run the real wake-phrase model, the real recognizer and a stream WAV
of synthetic speech, through `Resident` and through `listen_main` (what `tingle listen` runs).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from assistant.app.resident import RESIDENT_SIGNALS, Resident, ResidentConfig, SpeakerAnnouncer, State
from assistant.app.session import SessionInterrupted, signals_interrupt_session
from assistant.core.channel import Heard
from assistant.core.dialogue import Utterance
from assistant.core.grammar import Listener
from assistant.core.validate import Bundle
from assistant.errors import AudioDeviceError
from assistant.speech.audio import Pcm
from assistant.speech.streamsource import StreamSource, TimedOutput
from assistant.speech.wakeword import WakePhrase, wake_phrase

ROOT = Path(__file__).resolve().parent.parent
RATE = 16000
CHUNK = 640
"""Samples in one fake chunk (40 ms)."""
QUIET = bytes(2 * CHUNK)
WAKE = b"\x34\x12" * CHUNK
"""The chunk the fake detector takes for the wake phrase."""


# ----------------------------------------------------------------------------- fakes


@dataclass
class FakeSource:
    """Scripted chunks on a stream clock of its own; an item that is an exception is raised when read."""

    items: list[bytes | BaseException]
    now: float = 0.0
    closed: bool = False
    begun: list[float] = field(default_factory=list)

    rate: int = RATE

    def begin(self, not_before: float) -> None:
        self.begun.append(not_before)

    def read(self) -> bytes | None:
        if not self.items:
            return None
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        self.now += len(item) / 2 / RATE
        return item

    def clock(self) -> float:
        return self.now

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeDetector:
    phrase: WakePhrase = field(default_factory=wake_phrase)
    resets: int = 0

    def feed(self, pcm: bytes) -> float:
        return 0.9 if pcm == WAKE else 0.0

    def heard(self, probability: float) -> bool:
        return probability > 0.5

    def reset(self) -> None:
        self.resets += 1


@dataclass
class FakeChannel:
    """Answers from a script; raises an item that is an exception; None when the script runs out."""

    answers: list[str | BaseException]
    said: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def say(self, utterance: Utterance) -> None:
        self.said.append(utterance.text)

    def listen(self, listener: Listener) -> Heard | None:
        if not self.answers:
            return None
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return Heard(text=answer, intent=listener.interpret(answer))

    def change_rate(self, step: int) -> None:
        """Not needed here."""

    def notice(self, message: str) -> None:
        self.notices.append(message)


@dataclass
class FakeAnnouncer:
    said: list[str] = field(default_factory=list)
    earcons: int = 0

    def say(self, text: str) -> bool:
        self.said.append(text)
        return True

    def earcon(self) -> float:
        self.earcons += 1
        return 1.0


def _resident(bundle: Bundle, tmp_path: Path, sources: list[FakeSource | BaseException],
              channels: list[FakeChannel], **config: object) -> tuple[Resident, list[float]]:
    """A Resident over fakes: each open takes the next source (or raises it); each session the next channel."""
    sleeps: list[float] = []
    current: list[FakeSource] = []

    def open_source() -> FakeSource:
        item = sources.pop(0)
        if isinstance(item, BaseException):
            raise item
        current[:] = [item]
        return item

    def make_channel(source: object) -> FakeChannel:
        return channels.pop(0)

    resident = Resident(bundle=bundle, open_source=open_source, detector=FakeDetector(), make_channel=make_channel,
                        announcer=FakeAnnouncer(),
                        config=ResidentConfig(transcript_dir=tmp_path / "t", region="GB", **config),  # type: ignore[arg-type]
                        clock=lambda: current[0].now if current else 0.0, stream_origin=0.0,
                        sleep=sleeps.append, show=lambda text: None)
    return resident, sleeps


def _events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _transcripts(tmp_path: Path) -> list[list[dict[str, object]]]:
    return [_events(p) for p in sorted((tmp_path / "t").glob("session-*.jsonl"))]


@dataclass
class StampedSource(FakeSource):
    """A FakeSource whose chunks carry their time, as a microphone's do (what barge-in needs)."""

    last_chunk_at: float = 0.0

    def read(self) -> bytes | None:
        self.last_chunk_at = self.now
        return super().read()


@dataclass
class _NoticePlaying:
    """A notice of `seconds` playing on a StampedSource's clock."""

    source: StampedSource
    seconds: float = 1.0
    started_at: float = 0.0
    stopped_at: float | None = None

    def __post_init__(self) -> None:
        self.started_at = self.source.now

    def finished(self) -> bool:
        return self.source.now >= self.started_at + self.seconds

    def reference(self, start_s: float, count: int) -> np.ndarray:
        return np.zeros(count)

    def stop(self, at: float) -> float:
        self.stopped_at = at
        return at

    def finish(self) -> None:
        self.stopped_at = self.started_at + self.seconds


@dataclass
class WatchingAnnouncer(FakeAnnouncer):
    """Plays each notice on the source's clock and lets the resident listen over it."""

    source: StampedSource | None = None
    cut: list[str] = field(default_factory=list)

    def say(self, text: str, watch: object = None) -> bool:  # type: ignore[override]
        self.said.append(text)
        if watch is not None and self.source is not None and watch(_NoticePlaying(self.source)):  # type: ignore[operator]
            self.cut.append(text)
        return True


@dataclass
class _HearsWake:
    """A stand-in barge-in detector: the WAKE chunk over a sound is the wake phrase."""

    config: object = None
    in_utterance: bool = False
    fed: int = 0

    def __post_init__(self) -> None:
        from assistant.speech.bargein import BargeInConfig

        self.config = BargeInConfig()

    def start(self) -> None:
        """A new sound."""

    def feed(self, mic: bytes, far: np.ndarray, at: float) -> object:
        from assistant.speech.bargein import WAKE_INTENT, BargeIn

        self.fed += 1
        if mic == WAKE:
            return BargeIn(intent=WAKE_INTENT, text="okay nabu", decided_at=at + 0.04, speech_start=at - 1.0,
                           speech_end=at + 0.04, kept_db=-3.0)
        return None


def test_an_emergency_said_over_a_notice_starts_a_session_that_takes_it_first(bundle: Bundle,
                                                                             tmp_path: Path) -> None:
    from assistant.speech.bargein import BargeIn

    @dataclass
    class _HearsEmergency(_HearsWake):
        def feed(self, mic: bytes, far: np.ndarray, at: float) -> object:
            if mic == WAKE:
                return BargeIn(intent="emergency", text="emergency", decided_at=at + 0.04, speech_start=at - 0.5,
                               speech_end=at + 0.04, kept_db=-3.0)
            return None

    @dataclass
    class _CutIn(FakeChannel):
        taken: list[object] = field(default_factory=list)

        def cut_in(self, heard: object) -> None:
            self.taken.append(heard)
            self.answers.insert(0, "emergency")  # what VoiceChannel.listen then gives first

    source = StampedSource([QUIET] * 10 + [WAKE] + [QUIET] * 60)
    channel = _CutIn([])
    resident, _ = _resident(bundle, tmp_path, [source], [channel])
    resident.announcer = WatchingAnnouncer(source=source)
    resident.barge_in = _HearsEmergency()
    assert resident.run() == 0
    (session,) = resident.sessions
    assert session.wake.checked == "emergency (over a notice)" and len(channel.taken) == 1
    assert session.level == "emergency"


def test_the_notices_are_listened_over_and_the_wake_phrase_said_over_one_starts_a_session(bundle: Bundle,
                                                                                         tmp_path: Path) -> None:
    """Listening over the "Ready" notice lets the echo canceller learn the room before the first session
    (tingle listen: a "stop" 2.5 s into the first greeting was refused before, while it learnt), and the
    wake phrase said over a notice is not lost."""
    source = StampedSource([QUIET] * 10 + [WAKE] + [QUIET] * 60)
    resident, _ = _resident(bundle, tmp_path, [source], [FakeChannel(["stop"])])
    announcer = WatchingAnnouncer(source=source)
    resident.announcer = announcer
    resident.barge_in = _HearsWake()
    assert resident.run() == 0
    (session,) = resident.sessions
    assert session.wake.checked == "okay nabu (over a notice)"
    assert session.wake.stream_s == pytest.approx(0.44)  # the end of the chunk that held it
    assert announcer.cut == [announcer.said[0]] and announcer.said[0].startswith("Ready")
    assert resident.detector.resets == 1  # the wake model waited once: after the session, not before it
    assert resident.barge_in.fed > 11  # the "I'm here" notice after the session was listened over too


# ----------------------------------------------------------------------------- the loop, with fakes


def test_wake_starts_a_session_and_the_loop_waits_again(bundle: Bundle, tmp_path: Path) -> None:
    source = FakeSource([QUIET] * 10 + [WAKE] + [QUIET] * 5 + [WAKE] + [QUIET] * 3)
    resident, _ = _resident(bundle, tmp_path, [source], [FakeChannel(["stop"]), FakeChannel(["emergency"])])
    assert resident.run() == 0
    assert [s.how for s in resident.sessions] == ["closed", "closed"]
    assert resident.sessions[1].level == "emergency"
    assert resident.states == [State.STARTING, State.WAITING, State.WOKEN, State.IN_SESSION, State.WAITING,
                               State.WOKEN, State.IN_SESSION, State.WAITING, State.STOPPED]
    assert resident.announcer.earcons == 2  # type: ignore[attr-defined]
    assert any("okay nabu" in text for text in resident.announcer.said)  # type: ignore[attr-defined]
    first, second = _transcripts(tmp_path)
    wake = next(e for e in first if e["event"] == "wake")
    assert wake["phrase"] == "okay nabu" and wake["stream_s"] == pytest.approx(11 * 0.04)
    assert [e["event"] for e in first] == ["session", "wake", "start", "turn", "end"]
    assert next(e for e in second if e["event"] == "wake")["stream_s"] == pytest.approx(17 * 0.04)
    assert len({e["session_id"] for e in first + second}) == 2
    assert resident.detector.resets >= 3  # type: ignore[attr-defined]
    assert source.closed


def test_a_failing_session_is_recorded_and_the_loop_goes_on(bundle: Bundle, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    source = FakeSource([WAKE, QUIET, WAKE, QUIET])
    broken = FakeChannel([RuntimeError("a bug in the channel")])
    resident, _ = _resident(bundle, tmp_path, [source], [broken, FakeChannel(["stop"])])
    with caplog.at_level(logging.ERROR, logger="assistant.app.resident"):
        assert resident.run() == 1  # the loop went on, but the recording's end says a session failed
    assert resident.sessions[0].how == "failed: a bug in the channel"
    assert resident.sessions[1].how == "closed"
    assert "the session failed" in caplog.text
    said = " ".join(resident.announcer.said)  # type: ignore[attr-defined]
    assert "call 999" in said and "Say okay nabu to start again" in said
    failed = _transcripts(tmp_path)[0]
    assert [e["event"] for e in failed][-2:] == ["error", "end"]


def test_a_model_failing_mid_session_closes_it_safely_and_the_exit_status_says_so(
        bundle: Bundle, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A session whose model failed was closed with the advice, and the recording's end was exit 0."""
    from assistant.errors import ModelError

    source = FakeSource([WAKE, QUIET, WAKE, QUIET])
    broken = FakeChannel([ModelError("the speech model at /m is damaged. Run scripts/setup")])
    resident, _ = _resident(bundle, tmp_path, [source], [broken, FakeChannel(["stop"])])
    with caplog.at_level(logging.ERROR, logger="assistant.app.resident"):
        assert resident.run() == 1
    assert [r.how for r in resident.sessions] == ["input failed", "closed"]
    assert "1 session(s) failed or were cut short (first: input failed)" in caplog.text
    assert any("scripts/setup" in n for n in broken.notices)
    assert any("Goodbye" in text for text in broken.said)
    failed = _transcripts(tmp_path)[0]
    assert failed[-1]["event"] == "end" and failed[-1]["how"] == "input failed"


def test_a_lost_microphone_is_announced_and_reopened_with_back_off(bundle: Bundle, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    lost = FakeSource([QUIET, QUIET, AudioDeviceError("the microphone stopped sending audio")])
    back = FakeSource([QUIET, WAKE, QUIET])
    unplugged = AudioDeviceError("no usable microphone")
    resident, sleeps = _resident(bundle, tmp_path, [lost, unplugged, unplugged, back], [FakeChannel(["stop"])])
    with caplog.at_level(logging.WARNING, logger="assistant.app.resident"):
        assert resident.run() == 0
    assert sleeps == [1.0, 2.0, 4.0]
    assert lost.closed
    assert State.MIC_LOST in resident.states
    assert resident.states[resident.states.index(State.MIC_LOST) + 1] == State.WAITING
    said = resident.announcer.said  # type: ignore[attr-defined]
    assert sum("microphone is not working" in s for s in said) == 1  # said once, not at every try
    assert any("microphone is working again" in s for s in said)
    assert "microphone lost: the microphone stopped sending audio" in caplog.text
    assert "microphone back after 3 tries" in caplog.text
    assert [s.how for s in resident.sessions] == ["closed"]


def test_no_microphone_at_start_is_waited_for(bundle: Bundle, tmp_path: Path) -> None:
    resident, sleeps = _resident(bundle, tmp_path, [AudioDeviceError("none"), FakeSource([WAKE])],
                                 [FakeChannel(["stop"])])
    assert resident.run() == 0
    assert sleeps == [1.0] and len(resident.sessions) == 1


def test_back_off_is_capped_and_can_give_up(bundle: Bundle, tmp_path: Path) -> None:
    failures: list[FakeSource | BaseException] = [AudioDeviceError("gone") for _ in range(8)]
    resident, sleeps = _resident(bundle, tmp_path, failures, [], retry_max=5.0, max_retries=7)
    assert resident.run() == 1
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]


def test_sigterm_while_waiting_ends_cleanly(bundle: Bundle, tmp_path: Path) -> None:
    source = FakeSource([QUIET, SessionInterrupted(15, "SIGTERM")])
    resident, _ = _resident(bundle, tmp_path, [source], [])
    assert resident.run() == 128 + 15
    assert resident.stopped_by == "SIGTERM" and resident.state is State.STOPPED
    assert source.closed and resident.sessions == []


def test_sigterm_in_a_session_says_the_safety_net_and_ends(bundle: Bundle, tmp_path: Path) -> None:
    channel = FakeChannel(["no", SessionInterrupted(1, "SIGHUP")])
    resident, _ = _resident(bundle, tmp_path, [FakeSource([WAKE, QUIET])], [channel])
    assert resident.run() == 128 + 1
    assert any("If it gets worse" in text for text in channel.said)  # the safety net
    end = _transcripts(tmp_path)[0][-1]
    assert end["event"] == "end" and end["how"] == "interrupted: stopped by SIGHUP"


def test_a_real_sigterm_is_turned_into_a_clean_stop(bundle: Bundle, tmp_path: Path) -> None:
    class Killer(FakeSource):
        def read(self) -> bytes | None:
            os.kill(os.getpid(), signal.SIGTERM)
            return super().read()

    resident, _ = _resident(bundle, tmp_path, [Killer([QUIET] * 50)], [])
    before = signal.getsignal(signal.SIGTERM)
    with signals_interrupt_session(RESIDENT_SIGNALS):
        assert resident.run() == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_unwritable_transcript_folder_does_not_stop_the_conversation(bundle: Bundle, tmp_path: Path) -> None:
    """The conversation goes on; the notice names listen's own option, and the recording's end is exit 1 (it
    was 0, and the notice named --transcript, which listen does not have)."""
    (tmp_path / "t").write_text("a file, not a folder")
    channel = FakeChannel(["stop"])
    resident, _ = _resident(bundle, tmp_path, [FakeSource([WAKE])], [channel])
    assert resident.run() == 1
    assert resident.sessions[0].how == "closed" and not resident.sessions[0].transcript_ok
    (notice,) = [n for n in channel.notices if "not being saved" in n]
    assert "--transcript-dir DIR" in notice and "--transcript PATH" not in notice, notice
    assert any("Goodbye" in text for text in channel.said)


@pytest.mark.parametrize("kind", ["a file", "under a file"])
def test_listen_refuses_an_unusable_transcript_dir_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            kind: str) -> None:
    from assistant.app import cli

    (tmp_path / "f").write_text("a file, not a folder")
    folder = tmp_path / "f" if kind == "a file" else tmp_path / "f" / "t"
    assert cli.main(["listen", "--transcript-dir", str(folder), "--audio-in", str(tmp_path / "none.wav")]) == 1
    err = capsys.readouterr().err
    assert f"tingle: cannot write transcripts in {folder} (" in err, err
    assert "Choose a writable folder with --transcript-dir DIR." in err and "--transcript PATH" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no test file left behind


def test_listen_start_check_leaves_a_usable_folder_as_it_was(tmp_path: Path) -> None:
    from assistant.app.resident import check_transcript_folder

    check_transcript_folder(tmp_path / "t")
    assert (tmp_path / "t").is_dir() and list((tmp_path / "t").iterdir()) == []


# ----------------------------------------------------------------------------- the stream of recordings


def _wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def _drain(source: StreamSource) -> bytes:
    out = []
    while (chunk := source.read()) is not None:
        assert chunk
        out.append(chunk)
    return b"".join(out)


def test_stream_plays_the_files_end_to_end_with_stream_times(tmp_path: Path) -> None:
    a = _wav(tmp_path / "a.wav", np.full(RATE, 1000))  # 1 s
    b = _wav(tmp_path / "b.wav", np.full(RATE // 4, -1000, dtype=np.int16), rate=RATE // 2)  # 0.5 s at 8 kHz
    source = StreamSource([a, b], fast=True).open()
    source.begin(0.0)
    data = np.frombuffer(_drain(source), dtype="<i2")
    assert source.read() is None
    assert data.size == pytest.approx(1.5 * RATE, abs=2)
    assert source.now() == pytest.approx(1.5, abs=1e-3)
    assert source.starts == [0.0, pytest.approx(1.0)]
    assert source.where(1.25) == (str(b), 0.25)
    assert abs(int(data[RATE // 2])) == 1000 and data[-RATE // 4] < -900


def test_playback_moves_the_stream_on_and_the_gate_drops_what_it_covered(tmp_path: Path) -> None:
    ramp = _wav(tmp_path / "ramp.wav", np.arange(2 * RATE) // 2)  # sample value tells where we are
    source = StreamSource([ramp], fast=True).open()
    source.begin(0.0)
    source.read()
    output = TimedOutput(inner=_NullOutput(), stream=source)
    output.play(Pcm(bytes(2 * RATE // 2), RATE))  # we spoke for 0.5 s
    assert source.now() == pytest.approx(0.54)
    source.begin(source.now() + 0.15)
    first = np.frombuffer(source.read() or b"", dtype="<i2")
    assert int(first[0]) == pytest.approx(int(0.69 * RATE) // 2, abs=2)  # heard from 0.69 s of the stream on


def test_stream_is_paced_in_real_time_unless_fast(tmp_path: Path) -> None:
    wav = _wav(tmp_path / "a.wav", np.zeros(RATE // 2))
    wall = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        wall[0] += seconds

    source = StreamSource([wav], sleep=sleep, wall=lambda: wall[0]).open()
    source.begin(0.0)
    _drain(source)
    assert sum(slept) == pytest.approx(0.5 - 0.04, abs=0.01)  # the first chunk is due at once


@dataclass
class _NullOutput:
    played: list[Pcm] = field(default_factory=list)

    def play(self, pcm: Pcm) -> None:
        self.played.append(pcm)

    def close(self) -> None:
        """Nothing held."""


# ----------------------------------------------------------------------------- end to end, from recordings


@dataclass
class _ShortSynth:
    """Every utterance takes 0.3 s (of silence): the stream's layout does not depend on the real voice."""

    def synthesize(self, text: str, rate: int) -> Pcm:
        return Pcm(bytes(2 * int(0.3 * RATE)), RATE)


def _stream_wav(path: Path, script: list[tuple[float, str]], total_s: float) -> tuple[Path, dict[str, float]]:
    """A stream WAV with each (start s, phrase) spoken there (espeak-ng en-us); returns where each clip ends
    (its trailing silence included)."""
    from bench.corpus import Voice, synthesize

    voice = Voice("espeak-ng", "en-us")
    samples = np.zeros(int(total_s * RATE), dtype=np.int16)
    ends: dict[str, float] = {}
    for start, text in script:
        clip = synthesize(text, voice)
        at = int(start * RATE)
        samples[at:at + clip.size] = clip
        ends[f"{text}@{start:g}"] = (at + clip.size) / RATE
    return _wav(path, samples), ends


@pytest.fixture(scope="module")
def wake_detector() -> object:
    from voice_support import require_voice_stack

    from assistant.speech.wakeword import MicroWakeDetector

    require_voice_stack()
    detector = MicroWakeDetector(wake_phrase("okay-nabu")).open()
    yield detector
    detector.close()


@pytest.mark.voice
def test_recordings_end_to_end_wake_session_waiting_wake_session(bundle: Bundle, tmp_path: Path,
                                                                 recognizer: object, wake_detector: object) -> None:
    from assistant.app.resident import stream_locator, voice_channel_factory
    from assistant.speech.speaker import Speaker
    from assistant.speech.wakeword import SpeechCheck

    stream_wav, ends = _stream_wav(tmp_path / "stream.wav", [
        (1.0, "okay then, the kettle is on"),  # background talk with a sound-alike: no wake
        (5.0, "okay nabu"), (8.0, "no"), (11.0, "stop"),
        (20.0, "okay nabu"), (23.0, "emergency"),
    ], total_s=30.0)
    source = StreamSource([stream_wav], fast=True).open()
    output = _NullOutput()
    speaker = Speaker(_ShortSynth(), TimedOutput(output, source), fallback=lambda text: None)
    resident = Resident(
        bundle=bundle, open_source=lambda: source, detector=wake_detector,  # type: ignore[arg-type]
        make_channel=voice_channel_factory(speaker, recognizer, use_tone=True, clock=source.now, rate=None),
        announcer=SpeakerAnnouncer(speaker, show=lambda text: None),
        config=ResidentConfig(transcript_dir=tmp_path / "t", region="GB", max_retries=1),
        clock=source.now, stream_origin=0.0, where=stream_locator(source), show=lambda text: None,
        check=SpeechCheck.for_phrase(recognizer, wake_detector.phrase))  # type: ignore[attr-defined]
    assert resident.run() == 0
    assert [s.how for s in resident.sessions] == ["closed", "closed"]
    assert [s.level for s in resident.sessions] == ["doctor_today", "emergency"]
    first, second = _transcripts(tmp_path)
    wake_1 = next(e for e in first if e["event"] == "wake")
    wake_2 = next(e for e in second if e["event"] == "wake")
    assert 5.0 < wake_1["stream_s"] <= ends["okay nabu@5"] + 0.5  # type: ignore[operator]
    assert 20.0 < wake_2["stream_s"] <= ends["okay nabu@20"] + 0.5  # type: ignore[operator]
    assert wake_1["file"] == str(stream_wav) and "boo" in wake_1["checked"]  # type: ignore[operator]
    assert resident.refused  # the sound-alike fired the model, and the check refused it
    heard_1 = [e["intent"] for e in first if e["event"] == "turn"]
    assert heard_1 == ["no", "stop"]
    assert next(e["intent"] for e in second if e["event"] == "turn") == "emergency"
    assert second[-1]["event"] == "end" and second[-1]["how"] == "closed"
    assert resident.states[-2:] == [State.WAITING, State.STOPPED]
    earcons = [p for p in output.played if p.seconds == pytest.approx(0.16)]
    assert len(earcons) == 2


@pytest.mark.voice
def test_tingle_listen_from_a_recording(tmp_path: Path, wake_detector: object) -> None:
    """`tingle listen` (python -m assistant listen) as its own process, real voice, from a recording."""
    from voice_support import run_cli

    stream_wav, _ = _stream_wav(tmp_path / "stream.wav", [(6.0, "okay nabu"), (34.0, "stop")],
                                total_s=50.0)  # after the "Ready" notice; "stop" after the greeting
    done = run_cli(["listen", "--audio-in", stream_wav, "--fast", "--transcript-dir", tmp_path / "t",
                    "--audio-out", tmp_path / "said.wav", "--region", "GB"], tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Say okay nabu when you need me" in done.stdout
    assert "woken by 'okay nabu'" in done.stderr
    (events,) = _transcripts(tmp_path)
    assert [e["event"] for e in events][:3] == ["session", "wake", "start"]
    assert events[-1]["event"] == "end"
    assert (tmp_path / "said.wav").stat().st_size > 10_000


@pytest.mark.voice
def test_tingle_listen_takes_a_stop_said_over_its_own_voice(tmp_path: Path, wake_detector: object) -> None:
    """`tingle listen --audio-in ... --fast --simulate-echo -6`: the recording's "stop" falls while the greeting
    plays, with the greeting's echo mixed in; the greeting is cut and the barge-in is in the transcript. (It
    falls 3 s into the greeting. A fresh echo canceller needs ~4 s of the assistant's voice to learn the room,
    and nothing is taken before that (assistant/speech/bargein.py); it learns most of it over the "Ready"
    notice, which is listened over too. Before that, a "stop" 3.5 s into the greeting was refused.)"""
    from voice_support import run_cli

    stream_wav, ends = _stream_wav(tmp_path / "stream.wav", [(6.0, "okay nabu"), (10.0, "stop")], total_s=40.0)
    done = run_cli(["listen", "--audio-in", stream_wav, "--fast", "--simulate-echo", "-6", "--transcript-dir",
                    tmp_path / "t", "--audio-out", tmp_path / "said.wav", "--region", "GB"], tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    (events,) = _transcripts(tmp_path)
    (barge,) = [e for e in events if e["event"] == "barge_in"]
    assert barge["intent"] == "stop" and barge["node"] == "opening"
    assert 10.0 < barge["stream_s"] <= ends["stop@10"]  # the clip's end includes its trailing silence
    assert barge["file"] == str(stream_wav)
    assert next(e["intent"] for e in events if e["event"] == "turn" and e.get("intent")) == "stop"
    assert "(You said stop: I stopped.)" in done.stdout


@dataclass
class _FakeCheck:
    """Refuses the first fire, then raises, as a broken recognizer would."""

    calls: int = 0

    def confirm(self, pcm: bytes) -> tuple[bool, str]:
        self.calls += 1
        if self.calls == 1:
            return False, "okay now"
        from assistant.errors import ModelError

        raise ModelError("the model went away")


def test_the_check_refuses_near_misses_and_a_broken_check_never_blocks_a_wake(bundle: Bundle, tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    resident, _ = _resident(bundle, tmp_path, [FakeSource([WAKE, *[QUIET] * 8, WAKE, QUIET])],
                            [FakeChannel(["stop"])])
    resident.check = _FakeCheck()
    with caplog.at_level(logging.INFO, logger="assistant.app.resident"):
        assert resident.run() == 0
    assert resident.refused == ["okay now"]  # the model did not fire again within the second look's 0.25 s
    assert len(resident.sessions) == 1 and resident.sessions[0].wake.stream_s == pytest.approx(0.40)
    assert "near miss" in caplog.text and "the wake check failed" in caplog.text


@dataclass
class _Cleaner:
    """Stands in for assistant.speech.frontend.FrontEnd: turns the scripted noisy chunk into the wake chunk."""

    seen: list[bytes] = field(default_factory=list)

    def process(self, pcm: bytes) -> bytes:
        self.seen.append(pcm)
        return WAKE if pcm == NOISY_WAKE else pcm


NOISY_WAKE = b"\x35\x12" * CHUNK
"""The wake phrase in noise: the fake detector hears it only once it is cleaned."""


@dataclass
class _RecordingCheck:
    """Confirms only audio that holds `needs` (default the cleaned WAKE); records what each call heard."""

    heard: list[bytes] = field(default_factory=list)
    needs: bytes = WAKE

    def confirm(self, pcm: bytes) -> tuple[bool, str]:
        self.heard.append(pcm)
        return (self.needs in pcm, "okay na boo" if self.needs in pcm else "okay na")


def test_the_model_hears_the_cleaned_audio_and_the_check_tries_the_raw_audio_first(bundle: Bundle,
                                                                                 tmp_path: Path) -> None:
    cleaners: list[_Cleaner] = []

    def clean() -> _Cleaner:
        cleaners.append(_Cleaner())
        return cleaners[-1]

    resident, _ = _resident(bundle, tmp_path, [FakeSource([QUIET, NOISY_WAKE, QUIET])], [FakeChannel(["stop"])])
    resident.check, resident.clean = _RecordingCheck(), clean
    assert resident.run() == 0
    wake = resident.sessions[0].wake
    assert wake.stream_s == pytest.approx(0.08) and wake.checked == "okay na | okay na boo"
    raw, cleaned = resident.check.heard  # type: ignore[attr-defined]
    assert raw == QUIET + NOISY_WAKE and cleaned == QUIET + WAKE
    assert cleaners and cleaners[0].seen[:2] == [QUIET, NOISY_WAKE]


def test_without_cleaning_the_noisy_phrase_is_not_heard(bundle: Bundle, tmp_path: Path) -> None:
    resident, _ = _resident(bundle, tmp_path, [FakeSource([QUIET, NOISY_WAKE, QUIET])], [FakeChannel(["stop"])])
    resident.check = _RecordingCheck()
    assert resident.run() == 0
    assert resident.sessions == [] and resident.check.heard == []  # type: ignore[attr-defined]


WAKE_END = b"\x36\x12" * CHUNK
"""The last part of the wake phrase ("...boo"), heard after the model has already fired on the first part."""


@dataclass
class _EarlyDetector(FakeDetector):
    """Fires on the first part of the phrase already, as the real model does (0.3 at "okay na")."""

    def feed(self, pcm: bytes) -> float:
        return {WAKE: 0.6, WAKE_END: 0.95}.get(pcm, 0.0)


def test_a_fire_before_the_phrase_ends_gets_a_second_look(bundle: Bundle, tmp_path: Path) -> None:
    """bench/wake.py: the model crossed its cut-off at "okay na"; the check, run at once, refused it, and the
    reset model never fired again (pink noise: 4 of 6 misses)."""
    resident, _ = _resident(bundle, tmp_path, [FakeSource([QUIET, WAKE, WAKE_END, *[QUIET] * 10])],
                            [FakeChannel(["stop"])])
    resident.detector, resident.check = _EarlyDetector(), _RecordingCheck(needs=WAKE_END)
    assert resident.run() == 0
    assert resident.refused == []
    wake = resident.sessions[0].wake
    assert wake.checked == "okay na boo" and wake.probability == 0.95
    assert wake.stream_s == pytest.approx(0.08 + 0.28)  # the first look at 0.08 s, the second 7 chunks later
    assert len(resident.check.heard) == 2  # type: ignore[attr-defined]


def test_a_refused_fire_the_model_does_not_repeat_is_a_near_miss(bundle: Bundle, tmp_path: Path) -> None:
    resident, _ = _resident(bundle, tmp_path, [FakeSource([QUIET, WAKE, *[QUIET] * 10])], [])
    resident.detector, resident.check = _EarlyDetector(), _RecordingCheck(needs=WAKE_END)
    assert resident.run() == 0
    assert resident.refused == ["okay na"] and resident.sessions == []
    assert len(resident.check.heard) == 1  # type: ignore[attr-defined]  # no second look: the model went quiet


def test_a_near_miss_refused_twice_is_refused(bundle: Bundle, tmp_path: Path) -> None:
    resident, _ = _resident(bundle, tmp_path, [FakeSource([QUIET, WAKE, WAKE, *[QUIET] * 10])], [])
    resident.detector, resident.check = _EarlyDetector(), _RecordingCheck(needs=WAKE_END)
    assert resident.run() == 0
    assert resident.refused == ["okay na / okay na"] and resident.sessions == []
