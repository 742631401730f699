"""Random conversations (hypothesis): any mix of answers, doubtful answers, commands, no-match and silence
keeps every invariant of tests/dialogue_support.py, and every conversation ends."""

from __future__ import annotations

from pathlib import Path

from dialogue_support import ACTIONS, check_reply, check_walk, walk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.core.content import EMERGENCY_LEVELS, FLOOR
from assistant.core.dialogue import Dialogue, Kind, Turn
from assistant.core.grammar import COMMAND_INTENTS
from assistant.core.validate import Bundle, load_bundle

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = load_bundle(ROOT / "content", ROOT / "grammars")
ANSWER_INTENTS = sorted({i for t in BUNDLE.grammars.tables.values() if t.name != "commands" for i in t.intents})
QUIET_COMMANDS = [c for c in COMMAND_INTENTS if c not in ("stop", "emergency", "restart")]

turns = st.one_of(
    st.builds(lambda i, u: Turn(intent=i, text=i, uncertain=u, confidence=0.3 if u else 1.0),
              st.sampled_from(ANSWER_INTENTS), st.booleans()),
    st.builds(lambda i: Turn(intent=i, text=i), st.sampled_from(QUIET_COMMANDS)),
    st.just(Turn(intent=None, text="banana")),
    st.just(Turn(intent=None, silence=True)),
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def play(bundle: Bundle, script: list[Turn], then: Turn | None = None) -> object:
    """Play `script`; when it runs out, `then` (default: stop, as at end of input)."""
    queue = list(script)

    def policy(dialogue: Dialogue) -> Turn:
        return queue.pop(0) if queue else (then or Turn(intent="stop", text="(end of input)"))

    return walk(bundle, policy)


@SETTINGS
@given(st.lists(turns, max_size=60))
def test_random_conversations_keep_every_invariant(script: list[Turn]) -> None:
    check_walk(BUNDLE, play(BUNDLE, script))  # type: ignore[arg-type]


@SETTINGS
@given(st.lists(turns, max_size=40), st.sampled_from(["emergency", "stop"]))
def test_emergency_and_stop_close_at_once_with_the_right_words(script: list[Turn], command: str) -> None:
    dialogue = Dialogue(BUNDLE.content, BUNDLE.grammars, region="GB")
    reply = dialogue.start()
    for turn in script:
        if reply.ended:
            break
        reply = dialogue.handle(turn)
    if reply.ended:
        return
    reply = dialogue.handle(Turn(intent=command, text=command))
    check_reply(BUNDLE, reply)
    assert reply.ended
    if command == "emergency":
        assert reply.utterances[0].kind is Kind.EMERGENCY
        assert any(a in " ".join(reply.utterances[0].text.split()[:10]) for a in ACTIONS)
    else:
        content = BUNDLE.content
        state = dialogue.state
        answers = dict(state.answers)
        unresolved = dialogue.triage.unresolved(answers, state.gaps, finished=False)
        if state.final_level not in EMERGENCY_LEVELS and any(
                content.rank(dialogue.triage.potential(q, answers, state.gaps)) <= content.rank(FLOOR)
                for q in unresolved):
            assert content.rank(reply.level) <= content.rank(FLOOR)


@SETTINGS
@given(st.lists(st.builds(lambda i, u: Turn(intent=i, text=i, uncertain=u), st.sampled_from(ANSWER_INTENTS),
                          st.booleans()), max_size=120))
def test_answers_alone_always_end_the_conversation(script: list[Turn]) -> None:
    result = play(BUNDLE, script, then=Turn(intent=None, text="banana"))
    check_walk(BUNDLE, result)  # type: ignore[arg-type]


@SETTINGS
@given(st.lists(turns, max_size=30))
def test_a_yes_or_unsure_that_reaches_emergency_care_is_followed_by_the_action(script: list[Turn]) -> None:
    dialogue = Dialogue(BUNDLE.content, BUNDLE.grammars, region="US")
    reply = dialogue.start()
    for turn in script:
        if reply.ended:
            break
        reply = dialogue.handle(turn)
        check_reply(BUNDLE, reply)
        if reply.ended and reply.level in EMERGENCY_LEVELS and turn.intent in ("yes", "unsure", "emergency"):
            first = reply.utterances[0]
            assert first.kind is Kind.EMERGENCY, reply
            assert first.text.split()[:4] in (["Call", "emergency", "services", "now,"],
                                              ["Go", "to", "the", "emergency"])


def test_turns_after_the_end_are_ignored() -> None:
    dialogue = Dialogue(BUNDLE.content, BUNDLE.grammars)
    dialogue.start()
    dialogue.handle(Turn(intent="emergency", text="emergency"))
    reply = dialogue.handle(Turn(intent="yes", text="yes"))
    assert reply.ended and reply.utterances == ()
