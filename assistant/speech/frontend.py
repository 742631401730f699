"""Noise suppression in front of the recognizer (webrtc-noise-gain, as Home Assistant's Assist uses it).

Measured on 359 of the benchmark's answer clips and 75 distractors (bench/results/frontend.md): webrtc
noise suppression at level 4 before Vosk raised understood answers from 84.1 to 90.8 % (10 dB babble 54.5 ->
78.8 %, 5 dB babble 23.8 -> 52.4 %, 5 dB pink 72.2 -> 88.9 %; clean 98.6 -> 98.0 %, one clip), wrong intents
10 -> 1, distractor accepts 12 -> 3 of 150 turns, for about 0.002 of a core and no added latency. Level 2
understood as many (91.1 %) with more errors (3 wrong, 8 accepts). Its automatic gain, Silero VAD (as an
end-of-speech signal or as a speech gate) and speex suppression did not help and are not offered here.

Suppression hides the room's noise from whatever reads the cleaned audio, so the noise-aware doubt (a
recognized answer in a noisy room is confirmed) must be measured on the raw audio: `FrontEnd.process`
returns the cleaned chunk, and the caller keeps the raw one for its level meter.

The `webrtc_noise_gain` import happens when the first `FrontEnd` is built, never at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.errors import AudioDeviceError

SAMPLE_RATE = 16000
"""The only rate webrtc-noise-gain takes (Hz)."""
FRAME_BYTES = 320
"""10 ms of 16 kHz 16-bit mono PCM: webrtc's processing frame."""
MAX_NOISE_SUPPRESSION = 4
MAX_AUTO_GAIN_DBFS = 31


@dataclass(frozen=True)
class FrontEndConfig:
    """What the front end does to the audio before the recognizer hears it."""

    noise_suppression: int = 4
    """webrtc noise suppression level, 0 (off) to 4 (strongest). Levels 2 and 4 understood as many answers in
    the benchmark; 4 took fewer wrong answers and fewer distractors (level, no unit)."""
    auto_gain_dbfs: int = 0
    """webrtc automatic gain target, in dB below full scale (dBFS, 0 = off, at most 31). Off by default: at
    3 dBFS (with level 2) it lowered understood answers in babble (10 dB: 77 -> 69 %) (dB)."""

    def __post_init__(self) -> None:
        if not 0 <= self.noise_suppression <= MAX_NOISE_SUPPRESSION:
            raise ValueError(f"noise_suppression must be 0-{MAX_NOISE_SUPPRESSION}, not {self.noise_suppression}")
        if not 0 <= self.auto_gain_dbfs <= MAX_AUTO_GAIN_DBFS:
            raise ValueError(f"auto_gain_dbfs must be 0-{MAX_AUTO_GAIN_DBFS}, not {self.auto_gain_dbfs}")

    min_noise_dbfs: float = -50.0
    """The cleaned audio is used only while the raw background (the room's noise floor, see
    `assistant.speech.endpoint`) is at least this loud; in a quiet room suppression only harms: at level 4, clean
    synthetic "what do i do" was heard as "what can i do" and "arm" as nothing (dBFS)."""

    @property
    def enabled(self) -> bool:
        """False when the configuration leaves the audio as it is."""
        return self.noise_suppression > 0 or self.auto_gain_dbfs > 0


def webrtc_frame_processor(config: FrontEndConfig) -> Callable[[bytes], bytes]:
    """One webrtc AudioProcessor as a function of one 10 ms frame (imports webrtc_noise_gain)."""
    from webrtc_noise_gain import AudioProcessor

    processor = AudioProcessor(config.auto_gain_dbfs, config.noise_suppression)

    def process(frame: bytes) -> bytes:
        return bytes(processor.Process10ms(frame).audio)

    return process


@dataclass
class FrontEnd:
    """Streaming noise suppression of 16 kHz 16-bit mono PCM in chunks of any even size.

    Every chunk comes back the same length. Chunks that are whole 10 ms frames (the product's 40 ms chunks)
    pass with no delay. From the first chunk that is not, the stream is delayed for good by 159 samples
    (just under one frame, enough for any chunk size), filled with digital silence: at the start of the
    stream, or as one gap of that length where the first such chunk arrives. Keep one per audio stream:
    the suppressor learns the noise as it goes.
    """

    config: FrontEndConfig = field(default_factory=FrontEndConfig)
    sample_rate: int = SAMPLE_RATE
    """Rate of the PCM fed (Hz); only 16000 is accepted."""
    frame_processor: Callable[[FrontEndConfig], Callable[[bytes], bytes]] = webrtc_frame_processor
    """Builds the 10 ms frame processor (a seam for tests)."""
    _process: Callable[[bytes], bytes] | None = field(default=None, init=False, repr=False)
    _pending: bytearray = field(default_factory=bytearray, init=False, repr=False)
    _ready: bytearray = field(default_factory=bytearray, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.sample_rate != SAMPLE_RATE:
            raise AudioDeviceError(f"noise suppression takes {SAMPLE_RATE} Hz audio, not {self.sample_rate} Hz; "
                                   "this is a bug, please report it")
        if self.config.enabled:
            self._process = self.frame_processor(self.config)

    def process(self, pcm: bytes) -> bytes:
        """The cleaned chunk, as long as `pcm`."""
        if len(pcm) % 2:
            raise AudioDeviceError(f"a chunk of 16-bit audio cannot hold {len(pcm)} bytes; check the audio input")
        if self._process is None:
            return pcm
        self._pending += pcm
        whole = len(self._pending) - len(self._pending) % FRAME_BYTES
        for start in range(0, whole, FRAME_BYTES):
            self._ready += self._process(bytes(self._pending[start:start + FRAME_BYTES]))
        del self._pending[:whole]
        if len(self._ready) < len(pcm):  # part of a frame is still pending: delay the stream, once for good
            self._ready[:0] = bytes(FRAME_BYTES - 2)
        out = bytes(self._ready[: len(pcm)])
        del self._ready[: len(pcm)]
        return out
