"""Microphone input through sounddevice, with a capture gate: nothing captured while the assistant speaks.

Audio is captured at 16 kHz when the device supports it, else at its native rate, and then delivered
resampled to `SAMPLE_RATE` (the recognizer's rate): `rate` is the same for every device.

Chunks are stamped with the (monotonic) time they were captured (`last_chunk_at`, for barge-in).
`begin(not_before)` opens a turn: any chunk captured before `not_before` (the end of our own playback plus
a guard) is thrown away, so the assistant does not hear itself. With barge-in the gate opens at the start
of playback instead, and the echo canceller (`assistant.speech.bargein`) takes the assistant's voice out.
The stream factory is replaceable, so tests run without hardware.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.errors import AudioDeviceError
from assistant.speech.audio import CHUNK_SECONDS, SAMPLE_RATE
from assistant.speech.resample import Resampler, to_pcm16

log = logging.getLogger(__name__)
STALL_SECONDS = 3.0
"""A microphone that delivers nothing for this long has failed (s)."""

StreamFactory = Callable[[int, int, Callable[..., None]], Any]
"""(rate, blocksize, callback) -> a started stream with .close() and optionally .latency."""


def _sounddevice_stream(device: int | str | None) -> StreamFactory:
    def factory(rate: int, blocksize: int, callback: Callable[..., None]) -> Any:
        import sounddevice as sd

        try:
            stream = sd.RawInputStream(samplerate=rate, blocksize=blocksize, device=device, channels=1,
                                       dtype="int16", callback=callback)
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioDeviceError(_no_mic_message(exc)) from exc
        return stream

    return factory


def _no_mic_message(exc: object) -> str:
    return (f"no usable microphone ({exc}). Plug one in and check it with `tingle devices`, "
            "choose one with --device, or use --text to type your answers.")


def choose_rate(device: int | str | None) -> int:
    """16 kHz when the device supports it, else its native rate (the recognizer is told which)."""
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library missing
        raise AudioDeviceError(f"the audio library is missing ({exc}); run scripts/setup (libportaudio2)") from exc
    try:
        sd.check_input_settings(device=device, samplerate=SAMPLE_RATE, channels=1, dtype="int16")
        return SAMPLE_RATE
    except (sd.PortAudioError, ValueError):
        try:
            info = sd.query_devices(device, "input")
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioDeviceError(_no_mic_message(exc)) from exc
        return int(info["default_samplerate"])


def describe_devices() -> str:
    """Human-readable list of audio devices, or a clear message when there are none."""
    try:
        import sounddevice as sd
    except OSError as exc:
        raise AudioDeviceError(f"the audio library is missing ({exc}); run scripts/setup (libportaudio2)") from exc
    try:
        devices = sd.query_devices()
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot list audio devices: {exc}") from exc
    if len(devices) == 0:
        return ("No audio devices found: no microphone and no speakers. "
                "Use --text to type, or --audio-in/--audio-out to use WAV files.")
    lines = []
    for index, info in enumerate(devices):
        kinds = [k for k, n in (("input", info["max_input_channels"]), ("output", info["max_output_channels"])) if n]
        lines.append(f"{index}: {info['name']} ({', '.join(kinds)}; {int(info['default_samplerate'])} Hz)")
    return "\n".join(lines)


@dataclass
class Microphone:
    """Captured audio, stamped and gated. Use `open()`, then `begin()`/`read()` per turn, then `close()`."""

    device: int | str | None = None
    capture_rate: int = SAMPLE_RATE
    """The device's rate (Hz); set by open() from the device unless a stream factory is given."""
    stream_factory: StreamFactory | None = None
    clock: Callable[[], float] = time.monotonic
    rate: int = field(default=SAMPLE_RATE, init=False)
    """Rate of the chunks `read()` delivers (Hz)."""
    _resampler: Resampler | None = field(default=None, init=False, repr=False)
    _queue: queue.Queue[tuple[float, bytes]] = field(default_factory=queue.Queue, init=False, repr=False)
    _stream: Any = field(default=None, init=False, repr=False)
    _not_before: float = field(default=0.0, init=False)
    dropped: int = field(default=0, init=False)
    """Chunks thrown away by the gate so far."""
    failure: str = field(default="", init=False)
    last_chunk_at: float = field(default=0.0, init=False)
    """Capture time (monotonic s) of the start of the chunk `read()` returned last (barge-in aligns the
    echo canceller's reference with it)."""

    def open(self) -> Microphone:
        factory = self.stream_factory
        if factory is None:
            self.capture_rate = choose_rate(self.device)
            factory = _sounddevice_stream(self.device)
        if self.capture_rate < 1:
            raise AudioDeviceError(f"the microphone reports a sample rate of {self.capture_rate} Hz; "
                                   "choose another one with --device")
        if self.capture_rate != self.rate:
            self._resampler = Resampler(self.capture_rate, self.rate)
        self._stream = factory(self.capture_rate, max(1, int(self.capture_rate * CHUNK_SECONDS)), self._callback)
        return self

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status and getattr(status, "input_overflow", False):
            log.info("microphone overflow")
        latency = float(getattr(self._stream, "latency", 0.0) or 0.0)
        self.push(self.clock() - frames / self.capture_rate - latency, bytes(indata))

    def push(self, captured_at: float, pcm: bytes) -> None:
        """Add a chunk captured at `captured_at` (monotonic seconds, start of the chunk), at `capture_rate`."""
        self._queue.put((captured_at, pcm))

    def begin(self, not_before: float) -> None:
        """Start a turn: drop everything captured before `not_before`."""
        self._not_before = not_before

    def read(self) -> bytes | None:
        """Next chunk captured after the gate opened. Raises AudioDeviceError if the microphone stalls."""
        deadline = self.clock() + STALL_SECONDS
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise AudioDeviceError("the microphone stopped sending audio. Check it is plugged in, "
                                       "then start again (your answers so far are in the transcript).")
            try:
                captured_at, pcm = self._queue.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if captured_at < self._not_before:
                self.dropped += 1
                continue
            if self._resampler is not None:
                usable = pcm[: len(pcm) - len(pcm) % 2]
                pcm = to_pcm16(self._resampler.process(np.frombuffer(usable, dtype="<i2") / 32768.0))
            if len(pcm) >= 2:  # an empty chunk (or one the resampler holds back) is not handed out
                self.last_chunk_at = captured_at
                return pcm

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
