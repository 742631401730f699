"""Shared helpers for the fault and fuzz suites: a hard time limit, and WAV files built field by field."""

from __future__ import annotations

import signal
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import numpy as np


class Hang(BaseException):
    """Raised in the main thread when a time limit passes (a BaseException: no `except Exception` or
    `except OSError` in the code under test can swallow it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail with Hang if the block takes longer than `seconds` (SIGALRM: interrupts a busy Python loop)."""
    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def wav_header(rate: int, channels: int, bits: int, data_bytes: int, *, tag: int = 1,
               align: int | None = None, extensible: bool = False) -> bytes:
    """A canonical 44-byte WAV header (or 68 bytes with WAVE_FORMAT_EXTENSIBLE). Fields are taken as given,
    wrapped to their sizes, so headers can lie."""
    block = channels * bits // 8 if align is None else align
    fields = (tag if not extensible else 0xFFFE, channels % 65536, rate % 2**32, (rate * block) % 2**32,
              block % 65536, bits % 65536)
    fmt = struct.pack("<HHIIHH", *fields)
    if extensible:
        guid = struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt += struct.pack("<HHI", 22, bits, 0) + guid
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_bytes % 2**32)
    return b"RIFF" + struct.pack("<I", (4 + len(chunks) + data_bytes) % 2**32) + b"WAVE" + chunks


def encode(samples: np.ndarray, bits: int, floating: bool = False) -> bytes:
    """Float samples in [-1, 1] (frames x channels, or mono) in the given sample format, little-endian."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if floating:
        return x.astype("<f4" if bits == 32 else "<f8").tobytes()
    if bits == 8:
        return np.clip(np.round(x * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    if bits == 24:
        ints = np.clip(np.round(x * 8388608), -8388608, 8388607).astype("<i4")
        return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    scale, kind = {16: (32768, "<i2"), 32: (2147483648, "<i4")}[bits]
    return np.clip(np.round(x * scale), -scale, scale - 1).astype(kind).tobytes()


def wav_file(samples: np.ndarray, rate: int, bits: int = 16, floating: bool = False,
             extensible: bool = False) -> bytes:
    """A complete WAV file: `samples` is mono (n,) or (n, channels) floats in [-1, 1]."""
    frames = np.asarray(samples, dtype=np.float64)
    channels = 1 if frames.ndim == 1 else frames.shape[1]
    data = encode(frames, bits, floating)
    return wav_header(rate, channels, bits, len(data), tag=3 if floating else 1, extensible=extensible) + data


def tone(frequency: float, seconds: float, rate: int, level: float = 0.5) -> np.ndarray:
    """A sine wave, `seconds` long at `rate` Hz."""
    return level * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)
