"""Interruptible playback on a real output device, for barge-in (`SoundDeviceOutput.start`).

The sound is played by a sounddevice OutputStream callback, block by block, so it can be cut at any block:
`stop()` fades the next block out over `FADE_SECONDS` and ends the stream (under 20 ms of speech after the
decision, plus the device's buffer). Each callback notes when its block reaches the loudspeaker (PortAudio's
`outputBufferDacTime`, moved onto the monotonic clock that the microphone stamps its chunks with), so the
echo canceller gets the samples that were playing when each microphone chunk was captured (`reference`).
The stream factory is replaceable, so tests run without a sound card.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.errors import AudioDeviceError
from assistant.speech.audio import Pcm, resample

FADE_SECONDS = 0.01
"""A cut sound fades out over this long (s)."""
OutputFactory = Callable[[int, Callable[..., None], Callable[[], None]], Any]
"""(rate, callback(outdata, frames, time_info, status), finished()) -> a started stream with .close()."""


def sounddevice_output(device: int | str | None) -> OutputFactory:
    def factory(rate: int, callback: Callable[..., None], finished: Callable[[], None]) -> Any:
        import sounddevice as sd

        try:
            stream = sd.OutputStream(samplerate=rate, channels=1, dtype="int16", device=device, callback=callback,
                                     finished_callback=finished)
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioDeviceError(f"the speaker failed ({exc}); I will print what I say instead") from exc
        return stream

    return factory


@dataclass
class DevicePlaying:
    """One sound playing on the device. Times are on `clock` (monotonic, as the microphone's stamps)."""

    pcm: Pcm
    reference_rate: int
    """Rate of the reference handed to the echo canceller (Hz): the microphone's."""
    clock: Callable[[], float] = time.monotonic
    started_at: float = 0.0
    """When its first sample reached the loudspeaker (s; estimated until the first callback)."""
    stopped_at: float | None = None
    _samples: np.ndarray = field(init=False, repr=False)
    _reference: np.ndarray = field(init=False, repr=False)
    _next: int = field(default=0, init=False)
    _stop: bool = field(default=False, init=False)
    _done: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _stream: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._samples = np.frombuffer(self.pcm.data[: len(self.pcm.data) // 2 * 2], dtype="<i2").copy()
        ref = resample(self.pcm, self.reference_rate)
        self._reference = np.frombuffer(ref.data[: len(ref.data) // 2 * 2], dtype="<i2") / 32768.0
        self.started_at = self.clock()

    def begin(self, factory: OutputFactory) -> DevicePlaying:
        self._stream = factory(self.pcm.rate, self.callback, self._done.set)
        return self

    def callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        """sounddevice's output callback: the next block, or silence after the last one (or the cut)."""
        if self._next == 0:
            dac = float(getattr(time_info, "outputBufferDacTime", 0.0))
            ahead = dac - float(getattr(time_info, "currentTime", 0.0))
            self.started_at = self.clock() + max(0.0, ahead)
        if self._done.is_set():  # after the last block, or the cut: silence until the stream is closed
            outdata[:] = np.zeros(frames, dtype="<i2").reshape(outdata.shape)
            return
        block = self._samples[self._next:self._next + frames].astype(np.float64)
        if self._stop:
            fade = min(block.size, max(1, round(FADE_SECONDS * self.pcm.rate)))
            block = block[:fade] * np.linspace(1.0, 0.0, fade)
        out = np.zeros(frames, dtype="<i2")
        out[: block.size] = np.round(block).astype("<i2")
        outdata[:] = out.reshape(outdata.shape)
        self._next += block.size
        if self._stop or self._next >= self._samples.size:
            self.stopped_at = self.started_at + self._next / self.pcm.rate
            self._done.set()  # silence from here on; stop() or finish() closes the stream

    def finished(self) -> bool:
        return self._done.is_set() or self.clock() >= self.started_at + self._samples.size / self.pcm.rate

    def reference(self, start_s: float, count: int) -> np.ndarray:
        first = round((start_s - self.started_at) * self.reference_rate)
        out = np.zeros(count)
        lo, hi = max(0, first), min(self._reference.size, first + count)
        if lo < hi:
            out[lo - first:hi - first] = self._reference[lo:hi]
        return out

    def stop(self, at: float) -> float:
        self._stop = True
        self._done.wait(0.2)
        self._close()
        if self.stopped_at is None:
            self.stopped_at = self.clock()
        return self.stopped_at

    def finish(self) -> None:
        self._done.wait(max(0.0, self.started_at + self._samples.size / self.pcm.rate - self.clock()) + 1.0)
        self._close()
        if self.stopped_at is None:
            self.stopped_at = self.clock()

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
