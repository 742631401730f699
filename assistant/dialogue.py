"""The dialogue engine: a pure state machine over the triage content. No I/O, no audio.

`Dialogue.start()` gives the first reply; `Dialogue.handle(turn)` takes one interpreted turn and gives the
next. Every reply says what to speak, what to listen for, whether the session ended, and why (`decision`),
so each step can be traced in the transcript.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from assistant.content import Content, Node, NodeType
from assistant.grammar import ANSWERS, COMMAND_INTENTS, Grammars, Listener

MAX_FAILURES = 3
"""Failed turns (no match, silence, rejected confirmation) allowed on one question before moving on."""


class Phase(StrEnum):
    """Where the engine is within the current question."""

    ASKING = "asking"
    CONFIRMING = "confirming"
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


@dataclass(frozen=True)
class Utterance:
    """One thing the assistant says."""

    node: str
    """Content node it comes from."""
    kind: Kind
    text: str


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
    """The node the engine is at after this reply."""
    rate_change: int = 0
    """-1 to speak slower from now on, +1 faster, 0 unchanged."""


@dataclass(frozen=True)
class State:
    """Everything the engine remembers. Immutable; `history` holds earlier states for "back"."""

    node: str
    phase: Phase = Phase.ASKING
    failures: int = 0
    disposition: str | None = None
    causes: tuple[str, ...] = ()
    answers: tuple[tuple[str, str], ...] = ()
    """(question id, intent) in the order given."""
    gaps: tuple[str, ...] = ()
    """Questions given up on after repeated failures."""
    emergency_command: bool = False
    prompt: tuple[Utterance, ...] = ()
    """What was said to bring up the current question (for "repeat")."""
    history: tuple[State, ...] = field(default=(), repr=False)
    """Earlier states, newest last (left out of repr: it nests)."""


class Dialogue:
    """Walks the triage content one turn at a time."""

    def __init__(self, content: Content, grammars: Grammars) -> None:
        self.content = content
        self.grammars = grammars
        self._end = next(n.id for n in content.nodes.values() if n.type is NodeType.END)
        self._emergency_node = next(
            (n.id for n in content.nodes.values() if n.type is NodeType.INFO and n.disposition == "emergency"),
            self._end,
        )
        self.state = State(node=content.start)

    # ----------------------------------------------------------------- public API
    def start(self) -> Reply:
        """Begin (or begin again) at the start node."""
        self.state = State(node=self.content.start)
        return self._advance(self.state, self.content.start, [], "session start")

    def handle(self, turn: Turn) -> Reply:
        """Take one turn and return the reply."""
        state = self.state
        if state.phase is Phase.ENDED:
            return self._reply(state, [], "turn after the session ended: ignored")
        if turn.intent in COMMAND_INTENTS:
            return self._command(state, turn.intent)
        node = self.content.nodes[state.node]
        if state.phase is Phase.CONFIRMING:
            return self._confirming(state, node, turn)
        if turn.intent is None or turn.intent not in node.on:
            return self._failed(state, node, turn, self._listener(state).choices)
        if node.red_flag and turn.intent == "no" and turn.uncertain:
            utterance = Utterance(node.id, Kind.CONFIRM, node.confirm_no)
            self.state = replace(state, phase=Phase.CONFIRMING)
            return self._reply(self.state, [utterance], f"red flag: doubtful 'no' ({turn.text!r}) -> confirm")
        return self._answer(state, node, turn.intent, "answer")

    def listener(self) -> Listener | None:
        """What the current prompt listens for."""
        return None if self.state.phase is Phase.ENDED else self._listener(self.state)

    # ----------------------------------------------------------------- answers
    def _answer(self, state: State, node: Node, intent: str, how: str) -> Reply:
        answer = node.on[intent]
        said: list[Utterance] = []
        because = answer.because
        if node.red_flag and intent == "unsure":
            because = because or "escalate_unsure"
        if because:
            said.append(Utterance(node.id, Kind.EXPLAIN, self.content.templates[because]))
        new = replace(
            state,
            disposition=self.content.more_urgent(state.disposition, answer.disposition),
            causes=tuple(dict.fromkeys(state.causes + answer.causes)),
            answers=(*state.answers, (node.id, intent)),
            history=(*state.history, state),
        )
        flag = "red flag " if node.red_flag else ""
        decision = f"{how} {intent!r} to {flag}{node.id} -> {answer.next}"
        if answer.disposition:
            decision += f"; disposition at least {answer.disposition}"
        if answer.causes:
            decision += f"; possible causes {', '.join(answer.causes)}"
        return self._advance(new, answer.next, said, decision)

    def _confirming(self, state: State, node: Node, turn: Turn) -> Reply:
        if turn.intent == "yes":
            return self._answer(replace(state, phase=Phase.ASKING), node, "no", "confirmed")
        if turn.intent == "unsure":
            return self._answer(replace(state, phase=Phase.ASKING), node, "unsure", "unsure on confirming")
        if turn.intent == "no":
            failures = state.failures + 1
            if failures >= MAX_FAILURES:
                return self._give_up(replace(state, failures=failures), node, "confirmation refused")
            said = [Utterance(node.id, Kind.ACK, self.content.templates["confirm_retry"]),
                    Utterance(node.id, Kind.PROMPT, node.ask)]
            self.state = replace(state, phase=Phase.ASKING, failures=failures)
            return self._reply(self.state, said, f"'no' was not confirmed ({failures}/{MAX_FAILURES}) -> ask again")
        return self._failed(state, node, turn, self.content.templates["confirm_choices"])

    def _failed(self, state: State, node: Node, turn: Turn, choices: str) -> Reply:
        failures = state.failures + 1
        what = "silence" if turn.silence else f"no match for {turn.text!r}"
        if failures >= MAX_FAILURES:
            return self._give_up(replace(state, failures=failures), node, what)
        template = "silence" if turn.silence else "reprompt"
        text = self.content.templates[template].format(choices=choices)
        question = node.confirm_no if state.phase is Phase.CONFIRMING else node.ask
        said = [Utterance(node.id, Kind.REPROMPT, text), Utterance(node.id, Kind.PROMPT, question)]
        self.state = replace(state, failures=failures)
        return self._reply(self.state, said, f"{what} ({failures}/{MAX_FAILURES}) -> reprompt")

    def _give_up(self, state: State, node: Node, what: str) -> Reply:
        target = node.unanswered or self._end
        new = replace(state, phase=Phase.ASKING, gaps=(*state.gaps, node.id), history=(*state.history, state))
        if node.red_flag:
            text = self.content.templates["conditional_emergency"].format(topic=node.topic)
            said = [Utterance(node.id, Kind.CONDITIONAL_EMERGENCY, text)]
            decision = f"{what}: {MAX_FAILURES} failures on red flag {node.id} -> conditional emergency advice"
        else:
            said = [Utterance(node.id, Kind.ACK, self.content.templates["gap"])]
            decision = f"{what}: {MAX_FAILURES} failures on {node.id} -> gap noted"
        return self._advance(new, target, said, f"{decision}, move on to {target}")

    # ----------------------------------------------------------------- commands
    def _command(self, state: State, intent: str) -> Reply:
        templates = self.content.templates
        if intent == "emergency":
            advice = self.content.dispositions["emergency"]
            said = [Utterance(state.node, Kind.EMERGENCY, " ".join(advice.say))]
            new = replace(state, disposition="emergency", emergency_command=True, history=(*state.history, state))
            return self._advance(new, self._end, said, "emergency command -> emergency advice, then close")
        if intent == "stop":
            said = [Utterance(state.node, Kind.ACK, templates["stop"])]
            return self._advance(replace(state, history=(*state.history, state)), self._end, said,
                                 "stop command -> close with summary")
        if intent == "restart":
            ack = Utterance(state.node, Kind.ACK, templates["restart"])
            return self._advance(State(node=self.content.start), self.content.start, [ack],
                                 "restart command -> start over")
        if intent == "back":
            return self._back(state)
        current = self._current_prompt(state)
        if intent == "repeat":
            said = list(state.prompt) if state.phase is Phase.ASKING else [current]
            return self._reply(state, said, "repeat command -> say the last prompt again")
        if intent == "help":
            text = templates["help"].format(choices=self._listener(state).choices)
            return self._reply(state, [Utterance(state.node, Kind.HELP, text), current], "help command")
        change = -1 if intent == "slower" else 1
        said = [Utterance(state.node, Kind.ACK, templates[intent]), current]
        return self._reply(state, said, f"{intent} command -> speech rate {change:+d}", rate_change=change)

    def _back(self, state: State) -> Reply:
        if not state.history:
            said = [Utterance(state.node, Kind.ACK, self.content.templates["back_first"]),
                    self._current_prompt(state)]
            return self._reply(state, said, "back command at the first question -> ask it again")
        previous = state.history[-1]
        restored = replace(previous, phase=Phase.ASKING, failures=0)
        node = self.content.nodes[restored.node]
        said = [Utterance(node.id, Kind.ACK, self.content.templates["back"]), Utterance(node.id, Kind.PROMPT, node.ask)]
        self.state = replace(restored, prompt=(said[-1],))
        return self._reply(self.state, said, f"back command -> {node.id}, its answer undone")

    # ----------------------------------------------------------------- walking
    def _advance(self, state: State, node_id: str, said: list[Utterance], decision: str) -> Reply:
        """Say info nodes from `node_id` on until a question (or the end) is reached."""
        start = len(said)
        while True:
            node = self.content.nodes[node_id]
            if node.type is NodeType.QUESTION:
                said.append(Utterance(node.id, Kind.PROMPT, node.ask))
                self.state = replace(state, node=node.id, phase=Phase.ASKING, failures=0,
                                     prompt=tuple(said[start:]))
                return self._reply(self.state, said, decision)
            if node.type is NodeType.END:
                said.extend(self._closing(state, node))
                self.state = replace(state, node=node.id, phase=Phase.ENDED, prompt=())
                return self._reply(self.state, said, decision + "; session closed")
            if node.type is NodeType.CAUSES:
                said.append(Utterance(node.id, Kind.CAUSES, self._causes_text(state, node)))
            else:
                kind = Kind.EMERGENCY if node.disposition == "emergency" else Kind.INFO
                said.append(Utterance(node.id, kind, " ".join(node.say)))
                state = replace(state, disposition=self.content.more_urgent(state.disposition, node.disposition))
            node_id = node.next or self._end

    def _causes_text(self, state: State, node: Node) -> str:
        parts = list(node.intro) if state.causes else list(node.none_found)
        for cause in state.causes:
            parts.extend(self.content.causes[cause].say)
        parts.extend(node.general)
        return " ".join(parts)

    def _closing(self, state: State, node: Node) -> list[Utterance]:
        t = self.content.templates
        nodes = self.content.nodes
        disposition = state.disposition or self.content.lowest_disposition()
        advice = " ".join(self.content.dispositions[disposition].say)
        answered = dict(state.answers)
        lines = [t["summary_intro"]]
        if state.emergency_command:
            lines.append(t["emergency_command"])
        yes_items = [nodes[q].note if i == "yes" else f"{nodes[q].note}: {i.replace('_', ' ')}"
                     for q, i in state.answers if nodes[q].note and i not in ("no", "unsure", "none")]
        unsure_items = [nodes[q].note for q, i in state.answers if nodes[q].note and i == "unsure"]
        gap_items = [nodes[q].note or q for q in state.gaps]
        if yes_items:
            lines.append(t["summary_yes"].format(items=_join(yes_items)))
        elif not unsure_items and not gap_items and not state.emergency_command:
            lines.append(t["summary_none"])
        if unsure_items:
            lines.append(t["summary_unsure"].format(items=_join(unsure_items)))
        if gap_items:
            lines.append(t["summary_gaps"].format(items=_join(gap_items)))
        if state.causes:
            lines.append(t["summary_causes"].format(items=_join([self.content.causes[c].name for c in state.causes])))
        # Red flags never answered, or given up on: the closing repeats the emergency warning for them.
        unchecked = [n.topic for n in nodes.values() if n.red_flag and answered.get(n.id) is None]
        said = [Utterance(node.id, Kind.SUMMARY, " ".join(lines))]
        if unchecked and disposition != "emergency":
            said.append(Utterance(node.id, Kind.CONDITIONAL_EMERGENCY,
                                  t["summary_unchecked"].format(items=_join(unchecked, "or"))))
        said.append(Utterance(node.id, Kind.ADVICE, t["summary_advice"].format(advice=advice)))
        said.append(Utterance(node.id, Kind.WORSENING, " ".join(self.content.worsening)))
        said.append(Utterance(node.id, Kind.GOODBYE, t["goodbye"]))
        return said

    # ----------------------------------------------------------------- helpers
    def _listener(self, state: State) -> Listener:
        if state.phase is Phase.CONFIRMING:
            return self.grammars.listener(ANSWERS)
        node = self.content.nodes[state.node]
        return self.grammars.listener(node.grammar or ANSWERS)

    def _current_prompt(self, state: State) -> Utterance:
        node = self.content.nodes[state.node]
        text = node.confirm_no if state.phase is Phase.CONFIRMING else node.ask
        return Utterance(node.id, Kind.CONFIRM if state.phase is Phase.CONFIRMING else Kind.PROMPT, text)

    def _reply(self, state: State, said: list[Utterance], decision: str, rate_change: int = 0) -> Reply:
        ended = state.phase is Phase.ENDED
        return Reply(utterances=tuple(said), listener=None if ended else self._listener(state), ended=ended,
                     decision=decision, node=state.node, rate_change=rate_change)


def _join(items: list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b, and c'."""
    if len(items) <= 2:
        return f" {last} ".join(items)
    return ", ".join(items[:-1]) + f", {last} " + items[-1]
