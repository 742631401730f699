"""WAV helpers, the file source's pacing and silence padding, and the microphone's capture gate."""

from __future__ import annotations

import wave
from array import array
from pathlib import Path

import pytest

from assistant.errors import AudioDeviceError, AudioFileError
from assistant.speech.audio import Pcm, chunks, read_wav, resample, tone, wav_bytes
from assistant.speech.filesource import FileSource
from assistant.speech.microphone import Microphone


def write(path: Path, pcm: Pcm, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(pcm.rate)
        writer.writeframes(pcm.data)
    return path


def test_wav_round_trip_and_stereo_mixdown(tmp_path: Path) -> None:
    pcm = Pcm(tone(16000), 16000)
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(pcm))
    assert read_wav(path) == pcm
    stereo = array("h", [100, 300] * 10).tobytes()
    assert read_wav(write(tmp_path / "s.wav", Pcm(stereo, 8000), channels=2)).data == array("h", [200] * 10).tobytes()


def test_bad_wavs_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="not found"):
        read_wav(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    with pytest.raises(AudioFileError, match=r"not a WAV file.*PCM"):
        read_wav(junk)


def test_8_bit_wavs_are_converted(tmp_path: Path) -> None:
    pcm = read_wav(write(tmp_path / "b.wav", Pcm(bytes([128, 192, 64, 255]), 16000), width=1))
    assert array("h", pcm.data).tolist() == [0, 16384, -16384, 32512]


def test_chunks_and_resample() -> None:
    data = bytes(16000 * 2)
    parts = chunks(data, 16000, 0.04)
    assert all(len(p) == 1280 for p in parts) and sum(map(len, parts)) == len(data)
    assert resample(Pcm(bytes(22050 * 2), 22050), 16000).seconds == pytest.approx(1.0, abs=0.001)


def test_file_source_turns_padding_and_end(tmp_path: Path) -> None:
    one = write(tmp_path / "1.wav", Pcm(tone(16000, 0.1), 16000))
    source = FileSource([one], fast=True).open()
    source.begin(0.0)
    first = source.read()
    assert first is not None and any(first)
    for _ in range(5):
        source.read()
    assert source.read() == bytes(1280)  # silence after the file
    source.begin(0.0)
    assert source.read() is None  # files ran out: input ended


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_file_source_finds_the_unheard_sound_left_after_a_turn(tmp_path: Path, rate: int) -> None:
    """Tone 0-0.5 s, silence to 1.5 s, tone to 1.8 s; the turn stops after 0.6 s: the second tone is left,
    0.9-1.2 s from there. What is left is read, and the file closed; a silent rest gives None."""
    gap = bytes(2 * rate)  # 1 s of digital silence
    path = write(tmp_path / "two.wav", Pcm(tone(rate, 0.5) + gap + tone(rate, 0.3), rate))
    source = FileSource([path, path], fast=True).open()
    source.begin(0.0)
    read = 0.0
    while read < 0.6 - 1e-9:
        chunk = source.read()
        assert chunk is not None
        read += len(chunk) / 2 / source.rate
    span = source.take_unheard()
    assert span is not None
    # from where the file was read to: a resampled file is read up to a chunk (40 ms) ahead of what was delivered
    assert span[0] == pytest.approx(0.9, abs=0.05) and span[1] == pytest.approx(1.2, abs=0.05)
    assert source.take_unheard() is None  # nothing left
    source.begin(0.0)  # the same file again, read past both tones: only the silent rest (none) is left
    for _ in range(round(1.9 / 0.04)):
        assert source.read() is not None
    assert source.take_unheard() is None


def test_room_noise_left_after_a_turn_is_not_reported(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    noise = array("h", (int(3000 * rng.uniform(-1, 1)) for _ in range(2 * 16000))).tobytes()
    path = write(tmp_path / "noisy.wav", Pcm(tone(16000, 0.5) + noise, 16000))
    source = FileSource([path], fast=True).open()
    source.begin(0.0)
    for _ in range(round(0.6 / 0.04)):
        assert source.read() is not None
    assert source.take_unheard() is None  # steady noise, no voice after a pause


def test_file_source_paces_in_real_time(tmp_path: Path) -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    path = write(tmp_path / "1.wav", Pcm(bytes(16000), 16000))  # 0.5 s
    source = FileSource([path], sleep=sleep, clock=lambda: now[0]).open()
    source.begin(100.0)
    for _ in range(int(0.5 / 0.04) + 1):
        source.read()
    assert now[0] == pytest.approx(100.0 + 0.5, abs=0.001)  # 12 full chunks and one half chunk
    assert all(s > 0 for s in slept)


def test_file_source_reports_unreadable_file_at_open(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError):
        FileSource([tmp_path / "nope.wav"]).open()


def test_microphone_gate_drops_audio_captured_before_the_turn() -> None:
    now = [10.0]
    mic = Microphone(stream_factory=lambda rate, block, callback: None, clock=lambda: now[0]).open()
    mic.push(9.0, b"old")
    mic.push(10.1, b"echo")
    mic.push(10.3, b"answer")
    mic.begin(not_before=10.2)
    assert mic.read() == b"answer"
    assert mic.dropped == 2


def test_microphone_stall_is_a_clear_error() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    mic = Microphone(stream_factory=lambda rate, block, callback: None, clock=clock).open()
    mic.begin(0.0)
    with pytest.raises(AudioDeviceError, match="stopped sending audio"):
        mic.read()
