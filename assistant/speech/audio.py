"""Small audio helpers shared by the adapters: WAV in/out, chunking, tones."""

from __future__ import annotations

import io
import math
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

from assistant.speech.resample import to_pcm16
from assistant.speech.wavfile import WavReader, refuse

SAMPLE_RATE = 16000
"""The recognizer's preferred rate (Hz)."""
CHUNK_SECONDS = 0.04
"""Audio is handled in chunks this long (s): short, so end of speech is noticed quickly."""
MAX_READ_SECONDS = 300.0
"""`read_wav` loads at most this much audio into memory (s)."""


@dataclass(frozen=True)
class Pcm:
    """16-bit signed little-endian mono audio."""

    data: bytes
    """Raw samples."""
    rate: int
    """Sample rate (Hz)."""

    @property
    def seconds(self) -> float:
        """Duration (s)."""
        return len(self.data) / 2 / self.rate


def read_wav(path: Path, max_seconds: float = MAX_READ_SECONDS, *, allow_empty: bool = False) -> Pcm:
    """A whole WAV file in memory as 16-bit mono at its own rate: any format `assistant.speech.wavfile` accepts,
    converted (channels mixed down). For short files (speech renderings); stream long ones with WavReader.
    `allow_empty`: a file with no frames gives empty audio instead of an AudioFileError."""
    with WavReader(path, allow_empty=allow_empty) as reader:
        fmt = reader.format
        if fmt.seconds > max_seconds:
            raise refuse(path, f"it lasts {fmt.seconds:.0f} s, more than the {max_seconds:.0f} s read at once")
        blocks = []
        block = reader.read(fmt.rate)  # one second at a time: bounded intermediate arrays
        while block.size:
            blocks.append(to_pcm16(block))
            block = reader.read(fmt.rate)
        return Pcm(b"".join(blocks), fmt.rate)


def wav_bytes(pcm: Pcm) -> bytes:
    """A complete WAV file holding `pcm`."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(pcm.rate)
        writer.writeframes(pcm.data)
    return buffer.getvalue()


def chunks(data: bytes, rate: int, seconds: float = CHUNK_SECONDS) -> list[bytes]:
    """Split PCM into chunks of `seconds` (the last may be shorter)."""
    size = max(2, int(rate * seconds) * 2)
    return [data[i:i + size] for i in range(0, len(data), size)]


def silence(seconds: float, rate: int) -> bytes:
    """Digital silence."""
    return bytes(2 * int(rate * seconds))


def tone(rate: int, seconds: float = 0.12, frequency: float = 880.0, level: float = 0.2) -> bytes:
    """A short soft beep with 10 ms fades: the 'your turn to talk' cue."""
    count = int(rate * seconds)
    fade = max(1, int(rate * 0.01))
    samples = array("h")
    for i in range(count):
        envelope = min(1.0, i / fade, (count - 1 - i) / fade)
        samples.append(int(32767 * level * envelope * math.sin(2 * math.pi * frequency * i / rate)))
    return samples.tobytes()


def resample(pcm: Pcm, rate: int) -> Pcm:
    """Linear-interpolation resampling (good enough for speech prompts and tones)."""
    if pcm.rate == rate:
        return pcm
    source = array("h")
    source.frombytes(pcm.data)
    if not source:
        return Pcm(b"", rate)
    count = int(len(source) * rate / pcm.rate)
    step = pcm.rate / rate
    out = array("h")
    last = len(source) - 1
    for i in range(count):
        position = i * step
        j = int(position)
        frac = position - j
        nxt = source[j + 1] if j < last else source[last]
        out.append(int(source[j] + (nxt - source[j]) * frac))
    return Pcm(out.tobytes(), rate)
