"""Cross-checks of loaded content against itself and the grammars. Each problem names file, line and item."""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.core.content import REQUIRED_LEVELS, SECTION_CAUSES, SECTION_SUMMARY, Content, Question, Where
from assistant.core.grammar import ANSWERS, Grammars
from assistant.core.triage import sentences, words
from assistant.errors import ContentError

MAX_SENTENCE_WORDS = 40
"""No sentence the assistant says may be longer (it is heard, not read)."""
MAX_QUESTION_WORDS = 20
MAX_BECAUSE_WORDS = 22
"""A rule's reason is said inside the emergency reply, which has 60 words in all."""
REGION_PLACEHOLDERS = {"emergency", "urgent"}
PLACEHOLDERS: dict[str, set[str]] = {
    "reprompt": {"choices"}, "noisy": {"choices"}, "silence": {"choices"}, "help": {"choices", "emergency"},
    "conditional_emergency": {"topic", "emergency"}, "conditional_department": {"topic", "emergency"},
    "confirm_no": {"topic"}, "summary_yes": {"items"},
    "summary_unsure": {"items"}, "summary_gaps": {"items"}, "summary_causes": {"items"}, "summary_level": {"level"},
    "summary_more": {"count"}, "advice_intro": {"advice"}, "advice_so_far": {"advice"},
    "opening": {"emergency"}, "unfinished_net": {"emergency"},
}
"""The placeholders the engine fills in, per template; any other template takes none."""


class ContentErrors(ContentError):
    """Several content problems at once; `problems` lists them all."""

    def __init__(self, problems: list[ContentError]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the content:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Bundle:
    """Validated content and the grammars it uses."""

    content: Content
    grammars: Grammars


def load_bundle(content_dir: Path, grammars_dir: Path) -> Bundle:
    """Load and validate; raise ContentErrors listing every problem."""
    grammars = Grammars.from_dir(grammars_dir)
    content = Content.from_dir(content_dir)
    problems = list(check(content, grammars))
    if problems:
        raise ContentErrors(problems)
    return Bundle(content=content, grammars=grammars)


def _err(where: Where, item: str, message: str) -> ContentError:
    return ContentError(message, file=where.file, line=where.line, item=item)


def check(content: Content, grammars: Grammars) -> Iterator[ContentError]:
    """Yield every problem."""
    top = Where(content.file, None)
    for level in REQUIRED_LEVELS:
        if level not in content.levels:
            yield _err(top, "levels", f"the level {level!r} is required (the engine's emergency and fail-safe levels)")
    yield from _templates(content)
    yield from _spoken_lengths(content)
    seen: list[str] = []
    for question in content.questions.values():
        yield from (_err(question.where, question.id, m) for m in _question_problems(question, seen, content,
                                                                                        grammars))
        seen.append(question.id)
    used = {c.question for rule in content.rules for c in rule.when}
    for rule in content.rules:
        if rule.level not in content.levels:
            yield _err(rule.where, rule.id, f"unknown level {rule.level!r}; use one of {', '.join(content.levels)}")
        if words(rule.because) > MAX_BECAUSE_WORDS:
            yield _err(rule.where, rule.id, f"`because` has {words(rule.because)} words; keep it to "
                                            f"{MAX_BECAUSE_WORDS} (it is said inside the emergency reply)")
        for condition in rule.when:
            question = content.questions.get(condition.question)
            if question is None:
                yield _err(rule.where, rule.id, f"names the question {condition.question!r}, which triage.yaml "
                                                "does not ask")
            elif condition.intent and condition.intent not in grammars.tables.get(question.grammar, _EMPTY).intents:
                yield _err(rule.where, rule.id, f"{condition.question} never has the answer {condition.intent!r}")
    for question in content.questions.values():
        if question.id not in used and not question.causes:
            yield _err(question.where, question.id, "no rule uses this question and it points to no cause: "
                                                    "its answer can never change the advice, so do not ask it")
    referenced = {c for q in content.questions.values() for ids in q.causes.values() for c in ids}
    for cause in content.causes.values():
        if cause.id not in referenced:
            yield _err(cause.where, cause.id, "no answer ever points to this cause")
    for required in (SECTION_CAUSES, SECTION_SUMMARY):
        if required not in content.sections:
            yield _err(top, "sections", f"the section {required!r} is required")


class _Empty:
    intents: dict[str, tuple[str, ...]] = {}  # noqa: RUF012 - a read-only stand-in


_EMPTY = _Empty()


def _question_problems(question: Question, earlier: list[str], content: Content,
                       grammars: Grammars) -> Iterator[str]:
    if question.grammar not in grammars.tables:
        yield f"grammar {question.grammar!r} is not in grammars/ ({', '.join(sorted(grammars.tables))})"
        return
    intents = grammars.tables[question.grammar].intents
    if question.grammar != ANSWERS and not {"unsure"} <= set(intents):
        yield f"its grammar {question.grammar!r} needs an 'unsure' answer (include: [unsure])"
    for gate in question.ask_if:
        if gate not in earlier:
            yield f"`ask_if` names {gate!r}, which is not a question asked before this one"
    for intent, ids in question.causes.items():
        if intent not in intents:
            yield f"`causes` for {intent!r}, which its grammar {question.grammar!r} never produces"
        for cause in ids:
            if cause not in content.causes:
                yield f"unknown cause {cause!r}"
    if words(question.ask) > MAX_QUESTION_WORDS:
        yield f"the question has {words(question.ask)} words; keep it to {MAX_QUESTION_WORDS}, one idea"


def _templates(content: Content) -> Iterator[ContentError]:
    for key, text in content.templates.items():
        allowed = PLACEHOLDERS.get(key, set())
        where = Where(content.file, content.template_lines.get(key))
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            yield _err(where, f"templates.{key}", f"broken placeholder ({exc}); write {{name}} with both braces")
            continue
        unknown = sorted(set(names) - allowed)
        if unknown:
            offer = ("use " + ", ".join("{" + n + "}" for n in sorted(allowed))) if allowed else "it takes none"
            yield _err(where, f"templates.{key}", f"unknown placeholder(s) {unknown}; {offer}")


def _spoken_lengths(content: Content) -> Iterator[ContentError]:
    """Every sentence, with the longest region's numbers filled in, is at most MAX_SENTENCE_WORDS words."""
    longest = max(content.regions.values(), key=lambda r: words(r.emergency) + words(r.urgent))

    def filled(text: str) -> str:
        return text.replace("{emergency}", longest.emergency).replace("{urgent}", longest.urgent)

    def check_all(texts: tuple[str, ...] | list[str], where: Where, item: str) -> Iterator[ContentError]:
        for text in texts:
            try:
                fields = [name for _, name, _, _ in string.Formatter().parse(text)]
            except ValueError as exc:
                yield _err(where, item, f"broken placeholder ({exc}) in {text[:60]!r}; write {{emergency}} "
                                        "with both braces, or no braces at all")
                continue
            for name in fields:
                if name is not None and name not in REGION_PLACEHOLDERS:
                    yield _err(where, item, f"unknown placeholder {{{name}}}; only {{emergency}} and "
                                            "{urgent} are filled in here")
            if words(filled(text)) > MAX_SENTENCE_WORDS:
                yield _err(where, item, f"a sentence has {words(filled(text))} words (with the longest region's "
                                        f"numbers); keep each under {MAX_SENTENCE_WORDS}: {text[:60]!r}...")

    for level in content.levels.values():
        yield from check_all(level.say, level.where, level.id)
    for cause in content.causes.values():
        yield from check_all(cause.say, cause.where, cause.id)
    for section in content.sections.values():
        texts = [*(s for item in section.items for s in item), *section.none_found,
                 *(t for t in (section.offer, section.intro) if t)]
        yield from check_all(texts, section.where, section.id)
    yield from check_all(content.worsening, Where(content.file, None), "worsening")
    for key, text in content.templates.items():
        if any(words(filled(s)) > MAX_SENTENCE_WORDS for s in sentences(text)):
            yield _err(Where(content.file, content.template_lines.get(key)), f"templates.{key}",
                       f"{words(filled(text))} words; keep it under {MAX_SENTENCE_WORDS}")
