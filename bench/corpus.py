"""Deterministic synthetic-speech toolkit for tests and benchmarks of the recognizer.

All audio is mono, 16-bit signed integer PCM at 16 kHz (``SAMPLE_RATE``), as numpy ``int16`` arrays.
Speech comes from the command-line engines ``espeak-ng`` and ``flite``; resampling uses ``sox``.
Every function is deterministic: randomness only ever comes from an explicit ``seed``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000  # Hz
FRAME = SAMPLE_RATE // 100  # samples in a 10 ms analysis frame
CACHE_DIR = Path(__file__).resolve().parent / "work" / "cache"
_CACHE_VERSION = "1"  # bump to invalidate every cached synthesis
_ESPEAK_BASE_WPM = 175  # espeak-ng's default rate, words per minute
NOISE_RMS = 0.1 * 32767  # RMS level of the stationary noise generators (-20 dBFS)
ACTIVE_DB = -40.0  # a 10 ms frame is "active speech" within this many dB of the loudest frame


@dataclass(frozen=True)
class Voice:
    """A synthetic voice: ``engine`` is "espeak-ng" or "flite"; ``name`` is the engine's voice name."""

    engine: str
    name: str

    @property
    def label(self) -> str:
        """Short file-name-safe identifier, e.g. ``espeak-ng_en-gb+f3``."""
        return f"{self.engine}_{self.name}"


# Measured free-form word error rate of the small Vosk en-us model (no grammar) on 10 plain sentences
# (78 words, half about back symptoms) at speed 1.0 with 0.3 s / 0.5 s of silence before / after.
# Dropped as unintelligible to it: espeak-ng "en-gb-scotland" 44 %, "en-029" 41 %, "en-029+m3" 45 %,
# "en-gb-x-gbcwmd" 40 %; also dropped, as near-duplicates: flite "kal" (8 kHz, 8 %), espeak-ng
# "en-us+m3" (14 %), "en-us+f5" (14 %), "en-us+f4" (15 %), "en-gb-x-rp+f3" (15 %).
VOICES: tuple[Voice, ...] = (
    Voice("flite", "slt"),  # US female (clustergen), WER 6.4 %
    Voice("flite", "rms"),  # US male (clustergen), WER 2.6 %
    Voice("flite", "awb"),  # Scottish male (clustergen), WER 10.3 %
    Voice("flite", "kal16"),  # US male (diphone), WER 6.4 %
    Voice("espeak-ng", "en-us"),  # US male, WER 11.5 %
    Voice("espeak-ng", "en-us+f2"),  # US female, WER 7.7 %
    Voice("espeak-ng", "en-us-nyc"),  # New York City male, WER 17.9 %
    Voice("espeak-ng", "en-gb-x-rp"),  # British RP male, WER 11.5 %
    Voice("espeak-ng", "en-gb+f3"),  # British female, WER 17.9 %
    Voice("espeak-ng", "en-gb-x-gbclan"),  # Lancashire male, WER 23.1 %
)

# Three quick, distinct voices for the test suite: two engines, a female espeak-ng variant.
TEST_VOICES: tuple[Voice, ...] = (
    Voice("espeak-ng", "en-us"),
    Voice("espeak-ng", "en-us+f2"),
    Voice("flite", "slt"),
)

BABBLE_SENTENCES: tuple[str, ...] = (
    "The old lighthouse keeper painted the railings green every spring.",
    "Fresh bread from the corner bakery sells out before nine o'clock.",
    "Our train was delayed because of leaves on the line near the river.",
    "She planted tomatoes, beans and three rows of sunflowers in the garden.",
    "The committee will publish its report on the harbour next Thursday.",
    "Please remember to bring a warm jacket and a flask of tea for the hike.",
    "A flock of starlings swirled above the market square at dusk.",
    "The museum has a new exhibition about clocks and navigation at sea.",
    "He fixed the bicycle chain with a borrowed spanner and some oil.",
    "Tickets for the summer concert are available at the town hall.",
)


def _engine_command(text_path: str, out_path: str, voice: Voice, speed: float) -> list[str]:
    if voice.engine == "espeak-ng":
        wpm = max(80, round(_ESPEAK_BASE_WPM * speed))
        return ["espeak-ng", "-v", voice.name, "-s", str(wpm), "-w", out_path, "-f", text_path]
    if voice.engine == "flite":
        stretch = f"{1.0 / speed:.6f}"
        return ["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch}",
                "-f", text_path, "-o", out_path]
    raise ValueError(f"unknown engine {voice.engine!r}")


def synthesize(text: str, voice: Voice, speed: float = 1.0, cache: bool = True) -> np.ndarray:
    """Speak ``text`` with ``voice``; return int16 mono samples at 16 kHz, untrimmed.

    ``speed`` is a rate factor: 1.0 is the engine's normal rate, 1.1 is 10 % faster (espeak-ng words per
    minute = 175 * speed; flite duration_stretch = 1 / speed). The engine's native rate (espeak-ng
    22050 Hz, flite 8 or 16 kHz) is converted with sox's high-quality resampler, without dither.
    Results are cached under ``CACHE_DIR`` keyed by sha256 of (engine, voice, speed, text).
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    key = json.dumps([_CACHE_VERSION, voice.engine, voice.name, round(speed, 6), text])
    cached = CACHE_DIR / f"{hashlib.sha256(key.encode()).hexdigest()}.wav"
    if cache and cached.exists():
        return read_wav(cached)
    with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
        text_path, raw_path, out_path = (os.path.join(tmp, n) for n in ("in.txt", "raw.wav", "out.wav"))
        Path(text_path).write_text(text + "\n", encoding="utf-8")
        subprocess.run(_engine_command(text_path, raw_path, voice, speed), check=True, capture_output=True)
        subprocess.run(["sox", "-D", "-R", raw_path, "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
                        "-e", "signed-integer", out_path], check=True, capture_output=True)
        samples = read_wav(out_path)
    if samples.size == 0:
        raise RuntimeError(f"{voice.label} produced no audio for {text!r}")
    if cache:
        write_wav(cached, samples)
    return samples


def engine_available(voice: Voice) -> bool:
    """True when the voice's engine program and sox are on ``PATH``."""
    return shutil.which(voice.engine) is not None and shutil.which("sox") is not None


def _frame_rms(samples: np.ndarray) -> np.ndarray:
    """RMS of each complete-or-partial 10 ms frame, in int16 units (float64 array)."""
    x = np.asarray(samples, dtype=np.float64)
    n_frames = -(-x.size // FRAME)
    padded = np.zeros(n_frames * FRAME)
    padded[: x.size] = x
    return np.sqrt(np.mean(padded.reshape(n_frames, FRAME) ** 2, axis=1))


def active_frames(samples: np.ndarray, rel_db: float = ACTIVE_DB) -> np.ndarray:
    """Boolean mask of 10 ms frames whose RMS is within ``rel_db`` dB of the loudest frame's RMS."""
    rms = _frame_rms(samples)
    if rms.size == 0 or rms.max() <= 0:
        return np.zeros(rms.size, dtype=bool)
    return rms > rms.max() * 10 ** (rel_db / 20)


def speech_end_seconds(samples: np.ndarray, rel_db: float = -45.0) -> float:
    """Time in seconds at which speech truly ends in a clean (noise-free) signal.

    The last 10 ms frame whose RMS is within ``rel_db`` dB of the loudest frame is found; the result is
    the time just after the last sample in that frame whose magnitude exceeds the same threshold.
    Returns 0.0 for an all-zero signal.
    """
    rms = _frame_rms(samples)
    active = active_frames(samples, rel_db)
    if not active.any():
        return 0.0
    last = int(np.flatnonzero(active)[-1])
    threshold = rms.max() * 10 ** (rel_db / 20)
    frame = np.abs(np.asarray(samples[last * FRAME : (last + 1) * FRAME], dtype=np.float64))
    loud = np.flatnonzero(frame > threshold)
    end = last * FRAME + (int(loud[-1]) + 1 if loud.size else frame.size)
    return end / SAMPLE_RATE


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def _scale_to_rms(x: np.ndarray, rms: float) -> np.ndarray:
    current = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return x * (rms / current) if current > 0 else x


def white_noise(n: int, seed: int) -> np.ndarray:
    """``n`` samples of Gaussian white noise, int16, RMS ``NOISE_RMS`` (-20 dBFS)."""
    rng = np.random.default_rng([seed, 1])
    return _to_int16(_scale_to_rms(rng.standard_normal(n), NOISE_RMS))


def pink_noise(n: int, seed: int) -> np.ndarray:
    """``n`` samples of pink (1/f power) noise above 20 Hz, int16, RMS ``NOISE_RMS`` (-20 dBFS)."""
    if n == 0:
        return np.zeros(0, dtype=np.int16)
    rng = np.random.default_rng([seed, 2])
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum *= np.where(freqs >= 20.0, 1.0 / np.sqrt(np.maximum(freqs, 20.0)), 0.0)
    return _to_int16(_scale_to_rms(np.fft.irfft(spectrum, n), NOISE_RMS))


def babble_noise(n: int, seed: int, voices: tuple[Voice, ...] = VOICES) -> np.ndarray:
    """``n`` samples of multi-talker babble, int16, RMS ``NOISE_RMS`` (-20 dBFS).

    4 to 6 distinct voices (chosen by ``seed``) each read a shuffled run of ``BABBLE_SENTENCES`` from a
    random starting offset; each talker is scaled to equal RMS before summing.
    """
    rng = np.random.default_rng([seed, 3])
    count = min(int(rng.integers(4, 7)), len(voices))
    mix = np.zeros(n)
    for idx in rng.choice(len(voices), size=count, replace=False):
        order = rng.permutation(len(BABBLE_SENTENCES))
        offset = int(rng.integers(0, 2 * SAMPLE_RATE))
        pieces: list[np.ndarray] = []
        total, k = 0, 0
        while total < n + offset:
            piece = synthesize(BABBLE_SENTENCES[order[k % len(order)]], voices[idx])
            pieces.append(piece)
            total += piece.size
            k += 1
        talker = np.concatenate(pieces).astype(np.float64)[offset : offset + n]
        mix += _scale_to_rms(talker, 1.0)
    return _to_int16(_scale_to_rms(mix, NOISE_RMS))


NOISE_KINDS: tuple[str, ...] = ("white", "pink", "babble", "realbabble", "tv")
"""Kinds `noise` makes: "babble" is synthetic voices (above); "realbabble" and "tv" are recordings of real
people (and real music), from bench.homeaudio, provisioned on first use."""


def noise(kind: str, n: int, seed: int, exclude: str = "") -> np.ndarray:
    """``n`` samples of background ``kind`` (see ``NOISE_KINDS``), int16, RMS ``NOISE_RMS`` (-20 dBFS).

    ``exclude`` is the label of a synthetic voice to leave out of "babble" (the speaker of the clip). The real
    kinds never contain a user voice: their talkers are real people, none of them behind a synthetic voice.
    """
    if kind == "white":
        return white_noise(n, seed)
    if kind == "pink":
        return pink_noise(n, seed)
    if kind == "babble":
        return babble_noise(n, seed, voices=tuple(v for v in VOICES if v.label != exclude))
    if kind in ("realbabble", "tv"):
        from bench import homeaudio

        return homeaudio.real_babble(n, seed) if kind == "realbabble" else homeaudio.tv_like(n, seed)
    raise ValueError(f"unknown noise kind {kind!r}; expected one of {', '.join(NOISE_KINDS)}")


def cough_like_burst(seed: int) -> np.ndarray:
    """A cough-like sound 0.25-0.6 s long, int16, peak about -6 dBFS.

    One to three broadband noise bursts, each with a 5 ms attack and an exponential decay
    (time constant 30-120 ms), lightly low-passed (one-pole, ~4 kHz) to sound less like a hiss.
    """
    rng = np.random.default_rng([seed, 4])
    n = int(rng.uniform(0.25, 0.6) * SAMPLE_RATE)
    out = np.zeros(n)
    for _ in range(int(rng.integers(1, 4))):
        start = int(rng.uniform(0.0, 0.5) * n)
        t = np.arange(n - start) / SAMPLE_RATE
        envelope = np.minimum(t / 0.005, 1.0) * np.exp(-t / rng.uniform(0.03, 0.12))
        out[start:] += rng.uniform(0.4, 1.0) * envelope * rng.standard_normal(t.size)
    alpha = np.exp(-2 * np.pi * 4000 / SAMPLE_RATE)
    for i in range(1, n):  # one-pole low-pass
        out[i] = (1 - alpha) * out[i] + alpha * out[i - 1]
    return _to_int16(out * (0.5 * 32767 / max(float(np.abs(out).max()), 1e-9)))


def speech_power(speech: np.ndarray) -> float:
    """Mean power (int16 units squared) over the active 10 ms frames of ``speech`` (see ``active_frames``)."""
    active = active_frames(speech)
    if not active.any():
        return 0.0
    x = np.zeros(active.size * FRAME)
    x[: len(speech)] = np.asarray(speech, dtype=np.float64)
    return float(np.mean(x.reshape(-1, FRAME)[active] ** 2))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` to ``speech`` at ``snr_db``; return int16 of ``len(speech)`` samples.

    SNR = 10*log10(P_speech / P_noise), where P_speech is the mean power of ``speech`` over its active
    10 ms frames only (frames whose RMS is within 40 dB of the loudest frame's RMS; frames are
    non-overlapping, the last one zero-padded) and P_noise is the mean power of the scaled noise over the
    whole clip. The noise is tiled or truncated to the speech length. If the sum would exceed int16 range,
    speech and noise are scaled down together (keeping the SNR exact) to a peak of 32767.
    """
    if len(noise) == 0:
        raise ValueError("noise is empty")
    reps = -(-len(speech) // len(noise))
    n = np.tile(np.asarray(noise, dtype=np.float64), reps)[: len(speech)]
    p_noise = float(np.mean(n**2)) if n.size else 0.0
    p_speech = speech_power(speech)
    if p_noise <= 0 or p_speech <= 0:
        return np.asarray(speech, dtype=np.int16).copy()
    mix = np.asarray(speech, dtype=np.float64) + n * np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    peak = float(np.abs(mix).max())
    if peak > 32767:
        mix *= 32767 / peak
    return _to_int16(mix)


def pad(samples: np.ndarray, lead_s: float, tail_s: float, floor_dbfs: float | None = None,
        seed: int = 0) -> np.ndarray:
    """Add ``lead_s`` seconds of silence before and ``tail_s`` seconds after ``samples`` (int16).

    With ``floor_dbfs`` (e.g. -60), white noise of that RMS level (dB relative to full scale 32767) is
    added over the whole padded clip, so the noise floor is continuous across the speech.
    """
    lead, tail = round(lead_s * SAMPLE_RATE), round(tail_s * SAMPLE_RATE)
    out = np.concatenate([np.zeros(lead), np.asarray(samples, dtype=np.float64), np.zeros(tail)])
    if floor_dbfs is not None:
        rng = np.random.default_rng([seed, 5])
        out += _scale_to_rms(rng.standard_normal(out.size), 32767 * 10 ** (floor_dbfs / 20))
    return _to_int16(out)


def to_wav_bytes(samples: np.ndarray) -> bytes:
    """Encode int16 mono 16 kHz ``samples`` as a RIFF/WAVE file in memory."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return buf.getvalue()


def write_wav(path: str | os.PathLike[str], samples: np.ndarray) -> None:
    """Write ``samples`` to a 16 kHz mono 16-bit WAV at ``path`` atomically, creating parent folders."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(to_wav_bytes(samples))
    os.replace(tmp, target)


def read_wav(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a mono 16-bit WAV at 16 kHz into int16 samples; raise ValueError for any other format."""
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
            raise ValueError(f"{path}: expected mono 16-bit {SAMPLE_RATE} Hz audio")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
