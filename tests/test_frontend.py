"""assistant.speech.frontend: chunk handling with a stand-in frame processor, and the real webrtc suppressor."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.errors import AudioDeviceError
from assistant.speech.frontend import FRAME_BYTES, FrontEnd, FrontEndConfig


def _negating(config: FrontEndConfig) -> object:
    """A stand-in processor that negates each 10 ms frame and counts the frames."""
    frames: list[int] = []

    def process(frame: bytes) -> bytes:
        assert len(frame) == FRAME_BYTES
        frames.append(len(frame))
        return (-np.frombuffer(frame, dtype="<i2")).astype("<i2").tobytes()

    process.frames = frames  # type: ignore[attr-defined]
    return process


def _pcm(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(-3000, 3000, n, dtype=np.int16).astype("<i2").tobytes()


def test_whole_frame_chunks_pass_with_no_delay() -> None:
    front = FrontEnd(frame_processor=_negating)  # type: ignore[arg-type]
    audio = _pcm(640 * 5)
    out = b"".join(front.process(audio[k:k + 1280]) for k in range(0, len(audio), 1280))
    assert out == (-np.frombuffer(audio, dtype="<i2")).astype("<i2").tobytes()


@pytest.mark.parametrize("size", [2, 98, 318, 322, 1000, 1282])
def test_any_chunk_size_comes_back_the_same_length_delayed_under_one_frame(size: int) -> None:
    front = FrontEnd(frame_processor=_negating)  # type: ignore[arg-type]
    audio = _pcm(4000)
    chunks = [audio[k:k + size] for k in range(0, len(audio), size)]
    outs = [front.process(chunk) for chunk in chunks]
    assert [len(o) for o in outs] == [len(c) for c in chunks]
    out = np.frombuffer(b"".join(outs), dtype="<i2")
    expected = -np.frombuffer(audio, dtype="<i2")
    delay = FRAME_BYTES // 2 - 1
    assert not out[:delay].any()  # the leading digital silence
    assert np.array_equal(out[delay:], expected[: out.size - delay])


def test_a_late_part_frame_chunk_delays_the_stream_once() -> None:
    front = FrontEnd(frame_processor=_negating)  # type: ignore[arg-type]
    audio = _pcm(3000)
    sizes = [640, 640, 100, 640, 1000, 2, 640]
    chunks, at = [], 0
    for size in sizes:
        chunks.append(audio[at:at + size])
        at += size
    outs = [front.process(c) for c in chunks]
    assert [len(o) for o in outs] == [len(c) for c in chunks]
    out = np.frombuffer(b"".join(outs), dtype="<i2")
    expected = -np.frombuffer(audio[:at], dtype="<i2")
    gap = FRAME_BYTES // 2 - 1
    assert np.array_equal(out[:640], expected[:640])  # aligned chunks: no delay
    assert not out[640:640 + gap].any()
    assert np.array_equal(out[640 + gap:], expected[640: out.size - gap])


def test_disabled_config_passes_audio_untouched_without_a_processor() -> None:
    def never(config: FrontEndConfig) -> object:
        raise AssertionError("no processor should be built")

    front = FrontEnd(FrontEndConfig(noise_suppression=0, auto_gain_dbfs=0), frame_processor=never)  # type: ignore[arg-type]
    audio = _pcm(123)
    assert front.process(audio) == audio


@pytest.mark.parametrize(("ns", "agc"), [(-1, 0), (5, 0), (2, -1), (2, 32)])
def test_out_of_range_settings_are_refused(ns: int, agc: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        FrontEndConfig(noise_suppression=ns, auto_gain_dbfs=agc)


def test_other_rates_and_odd_chunks_are_refused() -> None:
    with pytest.raises(AudioDeviceError, match="16000 Hz"):
        FrontEnd(sample_rate=44100, frame_processor=_negating)  # type: ignore[arg-type]
    front = FrontEnd(frame_processor=_negating)  # type: ignore[arg-type]
    with pytest.raises(AudioDeviceError, match="cannot hold 3 bytes"):
        front.process(b"\x00\x01\x02")


def test_webrtc_suppression_lowers_steady_noise_and_keeps_a_tone() -> None:
    pytest.importorskip("webrtc_noise_gain")
    rate = 16000
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1000, rate * 3)
    tone = np.zeros(rate * 3)
    t = np.arange(rate // 2) / rate
    tone[2 * rate: 2 * rate + rate // 2] = 8000 * np.sin(2 * np.pi * 440 * t) * np.sin(np.pi * t * 2) ** 2
    audio = np.clip(noise + tone, -32768, 32767).astype("<i2").tobytes()
    front = FrontEnd()
    out = np.frombuffer(b"".join(front.process(audio[k:k + 1280]) for k in range(0, len(audio), 1280)),
                        dtype="<i2").astype(np.float64)
    noise_before = float(np.sqrt(np.mean(noise[rate:2 * rate] ** 2)))
    noise_after = float(np.sqrt(np.mean(out[rate:2 * rate] ** 2)))
    tone_after = float(np.sqrt(np.mean(out[2 * rate + rate // 8: 2 * rate + 3 * rate // 8] ** 2)))
    assert noise_after < noise_before / 3  # at least ~10 dB less steady noise once it has learnt it
    assert tone_after > 5 * noise_after
