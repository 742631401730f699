"""Tests of the synthetic-speech toolkit in bench/corpus.py."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from bench import corpus
from bench.corpus import (
    FRAME,
    SAMPLE_RATE,
    TEST_VOICES,
    VOICES,
    babble_noise,
    cough_like_burst,
    engine_available,
    mix_at_snr,
    pad,
    pink_noise,
    read_wav,
    speech_end_seconds,
    speech_power,
    synthesize,
    to_wav_bytes,
    white_noise,
    write_wav,
)

needs_engines = pytest.mark.skipif(
    not all(engine_available(v) for v in VOICES), reason="espeak-ng, flite or sox is not installed"
)


def tone(seconds: float, freq: float = 440.0, amp: float = 8000.0) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.rint(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def fake_speech() -> np.ndarray:
    """Three tone 'words' of different loudness separated by silences: 2.6 s in all."""
    silence = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.int16)
    return np.concatenate([silence, tone(0.5, 300, 9000), silence, tone(0.4, 700, 3000), silence,
                           tone(0.6, 1100, 12000), silence])


def measured_snr(speech: np.ndarray, noise: np.ndarray, mix: np.ndarray) -> float:
    """Recover mix = k * (speech + g * noise) by least squares and return the SNR it implies, in dB."""
    n = np.tile(noise.astype(np.float64), -(-speech.size // noise.size))[: speech.size]
    basis = np.stack([speech.astype(np.float64), n], axis=1)
    (a, b), *_ = np.linalg.lstsq(basis, mix.astype(np.float64), rcond=None)
    g = b / a
    return 10 * np.log10(speech_power(speech) / (g**2 * np.mean(n**2)))


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 5.0, 10.0, 20.0])
@pytest.mark.parametrize("kind", ["white", "pink", "short-white"])
def test_mix_at_snr_is_measured_back_within_half_a_db(snr_db: float, kind: str) -> None:
    speech = fake_speech()
    noise = {"white": white_noise(speech.size, 1), "pink": pink_noise(speech.size, 2),
             "short-white": white_noise(SAMPLE_RATE // 3, 3)}[kind]
    mix = mix_at_snr(speech, noise, snr_db)
    assert mix.dtype == np.int16
    assert mix.size == speech.size
    assert abs(measured_snr(speech, noise, mix) - snr_db) < 0.5


def test_mix_at_snr_direct_measure_without_rescaling() -> None:
    speech = (fake_speech() // 4).astype(np.int16)  # quiet enough that no rescaling happens at 10 dB
    noise = white_noise(speech.size, 7)
    mix = mix_at_snr(speech, noise, 10.0)
    added = mix.astype(np.float64) - speech
    assert abs(10 * np.log10(speech_power(speech) / np.mean(added**2)) - 10.0) < 0.5


def test_speech_power_ignores_silent_frames() -> None:
    burst = tone(0.5, 500, 10000)
    padded = np.concatenate([np.zeros(SAMPLE_RATE * 3, dtype=np.int16), burst])
    assert speech_power(padded) == pytest.approx(speech_power(burst), rel=0.01)
    assert speech_power(padded) == pytest.approx(10000**2 / 2, rel=0.01)


def test_mix_at_snr_loud_input_does_not_overflow() -> None:
    speech = np.concatenate([tone(1.0, 250, 32000), tone(0.5, 600, 32767)])
    noise = white_noise(speech.size, 4)
    mix = mix_at_snr(speech, noise, -3.0)
    assert mix.dtype == np.int16
    assert np.abs(mix.astype(np.int32)).max() <= 32767
    assert abs(measured_snr(speech, noise, mix) - (-3.0)) < 0.5
    # not wrapped around: the mixture still correlates strongly with the speech
    assert np.corrcoef(mix.astype(float), speech.astype(float))[0, 1] > 0.5


def test_noise_generators_are_deterministic_and_seed_dependent() -> None:
    for make in (white_noise, pink_noise):
        a, b, c = make(8000, 5), make(8000, 5), make(8000, 6)
        assert a.dtype == np.int16
        assert a.size == 8000
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)
        rms = np.sqrt(np.mean(a.astype(np.float64) ** 2))
        assert rms == pytest.approx(corpus.NOISE_RMS, rel=0.02)
    assert np.array_equal(cough_like_burst(3), cough_like_burst(3))
    assert not np.array_equal(cough_like_burst(3), cough_like_burst(4))


def test_pink_noise_falls_about_3_db_per_octave() -> None:
    x = pink_noise(SAMPLE_RATE * 8, 0).astype(np.float64)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    band = [10 * np.log10(power[(freqs >= lo) & (freqs < 2 * lo)].mean()) for lo in (200, 400, 800, 1600)]
    slopes = np.diff(band)
    assert np.all(np.abs(slopes + 3.0) < 1.0)


def test_cough_like_burst_shape() -> None:
    for seed in range(10):
        c = cough_like_burst(seed)
        assert c.dtype == np.int16
        assert 0.25 <= c.size / SAMPLE_RATE <= 0.6
        assert np.abs(c.astype(np.int32)).max() == pytest.approx(16384, abs=2)
        # decays: the last 20 % is much quieter than the loudest 10 ms frame
        frames = np.sqrt(np.mean(c[: c.size // FRAME * FRAME].astype(float).reshape(-1, FRAME) ** 2, axis=1))
        assert frames[-max(1, frames.size // 5) :].max() < 0.5 * frames.max()


def test_speech_end_seconds_on_a_tone_with_known_end() -> None:
    lead, body, tail = 0.5, 1.234, 0.7
    signal = pad(tone(body, 330, 6000), lead, tail)
    assert signal.size == round((lead + body + tail) * SAMPLE_RATE)
    assert speech_end_seconds(signal) == pytest.approx(lead + body, abs=0.005)
    assert speech_end_seconds(np.zeros(SAMPLE_RATE, dtype=np.int16)) == 0.0
    # a quieter second 'word' still counts as speech
    two = np.concatenate([tone(0.5, 300, 20000), np.zeros(4000, np.int16), tone(0.3, 500, 500),
                          np.zeros(8000, np.int16)])
    assert speech_end_seconds(two) == pytest.approx(0.5 + 0.25 + 0.3, abs=0.005)


def test_pad_durations_and_noise_floor() -> None:
    x = tone(0.2)
    out = pad(x, 0.25, 1.5)
    assert out.size == x.size + 4000 + 24000
    assert np.array_equal(out[4000 : 4000 + x.size], x)
    assert not out[:4000].any()
    assert not out[-24000:].any()
    noisy = pad(x, 0.25, 1.5, floor_dbfs=-60.0, seed=1)
    floor_rms = np.sqrt(np.mean(noisy[-24000:].astype(np.float64) ** 2))
    assert 20 * np.log10(floor_rms / 32767) == pytest.approx(-60.0, abs=1.0)
    assert np.array_equal(noisy, pad(x, 0.25, 1.5, floor_dbfs=-60.0, seed=1))


def test_wav_round_trip(tmp_path: Path) -> None:
    x = white_noise(1234, 9)
    data = to_wav_bytes(x)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 1234)
    path = tmp_path / "sub" / "x.wav"
    write_wav(path, x)
    assert path.read_bytes() == data
    assert np.array_equal(read_wav(path), x)


@pytest.mark.voice
@needs_engines
@pytest.mark.parametrize("voice", TEST_VOICES, ids=lambda v: v.label)
def test_synthesize_each_test_voice(voice: corpus.Voice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "CACHE_DIR", tmp_path)
    text = "My lower back feels numb."
    audio = synthesize(text, voice)
    assert audio.dtype == np.int16
    seconds = audio.size / SAMPLE_RATE
    assert 0.8 < seconds < 4.0
    assert np.abs(audio.astype(np.int32)).max() > 3000
    end = speech_end_seconds(audio)
    assert 0.5 < end <= seconds
    # the speech's energy sits below 8 kHz and is not aliased junk: most power is under 4 kHz
    power = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1 / SAMPLE_RATE)
    assert power[freqs < 4000].sum() > 0.9 * power.sum()
    # cached: a file appears and the second call returns the same samples
    assert len(list(tmp_path.glob("*.wav"))) == 1
    assert np.array_equal(synthesize(text, voice), audio)
    assert np.array_equal(synthesize(text, voice, cache=False), audio)
    # speed changes duration in the right direction
    slow, fast = synthesize(text, voice, 0.9), synthesize(text, voice, 1.1)
    assert speech_end_seconds(slow) > end > speech_end_seconds(fast)


@pytest.mark.voice
@needs_engines
def test_babble_is_deterministic_normalized_and_multi_talker(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "CACHE_DIR", tmp_path)
    n = 3 * SAMPLE_RATE
    a = babble_noise(n, 11)
    assert a.dtype == np.int16
    assert a.size == n
    assert np.array_equal(a, babble_noise(n, 11))
    assert not np.array_equal(a, babble_noise(n, 12))
    assert np.sqrt(np.mean(a.astype(np.float64) ** 2)) == pytest.approx(corpus.NOISE_RMS, rel=0.02)
    # several talkers overlap, so the babble is rarely silent: few frames sit 30 dB below the loudest
    frames = np.sqrt(np.mean(a.astype(float).reshape(-1, FRAME) ** 2, axis=1))
    assert np.mean(frames < frames.max() * 10 ** (-30 / 20)) < 0.05


def test_noise_dispatches_by_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    assert np.array_equal(corpus.noise("white", 800, 3), white_noise(800, 3))
    assert np.array_equal(corpus.noise("pink", 800, 3), pink_noise(800, 3))
    calls: list[tuple[str, int, int]] = []
    from bench import homeaudio

    monkeypatch.setattr(homeaudio, "real_babble", lambda n, seed: calls.append(("real", n, seed)) or np.zeros(n))
    monkeypatch.setattr(homeaudio, "tv_like", lambda n, seed: calls.append(("tv", n, seed)) or np.ones(n))
    assert corpus.noise("realbabble", 10, 4).size == 10
    assert corpus.noise("tv", 12, 5).sum() == 12
    assert calls == [("real", 10, 4), ("tv", 12, 5)]
    assert set(corpus.NOISE_KINDS) == {"white", "pink", "babble", "realbabble", "tv"}
    with pytest.raises(ValueError, match="unknown noise kind"):
        corpus.noise("radio", 10, 1)
