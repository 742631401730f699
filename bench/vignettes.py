"""The clinical vignette suite: patient stories answered truthfully in typed words through the dialogue.

Each story in `tests/vignettes.yaml` (written from NHS / NICE guidance, not from this program) lists
the facts a patient would answer yes or "not sure" to; every other question is answered no. Answers
are typed the way people type them, in several phrasings. The level the dialogue reaches is compared
with the story's expected level.

    .venv/bin/python -m bench.vignettes          # prints the table and writes bench/results/vignettes.md
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.core.content import EMERGENCY_LEVELS, Content
from assistant.core.dialogue import Dialogue, Turn
from assistant.core.validate import Bundle, load_bundle

ROOT = Path(__file__).resolve().parent.parent
STORIES = ROOT / "tests" / "vignettes.yaml"
REPORT = ROOT / "bench" / "results" / "vignettes.md"
NON_URGENT = ("self_care", "doctor_soon")
MAX_TURNS = 200

PHRASINGS = {
    "yes": ["yes", "yeah I have", "yes definitely", "I think so", "y", "yep", "yes it does", "uh huh"],
    "no": ["no", "not really", "nah", "I don't think so", "no I haven't", "nope", "n", "not at all"],
    "unsure": ["not sure", "I'm not sure", "idk", "I don't know", "maybe", "unsure", "no idea", "possibly"],
}
SPREAD = {"arm": "my arm", "leg": "leg", "both": "both places", "none": "neither"}


@dataclass(frozen=True)
class Story:
    """One patient story."""

    id: str
    text: str
    yes: frozenset[str]
    unsure: frozenset[str]
    spread: str
    expected: str
    also: tuple[str, ...]
    source: str


@dataclass
class Outcome:
    """What the dialogue did with one story."""

    story: Story
    level: str
    questions: int
    asked: list[str] = field(default_factory=list)


def load_stories(path: Path = STORIES) -> list[Story]:
    """Read the stories file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Story(id=s["id"], text=s["story"], yes=frozenset(s.get("yes") or ()),
                  unsure=frozenset(s.get("unsure") or ()), spread=s.get("spread", "none"),
                  expected=s["expected"], also=tuple(s.get("also_acceptable") or ()), source=s.get("source", ""))
            for s in doc["stories"]]


def run_story(bundle: Bundle, story: Story, variant: int = 0) -> Outcome:
    """Walk the dialogue, answering each question truthfully; typed phrasings rotate with `variant`."""
    dialogue = Dialogue(bundle.content, bundle.grammars, region="GB")
    reply = dialogue.start()
    asked: list[str] = []
    turns = 0
    while not reply.ended and turns < MAX_TURNS:
        turns += 1
        node = reply.node
        listener = dialogue.listener()
        if listener is None:
            break
        if node in bundle.content.questions and dialogue.state.phase == "asking":
            asked.append(node)
            text = answer_for(story, node, variant + turns)
        elif dialogue.state.phase == "confirming":
            text = "yes"
        elif dialogue.state.phase == "paging":
            text = "next"
        else:
            text = "no"  # offers of causes, remedies, summary
        reply = dialogue.handle(Turn(intent=listener.interpret(text), text=text))
    level = dialogue.state.final_level or dialogue.triage.level(dict(dialogue.state.answers))[0]
    return Outcome(story=story, level=level, questions=len(asked), asked=asked)


def answer_for(story: Story, question: str, variant: int) -> str:
    """The typed answer a truthful patient gives."""
    if question == "spread":
        return SPREAD[story.spread]
    kind = "yes" if question in story.yes else "unsure" if question in story.unsure else "no"
    options = PHRASINGS[kind]
    return options[variant % len(options)]


@dataclass(frozen=True)
class Scores:
    """The suite's figures."""

    stories: int
    right: float
    safe: float
    emergency_sensitivity: float
    emergencies: int
    over_triage: float
    non_urgent: int
    median_questions: float
    max_questions: int
    unsafe: tuple[str, ...]


def score(content: Content, outcomes: list[Outcome]) -> Scores:
    """Right level (the expected or an also-acceptable one), safe (at least as urgent as the least urgent
    acceptable level), emergency sensitivity, non-urgent stories sent to emergency care, questions asked."""
    def rank(level: str) -> int:
        return content.rank(level)

    right = [o for o in outcomes if o.level == o.story.expected or o.level in o.story.also]
    unsafe = [o for o in outcomes
              if rank(o.level) > max(rank(level) for level in (o.story.expected, *o.story.also))]
    emergencies = [o for o in outcomes if o.story.expected in EMERGENCY_LEVELS]
    caught = [o for o in emergencies if o.level in EMERGENCY_LEVELS]
    non_urgent = [o for o in outcomes if o.story.expected in NON_URGENT]
    over = [o for o in non_urgent if o.level in EMERGENCY_LEVELS]
    questions = [o.questions for o in outcomes]
    return Scores(stories=len(outcomes), right=len(right) / len(outcomes), safe=1 - len(unsafe) / len(outcomes),
                  emergency_sensitivity=len(caught) / max(1, len(emergencies)), emergencies=len(emergencies),
                  over_triage=len(over) / max(1, len(non_urgent)), non_urgent=len(non_urgent),
                  median_questions=statistics.median(questions), max_questions=max(questions),
                  unsafe=tuple(f"{o.story.id}: got {o.level}, expected {o.story.expected}" for o in unsafe))


def questions_by_level(outcomes: list[Outcome]) -> Mapping[str, tuple[float, int, int]]:
    """Expected level -> (median, min, max) questions asked."""
    by: dict[str, list[int]] = {}
    for o in outcomes:
        by.setdefault(o.story.expected, []).append(o.questions)
    return {k: (statistics.median(v), min(v), max(v)) for k, v in by.items()}


def report(bundle: Bundle, outcomes: list[Outcome]) -> str:
    """The Markdown report."""
    s = score(bundle.content, outcomes)
    lines = [
        "# Clinical vignette suite", "",
        f"{s.stories} patient stories from `tests/vignettes.yaml` (written from NHS / NICE CKS guidance, each "
        "with its source), answered truthfully in typed words (several phrasings of yes, no and not sure) "
        f"through the dialogue engine. Content {bundle.content.version}.", "",
        "| measure | result | target |", "|---|---|---|",
        f"| right level | {s.right:.1%} | >= 80 % |",
        f"| safe (same or more urgent) | {s.safe:.1%} | >= 97 % |",
        f"| emergencies sent to emergency care | {s.emergency_sensitivity:.1%} ({s.emergencies} stories) | 100 % |",
        f"| non-urgent stories sent to emergency care | {s.over_triage:.1%} ({s.non_urgent} stories) | <= 10 % |",
        f"| questions per story | median {s.median_questions:g}, most {s.max_questions} | as few as the rules allow |",
        "", "Questions asked, by expected level (median, fewest, most):", "",
        "| expected level | median | fewest | most |", "|---|---|---|---|",
    ]
    for level in bundle.content.levels:
        if level in (q := questions_by_level(outcomes)):
            median, low, high = q[level]
            lines.append(f"| {level} | {median:g} | {low} | {high} |")
    lines += ["", "Stories not at the expected level:", ""]
    for o in outcomes:
        if o.level != o.story.expected and o.level not in o.story.also:
            lines.append(f"- `{o.story.id}`: {o.level} (expected {o.story.expected})")
    return "\n".join(lines) + "\n"


def run_all(bundle: Bundle, variant: int = 0) -> list[Outcome]:
    """Every story once."""
    return [run_story(bundle, story, variant) for story in load_stories()]


def main() -> int:
    bundle = load_bundle(ROOT / "content", ROOT / "grammars")
    outcomes = run_all(bundle)
    text = report(bundle, outcomes)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
