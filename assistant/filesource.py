"""`--audio-in`: WAV files played into the same listening path the microphone uses, one file per turn.

Each turn takes the next file, cut into the same chunks the microphone delivers, paced in real time
(unless `fast`). After the file come silent chunks, as a quiet room would give, until the end-of-speech
detector decides. When the files run out, `read()` returns None: the session ends cleanly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.audio import CHUNK_SECONDS, chunks, read_wav, silence


@dataclass
class FileSource:
    """Audio files as successive user turns."""

    files: list[Path]
    fast: bool = False
    """Feed as fast as possible instead of in real time."""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rate: int = 16000
    """Rate of the current file (Hz)."""
    _pending: list[bytes] = field(default_factory=list, init=False, repr=False)
    _next_file: int = field(default=0, init=False)
    _exhausted: bool = field(default=False, init=False)
    _due: float = field(default=0.0, init=False)
    turn_started_at: float = field(default=0.0, init=False)
    """Monotonic time the current turn's first chunk was due."""

    def open(self) -> FileSource:
        """Check every file is readable now, so a bad file is reported before the conversation starts."""
        for path in self.files:
            read_wav(path)
        return self

    def begin(self, not_before: float) -> None:
        """Start the next turn with the next file (none left: read() returns None)."""
        if self._next_file >= len(self.files):
            self._exhausted = True
            return
        pcm = read_wav(self.files[self._next_file])
        self._next_file += 1
        self.rate = pcm.rate
        self._pending = chunks(pcm.data, pcm.rate)
        self._due = max(self.clock(), not_before)
        self.turn_started_at = self._due

    def read(self) -> bytes | None:
        """The next chunk (silence after the file's end), paced in real time unless fast."""
        if self._exhausted:
            return None
        chunk = self._pending.pop(0) if self._pending else silence(CHUNK_SECONDS, self.rate)
        if not self.fast:
            self._due += len(chunk) / 2 / self.rate
            delay = self._due - self.clock()
            if delay > 0:
                self.sleep(delay)
        return chunk

    def close(self) -> None:
        """Nothing to release."""
