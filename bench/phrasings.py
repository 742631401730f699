"""Natural phrasing, measured: each phrasing of bench/phrasings.yaml, spoken by several synthetic voices,
in a quiet room, a reverberant room, far from the microphone, and with other voices or noise around it,
through the real listening path; and sentences and noise with no answer in them (distractors).

Two systems are measured on the same clips: `grammar` (one reading: the prompt's spoken phrases only,
the first version, no noise suppression) and `ours` (webrtc noise suppression, then the grammar reading and
the wide reading combined, with spotting: see assistant/core/readings.py and assistant/speech/frontend.py). Cells:
right / wrong / nothing; a wrong yes<->no or an emergency taken as anything else is a dangerous substitution
(bench/results/phrasings.md).

    .venv/bin/python -m bench.phrasings [--voices N] [--conditions clean,babble10,...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.core.grammar import Grammars, Listener
from assistant.core.yamlload import parse_yaml
from assistant.models.modelstore import resolve_model
from assistant.speech.endpoint import EndpointConfig
from assistant.speech.frontend import FrontEnd
from assistant.speech.listen import listen_once
from assistant.speech.recognizer import VoskRecognizer
from bench.corpus import (
    SAMPLE_RATE,
    VOICES,
    babble_noise,
    mix_at_snr,
    pad,
    pink_noise,
    read_wav,
    synthesize,
    write_wav,
)
from bench.plan import OUT_OF_GRAMMAR
from bench.systems import MemorySource

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "bench" / "phrasings.yaml"
REPORT = ROOT / "bench" / "results" / "phrasings.md"
DATA = ROOT / "bench" / "work" / "phrasings.json"
"""Raw per-clip results (not committed; `--report-only` rewrites the report from them)."""
ROOMS = {"reverb": ["reverb", "60", "50", "100"],
         "far": ["gain", "-14", "highpass", "150", "reverb", "85", "60", "100"]}
NOISES: dict[str, tuple[str, float]] = {
    "babble10": ("babble", 10.0), "babble5": ("babble", 5.0), "pink10": ("pink", 10.0),
    "realbabble10": ("realbabble", 10.0), "realbabble5": ("realbabble", 5.0), "tv10": ("tv", 10.0),
}
CONDITIONS = ("clean", "reverb", "far", *NOISES)
SYSTEMS = ("grammar", "ours")
DANGEROUS = {("yes", "no"), ("no", "yes"), ("unsure", "no")}
"""(said, taken) pairs that change the advice the wrong way; an emergency taken as anything is too."""


def noise_of(kind: str, n: int, seed: int) -> np.ndarray:
    """`n` samples of background `kind`: synthetic babble, pink, or (bench.homeaudio) real babble and TV."""
    if kind == "babble":
        return babble_noise(n, seed)
    if kind == "pink":
        return pink_noise(n, seed)
    from bench import homeaudio

    return homeaudio.real_babble(n, seed) if kind == "realbabble" else homeaudio.tv_like(n, seed)


def dangerous(said: str, taken: str | None) -> bool:
    return taken is not None and taken != said and ((said, taken) in DANGEROUS or said == "emergency")


def load_corpus(path: Path = CORPUS) -> list[tuple[str, str]]:
    """(phrasing, intent) pairs."""
    doc = parse_yaml(path.read_text(encoding="utf-8"), str(path))  # yes / no stay words
    return [(str(p), str(intent)) for intent, phrases in doc.items() for p in phrases]


def room(samples: np.ndarray, condition: str, seed: int = 0) -> np.ndarray:
    """The clip as heard in `condition`: sox reverb, distance (quieter, less bass, more room), or noise over
    the whole clip at the condition's SNR."""
    if condition == "clean":
        return samples
    if condition in NOISES:
        kind, snr = NOISES[condition]
        return mix_at_snr(samples, noise_of(kind, samples.size, seed), snr)
    with tempfile.TemporaryDirectory() as folder:
        src, dst = Path(folder) / "in.wav", Path(folder) / "out.wav"
        write_wav(src, samples)
        subprocess.run(["sox", str(src), str(dst), *ROOMS[condition]], check=True, capture_output=True)
        out = read_wav(dst)
    return out[: samples.size + SAMPLE_RATE // 2]


Heard = tuple[str | None, str, float, dict]
"""(intent, text, decision seconds after the end of the audio, details of each reading)."""


def hear(recognizer: VoskRecognizer, listener: Listener, samples: np.ndarray, front_end: bool = True,
         config: EndpointConfig | None = None) -> Heard:
    """One clip through the product's listening path (`config`: its end-of-speech rules, default the
    product's)."""
    source = MemorySource(np.asarray(samples, dtype="<i2").tobytes())
    source.begin(0.0)
    session = recognizer.session(listener, source.rate)
    capture = listen_once(source, session, config or EndpointConfig(), clock=time.monotonic,
                          front_end=FrontEnd() if front_end else None)
    result = capture.recognition
    latency = max(0.0, capture.decided_at - source.last_read_at)
    details = {"rule": capture.rule.value, "input_ended": capture.input_ended, "audio_s": capture.audio_seconds,
               "reading": result.reading if result else "", "rejected": result.rejected if result else "",
               "readings": [{"text": r.text, "intent": r.intent, "reading": r.reading, "words": r.words}
                            for r in session.readings]}
    return (result.intent, result.text, latency, details) if result else (None, "", latency, details)


def distractors(voices: list, conditions: list[str]) -> list[tuple[str, np.ndarray]]:
    """Clips with no answer in them: everyday sentences (clean, and in each noise condition asked for) and
    3 s of each kind of background alone."""
    clips: list[tuple[str, np.ndarray]] = []
    for k, sentence in enumerate(OUT_OF_GRAMMAR):
        clip = pad(synthesize(sentence, voices[k % len(voices)]), 0.3, 0.6)
        clips.append((f"sentence: {sentence}", clip))
        clips += [(f"sentence in {c}: {sentence}", room(clip, c, seed=k)) for c in conditions if c in NOISES]
    for c in conditions:
        if c in NOISES:
            kind, _ = NOISES[c]
            clips += [(f"{kind} alone #{seed}", noise_of(kind, 3 * SAMPLE_RATE, 100 + seed)) for seed in range(4)]
    return clips


def run(systems: dict[str, Callable[[Listener, np.ndarray], Heard]],
        listener: Listener, corpus: list[tuple[str, str]], voices: list, conditions: list[str]) -> dict:
    """Every (phrasing, voice, condition) through every system; then the distractors."""
    rows: list[dict] = []
    for p_index, (phrase, intent) in enumerate(corpus):
        for v_index, voice in enumerate(voices):
            clip = pad(synthesize(phrase, voice), 0.3, 0.6)
            for condition in conditions:
                audio = room(clip, condition, seed=p_index * 31 + v_index)
                for name, system in systems.items():
                    got, text, latency, details = system(listener, audio)
                    rows.append({"phrase": phrase, "intent": intent, "voice": voice.label, "condition": condition,
                                 "system": name, "got": got, "text": text, "latency_s": round(latency, 4),
                                 **details})
        print(phrase, flush=True)
    false: list[dict] = []
    for label, audio in distractors(voices, conditions):
        for name, system in systems.items():
            got, text, _, details = system(listener, audio)
            false.append({"clip": label, "system": name, "got": got, "text": text, **details})
    return {"rows": rows, "distractors": false}


def report(data: dict, conditions: list[str], voices: int) -> str:
    rows, false = data["rows"], data["distractors"]
    systems = sorted({r["system"] for r in rows}, key=SYSTEMS.index)
    cell: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    total: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    heard: dict[str, set[str]] = defaultdict(set)
    latencies: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        k = 0 if r["got"] == r["intent"] else 1 if r["got"] is not None else 2
        cell[(r["system"], r["phrase"], r["condition"])][k] += 1
        total[(r["system"], r["condition"])][k] += 1
        total[(r["system"], r["condition"])][3] += dangerous(r["intent"], r["got"])
        latencies[r["system"]].append(r["latency_s"])
        if r["system"] == "ours" and k:
            heard[r["phrase"]].add(f"{r['condition']}: {r['text'] or '-'} -> {r['got']}")
    phrases = list(dict.fromkeys((r["phrase"], r["intent"]) for r in rows))
    lines = ["# Natural phrasing, measured", "",
             f"Generated by `python -m bench.phrasings` on {time.strftime('%Y-%m-%d')}. "
             f"{len(phrases)} phrasings (bench/phrasings.yaml) x {voices} synthetic voices x {len(conditions)} "
             "conditions, through the product's listening path (`listen_once`). Conditions: clean; `reverb` (sox "
             "reverb); `far` (-14 dB, high-pass, more reverb); `babble` (synthetic voices), `realbabble` (recordings "
             "of real people, bench/homeaudio.py), `tv` (real speech over real music) and `pink` noise at the SNR "
             "in the name. Systems: `grammar` = one reading, the prompt's spoken phrases (the first version); "
             "`ours` = noise suppression, then grammar and wide readings combined, with spotting "
             "(assistant/speech/frontend.py, assistant/core/readings.py).", "",
             "## Per condition", "",
             "| condition | " + " | ".join(f"{s} understood | {s} wrong | {s} dangerous" for s in systems) + " |",
             "|---|" + "---|---|---|" * len(systems)]
    for c in conditions:
        parts = []
        for s in systems:
            right, wrong, nothing, danger = total[(s, c)]
            n = right + wrong + nothing
            parts += [f"{right / n:.1%}" if n else "-", str(wrong), str(danger)]
        lines.append(f"| {c} | " + " | ".join(parts) + " |")
    lines += ["", "## Not understood in clean speech, and why", "",
              "Each phrasing that some voice said cleanly and ours did not take: per voice, what the two readings "
              "heard (grammar | wide) and why nothing was taken. \"Not heard\" = neither reading holds the "
              "phrase's words: the model (or the synthetic voice) is the limit, not the phrase tables.", ""]
    lines += refused_clean(rows) or ["- none"]
    lines += ["", "## Distractors (nothing should be accepted)", "",
              "| system | clips | accepted | accepted as |", "|---|---|---|---|"]
    for s in systems:
        mine = [d for d in false if d["system"] == s]
        taken = [d for d in mine if d["got"] is not None]
        lines.append(f"| {s} | {len(mine)} | {len(taken) / max(1, len(mine)):.1%} ({len(taken)}) | "
                     + "; ".join(f"{d['clip'][:40]} -> {d['got']} ({d['text']})" for d in taken)[:400] + " |")
    lines += ["", "## Decision latency after the end of the audio (fast pass, ms)", "",
              "| system | median | p95 |", "|---|---|---|"]
    for s in systems:
        values = np.array(latencies[s]) * 1000
        lines.append(f"| {s} | {np.median(values):.0f} | {np.percentile(values, 95):.0f} |")
    lines += ["", "## Per phrasing (ours)", "", "| phrasing | intent | " + " | ".join(conditions) + " | misheard |",
              "|---|---|" + "---|" * len(conditions) + "---|"]
    for phrase, intent in phrases:
        cells = ["/".join(map(str, cell[("ours", phrase, c)])) for c in conditions]
        lines.append(f"| {phrase} | {intent} | " + " | ".join(cells) + " | "
                     + "; ".join(sorted(heard[phrase]))[:160] + " |")
    return "\n".join(lines) + "\n"


def refused_clean(rows: list[dict]) -> list[str]:
    """One line per phrasing not understood in clean speech by some voice (ours), with the measurement."""
    out = []
    misses = [r for r in rows if r["system"] == "ours" and r["condition"] == "clean" and r["got"] != r["intent"]]
    for phrase in dict.fromkeys(r["phrase"] for r in misses):
        wanted = " ".join(phrase.lower().split())
        mine = [m for m in misses if m["phrase"] == phrase]
        parts = []
        for r in mine:
            texts = [x["text"] for x in r.get("readings", [])] or [r["text"]]
            why = ("not heard" if not any(wanted in t for t in texts)
                   else f"heard, refused: {r.get('rejected') or 'no table holds it'}")
            taken = f", taken as {r['got']}" if r["got"] else ""
            parts.append(f"{r['voice']}: '{' | '.join(texts)}' ({why}{taken})")
        out.append(f"- **{phrase}** ({mine[0]['intent']}): " + "; ".join(parts))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voices", type=int, default=5)
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from phrasings.json")
    parser.add_argument("--only", choices=SYSTEMS, help="measure one system only")
    parser.add_argument("--out", type=Path, default=DATA, help="where the raw results go")
    args = parser.parse_args()
    conditions = [c for c in args.conditions.split(",") if c]
    if args.report_only:
        data = json.loads(args.out.read_text(encoding="utf-8"))
    else:
        corpus = load_corpus()
        listener = Grammars.from_dir(ROOT / "grammars").listener("answers")
        grammar_only = VoskRecognizer(resolve_model(), wide=False).load()
        ours = VoskRecognizer(resolve_model()).load()
        systems = {"grammar": lambda lst, a: hear(grammar_only, lst, a, front_end=False),
                   "ours": lambda lst, a: hear(ours, lst, a)}
        if args.only:
            systems = {args.only: systems[args.only]}
        data = run(systems, listener, corpus, list(VOICES[: args.voices]), conditions)
        data.update(voices=args.voices, conditions=conditions)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data), encoding="utf-8")
    text = report(data, data.get("conditions", conditions), data.get("voices", args.voices))
    REPORT.write_text(text, encoding="utf-8")
    print(text[: text.index("## Per phrasing")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
