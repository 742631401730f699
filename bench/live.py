"""Measurements in real time and in fresh processes: paced turns with spoken replies, cold start, footprints.

Paced turns (`paced_turns`): a subset of clips is played through the product's own `FileSource` in real
time (40 ms chunks, sleep-paced) into the product's `VoiceChannel` (tone, guard, noise suppression,
recognizer, end-of-speech detector), then the reply is chosen by the real `Dialogue` and spoken by the
product's `Speaker` (`Pyttsx3Synthesizer`, its cache prepared with `prompt_texts` as the product does, and
finished before the first turn) into `WavFileOutput`, which notes the monotonic time of each reply's first
sample. Each turn is positioned at a question of the clip's grammar (red-flag questions for `answers`).
Measured from the moment the true end of speech would have been captured (turn start + true end time in the
clip):

* decision: until `VoiceChannel.listen` returned the recognition;
* response onset: until the first sample of the reply's audio was handed to the output.

Both are also given from the moment the chunk holding the true end of speech was delivered.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import corpus
from bench.plan import ROOT, Clip, Item

CHUNK = 0.04


def paced_turns(items: list[Item], clips: list[Clip], model_dir: Path, work: Path) -> dict[str, Any]:
    """Play each clip in real time through the product's voice channel; time the decision and the reply."""
    from assistant.app.transcript import Transcript
    from assistant.app.voice import VoiceChannel, prompt_texts
    from assistant.core.dialogue import Dialogue, Kind, State, Turn, Utterance
    from assistant.core.validate import load_bundle
    from assistant.speech.filesource import FileSource
    from assistant.speech.frontend import FrontEnd
    from assistant.speech.recognizer import VoskRecognizer
    from assistant.speech.speaker import DEFAULT_RATE, Pyttsx3Synthesizer, Speaker, WavFileOutput

    bundle = load_bundle(ROOT / "content", ROOT / "grammars")
    folder = work / "paced"
    folder.mkdir(parents=True, exist_ok=True)
    questions: dict[str, list[str]] = {}
    for question in bundle.content.questions.values():
        if not question.ask_if:
            questions.setdefault(question.grammar, []).append(question.id)
    # Clips for listeners no question uses (the "next / that's enough" pauses) are left out of paced turns, and
    # out of the stream too: the source must play exactly the clips of the turns, in their order.
    paced = [(item, clip) for item, clip in zip(items, clips, strict=True) if item.listener in questions]
    files = []
    for k, (_item, clip) in enumerate(paced):
        path = folder / f"turn-{k:03d}.wav"
        corpus.write_wav(path, clip.samples)
        files.append(path)
    source = FileSource(files, fast=False).open()
    recognizer = VoskRecognizer(model_dir).load()
    output = WavFileOutput(folder / "replies.wav")
    speaker = Speaker(Pyttsx3Synthesizer(), output, fallback=lambda _text: None)
    prepared = prompt_texts(bundle)
    started = time.monotonic()
    speaker.prepare(prepared)
    speaker.say(prepared[-1])  # renders run in order: once the last is ready, every prompt is cached
    prepare_s = time.monotonic() - started
    channel = VoiceChannel(speaker=speaker, source=source, recognizer=recognizer, show=lambda _text: None,
                           front_end=FrontEnd())  # as the product listens (scripts/run, tingle listen)
    dialogue = Dialogue(bundle.content, bundle.grammars)
    turns = []
    with Transcript(folder / "transcript.jsonl", bundle.content.version) as transcript:
        for k, (item, clip) in enumerate(paced):
            choices = questions[item.listener]
            node = bundle.content.questions[choices[k % len(choices)]]
            dialogue.state = State(node=node.id, prompt=(Utterance(node.id, Kind.PROMPT, node.ask),))
            listener = dialogue.listener()
            if listener is None or listener.grammar != item.listener:
                raise RuntimeError(f"could not position the dialogue at a {item.listener} question")
            heard = channel.listen(listener)
            heard_at = time.monotonic()
            plays_before_reply = len(output.first_sample_at)
            if heard is None:
                raise RuntimeError("the paced source ran out of clips")
            turn = Turn(intent=heard.intent, text=heard.text, confidence=heard.confidence, uncertain=heard.uncertain,
                        silence=heard.silence)
            reply = dialogue.handle(turn)
            transcript.turn(turn, reply, at_node=node.id, audio=heard.details or {})
            if reply.rate_change:
                channel.change_rate(reply.rate_change)
            for utterance in reply.utterances:
                channel.say(utterance)
            speaker.rate = DEFAULT_RATE  # the next turn is like a new session's (its prompts are cached)
            onset_at = output.first_sample_at[plays_before_reply] if len(output.first_sample_at) > plays_before_reply \
                else None
            true_end = source.turn_started_at + (clip.true_end or 0.0)
            chunk_due = source.turn_started_at + math.ceil((clip.true_end or 0.0) / CHUNK - 1e-9) * CHUNK
            first = reply.utterances[0] if reply.utterances else None
            turns.append({
                "id": item.id, "condition": item.condition, "listener": item.listener, "node": node.id,
                "expected": item.expected, "intent": heard.intent, "uncertain": heard.uncertain, "text": heard.text,
                "end_rule": (heard.details or {}).get("end_rule"),
                "decision_ms": 1000 * (heard_at - true_end),
                "onset_ms": None if onset_at is None else 1000 * (onset_at - true_end),
                "decision_from_chunk_ms": 1000 * (heard_at - chunk_due),
                "onset_from_chunk_ms": None if onset_at is None else 1000 * (onset_at - chunk_due),
                "reply_kind": first.kind.value if first else None,
                "reply_prepared": bool(first and first.text in prepared),
            })
    output.close()
    return {"turns": turns, "prepare_s": prepare_s}


def _wait(proc: subprocess.Popen[bytes], timeout: float, poll: Path | None = None) -> tuple[int, Any, float | None]:
    """Wait for `proc` (os.wait4, so its own rusage); meanwhile note when `poll` first holds audio samples."""
    started = time.monotonic()
    polled = None
    while True:
        if poll is not None and polled is None:
            try:
                if poll.stat().st_size > 44:
                    polled = time.monotonic()
            except FileNotFoundError:
                pass
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage, polled
        if time.monotonic() - started > timeout:
            proc.kill()
        time.sleep(0.002)


def _mb(usage: Any) -> float:
    return usage.ru_maxrss * 1024 / 1e6  # Linux reports KiB


def cold_start(turn_files: list[Path], work: Path, runs: int, warmups: int) -> dict[str, Any]:
    """Run the product (`python -m assistant --audio-in ... --fast --audio-out ...`) in fresh processes.

    Cold start = from just before the process is spawned to the first sample of the first thing it says
    (bench.product_timer). Peak memory = the process's ru_maxrss (os.wait4) over the whole session. The
    processes may write Python bytecode (PYTHONDONTWRITEBYTECODE is dropped for them), so the warm-up leaves
    what a user's first run leaves: measured without it, every start compiles the package (1.0 s, not 0.7 s).
    """
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    folder = work / "coldstart"
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for run in range(warmups + runs):
        marker, said, transcript = (folder / f"{name}-{run}{ext}" for name, ext in
                                    (("first", ".json"), ("said", ".wav"), ("transcript", ".jsonl")))
        for path in (marker, said, transcript):
            path.unlink(missing_ok=True)
        command = [sys.executable, "-m", "bench.product_timer", str(marker), "--",
                   "--audio-in", *map(str, turn_files), "--fast", "--audio-out", str(said),
                   "--transcript", str(transcript)]
        errors = folder / f"stderr-{run}.txt"
        with errors.open("wb") as err:
            spawned = time.monotonic()
            proc = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=err)
            code, usage, polled = _wait(proc, timeout=180.0, poll=said)
        finished = time.monotonic()
        first = json.loads(marker.read_text(encoding="utf-8")) if marker.exists() else {}
        events = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()] \
            if transcript.exists() else []
        heard = [e.get("intent") for e in events if e.get("event") == "turn" and e.get("heard") != "(end of input)"]
        records.append({
            "warmup": run < warmups, "exit_code": code,
            "first_word_s": first["first_sample_monotonic"] - spawned if first else None,
            "first_written_s": None if polled is None else polled - spawned,
            "leading_quiet_s": first.get("leading_quiet_s"), "first_audio_s": first.get("first_audio_s"),
            "session_s": finished - spawned, "peak_memory_mb": _mb(usage),
            "turns_heard": heard, "stderr": errors.read_text(encoding="utf-8", errors="replace")[-2000:],
        })
    return {"runs": records}


def footprints(systems: tuple[str, ...], clip_files: list[Path], work: Path) -> dict[str, Any]:
    """Each system alone in a fresh process: model load time and peak memory while recognizing the clips."""
    folder = work / "footprint"
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for name in systems:
        report = folder / f"{name}.json"
        report.unlink(missing_ok=True)
        command = [sys.executable, "-m", "bench.footprint", name, str(report), *map(str, clip_files)]
        log = folder / f"{name}-stderr.txt"
        with log.open("wb") as err:
            proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
            code, usage, _ = _wait(proc, timeout=300.0)
        errors = log.read_text(encoding="utf-8", errors="replace")
        data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
        out[name] = {"exit_code": code, "model_load_s": data.get("model_load_s"), "import_s": data.get("import_s"),
                     "peak_memory_mb": _mb(usage), "clips": data.get("clips"), "stderr": errors[-2000:]}
    return out
