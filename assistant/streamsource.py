"""`tingle listen --audio-in A.wav B.wav ...`: WAV files played end to end as one continuous microphone.

Unlike `assistant.filesource` (one file per turn), the files here are one stream laid out in real time:
wake phrases, answers, background talk, words said while the assistant speaks. Every chunk has a place on
the stream's clock (`now()`, seconds from the start of the first file):

* reading advances the clock by the chunk's length;
* the assistant's own playback advances it too (`advance()`, called by `TimedOutput` for every sound it
  plays): a real microphone goes on capturing while the assistant talks, so what the stream holds during
  that time is passed over at the next `begin()`, exactly as the microphone's capture gate drops it;
* `begin(not_before)` drops the audio before stream time `not_before`.

So a recording is heard as a microphone would have heard it, whether the assistant's voice is rendered in
a few milliseconds (`--fast`, `--audio-out`) or played for real. Without `fast`, chunks are also paced
against the wall clock. Each file is streamed a block at a time, converted to 16-bit mono and resampled to
the recognizer's rate (`SAMPLE_RATE`), as `FileSource` does. When the last file ends, `read()` returns None.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.audio import CHUNK_SECONDS, SAMPLE_RATE, Pcm
from assistant.resample import Resampler, to_pcm16
from assistant.speaker import Output
from assistant.wavfile import WavReader, probe


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
            if start < self._not_before:  # the gate opens inside this chunk: keep its tail
                skip = int((self._not_before - start) * self.rate) * 2
                chunk = chunk[skip:] or chunk[-2:]
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
    """An Output that tells the stream how long each sound took, so the stream's clock runs on meanwhile."""

    inner: Output
    stream: StreamSource

    def play(self, pcm: Pcm) -> None:
        self.inner.play(pcm)  # a sound that failed to play took no time
        self.stream.advance(pcm.seconds)

    def close(self) -> None:
        self.inner.close()
