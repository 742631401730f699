"""bench.loudroom's report, on hand-written rows (the measurement itself is a benchmark run)."""

from __future__ import annotations

from bench.loudroom import report


def row(system: str, got: str | None, wait: float, rule: str, phrase: str = "no") -> dict:
    return {"phrase": phrase, "intent": "no", "voice": "v", "condition": "tv10", "system": system, "got": got,
            "text": got or "", "rule": rule, "wait_s": wait}


def test_report_counts_outcomes_dangers_waits_and_changes() -> None:
    rows = [row("ours", "no", 0.7, "settled"), row("without_loud_rules", None, 5.0, "max_length"),
            row("ours", "yes", 0.5, "answer_tail", "nope"), row("without_loud_rules", "yes", 5.5, "max_length", "nope")]
    text = report(rows, ["tv10"], 1)
    assert "| tv10 | ours | 50.0% | 1 | 1 | 0 | 600 | 690 | settled 1, answer_tail 1 |" in text
    assert "| tv10 | without_loud_rules | 0.0% | 1 | 1 | 1 | 5250 |" in text
    assert "| tv10 | 1 | 0 | 0 | 0 | 0 | 0 |" in text  # "no": nothing -> right; "nope": wrong -> wrong
    assert "nope -> yes ('yes')" in text
