"""bench.phrasings' refusal list, on hand-written rows (the measurement itself is a benchmark run)."""

from __future__ import annotations

from bench.phrasings import refused_clean


def row(phrase: str, got: str | None, texts: list[str], condition: str = "clean", rejected: str = "") -> dict:
    return {"phrase": phrase, "intent": "no", "voice": "v1", "condition": condition, "system": "ours", "got": got,
            "text": texts[0], "rejected": rejected, "readings": [{"text": t} for t in texts]}


def test_each_clean_miss_is_listed_with_what_was_heard_and_why() -> None:
    rows = [row("nah", None, ["not", "not"]), row("no never", None, ["no never", "no never"], rejected="two answers"),
            row("no", "no", ["no", "no"]), row("nope", None, ["-", "-"], condition="pink10")]
    lines = refused_clean(rows)
    assert lines == ["- **nah** (no): v1: 'not | not' (not heard)",
                     "- **no never** (no): v1: 'no never | no never' (heard, refused: two answers)"]
    assert refused_clean([row("no", "no", ["no"])]) == []
