"""End to end in text mode: `python -m assistant --text` as a subprocess, typed answers on stdin, including
the bad input a careful tester tries (invalid UTF-8, NUL, binary, huge lines, closed stdin, broken pipe,
a full disk, signals)."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.core.dialogue import Dialogue, Phase, Turn
from assistant.core.validate import Bundle

ROOT = Path(__file__).resolve().parent.parent
TURN_FIELDS = {"time", "node", "said", "heard", "intent", "confidence", "uncertain", "decision", "content_version"}
ANSI = re.compile(r"\x1b|\x9b")
NET = "If it gets worse, get medical help."


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    lines: list[str]
    """stdout, one printed line each."""


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path / "state"), "TINGLE_REGION": "GB"}
    env.pop("TERM", None)
    return env


def command(transcript: Path | None) -> list[str]:
    extra = ["--transcript", str(transcript)] if transcript else []
    return [sys.executable, "-m", "assistant", "--text", *extra]


def run_text(transcript: Path | None, typed: list[str] | str | bytes, tmp_path: Path, *,
             python_flags: tuple[str, ...] = (), preexec_fn: object = None) -> Result:
    if isinstance(typed, list):
        typed = "".join(f"{line}\n" for line in typed)
    data = typed.encode("utf-8") if isinstance(typed, str) else typed
    cmd = command(transcript)
    cmd[1:1] = list(python_flags)
    result = subprocess.run(cmd, input=data, capture_output=True, cwd=ROOT, env=env_for(tmp_path), timeout=120,
                            check=False, preexec_fn=preexec_fn)  # type: ignore[arg-type]
    stdout = result.stdout.decode("utf-8")
    return Result(result.returncode, stdout, result.stderr.decode("utf-8"), stdout.splitlines())


def read_events(path: Path) -> list[dict[str, object]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def ask(bundle: Bundle, question: str) -> str:
    return bundle.content.questions[question].ask


def assert_closed_safely(result: Result, *, code: int = 0) -> None:
    """No traceback, the safety net, and goodbye as the last line."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.lines[-1] == "Take care. Goodbye."
    assert any(line.startswith(NET) for line in result.lines), result.stdout


def assert_not_home(result: Result) -> None:
    """The fail-safe: never 'look after this at home' when a warning sign was left unanswered."""
    assert not any("look after this at home" in line for line in result.lines), result.stdout
    assert any("contact a doctor or an urgent care service today" in line for line in result.lines), result.stdout
    assert any(line.startswith("If you have weak legs, numbness between your legs") for line in result.lines)


# ----------------------------------------------------------------------------------------- emergencies
def test_first_answer_yes_gives_the_action_first(tmp_path: Path, bundle: Bundle) -> None:
    path = tmp_path / "t.jsonl"
    result = run_text(path, ["yes"], tmp_path)
    at = result.lines.index(ask(bundle, "legs_weak"))
    assert result.lines[at + 1] == "Call emergency services now, on 999."
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert sum("Call emergency services" in line for line in result.lines) == 1
    events = read_events(path)
    assert events[-1]["event"] == "end" and events[-1]["level"] == "emergency"
    assert f"(Transcript saved to {path})" in result.stderr


@pytest.mark.parametrize("typed", ["call 911", "911", "ambulance", "I need an ambulance", "it's an emergency",
                                   "help me", "please help", "I can't move my legs", "I can't feel my legs",
                                   "I've wet myself", "no, but please call an ambulance"])
def test_emergency_in_any_words(tmp_path: Path, bundle: Bundle, typed: str) -> None:
    result = run_text(tmp_path / "t.jsonl", ["no", typed], tmp_path)
    at = result.lines.index(ask(bundle, "walking"))
    assert result.lines[at + 1] == "Call emergency services now, on 999.", result.stdout
    assert "Sorry" not in result.stdout


@pytest.mark.parametrize("typed", ["y", "yeah I have", "yes definitely", "I think so", "idk", "unsure",
                                   "not sure", "I'm not sure"])
def test_yes_and_not_sure_in_the_ways_people_type_them(tmp_path: Path, bundle: Bundle, typed: str) -> None:
    result = run_text(tmp_path / "t.jsonl", [typed], tmp_path)
    at = result.lines.index(ask(bundle, "legs_weak"))
    assert result.lines[at + 1] == "Call emergency services now, on 999.", result.stdout


@pytest.mark.parametrize("typed", ["nah", "not really", "I don't think so", "no I haven't", "n", "nope"])
def test_no_in_the_ways_people_type_it(tmp_path: Path, bundle: Bundle, typed: str) -> None:
    result = run_text(tmp_path / "t.jsonl", [typed], tmp_path)
    at = result.lines.index(ask(bundle, "legs_weak"))
    assert result.lines[at + 1] == ask(bundle, "walking"), result.stdout


def test_a_no_inside_a_longer_line_is_read_back(tmp_path: Path, bundle: Bundle) -> None:
    result = run_text(tmp_path / "t.jsonl", ["well no, they feel normal", "yes"], tmp_path)
    at = result.lines.index(ask(bundle, "legs_weak"))
    assert result.lines[at + 1] == "I heard no. Is that right?"
    assert result.lines[at + 2] == ask(bundle, "walking")


def test_a_contradiction_is_asked_again(tmp_path: Path, bundle: Bundle) -> None:
    result = run_text(tmp_path / "t.jsonl", ["yes no"], tmp_path)
    at = result.lines.index(ask(bundle, "legs_weak"))
    assert result.lines[at + 1] == "Sorry, I didn't catch that. Please say yes, no, or not sure."


# ----------------------------------------------------------------------------------------- a whole path
def plan_typed(bundle: Bundle, answers: dict[str, str]) -> tuple[list[str], list[str]]:
    """What a user types to hear everything (yes to offers, next at pauses), worked out with the engine in
    process, and every line it says; the subprocess must print exactly those lines."""
    dialogue = Dialogue(bundle.content, bundle.grammars, region="GB")
    reply = dialogue.start()
    said = [u.text for u in reply.utterances]
    typed: list[str] = []
    while not reply.ended:
        state = dialogue.state
        if state.phase is Phase.PAGING:
            text = ["next", "go on", "next one"][len(typed) % 3]
        elif state.phase is Phase.OFFERING:
            text = ["yes", "yes please", "sure"][len(typed) % 3]
        else:
            text = answers.get(state.node, ["no", "nope", "not really", "no I haven't"][len(typed) % 4])
        typed.append(text)
        listener = dialogue.listener()
        assert listener is not None
        reply = dialogue.handle(Turn(intent=listener.interpret(text), text=text))
        said += [u.text for u in reply.utterances]
    return typed, said


def test_full_path_with_every_section(tmp_path: Path, bundle: Bundle) -> None:
    typed, said = plan_typed(bundle, {"spread": "both places", "lasted": "yes it has"})
    path = tmp_path / "sub" / "t.jsonl"
    result = run_text(path, typed, tmp_path)
    assert result.lines == said
    assert_closed_safely(result)
    out = result.stdout
    assert "My advice: please book a visit with your doctor in the next few days." in result.lines
    assert "It has lasted more than a few days." in result.lines
    for cause in ("sciatica", "herniated disc", "cervical radiculopathy", "brachial plexopathy"):
        assert cause in out
    for word in ("ice", "acetaminophen", "posture", "oatmeal", "yoga", "acupuncture", "massage", "smoke"):
        assert word in out.lower(), word
    assert "Next one?" in result.lines
    assert any(line.startswith("Here is a short summary for your doctor.") for line in result.lines)
    assert not any("_" in line for line in result.lines)
    # the transcript: JSONL, private, one event per line, each turn with its fields and the session id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    events = read_events(path)
    assert events[0]["event"] == "session" and events[0]["region"] == "GB"
    assert events[-1]["event"] == "end" and events[-1]["level"] == "doctor_soon"
    turns = [e for e in events if e["event"] == "turn"]
    for event in turns:
        assert set(event) >= TURN_FIELDS, TURN_FIELDS - set(event)
        assert isinstance(event["decision"], str) and event["decision"]
    assert any("rule lasted (persistent pain" in str(e["decision"]) for e in turns)
    spoken = [u["text"] for e in events if "said" in e for u in e["said"]]  # type: ignore[union-attr]
    assert spoken == result.lines


# ----------------------------------------------------------------------------------------- cut short
def test_end_of_input_mid_session_never_fails_open(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    result = run_text(path, ["no"], tmp_path)
    assert_closed_safely(result)
    assert "We didn't finish the safety questions." in result.lines
    assert_not_home(result)
    events = read_events(path)
    assert events[-1]["event"] == "end" and events[-1]["how"] == "end of input"
    assert events[-1]["level"] == "doctor_today"


def test_empty_input_never_fails_open(tmp_path: Path) -> None:
    result = run_text(tmp_path / "t.jsonl", "", tmp_path)
    assert_closed_safely(result)
    assert_not_home(result)


def test_stop_before_the_warning_signs_are_done(tmp_path: Path) -> None:
    result = run_text(tmp_path / "t.jsonl", ["no", "no", "stop"], tmp_path)
    assert_closed_safely(result)
    assert_not_home(result)


def test_sixty_empty_lines_never_fail_open(tmp_path: Path) -> None:
    result = run_text(tmp_path / "t.jsonl", [""] * 60, tmp_path)
    assert_closed_safely(result)
    assert_not_home(result)
    assert result.lines.count("I didn't hear an answer. Please say yes, no, or not sure.") >= 2


@pytest.mark.parametrize("typed", ["yes definitely", "I think so", "yeah I have", "y", "idk"])
def test_answers_that_used_to_fail_three_times_are_understood(tmp_path: Path, bundle: Bundle, typed: str) -> None:
    result = run_text(tmp_path / "t.jsonl", [typed] * 3, tmp_path)
    assert "Call emergency services now, on 999." in result.lines
    assert "Sorry" not in result.stdout


def test_garbage_three_times_says_the_conditional_emergency_sentence(tmp_path: Path, bundle: Bundle) -> None:
    result = run_text(tmp_path / "t.jsonl", ["banana", "", "purple"], tmp_path)
    assert "If you have legs that have become weak, call 999 now." in result.lines
    assert ask(bundle, "walking") in result.lines
    assert_closed_safely(result)
    assert_not_home(result)


# ----------------------------------------------------------------------------------------- commands
def test_commands_in_text_mode(tmp_path: Path, bundle: Bundle) -> None:
    first = ask(bundle, "legs_weak")
    result = run_text(tmp_path / "t.jsonl", ["Help", "repeat", "what should I do?", "slower", "No.", "go back"],
                      tmp_path)
    assert any(line.startswith("If this is an emergency, say emergency, or call 999.") for line in result.lines)
    assert result.lines.count(first) >= 5
    assert any(line.startswith("So far, my advice is: please contact a doctor") for line in result.lines)
    at = result.lines.index("Okay, going back.")
    assert result.lines[at + 1] == first
    assert_closed_safely(result)


@pytest.mark.parametrize("typed", [["yes"], ["banana", "help", "no", "no", "stop"], []], ids=["yes", "mixed", "eof"])
def test_no_ansi_escape_codes(tmp_path: Path, typed: list[str]) -> None:
    result = run_text(tmp_path / "t.jsonl", typed, tmp_path)
    assert result.returncode == 0
    assert not ANSI.search(result.stdout) and not ANSI.search(result.stderr)
    assert "> " not in result.stdout  # no prompt marker when stdin is not a terminal


# ----------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("data", [b"\xff\xfe\xfa yes\n", b"\x00\x00\x00\n", b"n\x00o\n", bytes(range(256)) + b"\n",
                                  b"\xc3\x28\xa0\xa1\n\xe2\x82\n", b"\r\n\r\n", b"yes\r\n"],
                         ids=["invalid-utf8", "nul", "nul-inside", "binary", "broken-sequences", "crlf", "yes-crlf"])
def test_invalid_bytes_never_give_a_traceback(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "t.jsonl"
    result = run_text(path, data, tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    events = read_events(path)
    assert events[-1]["event"] == "end"
    assert len([e for e in events if e["event"] == "turn"]) >= 1
    assert result.lines[-1] == "Take care. Goodbye." or "Call emergency services now, on 999." in result.lines


def test_invalid_utf8_around_an_emergency_reaches_the_transcript(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    result = run_text(path, b"\xff\xfe\ncall an ambulance \xff\n", tmp_path)
    assert "Call emergency services now, on 999." in result.lines
    events = read_events(path)
    emergency = [e for e in events if e.get("intent") == "emergency"]
    assert emergency and "call an ambulance" in str(emergency[0]["heard"])


def test_a_twenty_megabyte_line_is_cut_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    result = run_text(path, b"x" * (20 * 1024 * 1024) + b"\nyes\n", tmp_path)
    assert "Traceback" not in result.stderr
    assert "Call emergency services now, on 999." in result.lines
    assert path.stat().st_size < 200_000
    assert "cut" in result.stderr


def test_closed_stdin(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    proc = subprocess.run(command(path), stdin=subprocess.DEVNULL, capture_output=True, cwd=ROOT,
                          env=env_for(tmp_path), timeout=60, check=False, close_fds=True,
                          preexec_fn=lambda: os.close(0))
    stdout = proc.stdout.decode()
    assert "Traceback" not in proc.stderr.decode(), proc.stderr
    assert "Take care. Goodbye." in stdout
    assert "contact a doctor or an urgent care service today" in stdout
    assert read_events(path)[-1]["event"] == "end"


def test_broken_pipe(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    shell = f"yes no | head -c 3000 | {' '.join(command(path))} | head -1"
    proc = subprocess.run(["bash", "-c", shell + "; echo ${PIPESTATUS[2]} >&2"], capture_output=True, cwd=ROOT,
                          env=env_for(tmp_path), timeout=60, check=False)
    err = proc.stderr.decode()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.stdout.decode().startswith("Hello.")
    assert err.strip().splitlines()[-1] == "1"  # the assistant's own exit status: output failed
    events = read_events(path)
    assert events[-1]["event"] == "end"


def test_output_to_a_full_disk(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(command(path), input=b"no\n", stdout=full, stderr=subprocess.PIPE, cwd=ROOT,
                              env=env_for(tmp_path), timeout=60, check=False)
    err = proc.stderr.decode()
    assert "Traceback" not in err, err
    assert proc.returncode == 1
    assert "cannot write the output" in err
    assert [line for line in err.splitlines() if line.startswith("tingle:")] == [
        "tingle: the output could not be written (No space left on device)."]
    events = read_events(path)
    assert events[-1]["event"] == "end" and events[-1]["how"] == "output failed", events[-1]
    assert [e["heard"] for e in events if e["event"] == "turn"][-1] == "(output failed)"  # not "end of input"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT])
def test_signals_give_the_safety_net_and_the_end_event(tmp_path: Path, sig: signal.Signals) -> None:
    path = tmp_path / "t.jsonl"
    proc = subprocess.Popen(command(path), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=env_for(tmp_path))
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"no\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    seen = b""
    while b"walking become newly hard" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    text = (seen + out).decode()
    assert proc.returncode == (128 + sig if sig != signal.SIGINT else 130)
    assert "Traceback" not in err.decode(), err
    assert "contact a doctor or an urgent care service today" in text
    assert "Take care. Goodbye." in text
    end = read_events(path)[-1]
    assert end["event"] == "end" and str(end["how"]).startswith("interrupted: ")


# ----------------------------------------------------------------------------------------- the transcript
def test_unwritable_transcript_still_gives_the_conversation(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    path = blocker / "t.jsonl"
    result = run_text(path, ["yes"], tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert any(line.startswith(f"cannot write the transcript at {path}") for line in result.lines), result.stdout
    assert "Call emergency services now, on 999." in result.lines
    assert "(No transcript was saved.)" in result.stderr


def _limit_file_size(limit: int) -> object:
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE to fill the 'disk'")
def test_transcript_write_failure_still_gives_the_advice(tmp_path: Path) -> None:
    full = run_text(tmp_path / "full.jsonl", ["yes"], tmp_path)
    assert full.returncode == 0
    first_two = sum(len(line) + 1 for line in (tmp_path / "full.jsonl").read_bytes().split(b"\n")[:2])
    # The 'disk' fills up right after the first question was logged (-B: no .pyc files are written).
    result = run_text(tmp_path / "t.jsonl", ["yes"], tmp_path, python_flags=("-B",),
                      preexec_fn=_limit_file_size(first_two))
    assert "Traceback" not in result.stderr, result.stderr
    assert "Call emergency services now, on 999." in result.lines, result.stdout
    assert result.returncode == 1
    assert "incomplete" in result.stderr


def test_check_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    # `tingle check | head -1`: the reader is gone before the report is written.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "assistant", "check"], stdin=subprocess.DEVNULL,
                              stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, env=env_for(tmp_path),
                              timeout=60, check=False)
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 128 + signal.SIGPIPE


# ----------------------------------------------------------------------------------------- option values
@pytest.mark.parametrize(("args", "named"), [
    (["--volume", "nan"], "--volume: 'nan' is out of range: use a number from 0 to 1"),
    (["--volume", "inf"], "--volume: 'inf' is out of range"),
    (["--volume", "-0.5"], "--volume: '-0.5' is out of range: use a number from 0 to 1"),
    (["--volume", "1.01"], "--volume: '1.01' is out of range"),
    (["--volume", "loud"], "--volume: 'loud' is not a number from 0 to 1"),
    (["--rate", "0"], "--rate: '0' is out of range: use a whole number from 100 to 275"),
    (["--rate", "-175"], "--rate: '-175' is out of range"),
    (["--rate", "9999"], "--rate: '9999' is out of range"),
    (["--rate", "nan"], "--rate: 'nan' is not a whole number from 100 to 275"),
    (["listen", "--volume", "nan"], "--volume: 'nan' is out of range"),
    (["listen", "--rate", "50"], "--rate: '50' is out of range"),
    (["listen", "--wake-cutoff", "nan"], "--wake-cutoff: 'nan' is out of range: use a number between 0 and 1"),
    (["listen", "--wake-cutoff", "-0.2"], "--wake-cutoff: '-0.2' is out of range"),
    (["listen", "--wake-cutoff", "1"], "--wake-cutoff: '1' is out of range"),
    (["listen", "--wake-cutoff", "0"], "--wake-cutoff: '0' is out of range"),
    (["listen", "--simulate-echo", "nan"], "--simulate-echo: 'nan' is out of range: use a number from -60 to 20"),
    (["listen", "--simulate-echo=-inf"], "--simulate-echo: '-inf' is out of range"),
    (["listen", "--simulate-echo", "-100"], "--simulate-echo: '-100' is out of range"),
    (["listen", "--simulate-echo", "40"], "--simulate-echo: '40' is out of range"),
])
def test_option_values_out_of_range_are_refused_with_the_option_and_its_range(
        args: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    """nan, inf and negatives were taken (`--volume nan` reached the synthesizer)."""
    from assistant.app import cli

    with pytest.raises(SystemExit) as stopped:
        cli.main([*args, "--text"] if args[0] != "listen" else args)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {named}" in err, err
    assert "Traceback" not in err


def test_option_values_in_range_are_taken() -> None:
    from assistant.app import cli
    from assistant.app.resident import listen_parser
    from assistant.speech.speaker import MAX_RATE, MIN_RATE

    assert cli.RATE_RANGE == (MIN_RATE, MAX_RATE)
    run = cli._run_parser().parse_args(["--rate", "100", "--volume", "0"])
    assert (run.rate, run.volume) == (100, 0.0)
    listen = listen_parser().parse_args(["--rate", "275", "--volume", "1", "--wake-cutoff", "0.35",
                                         "--simulate-echo", "-6"])
    assert (listen.rate, listen.volume, listen.wake_cutoff, listen.simulate_echo) == (275, 1.0, 0.35, -6.0)


def test_a_folder_as_the_input_is_refused_with_a_message(tmp_path: Path) -> None:
    """Python cannot even start with a folder on stdin (a fatal error, no message): scripts/run says so first."""
    folder = os.open(tmp_path, os.O_RDONLY)
    try:
        proc = subprocess.run([str(ROOT / "scripts" / "run"), "--text"], stdin=folder, capture_output=True,
                              cwd=ROOT, env=env_for(tmp_path), timeout=60, check=False)
    finally:
        os.close(folder)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Fatal Python error" not in err, err
    assert err.strip().splitlines() == [
        "tingle: the input is a folder, not typed answers or a terminal; run it without '<' or give a text file."]
