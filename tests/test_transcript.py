"""The transcript: a private (0600) JSONL audit log, one event per line, on disk as soon as it happens."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.app.transcript import Transcript, default_path
from assistant.core.dialogue import Dialogue, Turn
from assistant.core.validate import Bundle
from assistant.errors import AssistantError


@pytest.fixture()
def umask_zero() -> Iterator[None]:
    """Run with umask 0, the worst case: nothing is masked off the modes the code asks for."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.usefixtures("umask_zero")
def test_mode_0600_even_with_umask_zero(tmp_path: Path) -> None:
    path = tmp_path / "state" / "tingle" / "transcripts" / "s.jsonl"
    with Transcript(path, "v1") as transcript:
        transcript.event("session")
        assert mode(path) == 0o600
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


@pytest.mark.usefixtures("umask_zero")
def test_new_file_is_never_readable_by_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is created 0600, not made private afterwards (no window where others can open it)."""
    monkeypatch.setattr(os, "fchmod", lambda fd, mode: None)
    path = tmp_path / "s.jsonl"
    with Transcript(path, "v1"):
        assert mode(path) == 0o600


@pytest.mark.usefixtures("umask_zero")
def test_existing_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("", encoding="utf-8")
    path.chmod(0o666)
    with Transcript(path, "v1") as transcript:
        transcript.event("session")
    assert mode(path) == 0o600


def test_appends_and_never_truncates(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with Transcript(path, "v1") as transcript:
        transcript.event("one", n=1)
    with Transcript(path, "v2") as transcript:
        transcript.event("two", n=2)
        transcript.event("three", n=3)
    events = lines(path)
    assert [(e["event"], e["n"], e["content_version"]) for e in events] == [("one", 1, "v1"), ("two", 2, "v2"),
                                                                             ("three", 3, "v2")]


def test_each_line_is_json_and_on_disk_before_close(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    transcript = Transcript(path, "v1").open()
    try:
        for n in range(5):
            transcript.event("tick", n=n, text="naïve “quotes”\nand a newline")
            text = path.read_text(encoding="utf-8")  # read by another handle, before close
            assert text.endswith("\n") and text.count("\n") == n + 1
            record = json.loads(text.splitlines()[-1])
            assert record["n"] == n and record["text"] == "naïve “quotes”\nand a newline"
            assert record["event"] == "tick" and record["content_version"] == "v1"
            assert datetime.fromisoformat(str(record["time"])).tzinfo is not None
    finally:
        transcript.close()
    transcript.close()  # safe twice


def test_turn_records_what_was_heard_and_decided(tmp_path: Path, bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    path = tmp_path / "s.jsonl"
    with Transcript(path, bundle.content.version) as transcript:
        first = dialogue.start()
        transcript.turn(None, first, at_node="opening")
        at = first.node
        turn = Turn(intent="no", text="No.", confidence=0.81234, uncertain=True)
        reply = dialogue.handle(turn)
        transcript.turn(turn, reply, at_node=at, audio={"ms": 900})
    start, event = lines(path)
    assert start["event"] == "start" and "heard" not in start
    assert event["event"] == "turn"
    assert {"time", "node", "said", "heard", "intent", "confidence", "uncertain", "decision",
            "content_version"} <= set(event)
    assert (event["node"], event["heard"], event["intent"]) == (at, "No.", "no")
    assert (event["confidence"], event["uncertain"], event["silence"]) == (0.812, True, False)
    assert event["decision"] == reply.decision and event["next_node"] == reply.node
    assert event["said"] == [{"node": u.node, "kind": u.kind.value, "text": u.text} for u in reply.utterances]
    assert event["content_version"] == bundle.content.version
    assert event["audio"] == {"ms": 900} and event["ended"] is False


def test_unwritable_place_is_an_assistant_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(AssistantError, match="cannot write the transcript") as caught:
        Transcript(blocker / "s.jsonl", "v1").open()
    assert "--transcript" in str(caught.value)


NAME = re.compile(r"session-(\d{8}-\d{6}\.\d{6})-(\d+)-([0-9a-f]{8})\.jsonl")


def test_default_path_honours_xdg_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    now = datetime(2026, 11, 25, 13, 4, 5, 123456, tzinfo=UTC).timestamp()
    path = default_path(now)
    assert path.parent == tmp_path / "xdg" / "tingle" / "transcripts"
    match = NAME.fullmatch(path.name)
    assert match is not None, path.name
    assert match.group(1) == "20261125-130405.123456" and match.group(2) == str(os.getpid())


@pytest.mark.parametrize("value", [None, ""])
def test_default_path_without_xdg_state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", value)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = default_path(0.0)
    assert path.parent == tmp_path / ".local" / "state" / "tingle" / "transcripts"
    assert path.name.startswith("session-19700101-000000.000000-")


def test_default_path_uses_utc_now(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    before = datetime.now(UTC)
    name = default_path().name
    after = datetime.now(UTC)
    match = NAME.fullmatch(name)
    assert match is not None, name
    stamp = datetime.strptime(match.group(1), "%Y%m%d-%H%M%S.%f").replace(tzinfo=UTC)
    assert before <= stamp <= after
