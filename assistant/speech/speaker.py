"""Speaking: pyttsx3 (espeak-ng on Linux) renders text to audio, an output plays or saves it.

Rendering to samples first (instead of letting pyttsx3 drive the sound card) lets us know exactly when
playback has ended (the microphone stays deaf until then), cache and pre-render prompts for a fast reply,
and write `--audio-out` files. A synthesis failure or hang falls back to printing; the session continues.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import re
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from assistant.errors import AssistantError, AudioDeviceError, PrivateFileError
from assistant.privatefile import open_private
from assistant.speech.audio import Pcm, read_wav, resample, tone

log = logging.getLogger(__name__)
DEFAULT_RATE = 175
"""Words per minute (espeak-ng's default)."""
RATE_STEP = 25
CHARS_PER_WORD = 6
"""Characters per spoken word, spaces included, for a rough length estimate."""
MIN_SPEECH_FRACTION = 0.25
"""A rendering shorter than this fraction of the estimate is treated as cut off (espeak-ng speaks ~2x the
nominal rate, so real renderings are around 0.5 of the estimate)."""
RENDER_ATTEMPTS = 3
MIN_RATE, MAX_RATE = 100, 275


class Synthesizer(Protocol):
    """Turns text into audio."""

    def synthesize(self, text: str, rate: int) -> Pcm:
        """Render `text` at `rate` words per minute."""


class Output(Protocol):
    """Where rendered speech goes."""

    def play(self, pcm: Pcm) -> None:
        """Play (or store) `pcm`, returning once it has fully been played."""

    def close(self) -> None:
        """Release the device or file."""


class Said(Enum):
    """How `Speaker.say` went. True unless the words could only be printed (so `if speaker.say(...)` reads
    "it was spoken", in full or until the user cut in)."""

    SPOKEN = "spoken"
    PRINTED = "printed"
    INTERRUPTED = "interrupted"
    """Playback was stopped because the user cut in (barge-in)."""

    def __bool__(self) -> bool:
        return self is not Said.PRINTED


Watch = Callable[[Any], bool]
"""Listens while a sound plays: given the playing sound (`assistant.speech.bargein.Playing`), returns True when it
stopped the sound because the user cut in, False once it was played in full. Must not raise for the
microphone's faults (they are for the next listening turn)."""


@dataclass
class Pyttsx3Synthesizer:
    """pyttsx3 rendering to a temporary WAV (its espeak-ng driver on Linux)."""

    voice: str | None = None
    """Voice id or name, e.g. 'gmw/en-US' or 'en-us' (None: engine default)."""
    volume: float = 1.0
    """0.0 .. 1.0."""
    render_timeout: float = 8.0
    """Longest wait for one rendering (s)."""
    _count: int = field(default=0, init=False)
    _finished: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _engine: Any = field(default=None, init=False, repr=False)
    _dir: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)

    def _ready(self) -> Any:
        if self._engine is None:
            import pyttsx3

            _silence_driver_prints()
            try:
                engine = pyttsx3.init()
            except (RuntimeError, OSError) as exc:
                raise AssistantError(f"the speech engine could not start ({exc}); install espeak-ng") from exc
            if self.voice:
                engine.setProperty("voice", _find_voice(engine, self.voice))
            engine.setProperty("volume", self.volume)
            engine.connect("finished-utterance", lambda name, completed: self._finished.set())
            self._engine = engine
            self._dir = tempfile.TemporaryDirectory(prefix="tingle-tts-")
        return self._engine

    def synthesize(self, text: str, rate: int) -> Pcm:
        # The espeak driver now and then hands back an empty or cut rendering (a race inside pyttsx3):
        # anything far shorter than the text needs is rendered again.
        shortest = MIN_SPEECH_FRACTION * len(text) / (rate * CHARS_PER_WORD / 60)
        for _ in range(RENDER_ATTEMPTS):
            pcm = self._render_once(text, rate)
            if pcm.seconds >= shortest:
                return pcm
            log.info("speech rendering came back short (%.2f s for %d characters); rendering again",
                     pcm.seconds, len(text))
        raise AssistantError(f"the speech engine keeps returning cut-off audio ({pcm.seconds:.2f} s)")

    def _render_once(self, text: str, rate: int) -> Pcm:
        engine = self._ready()
        if self._dir is None:
            raise AssistantError("speech engine not ready")
        self._count += 1
        path = Path(self._dir.name) / f"say-{self._count}.wav"
        engine.setProperty("rate", rate)
        self._finished.clear()
        engine.save_to_file(text, str(path))
        engine.runAndWait()
        # pyttsx3's espeak driver can return from runAndWait while espeak is still rendering in its own
        # thread; the file is complete only once the driver reports the utterance finished.
        if not self._finished.wait(self.render_timeout) or not path.exists():
            raise AssistantError(f"the speech engine did not finish within {self.render_timeout:.0f} s")
        pcm = read_wav(path, allow_empty=True)  # an empty rendering happens now and then: rendered again
        path.unlink(missing_ok=True)
        return pcm


def _silence_driver_prints() -> None:
    """pyttsx3's espeak driver print()s "Audio saved to ..." on every file; keep our stdout clean.

    Shadowing `print` in that one module (not redirecting sys.stdout, which is process-wide and would
    swallow the session's own output from other threads).
    """
    try:
        from pyttsx3.drivers import espeak as driver
    except (ImportError, OSError):
        return  # another platform driver: nothing to quiet
    driver.print = lambda *args, **kwargs: None  # type: ignore[attr-defined]


def _find_voice(engine: Any, wanted: str) -> str:
    for voice in engine.getProperty("voices"):
        if wanted in (voice.id, voice.name) or voice.id.lower().endswith("/" + wanted.lower()):
            return str(voice.id)
    raise AssistantError(f"no speech voice called {wanted!r}; try en-us, en-gb or another espeak-ng voice")


@dataclass
class SoundDeviceOutput:
    """Plays through the default (or chosen) output device with sounddevice."""

    device: int | str | None = None
    stream_factory: Any = None
    """For `start()`: an assistant.speech.deviceplayback.OutputFactory (None: sounddevice's OutputStream)."""

    def play(self, pcm: Pcm) -> None:
        import numpy as np
        import sounddevice as sd

        try:
            sd.play(np.frombuffer(pcm.data, dtype=np.int16), pcm.rate, device=self.device, blocking=True)
            time.sleep(_output_latency(sd))
        except sd.PortAudioError as exc:
            raise AudioDeviceError(f"the speaker failed ({exc}); I will print what I say instead") from exc

    def start(self, pcm: Pcm) -> Any:
        """Begin playing `pcm` and return at once (barge-in listens over it): an
        `assistant.speech.deviceplayback.DevicePlaying` whose reference is at the microphone's rate."""
        from assistant.speech.audio import SAMPLE_RATE
        from assistant.speech.deviceplayback import DevicePlaying, sounddevice_output

        return DevicePlaying(pcm, SAMPLE_RATE).begin(self.stream_factory or sounddevice_output(self.device))

    def close(self) -> None:
        """Nothing held between plays."""


def _output_latency(sd: Any) -> float:
    stream = getattr(sd, "get_stream", None)
    try:
        return float(stream().latency) if stream else 0.05
    except (RuntimeError, TypeError, AttributeError):
        return 0.05


@dataclass
class WavFileOutput:
    """Appends everything said to one WAV file (`--audio-out`), at `rate` Hz. The file is private, like the
    transcript (`assistant.privatefile`: mode 0600, never through a symlink, never a pipe or device)."""

    path: Path
    rate: int = 22050
    _stream: BinaryIO | None = field(default=None, init=False, repr=False)
    _writer: wave.Wave_write | None = field(default=None, init=False, repr=False)
    first_sample_at: list[float] = field(default_factory=list)
    """Monotonic time each play() call wrote its first sample (for latency measurement)."""

    def open(self) -> WavFileOutput:
        """Create the file now (else at the first play()), so a refused path is reported before the session."""
        if self._writer is None:
            try:
                fd = open_private(self.path, append=False)
            except PrivateFileError as exc:
                raise AudioDeviceError(f"cannot write the audio file {exc}; choose another path for --audio-out"
                                       ) from exc
            self._stream = os.fdopen(fd, "wb")
            self._writer = wave.open(self._stream, "wb")
            self._writer.setnchannels(1)
            self._writer.setsampwidth(2)
            self._writer.setframerate(self.rate)
        return self

    def play(self, pcm: Pcm) -> None:
        writer = self.open()._writer
        if writer is None:
            raise AudioDeviceError(f"the audio file {self.path} is not open")
        self.first_sample_at.append(time.monotonic())
        try:
            writer.writeframes(resample(pcm, self.rate).data)
        except OSError as exc:
            raise AudioDeviceError(f"writing the audio file {self.path} failed ({exc.strerror})") from exc

    def close(self) -> None:
        writer, stream = self._writer, self._stream
        self._writer = self._stream = None
        try:
            try:
                if writer is not None:
                    writer.close()  # writes the final header
            finally:
                if stream is not None:
                    stream.close()
        except OSError as exc:
            raise AudioDeviceError(f"the audio file {self.path} could not be completed ({exc.strerror})") from exc


class _Worker:
    """One thread renders all speech (pyttsx3 is not thread-safe); urgent jobs jump the queue."""

    def __init__(self, render: Callable[[str, int], Pcm]) -> None:
        self._render = render
        self._jobs: queue.PriorityQueue[tuple[int, int, str, int, Future[Pcm] | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name="tts", daemon=True)
        self._thread.start()

    def submit(self, text: str, rate: int, urgent: bool) -> Future[Pcm]:
        future: Future[Pcm] = Future()
        self._jobs.put((0 if urgent else 1, next(self._order), text, rate, future))
        return future

    def close(self, timeout: float) -> None:
        """Cancel what is queued and wait (up to `timeout` s) for the rendering under way: the process must
        not exit while the engine still writes a file into a folder that is being removed."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            job[4].cancel()
        self._jobs.put((-1, next(self._order), "", 0, None))  # the stop sign, ahead of anything submitted later
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            _, _, text, rate, future = self._jobs.get()
            if future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._render(text, rate))
            except Exception as exc:  # handed to the caller through the future, which reports it
                future.set_exception(exc)


_EXAMPLE = re.compile(r"\s*\(e\.g\. [^)]*\)")


def speakable(message: str) -> str:
    """An error message as it is said aloud: without its "(e.g. sox ...)" example command, which is printed
    (and kept in the transcript) but means nothing heard."""
    return _EXAMPLE.sub("", message)


@dataclass
class Speaker:
    """Says text: renders (cached), plays, and on any failure prints instead so the session goes on."""

    synthesizer: Synthesizer
    output: Output
    rate: int = DEFAULT_RATE
    """Words per minute; "slower"/"faster" step it by RATE_STEP."""
    timeout: float = 10.0
    """Longest wait for one rendering (s) before falling back to text."""
    fallback: Callable[[str], None] = print
    """Where text goes when it cannot be spoken (a no-op when the caller shows every line anyway)."""
    notify: Callable[[str], None] | None = None
    """Where the one "speech is not working" notice goes (None: `fallback`)."""
    _cache: dict[tuple[str, int], Future[Pcm]] = field(default_factory=dict, init=False, repr=False)
    _worker: _Worker | None = field(default=None, init=False, repr=False)
    broken: str = ""
    """Why speech is off for the rest of the session ("" while it works)."""

    def _render(self, text: str, rate: int, urgent: bool) -> Future[Pcm]:
        if self._worker is None:
            self._worker = _Worker(self.synthesizer.synthesize)
        key = (text, rate)
        future = self._cache.get(key)
        if future is None or (future.done() and future.exception() is not None):
            future = self._worker.submit(text, rate, urgent)
            self._cache[key] = future
        return future

    def close(self) -> None:
        """Stop rendering in the background (queued renderings are dropped); the speaker can still be used,
        a new rendering thread starts if it is."""
        if self._worker is not None:
            self._worker.close(self.timeout)
            self._worker = None
            self._cache = {key: f for key, f in self._cache.items() if f.done() and not f.cancelled()}

    def prepare(self, texts: Iterable[str]) -> None:
        """Render these in the background, so saying them later starts at once."""
        for text in texts:
            self._render(text, self.rate, urgent=False)

    def say(self, text: str, watch: Watch | None = None) -> Said:
        """Speak `text`. With `watch`, and an output that can start a sound and go on (`start()`), the
        sound is listened over and may be cut (INTERRUPTED). PRINTED when it had to be printed instead."""
        if self.broken:
            self.fallback(text)
            return Said.PRINTED
        start = getattr(self.output, "start", None) if watch is not None else None
        try:
            pcm = self._render(text, self.rate, urgent=True).result(timeout=self.timeout)
            if watch is None or start is None:
                self.output.play(pcm)
                return Said.SPOKEN
            playing = start(pcm)
        except FutureTimeout:
            self._fail(f"the speech engine did not answer within {self.timeout:.0f} s", text)
            return Said.PRINTED
        except Exception as exc:  # any engine or device failure: reported, then text fallback
            self._fail(str(exc), text)
            return Said.PRINTED
        return Said.INTERRUPTED if watch(playing) else Said.SPOKEN

    def beep(self, rate: int = 16000) -> None:
        """The short 'now you can talk' tone."""
        if not self.broken:
            try:
                self.output.play(Pcm(tone(rate), rate))
            except AudioDeviceError as exc:
                self._fail(str(exc), "")

    def change_rate(self, step: int) -> None:
        """Slower (-1) or faster (+1) for the rest of the session."""
        self.rate = max(MIN_RATE, min(MAX_RATE, self.rate + step * RATE_STEP))

    def _fail(self, why: str, text: str) -> None:
        self.broken = why
        log.info("speech off for this session: %s", why)
        (self.notify or self.fallback)(f"(Speech is not working: {why}. I will show my words as text.)")
        if text:
            self.fallback(text)
