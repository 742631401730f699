"""End to end in text mode: `python -m assistant --text` as a subprocess, typed answers on stdin."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.content import NodeType
from assistant.validate import Bundle

ROOT = Path(__file__).resolve().parent.parent
TURN_FIELDS = {"time", "node", "said", "heard", "intent", "confidence", "uncertain", "decision", "content_version"}
ANSI = re.compile(r"\x1b|\x9b")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    lines: list[str]
    """stdout, one printed line each."""


def run_text(transcript: Path, typed: list[str] | str, tmp_path: Path, *, python_flags: tuple[str, ...] = (),
             preexec_fn: object = None) -> Result:
    stdin = typed if isinstance(typed, str) else "".join(f"{line}\n" for line in typed)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("TERM", None)
    result = subprocess.run([sys.executable, *python_flags, "-m", "assistant", "--text", "--transcript",
                             str(transcript)], input=stdin, capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=60, check=False, preexec_fn=preexec_fn)  # type: ignore[arg-type]
    return Result(result.returncode, result.stdout, result.stderr, result.stdout.splitlines())


def read_events(path: Path) -> list[dict[str, object]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def question(bundle: Bundle, node: str) -> str:
    return bundle.content.nodes[node].ask


def first_question(bundle: Bundle) -> str:
    node = bundle.content.nodes[bundle.content.start]
    while node.type is not NodeType.QUESTION:
        node = bundle.content.nodes[node.next or ""]
    return node.id


def assert_closed(result: Result, bundle: Bundle) -> None:
    t = bundle.content.templates
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert any(line.startswith(t["summary_intro"]) for line in result.lines), result.stdout
    assert result.lines[-1] == t["goodbye"]
    assert "Goodbye" in result.lines[-1]
    assert result.lines[-2] == " ".join(bundle.content.worsening)
    assert result.lines[-3].startswith(t["summary_advice"].format(advice=""))


# ------------------------------------------------------------------------------------------ (a)
def test_first_answer_yes_gives_emergency_advice_next(tmp_path: Path, bundle: Bundle) -> None:
    path = tmp_path / "t.jsonl"
    result = run_text(path, ["yes"], tmp_path)
    first = question(bundle, first_question(bundle))
    at = result.lines.index(first)
    assert "Call emergency services now" in result.lines[at + 1]
    assert result.lines[at + 1] == " ".join(bundle.content.nodes["emergency"].say)
    assert_closed(result, bundle)
    advice = " ".join(bundle.content.dispositions["emergency"].say)
    assert result.lines[-3] == bundle.content.templates["summary_advice"].format(advice=advice)
    assert any("You said yes to:" in line for line in result.lines)
    assert f"(Transcript saved to {path})" in result.stderr
    assert read_events(path)[-1]["disposition"] == "emergency"


# ------------------------------------------------------------------------------------------ (b)
@dataclass
class Plan:
    """A full path through the content, worked out from the content itself (not from the engine)."""

    typed: list[str]
    intents: list[str]
    questions: list[str]
    causes: list[str]
    disposition: str
    infos: list[str]


def plan_full_path(bundle: Bundle) -> Plan:
    """Say 'no' to every red flag, 'both' where the tingling spreads, and 'yes' to everything else."""
    content, grammars = bundle.content, bundle.grammars
    plan = Plan([], [], [], [], content.lowest_disposition(), [])
    node = content.nodes[content.start]
    disposition: str | None = None
    while node.type is not NodeType.END:
        if node.type is NodeType.QUESTION:
            intents = grammars.tables[node.grammar].intents
            intent = "no" if node.red_flag else ("both" if "both" in intents else "yes")
            phrases = intents[intent]
            phrase = phrases[len(plan.typed) % len(phrases)]
            plan.typed.append(phrase.capitalize() + "." if len(plan.typed) % 2 else f"  {phrase.upper()} ")
            plan.intents.append(intent)
            plan.questions.append(node.id)
            answer = node.on[intent]
            plan.causes += [c for c in answer.causes if c not in plan.causes]
            disposition = content.more_urgent(disposition, answer.disposition)
            node = content.nodes[answer.next]
        else:
            if node.type is NodeType.INFO:
                plan.infos.append(node.id)
                disposition = content.more_urgent(disposition, node.disposition)
            node = content.nodes[node.next or ""]
    plan.disposition = disposition or content.lowest_disposition()
    return plan


def test_full_path(tmp_path: Path, bundle: Bundle) -> None:
    content = bundle.content
    plan = plan_full_path(bundle)
    assert "remedies" in plan.infos and "prevention" in plan.infos
    assert set(plan.causes) == set(content.causes), "the path should reach every cause"
    path = tmp_path / "sub" / "t.jsonl"
    result = run_text(path, plan.typed, tmp_path)
    assert_closed(result, bundle)
    # every question was asked once, in order, and never re-asked (no reprompts)
    asked = [line for line in result.lines if line in {content.nodes[q].ask for q in plan.questions}]
    assert asked == [content.nodes[q].ask for q in plan.questions]
    assert not any(line.startswith("Sorry") for line in result.lines)
    # the possible causes, in the order the answers raised them, then the general advice
    causes_node = next(n for n in content.nodes.values() if n.type is NodeType.CAUSES)
    causes_line = " ".join([*causes_node.intro, *(s for c in plan.causes for s in content.causes[c].say),
                            *causes_node.general])
    assert causes_line in result.lines
    for cause in content.causes.values():
        assert f"One possibility is {cause.name}" in result.stdout or cause.say[0] in result.stdout
    # the remedies and prevention tips, each as one printed line
    for info in ("remedies", "prevention"):
        assert " ".join(content.nodes[info].say) in result.lines
    for word in ("ice", "acetaminophen", "posture", "oatmeal", "yoga", "acupuncture", "massage"):
        assert word in " ".join(content.nodes["remedies"].say).lower()
    # the summary and the final advice
    names = [content.causes[c].name for c in plan.causes]
    assert any(line.startswith("Here is a short summary") and all(n in line for n in names) for line in result.lines)
    advice = " ".join(content.dispositions[plan.disposition].say)
    assert result.lines[-3] == content.templates["summary_advice"].format(advice=advice)
    assert plan.disposition == "doctor_today"
    assert not any("We didn't finish the safety questions" in line for line in result.lines)
    # the transcript: JSONL, one event per line, private, every turn with its fields
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    events = read_events(path)
    assert [e["event"] for e in events] == ["session", "start", *["turn"] * len(plan.typed), "end"]
    turns = [e for e in events if e["event"] == "turn"]
    for event, typed, intent, node in zip(turns, plan.typed, plan.intents, plan.questions, strict=True):
        assert set(event) >= TURN_FIELDS, TURN_FIELDS - set(event)
        assert event["content_version"] == content.version
        assert (event["heard"], event["intent"], event["node"]) == (typed.strip(), intent, node)
        assert event["confidence"] == 1.0 and event["uncertain"] is False
        assert isinstance(event["decision"], str) and event["decision"].startswith(f"answer {intent!r}")
        assert isinstance(event["said"], list) and event["said"]
    assert all(e["content_version"] == content.version for e in events)
    spoken = [u["text"] for e in events if "said" in e for u in e["said"]]  # type: ignore[union-attr]
    assert spoken == result.lines
    assert events[-1]["disposition"] == plan.disposition


# ------------------------------------------------------------------------------------------ (c)
def test_end_of_input_mid_session_closes_cleanly(tmp_path: Path, bundle: Bundle) -> None:
    path = tmp_path / "t.jsonl"
    result = run_text(path, ["no"], tmp_path)
    assert_closed(result, bundle)
    assert bundle.content.templates["stop"] in result.lines
    warning = next(line for line in result.lines if line.startswith("We didn't finish the safety questions"))
    rf = [n for n in bundle.content.nodes.values() if n.red_flag]
    assert rf[0].topic not in warning and all(n.topic in warning for n in rf[1:])
    events = read_events(path)
    assert events[-2]["note"] == "end of input; closing with the summary"
    assert events[-1]["event"] == "end"


def test_empty_input_closes_cleanly(tmp_path: Path, bundle: Bundle) -> None:
    result = run_text(tmp_path / "t.jsonl", "", tmp_path)
    assert_closed(result, bundle)
    warning = next(line for line in result.lines if line.startswith("We didn't finish the safety questions"))
    assert all(n.topic in warning for n in bundle.content.nodes.values() if n.red_flag)


def test_end_of_input_without_final_newline(tmp_path: Path, bundle: Bundle) -> None:
    result = run_text(tmp_path / "t.jsonl", "yes", tmp_path)
    assert_closed(result, bundle)
    assert any("Call emergency services now" in line for line in result.lines[:4])


# ------------------------------------------------------------------------------------------ (d)
def test_garbage_reprompts_then_conditional_emergency(tmp_path: Path, bundle: Bundle) -> None:
    t = bundle.content.templates
    first = bundle.content.nodes[first_question(bundle)]
    choices = bundle.grammars.tables[first.grammar].description
    result = run_text(tmp_path / "t.jsonl", ["banana", "", "Yes please"], tmp_path)
    at = result.lines.index(first.ask)
    assert result.lines[at + 1:at + 5] == [t["reprompt"].format(choices=choices), first.ask,
                                           t["silence"].format(choices=choices), first.ask]
    assert "yes, no, or not sure" in result.lines[at + 1]
    conditional = result.lines[at + 5]
    assert conditional == t["conditional_emergency"].format(topic=first.topic)
    assert f"If you have {first.topic}, get emergency help now" in conditional
    assert_closed(result, bundle)
    assert any(f"I couldn't get an answer about: {first.note}" in line for line in result.lines)


def test_garbage_at_the_spread_question_lists_its_answers(tmp_path: Path, bundle: Bundle) -> None:
    plan = plan_full_path(bundle)
    before = plan.questions.index("spread")
    result = run_text(tmp_path / "t.jsonl", [*plan.typed[:before], "my foot"], tmp_path)
    at = result.lines.index(question(bundle, "spread"))
    assert result.lines[at + 1] == "Sorry, I didn't catch that. Please say arm, leg, both places, or neither."
    assert result.lines[at + 2] == question(bundle, "spread")
    assert_closed(result, bundle)


def test_commands_in_text_mode(tmp_path: Path, bundle: Bundle) -> None:
    t = bundle.content.templates
    first = question(bundle, first_question(bundle))
    result = run_text(tmp_path / "t.jsonl", ["Help", "repeat", "slower", "No.", "go back", "I need help now"],
                      tmp_path)
    assert t["help"].format(choices="yes, no, or not sure") in result.lines
    assert result.lines.count(first) >= 4
    assert t["slower"] in result.lines and t["back"] in result.lines
    at = result.lines.index(t["back"])
    assert result.lines[at + 1] == first
    assert result.lines[at + 2] == " ".join(bundle.content.dispositions["emergency"].say)
    assert_closed(result, bundle)


# ------------------------------------------------------------------------------------------ (e)
@pytest.mark.parametrize("typed", [["yes"], ["banana", "help", "no", "no", "stop"], []], ids=["yes", "mixed", "eof"])
def test_no_ansi_escape_codes(tmp_path: Path, typed: list[str]) -> None:
    result = run_text(tmp_path / "t.jsonl", typed, tmp_path)
    assert result.returncode == 0
    assert not ANSI.search(result.stdout) and not ANSI.search(result.stderr)
    assert "> " not in result.stdout  # no prompt marker when stdin is not a terminal


# ------------------------------------------------------------------------------------------ (f)
def test_unwritable_transcript_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    path = blocker / "t.jsonl"
    result = run_text(path, ["yes"], tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"tingle: cannot write the transcript at {path}")
    assert "--transcript" in lines[0]
    assert result.stdout == ""


def test_transcript_path_that_is_a_folder(tmp_path: Path) -> None:
    result = run_text(tmp_path, ["yes"], tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"tingle: cannot write the transcript at {tmp_path}: Is a directory. "
        "Choose a writable place with --transcript PATH."]


def _limit_file_size(limit: int) -> object:
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE to fill the 'disk'")
def test_transcript_write_failure_still_gives_the_advice(tmp_path: Path, bundle: Bundle) -> None:
    full = run_text(tmp_path / "full.jsonl", ["yes"], tmp_path)
    assert full.returncode == 0
    first_two = sum(len(line) + 1 for line in (tmp_path / "full.jsonl").read_bytes().split(b"\n")[:2])
    # The 'disk' fills up right after the first question was logged (-B: no .pyc files are written).
    result = run_text(tmp_path / "t.jsonl", ["yes"], tmp_path, python_flags=("-B",),
                      preexec_fn=_limit_file_size(first_two))
    assert "Traceback" not in result.stderr, result.stderr
    assert any("Call emergency services now" in line for line in result.lines), result.stdout
