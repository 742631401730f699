"""Helpers for driving the dialogue engine in tests: answer policies, and the safety invariants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.core.content import EMERGENCY_LEVELS, FLOOR
from assistant.core.dialogue import MAX_REPLY_WORDS, MAX_UTTERANCE_WORDS, Dialogue, Kind, Phase, Reply, Turn
from assistant.core.validate import Bundle

ACTIONS = ("Call emergency services now", "Go to the emergency department now")
MAX_TURNS = 400

Policy = Callable[[Dialogue], Turn]


@dataclass
class Walk:
    """One conversation: every reply, in order, with the turn that led to it (None for the first)."""

    replies: list[tuple[Turn | None, Reply]] = field(default_factory=list)
    dialogue: Dialogue | None = None

    @property
    def last(self) -> Reply:
        return self.replies[-1][1]

    def said(self) -> list[str]:
        return [u.text for _, r in self.replies for u in r.utterances]


def answer(intent: str | None, text: str | None = None, **kw: object) -> Turn:
    return Turn(intent=intent, text=text if text is not None else (intent or "mumble"), **kw)  # type: ignore[arg-type]


def walk(bundle: Bundle, policy: Policy, region: str | None = "GB") -> Walk:
    """Run a conversation to its end with `policy` choosing each turn."""
    dialogue = Dialogue(bundle.content, bundle.grammars, region=region)
    result = Walk(dialogue=dialogue)
    reply = dialogue.start()
    result.replies.append((None, reply))
    for _ in range(MAX_TURNS):
        if reply.ended:
            return result
        turn = policy(dialogue)
        reply = dialogue.handle(turn)
        result.replies.append((turn, reply))
    raise AssertionError("the conversation did not end")


def truthful(yes: set[str] = frozenset(), unsure: set[str] = frozenset(), spread: str = "none",  # type: ignore[assignment]
             sections: str = "no") -> Policy:
    """A patient who answers each question from a set of facts, and `sections` to every offer."""
    def policy(dialogue: Dialogue) -> Turn:
        state = dialogue.state
        if state.phase is Phase.PAGING:
            return answer("next")
        if state.phase is Phase.CONFIRMING:
            return answer("yes")
        if state.phase is Phase.OFFERING:
            return answer(sections)
        if state.node == "spread":
            return answer(spread)
        return answer("yes" if state.node in yes else "unsure" if state.node in unsure else "no")
    return policy


def words(text: str) -> int:
    return len(text.split())


def check_reply(bundle: Bundle, reply: Reply) -> None:
    """Invariants of every reply: length, no internal ids, emergency action first."""
    ids = {*bundle.content.questions, *bundle.content.levels, *bundle.content.causes, *bundle.content.sections}
    for utterance in reply.utterances:
        assert words(utterance.text) <= MAX_UTTERANCE_WORDS, utterance
        assert utterance.text.strip(), utterance
        assert "_" not in utterance.text and "{" not in utterance.text and "}" not in utterance.text, utterance
        spoken = set(utterance.text.lower().replace(",", " ").replace(".", " ").split())
        assert not (spoken & {i for i in ids if "_" in i}), utterance
    if not reply.ended or not any(u.kind is Kind.WORSENING for u in reply.utterances):
        assert sum(words(u.text) for u in reply.utterances) <= MAX_REPLY_WORDS, reply
    if reply.level in EMERGENCY_LEVELS and reply.ended and any(u.kind is Kind.EMERGENCY for u in reply.utterances):
        first = reply.utterances[0]
        assert first.kind is Kind.EMERGENCY, reply
        assert any(action in " ".join(first.text.split()[:10]) for action in ACTIONS), first.text


def check_walk(bundle: Bundle, result: Walk) -> None:
    """Invariants of a whole conversation: each reply's, plus the fail-safe at the end."""
    for _, reply in result.replies:
        check_reply(bundle, reply)
    assert result.last.ended
    dialogue = result.dialogue
    assert dialogue is not None
    final = result.last.level
    assert final is not None
    content = bundle.content
    state = dialogue.state
    answers = dict(state.answers)
    warnings = [q for q in dialogue.triage.unresolved(answers, state.gaps, finished=False)
                if content.rank(dialogue.triage.potential(q, answers, state.gaps)) <= content.rank(FLOOR)]
    if warnings:  # a warning sign without an answer: never below doctor today
        assert content.rank(final) <= content.rank(FLOOR), (final, warnings)
    said = result.said()
    home = any("look after this at home" in s for s in said)
    assert not home or final == content.lowest_level() or state.emergency_command
    if final not in EMERGENCY_LEVELS:
        assert any(u.kind is Kind.WORSENING for u in result.last.utterances), "no safety net at the end"
