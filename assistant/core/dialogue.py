"""The dialogue engine: a pure state machine over the triage content and its rules. No I/O, no audio.

`Dialogue.start()` gives the first reply; `Dialogue.handle(turn)` takes one interpreted turn and gives the
next. Every reply says what to speak, what to listen for, whether the session ended, and why (`decision`),
so each step can be traced in the transcript.

How it walks: the questions of `content/triage.yaml` in order, skipping each one whose answer can no
longer change the advice (`assistant.core.triage`). As soon as the advice reaches emergency care, the action is
said first and the conversation ends. After the questions: the advice, then the sections (causes, things
to try, ...), item by item, then the safety net. A reply never runs over `MAX_REPLY_WORDS` before the user
gets a turn: longer passages pause with "Next one?" / "Shall I go on?".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from assistant.core.content import (
    EMERGENCY,
    EMERGENCY_LEVELS,
    FLOOR,
    SECTION_CAUSES,
    SECTION_SUMMARY,
    Content,
    Question,
    Region,
)
from assistant.core.grammar import ANSWERS, COMMAND_INTENTS, MORE, Grammars, Listener
from assistant.core.triage import Triage, sentences, words

MAX_FAILURES = 3
"""Failed turns (no match, silence, rejected confirmation) allowed on one prompt before moving on."""
MAX_REPLY_WORDS = 60
"""Most words said before the user gets a turn."""
MAX_UTTERANCE_WORDS = 40
"""Most words in one utterance."""
SUMMARY_ITEMS = 3
"""Most items the summary lists per kind before saying "and N more"."""
YES_LIKE = ("yes", "unsure")


class Phase(StrEnum):
    """What the current prompt is."""

    ASKING = "asking"
    """A triage question."""
    CONFIRMING = "confirming"
    """Checking a doubtful "no" to a warning sign."""
    OFFERING = "offering"
    """Offering a section ("Would you like ...?")."""
    PAGING = "paging"
    """Between the items of a long passage ("Next one?")."""
    ENDED = "ended"


class Stage(StrEnum):
    """Where the conversation is."""

    QUESTIONS = "questions"
    SECTIONS = "sections"
    ENDED = "ended"


class Kind(StrEnum):
    """What an utterance is for (lets tests and the transcript tell advice from prompts)."""

    INFO = "info"
    PROMPT = "prompt"
    REPROMPT = "reprompt"
    CONFIRM = "confirm"
    HELP = "help"
    ACK = "ack"
    EXPLAIN = "explain"
    EMERGENCY = "emergency"
    CONDITIONAL_EMERGENCY = "conditional_emergency"
    CAUSES = "causes"
    SUMMARY = "summary"
    ADVICE = "advice"
    WORSENING = "worsening"
    GOODBYE = "goodbye"
    MORE = "more"


DROPPABLE = (Kind.INFO, Kind.CAUSES)
"""What "that's enough" may skip. Advice, warnings and questions are never skipped."""


@dataclass(frozen=True)
class Turn:
    """One interpreted user turn."""

    intent: str | None
    """Matched intent, or None when nothing matched (or nothing was heard)."""
    text: str = ""
    """What was heard or typed, as is."""
    confidence: float = 1.0
    """Recognizer confidence, 0..1 (1.0 for typed text)."""
    uncertain: bool = False
    """The recognizer doubts this result; risky answers get confirmed."""
    silence: bool = False
    """Nothing was said before the no-speech timeout."""
    noisy: bool = False
    """Speech was heard, but the room was too loud, or the voice too quiet, to hear it well (voice only)."""


@dataclass(frozen=True)
class Utterance:
    """One thing the assistant says."""

    node: str
    """Question or section it comes from."""
    kind: Kind
    text: str
    pause_after: bool = False
    """End of an item: a long passage may pause here for "Next one?"."""


@dataclass(frozen=True)
class Reply:
    """The engine's answer to a turn."""

    utterances: tuple[Utterance, ...]
    listener: Listener | None
    """What to listen for next; None when the session has ended."""
    ended: bool
    decision: str
    """Why the engine did what it did, in words, for the transcript."""
    node: str
    """The question or section the engine is at after this reply."""
    rate_change: int = 0
    """-1 to speak slower from now on, +1 faster, 0 unchanged."""
    level: str | None = None
    """The advice level so far (with the fail-safe floor applied at the end)."""


@dataclass(frozen=True)
class State:
    """Everything the engine remembers. Immutable; `history` holds earlier states for "back"."""

    node: str
    phase: Phase = Phase.ASKING
    stage: Stage = Stage.QUESTIONS
    failures: int = 0
    answers: tuple[tuple[str, str], ...] = ()
    """(question id, intent) in the order given."""
    gaps: tuple[str, ...] = ()
    """Questions given up on after repeated failures."""
    section: int = 0
    """Index of the section being offered or said."""
    pending: tuple[Utterance, ...] = ()
    """What is still to be said after the current pause (PAGING)."""
    resume: Phase = Phase.ASKING
    """The phase to return to once `pending` is said."""
    emergency_command: bool = False
    final_level: str | None = None
    """The advice given at the end of the questions (with the fail-safe floor)."""
    prompt: tuple[Utterance, ...] = ()
    """What was said last (for "repeat")."""
    history: tuple[State, ...] = field(default=(), repr=False)
    """Earlier states, newest last (left out of repr: it nests)."""


class Dialogue:
    """Walks the triage content one turn at a time."""

    def __init__(self, content: Content, grammars: Grammars, region: str | None = None) -> None:
        self.content = content
        self.grammars = grammars
        self.region: Region = content.region(region)
        self.triage = Triage(content)
        self.state = State(node="")

    # ----------------------------------------------------------------- public API
    def start(self) -> Reply:
        """Begin (or begin again) at the first question."""
        return self._next_question(State(node=""), self._spoken("opening", Kind.INFO, "opening"), "session start")

    def _spoken(self, node: str, kind: Kind, template: str, **values: str) -> list[Utterance]:
        """A template, filled in and cut into utterances of at most MAX_UTTERANCE_WORDS."""
        text = self.fill(self.content.templates[template]).format(**values) if values else self.fill(
            self.content.templates[template])
        return [Utterance(node, kind, chunk) for chunk in _chunk(sentences(text), MAX_UTTERANCE_WORDS)]

    def handle(self, turn: Turn) -> Reply:
        """Take one turn and return the reply."""
        state = self.state
        if state.phase is Phase.ENDED:
            return self._reply(state, [], "turn after the session ended: ignored")
        if turn.intent in COMMAND_INTENTS:
            return self._command(state, turn.intent)
        if state.phase is Phase.PAGING:
            return self._paging(state, turn)
        if state.phase is Phase.OFFERING:
            return self._offering(state, turn)
        question = self.content.questions[state.node]
        if state.phase is Phase.CONFIRMING:
            return self._confirming(state, question, turn)
        if turn.intent is None or turn.intent not in self.grammars.tables[question.grammar].intents:
            return self._failed(state, turn, self._listener(state).choices)
        if turn.intent == "no" and turn.uncertain and self.triage.is_warning(question.id, self._answers(state)):
            text = self.fill(self.content.templates["confirm_no"]).format(topic=question.topic)
            new = replace(state, phase=Phase.CONFIRMING, failures=0)
            return self._emit(new, [], [Utterance(question.id, Kind.CONFIRM, text)],
                              f"doubtful 'no' ({turn.text!r}) to warning sign {question.id} -> confirm")
        return self._answer(state, question, turn.intent, "answer")

    def listener(self) -> Listener | None:
        """What the current prompt listens for."""
        return None if self.state.phase is Phase.ENDED else self._listener(self.state)

    def fill(self, text: str) -> str:
        """Put the region's numbers into a content text."""
        return text.replace("{emergency}", self.region.emergency).replace("{urgent}", self.region.urgent).strip()

    # ----------------------------------------------------------------- answers
    def _answers(self, state: State) -> dict[str, str]:
        return dict(state.answers)

    def _answer(self, state: State, question: Question, intent: str, how: str) -> Reply:
        new = replace(state, answers=(*state.answers, (question.id, intent)), failures=0, phase=Phase.ASKING,
                      history=(*state.history, state))
        answers = self._answers(new)
        level, rule = self.triage.level(answers)
        decision = f"{how} {intent!r} to {question.id}"
        before, _ = self.triage.level(self._answers(state))
        if rule is not None and self.content.rank(level) < self.content.rank(before):
            decision += f"; rule {rule.id} ({rule.condition}; source {', '.join(rule.source)}) -> at least {rule.level}"
        if level in EMERGENCY_LEVELS:
            return self._emergency(new, level, rule.because if rule else "", unsure=intent == "unsure",
                                   decision=decision)
        return self._next_question(new, [], decision)

    def _confirming(self, state: State, question: Question, turn: Turn) -> Reply:
        if turn.intent == "yes":
            return self._answer(state, question, "no", "confirmed")
        if turn.intent == "unsure":
            return self._answer(state, question, "unsure", "unsure on confirming")
        if turn.intent == "no":
            failures = state.failures + 1
            if failures >= MAX_FAILURES:
                return self._give_up(replace(state, failures=failures), question, "confirmation refused")
            said = [Utterance(question.id, Kind.ACK, self.content.templates["confirm_retry"]),
                    Utterance(question.id, Kind.PROMPT, question.ask)]
            return self._emit(replace(state, phase=Phase.ASKING, failures=failures), [], said,
                              f"'no' was not confirmed ({failures}/{MAX_FAILURES}) -> ask again")
        return self._failed(state, turn, self.content.templates["confirm_choices"])

    def _failed(self, state: State, turn: Turn, choices: str) -> Reply:
        failures = state.failures + 1
        what = "silence" if turn.silence else f"no match for {turn.text!r}"
        what += " in a noisy room" if turn.noisy else ""
        if failures >= MAX_FAILURES:
            if state.phase is Phase.OFFERING:
                return self._skip_section(replace(state, failures=0), [], f"{what}: {MAX_FAILURES} failures")
            if state.phase is Phase.PAGING:
                return self._paging(replace(state, failures=0), Turn(intent="enough", text=what))
            return self._give_up(replace(state, failures=failures), self.content.questions[state.node], what)
        template = "noisy" if turn.noisy else "silence" if turn.silence else "reprompt"
        text = self.content.templates[template].format(choices=choices)
        said = [Utterance(state.node or "opening", Kind.REPROMPT, text), self._current_prompt(state)]
        return self._emit(replace(state, failures=failures), [], said,
                          f"{what} ({failures}/{MAX_FAILURES}) -> reprompt")

    def _give_up(self, state: State, question: Question, what: str) -> Reply:
        new = replace(state, phase=Phase.ASKING, failures=0, gaps=(*state.gaps, question.id),
                      history=(*state.history, state))
        said = []
        decision = f"{what}: {MAX_FAILURES} failures on {question.id} -> gap noted"
        potential = self.triage.potential(question.id, self._answers(state), state.gaps)
        if potential in EMERGENCY_LEVELS:
            template = "conditional_emergency" if potential == EMERGENCY else "conditional_department"
            text = self.fill(self.content.templates[template]).format(topic=question.topic)
            said.append(Utterance(question.id, Kind.CONDITIONAL_EMERGENCY, text))
            decision += " (warning sign: conditional emergency advice said; advice at least doctor today)"
        said.append(Utterance(question.id, Kind.ACK, self.content.templates["gap"]))
        return self._next_question(new, said, decision)

    # ----------------------------------------------------------------- walking the questions
    def _next_question(self, state: State, said: list[Utterance], decision: str) -> Reply:
        question = self.triage.next_question(self._answers(state), state.gaps)
        if question is None:
            return self._finish_questions(state, said, decision)
        prompt = Utterance(question.id, Kind.PROMPT, question.ask)
        new = replace(state, node=question.id, phase=Phase.ASKING, stage=Stage.QUESTIONS, failures=0)
        return self._emit(new, said, [prompt], f"{decision} -> ask {question.id}")

    def _finish_questions(self, state: State, said: list[Utterance], decision: str) -> Reply:
        level, reasons, because = self._final_level(state, finished=True)
        said = [*said, Utterance("advice", Kind.ACK, self.content.templates["questions_done"]),
                *self._advice(level, because)]
        new = replace(state, stage=Stage.SECTIONS, final_level=level)
        return self._section(new, 0, said, f"{decision}; questions done -> advice {level} ({'; '.join(reasons)})")

    def _final_level(self, state: State, finished: bool) -> tuple[str, list[str], str]:
        """The advice level with the fail-safe floor, why (rule or fail-safe, for the transcript), and the
        reason to say (the rule's `because`, when that rule set the level)."""
        answers = self._answers(state)
        level, rule = self.triage.level(answers)
        reasons = [f"rule {rule.id} ({rule.condition}; source {', '.join(rule.source)})"] if rule else ["no rule"]
        because = rule.because if rule else ""
        floor, unresolved = self.triage.floor(answers, state.gaps, finished)
        if floor is not None and self.content.rank(floor) < self.content.rank(level):
            level, because = floor, ""
            reasons.append(f"fail-safe: unanswered {', '.join(unresolved)} -> at least {floor}")
        return level, reasons, because

    def _advice(self, level: str, because: str, template: str = "advice_intro") -> list[Utterance]:
        """The level's advice: action first, then its reason once."""
        say = [self.fill(s) for s in self.content.levels[level].say]
        first = self.content.templates[template].format(advice=say[0][:1].lower() + say[0][1:])
        rest = [s for s in [because, *say[1:]] if s]
        return [Utterance("advice", Kind.ADVICE, first), *(Utterance("advice", Kind.ADVICE, s) for s in rest)]

    def _emergency(self, state: State, level: str, because: str, *, unsure: bool, decision: str,
                   command: bool = False) -> Reply:
        """Action first (the level's first sentence), then why (an unsure answer counted as yes, the reason),
        then how; then the end. Over the word limit, the closing sentence goes first: the user must hear why
        "not sure" led to emergency advice, so that explanation goes only if the reply still runs over."""
        say = [self.fill(s) for s in self.content.levels[level].say]
        templates = self.content.templates
        reason = [templates["emergency_command"]] if command else [because] if because else []
        unsure_said = [templates["unsure_is_yes"]] if unsure else []
        parts = [say[0], *unsure_said, *reason, *say[1:], templates["emergency_end"]]
        for optional in (templates["emergency_end"], *unsure_said):
            if words(" ".join(parts)) > MAX_REPLY_WORDS:
                parts.remove(optional)
        node = state.node or "opening"
        said = [Utterance(node, Kind.EMERGENCY, parts[0]), *(Utterance(node, Kind.ADVICE, p) for p in parts[1:])]
        new = replace(state, phase=Phase.ENDED, stage=Stage.ENDED, final_level=level, pending=(), prompt=())
        return self._reply(new, said, f"{decision} -> {level}: action said first; session closed")

    # ----------------------------------------------------------------- sections
    def _section(self, state: State, index: int, said: list[Utterance], decision: str) -> Reply:
        """Offer (or say) sections from `index` on; after the last, close."""
        sections = list(self.content.sections.values())
        body: list[Utterance] = []
        while index < len(sections):
            section = sections[index]
            if section.offer:
                prompt = Utterance(section.id, Kind.PROMPT, section.offer)
                new = replace(state, node=section.id, phase=Phase.OFFERING, section=index, failures=0)
                return self._emit(new, [*said, *body], [prompt], f"{decision} -> offer {section.id}")
            body.extend(self._section_body(state, section.id))
            index += 1
        return self._close(state, [*said, *body], decision)

    def _section_body(self, state: State, section_id: str) -> list[Utterance]:
        section = self.content.sections[section_id]
        if section_id == SECTION_SUMMARY:
            return self._summary(state)
        parts: list[list[str]] = []
        if section.intro:
            parts.append([section.intro])
        if section_id == SECTION_CAUSES:
            found = self.triage.causes(self._answers(state))
            if not found:
                parts.append(list(section.none_found))
            parts.extend(list(self.content.causes[c].say) for c in found)
        parts.extend(list(item) for item in section.items)
        kind = Kind.CAUSES if section_id == SECTION_CAUSES else Kind.INFO
        body = []
        for number, part in enumerate(parts):
            chunks = _chunk(part, MAX_UTTERANCE_WORDS)
            is_intro = bool(section.intro) and number == 0
            for i, chunk in enumerate(chunks):
                pause = i == len(chunks) - 1 and not is_intro and number < len(parts) - 1
                body.append(Utterance(section_id, kind, self.fill(chunk), pause_after=pause))
        return body

    def _offering(self, state: State, turn: Turn) -> Reply:
        section = list(self.content.sections.values())[state.section]
        if turn.intent in YES_LIKE:
            body = self._section_body(state, section.id)
            pushed = replace(state, history=(*state.history, state))
            return self._section(pushed, state.section + 1, body, f"{turn.intent!r} to the offer of {section.id}")
        if turn.intent == "no":
            return self._skip_section(state, [], f"'no' to the offer of {section.id}")
        return self._failed(state, turn, self._listener(state).choices)

    def _skip_section(self, state: State, said: list[Utterance], decision: str) -> Reply:
        ack = Utterance(state.node, Kind.ACK, self.content.templates["skip"])
        pushed = replace(state, history=(*state.history, state))
        return self._section(pushed, state.section + 1, [*said, ack], decision)

    def _paging(self, state: State, turn: Turn) -> Reply:
        if turn.intent == "next":
            new = replace(state, phase=state.resume, pending=(), failures=0)
            return self._emit(new, [], list(state.pending), "'next' -> go on")
        if turn.intent == "enough":
            pending = list(state.pending)
            while pending and pending[0].kind in DROPPABLE:
                pending.pop(0)
            ack = Utterance(state.node, Kind.ACK, self.content.templates["skip"])
            new = replace(state, phase=state.resume, pending=(), failures=0)
            return self._emit(new, [ack], pending, "'enough' -> skip the rest of this passage")
        return self._failed(state, turn, self.content.templates["more_choices"])

    def _summary(self, state: State) -> list[Utterance]:
        t = self.content.templates
        questions = self.content.questions
        more = t["summary_more"]

        def listed(items: list[str], cap: int) -> str:
            shown = items[:cap]
            if len(items) > cap:
                shown.append(more.format(count=len(items) - cap))
            return _join(shown)

        yes = [questions[q].note if i == "yes" else f"{questions[q].note} {self._spoken_intent(q, i)}"
               for q, i in state.answers if i not in ("no", "unsure", "none")]
        unsure = [questions[q].note for q, i in state.answers if i == "unsure"]
        gaps = [questions[q].note for q in state.gaps]
        causes = [self.content.causes[c].name for c in self.triage.causes(self._answers(state))]
        level = self.content.levels[state.final_level or self.content.lowest_level()].name
        for cap in (SUMMARY_ITEMS, 2, 1):
            lines = [t["summary_intro"]]
            if yes:
                lines.append(t["summary_yes"].format(items=listed(yes, cap)))
            elif not unsure and not gaps:
                lines.append(t["summary_none"])
            if unsure:
                lines.append(t["summary_unsure"].format(items=listed(unsure, cap)))
            if gaps:
                lines.append(t["summary_gaps"].format(items=listed(gaps, cap)))
            if causes:
                lines.append(t["summary_causes"].format(items=listed(causes, cap)))
            lines.append(t["summary_level"].format(level=level))
            if words(" ".join(lines)) <= MAX_REPLY_WORDS - 10:
                break
        return [Utterance(SECTION_SUMMARY, Kind.SUMMARY, chunk) for chunk in _chunk(lines, MAX_UTTERANCE_WORDS)]

    def _spoken_intent(self, question: str, intent: str) -> str:
        phrases = self.grammars.tables[self.content.questions[question].grammar].intents.get(intent, (intent,))
        return phrases[0]

    def _close(self, state: State, said: list[Utterance], decision: str, forced: bool = False) -> Reply:
        """The safety net and goodbye. A forced close (stop, end of input) says everything at once: there
        is no next turn to pause for. When the emergency sentence for unfinished questions was just said,
        only the first sentence of the safety net follows (the rest would repeat it)."""
        net_said = any(u.kind is Kind.CONDITIONAL_EMERGENCY for u in said)
        lines = self.content.worsening[:1] if net_said else self.content.worsening
        worsening = " ".join(self.fill(s) for s in lines)
        said = [*said, Utterance("closing", Kind.WORSENING, worsening),
                Utterance("closing", Kind.GOODBYE, self.content.templates["goodbye"])]
        new = replace(state, node="closing", phase=Phase.ENDED, stage=Stage.ENDED, pending=())
        if forced:
            return self._reply(new, said, f"{decision}; safety net said; session closed")
        return self._emit(new, said, [], f"{decision}; safety net said; session closed")

    # ----------------------------------------------------------------- commands
    def _command(self, state: State, intent: str) -> Reply:
        templates = self.content.templates
        if intent == "emergency":
            new = replace(state, emergency_command=True, history=(*state.history, state))
            return self._emergency(new, EMERGENCY, "", unsure=False, decision="emergency command", command=True)
        if intent == "stop":
            return self._stop(state)
        if intent == "restart":
            ack = Utterance("opening", Kind.ACK, templates["restart"])
            return self._next_question(State(node=""), [ack], "restart command -> start over")
        if intent == "back":
            return self._back(state)
        if intent == "repeat":
            return self._emit(state, [], list(state.prompt), "repeat command -> say the last prompt again",
                              remember=False)
        if intent == "advice":
            return self._advice_now(state)
        current = self._current_prompt(state)
        if intent == "help":
            said = self._spoken(state.node or "opening", Kind.HELP, "help", choices=self._listener(state).choices)
            return self._emit(state, said, [current],
                              "help command", remember=False)
        change = -1 if intent == "slower" else 1
        said = [Utterance(state.node or "opening", Kind.ACK, templates[intent])]
        return self._emit(state, said, [current], f"{intent} command -> speech rate {change:+d}",
                          rate_change=change, remember=False)

    def _stop(self, state: State) -> Reply:
        t = self.content.templates
        said = [Utterance(state.node or "opening", Kind.ACK, t["stop"])]
        if state.stage is Stage.QUESTIONS:
            level, reasons, because = self._final_level(state, finished=False)
            unresolved = self.triage.floor(self._answers(state), state.gaps, finished=False)[1]
            if unresolved:
                said.append(Utterance("closing", Kind.ACK, t["unfinished"]))
            said.extend(self._advice(level, because))
            if self.triage.emergency_unresolved(self._answers(state), state.gaps, finished=False):
                said.append(Utterance("closing", Kind.CONDITIONAL_EMERGENCY, self.fill(t["unfinished_net"])))
            decision = f"stop command during the questions -> advice {level} ({'; '.join(reasons)})"
            new = replace(state, final_level=level, pending=())
        else:
            level = state.final_level or self.content.lowest_level()
            said.extend(self._advice(level, ""))
            decision = f"stop command -> repeat advice {level}"
            new = replace(state, pending=())
        if level in EMERGENCY_LEVELS:
            return self._reply(replace(new, phase=Phase.ENDED, stage=Stage.ENDED, prompt=()), said,
                               decision + "; session closed")
        return self._close(new, said, decision, forced=True)

    def _advice_now(self, state: State) -> Reply:
        t = self.content.templates
        if state.stage is Stage.QUESTIONS:
            level, _, because = self._final_level(state, finished=False)
            said = []
            unresolved = self.triage.floor(self._answers(state), state.gaps, finished=False)[1]
            if unresolved:
                said.append(Utterance(state.node, Kind.ACK, t["unfinished"]))
            said.extend(self._advice(level, because, template="advice_so_far"))
            if self.triage.emergency_unresolved(self._answers(state), state.gaps, finished=False):
                said.append(Utterance(state.node, Kind.CONDITIONAL_EMERGENCY, self.fill(t["unfinished_net"])))
        else:
            level = state.final_level or self.content.lowest_level()
            said = self._advice(level, "")
        return self._emit(state, said, [self._current_prompt(state)], f"advice command -> advice so far {level}",
                          remember=False)

    def _back(self, state: State) -> Reply:
        if not state.history:
            said = [Utterance(state.node or "opening", Kind.ACK, self.content.templates["back_first"])]
            return self._emit(state, said, [self._current_prompt(state)],
                              "back command at the first question -> ask it again", remember=False)
        previous = replace(state.history[-1], failures=0, pending=())
        if previous.phase is Phase.PAGING:
            previous = replace(previous, phase=previous.resume)
        ack = Utterance(previous.node, Kind.ACK, self.content.templates["back"])
        return self._emit(previous, [ack], [self._current_prompt(previous)],
                          f"back command -> {previous.node}, its answer undone")

    # ----------------------------------------------------------------- helpers
    def _listener(self, state: State) -> Listener:
        if state.phase is Phase.PAGING:
            return self.grammars.listener(MORE)
        if state.phase in (Phase.CONFIRMING, Phase.OFFERING) or state.node not in self.content.questions:
            return self.grammars.listener(ANSWERS)
        return self.grammars.listener(self.content.questions[state.node].grammar)

    def _current_prompt(self, state: State) -> Utterance:
        if state.phase is Phase.PAGING:
            return Utterance(state.node, Kind.MORE, self.content.templates["more_overflow"])
        if state.phase is Phase.OFFERING:
            section = list(self.content.sections.values())[state.section]
            return Utterance(section.id, Kind.PROMPT, section.offer or "")
        question = self.content.questions[state.node]
        if state.phase is Phase.CONFIRMING:
            text = self.fill(self.content.templates["confirm_no"]).format(topic=question.topic)
            return Utterance(question.id, Kind.CONFIRM, text)
        return Utterance(question.id, Kind.PROMPT, question.ask)

    def _emit(self, state: State, said: list[Utterance], prompt: list[Utterance], decision: str, *,
              rate_change: int = 0, remember: bool = True) -> Reply:
        """Say `said` then `prompt`, pausing for "Next one?" wherever the words would pass the limit."""
        queue = [*said, *prompt]
        page: list[Utterance] = []
        count = 0
        reserve = words(self.content.templates["more_overflow"])
        while queue:
            nxt = queue[0]
            size = words(nxt.text)
            if page and count + size > MAX_REPLY_WORDS - (0 if len(queue) == 1 else reserve):
                break
            page.append(queue.pop(0))
            count += size
            if page[-1].pause_after and queue and page[-1].kind in DROPPABLE:
                break
        if queue:
            text = self.content.templates["more_item" if page[-1].pause_after else "more_overflow"]
            page.append(Utterance(state.node, Kind.MORE, text))
            resume = state.phase if state.phase is not Phase.PAGING else state.resume
            new = replace(state, phase=Phase.PAGING, resume=resume, pending=tuple(queue), failures=0)
        else:
            new = state
        if remember or new.phase is Phase.PAGING:
            new = replace(new, prompt=tuple(page) if new.phase is not Phase.ENDED else ())
        return self._reply(new, page, decision, rate_change=rate_change)

    def _reply(self, state: State, said: list[Utterance], decision: str, *, rate_change: int = 0) -> Reply:
        self.state = state
        ended = state.phase is Phase.ENDED
        level = state.final_level or self.triage.level(self._answers(state))[0]
        return Reply(utterances=tuple(said), listener=None if ended else self._listener(state), ended=ended,
                     decision=decision, node=state.node or "opening", rate_change=rate_change, level=level)


def _chunk(sentences: list[str], limit: int) -> list[str]:
    """Join sentences into pieces of at most `limit` words (a longer sentence stands alone)."""
    chunks: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        if current and words(" ".join([*current, sentence])) > limit:
            chunks.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        chunks.append(" ".join(current))
    return chunks


def _join(items: list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b, and c'."""
    if len(items) <= 2:
        return f" {last} ".join(items)
    return ", ".join(items[:-1]) + f", {last} " + items[-1]


__all__ = ["FLOOR", "MAX_FAILURES", "Dialogue", "Kind", "Phase", "Reply", "Stage", "State", "Turn", "Utterance"]
