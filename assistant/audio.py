"""Small audio helpers shared by the adapters: WAV in/out, chunking, tones. Standard library only."""

from __future__ import annotations

import io
import math
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AudioFileError

SAMPLE_RATE = 16000
"""The recognizer's preferred rate (Hz)."""
CHUNK_SECONDS = 0.04
"""Audio is handled in chunks this long (s): short, so end of speech is noticed quickly."""


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


def read_wav(path: Path) -> Pcm:
    """Read a 16-bit PCM WAV (mono, or stereo mixed down). Errors say what format is needed."""
    try:
        with wave.open(str(path), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except FileNotFoundError as exc:
        raise AudioFileError(f"audio file not found: {path}") from exc
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioFileError(f"cannot read {path} as a WAV file ({exc}); use 16-bit PCM WAV, mono, 16 kHz") from exc
    if width != 2:
        raise AudioFileError(f"{path} has {8 * width}-bit samples; use 16-bit PCM WAV (e.g. sox in.wav -b 16 out.wav)")
    if channels == 1:
        return Pcm(frames, rate)
    samples = array("h")
    samples.frombytes(frames)
    mixed = array("h", (sum(samples[i:i + channels]) // channels for i in range(0, len(samples), channels)))
    return Pcm(mixed.tobytes(), rate)


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
