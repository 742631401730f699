"""Phrase tables and listeners: what typed or recognized text means, and that nothing is guessed."""

from __future__ import annotations

import pytest

from assistant.grammar import ANSWERS, COMMAND_INTENTS, COMMANDS, Listener, normalize
from assistant.validate import Bundle


@pytest.mark.parametrize(("text", "expected"), [
    ("Yes.", "yes"),
    ("  NO ", "no"),
    ("No!!!", "no"),
    ("I don't know", "i don't know"),
    ("i’m not sure", "i'm not sure"),  # curly apostrophe (U+2019)
    ("I‘m not sure", "i'm not sure"),  # opening curly quote used as an apostrophe (U+2018)
    ("Yes, I have.", "yes i have"),
    ("yes\tI   do\n", "yes i do"),
    ("'yes'", "yes"),
    ("‘Not sure’", "not sure"),
    ("That's right.", "that's right"),
    ("Are you 50 or older?", "are you 50 or older"),
    ("I-don't-know", "i don't know"),
    ("", ""),
    ("   ", ""),
    ("...?!", ""),
    ("'", ""),
    ("' '", ""),
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_is_idempotent(bundle: Bundle) -> None:
    for table in bundle.grammars.tables.values():
        for phrase, _ in table.phrases():
            assert normalize(phrase) == phrase
            assert normalize(normalize(phrase.upper() + ".")) == phrase


@pytest.fixture()
def answers(bundle: Bundle) -> Listener:
    return bundle.grammars.listener(ANSWERS)


@pytest.mark.parametrize(("typed", "intent"), [
    ("Yes.", "yes"),
    ("  NO ", "no"),
    ("I don't know", "unsure"),
    ("i’m not sure", "unsure"),
    ("I'm not sure.", "unsure"),
    ("Not sure", "unsure"),
    ("Yeah", "yes"),
    ("Yes, I have.", "yes"),
    ("Nope.", "no"),
    ("No, I don't", "no"),
    ("no i don’t", "no"),
    ("NEVER", "no"),
    ("Sometimes", "unsure"),
    ("Repeat.", "repeat"),
    ("Help!", "help"),
    ("Go back", "back"),
    ("Start over", "restart"),
    ("Stop.", "stop"),
    ("Slower", "slower"),
    ("Faster", "faster"),
    ("Emergency!", "emergency"),
])
def test_typed_variants(answers: Listener, typed: str, intent: str) -> None:
    assert answers.match(typed) == intent
    # complete-phrase is an end-of-speech hint: only for phrases the recognizer listens for
    assert answers.is_complete_phrase(typed) == (normalize(typed) not in answers.typed_only)


@pytest.mark.parametrize("typed", [
    "yes please", "no idea", "helpful", "i don't", "yes no", "yes yes", "nah", "y", "n", "nope nope",
    "not", "sure", "help me", "emergency services", "go", "back", "stop it", "I need help", "", "   ", "?",
])
def test_out_of_table_text_is_not_guessed(answers: Listener, typed: str) -> None:
    assert answers.match(typed) is None
    assert not answers.is_complete_phrase(typed)


def _question_grammars(bundle: Bundle) -> list[str]:
    return [name for name in bundle.grammars.tables if name != COMMANDS]


def test_there_are_question_grammars_besides_answers(bundle: Bundle) -> None:
    assert ANSWERS in _question_grammars(bundle)
    assert len(_question_grammars(bundle)) >= 2
    used = {n.grammar for n in bundle.content.nodes.values() if n.grammar}
    assert used <= set(_question_grammars(bundle))


def test_commands_are_valid_in_every_listener(bundle: Bundle) -> None:
    commands = bundle.grammars.tables[COMMANDS]
    assert set(commands.intents) == set(COMMAND_INTENTS)
    for name in _question_grammars(bundle):
        listener = bundle.grammars.listener(name)
        for phrase, intent in commands.phrases():
            assert listener.match(phrase) == intent, (name, phrase)
            assert listener.match(phrase.capitalize() + ".") == intent, (name, phrase)
        assert not set(listener.answer_intents) & set(COMMAND_INTENTS), name


@pytest.mark.parametrize("typed", ["I need help now", "i need help now!", "Call an ambulance.", "EMERGENCY",
                                   "This is an emergency."])
def test_emergency_phrases_in_every_listener(bundle: Bundle, typed: str) -> None:
    for name in _question_grammars(bundle):
        assert bundle.grammars.listener(name).match(typed) == "emergency", name


def test_typed_only_phrases_are_matched_but_not_given_to_the_recognizer(bundle: Bundle) -> None:
    answers = bundle.grammars.listener("answers")
    assert answers.match("I'm not sure") == "unsure" and answers.match("No, I haven't") == "no"
    assert "i'm not sure" not in answers.phrases() and "no i haven't" not in answers.phrases()
    spread = bundle.grammars.listener("spread")
    assert spread.match("My hand") == "arm" and "hand" not in spread.phrases()
    assert spread.match("I'm not sure") == "unsure" and "i'm not sure" not in spread.phrases()
    assert "haven't" not in bundle.grammars.all_words()


def test_no_phrase_is_unmatched(bundle: Bundle) -> None:
    """Every phrase of every table is heard as its own intent by the listener of every question using it."""
    commands = bundle.grammars.tables[COMMANDS]
    for name in _question_grammars(bundle):
        table = bundle.grammars.tables[name]
        listener = bundle.grammars.listener(name)
        expected = dict(table.phrases()) | dict(commands.phrases())
        assert dict(listener.table) == expected, name
        spoken = set(expected) - table.typed_only - commands.typed_only
        assert set(listener.phrases()) == spoken, name
        assert not set(listener.phrases()) & table.typed_only, name
        for phrase, intent in expected.items():
            assert listener.match(phrase) == intent, (name, phrase)
        assert listener.answer_intents == tuple(table.intents)
        assert listener.choices == table.description


def test_spread_listener(bundle: Bundle) -> None:
    listener = bundle.grammars.listener("spread")
    assert listener.answer_intents[:4] == ("arm", "leg", "both", "none")
    assert set(listener.answer_intents) == {"arm", "leg", "both", "none", "unsure"}
    cases = {"Shoulder": "arm", "My leg.": "leg", "Both of them": "both", "No": "none", "Neither.": "none",
             "I don't know": "unsure", "Not sure": "unsure", "go back": "back", "yes": None, "my foot": None}
    for typed, intent in cases.items():
        assert listener.match(typed) == intent, typed


def test_included_intents_are_shared(bundle: Bundle) -> None:
    tables = bundle.grammars.tables
    assert tables["spread"].intents["unsure"] == tables[ANSWERS].intents["unsure"]


def test_no_phrase_begins_a_phrase_with_another_meaning(bundle: Bundle) -> None:
    for name in _question_grammars(bundle):
        table = bundle.grammars.listener(name).table
        for phrase, intent in table.items():
            for other, other_intent in table.items():
                if other.startswith(phrase + " "):
                    assert other_intent == intent, (name, phrase, other)


def test_all_words(bundle: Bundle) -> None:
    words = bundle.grammars.all_words()
    for word in ("yes", "no", "sure", "don't", "ambulance", "shoulder", "neither"):
        assert word in words
    assert all(word == normalize(word) and " " not in word for word in words)
