"""Wake-phrase benchmark: detection, false wakes per hour, CPU and memory of waiting, wake-to-greeting latency.

    .venv/bin/python -m bench.wake            # full: ~20 h of audio without the phrase -> bench/results/wake.md
    .venv/bin/python -m bench.wake --quick    # a slice (~1 min) -> bench/work/wake-quick/

Everything is built here, deterministically (seeds), from espeak-ng / flite voices and sox:

* **Detection**: the wake phrase by the 10 benchmark voices (`bench.corpus.VOICES`) at 0.9 / 1.0 / 1.1x speed,
  in quiet and over multi-talker babble at 20 and 10 dB SNR (the SNR of `bench.corpus.mix_at_snr`), and pink
  noise at 10 dB. A clip counts as detected when the product's detector fires anywhere in it (streamed in the
  product's 40 ms chunks).
* **False wakes**: hours of continuous audio that never holds the phrase, in three kinds: *speech* (sentences
  from the licence texts in /usr/share/common-licenses and the assistant's own content, so its own voice is
  in, spoken by the 10 voices, each use with its own tempo/pitch change, gain and pause, now and then two
  talkers at once), *TV-like* (speech over a music bed, pink noise and noise bursts), and *music* (sox-made
  pieces: plucked, sine, square and sawtooth melodies and chords, transposed and looped). A false wake is a
  rise above the cut-off; after one the detector is reset and deaf for 5 s, as the loop is while a session
  runs. Near misses ("okay now", "okay Nana", "hey Nabil", ...) are counted apart, per clip.
* **Waiting**: the real resident loop waiting on a microphone whose stream delivers speech in real time
  (CPU % of one core, RSS with the speech model loaded), and RSS sampled each simulated hour while the
  waiting loop runs over `--soak-hours` of audio as fast as it goes.
* **Latency**: from the wake decision to the first sample of the greeting, through the real Speaker
  (pyttsx3, greeting pre-rendered as `tingle listen` does) into a WAV output; plus how long after the end of
  the phrase the detector decides.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import platform
import re
import resource
import subprocess
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import corpus, homeaudio

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RATE = corpus.SAMPLE_RATE
CHUNK = int(RATE * 0.04)
CUTOFFS = (0.3, 0.5, 0.7, 0.85, 0.9, 0.95)
"""Cut-offs of the model alone reported beside the product (the model at the phrase's cut-off + the check)."""
REFRACTORY_S = 5.0
SPEEDS = (0.9, 1.0, 1.1)
NEAR_MISSES = ("okay now", "okay nana", "hey nabil", "okay, nobody", "oh, a cabana", "okay, no boo", "okay google",
               "okay, number two", "okay, I'll book it", "hey, nah, bye", "okay, maybe", "okay then")
HOUR = 3600


@dataclass(frozen=True)
class Plan:
    quick: bool
    phrase: str
    hours: dict[str, float]
    soak_hours: float
    cpu_seconds: float
    workers: int


# ----------------------------------------------------------------------------- detector


def _detector(phrase: str) -> Any:
    from assistant.speech.wakeword import MicroWakeDetector, wake_phrase

    return MicroWakeDetector(wake_phrase(phrase)).open()


def chunk_probabilities(detector: Any, samples: np.ndarray) -> np.ndarray:
    """The detector's highest probability in each 40 ms chunk of `samples` (after a reset), heard through the
    product's noise suppression as `Resident.wait_for_wake` hears it."""
    from assistant.speech.frontend import FrontEnd

    detector.reset()
    cleaner = FrontEnd()
    pcm = np.asarray(samples, dtype="<i2").tobytes()
    step = 2 * CHUNK
    return np.array([detector.feed(cleaner.process(pcm[i:i + step])) for i in range(0, len(pcm), step)],
                    dtype=np.float32)


def count_wakes(probabilities: np.ndarray, cutoff: float) -> int:
    """Rises above `cutoff`, each followed by REFRACTORY_S of deafness (a session)."""
    above = np.flatnonzero(probabilities > cutoff)
    count, deaf_until = 0, -1
    per_s = 1 / 0.04
    for index in above:
        if index >= deaf_until:
            count += 1
            deaf_until = index + int(REFRACTORY_S * per_s)
    return count


class MemorySource:
    """16 kHz samples as an AudioSource in the product's 40 ms chunks, with its own stream clock."""

    rate = RATE

    def __init__(self, samples: np.ndarray) -> None:
        self.pcm = np.asarray(samples, dtype="<i2").tobytes()
        self.at = 0

    def now(self) -> float:
        return self.at / 2 / RATE

    def skip(self, seconds: float) -> None:
        self.at += 2 * int(seconds * RATE)

    def begin(self, not_before: float) -> None:
        """No gate: the product's guard is 0.15 s, covered by `skip` after a wake."""

    def read(self) -> bytes | None:
        if self.at >= len(self.pcm):
            return None
        chunk = self.pcm[self.at:self.at + 2 * CHUNK]
        self.at += len(chunk)
        return chunk


class Recording:
    """Wraps a detector: keeps every chunk's probability while the product uses it (on long audio, the model
    alone is then counted from these: they differ from a separate pass only just after a fire, where the
    product resets the model)."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.phrase = detector.phrase
        self.probabilities: list[float] = []

    def feed(self, pcm: bytes) -> float:
        probability = float(self.detector.feed(pcm))
        self.probabilities.append(probability)
        return probability

    def heard(self, probability: float) -> bool:
        return bool(self.detector.heard(probability))

    def reset(self) -> None:
        self.detector.reset()


_RECOGNIZER: list[Any] = []


def _recognizer() -> Any:
    if not _RECOGNIZER:
        from assistant.models.modelstore import resolve_model
        from assistant.speech.recognizer import VoskRecognizer

        _RECOGNIZER.append(VoskRecognizer(resolve_model()).load())
    return _RECOGNIZER[0]


def product_wakes(detector: Any, samples: np.ndarray, session_s: float = REFRACTORY_S) -> tuple[list[Any], Any]:
    """The product's waiting step (`Resident.wait_for_wake`: the model at the phrase's cut-off, then the
    speech check) over `samples`; after each wake `session_s` of audio is passed over, as a session would.
    Returns the wakes and the Resident (its `refused` lists the near misses the check turned down)."""
    from assistant.app.resident import Resident, ResidentConfig
    from assistant.speech.frontend import FrontEnd
    from assistant.speech.wakeword import SpeechCheck

    source = MemorySource(samples)
    resident = Resident(bundle=_bundle(), open_source=lambda: source, detector=detector,  # type: ignore[arg-type,return-value]
                        make_channel=_no_channel, announcer=_Silent(),
                        config=ResidentConfig(transcript_dir=Path(tempfile.gettempdir())), clock=source.now,
                        stream_origin=0.0, check=SpeechCheck.for_phrase(_recognizer(), detector.phrase),
                        clean=FrontEnd)
    resident.use_source(source)  # type: ignore[arg-type]
    wakes = []
    while (wake := resident.wait_for_wake()) is not None:
        wakes.append(wake)
        source.skip(session_s)
    return wakes, resident


_BUNDLE: list[Any] = []


def _bundle() -> Any:
    if not _BUNDLE:
        from assistant.core.validate import load_bundle

        _BUNDLE.append(load_bundle(ROOT / "content", ROOT / "grammars"))
    return _BUNDLE[0]


def _no_channel(source: Any) -> Any:
    raise RuntimeError("the benchmark runs no session here")


# ----------------------------------------------------------------------------- detection


def _positives(phrase_text: str, quick: bool) -> list[tuple[str, str, float, np.ndarray]]:
    voices = corpus.VOICES[:4] if quick else corpus.VOICES
    speeds = (1.0,) if quick else SPEEDS
    return [(v.label, f"{s:g}", s, corpus.pad(corpus.synthesize(phrase_text, v, s), 1.0, 1.0))
            for v in voices for s in speeds]


def detection(plan: Plan) -> dict[str, Any]:
    from assistant.speech.wakeword import wake_phrase

    phrase = wake_phrase(plan.phrase)
    detector = _detector(plan.phrase)
    clips = _positives(phrase.spoken, plan.quick)
    babble = corpus.babble_noise(90 * RATE, seed=4242)
    conditions: dict[str, dict[str, Any]] = {}
    for name, noise, snr in (("quiet", None, None), ("babble 20 dB", "babble", 20.0),
                             ("babble 10 dB", "babble", 10.0), ("real babble 10 dB", "realbabble", 10.0),
                             ("real babble 5 dB", "realbabble", 5.0), ("pink 10 dB", "pink", 10.0)):
        peaks, misses, woke = [], [], []
        for k, (voice, speed, _, clip) in enumerate(clips):
            audio = clip
            if noise == "babble" and snr is not None:
                start = (k * 7919 * 31) % (babble.size - clip.size)
                audio = corpus.mix_at_snr(clip, babble[start:start + clip.size], snr)
            elif noise == "realbabble" and snr is not None:  # recordings of real people (bench/homeaudio.py)
                audio = corpus.mix_at_snr(clip, homeaudio.real_babble(clip.size, seed=5000 + k), snr)
            elif noise == "pink" and snr is not None:
                audio = corpus.mix_at_snr(clip, corpus.pink_noise(clip.size, seed=k), snr)
            peak = float(chunk_probabilities(detector, audio).max())  # the model alone, over the whole clip
            wakes, resident = product_wakes(detector, audio)
            peaks.append(peak)
            woke.append(bool(wakes))
            if not wakes:
                heard = f", check heard {resident.refused[-1]!r}" if resident.refused else ""
                misses.append(f"{voice} x{speed} (model {peak:.2f}{heard})")
        array = np.array(peaks)
        conditions[name] = {"clips": len(peaks), "rate": {f"{c:g}": float((array > c).mean()) for c in CUTOFFS},
                            "product": float(np.mean(woke)), "missed": misses}
    detector.close()
    return {"phrase": phrase.spoken, "cutoff": phrase.cutoff, "voices": len({c[0] for c in clips}),
            "speeds": sorted({c[1] for c in clips}), "conditions": conditions}


def near_misses(plan: Plan) -> dict[str, Any]:
    detector = _detector(plan.phrase)
    voices = corpus.VOICES[:3] if plan.quick else corpus.VOICES
    fired: dict[str, int] = {f"{c:g}": 0 for c in CUTOFFS}
    woke: list[str] = []
    total = 0
    for text in NEAR_MISSES:
        for voice in voices:
            clip = corpus.pad(corpus.synthesize(text, voice), 1.0, 1.0)
            peak = float(chunk_probabilities(detector, clip).max())  # the model alone
            wakes, _ = product_wakes(detector, clip)
            total += 1
            for c in CUTOFFS:
                fired[f"{c:g}"] += int(peak > c)
            if wakes:
                woke.append(f"{text!r} {voice.label} (check heard {wakes[0].checked!r})")
    detector.close()
    return {"clips": total, "fired": fired, "product": len(woke), "woke": woke}


# ----------------------------------------------------------------------------- audio without the phrase


def sentences(limit: int) -> list[str]:
    """Sentences of 4-25 words, without the wake words: the licence texts, then the assistant's content."""
    texts: list[str] = []
    licences = Path("/usr/share/common-licenses")
    if licences.is_dir():
        for path in sorted(licences.iterdir()):
            if path.is_file():
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
    for path in sorted((ROOT / "content").glob("*.yaml")):
        texts.append(path.read_text(encoding="utf-8"))
    found: list[str] = []
    seen: set[str] = set()
    for text in texts:
        flat = re.sub(r"[^A-Za-z0-9,.;:!?' ]+", " ", text)
        for piece in re.split(r"(?<=[.!?;:])\s+", flat):
            words = piece.split()
            sentence = " ".join(words)
            if 4 <= len(words) <= 25 and sentence.lower() not in seen and "nabu" not in sentence.lower():
                seen.add(sentence.lower())
                found.append(sentence)
    rng = np.random.default_rng(11)
    order = rng.permutation(len(found))
    return [found[i] for i in order[:limit]] + list(corpus.BABBLE_SENTENCES)


def speech_pool(count: int) -> list[np.ndarray]:
    """`count` sentences, each spoken once by one of the voices (cached by bench.corpus)."""
    pool = []
    for k, text in enumerate(sentences(count)):
        voice = corpus.VOICES[k % len(corpus.VOICES)]
        pool.append(corpus.synthesize(text, voice))
    return pool


def music_pool(count: int, seconds: float) -> list[np.ndarray]:
    """`count` sox-made pieces of about `seconds`: melodies (a note, or a three-note chord, per beat) in four
    timbres at random tempi, with reverb."""
    rng = np.random.default_rng(23)
    scale = (0, 2, 4, 5, 7, 9, 11, 12, 14, 16)
    pieces = []
    with tempfile.TemporaryDirectory(prefix="wake-music-") as tmp:
        for k in range(count):
            timbre = ("pluck", "sine", "square", "sawtooth")[k % 4]
            beat = float(rng.uniform(0.15, 0.5))
            root = 48 + int(rng.integers(0, 12)) - 69  # semitones from A4
            parts = []
            for n in range(max(1, int(seconds / beat))):
                note = root + scale[int(rng.integers(0, len(scale)))]
                tones = [note, note + 4, note + 7] if rng.random() < 0.3 else [note]
                part = os.path.join(tmp, f"m{k}-{n}.wav")
                synth = [word for t in tones for word in (timbre, f"%{t}")]
                subprocess.run(["sox", "-n", "-r", str(RATE), "-b", "16", part, "synth", f"{beat:.3f}", *synth,
                                "remix", "-", "fade", "0.005", f"{beat:.3f}", f"{beat * 0.6:.3f}",
                                "vol", f"{rng.uniform(0.2, 0.5):.2f}"], check=True, capture_output=True)
                parts.append(part)
            path = os.path.join(tmp, f"m{k}.wav")
            subprocess.run(["sox", *parts, path, "reverb", "30", "gain", "-n", "-12"], check=True,
                           capture_output=True)
            pieces.append(corpus.read_wav(path))
            for part in parts:
                os.unlink(part)
    return pieces


def _vary(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A tempo-and-pitch change of 0.88-1.12x and a gain of -6..+4 dB."""
    factor = float(rng.uniform(0.88, 1.12))
    positions = np.arange(0, clip.size - 1, factor)
    out = np.interp(positions, np.arange(clip.size), clip.astype(np.float64))
    return out * 10 ** (float(rng.uniform(-6, 4)) / 20)


def _speech_stream(pool: list[np.ndarray], seconds: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(int(seconds * RATE))
    at = 0
    while at < out.size:
        clip = _vary(pool[int(rng.integers(0, len(pool)))], rng)
        end = min(out.size, at + clip.size)
        out[at:end] += clip[: end - at]
        if rng.random() < 0.1:  # a second talker over the first
            other = _vary(pool[int(rng.integers(0, len(pool)))], rng) * 0.7
            start = at + int(rng.integers(0, max(1, clip.size // 2)))
            stop = min(out.size, start + other.size)
            if start < stop:
                out[start:stop] += other[: stop - start]
        at += clip.size + int(rng.uniform(0.15, 1.5) * RATE)
    return out


def _music_stream(pool: list[np.ndarray], seconds: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(int(seconds * RATE))
    at = 0
    while at < out.size:
        piece = _vary(pool[int(rng.integers(0, len(pool)))], rng)
        end = min(out.size, at + piece.size)
        out[at:end] += piece[: end - at]
        at = end
    return out


def _level(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x**2))) or 1.0
    return x * (32767 * 10 ** (dbfs / 20) / rms)


def negative_audio(kind: str, index: int, seconds: float, speech: list[np.ndarray],
                   music: list[np.ndarray]) -> np.ndarray:
    """Piece `index` of one kind of audio without the phrase, int16."""
    rng = np.random.default_rng([zlib.crc32(kind.encode()), index])
    if kind == "speech":
        mix = _level(_speech_stream(speech, seconds, rng), -24)
    elif kind == "tv":
        mix = _level(_speech_stream(speech, seconds, rng), -24)
        mix += _level(_music_stream(music, seconds, rng), -24 - float(rng.uniform(6, 15)))
        mix += _level(corpus.pink_noise(mix.size, seed=index).astype(np.float64), -45)
        for _ in range(int(seconds / 60)):  # bursts: applause, doors
            burst = corpus.cough_like_burst(int(rng.integers(0, 10**6))).astype(np.float64)
            at = int(rng.integers(0, max(1, mix.size - burst.size)))
            mix[at:at + burst.size] += burst * 0.3
    elif kind == "music":
        mix = _level(_music_stream(music, seconds, rng), -22)
    else:
        raise ValueError(kind)
    return np.clip(mix, -32768, 32767).astype(np.int16)


_POOLS: dict[str, list[np.ndarray]] = {}


def _negative_job(job: tuple[str, int, float, str]) -> dict[str, Any]:
    kind, index, seconds, phrase = job
    audio = negative_audio(kind, index, seconds, _POOLS["speech"], _POOLS["music"])
    recording = Recording(_detector(phrase))
    started = time.process_time()
    wakes, resident = product_wakes(recording, audio)
    cpu = time.process_time() - started
    recording.detector.close()
    probabilities = np.array(recording.probabilities)
    return {"kind": kind, "index": index, "seconds": audio.size / RATE, "cpu_s": cpu,
            "wakes": {f"{c:g}": count_wakes(probabilities, c) for c in CUTOFFS},
            "product": len(wakes), "product_at_s": [round(w.stream_s, 2) for w in wakes],
            "checked": [w.checked for w in wakes], "refused": len(resident.refused),
            "peak": float(probabilities.max()) if probabilities.size else 0.0}


def false_wakes(plan: Plan) -> dict[str, Any]:
    _POOLS["speech"] = speech_pool(300 if plan.quick else 2400)
    _POOLS["music"] = music_pool(8 if plan.quick else 24, 20.0 if plan.quick else 45.0)
    piece = 300.0 if plan.quick else 1800.0
    jobs = [(kind, k, piece, plan.phrase) for kind, hours in plan.hours.items()
            for k in range(max(1, round(hours * HOUR / piece)))]
    with multiprocessing.get_context("fork").Pool(plan.workers) as pool:
        results = pool.map(_negative_job, jobs)
    kinds: dict[str, Any] = {}
    for kind in plan.hours:
        mine = [r for r in results if r["kind"] == kind]
        hours = sum(r["seconds"] for r in mine) / HOUR
        wakes = {f"{c:g}": sum(r["wakes"][f"{c:g}"] for r in mine) for c in CUTOFFS}
        kinds[kind] = {"hours": round(hours, 3), "false_wakes": wakes, "product": sum(r["product"] for r in mine),
                       "refused": sum(r["refused"] for r in mine),
                       "product_heard": [h for r in mine for h in r["checked"]],
                       "per_hour": {c: (w / hours if hours else 0.0) for c, w in wakes.items()},
                       "peak": max(r["peak"] for r in mine), "cpu_per_audio_s": sum(r["cpu_s"] for r in mine) / (
                           hours * HOUR)}
    total_hours = sum(k["hours"] for k in kinds.values())
    total = {f"{c:g}": sum(k["false_wakes"][f"{c:g}"] for k in kinds.values()) for c in CUTOFFS}
    product = sum(k["product"] for k in kinds.values())
    unique_speech_s = sum(c.size for c in _POOLS["speech"]) / RATE
    return {"kinds": kinds, "hours": round(total_hours, 3), "false_wakes": total, "product": product,
            "product_per_10_hours": 10 * product / total_hours,
            "per_10_hours": {c: 10 * w / total_hours for c, w in total.items()},
            "speech_pool": {"sentences": len(_POOLS["speech"]), "unique_hours": round(unique_speech_s / HOUR, 3)},
            "music_pool": {"pieces": len(_POOLS["music"])}}


# ----------------------------------------------------------------------------- waiting: CPU and memory


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _RealTimeStream:
    """A stand-in sound card: pushes `samples` into the Microphone's callback every 40 ms, in real time."""

    def __init__(self, samples: np.ndarray, callback: Any) -> None:
        self.samples, self.callback = samples, callback
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        pcm = np.asarray(self.samples, dtype="<i2").tobytes()
        due = time.monotonic()
        for start in range(0, len(pcm), 2 * CHUNK):
            if self.stop.is_set():
                return
            due += 0.04
            time.sleep(max(0.0, due - time.monotonic()))
            self.callback(pcm[start:start + 2 * CHUNK], CHUNK, None, None)

    def close(self) -> None:
        self.stop.set()


def waiting(plan: Plan) -> dict[str, Any]:
    """Measured in a fresh process holding only what `tingle listen` holds while waiting."""
    import sys

    done = subprocess.run([sys.executable, "-m", "bench.wake", "--waiting-probe", "--phrase", plan.phrase,
                           "--cpu-seconds", str(plan.cpu_seconds), "--soak-hours", str(plan.soak_hours)],
                          cwd=ROOT, capture_output=True, text=True, check=True, timeout=4 * HOUR)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


class _LoopSource:
    """`hours` of audio as fast as it goes: a 10-minute piece over and over; RSS noted each simulated hour."""

    rate = RATE

    def __init__(self, audio: np.ndarray, hours: float) -> None:
        self.pcm = np.asarray(audio, dtype="<i2").tobytes()
        self.total = int(hours * HOUR / 0.04)
        self.done = 0
        self.rss: list[float] = []

    def begin(self, not_before: float) -> None:
        """No gate needed."""

    def read(self) -> bytes | None:
        if self.done >= self.total:
            return None
        step = 2 * CHUNK
        start = (self.done * step) % (len(self.pcm) - step)
        self.done += 1
        if self.done % int(HOUR / 0.04) == 0:
            self.rss.append(round(_rss_mb(), 1))
        return self.pcm[start:start + step]


def waiting_probe(phrase: str, cpu_seconds: float, soak_hours: float) -> dict[str, Any]:
    """The real waiting loop (Resident._wait) on a Microphone fed speech in real time, with the speech model
    loaded as `tingle listen` has it; then the same loop over `soak_hours` of audio, RSS each hour."""
    from assistant.app.resident import Resident, ResidentConfig
    from assistant.core.validate import load_bundle
    from assistant.errors import AudioDeviceError
    from assistant.models.modelstore import resolve_model
    from assistant.speech.frontend import FrontEnd
    from assistant.speech.microphone import Microphone
    from assistant.speech.recognizer import VoskRecognizer

    bundle = load_bundle(ROOT / "content", ROOT / "grammars")
    recognizer = VoskRecognizer(resolve_model()).load()  # held in memory while waiting, as in `tingle listen`
    detector = _detector(phrase)
    detector.cutoff = 1.01  # never wakes: only waiting is measured
    peaks = {"model_loaded": _peak_mb()}
    talk = [corpus.synthesize(text, corpus.VOICES[k % len(corpus.VOICES)])
            for k, text in enumerate(corpus.BABBLE_SENTENCES)]
    audio = np.concatenate([np.concatenate([t, np.zeros(RATE // 2, dtype=np.int16)]) for t in talk] * 8)
    peaks["audio_built"] = _peak_mb()
    streams: list[_RealTimeStream] = []

    def open_microphone() -> Microphone:
        def factory(rate: int, blocksize: int, callback: Any) -> _RealTimeStream:
            streams.append(_RealTimeStream(audio, callback))
            return streams[-1]

        return Microphone(stream_factory=factory).open()

    def no_channel(source: Any) -> Any:
        raise RuntimeError("the benchmark never wakes")

    resident = Resident(bundle=bundle, open_source=open_microphone, detector=detector, make_channel=no_channel,
                        announcer=_Silent(), config=ResidentConfig(transcript_dir=Path(tempfile.mkdtemp())),
                        clean=FrontEnd)
    resident.use_source(open_microphone())
    rss_before = _rss_mb()
    wall0, cpu0 = time.monotonic(), _cpu()
    stopper = threading.Timer(cpu_seconds, streams[-1].close)
    stopper.start()
    with contextlib.suppress(AudioDeviceError):  # the stand-in stream stops: the microphone stalls, which ends it
        resident.wait_for_wake()
    wall = min(time.monotonic() - wall0, cpu_seconds)  # the stall wait after the stream ends costs no CPU
    cpu = _cpu() - cpu0
    rss_waiting = _rss_mb()
    peaks["real_time_waiting"] = _peak_mb()
    loop = _LoopSource(audio[: 600 * RATE], soak_hours)
    resident.use_source(loop)
    soak_cpu0, soak_wall0 = _cpu(), time.monotonic()
    resident.wait_for_wake()
    soak_cpu = _cpu() - soak_cpu0
    detector.close()
    del recognizer
    return {"cpu_percent_of_one_core": round(100 * cpu / wall, 2), "measured_s": round(wall, 1),
            "rss_mb_before": round(rss_before, 1), "rss_mb_waiting": round(rss_waiting, 1),
            "soak_hours": soak_hours, "soak_rss_mb": loop.rss,
            "soak_cpu_per_audio_s": round(soak_cpu / max(1e-9, soak_hours * HOUR), 5),
            "soak_wall_s": round(time.monotonic() - soak_wall0, 1),
            "max_rss_mb": _peak_mb(), "peak_rss_mb_by_stage": peaks}


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would carry the parent's peak over fork and exec) (MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Silent:
    def say(self, text: str) -> bool:
        return False

    def earcon(self) -> float:
        return 0.0


# ----------------------------------------------------------------------------- wake -> greeting latency


class _TimedCheck:
    """Wraps the speech check: how long each confirmation took (s)."""

    def __init__(self, check: Any) -> None:
        self.check = check
        self.seconds: list[float] = []

    def confirm(self, pcm: bytes) -> tuple[bool, str]:
        started = time.monotonic()
        try:
            return self.check.confirm(pcm)  # type: ignore[no-any-return]
        finally:
            self.seconds.append(time.monotonic() - started)


class _Stamped:
    """Output wrapper: when each sound started (monotonic s) and how long it was."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.plays: list[tuple[float, float]] = []

    def play(self, pcm: Any) -> None:
        self.plays.append((time.monotonic(), pcm.seconds))
        self.inner.play(pcm)

    def close(self) -> None:
        self.inner.close()


def latency(plan: Plan) -> dict[str, Any]:
    from assistant.app.resident import Resident, ResidentConfig, SpeakerAnnouncer, voice_channel_factory
    from assistant.app.voice import prompt_texts
    from assistant.core.dialogue import Dialogue
    from assistant.core.validate import load_bundle
    from assistant.models.modelstore import resolve_model
    from assistant.speech.frontend import FrontEnd
    from assistant.speech.recognizer import VoskRecognizer
    from assistant.speech.speaker import Pyttsx3Synthesizer, Speaker, WavFileOutput
    from assistant.speech.streamsource import StreamSource, TimedOutput
    from assistant.speech.wakeword import SpeechCheck, wake_phrase

    bundle = load_bundle(ROOT / "content", ROOT / "grammars")
    phrase = wake_phrase(plan.phrase)
    recognizer = VoskRecognizer(resolve_model()).load()
    rows = []
    voices = corpus.VOICES[:2] if plan.quick else corpus.VOICES[:5]
    with tempfile.TemporaryDirectory(prefix="wake-latency-") as tmp:
        for k, voice in enumerate(voices):
            said = corpus.synthesize(phrase.spoken, voice)
            clip = corpus.pad(said, 6.0, 4.0)
            phrase_end = 6.0 + corpus.speech_end_seconds(said)
            wav = Path(tmp) / f"stream-{k}.wav"
            corpus.write_wav(wav, clip)
            stream = StreamSource([wav], fast=True).open()
            stamped = _Stamped(WavFileOutput(Path(tmp) / f"said-{k}.wav").open())
            speaker = Speaker(Pyttsx3Synthesizer(), TimedOutput(stamped, stream), fallback=lambda text: None)  # type: ignore[arg-type]
            opening = Dialogue(bundle.content, bundle.grammars).start()
            speaker.prepare([u.text for u in opening.utterances] + prompt_texts(bundle)[:3])
            speaker.say("Ready.")  # waits for the worker: the greeting is rendered by then as at a real start
            first_play = len(stamped.plays)
            check = _TimedCheck(SpeechCheck.for_phrase(recognizer, phrase))
            resident = Resident(
                bundle=bundle, open_source=lambda stream=stream: stream, detector=_detector(plan.phrase),
                make_channel=voice_channel_factory(speaker, recognizer, use_tone=True, clock=stream.now, rate=None),
                announcer=SpeakerAnnouncer(speaker, show=lambda text: None),
                config=ResidentConfig(transcript_dir=Path(tmp) / "t", max_retries=1), clock=stream.now,
                stream_origin=0.0, show=lambda text: None, check=check, clean=FrontEnd)
            resident.use_source(stream)
            wake = resident.wait_for_wake()
            if wake is None:
                rows.append({"voice": voice.label, "woke": False})
                continue
            resident.converse(wake)
            plays = stamped.plays[first_play:]
            earcon_at, earcon_s = plays[0]
            greeting_at = plays[1][0]
            rows.append({"voice": voice.label, "woke": True,
                         "detected_after_phrase_end_s": round(wake.stream_s - phrase_end, 3),
                         "decision_to_earcon_s": round(earcon_at - wake.decided_at, 4),
                         "decision_to_greeting_s": round(greeting_at - wake.decided_at, 4),
                         "earcon_s": round(earcon_s, 3), "check_s": round(check.seconds[-1], 4)})
            stamped.close()
    woke = [r for r in rows if r["woke"]]
    worst = max((r["decision_to_greeting_s"] + r["check_s"] for r in woke), default=float("nan"))
    return {"rows": rows, "worst_fire_to_greeting_s": worst,
            "worst_detected_after_phrase_end_s": max((r["detected_after_phrase_end_s"] for r in woke),
                                                     default=float("nan"))}


# ----------------------------------------------------------------------------- report


def report(results: dict[str, Any]) -> str:
    det, neg, wait, lat = results["detection"], results["false_wakes"], results["waiting"], results["latency"]
    near = results["near_misses"]
    quiet, babble = det["conditions"]["quiet"]["product"], det["conditions"]["babble 10 dB"]["product"]
    real = det["conditions"].get("real babble 10 dB", {}).get("product")
    per10 = neg["product_per_10_hours"]
    latency_ms = 1000 * (lat["worst_fire_to_greeting_s"] + 0.16)
    cpu = wait["cpu_percent_of_one_core"]
    lines = [
        "# Wake-phrase benchmark", "",
        f"Made by `python -m bench.wake{' --quick' if results['quick'] else ''}` on {results['machine']}, "
        f"{results['date']}, in {results['seconds']:.0f} s. The product: microWakeWord \"{det['phrase']}\" "
        f"(pymicro-wakeword {results['package']}) at cut-off {det['cutoff']:g}, hearing through webrtc noise "
        "suppression (level 4, `assistant/speech/frontend.py`), each fire confirmed by the speech check (Vosk, "
        "a grammar of the phrase and its sound-alikes, on the last 2 s of the raw audio, then of the cleaned audio). "
        "The wake phrase is synthetic (espeak-ng, flite); the real babble is recordings of real people "
        "(bench/homeaudio.py); the rest is synthetic: real voices and rooms will differ.", "",
        "## Targets", "",
        "| target | measured | met |", "|---|---|---|",
        f"| detected >= 95 % in quiet | {100 * quiet:.1f} % of {det['conditions']['quiet']['clips']} clips | "
        f"{'yes' if quiet >= 0.95 else 'no'} |",
        f"| detected >= 90 % with other voices at 10 dB (synthetic voices) | {100 * babble:.1f} % | "
        f"{'yes' if babble >= 0.90 else 'no'} |",
        *([f"| detected >= 90 % with other voices at 10 dB (recordings of real people) | {100 * real:.1f} % | "
           f"{'yes' if real >= 0.90 else 'no'} |"] if real is not None else []),
        f"| false wakes <= 1 per 10 h | {neg['product']} in {neg['hours']:.1f} h ({per10:.2f} per 10 h) | "
        f"{'yes' if per10 <= 1 else 'no'} |",
        f"| waiting <= 5 % of one core | {cpu:.2f} % | {'yes' if cpu <= 5 else 'no'} |",
        f"| memory <= 250 MB, flat | {wait['rss_mb_waiting']:.0f} MB waiting (speech model loaded); "
        f"{_soak_line(wait)} | {'yes' if max([wait['rss_mb_waiting'], *wait['soak_rss_mb']]) <= 250 else 'no'} |",
        f"| wake to first word of the greeting <= 500 ms | {latency_ms:.0f} ms (worst: check + processing + "
        f"160 ms earcon) | {'yes' if latency_ms <= 500 else 'no'} |",
        "", "## Detection", "",
        "Product = model at its cut-off + check. The other columns: the model alone (through the same noise "
        "suppression) at each cut-off.", "",
        "| condition | clips | product | " + " | ".join(f"model > {c:g}" for c in CUTOFFS) + " |",
        "|---|---|---|" + "---|" * len(CUTOFFS),
    ]
    for name, cond in det["conditions"].items():
        lines.append(f"| {name} | {cond['clips']} | {100 * cond['product']:.0f} % | "
                     + " | ".join(f"{100 * cond['rate'][f'{c:g}']:.0f} %" for c in CUTOFFS) + " |")
    lines += ["", f"Voices: {det['voices']}; speeds: {', '.join(det['speeds'])}. Missed by the product:"]
    for name, cond in det["conditions"].items():
        lines.append(f"- {name}: {', '.join(cond['missed']) or 'none'}")
    lines += ["", "## False wakes", "",
              "| audio | hours | product | check refused | " + " | ".join(f"model > {c:g}" for c in CUTOFFS)
              + " | highest model probability |",
              "|---|---|---|---|" + "---|" * len(CUTOFFS) + "---|"]
    for kind, data in neg["kinds"].items():
        lines.append(f"| {kind} | {data['hours']:.2f} | {data['product']} | {data['refused']} | "
                     + " | ".join(str(data["false_wakes"][f"{c:g}"]) for c in CUTOFFS) + f" | {data['peak']:.2f} |")
    lines += [f"| all | {neg['hours']:.2f} | {neg['product']} | | "
              + " | ".join(str(neg["false_wakes"][f"{c:g}"]) for c in CUTOFFS) + " | |", ""]
    heard = [h for data in neg["kinds"].values() for h in data["product_heard"]]
    if heard:
        lines += [f"What the check heard at the product's false wakes: {', '.join(map(repr, heard))}.", ""]
    lines += [f"Speech is built from {neg['speech_pool']['sentences']} sentences "
              f"({neg['speech_pool']['unique_hours']:.2f} h of unique synthetic speech), each use with its own tempo/"
              f"pitch change and gain; music from {neg['music_pool']['pieces']} sox pieces. After a false wake "
              f"{REFRACTORY_S:g} s are passed over (a session).", "",
              f"Near misses ({near['clips']} clips: {', '.join(NEAR_MISSES)}): the model alone fired on "
              + ", ".join(f"{n} at > {c}" for c, n in near["fired"].items())
              + f"; the product woke on {near['product']}"
              + (f" ({'; '.join(near['woke'])})" if near["woke"] else "") + ".",
              "", "## Waiting", "",
              f"The real waiting loop (`Resident.wait_for_wake`) in a fresh process on a Microphone fed speech in "
              f"real time for {wait['measured_s']:.0f} s: {cpu:.2f} % of one core; RSS {wait['rss_mb_waiting']:.0f} "
              f"MB with the Vosk model loaded (highest of the process {wait['max_rss_mb']:.0f} MB; by stage: "
              + ", ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in wait.get("peak_rss_mb_by_stage", {}).items())
              + "). Soak: the same loop over "
              f"{wait['soak_hours']:g} h of audio as fast as it goes ({wait['soak_wall_s']:.0f} s; "
              f"{100 * wait['soak_cpu_per_audio_s']:.2f} % of one core per second of audio), RSS at each simulated "
              "hour: " + (", ".join(f"{r:.0f}" for r in wait["soak_rss_mb"]) or "(less than an hour)") + " MB."
              + (f" ({wait['note']}.)" if wait.get("note") else ""),
              "", "## Wake to greeting", "",
              "| voice | model fired after the phrase ended (s) | check (ms) | decision to earcon (ms) | "
              "decision to greeting (ms) |", "|---|---|---|---|---|"]
    for row in lat["rows"]:
        if row["woke"]:
            lines.append(f"| {row['voice']} | {row['detected_after_phrase_end_s']:.2f} | {1000 * row['check_s']:.0f} | "
                         f"{1000 * row['decision_to_earcon_s']:.1f} | {1000 * row['decision_to_greeting_s']:.1f} |")
        else:
            lines.append(f"| {row['voice']} | not woken | | | |")
    lines += ["", "The output is a WAV file, so the earcon takes no time here; on a sound card it plays for "
              "0.16 s before the greeting, which the target row adds. The end of the phrase is where its audio "
              "falls below -45 dB of its peak, so a negative value means the model fired on the phrase's tail.", "",
              *TRIED]
    return "\n".join(lines)


TRIED = ["## Tried for the wake phrase in babble, not adopted", "",
         "Measured on 2026-12-08 on this benchmark's 30 detection clips per condition (the model's peak over each "
         "clip; product cut-off 0.3 for microWakeWord, 0.5 for openWakeWord, its default):", "",
         "| detector | quiet | babble 10 dB | real babble 10 dB | real babble 5 dB | pink 10 dB |",
         "|---|---|---|---|---|---|",
         "| microWakeWord through noise suppression (the product) | 100 % | 70 % | 87 % | 50 % | 100 % |",
         "| microWakeWord on the raw audio | | 57 % | 83 % | 33 % | 90 % |",
         "| either of the two (run twice) | | 73 % | 87 % | 50 % | 100 % |",
         "| openWakeWord 'okay nabu' (pyopen-wakeword 1.1.0), raw / through noise suppression | 60 / 67 % | "
         "20 / 13 % | 20 / 27 % | | |",
         "| microWakeWord or openWakeWord | 100 % | 70 % | 87 % | | |", "",
         "Neither a second pass on the raw audio nor a second model finds the phrases the product misses: "
         "on them (mostly the flite_slt voice) both models score near 0. The limit is the trained model on "
         "these voices in babble; a Vosk keyword spotter running all the time would find more but costs more "
         "than the 5 % of one core that waiting may use.", ""]


def _soak_line(wait: dict[str, Any]) -> str:
    soak = wait["soak_rss_mb"]
    return f"{min(soak):.0f}-{max(soak):.0f} MB over {len(soak)} simulated h" if soak else "no soak"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wake", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a slice of about a minute; results in bench/work/")
    parser.add_argument("--phrase", default="okay-nabu", help="wake phrase name (default okay-nabu)")
    parser.add_argument("--speech-hours", type=float, default=None)
    parser.add_argument("--tv-hours", type=float, default=None)
    parser.add_argument("--music-hours", type=float, default=None)
    parser.add_argument("--soak-hours", type=float, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--waiting-probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--report-only", action="store_true", help="rewrite wake.md from the last wake.json")
    parser.add_argument("--cpu-seconds", type=float, default=None, help="real-time waiting measured (s)")
    args = parser.parse_args(argv)
    if args.report_only:
        out = WORK / "wake-quick" if args.quick else ROOT / "bench" / "results"
        (out / "wake.md").write_text(report(json.loads((out / "wake.json").read_text(encoding="utf-8"))),
                                     encoding="utf-8")
        return 0
    if args.waiting_probe:
        print(json.dumps(waiting_probe(args.phrase, args.cpu_seconds or 60.0, args.soak_hours or 1.0)))
        return 0
    quick = args.quick
    plan = Plan(quick=quick, phrase=args.phrase,
                hours={"speech": args.speech_hours or (0.1 if quick else 10.0),
                       "tv": args.tv_hours or (0.1 if quick else 6.0),
                       "music": args.music_hours or (0.05 if quick else 4.0)},
                soak_hours=args.soak_hours or (1.0 if quick else 24.0),
                cpu_seconds=args.cpu_seconds or (10.0 if quick else 60.0),
                workers=args.workers)
    started = time.monotonic()
    from importlib.metadata import version

    results: dict[str, Any] = {"quick": quick, "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                                          f"{platform.python_version()}",
                               "package": version("pymicro-wakeword")}
    for name, step in (("detection", detection), ("near_misses", near_misses), ("false_wakes", false_wakes),
                       ("waiting", waiting), ("latency", latency)):
        began = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):  # the sessions of the latency step print their words
            results[name] = step(plan)
        print(f"{name}: {time.monotonic() - began:.0f} s", flush=True)
    results["seconds"] = time.monotonic() - started
    out = WORK / "wake-quick" if quick else ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "wake.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (out / "wake.md").write_text(report(results), encoding="utf-8")
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
