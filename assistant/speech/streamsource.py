"""`tingle listen --audio-in A.wav B.wav ...`: WAV files played end to end as one continuous microphone.

Unlike `assistant.speech.filesource` (one file per turn), the files here are one stream laid out in real time:
wake phrases, answers, background talk, words said while the assistant speaks. Every chunk has a place on
the stream's clock (`now()`, seconds from the start of the first file):

* reading advances the clock by the chunk's length;
* the assistant's own playback advances it too (`advance()`, called by `TimedOutput` for every sound it
  plays): a real microphone goes on capturing while the assistant talks, so what the stream holds during
  that time is passed over at the next `begin()`, exactly as the microphone's capture gate drops it;
* `begin(not_before)` drops the audio before stream time `not_before`.

So a recording is heard as a microphone would have heard it, whether the assistant's voice is rendered in
a few milliseconds (`--fast`, `--audio-out`) or played for real.

Barge-in (`assistant.speech.bargein`) listens *while* the assistant speaks: `TimedOutput.start()` begins a sound
without moving the clock on; the listener then reads the stream through the time it plays, and the sound
ends when the stream has passed its end, or earlier when `stop()` cuts it (only the part played goes to the
inner output, e.g. the `--audio-out` file). A real microphone also hears the loudspeaker: with `echo`
(a `RoomEcho`), each sound played is passed through a simulated room and mixed into the stream at the time
it was played, so the echo canceller and the barge-in gate are exercised from recordings.

Without `fast`, chunks are also paced against the wall clock. Each file is streamed a block at a time,
converted to 16-bit mono and resampled to
the recognizer's rate (`SAMPLE_RATE`), as `FileSource` does. When the last file ends, `read()` returns None.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.speech.audio import CHUNK_SECONDS, SAMPLE_RATE, Pcm, resample
from assistant.speech.resample import Resampler, to_pcm16
from assistant.speech.speaker import Output
from assistant.speech.wavfile import WavReader, probe

FADE_SECONDS = 0.01
"""A sound cut by `stop()` fades out over this long (s), as a device output does."""


@dataclass(frozen=True)
class RoomEcho:
    """A simulated path from the loudspeaker to the microphone: delay, room reverberation (exponentially
    decaying noise, seeded), a soft-clipping loudspeaker, and a little noise."""

    gain_db: float = 0.0
    """Level of the echo relative to the sound played (dB)."""
    delay_s: float = 0.04
    """Time from the sample sent to the direct sound at the microphone (s): output and input latency plus
    the distance."""
    rt60_s: float = 0.4
    """Reverberation time of the room: the reflections decay by 60 dB in this long (s)."""
    direct: float = 3.0
    """Amplitude of the direct sound relative to the reflections' first sample (factor)."""
    drive: float = 0.5
    """Loudspeaker nonlinearity: tanh(drive x) / drive (0: linear); 0.5 compresses a full-scale peak by
    0.7 dB (harmonics about 35 dB down), like a small loudspeaker at a fair volume."""
    noise_dbfs: float = -70.0
    """White noise added at the microphone (dBFS)."""
    seed: int = 1

    def impulse_response(self, rate: int = SAMPLE_RATE) -> np.ndarray:
        """The room's impulse response (unit energy before `gain_db`)."""
        rng = np.random.default_rng(self.seed)
        length = int((self.delay_s + self.rt60_s) * rate)
        t = np.arange(length) / rate
        rir = rng.standard_normal(length) * np.exp(-6.9 * (t - self.delay_s) / self.rt60_s)
        start = int(self.delay_s * rate)
        rir[:start] = 0.0
        rir[start] += self.direct
        return rir / np.sqrt(np.sum(rir ** 2)) * 10 ** (self.gain_db / 20)

    def apply(self, played: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
        """What the microphone hears of `played` (float samples, full scale 1.0), including the room's tail."""
        driven = np.tanh(self.drive * played) / self.drive if self.drive > 0 else played
        echo = np.convolve(driven, self.impulse_response(rate))
        noise = np.random.default_rng(self.seed + played.size).standard_normal(echo.size)
        return echo + noise * 10 ** (self.noise_dbfs / 20)


@dataclass
class StreamSource:
    """WAV files as one microphone stream, with stream times. `open()`, then `begin()`/`read()`, `close()`."""

    files: list[Path]
    fast: bool = False
    """Deliver as fast as possible instead of in real time."""
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], float] = time.monotonic
    """The wall clock used for real-time pacing (s)."""
    rate: int = field(default=SAMPLE_RATE, init=False)
    """Rate of every chunk delivered (Hz)."""
    starts: list[float] = field(default_factory=list, init=False)
    """Stream time at which each file begins (s), known once that file has been reached."""
    _position: float = field(default=0.0, init=False)
    """Stream time at the end of the audio taken from the files so far (s)."""
    _played_until: float = field(default=0.0, init=False)
    """Stream time at which our own latest playback ended (s)."""
    _not_before: float = field(default=0.0, init=False)
    _index: int = field(default=0, init=False)
    _reader: WavReader | None = field(default=None, init=False, repr=False)
    _resampler: Resampler | None = field(default=None, init=False, repr=False)
    _block: int = field(default=1, init=False)
    _wall_start: float | None = field(default=None, init=False)
    echo: RoomEcho | None = None
    """The simulated loudspeaker echo mixed into the stream (None: the recording as it is)."""
    last_chunk_at: float = field(default=0.0, init=False)
    """Stream time at which the chunk `read()` returned last begins (s)."""
    _echoes: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict, init=False, repr=False)
    """Handle -> (first stream sample, float samples) of each echo still to be mixed in."""
    _handles: int = field(default=0, init=False)

    def open(self) -> StreamSource:
        """Check every file's header now, so a bad file is reported before listening starts."""
        for path in self.files:
            probe(path)
        return self

    def now(self) -> float:
        """The stream's clock (s): the later of the audio taken so far and the end of our own playback."""
        return max(self._position, self._played_until)

    def advance(self, seconds: float) -> None:
        """Our own playback took `seconds`, starting now: the stream moves on meanwhile."""
        self._played_until = self.now() + max(0.0, seconds)

    def add_echo(self, start_s: float, played: np.ndarray) -> int:
        """With `echo`: the sound `played` (float samples at `rate`) started at stream time `start_s`; its
        echo is mixed into the stream from then on. Returns a handle for `cut_echo` (-1 without `echo`)."""
        if self.echo is None:
            return -1
        self._handles += 1
        self._echoes[self._handles] = (round(start_s * self.rate), self.echo.apply(played, self.rate))
        return self._handles

    def cut_echo(self, handle: int, played: np.ndarray) -> None:
        """The sound of `handle` was cut: only `played` (its start) reaches the room."""
        if self.echo is not None and handle in self._echoes:
            start, _ = self._echoes[handle]
            self._echoes[handle] = (start, self.echo.apply(played, self.rate))

    def _mix_echo(self, chunk: bytes, start_s: float) -> bytes:
        if not self._echoes:
            return chunk
        first = round(start_s * self.rate)
        samples = np.frombuffer(chunk, dtype="<i2") / 32768.0
        for handle, (start, echo) in list(self._echoes.items()):
            if start + echo.size <= first:
                del self._echoes[handle]  # heard in full
                continue
            lo, hi = max(first, start), min(first + samples.size, start + echo.size)
            if lo < hi:
                samples[lo - first:hi - first] += echo[lo - start:hi - start]
        return to_pcm16(samples)

    def begin(self, not_before: float) -> None:
        """Listen from here on: drop the audio before stream time `not_before` (s)."""
        self._not_before = not_before

    def where(self, stream_s: float) -> tuple[str, float] | None:
        """(file, seconds into it) of stream time `stream_s`, among the files reached so far."""
        found = None
        for index, start in enumerate(self.starts):
            if start <= stream_s:
                found = (str(self.files[index]), round(stream_s - start, 3))
        return found

    def read(self) -> bytes | None:
        """The next chunk at or after the gate, or None at the end of the last file. Never empty."""
        while True:
            chunk = self._next_audio()
            if chunk is None:
                return None
            start = self._position
            self._position += len(chunk) / 2 / self.rate
            if self._position <= self._not_before:
                continue  # heard while the gate was shut (our own playback, or before this turn)
            chunk = self._mix_echo(chunk, start)
            if start < self._not_before:  # the gate opens inside this chunk: keep its tail
                skip = int((self._not_before - start) * self.rate) * 2
                chunk = chunk[skip:] or chunk[-2:]
                start = self._position - len(chunk) / 2 / self.rate
            self.last_chunk_at = start
            self._pace()
            return chunk

    def _pace(self) -> None:
        if self.fast:
            return
        if self._wall_start is None:
            self._wall_start = self.wall() - self._position
        delay = self._wall_start + self._position - self.wall()
        if delay > 0:
            self.sleep(delay)

    def _next_audio(self) -> bytes | None:
        """The next converted chunk of the stream, across file boundaries; None after the last file."""
        while True:
            if self._reader is None and not self._open_next():
                return None
            if self._reader is None or self._resampler is None:
                return None
            block = self._reader.read(self._block)
            out = self._resampler.process(block) if block.size else self._resampler.flush()
            if not block.size:
                self._close_file()
            if out.size:
                return to_pcm16(out)

    def _open_next(self) -> bool:
        if self._index >= len(self.files):
            return False
        reader = WavReader(self.files[self._index])
        self._index += 1
        self.starts.append(self._position)
        self._reader = reader
        self._resampler = Resampler(reader.format.rate, self.rate)
        self._block = max(1, round(reader.format.rate * CHUNK_SECONDS))
        return True

    def _close_file(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader, self._resampler = None, None

    def close(self) -> None:
        """Close the file being read, if any."""
        self._close_file()


@dataclass
class TimedOutput:
    """An Output that tells the stream how long each sound took, so the stream's clock runs on meanwhile.
    `start()` plays a sound that barge-in listens over (see the module)."""

    inner: Output
    stream: StreamSource

    def play(self, pcm: Pcm) -> None:
        self.inner.play(pcm)  # a sound that failed to play took no time
        self.stream.add_echo(self.stream.now(), _floats(pcm, self.stream.rate))
        self.stream.advance(pcm.seconds)

    def start(self, pcm: Pcm) -> StreamPlaying:
        """Begin `pcm` at the stream's present time, without moving the clock on: the caller reads the
        stream through it (`StreamPlaying`)."""
        samples = _floats(pcm, self.stream.rate)
        at = self.stream.now()
        return StreamPlaying(self, pcm, samples, at, self.stream.add_echo(at, samples))

    def close(self) -> None:
        self.inner.close()


@dataclass
class StreamPlaying:
    """One sound playing on the stream's clock; made by `TimedOutput.start()`."""

    output: TimedOutput
    pcm: Pcm
    samples: np.ndarray
    """The sound at the stream's rate (float, full scale 1.0): the echo canceller's reference."""
    started_at: float
    """Stream time of its first sample (s)."""
    echo_handle: int = -1
    stopped_at: float | None = None
    """Stream time the sound stopped, once it has (s)."""

    @property
    def rate(self) -> int:
        return self.output.stream.rate

    @property
    def ends_at(self) -> float:
        """Stream time of its last sample when played in full (s)."""
        return self.started_at + self.samples.size / self.rate

    def finished(self) -> bool:
        """The stream has passed the end of the sound."""
        return self.output.stream.now() >= self.ends_at

    def reference(self, start_s: float, count: int) -> np.ndarray:
        """The `count` samples sent to the loudspeaker from stream time `start_s` (zeros outside the sound)."""
        return _window(self.samples, round((start_s - self.started_at) * self.rate), count)

    def stop(self, at: float) -> float:
        """Cut the sound at stream time `at` (after a short fade); returns the stream time it ended."""
        played = max(0, min(self.samples.size, round((at - self.started_at + FADE_SECONDS) * self.rate)))
        kept = self.samples[:played].copy()
        fade = min(kept.size, round(FADE_SECONDS * self.rate))
        if fade:
            kept[-fade:] *= np.linspace(1.0, 0.0, fade)
        self.stopped_at = self.started_at + played / self.rate
        self.output.stream.cut_echo(self.echo_handle, kept)
        self.output.inner.play(Pcm(to_pcm16(kept), self.rate))
        self.output.stream.advance(max(0.0, self.stopped_at - self.output.stream.now()))
        return self.stopped_at

    def finish(self) -> None:
        """Played in full: the inner output gets it all, and the clock is at least at its end."""
        if self.stopped_at is not None:
            return  # already cut (stop() may have failed after that)
        self.stopped_at = self.ends_at
        self.output.inner.play(self.pcm)
        self.output.stream.advance(max(0.0, self.ends_at - self.output.stream.now()))


def _floats(pcm: Pcm, rate: int) -> np.ndarray:
    converted = resample(pcm, rate)
    return np.frombuffer(converted.data[: len(converted.data) // 2 * 2], dtype="<i2") / 32768.0


def _window(samples: np.ndarray, first: int, count: int) -> np.ndarray:
    """samples[first:first + count], zero-padded where that runs outside them."""
    out = np.zeros(count)
    lo, hi = max(0, first), min(samples.size, first + count)
    if lo < hi:
        out[lo - first:hi - first] = samples[lo:hi]
    return out
