"""Faults and bad input in audio: WAV headers and payloads (fuzzed), odd rates and formats, huge files.

Issue 8, items 1-3: no WAV may hang a turn, every sane WAV is converted and resampled to the recognizer's
rate (every turn, whatever the previous turn's rate), and every insane one is refused with a one-line reason.
Each fuzz example runs under a hard time limit (SIGALRM), so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fault_support import Hang, time_limit, tone, wav_file, wav_header
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.errors import AudioDeviceError, AudioFileError
from assistant.speech.audio import SAMPLE_RATE, read_wav
from assistant.speech.endpoint import EndpointConfig, Endpointer
from assistant.speech.filesource import FileSource
from assistant.speech.listen import Capture, listen_once
from assistant.speech.microphone import Microphone
from assistant.speech.recognizer import Recognition
from assistant.speech.wavfile import MAX_RATE

FAST = EndpointConfig(no_speech_timeout=0.5, max_utterance=0.5, end_silence=0.2, floor_window=0.3)
"""Short turns for fuzzing: the loop's termination does not depend on the times chosen."""
MOST_AUDIO = FAST.no_speech_timeout + FAST.max_utterance + FAST.end_silence + 0.1
"""No turn consumes more audio than this (s)."""
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class FakeSession:
    """Stands in for the recognizer: hears no words, checks each chunk is real 16 kHz PCM."""

    sample_rate = SAMPLE_RATE
    partial = ""
    partial_is_complete = False
    partial_holds_answer = False
    partial_words = ""

    def __init__(self) -> None:
        self.fed = 0

    def feed(self, pcm: bytes) -> None:
        if not pcm or len(pcm) % 2:
            raise AssertionError(f"chunk of {len(pcm)} bytes")
        self.fed += len(pcm)

    def finish(self) -> Recognition:
        return Recognition(text="", intent=None, confidence=0.0, uncertain=False)


def one_turn(path: Path, config: EndpointConfig = FAST) -> Capture:
    source = FileSource([path], fast=True)
    try:
        source.open()
        source.begin(0.0)
        return listen_once(source, FakeSession(), config)  # type: ignore[arg-type]
    finally:
        source.close()


def turn_or_refusal(path: Path) -> str:
    """Run one turn on `path` within 5 s: "" when it was heard out, else the refusal, checked to be one
    line that names the file."""
    try:
        with time_limit(5.0):
            capture = one_turn(path)
    except AudioFileError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message and str(path) in message, repr(message)
        assert "()" not in message
        return message
    assert capture.audio_seconds <= MOST_AUDIO, capture
    return ""


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wavs")


def put(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# --- fuzz -------------------------------------------------------------------------------------------------

RATES = st.one_of(st.sampled_from([0, 1, 50, 100, 7999, 8000, 11025, 16000, 22050, 44100, 48000, 96000,
                                   MAX_RATE, MAX_RATE + 1, 4_000_000_000, 2**32 - 1]),
                  st.integers(0, 2**32 - 1))
CHANNELS = st.one_of(st.integers(0, 10), st.just(65535), st.integers(0, 65535))
BITS = st.sampled_from([0, 1, 4, 8, 12, 16, 20, 24, 32, 48, 64, 65535])
TAGS = st.one_of(st.sampled_from([1, 3, 0xFFFE, 0, 2, 85]), st.integers(0, 65535))


HEADERS = st.fixed_dictionaries({
    "rate": RATES, "channels": CHANNELS, "bits": BITS, "tag": TAGS, "extensible": st.booleans(),
    "align": st.one_of(st.none(), st.integers(0, 65535)),
    "declared": st.one_of(st.none(), st.integers(0, 2**32 - 1)),
})


@FUZZ
@given(header=HEADERS, payload=st.binary(max_size=6000), cut=st.one_of(st.none(), st.integers(0, 6100)))
def test_fuzzed_headers_never_hang_or_crash(scratch: Path, header: dict[str, Any], payload: bytes,
                                            cut: int | None) -> None:
    declared = header.pop("declared")
    data = wav_header(header.pop("rate"), header.pop("channels"), header.pop("bits"),
                      len(payload) if declared is None else declared, **header) + payload
    turn_or_refusal(put(scratch, "fuzz.wav", data if cut is None else data[:cut]))


@FUZZ
@given(prefix=st.sampled_from([b"", b"RIFF", b"RIFF\xff\xff\xff\xffWAVE", b"RIFF\x00\x00\x00\x00WAVEfmt ",
                               b"RF64"]),
       body=st.binary(max_size=3000))
def test_fuzzed_bytes_never_hang_or_crash(scratch: Path, prefix: bytes, body: bytes) -> None:
    turn_or_refusal(put(scratch, "bytes.wav", prefix + body))


@FUZZ
@given(chunks=st.lists(st.tuples(st.sampled_from([b"LIST", b"fact", b"junk", b"fmt ", b"data", b"\0\0\0\0"]),
                                 st.integers(0, 2**32 - 1), st.binary(max_size=40)), max_size=12))
def test_fuzzed_chunk_lists_never_hang_or_crash(scratch: Path, chunks: list[tuple[bytes, int, bytes]]) -> None:
    good = wav_header(16000, 1, 16, 3200)[12:] + bytes(3200)
    body = b"".join(kind + struct.pack("<I", size) + data for kind, size, data in chunks)
    turn_or_refusal(put(scratch, "chunks.wav", b"RIFF\0\0\0\0WAVE" + body + good))


# --- the reported faults, one by one --------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0, 1, 50, 100, 7999, 4_000_000_000])
def test_absurd_rates_are_refused_in_one_line(scratch: Path, rate: int) -> None:
    """0 and 1 Hz spun forever; 50-100 Hz and 8 kHz crashed in Vosk; 4e9 Hz overflowed."""
    path = put(scratch, f"r{rate}.wav", wav_header(rate, 1, 16, 3200) + bytes(3200))
    message = turn_or_refusal(path)
    assert f"{rate} Hz" in message


def test_a_zero_sample_analysis_frame_is_impossible() -> None:
    """The root of the hang: at 0-99 Hz a 10 ms frame held 0 samples, so the frame loop never advanced."""
    for rate in (0, 1, 99):
        with pytest.raises(AudioFileError, match=f"{rate} Hz"):
            Endpointer(sample_rate=rate)
    assert Endpointer(sample_rate=100).feed(bytes(2), "", False) is not None


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("empty.wav", b"", "empty"),
    ("twenty.wav", wav_header(16000, 1, 16, 3200)[:20], "ends inside its header"),
    ("noaudio.wav", wav_header(16000, 1, 16, 0), "no audio"),
    ("nodata.wav", wav_header(16000, 1, 16, 0)[:36], "no audio data"),
    ("channels.wav", wav_header(16000, 65535, 16, 3200, align=0) + bytes(3200), "65535 channels"),
    ("mulaw.wav", wav_header(8000, 1, 8, 800, tag=7) + bytes(800), "it uses mu-law (audio encoding 7), compressed"),
    ("alaw.wav", wav_header(8000, 1, 8, 800, tag=6) + bytes(800), "it uses A-law (audio encoding 6), compressed"),
    ("odd.wav", wav_header(8000, 1, 8, 800, tag=999) + bytes(800), "audio encoding 999 (compressed or unknown)"),
    ("12bit.wav", wav_header(16000, 1, 12, 300, align=2) + bytes(300), "12-bit"),
    ("align.wav", wav_header(16000, 1, 16, 3200, align=3) + bytes(3200), "damaged"),
])
def test_insane_wavs_get_a_reason(scratch: Path, name: str, data: bytes, expected: str) -> None:
    """Zero-length and 20-byte WAVs gave the reason "()"; 65,535 channels was silently 'heard nothing'."""
    message = turn_or_refusal(put(scratch, name, data))
    assert expected in message, message


def test_a_fifo_is_refused_without_waiting(scratch: Path) -> None:
    fifo = scratch / "pipe.wav"
    os.mkfifo(fifo)
    with time_limit(3.0), pytest.raises(AudioFileError, match="not a regular file"):
        FileSource([fifo]).open()


def test_a_folder_is_refused(scratch: Path) -> None:
    with pytest.raises(AudioFileError, match="not a regular file"):
        FileSource([scratch]).open()


def heard_out(path: Path) -> np.ndarray:
    """All the audio the source delivers for `path` before its silence, as floats."""
    source = FileSource([path], fast=True).open()
    source.begin(0.0)
    out = []
    with time_limit(10.0):
        while True:
            chunk = source.read()
            assert chunk is not None and len(chunk) >= 2
            if not any(chunk):
                break
            out.append(np.frombuffer(chunk, dtype="<i2"))
    source.close()
    return np.concatenate(out) / 32768.0


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000])
@pytest.mark.parametrize("layout", [
    (8, False, 1, False), (16, False, 1, False), (16, False, 2, False), (24, False, 1, False),
    (32, False, 2, True), (32, True, 1, False), (64, True, 2, False), (24, False, 2, True),
])
def test_sane_wavs_are_converted_and_resampled(scratch: Path, rate: int, layout: tuple[int, bool, int, bool]) -> None:
    """Every accepted format reaches the recognizer as 16 kHz mono: the same length, pitch and level."""
    bits, floating, channels, extensible = layout
    signal = tone(440.0, 0.5, rate, level=0.5)
    frames = np.stack([signal] * channels, axis=1) if channels > 1 else signal
    path = put(scratch, "sane.wav", wav_file(frames, rate, bits, floating, extensible))
    out = heard_out(path)
    assert abs(out.size - SAMPLE_RATE // 2) <= 1
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / out.size - 440.0) < 4.0
    middle = out[800:-800]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)


def test_downsampling_does_not_alias(scratch: Path) -> None:
    """A 10 kHz tone cannot be heard at 16 kHz (Nyquist 8 kHz): it must vanish, not fold down to 6 kHz."""
    out = heard_out(put(scratch, "high.wav", wav_file(tone(10000.0, 0.5, 48000), 48000)))
    assert np.sqrt(np.mean(out[800:-800] ** 2)) < 0.005


def test_the_rate_never_changes_between_turns(scratch: Path) -> None:
    """A recognizer built for `source.rate` before `begin()` must match the audio of that turn (it was built with
    the previous turn's rate, so 44.1/48 kHz turns were lost)."""
    files = [put(scratch, f"t{r}.wav", wav_file(tone(300.0, 0.2, r), r)) for r in (16000, 44100, 8000, 48000)]
    source = FileSource(files, fast=True).open()
    for _ in files:
        assert source.rate == SAMPLE_RATE
        source.begin(0.0)
        assert source.rate == SAMPLE_RATE
        chunk = source.read()
        assert chunk is not None and any(chunk)
    source.close()


def test_a_recognizer_at_another_rate_is_refused(scratch: Path) -> None:
    source = FileSource([put(scratch, "a.wav", wav_file(tone(300.0, 0.2, 16000), 16000))], fast=True).open()
    source.begin(0.0)
    session = FakeSession()
    session.sample_rate = 44100
    with pytest.raises(AudioFileError, match="44100 Hz"):
        listen_once(source, session, FAST)  # type: ignore[arg-type]


def test_an_empty_chunk_cannot_spin_the_loop() -> None:
    class Empty:
        rate = SAMPLE_RATE

        def begin(self, not_before: float) -> None:
            """Nothing to start."""

        def read(self) -> bytes:
            return b""

    with time_limit(3.0), pytest.raises(AudioDeviceError, match="empty chunk"):
        listen_once(Empty(), FakeSession(), FAST)  # type: ignore[arg-type]


def test_a_2_gb_wav_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    """It took 4.4 GB: the whole file was read (twice) before the first turn. Sparse: no disk used."""
    path = tmp_path / "huge.wav"
    size = 2_000_000_000
    with path.open("wb") as stream:
        stream.write(wav_header(44100, 2, 16, size))
        stream.truncate(44 + size)
    tracemalloc.start()
    try:
        with time_limit(20.0):
            capture = one_turn(path, EndpointConfig())
            with pytest.raises(AudioFileError, match="read at once"):
                read_wav(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert capture.audio_seconds == pytest.approx(EndpointConfig().no_speech_timeout, abs=0.1)
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_microphone_at_a_native_rate_delivers_16_khz() -> None:
    mic = Microphone(capture_rate=48000, stream_factory=lambda rate, block, callback: None).open()
    samples = (tone(440.0, 1.0, 48000) * 32767).astype("<i2")
    for i in range(0, samples.size, 1920):
        mic.push(1.0 + i / 48000, samples[i:i + 1920].tobytes())
    mic.begin(0.0)
    out = [np.frombuffer(mic.read(), dtype="<i2") for _ in range(24)]
    assert mic.rate == SAMPLE_RATE
    total = sum(len(o) for o in out)
    assert abs(total - 24 * 640) <= 64


# --- with the real model ------------------------------------------------------------------------------------

def sox(source: Path, target: Path, *options: str) -> Path:
    subprocess.run(["sox", str(source), *options, str(target)], check=True, capture_output=True)
    return target


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from voice_support import require_voice_stack, write_turn

    from bench.corpus import TEST_VOICES

    require_voice_stack()
    folder = tmp_path_factory.mktemp("spoken")
    base = {word: write_turn(folder / f"{word}.wav", word, TEST_VOICES[0]) for word in ("yes", "no")}
    return {
        "yes16": base["yes"], "no16": base["no"],
        "no44": sox(base["no"], folder / "no44.wav", "-r", "44100"),
        "yes44": sox(base["yes"], folder / "yes44.wav", "-r", "44100"),
        "yes48st": sox(base["yes"], folder / "yes48st.wav", "-r", "48000", "-c", "2"),
        "no8": sox(base["no"], folder / "no8.wav", "-r", "8000"),
        "yes22f": sox(base["yes"], folder / "yes22f.wav", "-r", "22050", "-e", "floating-point", "-b", "32"),
        "no24b": sox(base["no"], folder / "no24b.wav", "-b", "24"),
    }


class QuietSpeaker:
    def say(self, text: str) -> bool:
        return True

    def beep(self, rate: int = 16000) -> None:
        """No tone."""


@pytest.mark.voice
@pytest.mark.parametrize("turns", [
    ("no44", "no44"),  # turn 1 was lost: the recognizer was built at 16 kHz, the audio was 44.1 kHz
    ("no16", "yes44"),  # turn 2 was lost: built at 16 kHz (turn 1's rate) for 44.1 kHz audio
    ("yes48st", "no8", "yes22f", "no24b"),  # 8 kHz raised "Failed to process waveform"
])
def test_every_turn_is_heard_whatever_its_rate(recognizer: Any, bundle: Any, spoken: dict[str, Path],
                                               turns: tuple[str, ...]) -> None:
    from assistant.app.voice import VoiceChannel

    source = FileSource([spoken[t] for t in turns], fast=True).open()
    channel = VoiceChannel(speaker=QuietSpeaker(), source=source, recognizer=recognizer,  # type: ignore[arg-type]
                           use_tone=False, show=lambda text: None)
    listener = bundle.grammars.listener("answers")
    heard = []
    with time_limit(60.0):
        for _ in turns:
            result = channel.listen(listener)
            heard.append(result.intent if result else None)
    source.close()
    assert heard == ["yes" if t.startswith("yes") else "no" for t in turns]


@pytest.mark.voice
def test_tingle_recognize_refuses_a_zero_hz_wav_and_goes_on_with_the_next(tmp_path: Path,
                                                                         spoken: dict[str, Path]) -> None:
    from voice_support import run_cli

    bad = put(tmp_path, "zero.wav", wav_header(0, 1, 16, 3200) + bytes(3200))
    missing = tmp_path / "missing.wav"
    result = run_cli(["recognize", spoken["no8"], bad, missing, spoken["no8"]], tmp_path, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("tingle:")] == [
        f"tingle: {bad}: it declares a sample rate of 0 Hz, too low for speech; "
        "use a WAV file at 8-192 kHz, 8/16/24/32-bit PCM or 32/64-bit float, 1 to 8 channels "
        "(e.g. sox in.wav -r 16000 -b 16 -c 1 out.wav)",
        f"tingle: audio file not found: {missing}",
        "tingle: 2 of 4 files could not be read (see above); the others were recognized."]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(spoken["no8"]), str(bad), str(missing), str(spoken["no8"])]
    assert [line.get("intent") for line in lines] == ["no", None, None, "no"]
    assert "error" in lines[1] and "error" in lines[2] and "error" not in lines[3]


# --- an output option naming the user's recording -------------------------------------------------------------

@pytest.mark.parametrize("case", ["session --audio-out", "session --transcript", "listen --audio-out"])
@pytest.mark.parametrize("spelling", ["same path", "another spelling", "symlink", "hard link"])
def test_an_output_naming_an_audio_in_file_is_refused_before_anything_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        case: str, spelling: str) -> None:
    """`--audio-out rec.wav` with `--audio-in rec.wav` overwrote the user's recording (listen has no
    --transcript: its --transcript-dir is a folder)."""
    from assistant.app import cli

    command, option = case.split()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    recording = put(tmp_path, "rec.wav", wav_file(tone(440, 0.5, SAMPLE_RATE), SAMPLE_RATE))
    before = recording.read_bytes()
    output = {"same path": recording, "another spelling": Path("sub/../rec.wav"),
              "symlink": tmp_path / "link.wav", "hard link": tmp_path / "hard.wav"}[spelling]
    (tmp_path / "sub").mkdir()
    if spelling == "symlink":
        output.symlink_to(recording)
    elif spelling == "hard link":
        os.link(recording, output)
    first = ["listen"] if command == "listen" else []
    status = cli.main([*first, "--audio-in", str(put(tmp_path, "other.wav", before)), str(recording),
                       option, str(output), "--fast"])
    assert status == 1
    err = capsys.readouterr().err
    assert f"tingle: {option} {output} is the same file as --audio-in {recording}" in err, err
    assert f"Choose another path for {option}" in err, err
    assert recording.read_bytes() == before
    assert not (tmp_path / "state").exists()  # no transcript started either


def test_outputs_are_compared_with_each_other_and_distinct_paths_pass(tmp_path: Path) -> None:
    import argparse

    from assistant.app.cli import refuse_overwriting_inputs
    from assistant.errors import UsageError

    recording = put(tmp_path, "rec.wav", b"RIFF")
    args = argparse.Namespace(audio_in=[recording], audio_out=tmp_path / "out.wav", transcript=tmp_path / "t.jsonl")
    refuse_overwriting_inputs(args)
    args.transcript = tmp_path / "out.wav"
    with pytest.raises(UsageError, match=r"--transcript .*out\.wav is the same file as --audio-out"):
        refuse_overwriting_inputs(args)


def test_hang_helper_really_interrupts() -> None:
    with pytest.raises(Hang), time_limit(0.2):
        while True:
            pass
