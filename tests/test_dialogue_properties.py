"""Property tests of the dialogue engine: random turn sequences, safety invariants checked on every step.

Complements the exhaustive exploration in test_dialogue_paths.py, which never mixes in commands (back,
restart, repeat, help, ...) or random text: here hypothesis draws long, arbitrary conversations.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.content import NodeType
from assistant.dialogue import MAX_FAILURES, Dialogue, Kind, Phase, Reply, Turn
from assistant.grammar import COMMAND_INTENTS, COMMANDS
from assistant.validate import Bundle, load_bundle

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = load_bundle(ROOT / "content", ROOT / "grammars")  # strategies are built at import time
CONTENT = BUNDLE.content
QUESTIONS = [n for n in CONTENT.nodes.values() if n.type is NodeType.QUESTION]
ANSWER_INTENTS = sorted({i for t in BUNDLE.grammars.tables.values() if t.name != COMMANDS for i in t.intents})
RESPONSE_KINDS = (Kind.PROMPT, Kind.CONFIRM)
"""What a reply that keeps the session open must end with: the question (or its confirmation) to answer."""

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)

confidences = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
answer_turns = st.builds(
    lambda intent, uncertain, confidence: Turn(intent=intent, text=intent, uncertain=uncertain,
                                               confidence=confidence),
    st.sampled_from(ANSWER_INTENTS), st.booleans(), confidences)
command_turns = st.builds(
    lambda intent, uncertain, confidence: Turn(intent=intent, text=intent, uncertain=uncertain,
                                               confidence=confidence),
    st.sampled_from(COMMAND_INTENTS), st.booleans(), confidences)
unmatched_turns = st.builds(
    lambda text, uncertain, confidence: Turn(intent=None, text=text, uncertain=uncertain, confidence=confidence),
    st.text(max_size=30), st.booleans(), confidences)
silent_turns = st.builds(
    lambda uncertain, confidence: Turn(intent=None, text="", silence=True, uncertain=uncertain,
                                       confidence=confidence),
    st.booleans(), confidences)
# Answers are listed twice so that conversations get deep into the content before a command ends them.
any_turn = st.one_of(answer_turns, answer_turns, command_turns, unmatched_turns, silent_turns)
non_command_turn = st.one_of(answer_turns, answer_turns, unmatched_turns, silent_turns)


def _max_non_command_turns() -> int:
    """Most turns the engine can take without commands: per question MAX_FAILURES failed turns, and on a
    red flag every failure can be a doubtful 'no' plus its refused confirmation (two turns each)."""
    return sum(MAX_FAILURES * (2 if q.red_flag else 1) for q in QUESTIONS)


def _check_open(dialogue: Dialogue, reply: Reply) -> None:
    """A reply that keeps the session open listens, and ends with the question the user must answer."""
    assert not reply.ended
    assert reply.listener is not None and reply.listener == dialogue.listener()
    assert reply.utterances, reply.decision
    state = dialogue.state
    node = CONTENT.nodes[state.node]
    assert node.type is NodeType.QUESTION and reply.node == node.id
    assert state.phase in (Phase.ASKING, Phase.CONFIRMING)
    assert 0 <= state.failures < MAX_FAILURES
    last = reply.utterances[-1]
    assert last.kind in RESPONSE_KINDS, (reply.decision, [u.kind for u in reply.utterances])
    expected = node.confirm_no if state.phase is Phase.CONFIRMING else node.ask
    assert (last.node, last.text) == (node.id, expected), reply.decision


def _check_ended(dialogue: Dialogue, reply: Reply) -> None:
    """A closing reply ends with the advice (for the final disposition), worsening advice and goodbye."""
    assert reply.ended and reply.listener is None and dialogue.listener() is None
    kinds = [u.kind for u in reply.utterances]
    assert kinds[-3:] == [Kind.ADVICE, Kind.WORSENING, Kind.GOODBYE], kinds
    disposition = dialogue.state.disposition or CONTENT.lowest_disposition()
    assert " ".join(CONTENT.dispositions[disposition].say) in reply.utterances[-3].text
    assert reply.utterances[-2].text == " ".join(CONTENT.worsening)


class Checker:
    """Drives one dialogue (start, then one turn at a time) and checks every invariant on every step."""

    def __init__(self) -> None:
        self.dialogue = Dialogue(CONTENT, BUNDLE.grammars)
        self.replies: list[Reply] = []
        self.ended_at: int | None = None
        """Index of the turn that ended the session (None: still open)."""
        self.red_flag_accepted = False
        """A red-flag 'yes' (or 'unsure') was taken."""
        reply = self.dialogue.start()
        _check_open(self.dialogue, reply)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def step(self, turn: Turn) -> Reply:
        dialogue = self.dialogue
        before = dialogue.state
        node = CONTENT.nodes[before.node]
        reply = dialogue.handle(turn)  # must never raise
        self.replies.append(reply)
        if self.ended_at is not None:
            assert reply.ended and reply.utterances == () and reply.listener is None
            assert dialogue.state == before, "a turn after the end changed the state"
            return reply
        if node.red_flag and before.phase is Phase.ASKING and turn.intent == "yes":
            self.red_flag_accepted = True
            assert reply.utterances[0].kind is Kind.EMERGENCY, (turn, reply.decision)
            assert reply.ended
        if node.red_flag and turn.intent == "unsure":  # asked, or when asked to confirm a doubtful 'no'
            self.red_flag_accepted = True
            kinds = [u.kind for u in reply.utterances]
            assert kinds[:2] == [Kind.EXPLAIN, Kind.EMERGENCY], (turn, reply.decision, kinds)
            assert reply.ended
        if turn.intent == "emergency":
            assert reply.utterances[0].kind is Kind.EMERGENCY, reply.decision
            assert reply.ended and dialogue.state.disposition == "emergency"
        if reply.ended:
            self.ended_at = len(self.replies) - 1
            _check_ended(dialogue, reply)
            if self.red_flag_accepted:
                assert dialogue.state.disposition == "emergency"
        else:
            _check_open(dialogue, reply)
        return reply


def drive(turns: list[Turn]) -> Checker:
    """Start a dialogue, feed it `turns`, and check every invariant on every step."""
    checker = Checker()
    for turn in turns:
        checker.step(turn)
    return checker


def on_topic(dialogue: Dialogue) -> st.SearchStrategy[Turn]:
    """Turns that answer the current question and move on (so conversations get deep into the content)."""
    listener = dialogue.listener()
    assert listener is not None
    node = CONTENT.nodes[dialogue.state.node]
    intents = ["no"] if node.red_flag else list(listener.answer_intents)
    if dialogue.state.phase is Phase.CONFIRMING:
        intents = ["yes"]
    return st.builds(
        lambda intent, uncertain, confidence: Turn(intent=intent, text=intent, uncertain=uncertain,
                                                   confidence=confidence),
        st.sampled_from(intents), st.booleans(), confidences)


@SETTINGS
@given(st.lists(any_turn, max_size=60))
def test_random_conversations_keep_every_invariant(turns: list[Turn]) -> None:
    drive(turns)


@SETTINGS
@given(st.data())
def test_deep_random_conversations_keep_every_invariant(data: st.DataObject) -> None:
    """Mostly on-topic answers mixed with any turn at all, drawn one at a time, so sessions reach the end."""
    checker = Checker()
    for _ in range(60):
        if checker.ended:
            break
        checker.step(data.draw(st.one_of(on_topic(checker.dialogue), on_topic(checker.dialogue), any_turn)))


@SETTINGS
@given(st.lists(any_turn, max_size=60), command_turns)
def test_turns_after_the_end_are_ignored(turns: list[Turn], later: Turn) -> None:
    run = drive([*turns, Turn(intent="stop", text="stop"), later, *turns])
    assert run.ended_at is not None and run.ended_at <= len(turns)


@SETTINGS
@given(st.lists(any_turn, max_size=60), st.sampled_from(["emergency", "stop"]))
def test_emergency_and_stop_always_close_at_once(turns: list[Turn], command: str) -> None:
    dialogue = Dialogue(CONTENT, BUNDLE.grammars)
    dialogue.start()
    for turn in turns:
        dialogue.handle(turn)
    if dialogue.state.phase is Phase.ENDED:
        return
    reply = dialogue.handle(Turn(intent=command, text=command))
    assert reply.ended
    _check_ended(dialogue, reply)
    if command == "emergency":
        assert reply.utterances[0].kind is Kind.EMERGENCY
        assert " ".join(CONTENT.dispositions["emergency"].say) == reply.utterances[0].text
        assert dialogue.state.disposition == "emergency"


@SETTINGS
@given(st.lists(non_command_turn, min_size=_max_non_command_turns(), max_size=_max_non_command_turns()))
def test_turns_without_commands_always_end_the_session(turns: list[Turn]) -> None:
    run = drive(turns)
    assert run.ended_at is not None, "the session did not end"


@SETTINGS
@given(st.lists(non_command_turn, max_size=60))
def test_red_flag_yes_or_unsure_means_emergency_advice(turns: list[Turn]) -> None:
    run = drive(turns)
    if run.red_flag_accepted:
        assert run.ended_at is not None
        spoken = [u.text for u in run.replies[run.ended_at].utterances]
        assert any("Call emergency services now" in text for text in spoken)


def test_strategies_cover_every_answer_and_command() -> None:
    assert set(ANSWER_INTENTS) >= {"yes", "no", "unsure", "arm", "leg", "both", "none"}
    assert set(COMMAND_INTENTS) == {"repeat", "help", "back", "restart", "stop", "slower", "faster", "emergency"}
    assert any(q.red_flag for q in QUESTIONS)


def _worst_case_turns() -> list[Turn]:
    """Non-command turns that keep the session open as long as possible: on every red flag three times a
    doubtful 'no' whose confirmation is refused, on every other question three unmatched answers."""
    turns: list[Turn] = []
    node = CONTENT.nodes[CONTENT.start]
    while node.type is not NodeType.END:
        if node.type is NodeType.QUESTION:
            if node.red_flag:
                turns += [Turn(intent="no", text="no", uncertain=True, confidence=0.3),
                          Turn(intent="no", text="no")] * MAX_FAILURES
            else:
                turns += [Turn(intent=None, text="mumble")] * MAX_FAILURES
            node = CONTENT.nodes[node.unanswered or ""]
        else:
            node = CONTENT.nodes[node.next or ""]
    return turns


def test_worst_case_without_commands_ends_and_reports_every_gap(bundle: Bundle) -> None:
    turns = _worst_case_turns()
    assert len(turns) == _max_non_command_turns()
    run = drive(turns)
    assert run.ended_at == len(turns) - 1
    summary = " ".join(u.text for u in run.replies[-1].utterances)
    assert "I couldn't get an answer about" in summary


