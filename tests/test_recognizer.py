"""Mapping Vosk results to intents: rejection and doubt rules, on hand-written Vosk-shaped results."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.core.validate import Bundle
from assistant.speech.recognizer import interpret


def alt(text: str, score: float, words: list[tuple[str, float, float]] | None = None) -> dict[str, Any]:
    result = [{"word": w, "start": s, "end": e} for w, s, e in (words or [])]
    return {"text": text, "confidence": score, "result": result}


def vosk(*alternatives: dict[str, Any]) -> dict[str, Any]:
    return {"alternatives": list(alternatives)}


@pytest.fixture()
def listener(bundle: Bundle):
    return bundle.grammars.listener("answers")


def test_exact_phrase_is_accepted(listener) -> None:
    result = interpret(vosk(alt("yes", 120.0, [("yes", 0.3, 0.6)])), listener)
    assert (result.intent, result.uncertain, result.confidence) == ("yes", False, 1.0)


def test_unknown_and_fragments_are_no_match(listener) -> None:
    for text in ("[unk]", "yes [unk]", "i no", "need not", "now"):
        result = interpret(vosk(alt(text, 100.0)), listener)
        assert result.intent is None, text
        assert result.rejected


def test_empty_result_is_nothing(listener) -> None:
    assert interpret(vosk(alt("", 50.0)), listener).intent is None
    assert interpret({"alternatives": []}, listener).intent is None
    assert interpret({"text": ""}, listener).intent is None


def test_plain_result_without_alternatives(listener) -> None:
    result = interpret({"text": "not sure", "result": []}, listener)
    assert result.intent == "unsure" and not result.uncertain


def test_word_stretched_too_long_is_noise(listener) -> None:
    result = interpret(vosk(alt("help", 90.0, [("help", 0.2, 5.6)])), listener)
    assert result.intent is None and "too long" in result.rejected


def test_close_alternative_with_other_meaning_is_doubt(listener) -> None:
    result = interpret(vosk(alt("no", 100.0), alt("yes", 99.0)), listener)
    assert result.intent == "no" and result.uncertain and 0.0 <= result.confidence < 0.5


def test_close_unknown_or_empty_alternative_is_doubt(listener) -> None:
    assert interpret(vosk(alt("no", 100.0), alt("[unk]", 98.4)), listener).uncertain
    assert interpret(vosk(alt("no", 100.0), alt("", 98.1)), listener).uncertain


def test_nothing_nearly_as_likely_means_noise(listener) -> None:
    result = interpret(vosk(alt("not at all", 39.711), alt("", 39.639), alt("[unk]", 38.554)), listener)
    assert result.intent is None and "noise" in result.rejected
    doubtful = interpret(vosk(alt("maybe", 60.3), alt("[unk]", 59.0)), listener)
    assert (doubtful.intent, doubtful.uncertain) == ("unsure", True)  # not yes/no: doubted, not dropped


def test_safe_side_intents_survive_stray_words(listener) -> None:
    for text in ("[unk] need help now", "them call an ambulance", "[unk] i need help now", "emergency [unk]"):
        result = interpret(vosk(alt(text, 80.0)), listener)
        assert (result.intent, result.uncertain) == ("emergency", True), text
    assert interpret(vosk(alt("i not sure", 80.0)), listener).intent == "unsure"  # a phrase of its own
    for text in ("[unk] no", "no [unk]", "them yes", "yes them", "[unk] not sure", "yes maybe"):
        assert interpret(vosk(alt(text, 80.0)), listener).intent is None, text


def test_homophone_tie_takes_the_phrase(listener) -> None:
    result = interpret(vosk(alt("know", 112.197), alt("no", 112.197)), listener)
    assert (result.intent, result.text) == ("no", "no")
    assert interpret(vosk(alt("know", 112.197), alt("no", 111.0)), listener).intent is None


def test_far_or_same_meaning_alternatives_are_not_doubt(listener) -> None:
    assert not interpret(vosk(alt("no", 100.0), alt("yes", 95.0)), listener).uncertain
    assert not interpret(vosk(alt("no", 100.0), alt("nope", 99.9)), listener).uncertain
    # a fragment that means nothing ("i no") is not a competing answer
    assert not interpret(vosk(alt("no", 100.0), alt("i no", 99.9)), listener).uncertain


def test_commands_are_understood_at_any_question(bundle: Bundle) -> None:
    spread = bundle.grammars.listener("spread")
    assert interpret(vosk(alt("i need help now", 150.0)), spread).intent == "emergency"
    assert interpret(vosk(alt("leg", 150.0)), spread).intent == "leg"
    assert interpret(vosk(alt("yes", 150.0)), spread).intent is None
