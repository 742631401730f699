"""Shared helpers for the voice tests: the real Vosk model, synthetic speech from bench.corpus, no hardware.

* `require_voice_stack()`: the model and speech programs, or skip (FAIL when TINGLE_REQUIRE_MODEL=1, as CI sets).
* `speech_clip()` / `recognize()`: speak a phrase, optionally in babble, and run it through the real
  listening path (`assistant.speech.listen.listen_once` with `EndpointConfig()`).
* `run_cli()`: `python -m assistant ...` as a subprocess, isolated from the user's state and environment.
* `format_table()`: the failure tables the recognition tests print.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import wave
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from assistant.core.grammar import Listener
from assistant.speech.endpoint import EndpointConfig
from assistant.speech.frontend import FrontEnd
from assistant.speech.listen import listen_once
from assistant.speech.recognizer import VoskRecognizer
from bench.corpus import SAMPLE_RATE, Voice, babble_noise, mix_at_snr, pad, pink_noise, synthesize, write_wav
from bench.systems import MemorySource

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_ENV = "TINGLE_REQUIRE_MODEL"
PROGRAMS = ("espeak-ng", "flite", "sox")
"""Command-line programs bench.corpus needs for the test voices."""
LEAD_S, TAIL_S = 0.3, 0.6
"""Silence before and after each spoken phrase (s)."""
SNR_DB = 20.0
"""Noise level for the pass/fail tests. Babble and 10 / 5 dB are measured by the benchmark (BENCHMARKS.md)."""
BABBLE_SECONDS = 60
BABBLE_SEED = 2026


def require_voice_stack() -> Path:
    """The provisioned model folder; when it or a speech program is missing, skip, or fail under CI."""
    from assistant.errors import ModelError
    from assistant.models.modelstore import resolve_model

    problems: list[str] = []
    model: Path | None = None
    try:
        model = resolve_model()
    except ModelError as exc:
        problems.append(f"no usable Vosk model ({exc})")
    try:
        import vosk  # noqa: F401
    except ImportError:
        problems.append("the vosk package is not installed")
    missing = [name for name in PROGRAMS if shutil.which(name) is None]
    if missing:
        problems.append(f"missing program(s) {', '.join(missing)} (scripts/setup installs them)")
    if problems or model is None:
        message = "voice tests need the speech model and engines: " + "; ".join(problems)
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message} [{REQUIRE_ENV}=1, so this is a failure, not a skip]", pytrace=False)
        pytest.skip(message)
    return model


def load_recognizer() -> VoskRecognizer:
    """The real recognizer, model loaded (after `require_voice_stack`)."""
    return VoskRecognizer(require_voice_stack()).load()


@dataclass(frozen=True)
class Outcome:
    """What the listening path made of one clip."""

    intent: str | None
    text: str
    uncertain: bool
    rule: str
    alternatives: tuple[tuple[str, float], ...]
    rejected: str
    input_ended: bool

    @property
    def heard(self) -> str:
        """Text for a table: the words, or why there are none."""
        if self.input_ended:
            return "(turn never ended)"
        return self.text or f"(nothing: {self.rule})"

    @property
    def alts(self) -> str:
        return "; ".join(f"{t or '(empty)'} {s:g}" for t, s in self.alternatives)


def recognize(recognizer: VoskRecognizer, listener: Listener, samples: np.ndarray) -> Outcome:
    """Run 16 kHz int16 `samples` through listen_once exactly as a session turn does."""
    source = MemorySource(np.asarray(samples, dtype="<i2").tobytes())  # the benchmark's in-memory source
    source.begin(0.0)
    capture = listen_once(source, recognizer.session(listener, source.rate), EndpointConfig(), front_end=FrontEnd())
    result = capture.recognition
    if result is None:
        return Outcome(None, "", False, capture.rule.value, (), "", capture.input_ended)
    return Outcome(result.intent, result.text, result.uncertain, capture.rule.value, result.alternatives,
                   result.rejected, capture.input_ended)


@functools.cache
def babble_track() -> np.ndarray:
    """One long multi-talker babble recording; clips take slices of it."""
    return babble_noise(BABBLE_SECONDS * SAMPLE_RATE, seed=BABBLE_SEED)


def babble_slice(n: int, key: str) -> np.ndarray:
    """`n` samples of babble from a place in the track chosen by `key` (deterministic)."""
    track = babble_track()
    start = zlib.crc32(key.encode()) % (track.size - n)
    return track[start:start + n]


def speech_clip(text: str, voice: Voice, speed: float = 1.0, noise: str = "clean") -> np.ndarray:
    """`text` spoken by `voice`, padded with LEAD_S / TAIL_S of silence; "pink" or "babble": that noise at SNR_DB
    over it all."""
    clip = pad(synthesize(text, voice, speed), LEAD_S, TAIL_S)
    if noise == "clean":
        return clip
    if noise == "pink":
        seed = zlib.crc32(f"{text}|{voice.label}|{speed}".encode())
        return mix_at_snr(clip, pink_noise(clip.size, seed), SNR_DB)
    if noise == "babble":
        return mix_at_snr(clip, babble_slice(clip.size, f"{text}|{voice.label}|{speed}"), SNR_DB)
    raise ValueError(f"unknown noise condition {noise!r}")


def write_turn(path: Path, text: str, voice: Voice, speed: float = 1.0) -> Path:
    """A WAV of `text` spoken as one user turn."""
    write_wav(path, speech_clip(text, voice, speed))
    return path


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], width: int = 70) -> str:
    """A plain fixed-width table; cells longer than `width` are cut."""
    cells = [[str(c) if len(str(c)) <= width else str(c)[: width - 1] + "…" for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def run_cli(args: Sequence[str], tmp_path: Path, timeout: float = 180.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m assistant *args` from the project root; state (default transcripts) goes under tmp_path.

    The environment is passed on (so $TINGLE_MODEL, if set, is the model the subprocess uses too)."""
    environment = dict(os.environ)
    environment["XDG_STATE_HOME"] = str(tmp_path / "state")
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "assistant", *map(str, args)], cwd=ROOT, env=environment,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)


def wav_summary(path: Path) -> tuple[int, int, int, float, float]:
    """(channels, sample width, rate, seconds, seconds of 10 ms frames louder than -45 dBFS) of a WAV."""
    with wave.open(str(path), "rb") as reader:
        channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    frame = rate // 100
    usable = samples[: samples.size - samples.size % frame].reshape(-1, frame) if frame else samples[:0]
    rms = np.sqrt(np.mean(usable**2, axis=1)) if usable.size else np.zeros(0)
    loud = float(np.count_nonzero(rms > 32768 * 10 ** (-45 / 20))) / 100
    return channels, width, rate, samples.size / rate if rate else 0.0, loud
