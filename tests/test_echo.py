"""The echo canceller (assistant/speech/echo.py) and the simulated room (streamsource.RoomEcho). Pure numpy,
no model."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.errors import AudioDeviceError
from assistant.speech.echo import EchoCanceller, EchoConfig, StreamingCanceller, erle_db
from assistant.speech.streamsource import RoomEcho

RATE = 16000


def _speechlike(seconds: float, seed: int) -> np.ndarray:
    """Lightly coloured noise in syllable-like bursts (4 Hz), about -20 dBFS. (Strongly coloured noise
    converges far more slowly, as NLMS does; real speech is measured in bench/bargein.py.)"""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    white = rng.standard_normal(n)
    coloured = np.convolve(white, np.exp(-np.arange(4) / 1.0), mode="same")
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * np.arange(n) / RATE + rng.uniform(0, 6)), 0, None) ** 2
    signal = coloured * envelope
    return 0.1 * signal / np.sqrt(np.mean(signal ** 2))


def _whole(x: np.ndarray) -> np.ndarray:
    return x[: x.size - x.size % 160]


def test_the_echo_of_a_room_is_cancelled_by_more_than_20_db() -> None:
    far = _whole(_speechlike(12.0, 1))
    mic = RoomEcho(gain_db=-6.0, delay_s=0.05, rt60_s=0.45).apply(far)[: far.size]
    canceller = EchoCanceller()
    _, blocks = canceller.process(mic, far)
    late = [b for b in blocks[800:] if b.far > 1e-6]  # after 8 s of learning
    assert erle_db(late) > 20.0
    assert erle_db([b for b in blocks[:50] if b.far > 1e-6]) < 10.0  # it had to learn: nothing built in
    assert canceller.copies > 0


def test_the_user_talking_over_the_echo_is_kept() -> None:
    far = _whole(_speechlike(14.0, 2))
    room = RoomEcho(gain_db=-6.0, delay_s=0.04, rt60_s=0.3)
    echo = room.apply(far)[: far.size]
    near = np.zeros_like(far)
    talk = _speechlike(1.5, 3)
    near[10 * RATE:10 * RATE + talk.size] = talk * np.sqrt(np.mean(echo ** 2) / np.mean(talk ** 2))  # 0 dB
    out, _ = EchoCanceller().process(echo + near, far)
    span = slice(10 * RATE, 10 * RATE + talk.size)
    kept = 10 * np.log10(np.mean(out[span] ** 2) / np.mean(near[span] ** 2))
    assert -2.0 < kept < 2.0  # the user's voice passes, the echo under it is gone
    residual = out[span] - near[span]
    assert 10 * np.log10(np.mean(residual ** 2) / np.mean(echo[span] ** 2)) < -12.0


def test_chunks_of_any_length_give_the_same_output_as_whole_blocks() -> None:
    far = _whole(_speechlike(2.0, 4))
    mic = RoomEcho(gain_db=-3.0).apply(far)[: far.size]
    pcm = np.clip(np.round(mic * 32768), -32768, 32767).astype("<i2")
    whole, _ = EchoCanceller().process(pcm / 32768.0, far)
    streaming = StreamingCanceller()
    pieces, at = [], 0
    for size in [1, 333, 640, 17, 1000] * 20:
        piece = pcm[at:at + size]
        if not piece.size:
            break
        out, _ = streaming.process(piece.tobytes(), far[at:at + piece.size])
        pieces.append(out)
        at += piece.size
    joined = np.frombuffer(b"".join(pieces), dtype="<i2") / 32768.0
    assert joined.size == at - at % 160
    assert np.max(np.abs(joined - whole[: joined.size])) < 2 / 32768


def test_a_reference_that_does_not_match_the_microphone_is_refused() -> None:
    with pytest.raises(AudioDeviceError, match="reference"):
        StreamingCanceller().process(b"\x00\x00" * 10, np.zeros(9))
    with pytest.raises(AudioDeviceError, match="whole blocks"):
        EchoCanceller().process(np.zeros(100), np.zeros(100))


def test_the_room_delays_reverberates_and_sets_the_level() -> None:
    room = RoomEcho(gain_db=-6.0, delay_s=0.05, rt60_s=0.4, noise_dbfs=-200.0, drive=0.0)
    click = np.zeros(RATE)
    click[0] = 0.5
    echo = room.apply(click)
    assert np.all(np.abs(echo[: int(0.05 * RATE)]) < 1e-9)  # nothing before the delay
    assert abs(echo[int(0.05 * RATE)]) > 0.3 * np.max(np.abs(echo))  # then the direct sound
    assert 10 * np.log10(np.sum(echo ** 2) / 0.25) == pytest.approx(-6.0, abs=0.01)
    config = EchoConfig()
    assert config.block == 160 and config.partitions == 40



def test_during_double_talk_a_background_that_learnt_the_users_voice_is_not_copied() -> None:
    # Measured in bench/bargein.py with real synthetic voices: while the user talked over the assistant, the
    # background filter began to cancel the user's voice with the playback, its error fell below the
    # foreground's, and it was copied (14-58 copies per command); the echo after it was cancelled by only
    # 5-19 dB instead of 35, and "okay nabu" over the playback was distorted enough to be refused.
    canceller = EchoCanceller()
    for _ in range(200):  # echo only: the foreground cancels 30 dB of the microphone
        canceller._choose(fore=1e-3, back=1e-3, mic=1.0)
    copies = canceller.copies
    for _ in range(200):  # the user talks: the microphone's energy doubles, both errors hold the user
        canceller._choose(fore=1.0, back=0.5, mic=2.0)
    assert canceller.copies == copies
    for _ in range(200):  # echo only again, and the background now truly cancels better: it is taken
        canceller._choose(fore=1e-2, back=1e-4, mic=1.0)
    assert canceller.copies > copies


def test_a_fresh_canceller_takes_any_better_background() -> None:
    canceller = EchoCanceller()
    canceller._choose(fore=1.0, back=0.5, mic=1.0)  # nothing learnt yet: learning fast matters more
    assert canceller.copies == 1
