"""Barge-in benchmark: commands said over the assistant's own speech, self-interruptions, stop latency, ERLE.

    .venv/bin/python -m bench.bargein            # full -> bench/results/bargein.md (+ .json)
    .venv/bin/python -m bench.bargein --quick    # a slice (~10 min on 2 busy cores) -> bench/work/bargein-quick/

Everything goes through the product's path from recordings: a `StreamSource` stream (the user's track) with
a simulated loudspeaker echo (`RoomEcho`: delay, reverberation, a soft-clipping loudspeaker, noise) of what
`TimedOutput.start` plays, `assistant.speech.bargein.watch` with the real `BargeInDetector` (echo canceller,
Endpointer, Vosk with grammars/bargein/bargein.yaml, the "okay nabu" wake model with its speech check), and
`StreamPlaying.stop`.

* **Commands taken**: the assistant speaks a passage of its own content (espeak-ng en-us, the product's
  engine); 1.5-4 s into it a user (the benchmark voices, `bench.corpus.VOICES`) says a barge-in command. The
  echo at the microphone is as loud as the user (0 dB echo-to-user ratio) or 6 dB louder (+6 dB), measured as
  active speech power. Taken = the passage stopped on that command's intent.
* **Stop latency**: stream time from the end of the command's speech to the end of the sound (the decision
  at the end of a 40 ms chunk, then a 10 ms fade), plus the wall-clock processing of the deciding chunk.
* **Self-interruptions**: the assistant's content texts, spoken with no user, through rooms of different
  delay and reverberation, for `--hours` of its own speech; any command taken is a self-interruption.
* **Cold starts**: a fresh detector (the first sound after start-up) in each room, at the usual echo level and
  6 dB louder, plays the session's opening (greeting and first question, in several regions' wording) and
  the first 12 s of runs of three content passages, with nobody talking; any command taken is a
  self-interruption. Until the canceller has learnt the room, nothing is taken (BargeInConfig.learn_erle_db,
  learn_window_s, learn_s): the
  report gives how long that took.
* **ERLE**: echo return loss enhancement of the canceller over the same echo-only audio, per room.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import corpus

ROOT = Path(__file__).resolve().parent.parent
RATE = corpus.SAMPLE_RATE
ASSISTANT_VOICE = corpus.Voice("espeak-ng", "en-us")
COMMANDS = (("stop", "stop"), ("repeat", "repeat"), ("wait", "hold"), ("pause", "hold"), ("next", "next"),
            ("go back", "back"), ("emergency", "emergency"), ("call an ambulance", "emergency"),
            ("okay nabu", "wake"))
"""(what the user says, the intent it must give)."""
ECHO_GAIN_DB = -6.0
"""Level of the echo relative to the playback (dB); the user's level is set from the echo's."""
ROOMS = ((0.03, 0.3), (0.05, 0.45), (0.08, 0.6))
"""(delay s, RT60 s) of the simulated rooms."""


class NullOutput:
    """Nothing is written anywhere; the bench only needs the stream's clock."""

    def play(self, pcm: Any) -> None:
        """Played to nowhere."""

    def close(self) -> None:
        """Nothing held."""


def content_texts() -> list[str]:
    """What the assistant says: every question, offer, section passage and template of its content."""
    import yaml

    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            if len(node.split()) >= 4 and "{" not in node:
                texts.append(node.strip())
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((ROOT / "content").glob("*.yaml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return list(dict.fromkeys(texts))


def warmed_detectors(work: Path, passages: list[str], **config: Any) -> dict[int, Any]:
    """One detector per room, each having heard the greeting there first (in a session the canceller has
    heard the assistant before the first command; the room stays the same)."""
    warm = np.concatenate([_passage(t) for t in passages[:8]])  # about 30 s
    found = {}
    for index in range(len(ROOMS)):
        det = detector(**config)
        room = _room(index)
        run_trial(det, Trial(warm, command_track(warm, room, np.zeros(1, np.int16), 0.0, 0.0), room), work)
        found[index] = det
    return found


def detector(**config: Any) -> Any:
    from assistant.models.modelstore import resolve_model
    from assistant.speech.bargein import BargeInConfig, BargeInDetector, load_barge_in
    from assistant.speech.recognizer import VoskRecognizer
    from assistant.speech.wakeword import MicroWakeDetector, SpeechCheck, wake_phrase

    if not _RECOGNIZER:
        _RECOGNIZER.append(VoskRecognizer(resolve_model()).load())
    phrase = wake_phrase()  # as `tingle listen` builds it: the wake model over playback, with its check
    commands, spots = load_barge_in(ROOT / "grammars")
    return BargeInDetector(_RECOGNIZER[0], commands, BargeInConfig(**config), emergency_spots=spots,
                           wake=MicroWakeDetector(phrase).open(),
                           wake_check=SpeechCheck.for_phrase(_RECOGNIZER[0], phrase))


_RECOGNIZER: list[Any] = []


@dataclass
class Trial:
    """One passage played over one user track."""

    passage: np.ndarray
    """The assistant's speech (int16, 16 kHz)."""
    user: np.ndarray
    """The user's track, the same length or longer (int16)."""
    room: Any
    """assistant.speech.streamsource.RoomEcho."""
    result: dict[str, Any] = field(default_factory=dict)


def run_trial(det: Any, trial: Trial, work: Path) -> dict[str, Any]:
    """Play the passage over the user's track through the product's barge-in path; what happened."""
    from assistant.speech.audio import Pcm
    from assistant.speech.bargein import watch
    from assistant.speech.streamsource import StreamSource, TimedOutput

    wav = work / "user.wav"
    corpus.write_wav(wav, trial.user)
    stream = StreamSource([wav], fast=True, echo=trial.room).open()
    try:
        playing = TimedOutput(NullOutput(), stream).start(Pcm(trial.passage.astype("<i2").tobytes(), RATE))
        refused_before = det.refusals
        began = time.process_time()
        heard = watch(stream, playing, det)
        cpu = time.process_time() - began
    finally:
        stream.close()
    return {"heard": None if heard is None else {
                "intent": heard.intent, "text": heard.text, "decided_at": heard.decided_at,
                "speech_start": heard.speech_start, "speech_end": heard.speech_end, "kept_db": heard.kept_db,
                "decide_ms": heard.decide_ms},
            "stopped_at": playing.stopped_at, "played_s": trial.passage.size / RATE, "cpu_s": cpu,
            "refused": [(r.text, r.why, r.kept_db) for r in det.refused_since(refused_before) if r.text]}


def _room(index: int, gain_db: float = ECHO_GAIN_DB) -> Any:
    from assistant.speech.streamsource import RoomEcho

    delay, rt60 = ROOMS[index % len(ROOMS)]
    return RoomEcho(gain_db=gain_db, delay_s=delay, rt60_s=rt60, seed=11 + index % len(ROOMS))


def _passage(text: str) -> np.ndarray:
    return corpus.synthesize(text, ASSISTANT_VOICE)


def echo_power(passage: np.ndarray, room: Any) -> float:
    """Active speech power of the echo of `passage` at the microphone (float units)."""
    echo = room.apply(passage / 32768.0)
    return float(corpus.speech_power(np.clip(echo * 32768, -32768, 32767).astype(np.int16)))


def command_track(passage: np.ndarray, room: Any, command: np.ndarray, at_s: float, ratio_db: float) -> np.ndarray:
    """The user's track: `command` starting at `at_s`, its speech power `ratio_db` below the echo's."""
    target = echo_power(passage, room) / 10 ** (ratio_db / 10)
    scaled = command.astype(np.float64) * np.sqrt(target / max(corpus.speech_power(command), 1e-9))
    track = np.zeros(passage.size + RATE * 2)
    at = int(at_s * RATE)
    track[at:at + scaled.size] += scaled[: track.size - at]
    track += np.random.default_rng(at).standard_normal(track.size) * 3.0  # a quiet room (about -80 dBFS)
    return np.clip(np.round(track), -32768, 32767).astype(np.int16)


def commands_over_speech(dets: dict[int, Any], work: Path, ratios: tuple[float, ...], voices: tuple[Any, ...],
                         *, passages: list[str], rng: np.random.Generator) -> dict[str, Any]:
    """Each command by each voice over a passage, at each echo-to-user ratio."""
    rows = []
    for ratio in ratios:
        for v, voice in enumerate(voices):
            for c, (said, intent) in enumerate(COMMANDS):
                text = passages[(v * len(COMMANDS) + c) % len(passages)]
                passage = _passage(text)
                room_index = (v + c) % len(ROOMS)
                room = _room(room_index)
                det = dets[room_index]
                clip = corpus.synthesize(said, voice)
                lead = corpus.speech_end_seconds(clip[::-1]) if clip.size else 0.0
                start_speech = clip.size / RATE - lead  # leading silence of the clip
                at = float(rng.uniform(1.5, max(1.6, min(4.0, passage.size / RATE - 2.0))))
                user = command_track(passage, room, clip, at, ratio)
                result = run_trial(det, Trial(passage, user, room), work)
                end = at + corpus.speech_end_seconds(clip)
                heard = result["heard"]
                taken = heard is not None and heard["intent"] == intent
                heard_out = heard is not None and heard["decided_at"] > result["played_s"]  # after the sound
                rows.append({"ratio_db": ratio, "voice": voice.label, "said": said, "intent": intent,
                             "at_s": round(at, 3), "command_start_s": round(at + start_speech, 3),
                             "command_end_s": round(end, 3), "played_s": round(result["played_s"], 3),
                             "taken": taken, "heard_out": heard_out,
                             "heard": heard, "stopped_at": result["stopped_at"],
                             "latency_ms": round((result["stopped_at"] - end) * 1000, 1)
                             if taken and not heard_out else None,
                             "refused": result["refused"]})
    summary = {}
    for ratio in ratios:
        part = [r for r in rows if r["ratio_db"] == ratio]
        latencies = [r["latency_ms"] for r in part if r["latency_ms"] is not None]
        summary[f"{ratio:+g} dB"] = {
            "trials": len(part), "taken": sum(r["taken"] for r in part),
            "taken_pct": round(100 * sum(r["taken"] for r in part) / max(1, len(part)), 1),
            "wrong": sum(1 for r in part if r["heard"] is not None and not r["taken"]),
            "ends_after_sound": sum(1 for r in part if r["command_end_s"] > r["played_s"]),
            "heard_out": sum(1 for r in part if r["taken"] and r["heard_out"]),
            "latency_ms_median": float(np.median(latencies)) if latencies else None,
            "latency_ms_p95": float(np.percentile(latencies, 95)) if latencies else None,
            "latency_ms_max": max(latencies) if latencies else None,
            "decide_ms_max": max((r["heard"]["decide_ms"] for r in part if r["taken"]), default=None)}
    return {"summary": summary, "rows": rows}


def self_interruptions(dets: dict[int, Any], work: Path, hours: float, passages: list[str]) -> dict[str, Any]:
    """The assistant's own speech through the echo path with nobody talking: every command taken counts."""
    from assistant.speech.echo import erle_db

    played = cpu = 0.0
    events: list[dict[str, Any]] = []
    refused: list[Any] = []
    erle: dict[str, list[float]] = {}
    index = 0
    while played < hours * 3600:
        text = passages[index % len(passages)]
        room_index = (index // len(passages) + index) % len(ROOMS)
        room, det = _room(room_index), dets[room_index]
        passage = _passage(text)
        silent = command_track(passage, room, np.zeros(1, dtype=np.int16), 0.0, 0.0)
        blocks_before = det.canceller.blocks
        collected: list[Any] = []
        original = det.canceller.process

        def keep(mic: Any, far: Any, original: Any = original, collected: list[Any] = collected) -> Any:
            out, blocks = original(mic, far)
            collected.extend(blocks)
            return out, blocks

        det.canceller.process = keep
        try:
            result = run_trial(det, Trial(passage, silent, room), work)
        finally:
            det.canceller.process = original
        active = [b for b in collected if b.far > 1e-6]
        if active and det.canceller.blocks - blocks_before > 0:
            erle.setdefault(f"delay {room.delay_s * 1000:.0f} ms, RT60 {room.rt60_s:.2f} s", []).append(
                erle_db(active))
        played += passage.size / RATE
        cpu += result["cpu_s"]
        refused += result["refused"]
        if result["heard"] is not None:
            events.append({"text": text[:80], **result["heard"]})
        index += 1
    return {"hours": round(played / 3600, 3), "passages": index, "self_interruptions": len(events),
            "per_hour": round(len(events) / (played / 3600), 2), "events": events,
            "heard_and_refused": len(refused), "refused_examples": refused[:20],
            "erle_db": {room: round(float(np.median(v)), 1) for room, v in erle.items()},
            "cpu_pct_of_one_core": round(100 * cpu / played, 2)}


def cold_starts(work: Path, passages: list[str], groups: int, regions: tuple[str, ...]) -> dict[str, Any]:
    """Fresh detectors, nobody talking: the session's opening per region, and runs of content passages."""
    from assistant.core.dialogue import Dialogue
    from assistant.core.validate import load_bundle

    bundle = load_bundle(ROOT / "content", ROOT / "grammars")
    sounds = [(f"opening {region}", np.concatenate([
        _passage(u.text) for u in Dialogue(bundle.content, bundle.grammars, region=region).start().utterances]))
        for region in regions]
    step = max(1, (len(passages) - 3) // max(1, groups))
    sounds += [(passages[i][:60], np.concatenate([_passage(t) for t in passages[i:i + 3]])[: RATE * 12])
               for i in range(0, step * groups, step)]
    events, learnt, trials = [], [], 0
    for label, passage in sounds:
        for gain in (ECHO_GAIN_DB, ECHO_GAIN_DB + 6.0):
            for room_index in range(len(ROOMS)):
                det, room = detector(), _room(room_index, gain)
                silent = command_track(passage, room, np.zeros(1, dtype=np.int16), 0.0, 0.0)
                result = run_trial(det, Trial(passage, silent, room), work)
                trials += 1
                if det.learnt_after is not None:
                    learnt.append(det.learnt_after)
                if result["heard"] is not None:
                    events.append({"sound": label, "gain_db": gain, "room": room_index, **result["heard"]})
    return {"trials": trials, "self_interruptions": len(events), "events": events,
            "learnt_s_median": round(float(np.median(learnt)), 2) if learnt else None,
            "learnt_s_max": round(max(learnt), 2) if learnt else None, "never_learnt": trials - len(learnt)}


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def report(results: dict[str, Any]) -> str:
    lines = ["# Barge-in benchmark", "",
             f"Run {results['when']} on {results['machine']} ({'quick' if results['quick'] else 'full'}), "
             f"{results['seconds']:.0f} s. All audio synthetic: the assistant is espeak-ng en-us (the product's "
             "engine), the users are the benchmark voices; the echo path is simulated (`RoomEcho`: delay, "
             "exponential reverberation, soft-clipping loudspeaker, noise). Real rooms and loudspeakers will "
             "differ.", "",
             "| target | measured |", "|---|---|"]
    for name, row in results["commands"]["summary"].items():
        after = (f"; {row['ends_after_sound']} ran past the end of the sound, {row['heard_out']} of the taken "
                 "heard out after it" if "heard_out" in row else "")
        lines.append(f"| commands taken, echo {name} vs the user (>= 90 %) | {row['taken_pct']} % "
                     f"({row['taken']}/{row['trials']}; wrong command {row['wrong']}{after}) |")
    for name, row in results["commands"]["summary"].items():
        lines.append(f"| stop latency after the end of the command, {name} (<= 300 ms) | median "
                     f"{_ms(row['latency_ms_median'])}, p95 {_ms(row['latency_ms_p95'])}, max "
                     f"{_ms(row['latency_ms_max'])} (+ at most {_ms(row['decide_ms_max'])} processing) |")
    own = results["self"]
    lines.append(f"| self-interruptions (<= 1 per hour) | {own['self_interruptions']} in {own['hours']} h "
                 f"({own['per_hour']} per hour; {own['heard_and_refused']} utterances heard and refused) |")
    cold = results.get("cold")
    if cold:
        again = f", re-run {cold['when']}" if cold.get("when") else ""
        lines.append(f"| self-interruptions at a cold start (fresh canceller{again}) | {cold['self_interruptions']} in "
                     f"{cold['trials']} first sounds; nothing taken until the canceller had learnt the room: "
                     f"median {cold['learnt_s_median']} s, max {cold['learnt_s_max']} s "
                     f"(never: {cold['never_learnt']}) |")
    lines.append(f"| CPU while speaking (echo canceller + endpointer + Vosk) | {own['cpu_pct_of_one_core']} % "
                 "of one core |")
    lines += ["", "How it was measured:", "",
              "- Each room (delay 30/50/80 ms, RT60 0.30/0.45/0.60 s, echo 6 dB below the playback) has its own "
              "detector, which first hears about 30 s of the assistant there, as the greeting and first question "
              "of a session would give it. The echo path learnt is kept from one passage to the next, as in a "
              "session.",
              "- Latency is in stream time: from the end of the command's speech (the last sound within 45 dB of "
              "its peak) to the end of the sound (the end of the 40 ms chunk that decided, then a 10 ms fade). "
              "A negative figure means that the recognizer's running text was already the whole phrase, and "
              "steady, before the word's last faint sound. The processing time of the deciding chunk (Vosk's "
              "final result) comes on top of it in real time. A command begun over the sound and still going "
              "when it ended is heard out (`bargein.watch`) and counts as taken; it has no stop latency.",
              "- A command is taken only if the whole utterance is one phrase of grammars/bargein/bargein.yaml "
              "([unk] at its ends dropped; an emergency phrase also with stray words, or any utterance holding "
              "one of its `emergency_spots`) and the canceller kept >= -12 dB of the microphone's energy (75th "
              "percentile of the 10 ms blocks of the utterance). The wake phrase: the wake model's fire on the "
              "canceller's output, confirmed by its speech check, with the same -12 dB gate.",
              "- Cold starts: a fresh detector per trial (the first sound after start-up), in each room at the "
              "usual echo level and 6 dB louder, with nobody talking: the session's opening in several regions' "
              "wording, and the first 12 s of runs of three content passages.",
              "", "ERLE of the canceller (median per passage, echo only):", ""]
    lines += [f"- {room}: {value} dB" for room, value in own["erle_db"].items()]
    if cold and cold["events"]:
        lines += ["", "Cold-start self-interruptions:", ""]
        lines += [f"- {e['sound']!r}, echo {e['gain_db']:+g} dB, room {e['room']}: {e['text']!r} at "
                  f"{e['decided_at']:.2f} s" for e in cold["events"]]
    missed = [r for r in results["commands"]["rows"] if not r["taken"]]
    if missed:
        lines += ["", "Commands not taken:", ""]
        lines += [f"- {r['ratio_db']:+g} dB, {r['voice']}, {r['said']!r}: heard "
                  f"{(r['heard'] or {}).get('text')!r}; refused {r['refused'][:3]}" for r in missed]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hours", type=float, default=None, help="hours of the assistant's own speech")
    parser.add_argument("--report-only", action="store_true", help="rewrite bargein.md from bargein.json")
    args = parser.parse_args(argv)
    if args.report_only:
        folder = ROOT / "bench" / ("work/bargein-quick" if args.quick else "results")
        results = json.loads((folder / "bargein.json").read_text(encoding="utf-8"))
        (folder / "bargein.md").write_text(report(results), encoding="utf-8")
        return 0
    began = time.monotonic()
    out_dir = ROOT / "bench" / ("work/bargein-quick" if args.quick else "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    passages = [t for t in content_texts() if 6 <= len(t.split()) <= 120]
    rng = np.random.default_rng(7)
    voices = corpus.VOICES[:3] if args.quick else corpus.VOICES
    with tempfile.TemporaryDirectory(prefix="bargein-") as tmp:
        work = Path(tmp)
        dets = warmed_detectors(work, passages)
        commands = commands_over_speech(dets, work, (0.0, 6.0), voices, passages=passages, rng=rng)
        own = self_interruptions(dets, work, args.hours or (0.05 if args.quick else 1.0), passages)
        cold = cold_starts(work, passages, 4 if args.quick else 40,
                           ("GB", "US") if args.quick else ("XX", "GB", "US", "AU", "FR", "NO", "IE", "ZA"))
    results = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": platform.machine(),
               "cpus": os.cpu_count(), "quick": args.quick, "seconds": time.monotonic() - began,
               "commands": commands, "self": own, "cold": cold}
    (out_dir / "bargein.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    (out_dir / "bargein.md").write_text(report(results), encoding="utf-8")
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
