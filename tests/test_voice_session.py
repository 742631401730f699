"""Whole voice sessions and commands through the command line, as a user (or CI) runs them: subprocesses.

User turns are synthesized (espeak-ng en-us, speed 1.0, 0.3 s / 0.6 s of silence around) and given with
--audio-in; what the assistant says goes to --audio-out. Each test takes a few seconds (one process start,
one model load).
"""

from __future__ import annotations

import itertools
import json
import shutil
import wave
from pathlib import Path
from typing import Any

import pytest
from voice_support import ROOT, require_voice_stack, run_cli, wav_summary, write_turn

from assistant.core.validate import Bundle
from assistant.errors import AssistantError
from assistant.speech.speaker import DEFAULT_RATE, Pyttsx3Synthesizer
from bench.corpus import TEST_VOICES

pytestmark = pytest.mark.voice

VOICE = TEST_VOICES[0]
EMERGENCY_LINE = "Call emergency services now"
RENDERS = 120


@pytest.fixture(scope="module", autouse=True)
def _voice_stack() -> None:
    require_voice_stack()


def turns(tmp_path: Path, *texts: str) -> list[Path]:
    return [write_turn(tmp_path / f"turn{i}.wav", text, VOICE) for i, text in enumerate(texts)]


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr


def one_error_line(result: Any) -> str:
    """The single `tingle: ...` line on stderr (other stderr lines, e.g. audio-library chatter, are allowed)."""
    no_traceback(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith("tingle:")]
    assert len(lines) == 1, f"expected one 'tingle:' error line, got stderr:\n{result.stderr}"
    return lines[0]


def session(tmp_path: Path, *texts: str) -> tuple[Any, list[dict[str, Any]], Path]:
    transcript, out = tmp_path / "t.jsonl", tmp_path / "out.wav"
    result = run_cli(["--audio-in", *turns(tmp_path, *texts), "--audio-out", out, "--transcript", transcript,
                      "--fast"], tmp_path)
    no_traceback(result)
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result, events(transcript), out


def turn_at(log: list[dict[str, Any]], node: str) -> dict[str, Any]:
    found = [e for e in log if e["event"] == "turn" and e["node"] == node]
    assert found, f"no turn at {node}: {[(e['event'], e.get('node'), e.get('intent')) for e in log]}"
    return found[-1]


def test_a_voice_that_cannot_speak_prints_each_line_once(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    result = run_cli(["--audio-in", *turns(tmp_path, "yes"), "--voice", "no-such-voice", "--transcript", transcript,
                      "--fast"], tmp_path)
    no_traceback(result)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    notices = [line for line in lines if line.startswith("(Speech is not working")]
    assert len(notices) == 1 and "no speech voice called 'no-such-voice'" in notices[0], result.stdout
    repeated = [a for a, b in itertools.pairwise(lines) if a == b]
    assert not repeated, f"lines printed twice: {repeated}\n{result.stdout}"
    assert any("emergency" in line.lower() for line in lines[2:]), result.stdout  # the advice is still shown


def test_yes_to_the_first_red_flag_gives_emergency_advice(tmp_path: Path) -> None:
    result, log, out = session(tmp_path, "yes")
    assert "Speech is not working" not in result.stdout, f"speech fell back to text:\n{result.stdout[:600]}"
    turn = turn_at(log, "legs_weak")
    assert turn["intent"] == "yes", turn
    first = turn["said"][0]
    assert first["kind"] == "emergency" and EMERGENCY_LINE in first["text"], turn["said"]
    assert log[-1]["event"] == "end" and log[-1]["level"] == "emergency"
    assert EMERGENCY_LINE in result.stdout
    channels, width, rate, seconds, loud = wav_summary(out)
    assert (channels, width) == (1, 2) and rate > 0
    assert seconds > 10 and loud > 5, f"{out}: {seconds:.1f} s long, {loud:.1f} s above -45 dBFS"


def test_five_noes_then_i_need_help_now(tmp_path: Path) -> None:
    _, log, _ = session(tmp_path, "no", "no", "no", "no", "no", "I need help now")
    heard = [(e["node"], e["intent"]) for e in log if e["event"] == "turn"]
    assert heard == [("legs_weak", "no"), ("walking", "no"), ("bladder_bowel", "no"),
                     ("saddle", "no"), ("wiping", "no"), ("peeing", "emergency")], heard
    last = turn_at(log, "peeing")
    assert last["said"][0]["kind"] == "emergency" and EMERGENCY_LINE in last["said"][0]["text"], last["said"]
    assert log[-1]["event"] == "end" and log[-1]["level"] == "emergency"


def test_audio_files_running_out_ends_cleanly_and_never_fails_open(tmp_path: Path) -> None:
    result, log, _ = session(tmp_path, "no", "no")
    assert "We didn't finish the safety questions." in result.stdout
    assert "look after this at home" not in result.stdout
    closing = [e for e in log if e["event"] == "turn" and e.get("heard") == "(end of input)"]
    assert len(closing) == 1 and closing[0]["node"] == "bladder_bowel", log
    assert any(u["kind"] == "conditional_emergency" for u in closing[0]["said"])
    assert any(u["kind"] == "worsening" for u in closing[0]["said"])
    assert log[-1]["event"] == "end" and log[-1]["level"] == "doctor_today"


def test_speech_is_rendered_whole_every_time(bundle: Bundle) -> None:
    """The emergency advice, rendered again and again, always comes out complete (never cut, never empty)."""
    text = " ".join(bundle.content.levels["emergency"].say).replace("{emergency}", "999")
    synthesizer = Pyttsx3Synthesizer()
    lengths: list[float] = []
    errors: list[str] = []
    for _ in range(RENDERS):
        try:
            lengths.append(round(synthesizer.synthesize(text, DEFAULT_RATE).seconds, 2))
        except AssistantError as exc:
            errors.append(str(exc))
    longest = max(lengths, default=0.0)
    short = [x for x in lengths if x < longest - 0.1]
    assert not errors and not short, (f"{RENDERS} renderings of the emergency advice: {len(errors)} failed "
                                      f"({errors[:2]}), {len(short)} cut short {sorted(short)} (full: {longest} s)")


def _recognize_lines(result: Any) -> list[dict[str, Any]]:
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    for line in lines:
        assert {"file", "text", "intent", "confidence", "uncertain"} <= set(line), line
    return lines


def test_recognize_prints_one_json_line_per_file(tmp_path: Path) -> None:
    files = turns(tmp_path, "yes", "not sure", "the weather is nice today")
    lines = _recognize_lines(run_cli(["recognize", "--grammar", "answers", *files], tmp_path))
    assert [line["file"] for line in lines] == [str(f) for f in files]
    assert [line["intent"] for line in lines] == ["yes", "unsure", None], lines


CUSTOM = """\
# A custom grammar in the grammars/ format.
name: colour
description: red, green, or blue
include: [unsure]
intents:
  red: [red, red please]
  green: [green, green please]
  blue: [blue]
"""


def test_recognize_with_a_custom_grammar_file(tmp_path: Path) -> None:
    grammar = tmp_path / "colour.yaml"
    grammar.write_text(CUSTOM, encoding="utf-8")
    files = turns(tmp_path, "green", "not sure", "stop")
    lines = _recognize_lines(run_cli(["recognize", "--grammar", grammar, *files], tmp_path))
    assert [line["intent"] for line in lines] == ["green", "unsure", "stop"], lines


def test_recognize_reports_a_custom_grammar_word_the_model_lacks(tmp_path: Path) -> None:
    grammar = tmp_path / "colour.yaml"
    grammar.write_text(CUSTOM.replace("blue: [blue]", "blue: [blue, zorblaxx]"), encoding="utf-8")
    result = run_cli(["recognize", "--grammar", grammar, *turns(tmp_path, "green")], tmp_path)
    assert result.returncode != 0 and "zorblaxx" in one_error_line(result)


def _write_bad(path: Path, kind: str) -> Path:
    if kind == "garbage":
        path.write_bytes(bytes(range(256)) * 4)
    elif kind == "truncated":
        path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    elif kind == "1-hz":  # 8-bit and other sane formats are converted; an absurd rate is refused
        with wave.open(str(path), "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(1)
            writer.writeframes(bytes(16000))
    elif kind == "empty":
        path.write_bytes(b"")
    return path


@pytest.mark.parametrize("kind", ["missing", "garbage", "truncated", "1-hz", "empty"])
def test_bad_audio_in_file_is_one_clear_error(tmp_path: Path, kind: str) -> None:
    bad = _write_bad(tmp_path / f"{kind}.wav", kind)
    good = write_turn(tmp_path / "yes.wav", "yes", VOICE)
    result = run_cli(["--audio-in", good, bad, "--audio-out", tmp_path / "out.wav", "--transcript",
                      tmp_path / "t.jsonl", "--fast"], tmp_path)
    assert result.returncode != 0
    line = one_error_line(result)
    assert str(bad) in line, line
    assert not (tmp_path / "t.jsonl").exists(), "the session must not start with an unreadable file"


def _audio_devices() -> list[dict[str, Any]] | None:
    """The devices PortAudio sees (None: the PortAudio library itself is missing)."""
    try:
        import sounddevice as sd
    except OSError:
        return None
    try:
        return [dict(d) for d in sd.query_devices()]
    except sd.PortAudioError:
        return []


def _has_microphone() -> bool:
    return any(d["max_input_channels"] > 0 for d in _audio_devices() or [])


def test_devices_without_audio_hardware(tmp_path: Path) -> None:
    devices = _audio_devices()
    result = run_cli(["devices"], tmp_path, timeout=60)
    no_traceback(result)
    if devices is None:
        assert result.returncode != 0 and "libportaudio2" in one_error_line(result)
    elif not devices:
        assert result.returncode == 0, result.stderr
        assert "No audio devices found" in result.stdout and "--text" in result.stdout, result.stdout
    else:
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.strip().splitlines()) == len(devices), result.stdout


def test_voice_mode_without_a_microphone_points_to_text_mode(tmp_path: Path) -> None:
    if _has_microphone():
        pytest.skip("this machine has a microphone")
    result = run_cli(["--transcript", tmp_path / "t.jsonl"], tmp_path, timeout=60)
    assert result.returncode != 0
    assert "--text" in one_error_line(result), result.stderr


@pytest.mark.parametrize("command", ["session", "recognize"])
def test_empty_model_folder_names_scripts_setup(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "model"
    empty.mkdir()
    wav = write_turn(tmp_path / "yes.wav", "yes", VOICE)
    args = (["--model", empty, "--audio-in", wav, "--audio-out", tmp_path / "out.wav", "--fast",
             "--transcript", tmp_path / "t.jsonl"] if command == "session"
            else ["recognize", "--model", empty, wav])
    result = run_cli(args, tmp_path, timeout=60)
    assert result.returncode != 0
    line = one_error_line(result)
    assert "scripts/setup" in line and str(empty) in line, line


@pytest.mark.parametrize("fault", ["session: no model", "listen: no model", "session: bad content"])
def test_an_error_that_stops_the_start_is_said_aloud_too(tmp_path: Path, fault: str) -> None:
    """Nobody may be at the screen: the error is printed and, where a speaker works (here --audio-out), said."""
    command, problem = fault.split(": ")
    wav, out = write_turn(tmp_path / "yes.wav", "yes", VOICE), tmp_path / "out.wav"
    args = ["--audio-in", wav, "--audio-out", out, "--fast"]
    if problem == "no model":
        args += ["--model", tmp_path / "no-model"]
    else:
        content = tmp_path / "content"
        shutil.copytree(ROOT / "content", content)
        (content / "triage.yaml").write_text("questions: [unclosed\n", encoding="utf-8")
        args += ["--content", content]
    if command == "listen":
        args = ["listen", *args, "--transcript-dir", tmp_path / "sessions"]
    else:
        args += ["--transcript", tmp_path / "t.jsonl"]
    result = run_cli(args, tmp_path, timeout=90)
    assert result.returncode == 1
    line = one_error_line(result)
    assert ("no-model" in line) if problem == "no model" else ("triage.yaml" in line), line
    assert wav_summary(out)[4] > 1.0, f"nothing said to {out}"  # seconds of speech in the audio written


@pytest.mark.parametrize("then", ["yes 3 s later", "2 s of silence"])
def test_sound_after_the_end_of_a_turn_in_one_file_is_reported(tmp_path: Path, then: str) -> None:
    """One --audio-in file is one answer: a second answer 3 s later in the same file is not heard, and the
    transcript and stderr say where the sound was that was not listened to (it used to be dropped without a
    word). A silent tail is not reported."""
    import numpy as np
    from voice_support import speech_clip

    from bench.corpus import write_wav

    parts = [speech_clip("no", VOICE), np.zeros((3 if then.startswith("yes") else 2) * 16000)]
    if then.startswith("yes"):
        parts.append(speech_clip("yes", VOICE))
    wav, transcript = tmp_path / "turn.wav", tmp_path / "t.jsonl"
    write_wav(wav, np.concatenate(parts))
    result = run_cli(["--audio-in", wav, "--audio-out", tmp_path / "out.wav", "--transcript", transcript,
                      "--fast"], tmp_path)
    no_traceback(result)
    first = next(e for e in events(transcript) if e["event"] == "turn" and e.get("audio"))
    assert first["intent"] == "no", first
    if then.startswith("yes"):
        start, end = first["audio"]["unheard_sound_s"]
        assert 2.0 < start < end < start + 1.5, first["audio"]  # the "yes", about 3 s after the "no"
        assert "was not listened to" in result.stderr, result.stderr
    else:
        assert "unheard_sound_s" not in first["audio"], first["audio"]
        assert "not listened to" not in result.stderr, result.stderr


def test_natural_answers_are_taken_and_each_decision_names_its_reading(tmp_path: Path) -> None:
    """'not really' is in no question's spoken grammar, only in the wide reading's phrases: it is taken as "no"
    by the wide reading; the transcript keeps both readings' words and which one decided."""
    _, log, _ = session(tmp_path, "not really", "no")
    first, second = [e for e in log if e["event"] == "turn"][:2]
    assert (first["node"], first["intent"]) == ("legs_weak", "no"), first
    assert first["audio"]["reading"] == "wide", first["audio"]
    assert set(first["audio"]["readings"]) == {"grammar", "wide"}, first["audio"]
    assert "really" in first["audio"]["readings"]["wide"], first["audio"]
    assert (second["node"], second["intent"]) == ("walking", "no"), second
    assert second["audio"]["reading"] == "grammar", second["audio"]


def test_noise_suppression_can_be_turned_off(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    result = run_cli(["--audio-in", *turns(tmp_path, "yes"), "--audio-out", tmp_path / "out.wav",
                      "--transcript", transcript, "--fast", "--no-noise-suppression"], tmp_path)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert turn_at(events(transcript), "legs_weak")["intent"] == "yes"
