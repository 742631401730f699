"""Natural phrasing, measured: each phrasing of bench/phrasings.yaml, spoken by several synthetic voices,
clean, in a reverberant room, and far from the microphone, through the real listening path.

Two tables are measured: `current` (the grammars as they are: a phrasing listed `typed_only` is not
listened for) and `candidate` (every phrasing of the corpus listened for). A phrasing is worth listening
for when the candidate hears it right in nearly every voice and condition and it is never heard as another
answer; the rest are refused, with these numbers (bench/results/phrasings.md).

    .venv/bin/python -m bench.phrasings [--voices N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from types import MappingProxyType

import numpy as np

from assistant.endpoint import EndpointConfig
from assistant.grammar import Grammars, Listener, normalize
from assistant.listen import listen_once
from assistant.modelstore import resolve_model
from assistant.recognizer import VoskRecognizer
from assistant.yamlload import parse_yaml
from bench.corpus import SAMPLE_RATE, VOICES, pad, read_wav, synthesize, write_wav
from bench.systems import MemorySource

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "bench" / "phrasings.yaml"
REPORT = ROOT / "bench" / "results" / "phrasings.md"
CONDITIONS = ("clean", "reverb", "far")
ROOMS = {"reverb": ["reverb", "60", "50", "100"],
         "far": ["gain", "-14", "highpass", "150", "reverb", "85", "60", "100"]}


def load_corpus(path: Path = CORPUS) -> list[tuple[str, str]]:
    """(phrasing, intent) pairs."""
    doc = parse_yaml(path.read_text(encoding="utf-8"), str(path))  # yes / no stay words
    return [(str(p), str(intent)) for intent, phrases in doc.items() for p in phrases]


def room(samples: np.ndarray, condition: str) -> np.ndarray:
    """The clip as heard in `condition` (sox reverb, distance: quieter, less bass, more room)."""
    if condition == "clean":
        return samples
    with tempfile.TemporaryDirectory() as folder:
        src, dst = Path(folder) / "in.wav", Path(folder) / "out.wav"
        write_wav(src, samples)
        subprocess.run(["sox", str(src), str(dst), *ROOMS[condition]], check=True, capture_output=True)
        out = read_wav(dst)
    return out[: samples.size + SAMPLE_RATE // 2]


def candidate_listener(grammars: Grammars, corpus: list[tuple[str, str]]) -> Listener:
    base = grammars.listener("answers")
    table = {p: base.table[p] for p in base.phrases()}
    table.update((normalize(p), i) for p, i in corpus)
    return Listener(grammar="answers", table=MappingProxyType(table), answer_intents=base.answer_intents,
                    choices=base.choices)


def hear(recognizer: VoskRecognizer, listener: Listener, samples: np.ndarray) -> tuple[str | None, str]:
    source = MemorySource(np.asarray(samples, dtype="<i2").tobytes())
    source.begin(0.0)
    capture = listen_once(source, recognizer.session(listener, source.rate), EndpointConfig())
    result = capture.recognition
    return (result.intent, result.text) if result else (None, "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voices", type=int, default=6)
    args = parser.parse_args()
    corpus = load_corpus()
    grammars = Grammars.from_dir(ROOT / "grammars")
    listeners = {"current": grammars.listener("answers"), "candidate": candidate_listener(grammars, corpus)}
    recognizer = VoskRecognizer(resolve_model()).load()
    voices = VOICES[: args.voices]
    # (table, phrasing) -> condition -> [right, wrong, nothing]
    counts: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: {c: [0, 0, 0] for c in CONDITIONS})
    heard_as: dict[tuple[str, str], set[str]] = defaultdict(set)
    for phrase, intent in corpus:
        for voice in voices:
            clip = pad(synthesize(phrase, voice), 0.3, 0.6)
            for condition in CONDITIONS:
                audio = room(clip, condition)
                for name, listener in listeners.items():
                    got, text = hear(recognizer, listener, audio)
                    cell = counts[(name, phrase)][condition]
                    cell[0 if got == intent else 1 if got is not None else 2] += 1
                    if got != intent:
                        heard_as[(name, phrase)].add(f"{text or '-'}->{got}")
        print(phrase, {n: counts[(n, phrase)] for n in listeners}, flush=True)
    lines = ["# Natural phrasing, measured", "",
             f"{len(corpus)} phrasings (bench/phrasings.yaml) x {len(voices)} voices x {len(CONDITIONS)} conditions "
             "(clean; sox reverb; far: -14 dB, high-pass, more reverb), through the real listening path. "
             "`current`: today's grammars; `candidate`: every phrasing listened for. Cells: right / wrong / nothing.",
             "",
             "| phrasing | intent | by voice | " + " | ".join(f"{n} {c}" for n in listeners for c in CONDITIONS)
             + " | heard as |",
             "|---|---|---|" + "---|" * (len(listeners) * len(CONDITIONS)) + "---|"]
    totals = {n: {c: [0, 0, 0] for c in CONDITIONS} for n in listeners}
    for phrase, intent in corpus:
        cells = []
        for n in listeners:
            for c in CONDITIONS:
                r, w, z = counts[(n, phrase)][c]
                cells.append(f"{r}/{w}/{z}")
                for k, v in enumerate((r, w, z)):
                    totals[n][c][k] += v
        status = "listened for" if normalize(phrase) in listeners["current"].phrases() else "typed only"
        lines.append(f"| {phrase} | {intent} | {status} | " + " | ".join(cells) + " | "
                     + "; ".join(sorted(heard_as[("candidate", phrase)]))[:80] + " |")
    lines += ["", "| table | " + " | ".join(CONDITIONS) + " |", "|---|" + "---|" * len(CONDITIONS)]
    for n in listeners:
        row = []
        for c in CONDITIONS:
            r, w, z = totals[n][c]
            row.append(f"{r / (r + w + z):.1%} right, {w} wrong")
        lines.append(f"| {n} | " + " | ".join(row) + " |")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[-4:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
