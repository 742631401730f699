"""Streaming band-limited resampling (windowed sinc), so audio at any accepted rate reaches the recognizer
at its own rate without aliasing (downsampling) or imaging (upsampling).

Feed blocks with `process()`, then `flush()` once at the end of the stream; the output has
round-up(input samples x out_rate / in_rate) samples in all. Memory is bounded by the block size plus the
filter length. Output sample n sits at input position n x in_rate / out_rate, computed in integers (no drift).
"""

from __future__ import annotations

import math

import numpy as np

ZERO_CROSSINGS = 16
"""Half the filter length, in zero crossings of the low-pass sinc."""
ROLL_OFF = 0.94
"""Cut-off as a fraction of the lower rate's Nyquist frequency."""
MAX_TABLE = 1 << 20
"""Filter weights precomputed per phase when the rates' ratio has few enough phases (values)."""


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] -> 16-bit signed little-endian PCM (rounded, clipped)."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()


class Resampler:
    """One stream from `in_rate` to `out_rate` Hz (both at least 1)."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate < 1 or out_rate < 1:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        self.in_rate, self.out_rate = in_rate, out_rate
        self._cutoff = ROLL_OFF * min(1.0, out_rate / in_rate)  # of the input Nyquist: 2 * fc in cycles/sample
        self._half = ZERO_CROSSINGS / self._cutoff
        """Filter half-width in input samples."""
        self._taps = math.ceil(self._half)
        self._offsets = np.arange(-self._taps + 1, self._taps + 1)
        self._buffer = np.zeros(self._taps)  # history before sample 0 is silence
        self._start = -self._taps
        """Absolute input index of _buffer[0]."""
        self._received = 0
        self._produced = 0
        self._flushed = False
        step = math.gcd(in_rate, out_rate)
        self._phase_step = step
        phases = out_rate // step
        self._table: np.ndarray | None = None
        if not self.identity and phases * self._offsets.size <= MAX_TABLE:
            fractions = np.arange(phases) * step / out_rate
            self._table = self._weights(fractions[:, None] - self._offsets[None, :])

    @property
    def identity(self) -> bool:
        return self.in_rate == self.out_rate

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Resample the next block; returns the output samples that are now complete."""
        if self._flushed:
            raise ValueError("this stream has been flushed")
        samples = np.asarray(samples, dtype=np.float64)
        if self.identity:
            self._received += samples.size
            return samples
        self._buffer = np.concatenate([self._buffer, samples])
        self._received += samples.size
        return self._emit(self._ready(self._received - self._taps))

    def flush(self) -> np.ndarray:
        """The output still held back by the filter (the stream is over: silence follows)."""
        if self._flushed or self.identity:
            self._flushed = True
            return np.zeros(0)
        self._flushed = True
        self._buffer = np.concatenate([self._buffer, np.zeros(self._taps + 1)])
        total = -(-self._received * self.out_rate // self.in_rate)
        return self._emit(total)

    def _ready(self, available: int) -> int:
        """Outputs whose filter window lies within the first `available` + taps input samples: those with
        floor(n * in / out) + taps < received, i.e. n < (received - taps) * out / in."""
        if available <= 0:
            return self._produced
        return max(self._produced, -(-available * self.out_rate // self.in_rate))

    def _emit(self, end: int) -> np.ndarray:
        count = end - self._produced
        if count <= 0:
            return np.zeros(0)
        indices = np.arange(self._produced, end, dtype=np.int64)
        # position relative to _buffer[0], exact in integers before the one division
        relative = (indices * self.in_rate - self._start * self.out_rate) / self.out_rate
        base = np.floor(relative).astype(np.int64)
        taps = base[:, None] + self._offsets[None, :]
        if self._table is not None:
            weights = self._table[(indices * self.in_rate) % self.out_rate // self._phase_step]
        else:
            weights = self._weights(relative[:, None] - taps)
        out = (self._buffer[taps] * weights).sum(axis=1)
        self._produced = end
        next_first = (end * self.in_rate) // self.out_rate - self._taps + 1  # lowest index the next output needs
        drop = max(0, min(next_first - self._start, self._buffer.size))
        self._buffer = self._buffer[drop:]
        self._start += drop
        return out

    def _weights(self, distance: np.ndarray) -> np.ndarray:
        """Blackman-windowed sinc low-pass at the cut-off, `distance` in input samples; each row sums to 1."""
        x = np.clip(distance / self._half, -1.0, 1.0)
        window = 0.42 + 0.5 * np.cos(np.pi * x) + 0.08 * np.cos(2 * np.pi * x)
        weights = np.sinc(self._cutoff * distance) * window
        return weights / weights.sum(axis=1, keepdims=True)
