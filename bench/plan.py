"""The evaluation set: which clips exist, and how each one's audio is built. Deterministic, no recognizers.

In-grammar clips: every spoken phrase of every grammar file (answers and spread heard with their own listener,
commands heard with the answers listener, since commands work at every prompt), each spoken by
`VOICES_PER_PHRASE` of the ten voices of `corpus.VOICES`, rotating so every voice speaks about as many
phrases (quick: the three `corpus.TEST_VOICES` and every 7th phrase). The speed rotates over 0.9/1.0/1.1 with
phrase and voice, so each voice and each phrase is heard at all three speeds. Conditions per (phrase, voice):

* clean, and 10 dB SNR (babble or pink, half each): every (phrase, voice), since these two carry targets;
* 20 dB and 5 dB SNR (babble or pink): a quarter of the (phrase, voice) pairs each, by a seeded shuffle;
* recordings of real people (bench.homeaudio, bench talkers only): half of the (phrase, voice) pairs, by a
  second seeded shuffle, get one more clip, a third each of real babble at 10 dB, real babble at 5 dB, and
  TV-like audio (real talkers over real music) at 10 dB. These draw from their own seeded generator, so
  every clip of the synthetic-babble and pink conditions is exactly as before (the old figures compare).

Each clip is `LEAD_S` of lead, the speech, `TAIL_S` of tail; the noise covers the whole clip, as a noisy
room would. After the clip every system hears digital silence (the product's `FileSource` behaviour).

Distractors (nothing here should be accepted): out-of-grammar sentences (each from `OOG_VOICES` voices), cough-like
bursts, short noise bursts (white, pink, babble), 3 s of continuous noise, and silence (digital and a
-60 dBFS floor), and from recordings of real people: TV-like audio alone (3 s) and short real utterances in
which no grammar phrase is spoken (`homeaudio.ANSWER_FREE_PROMPTS`). Distractors alternate between the
answers and the spread listener.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import corpus

ROOT = Path(__file__).resolve().parent.parent
LEAD_S = 0.5
"""Silence (or noise) before the speech (s): lets the end-of-speech detector learn the background."""
TAIL_S = 1.0
"""Silence (or noise) after the speech (s), before the stream turns to digital silence."""
SPEEDS = (0.9, 1.0, 1.1)
SNRS = (20.0, 10.0, 5.0)
NOISES = ("babble", "pink")
"""The synthetic noises of the 20/10/5 dB conditions and of the noise-only distractors (unchanged)."""
REAL_NOISES = ("realbabble", "tv")
"""Backgrounds made from recordings of real people (bench.homeaudio)."""
REAL_CONDITIONS = ((10.0, "realbabble"), (5.0, "realbabble"), (10.0, "tv"))
"""(SNR, noise) of the extra clip that half of the (phrase, voice) pairs get, a third each."""
PLAN_SEED = 2026
QUICK_PHRASE_STEP = 7
VOICES_PER_PHRASE = 7
"""Of the ten voices; the issue asks for at least six, and the full run must fit in 15 minutes on 2 cores."""
OOG_VOICES = 5
DISTRACTOR_CLIP_S = 2.5
NOISE_ONLY_S = 3.0
FLOOR_DBFS = -60.0

OUT_OF_GRAMMAR = (
    "the weather is nice today",
    "what time is it",
    "please pass the salt",
    "turn off the kitchen light",
    "we had soup for dinner",
    "I am going to the shops later",
    "my back hurts when I bend over",
    "I think it started last week",
    "the doctor told me to rest",
    "can you hear the birds outside",
    "yesterday was sunny",
    "nobody answered the door",
)
SNR_DEFINITION = (
    "SNR = 10·log10(P_speech / P_noise). P_speech is the mean power of the clean speech over its active "
    "10 ms frames only (frames whose RMS is within 40 dB of the loudest frame; non-overlapping, last one "
    "zero-padded); P_noise is the mean power of the scaled noise over the whole clip (lead, speech and "
    "tail). Noise is added over the whole padded clip (bench.corpus.mix_at_snr)."
)


@dataclass(frozen=True)
class Item:
    """One clip of the evaluation set."""

    id: str
    kind: str
    """"phrase" (in grammar) or a distractor kind: "oog", "cough", "burst", "noise", "silence", "tv",
    "realspeech"."""
    listener: str
    """Grammar whose listener hears the clip (answers or spread)."""
    source: str
    """Grammar file the phrase comes from (phrases), or the distractor's variant."""
    text: str = ""
    """What is spoken ("" for non-speech)."""
    expected: str | None = None
    """Intent a perfect listener returns (None: nothing should be accepted)."""
    voice: str = ""
    """corpus.Voice label ("" for non-speech)."""
    speed: float = 1.0
    snr: float | None = None
    """None: clean."""
    noise: str | None = None
    seed: int = 0

    @property
    def condition(self) -> str:
        """"clean", "20 dB", "10 dB" or "5 dB"."""
        return "clean" if self.snr is None else f"{self.snr:g} dB"


@dataclass(frozen=True)
class Clip:
    """The audio of one item."""

    samples: np.ndarray
    """int16 mono at 16 kHz."""
    true_end: float | None
    """Time the speech truly ends in the clip (s), from the clean signal; None for non-speech."""

    @property
    def seconds(self) -> float:
        return self.samples.size / corpus.SAMPLE_RATE

    def pcm(self) -> bytes:
        return np.asarray(self.samples, dtype="<i2").tobytes()


def voice_by_label(label: str) -> corpus.Voice:
    return next(v for v in corpus.VOICES if v.label == label)


def _seed(key: str) -> int:
    return zlib.crc32(key.encode())


def _balanced(count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` booleans, half True (rounded down), in a seeded random order."""
    flags = np.zeros(count, dtype=bool)
    flags[: count // 2] = True
    return rng.permutation(flags)


def phrase_cells(grammars_dir: Path) -> list[tuple[str, str, str, str]]:
    """(source grammar, listener grammar, phrase, expected intent) for every spoken phrase of every grammar file.

    Phrases a grammar marks `typed_only` are understood when typed but deliberately not given to the speech
    recognizer, so they are not part of the voice evaluation.
    """
    from assistant.core.grammar import ANSWERS, COMMANDS, Grammars

    grammars = Grammars.from_dir(grammars_dir)
    cells = []
    for name in sorted(grammars.tables, key=lambda n: (n != ANSWERS, n == COMMANDS, n)):
        listener_name = ANSWERS if name == COMMANDS else name
        listener = grammars.listener(listener_name)
        spoken = set(listener.phrases())
        for phrase in dict.fromkeys(p for p, _ in grammars.tables[name].phrases() if p in spoken):
            expected = listener.match(phrase)
            if expected is None:
                raise ValueError(f"{phrase!r} of {name} is not matched by the {listener_name} listener")
            cells.append((name, listener_name, phrase, expected))
    return cells


def typed_only_phrases(grammars_dir: Path) -> list[str]:
    """Phrases understood only when typed (left out of the voice evaluation), as "grammar: phrase"."""
    from assistant.core.grammar import Grammars

    grammars = Grammars.from_dir(grammars_dir)
    return [f"{name}: {phrase}" for name, table in sorted(grammars.tables.items())
            for phrase in sorted(getattr(table, "typed_only", frozenset()))]


def build_plan(quick: bool, grammars_dir: Path = ROOT / "grammars") -> list[Item]:
    """Every item of the evaluation set, in a fixed order."""
    rng = np.random.default_rng(PLAN_SEED)
    voices = corpus.TEST_VOICES if quick else corpus.VOICES
    cells = phrase_cells(grammars_dir)
    if quick:
        by_source: dict[str, list[tuple[str, str, str, str]]] = {}
        for cell in cells:
            by_source.setdefault(cell[0], []).append(cell)
        cells = [c for group in by_source.values() for c in group[::QUICK_PHRASE_STEP]]
    per_phrase = min(len(voices), VOICES_PER_PHRASE)
    base = [(p_index, cell, v_index, voices[v_index]) for p_index, cell in enumerate(cells)
            for v_index in sorted((p_index + j) % len(voices) for j in range(per_phrase))]
    babble_at_10 = _balanced(len(base), rng)
    quarter = len(base) // 4
    extra = rng.permutation(np.array([20.0] * quarter + [5.0] * quarter + [0.0] * (len(base) - 2 * quarter)))
    babble_other = _balanced(len(base), rng)
    items: list[Item] = []
    for k, (p_index, (source, listener, phrase, expected), v_index, voice) in enumerate(base):
        speed = SPEEDS[(p_index + v_index) % len(SPEEDS)]
        stem = f"{source}/{phrase}/{voice.label}/{speed:g}"
        common = {"kind": "phrase", "listener": listener, "source": source, "text": phrase, "expected": expected,
                  "voice": voice.label, "speed": speed}
        items.append(Item(id=f"{stem}/clean", **common))
        noise = "babble" if babble_at_10[k] else "pink"
        items.append(Item(id=f"{stem}/10dB-{noise}", snr=10.0, noise=noise, seed=_seed(f"{stem}/10"), **common))
        snr = float(extra[k])
        if not snr:
            continue
        noise = "babble" if babble_other[k] else "pink"
        items.append(Item(id=f"{stem}/{snr:g}dB-{noise}", snr=snr, noise=noise, seed=_seed(f"{stem}/{snr:g}"),
                          **common))
    items.extend(_real_conditions(base))
    items.extend(_distractors(quick, voices))
    return items


def _real_conditions(base: list[tuple[int, tuple[str, str, str, str], int, corpus.Voice]]) -> list[Item]:
    """The extra real-recording clip of half of the (phrase, voice) pairs (see REAL_CONDITIONS)."""
    rng = np.random.default_rng(PLAN_SEED + 2)
    chosen = np.sort(rng.permutation(len(base))[: len(base) // 2])
    items = []
    for j, k in enumerate(chosen):
        p_index, (source, listener, phrase, expected), v_index, voice = base[int(k)]
        snr, noise = REAL_CONDITIONS[j % len(REAL_CONDITIONS)]
        speed = SPEEDS[(p_index + v_index) % len(SPEEDS)]
        stem = f"{source}/{phrase}/{voice.label}/{speed:g}"
        items.append(Item(id=f"{stem}/{snr:g}dB-{noise}", kind="phrase", listener=listener, source=source,
                          text=phrase, expected=expected, voice=voice.label, speed=speed, snr=snr, noise=noise,
                          seed=_seed(f"{stem}/{snr:g}/{noise}")))
    return items


def _distractors(quick: bool, voices: tuple[corpus.Voice, ...]) -> list[Item]:
    from assistant.core.grammar import ANSWERS

    sentences = OUT_OF_GRAMMAR[:2] if quick else OUT_OF_GRAMMAR
    counts = {"cough": 3, "burst": 3, "noise": 2, "silence": 2, "tv": 2, "realspeech": 3} if quick else \
        {"cough": 30, "burst": 30, "noise": 20, "silence": 10, "tv": 20, "realspeech": 30}
    out: list[Item] = []
    per_sentence = min(len(voices), OOG_VOICES)
    for s_index, sentence in enumerate(sentences):
        for voice in (voices[(s_index + j) % len(voices)] for j in range(per_sentence)):  # listener: see below
            out.append(Item(id=f"oog/{sentence}/{voice.label}", kind="oog", listener="", source="sentence",
                            text=sentence, voice=voice.label, seed=_seed(sentence)))
    for k in range(counts["cough"]):
        out.append(Item(id=f"cough/{k}", kind="cough", listener="", source="cough", seed=_seed(f"cough/{k}")))
    for k in range(counts["burst"]):
        noise = ("white", "pink", "babble")[k % 3]
        out.append(Item(id=f"burst/{noise}/{k}", kind="burst", listener="", source=f"{noise} burst", noise=noise,
                        seed=_seed(f"burst/{k}")))
    for k in range(counts["noise"]):
        noise = NOISES[k % 2]
        out.append(Item(id=f"noise/{noise}/{k}", kind="noise", listener="", source=f"{noise} only", noise=noise,
                        seed=_seed(f"noise/{k}")))
    for k in range(counts["silence"]):
        variant = ("digital", "floor")[k % 2]
        out.append(Item(id=f"silence/{variant}/{k}", kind="silence", listener="", source=f"{variant} silence",
                        seed=_seed(f"silence/{k}")))
    for k in range(counts["tv"]):
        out.append(Item(id=f"tv/{k}", kind="tv", listener="", source="tv-like only", noise="tv",
                        seed=_seed(f"tv/{k}")))
    for k in range(counts["realspeech"]):
        out.append(Item(id=f"realspeech/{k}", kind="realspeech", listener="", source="real speech, no answer",
                        seed=_seed(f"realspeech/{k}")))
    listeners = (ANSWERS, "spread")
    return [Item(**{**item.__dict__, "listener": listeners[k % 2]}) for k, item in enumerate(out)]


def _burst(n: int, kind: str, seed: int, exclude: str = "") -> np.ndarray:
    return corpus.noise(kind, n, seed, exclude=exclude)


def clip_audio(item: Item) -> Clip:
    """Build the item's audio (synthesis is cached by bench.corpus)."""
    sr = corpus.SAMPLE_RATE
    if item.kind in ("phrase", "oog"):
        speech = corpus.synthesize(item.text, voice_by_label(item.voice), item.speed)
        true_end = LEAD_S + corpus.speech_end_seconds(speech)
        clip = corpus.pad(speech, LEAD_S, TAIL_S)
        if item.snr is not None and item.noise is not None:
            clip = corpus.mix_at_snr(clip, _burst(clip.size, item.noise, item.seed, exclude=item.voice), item.snr)
        return Clip(clip, true_end if item.kind == "phrase" else None)
    rng = np.random.default_rng([item.seed, 7])
    if item.kind == "cough":
        out = np.zeros(int(DISTRACTOR_CLIP_S * sr))
        starts = [0.5] + ([1.3] if rng.random() < 0.5 else [])
        for j, start in enumerate(starts):
            burst = corpus.cough_like_burst(item.seed + j).astype(np.float64)
            at = int(start * sr)
            out[at:at + burst.size] += burst[: out.size - at]
        return Clip(corpus.pad(np.clip(out, -32768, 32767), 0.0, 0.0, floor_dbfs=FLOOR_DBFS, seed=item.seed), None)
    if item.kind == "burst":
        n = int(rng.uniform(0.3, 1.0) * sr)
        level_db = rng.uniform(-30.0, -12.0)  # dBFS RMS; the generators give -20 dBFS
        burst = _burst(n, item.noise or "white", item.seed).astype(np.float64) * 10 ** ((level_db + 20) / 20)
        fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * sr))
        out = np.zeros(int(DISTRACTOR_CLIP_S * sr))
        at = int(0.5 * sr)
        out[at:at + n] = burst * fade
        return Clip(corpus.pad(np.clip(out, -32768, 32767), 0.0, 0.0, floor_dbfs=FLOOR_DBFS, seed=item.seed), None)
    if item.kind == "noise":
        return Clip(_burst(int(NOISE_ONLY_S * sr), item.noise or "pink", item.seed), None)
    if item.kind == "tv":
        return Clip(_burst(int(NOISE_ONLY_S * sr), "tv", item.seed), None)
    if item.kind == "realspeech":
        from bench import homeaudio

        speech = homeaudio.speech_distractor(item.seed)
        return Clip(corpus.pad(speech, LEAD_S, TAIL_S, floor_dbfs=FLOOR_DBFS, seed=item.seed), None)
    if item.kind == "silence":
        quiet = np.zeros(int(NOISE_ONLY_S * sr), dtype=np.int16)
        if "floor" in item.source:
            quiet = corpus.pad(quiet, 0.0, 0.0, floor_dbfs=FLOOR_DBFS, seed=item.seed)
        return Clip(quiet, None)
    raise ValueError(f"unknown item kind {item.kind!r}")
