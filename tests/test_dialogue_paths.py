"""Exhaustive exploration of the dialogue over every answer class, including unsure, no-match and silence.

The engine is pure and its State immutable, so we explore its state space: from every reachable state we
try every kind of turn and check the safety invariants on each transition.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import pytest

from assistant.content import NodeType
from assistant.dialogue import MAX_FAILURES, Dialogue, Kind, Phase, Reply, State, Turn
from assistant.validate import Bundle


def _turns(dialogue: Dialogue) -> list[Turn]:
    """Every kind of turn the current prompt can get: each answer, doubtful answers, no-match, silence."""
    listener = dialogue.listener()
    assert listener is not None
    turns = [Turn(intent=i, text=i) for i in listener.answer_intents]
    turns += [Turn(intent=i, text=i, uncertain=True, confidence=0.4) for i in listener.answer_intents]
    turns += [Turn(intent=None, text="banana"), Turn(intent=None, text="", silence=True)]
    return turns


def _key(state: State) -> tuple[object, ...]:
    return (state.node, state.phase, state.failures, state.disposition, state.causes, state.emergency_command)


@dataclass
class Exploration:
    transitions: list[tuple[State, Turn, Reply, State]]
    states: dict[tuple[object, ...], State]


@pytest.fixture(scope="module")
def explored(bundle: Bundle) -> Exploration:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    first = dialogue.start()
    assert not first.ended
    start = dialogue.state
    states = {_key(start): start}
    queue = deque([start])
    transitions = []
    while queue:
        state = queue.popleft()
        dialogue.state = state
        for turn in _turns(dialogue):
            dialogue.state = state
            reply = dialogue.handle(turn)
            after = dialogue.state
            transitions.append((state, turn, reply, after))
            if not reply.ended and _key(after) not in states:
                states[_key(after)] = after
                queue.append(after)
    return Exploration(transitions=transitions, states=states)


def test_exploration_is_large_and_finite(explored: Exploration) -> None:
    assert len(explored.states) > 200
    assert len(explored.transitions) > 1000


def test_red_flag_yes_gives_emergency_advice_next(explored: Exploration, bundle: Bundle) -> None:
    seen = 0
    for state, turn, reply, _ in explored.transitions:
        node = bundle.content.nodes[state.node]
        if node.red_flag and state.phase is Phase.ASKING and turn.intent == "yes":
            seen += 1
            assert reply.utterances[0].kind is Kind.EMERGENCY, reply
            assert "Call emergency services now" in reply.utterances[0].text
            assert reply.ended
    assert seen >= 5 * 2  # five red flags, certain and doubtful yes


def test_red_flag_unsure_escalates_and_says_why(explored: Exploration, bundle: Bundle) -> None:
    for state, turn, reply, after in explored.transitions:
        node = bundle.content.nodes[state.node]
        if node.red_flag and turn.intent == "unsure":
            kinds = [u.kind for u in reply.utterances]
            assert kinds[:2] == [Kind.EXPLAIN, Kind.EMERGENCY], kinds
            assert "not sure" in reply.utterances[0].text
            assert after.disposition == "emergency"


def test_doubtful_red_flag_no_is_confirmed(explored: Exploration, bundle: Bundle) -> None:
    for state, turn, reply, after in explored.transitions:
        node = bundle.content.nodes[state.node]
        if node.red_flag and state.phase is Phase.ASKING and turn.intent == "no":
            if turn.uncertain:
                assert after.phase is Phase.CONFIRMING and after.node == node.id
                assert reply.utterances == (reply.utterances[0],)
                assert reply.utterances[0].kind is Kind.CONFIRM
            else:
                assert after.node != node.id


def test_failures_count_every_failed_turn_and_red_flags_fail_safe(explored: Exploration, bundle: Bundle) -> None:
    for state, turn, reply, after in explored.transitions:
        node = bundle.content.nodes[state.node]
        failed = turn.intent is None or (state.phase is Phase.CONFIRMING and turn.intent == "no")
        if not failed:
            continue
        if state.failures + 1 < MAX_FAILURES:
            assert after.node == node.id and after.failures == state.failures + 1
            assert reply.utterances[0].kind in (Kind.REPROMPT, Kind.ACK)
            if turn.intent is None:
                assert after.phase is state.phase
        else:
            assert node.id in after.gaps
            first = reply.utterances[0]
            if node.red_flag:
                assert first.kind is Kind.CONDITIONAL_EMERGENCY
                assert node.topic in first.text and "emergency" in first.text
            else:
                assert first.kind is Kind.ACK


def test_reprompt_lists_expected_answers(explored: Exploration) -> None:
    for *_, reply, _ in explored.transitions:
        if reply.utterances and reply.utterances[0].kind is Kind.REPROMPT:
            text = reply.utterances[0].text
            assert any(choice in text for choice in ("yes, no, or not sure", "arm, leg", "yes or no")), text


def test_every_ending_has_disposition_and_worsening_advice(explored: Exploration, bundle: Bundle) -> None:
    endings = 0
    for _, _, reply, after in explored.transitions:
        if not reply.ended:
            continue
        endings += 1
        kinds = [u.kind for u in reply.utterances]
        assert kinds[-3:] == [Kind.ADVICE, Kind.WORSENING, Kind.GOODBYE], kinds
        advice = bundle.content.dispositions[after.disposition or bundle.content.lowest_disposition()]
        assert " ".join(advice.say) in reply.utterances[-3].text
        assert reply.listener is None
    assert endings > 50


def test_every_state_can_finish_and_failures_alone_finish_quickly(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    reply = dialogue.start()
    questions = sum(1 for n in bundle.content.nodes.values() if n.type is NodeType.QUESTION)
    turns = 0
    while not reply.ended:
        reply = dialogue.handle(Turn(intent=None, text="mumble"))
        turns += 1
        assert turns <= MAX_FAILURES * questions
    assert dialogue.state.disposition is None
    spoken = " ".join(u.text for u in reply.utterances)
    assert "I couldn't get an answer about" in spoken


def test_all_causes_and_remedies_are_spoken_on_some_path(explored: Exploration, bundle: Bundle) -> None:
    spoken = " ".join(u.text for _, _, reply, _ in explored.transitions for u in reply.utterances)
    for cause in bundle.content.causes.values():
        assert " ".join(cause.say) in spoken, cause.id
    remedies = bundle.content.nodes["remedies"]
    assert " ".join(remedies.say) in spoken
    for word in ("ice", "bed", "acetaminophen", "posture", "oatmeal", "yoga", "acupuncture", "massage"):
        assert word in " ".join(remedies.say).lower(), word
    assert " ".join(bundle.content.nodes["prevention"].say) in spoken


def test_emergency_command_at_every_state_gives_emergency_advice_next(explored: Exploration, bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    for state in explored.states.values():
        for text in ("emergency", "I need help now", "call an ambulance"):
            dialogue.state = state
            listener = dialogue.listener()
            assert listener is not None
            intent = listener.match(text)
            assert intent == "emergency"
            reply = dialogue.handle(Turn(intent=intent, text=text))
            assert reply.utterances[0].kind is Kind.EMERGENCY
            assert reply.ended and dialogue.state.disposition == "emergency"


def test_other_commands_at_every_state_keep_the_question(explored: Exploration, bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    for state in explored.states.values():
        for command in ("repeat", "help", "slower", "faster"):
            dialogue.state = state
            reply = dialogue.handle(Turn(intent=command, text=command))
            assert dialogue.state == state, command
            assert reply.utterances and not reply.ended
            assert reply.rate_change == {"slower": -1, "faster": 1}.get(command, 0)
        dialogue.state = state
        help_text = dialogue.handle(Turn(intent="help", text="help")).utterances[0].text
        assert dialogue.listener() is not None and dialogue.listener().choices in help_text


def test_back_undoes_the_last_answer(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    dialogue.start()
    for _ in range(5):
        dialogue.handle(Turn(intent="no", text="no"))
    dialogue.handle(Turn(intent="yes", text="yes"))  # fever -> doctor today
    assert dialogue.state.node == "doc_increasing" and dialogue.state.disposition == "doctor_today"
    reply = dialogue.handle(Turn(intent="back", text="go back"))
    assert dialogue.state.node == "doc_fever"
    assert dialogue.state.disposition is None
    assert ("doc_fever", "yes") not in dialogue.state.answers
    assert reply.utterances[-1].text == bundle.content.nodes["doc_fever"].ask


def test_back_at_first_question_and_restart(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    dialogue.start()
    first = dialogue.state
    reply = dialogue.handle(Turn(intent="back", text="go back"))
    assert dialogue.state == first and "first question" in reply.utterances[0].text
    dialogue.handle(Turn(intent="no", text="no"))
    reply = dialogue.handle(Turn(intent="restart", text="start over"))
    assert dialogue.state.node == first.node and dialogue.state.answers == ()
    assert reply.utterances[0].kind is Kind.ACK


def test_stop_closes_with_summary_and_unchecked_red_flags(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    dialogue.start()
    dialogue.handle(Turn(intent="no", text="no"))
    reply = dialogue.handle(Turn(intent="stop", text="stop"))
    assert reply.ended
    kinds = [u.kind for u in reply.utterances]
    assert Kind.SUMMARY in kinds and Kind.CONDITIONAL_EMERGENCY in kinds
    unchecked = next(u.text for u in reply.utterances if u.kind is Kind.CONDITIONAL_EMERGENCY)
    assert "problems walking" in unchecked and "sudden weakness" not in unchecked


def test_turn_after_end_is_ignored(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    dialogue.start()
    dialogue.handle(Turn(intent="stop", text="stop"))
    reply = dialogue.handle(Turn(intent="yes", text="yes"))
    assert reply.ended and reply.utterances == ()


def test_confirmed_no_moves_on_and_refused_no_asks_again(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    dialogue.start()
    dialogue.handle(Turn(intent="no", text="no", uncertain=True))
    assert dialogue.state.phase is Phase.CONFIRMING
    dialogue.handle(Turn(intent="yes", text="yes"))
    assert dialogue.state.node == "rf_walking" and ("rf_leg_weakness", "no") in dialogue.state.answers
    dialogue.handle(Turn(intent="no", text="no", uncertain=True))
    reply = dialogue.handle(Turn(intent="no", text="no"))
    assert dialogue.state.node == "rf_walking" and dialogue.state.phase is Phase.ASKING
    assert dialogue.state.failures == 1
    assert reply.utterances[-1].text == bundle.content.nodes["rf_walking"].ask


def test_state_is_immutable_snapshot() -> None:
    state = State(node="x")
    with pytest.raises(AttributeError):
        state.node = "y"  # type: ignore[misc]
    assert replace(state, failures=2).failures == 2
