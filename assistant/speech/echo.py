"""Acoustic echo cancellation: the assistant's own voice taken out of the microphone signal. Pure numpy.

No speexdsp / WebRTC echo canceller installs from PyPI here (only `speexdsp-ns`, a noise suppressor), so
this is the textbook one, the same family as speexdsp's MDF: a partitioned-block frequency-domain NLMS
filter (overlap-save, 10 ms blocks, a 250 ms tail) that learns the path from the loudspeaker (the known
playback, the *far end*) to the microphone, and subtracts its estimate of the echo.

Two copies of the filter ("two-path", as speexdsp does): a background filter adapts on every block; the
foreground filter, whose output is used, takes the background's weights only while they cancel better.
When the user talks over the assistant (double talk), the background misadapts, and the foreground keeps
its good weights: once it has converged, it takes the background's only while the background's error is
well below the microphone (`copy_max_kept_db`), which double talk never allows; a background that diverges
is reset from the foreground.

Every block also reports its energies (`Block`): the microphone, the output and the echo estimate, from
which the barge-in gate (`assistant.speech.bargein`) tells the user's voice from what is left of the echo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assistant.errors import AudioDeviceError
from assistant.speech.resample import to_pcm16

EPSILON = 1e-10


@dataclass(frozen=True)
class EchoConfig:
    """Settings of the echo canceller."""

    rate: int = 16000
    """Sample rate of both signals (Hz)."""
    block_s: float = 0.01
    """Block (and partition) length (s); the filter works on one block at a time."""
    tail_s: float = 0.4
    """Longest echo the filter models, from the reference to the microphone (s): room reverberation plus
    the output and input latencies that the time stamps did not account for."""
    step: float = 0.6
    """Normalized step size of the background filter (0..1); larger learns faster and misadjusts more."""
    regularization: float = 1e-4
    """Added to the far-end power before dividing, so near-silent playback does not blow up the step
    (power of full-scale float samples, per frequency bin)."""
    power_smoothing: float = 0.7
    """Weight of the past in the per-bin far-end power estimate (0..1)."""
    min_far_dbfs: float = -65.0
    """The filter adapts only while the far end has been at least this loud within the tail (dBFS)."""
    error_smoothing: float = 0.6
    """Weight of the past in the running error energies that decide between the two filters (0..1)."""
    copy_ratio: float = 0.8
    """The background's weights are copied to the foreground when its error energy is below this fraction
    of the foreground's (and below the microphone's)."""
    reset_ratio: float = 8.0
    """The background is reset from the foreground when its error energy exceeds this many times the
    foreground's (it diverged during double talk)."""
    copy_max_kept_db: float = -10.0
    """The background's weights are copied only while its error keeps less than this much of the
    microphone's energy (dB): during double talk the error holds the user's voice (about -3 dB of the
    microphone at 0 dB echo-to-user), and a background that has started to cancel the user's voice with the
    playback must not become the foreground. Applies once the foreground has first cancelled that much."""

    @property
    def block(self) -> int:
        """Samples per block."""
        return max(1, round(self.block_s * self.rate))

    @property
    def partitions(self) -> int:
        """Number of partitions of the filter (tail / block)."""
        return max(1, int(np.ceil(self.tail_s / self.block_s)))


@dataclass(frozen=True)
class Block:
    """Energies of one processed block (mean square of float samples, full scale 1.0)."""

    mic: float
    """The microphone (the near end plus the echo)."""
    out: float
    """What is left after cancelling: the near end plus the residual echo."""
    echo: float
    """The canceller's estimate of the echo it removed."""
    far: float
    """The far end (the playback reference)."""


@dataclass
class EchoCanceller:
    """Feed equal-length microphone and reference blocks (`process`); keeps its learnt echo path."""

    config: EchoConfig = field(default_factory=EchoConfig)
    blocks: int = field(default=0, init=False)
    """Blocks processed so far."""
    copies: int = field(default=0, init=False)
    """How often the foreground took the background's weights."""
    resets: int = field(default=0, init=False)
    """How often the background was reset after diverging."""
    _fore: np.ndarray = field(init=False, repr=False)
    _back: np.ndarray = field(init=False, repr=False)
    _spectra: np.ndarray = field(init=False, repr=False)
    _power: np.ndarray = field(init=False, repr=False)
    _last_far: np.ndarray = field(init=False, repr=False)
    _fore_error: float = field(default=0.0, init=False)
    _back_error: float = field(default=0.0, init=False)
    _mic_energy: float = field(default=0.0, init=False)
    _converged: bool = field(default=False, init=False)
    """The foreground has cancelled at least -`copy_max_kept_db` dB of the microphone (kept from then on)."""
    _far_history: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n, parts = self.config.block, self.config.partitions
        self._fore = np.zeros((parts, n + 1), dtype=np.complex128)
        self._back = np.zeros_like(self._fore)
        self._spectra = np.zeros_like(self._fore)
        self._power = np.full(n + 1, self.config.regularization)
        self._last_far = np.zeros(n)
        self._far_history = np.zeros(parts)

    @property
    def _recent_far(self) -> float:
        """The loudest far-end block within the filter's tail (mean square)."""
        return float(self._far_history.max())

    def process(self, mic: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, list[Block]]:
        """Cancel the echo of `far` in `mic` (float arrays, full scale 1.0, whole blocks of the same
        length). Returns the output samples and each block's energies."""
        n = self.config.block
        if mic.shape != far.shape or mic.size % n:
            raise AudioDeviceError(f"the echo canceller needs the microphone and the reference as equal whole blocks "
                                   f"of {n} samples; this is a bug, please report it")
        out = np.empty_like(mic, dtype=np.float64)
        stats: list[Block] = []
        for start in range(0, mic.size, n):
            out[start:start + n], block = self._block(mic[start:start + n], far[start:start + n])
            stats.append(block)
        return out, stats

    def _block(self, mic: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, Block]:
        cfg, n = self.config, self.config.block
        self.blocks += 1
        spectrum = np.fft.rfft(np.concatenate([self._last_far, far]))
        self._last_far = np.asarray(far, dtype=np.float64).copy()
        self._spectra = np.roll(self._spectra, 1, axis=0)
        self._spectra[0] = spectrum
        echo_fore = np.fft.irfft((self._fore * self._spectra).sum(axis=0), 2 * n)[n:]
        echo_back = np.fft.irfft((self._back * self._spectra).sum(axis=0), 2 * n)[n:]
        out = mic - echo_fore
        error = mic - echo_back
        far_energy = float(np.mean(far * far))
        self._far_history = np.roll(self._far_history, 1)
        self._far_history[0] = far_energy
        mic_energy = float(np.mean(mic * mic))
        if self._recent_far > 10 ** (cfg.min_far_dbfs / 10):  # the echo of a word goes on after the word
            self._adapt(error)
        self._choose(float(np.mean(out * out)), float(np.mean(error * error)), mic_energy)
        return out, Block(mic=mic_energy, out=float(np.mean(out * out)), echo=float(np.mean(echo_fore ** 2)),
                          far=far_energy)

    def _adapt(self, error: np.ndarray) -> None:
        cfg, n = self.config, self.config.block
        power = (np.abs(self._spectra) ** 2).sum(axis=0)
        self._power = cfg.power_smoothing * self._power + (1 - cfg.power_smoothing) * power
        # The larger of the smoothed and the present power: at the onset of a word the smoothed one lags,
        # and dividing by it would overshoot.
        gradient = np.conj(self._spectra) * np.fft.rfft(np.concatenate([np.zeros(n), error]))
        gradient *= cfg.step / (np.maximum(self._power, power) + cfg.regularization)
        constrained = np.fft.irfft(gradient, 2 * n, axis=1)
        constrained[:, n:] = 0.0  # keep the filter causal and linear (overlap-save gradient constraint)
        self._back += np.fft.rfft(constrained, axis=1)

    def _choose(self, fore: float, back: float, mic: float) -> None:
        a = self.config.error_smoothing
        self._fore_error = a * self._fore_error + (1 - a) * fore
        self._back_error = a * self._back_error + (1 - a) * back
        self._mic_energy = a * self._mic_energy + (1 - a) * mic
        kept = 10 ** (self.config.copy_max_kept_db / 10)
        self._converged = self._converged or self._fore_error < kept * self._mic_energy
        # Once the foreground cancels, a copy also needs the background's error well below the microphone:
        # never while that error holds the user's voice. Before that, any improvement is taken (a fresh
        # canceller must learn fast on the first sound it plays).
        limit = kept if self._converged else 1.0
        if self._back_error < self.config.copy_ratio * self._fore_error and self._back_error < limit * self._mic_energy:
            self._fore = self._back.copy()
            self._fore_error = self._back_error
            self.copies += 1
        elif self._back_error > self.config.reset_ratio * self._fore_error + EPSILON:
            self._back = self._fore.copy()
            self._back_error = self._fore_error
            self.resets += 1


@dataclass
class StreamingCanceller:
    """`EchoCanceller` over chunks of any length (16-bit PCM bytes in, out): it keeps the part of a chunk
    short of a whole block for the next call, so the output lags the input by less than one block."""

    canceller: EchoCanceller = field(default_factory=EchoCanceller)
    _mic: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)
    _far: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)

    def process(self, mic: bytes, far: np.ndarray) -> tuple[bytes, list[Block]]:
        """`mic`: 16-bit mono PCM; `far`: the reference for the same samples (float, full scale 1.0, as
        many samples as `mic` holds). Returns the cancelled PCM of the whole blocks so far, and their energies."""
        samples = np.frombuffer(mic[: len(mic) - len(mic) % 2], dtype="<i2") / 32768.0
        if far.size != samples.size:
            raise AudioDeviceError(f"the playback reference has {far.size} samples for {samples.size} microphone "
                                   "samples; this is a bug, please report it")
        self._mic = np.concatenate([self._mic, samples])
        self._far = np.concatenate([self._far, far])
        whole = self._mic.size - self._mic.size % self.canceller.config.block
        if whole == 0:
            return b"", []
        out, blocks = self.canceller.process(self._mic[:whole], self._far[:whole])
        self._mic, self._far = self._mic[whole:], self._far[whole:]
        return to_pcm16(out), blocks


def erle_db(blocks: list[Block]) -> float:
    """Echo return loss enhancement over these blocks (dB): how much quieter the output is than the
    microphone. Give blocks with echo and no near-end speech."""
    mic = sum(b.mic for b in blocks)
    out = sum(b.out for b in blocks)
    return float(10 * np.log10((mic + EPSILON) / (out + EPSILON)))
