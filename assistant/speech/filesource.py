"""`--audio-in`: WAV files played into the same listening path the microphone uses, one file per turn.

Each turn takes the next file, streamed (a block at a time, so memory does not grow with the file), converted
to 16-bit mono and resampled to the recognizer's rate (`SAMPLE_RATE`) whatever the file's own format: `rate`
never changes, so a recognizer built for it before `begin()` always matches. Chunks are paced in real time
(unless `fast`). After the file come silent chunks, as a quiet room would give, until the end-of-speech
detector decides; audio left in the file after that is not heard (`take_unheard()`: the voice channel
reports sound in it; `tingle listen --audio-in` takes one continuous recording instead). When the files run out,
`read()` returns None: the session ends cleanly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.speech.audio import CHUNK_SECONDS, SAMPLE_RATE, silence
from assistant.speech.resample import Resampler, to_pcm16
from assistant.speech.wavfile import WavReader, probe

UNHEARD_SCAN_S = 120.0
"""How much of a file left after its turn `take_unheard` reads to find sound in it (s)."""
UNHEARD_ABOVE_DB = 20.0
"""Sound, in what is left, is this far above its quietest tenth (dB): a voice after a pause, not the babble or TV
going on behind the answer (with 10 dB, the noise after the answers of the benchmark's paced noisy clips was
reported as sound)."""
UNHEARD_MIN_FRAMES = 15
"""At least this many 10 ms frames of sound (a click is not an answer)."""


@dataclass
class FileSource:
    """Audio files as successive user turns."""

    files: list[Path]
    fast: bool = False
    """Feed as fast as possible instead of in real time."""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rate: int = field(default=SAMPLE_RATE, init=False)
    """Rate of every chunk delivered (Hz): the recognizer's, whatever the files' rates."""
    _reader: WavReader | None = field(default=None, init=False, repr=False)
    _resampler: Resampler | None = field(default=None, init=False, repr=False)
    _block: int = field(default=1, init=False)
    _next_file: int = field(default=0, init=False)
    _exhausted: bool = field(default=False, init=False)
    _due: float = field(default=0.0, init=False)
    turn_started_at: float = field(default=0.0, init=False)
    """Monotonic time the current turn's first chunk was due."""

    def open(self) -> FileSource:
        """Check every file's header now, so a bad file is reported before the conversation starts."""
        for path in self.files:
            probe(path)
        return self

    def begin(self, not_before: float) -> None:
        """Start the next turn with the next file (none left: read() returns None)."""
        self._close_file()
        if self._next_file >= len(self.files):
            self._exhausted = True
            return
        reader = WavReader(self.files[self._next_file])
        self._next_file += 1
        self._reader = reader
        self._resampler = Resampler(reader.format.rate, self.rate)
        self._block = max(1, round(reader.format.rate * CHUNK_SECONDS))
        self._due = max(self.clock(), not_before)
        self.turn_started_at = self._due

    def read(self) -> bytes | None:
        """The next chunk (silence after the file's end), paced in real time unless fast. Never empty."""
        if self._exhausted:
            return None
        chunk = self._next_audio() or silence(CHUNK_SECONDS, self.rate)
        if not self.fast:
            self._due += len(chunk) / 2 / self.rate
            delay = self._due - self.clock()
            if delay > 0:
                self.sleep(delay)
        return chunk

    def _next_audio(self) -> bytes:
        """The file's next converted chunk; b"" once it has ended. Each pass reads at least one frame or
        ends the file, so the loop ends."""
        while self._reader is not None and self._resampler is not None:
            block = self._reader.read(self._block)
            out = self._resampler.process(block) if block.size else self._resampler.flush()
            if not block.size:
                self._close_file()
            if out.size:
                return to_pcm16(out)
        return b""

    def take_unheard(self) -> tuple[float, float] | None:
        """Read what is left of this turn's file (at most UNHEARD_SCAN_S) and close it. Returns where sound lies
        in it, (start, end) in seconds from where the turn left off, or None when what is left is only silence
        or room noise (10 ms frames above -50 dBFS and UNHEARD_ABOVE_DB above the quietest tenth of them count as
        sound; fewer than UNHEARD_MIN_FRAMES of them is none)."""
        reader = self._reader
        if reader is None:
            return None
        rate = reader.format.rate
        frame = max(1, round(rate * 0.01))
        levels: list[np.ndarray] = []
        try:  # a second at a time: memory stays small whatever the rate
            for _ in range(round(UNHEARD_SCAN_S)):
                block = reader.read(frame * 100)
                count = block.size // frame
                if count == 0:
                    break
                power = np.mean(block[: count * frame].reshape(count, frame) ** 2, axis=1)
                levels.append(10 * np.log10(np.maximum(power, 1e-12)))
        finally:
            self._close_file()
        if not levels:
            return None
        every = np.concatenate(levels)
        loud = np.flatnonzero(every >= max(-50.0, float(np.percentile(every, 10)) + UNHEARD_ABOVE_DB))
        if loud.size < UNHEARD_MIN_FRAMES:
            return None
        return float(loud[0] * 0.01), float((loud[-1] + 1) * 0.01)

    def _close_file(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader, self._resampler = None, None

    def close(self) -> None:
        """Close the file being read, if any."""
        self._close_file()
