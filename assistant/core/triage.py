"""The rules table applied to answers: the advice level, what is still worth asking, the fail-safe floor.

Pure functions of the answers so far (question id -> intent) and the questions given up on (`gaps`).
On a warning sign "not sure" counts as yes. Nothing here speaks or listens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from assistant.core.content import EMERGENCY_LEVELS, FLOOR, Condition, Content, Question, Rule

YES_LIKE = ("yes", "unsure")
"""Answers that make a condition hold (not sure is treated as yes)."""

Answers = Mapping[str, str]


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def words(text: str) -> int:
    """How many words `text` has, as heard."""
    return len(text.split())


def sentences(text: str) -> list[str]:
    """The sentences of `text` ("Hello. How are you?" -> two)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


class Triage:
    """Applies `content.rules` to answers."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self._rules_of: dict[str, list[Rule]] = {q: [] for q in content.questions}
        for rule in content.rules:
            for condition in rule.when:
                self._rules_of.setdefault(condition.question, []).append(rule)
        self._cause_order = {cause: n for n, cause in enumerate(content.causes)}

    # ----------------------------------------------------------------- the level
    def level(self, answers: Answers) -> tuple[str, Rule | None]:
        """The most urgent level any rule reaches, and the first rule (in table order) that reaches it."""
        best: Rule | None = None
        for rule in self.content.rules:
            if all(_holds(c, answers) for c in rule.when) and (
                    best is None or self.content.rank(rule.level) < self.content.rank(best.level)):
                best = rule
        return (best.level, best) if best else (self.content.lowest_level(), None)

    def potential(self, question: str, answers: Answers, gaps: Sequence[str] = ()) -> str | None:
        """The most urgent level a yes to `question` could still lead to (None: it cannot raise anything)."""
        best: str | None = None
        for rule in self._rules_of.get(question, []):
            others = [c for c in rule.when if c.question != question]
            if any(self._ruled_out(c, answers, gaps) for c in others):
                continue
            best = self.content.more_urgent(best, rule.level)
        return best

    def is_warning(self, question: str, answers: Answers) -> bool:
        """A yes could lead to 'doctor today' or more urgent: a doubtful no must be confirmed."""
        potential = self.potential(question, answers)
        return potential is not None and self.content.rank(potential) <= self.content.rank(FLOOR)

    # ----------------------------------------------------------------- what to ask
    def next_question(self, answers: Answers, gaps: Sequence[str]) -> Question | None:
        """The first question, in order, that is open and can still change the advice."""
        current, _ = self.level(answers)
        for question in self.content.questions.values():
            if question.id in answers or question.id in gaps or not self._gate_open(question, answers):
                continue
            if self._worth_asking(question, answers, gaps, current):
                return question
        return None

    def _worth_asking(self, question: Question, answers: Answers, gaps: Sequence[str], current: str) -> bool:
        if current in EMERGENCY_LEVELS:
            return False
        potential = self.potential(question.id, answers, gaps)
        if potential is not None and self.content.rank(potential) < self.content.rank(current):
            return True
        return bool(question.causes) and self.content.rank(current) > self.content.rank(FLOOR)

    def _gate_open(self, question: Question, answers: Answers) -> bool:
        return not question.ask_if or any(answers.get(g) in YES_LIKE for g in question.ask_if)

    def _ruled_out(self, condition: Condition, answers: Answers, gaps: Sequence[str]) -> bool:
        """The condition can no longer hold: answered otherwise, or never to be asked (its gate was closed)."""
        if condition.question in answers:
            return not _holds(condition, answers)
        if condition.question in gaps:
            return False
        question = self.content.questions.get(condition.question)
        if question is None or not question.ask_if:
            return False
        return all(g in answers and answers[g] not in YES_LIKE for g in question.ask_if)

    # ----------------------------------------------------------------- the fail-safe
    def unresolved(self, answers: Answers, gaps: Sequence[str], finished: bool) -> list[str]:
        """Questions without an answer that could still raise the advice: those given up on, and (when the
        conversation ended early) those not asked yet whose gate is open or not yet known."""
        current, _ = self.level(answers)
        found = []
        for question in self.content.questions.values():
            if question.id in answers:
                continue
            if question.id not in gaps and (finished or not self._gate_possible(question, answers, gaps)):
                continue
            potential = self.potential(question.id, answers, gaps)
            if potential is not None and self.content.rank(potential) < self.content.rank(current):
                found.append(question.id)
        return found

    def _gate_possible(self, question: Question, answers: Answers, gaps: Sequence[str]) -> bool:
        if not question.ask_if:
            return True
        return any(answers.get(g) in YES_LIKE or (g not in answers and g not in gaps) for g in question.ask_if)

    def floor(self, answers: Answers, gaps: Sequence[str], finished: bool) -> tuple[str | None, list[str]]:
        """The least the advice may be, given the unresolved questions: each lifts it to what it could reach,
        capped at 'doctor today' (the emergency sentence covers the rest). Also returns those questions."""
        floor: str | None = None
        unresolved = self.unresolved(answers, gaps, finished)
        for question in unresolved:
            potential = self.potential(question, answers, gaps)
            if potential is not None:
                floor = self.content.more_urgent(floor, self.content.less_urgent(potential, FLOOR))
        return floor, unresolved

    def emergency_unresolved(self, answers: Answers, gaps: Sequence[str], finished: bool) -> bool:
        """An unresolved question could have led to emergency care: the emergency sentence must be said."""
        return any(self.potential(q, answers, gaps) in EMERGENCY_LEVELS
                   for q in self.unresolved(answers, gaps, finished))

    # ----------------------------------------------------------------- causes
    def causes(self, answers: Answers) -> list[str]:
        """Possible causes the answers point to, most relevant first (the order of `causes` in the content)."""
        found = {c for q in self.content.questions.values() for c in q.causes.get(answers.get(q.id, ""), ())}
        return sorted(found, key=lambda c: self._cause_order.get(c, len(self._cause_order)))


def _holds(condition: Condition, answers: Answers) -> bool:
    answer = answers.get(condition.question)
    return answer in YES_LIKE if condition.intent is None else answer == condition.intent
