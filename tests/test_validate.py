"""Every load and validation error names the file, the line and the item, so a clinician can fix it.

Each test breaks one thing in a small, hand-written content set (below: the four content files and four
grammars) and checks the error it gets. The last tests run `tingle check` as a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.core.content import REQUIRED_LEVELS, TEMPLATE_KEYS, Content
from assistant.core.grammar import COMMAND_INTENTS, Grammars
from assistant.core.validate import PLACEHOLDERS, ContentErrors, check, load_bundle
from assistant.errors import ContentError

ROOT = Path(__file__).resolve().parent.parent
TRIAGE = "content/triage.yaml"
RULES = "content/rules.yaml"
REGIONS = "content/regions.yaml"
SOURCES = "content/sources.yaml"
ANSWERS = "grammars/answers.yaml"
COMMANDS = "grammars/commands.yaml"
MORE = "grammars/more.yaml"
WHERE = "grammars/where.yaml"


def _template(key: str) -> str:
    """A template line that uses every placeholder the engine gives it."""
    names = " ".join("{" + name + "}" for name in sorted(PLACEHOLDERS.get(key, set())))
    return f'  {key}: "{key} text {names}."\n' if names else f'  {key}: "{key} text."\n'


_TEMPLATES = "".join(_template(key) for key in TEMPLATE_KEYS)

BASE_TRIAGE = f"""\
version: "test 1"
levels:
  emergency:
    name: call emergency services now
    source: [book]
    say:
      - Call emergency services now, on {{emergency}}.
      - Do not drive yourself.
  emergency_department:
    name: go to the emergency department now
    source: [book]
    say:
      - Go to the emergency department now.
  doctor_today:
    name: contact a doctor today
    source: [book]
    say:
      - Please contact a doctor today.
      - "{{urgent}}"
worsening:
  source: [book]
  say:
    - If it gets worse, call {{emergency}}.
templates:
  source: [book]
{_TEMPLATES}questions:
  legs_weak:
    ask: Are your legs weak?
    topic: weak legs
    note: weak legs
    source: [book]
  fever:
    ask: Do you have a fever?
    topic: a fever
    note: fever
    source: [book]
  stiff_neck:
    ask: Is your neck stiff?
    ask_if: [fever]
    topic: a stiff neck
    note: stiff neck
    source: [book]
  spread:
    ask: Where does it spread to?
    grammar: where
    topic: where it spreads
    note: spreads to
    source: [book]
    causes:
      arm: [strain]
causes:
  strain:
    name: a strain
    source: [book]
    say: [It may be a strain.]
sections:
  causes:
    source: [book]
    offer: Would you like to hear what might cause this?
    intro: These are possibilities.
    none_found: [No cause stands out.]
    items:
      - [Most tingling passes.]
  summary:
    source: [book]
    offer: Would you like a summary?
"""

BASE_RULES = """\
rules:
  - when: [legs_weak]
    level: emergency
    condition: spinal cord compression
    because: Sudden leg weakness can mean pressure on the spine.
    source: [book]
  - when: [fever, stiff_neck]
    level: emergency_department
    condition: meningitis
    because: A fever with a stiff neck can be meningitis.
    source: [book]
  - when: [fever]
    level: doctor_today
    condition: infection
    because: A fever needs checking today.
    source: [book]
  - when: [spread=leg]
    level: doctor_today
    condition: sciatica
    because: Tingling down the leg needs checking today.
    source: [book]
"""

BASE_REGIONS = """\
source: [numbers]
default: "XX"
regions:
  "XX": {emergency: "your local emergency number, like 911, 999 or 112", urgent: ""}
  "GB": {emergency: "999", urgent: "Call 111."}
"""

BASE_SOURCES = """\
sources:
  book: A book about backs.
  numbers: A list of emergency numbers.
"""

BASE_ANSWERS = """\
name: answers
description: yes, no, or not sure
intents:
  yes: [yes, yeah]
  no: [no, nope]
  unsure: [not sure, i don't know]
"""

BASE_COMMANDS = """\
name: commands
description: words that work at any question
intents:
  repeat: [repeat]
  help: [help]
  back: [go back]
  restart: [start over]
  stop: [stop]
  slower: [slower]
  faster: [faster]
  emergency: [emergency, help me, call an ambulance]
  advice: [what should i do]
"""

BASE_MORE = """\
name: more
description: next, or that's enough
intents:
  next: [next]
  enough: [enough]
"""

BASE_WHERE = """\
name: where
description: arm, leg, neither, or not sure
include: [unsure]
intents:
  arm: [arm, my arm]
  leg: [leg, my leg]
  none: [neither]
"""


def edit(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once, by `new`."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, needle: str, after: int = 0) -> int:
    """1-based line of the only line containing `needle`, plus `after`."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(lines) == 1, f"{needle!r} is on lines {lines}"
    return lines[0] + after


def item_line(text: str, key: str, section: str) -> int:
    """The line the mapping of `key` under the top-level `section` starts on: the line after `  key:`."""
    lines = text.splitlines()
    start = lines.index(f"{section}:")
    return lines.index(f"  {key}:", start) + 2


@dataclass
class Texts:
    triage: str = BASE_TRIAGE
    rules: str = BASE_RULES
    regions: str = BASE_REGIONS
    sources: str = BASE_SOURCES
    answers: str = BASE_ANSWERS
    commands: str = BASE_COMMANDS
    more: str = BASE_MORE
    where: str = BASE_WHERE

    def content_texts(self) -> dict[str, str]:
        return {TRIAGE: self.triage, RULES: self.rules, REGIONS: self.regions, SOURCES: self.sources}

    def grammar_texts(self) -> dict[str, str]:
        return {ANSWERS: self.answers, COMMANDS: self.commands, MORE: self.more, WHERE: self.where}

    def content(self) -> Content:
        return Content.from_yaml(self.content_texts())

    def grammars(self) -> Grammars:
        return Grammars.from_yaml(self.grammar_texts())

    def problems(self) -> list[ContentError]:
        """Every error: the one loading raises, or all that `check` yields."""
        try:
            return list(check(self.content(), self.grammars()))
        except ContentErrors as exc:  # pragma: no cover - check() yields, it does not raise these
            return exc.problems
        except ContentError as exc:
            return [exc]


def the_error(problems: list[ContentError], item: str | None = None, *, text: str = "") -> ContentError:
    """The one problem about `item` (any item when None) whose message contains `text`."""
    found = [p for p in problems if (item is None or p.item == item) and text in str(p)]
    assert len(found) == 1, [str(p) for p in problems]
    return found[0]


def assert_names(error: ContentError, file: str, line: int | None, item: str) -> None:
    assert error.file == file, str(error)
    assert error.line == line, str(error)
    assert error.item == item, str(error)
    where = f"{file}:{line}" if line is not None else file
    assert str(error).startswith(f"{where} [{item}]: " if item else f"{where}: "), str(error)


def grammar_error(texts: Texts) -> ContentError:
    with pytest.raises(ContentError) as caught:
        texts.grammars()
    return caught.value


# ------------------------------------------------------------------------------------------ the baseline
def test_fixture_is_valid() -> None:
    texts = Texts()
    assert texts.problems() == []
    content = texts.content()
    assert content.version == "test 1"
    assert list(content.levels) == ["emergency", "emergency_department", "doctor_today"]
    assert list(content.questions) == ["legs_weak", "fever", "stiff_neck", "spread"]
    assert [rule.id for rule in content.rules] == ["legs_weak", "fever+stiff_neck", "fever", "spread=leg"]
    assert set(content.templates) == set(TEMPLATE_KEYS)
    assert content.default_region == "XX" and set(content.regions) == {"XX", "GB"}
    assert set(texts.grammars().tables) == {"answers", "commands", "more", "where"}


def test_real_repository_content_passes() -> None:
    bundle = load_bundle(ROOT / "content", ROOT / "grammars")
    assert list(check(bundle.content, bundle.grammars)) == []


def test_yes_and_no_are_words_not_booleans() -> None:
    """Answers and region codes like NO (Norway) stay text; only true/false are booleans."""
    texts = Texts()
    texts.regions = edit(texts.regions, '  "GB":', '  NO: {emergency: "113", urgent: ""}\n  "GB":')
    texts.rules = edit(texts.rules, "when: [spread=leg]", "when: [spread=none]")
    assert texts.problems() == []
    assert "NO" in texts.content().regions
    assert texts.grammars().tables["answers"].intents["no"] == ("no", "nope")


# ------------------------------------------------------------------------------------------ YAML errors
def test_yaml_syntax_error() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    ask: Are your legs weak?\n", "    ask: Are your: legs weak?\n")
    error = the_error(texts.problems(), text="this is not valid YAML")
    assert_names(error, TRIAGE, line_of(texts.triage, "Are your: legs"), "")


def test_yaml_syntax_error_in_rules() -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "  - when: [fever]\n", "  - when: [fever\n")
    error = the_error(texts.problems(), text="this is not valid YAML")
    assert error.file == RULES and error.line is not None
    assert error.line >= texts.rules.splitlines().index("  - when: [fever") + 1


def test_yaml_syntax_error_in_a_grammar() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "  leg: [leg, my leg]\n", "  leg: [leg, my leg\n")
    error = grammar_error(texts)
    assert "this is not valid YAML" in str(error)
    assert error.file == WHERE and error.line is not None
    assert error.line >= line_of(texts.where, "  leg: [leg")


def test_duplicate_key() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    ask: Is your neck stiff?\n",
                        "    ask: Is your neck stiff?\n    ask: Is your neck sore?\n")
    error = the_error(texts.problems(), text="the key 'ask' appears twice")
    assert_names(error, TRIAGE, line_of(texts.triage, "Is your neck sore?"), "")


def test_duplicate_question() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "causes:\n  strain:\n",
                        "  fever:\n    ask: Again?\ncauses:\n  strain:\n")
    error = the_error(texts.problems(), text="the key 'fever' appears twice")
    assert_names(error, TRIAGE, line_of(texts.triage, "ask: Again?", after=-1), "")


# ------------------------------------------------------------------------------------------ files
def test_no_rules_file_among_the_texts() -> None:
    texts = {k: v for k, v in Texts().content_texts().items() if k != RULES}
    with pytest.raises(ContentError) as caught:
        Content.from_yaml(texts)
    assert str(caught.value).startswith("no rules.yaml among the content files"), str(caught.value)
    assert SOURCES in str(caught.value)


def test_triage_file_must_be_a_mapping() -> None:
    texts = Texts(triage="- just\n- a list\n")
    error = the_error(texts.problems(), text="expected a mapping")
    assert_names(error, TRIAGE, None, "the file")


def test_empty_sources_file() -> None:
    texts = Texts(sources="")
    error = the_error(texts.problems(), text="expected a mapping")
    assert_names(error, SOURCES, None, "the file")


def test_unknown_key_in_sources_file() -> None:
    texts = Texts()
    texts.sources = "owner: me\n" + texts.sources
    error = the_error(texts.problems(), text="unknown keys ['owner']; allowed: sources")
    assert_names(error, SOURCES, 1, "the file")


def test_sources_must_be_a_mapping() -> None:
    texts = Texts(sources="sources: [book, numbers]\n")
    error = the_error(texts.problems(), text="expected a mapping")
    assert_names(error, SOURCES, None, "sources")


def test_unknown_key_at_top_level() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, 'version: "test 1"\n', 'version: "test 1"\nauthor: me\n')
    error = the_error(texts.problems(), text="unknown keys ['author']")
    assert_names(error, TRIAGE, 1, "the file")


def test_missing_version() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, 'version: "test 1"\n', 'version: ""\n')
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, TRIAGE, 1, "version")


# ------------------------------------------------------------------------------------------ sources
def test_unknown_source() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    note: stiff neck\n    source: [book]\n",
                        "    note: stiff neck\n    source: [bok]\n")
    error = the_error(texts.problems(), text="unknown source 'bok'; add it to sources.yaml")
    assert_names(error, TRIAGE, item_line(texts.triage, "stiff_neck", "questions"), "stiff_neck")


def test_missing_source() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    name: a strain\n    source: [book]\n", "    name: a strain\n")
    error = the_error(texts.problems(), text="every item needs `source: [ids]`")
    assert_names(error, TRIAGE, item_line(texts.triage, "strain", "causes"), "strain")


def test_source_must_be_a_list() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "  doctor_today:\n    name: contact a doctor today\n    source: [book]\n",
                        "  doctor_today:\n    name: contact a doctor today\n    source: book\n")
    error = the_error(texts.problems(), text="every item needs `source: [ids]`")
    assert_names(error, TRIAGE, item_line(texts.triage, "doctor_today", "levels"), "doctor_today")


def test_unknown_source_of_a_rule() -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "    because: A fever needs checking today.\n    source: [book]\n",
                       "    because: A fever needs checking today.\n    source: [book, leaflet]\n")
    error = the_error(texts.problems(), text="unknown source 'leaflet'")
    assert_names(error, RULES, line_of(texts.rules, "when: [fever]"), "rule 3")


# ------------------------------------------------------------------------------------------ templates
def test_templates_need_a_source() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "templates:\n  source: [book]\n", "templates:\n")
    error = the_error(texts.problems(), text="every item needs `source")
    assert_names(error, TRIAGE, line_of(texts.triage, "templates:", after=1), "templates")


def test_missing_template() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, '  goodbye: "goodbye text."\n', "")
    error = the_error(texts.problems(), text="template 'goodbye' is missing")
    assert_names(error, TRIAGE, line_of(texts.triage, "templates:", after=1), "templates")


def test_unknown_template() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, '  goodbye: "goodbye text."\n',
                        '  goodbye: "goodbye text."\n  farewell: "Bye."\n')
    error = the_error(texts.problems(), text="unknown templates ['farewell']")
    assert_names(error, TRIAGE, line_of(texts.triage, "farewell:"), "templates")


def test_empty_template() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, '  goodbye: "goodbye text."\n', '  goodbye: "  "\n')
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, TRIAGE, line_of(texts.triage, "goodbye:"), "templates.goodbye")


BAD_PLACEHOLDER = ('  reprompt: "reprompt text {choices}."\n', '  reprompt: "reprompt text {choice}."\n')


def test_unknown_placeholder_in_a_template() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, *BAD_PLACEHOLDER)
    error = the_error(texts.problems(), text="unknown placeholder(s) ['choice']; use {choices}")
    assert_names(error, TRIAGE, line_of(texts.triage, "reprompt:"), "templates.reprompt")


def test_placeholder_in_a_template_that_takes_none() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, '  gap: "gap text."\n', '  gap: "gap text {topic}."\n')
    error = the_error(texts.problems(), text="unknown placeholder(s) ['topic']; it takes none")
    assert_names(error, TRIAGE, line_of(texts.triage, "  gap:"), "templates.gap")


def test_positional_placeholder() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, BAD_PLACEHOLDER[0], '  reprompt: "reprompt text {}."\n')
    error = the_error(texts.problems(), text="unknown placeholder(s) ['']")
    assert_names(error, TRIAGE, line_of(texts.triage, "reprompt:"), "templates.reprompt")


def test_unclosed_brace_in_template() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, BAD_PLACEHOLDER[0], '  reprompt: "reprompt text {choices."\n')
    error = the_error(texts.problems(), text="broken placeholder")
    assert "write {name} with both braces" in str(error)
    assert_names(error, TRIAGE, line_of(texts.triage, "reprompt:"), "templates.reprompt")


def test_template_too_long_with_the_longest_regions_number() -> None:
    texts = Texts()
    long = " ".join(["word"] * 31)  # 31 + "opening text" (2) + the XX number (9) = 42 words
    texts.triage = edit(texts.triage, '  opening: "opening text {emergency}."\n',
                        f'  opening: "opening text {long} {{emergency}}."\n')
    error = the_error(texts.problems(), text="42 words; keep it under 40")
    assert_names(error, TRIAGE, line_of(texts.triage, "opening:"), "templates.opening")


# ------------------------------------------------------------------------------------------ levels and texts
@pytest.mark.parametrize("level", REQUIRED_LEVELS)
def test_required_level(level: str) -> None:
    texts = Texts()
    lines = texts.triage.splitlines(keepends=True)
    start = lines.index(f"  {level}:\n")
    end = next(n for n in range(start + 1, len(lines)) if not lines[n].startswith("    "))
    texts.triage = "".join(lines[:start] + lines[end:])
    error = the_error(texts.problems(), "levels", text=f"the level {level!r} is required")
    assert_names(error, TRIAGE, None, "levels")


def test_levels_must_be_a_mapping() -> None:
    texts = Texts()
    lines = texts.triage.splitlines(keepends=True)
    start, end = lines.index("levels:\n"), lines.index("worsening:\n")
    texts.triage = "".join([*lines[:start], "levels: [emergency, doctor_today]\n", *lines[end:]])
    error = the_error(texts.problems(), text="expected a mapping")
    assert_names(error, TRIAGE, None, "levels")


def test_unknown_key_in_a_level() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      - Go to the emergency department now.\n",
                        "      - Go to the emergency department now.\n    rank: 1\n")
    error = the_error(texts.problems(), text="unknown keys ['rank']; allowed: name, say, source")
    assert_names(error, TRIAGE, item_line(texts.triage, "emergency_department", "levels"), "emergency_department")


def test_level_without_name() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    name: go to the emergency department now\n", "")
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, TRIAGE, item_line(texts.triage, "emergency_department", "levels"),
                 "emergency_department.name")


def test_level_say_must_be_a_list() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    say:\n      - Go to the emergency department now.\n",
                        "    say: Go to the emergency department now.\n")
    error = the_error(texts.problems(), text="`say` must be a non-empty list of sentences")
    assert_names(error, TRIAGE, item_line(texts.triage, "emergency_department", "levels"), "emergency_department")


def test_level_sentence_must_be_text() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      - Do not drive yourself.\n", "      - 42\n")
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, TRIAGE, item_line(texts.triage, "emergency", "levels"), "emergency")


def test_sentence_too_long_with_the_longest_regions_number() -> None:
    """33 words as written, 41 once the XX region's 9-word number is filled in."""
    texts = Texts()
    sentence = "Call " + " ".join(["now"] * 31) + " {emergency}."
    texts.triage = edit(texts.triage, "      - Do not drive yourself.\n", f"      - {sentence}\n")
    error = the_error(texts.problems(), "emergency", text="a sentence has 41 words (with the longest region's")
    assert_names(error, TRIAGE, item_line(texts.triage, "emergency", "levels"), "emergency")
    # With only the short GB number, the same sentence fits.
    texts.regions = edit(texts.regions, 'default: "XX"', 'default: "GB"')
    texts.regions = edit(texts.regions, '  "XX": {emergency: "your local emergency number, like 911, 999 or 112", '
                                        'urgent: ""}\n', "")
    assert texts.problems() == []


def test_unknown_placeholder_in_a_level() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      - Go to the emergency department now.\n",
                        "      - Go to the emergency department now, or call {phone}.\n")
    error = the_error(texts.problems(), text="unknown placeholder {phone}; only {emergency} and {urgent}")
    assert_names(error, TRIAGE, item_line(texts.triage, "emergency_department", "levels"), "emergency_department")


def test_unclosed_brace_in_a_level_sentence() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      - Go to the emergency department now.\n",
                        "      - Go now, or call {emergency.\n")
    error = the_error(texts.problems(), "emergency_department")
    assert_names(error, TRIAGE, item_line(texts.triage, "emergency_department", "levels"), "emergency_department")


# ------------------------------------------------------------------------------------------ worsening
def test_unknown_key_in_worsening() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "worsening:\n  source: [book]\n", "worsening:\n  source: [book]\n  when: later\n")
    error = the_error(texts.problems(), text="unknown keys ['when']; allowed: say, source")
    assert_names(error, TRIAGE, line_of(texts.triage, "worsening:", after=1), "worsening")


def test_worsening_sentence_too_long() -> None:
    texts = Texts()
    long = " ".join(["worse"] * 41)
    texts.triage = edit(texts.triage, "    - If it gets worse, call {emergency}.\n", f"    - It gets {long}.\n")
    error = the_error(texts.problems(), "worsening", text="a sentence has 43 words")
    assert_names(error, TRIAGE, None, "worsening")


# ------------------------------------------------------------------------------------------ causes
def test_unknown_key_in_a_cause() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    name: a strain\n", "    name: a strain\n    nmae: oops\n")
    error = the_error(texts.problems(), text="unknown keys ['nmae']")
    assert_names(error, TRIAGE, item_line(texts.triage, "strain", "causes"), "strain")


def test_cause_without_say() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    say: [It may be a strain.]\n", "")
    error = the_error(texts.problems(), text="`say` must be a non-empty list of sentences")
    assert_names(error, TRIAGE, item_line(texts.triage, "strain", "causes"), "strain")


def test_cause_without_name() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    name: a strain\n", "    name: []\n")
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, TRIAGE, item_line(texts.triage, "strain", "causes"), "strain")


def test_cause_sentence_too_long() -> None:
    texts = Texts()
    long = " ".join(["strain"] * 38)
    texts.triage = edit(texts.triage, "    say: [It may be a strain.]\n", f"    say: [It may be {long}.]\n")
    error = the_error(texts.problems(), "strain", text="a sentence has 41 words")
    assert_names(error, TRIAGE, item_line(texts.triage, "strain", "causes"), "strain")


def test_cause_no_answer_points_to() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "causes:\n  strain:\n",
                        "causes:\n  sprain:\n    name: a sprain\n    source: [book]\n    say: [A sprain.]\n"
                        "  strain:\n")
    error = the_error(texts.problems(), text="no answer ever points to this cause")
    assert_names(error, TRIAGE, item_line(texts.triage, "sprain", "causes"), "sprain")


# ------------------------------------------------------------------------------------------ questions
def test_unknown_key_in_a_question() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    ask: Do you have a fever?\n",
                        "    ask: Do you have a fever?\n    red_flag: true\n")
    error = the_error(texts.problems(), text="unknown keys ['red_flag']")
    assert_names(error, TRIAGE, item_line(texts.triage, "fever", "questions"), "fever")


@pytest.mark.parametrize("field", ["ask", "topic", "note"])
def test_question_needs_text(field: str) -> None:
    texts = Texts()
    old = {"ask": "    ask: Do you have a fever?\n", "topic": "    topic: a fever\n",
           "note": "    note: fever\n"}[field]
    texts.triage = edit(texts.triage, old, "")
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, TRIAGE, item_line(texts.triage, "fever", "questions"), f"fever.{field}")


def test_question_grammar_must_be_text() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    grammar: where\n", "    grammar: [where]\n")
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, TRIAGE, item_line(texts.triage, "spread", "questions"), "spread.grammar")


def test_ask_if_must_be_a_list() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    ask_if: [fever]\n", "    ask_if: fever\n")
    error = the_error(texts.problems(), text="expected a list of ids")
    assert_names(error, TRIAGE, item_line(texts.triage, "stiff_neck", "questions"), "stiff_neck.ask_if")


def test_question_causes_must_be_a_mapping() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    causes:\n      arm: [strain]\n", "    causes: [strain]\n")
    error = the_error(texts.problems(), text="expected a mapping")
    assert_names(error, TRIAGE, None, "spread.causes")


def test_question_causes_must_list_ids() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      arm: [strain]\n", "      arm: strain\n")
    error = the_error(texts.problems(), text="expected a list of ids")
    assert_names(error, TRIAGE, item_line(texts.triage, "spread", "questions"), "spread.causes.arm")


def test_unknown_grammar() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    grammar: where\n", "    grammar: whereabouts\n")
    error = the_error(texts.problems(), text="grammar 'whereabouts' is not in grammars/ (answers, commands, more, "
                                             "where)")
    assert_names(error, TRIAGE, item_line(texts.triage, "spread", "questions"), "spread")


def test_grammar_without_unsure() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "include: [unsure]\n", "")
    error = the_error(texts.problems(), text="its grammar 'where' needs an 'unsure' answer (include: [unsure])")
    assert_names(error, TRIAGE, item_line(texts.triage, "spread", "questions"), "spread")


def test_ask_if_names_a_later_question() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    ask: Do you have a fever?\n",
                        "    ask: Do you have a fever?\n    ask_if: [stiff_neck]\n")
    error = the_error(texts.problems(), text="`ask_if` names 'stiff_neck', which is not a question asked before")
    assert_names(error, TRIAGE, item_line(texts.triage, "fever", "questions"), "fever")


def test_ask_if_names_an_unknown_question() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    ask_if: [fever]\n", "    ask_if: [fevr]\n")
    error = the_error(texts.problems(), "stiff_neck", text="`ask_if` names 'fevr'")
    assert_names(error, TRIAGE, item_line(texts.triage, "stiff_neck", "questions"), "stiff_neck")


def test_causes_for_an_answer_the_grammar_never_produces() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      arm: [strain]\n", "      arm: [strain]\n      elbow: [strain]\n")
    error = the_error(texts.problems(), text="`causes` for 'elbow', which its grammar 'where' never produces")
    assert_names(error, TRIAGE, item_line(texts.triage, "spread", "questions"), "spread")


def test_unknown_cause() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      arm: [strain]\n", "      arm: [strain, sprain]\n")
    error = the_error(texts.problems(), text="unknown cause 'sprain'")
    assert_names(error, TRIAGE, item_line(texts.triage, "spread", "questions"), "spread")


def test_question_too_long() -> None:
    texts = Texts()
    long = " ".join(["really"] * 18)
    texts.triage = edit(texts.triage, "    ask: Do you have a fever?\n", f"    ask: Do you {long} have a fever?\n")
    error = the_error(texts.problems(), text="the question has 23 words; keep it to 20, one idea")
    assert_names(error, TRIAGE, item_line(texts.triage, "fever", "questions"), "fever")


def test_question_no_rule_uses() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "causes:\n  strain:\n",
                        "  age:\n    ask: How old are you?\n    topic: your age\n    note: age\n    source: [book]\n"
                        "causes:\n  strain:\n")
    error = the_error(texts.problems(), text="no rule uses this question and it points to no cause")
    assert_names(error, TRIAGE, item_line(texts.triage, "age", "questions"), "age")


def test_question_with_causes_needs_no_rule() -> None:
    texts = Texts()
    row = ("  - when: [spread=leg]\n    level: doctor_today\n    condition: sciatica\n"
           "    because: Tingling down the leg needs checking today.\n    source: [book]\n")
    texts.rules = edit(texts.rules, row, "")
    assert texts.problems() == []


# ------------------------------------------------------------------------------------------ sections
@pytest.mark.parametrize("section", ["causes", "summary"])
def test_required_section(section: str) -> None:
    texts = Texts()
    lines = texts.triage.splitlines(keepends=True)
    start = lines.index(f"  {section}:\n", lines.index("sections:\n"))
    end = next((n for n in range(start + 1, len(lines)) if not lines[n].startswith("    ")), len(lines))
    texts.triage = "".join(lines[:start] + lines[end:])
    error = the_error(texts.problems(), "sections", text=f"the section {section!r} is required")
    assert_names(error, TRIAGE, None, "sections")


def test_unknown_key_in_a_section() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    offer: Would you like a summary?\n",
                        "    offer: Would you like a summary?\n    outro: Bye.\n")
    error = the_error(texts.problems(), text="unknown keys ['outro']; allowed: intro, items, none_found, offer, "
                                             "source")
    assert_names(error, TRIAGE, item_line(texts.triage, "summary", "sections"), "summary")


def test_section_items_must_be_a_list() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    items:\n      - [Most tingling passes.]\n",
                        "    items: Most tingling passes.\n")
    error = the_error(texts.problems(), text="`items` must be a list of items")
    assert_names(error, TRIAGE, item_line(texts.triage, "causes", "sections"), "causes")


def test_section_item_must_be_a_list_of_sentences() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      - [Most tingling passes.]\n",
                        "      - [Most tingling passes.]\n      - Rest helps.\n")
    error = the_error(texts.problems(), text="each item must be a non-empty list of sentences")
    assert_names(error, TRIAGE, item_line(texts.triage, "causes", "sections"), "causes.items[2]")


def test_section_sentence_must_be_text() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      - [Most tingling passes.]\n", "      - [Most tingling passes., '']\n")
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, TRIAGE, item_line(texts.triage, "causes", "sections"), "causes.items[1]")


def test_section_offer_must_be_text() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    offer: Would you like a summary?\n", "    offer: ''\n")
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, TRIAGE, item_line(texts.triage, "summary", "sections"), "summary.offer")


def test_section_none_found_must_be_a_list() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    none_found: [No cause stands out.]\n", "    none_found: []\n")
    error = the_error(texts.problems(), text="`none_found` must be a non-empty list of sentences")
    assert_names(error, TRIAGE, item_line(texts.triage, "causes", "sections"), "causes")


def test_section_sentence_too_long() -> None:
    texts = Texts()
    long = " ".join(["often"] * 39)
    texts.triage = edit(texts.triage, "    intro: These are possibilities.\n", f"    intro: These are {long}.\n")
    error = the_error(texts.problems(), "causes", text="a sentence has 41 words")
    assert_names(error, TRIAGE, item_line(texts.triage, "causes", "sections"), "causes")


# ------------------------------------------------------------------------------------------ rules.yaml
def test_rules_file_unknown_key() -> None:
    texts = Texts()
    texts.rules = "reviewed: yes\n" + texts.rules
    error = the_error(texts.problems(), text="unknown keys ['reviewed']; allowed: rules")
    assert_names(error, RULES, 1, "the file")


def test_rules_must_be_a_non_empty_list() -> None:
    texts = Texts(rules="rules: []\n")
    error = the_error(texts.problems(), text="`rules` must be a non-empty list of rows")
    assert_names(error, RULES, 1, "")


def test_rule_row_must_be_a_mapping() -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "rules:\n", "rules:\n  - legs_weak\n")
    error = the_error(texts.problems(), text="expected a mapping")
    assert (error.file, error.item) == (RULES, "rule 1"), str(error)


def test_unknown_key_in_a_rule() -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "    condition: meningitis\n", "    condition: meningitis\n    urgent: yes\n")
    error = the_error(texts.problems(), text="unknown keys ['urgent']; allowed: because, condition, level, source, "
                                             "when")
    assert_names(error, RULES, line_of(texts.rules, "when: [fever, stiff_neck]"), "rule 2")


@pytest.mark.parametrize("when", ["[]", "legs_weak", "[legs_weak, '']", "[true]"])
def test_rule_when_must_list_questions(when: str) -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "  - when: [legs_weak]\n", f"  - when: {when}\n")
    error = the_error(texts.problems(), text="`when` must list question ids (or question=answer)")
    assert_names(error, RULES, line_of(texts.rules, f"when: {when}"), "rule 1")


@pytest.mark.parametrize("field", ["level", "condition", "because"])
def test_rule_needs_text(field: str) -> None:
    texts = Texts()
    old = {"level": "    level: emergency_department\n", "condition": "    condition: meningitis\n",
           "because": "    because: A fever with a stiff neck can be meningitis.\n"}[field]
    texts.rules = edit(texts.rules, old, "")
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, RULES, line_of(texts.rules, "when: [fever, stiff_neck]"), "rule 2")


def test_rule_unknown_level() -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "    level: emergency_department\n", "    level: see_gp\n")
    error = the_error(texts.problems(), text="unknown level 'see_gp'; use one of emergency, emergency_department, "
                                             "doctor_today")
    assert_names(error, RULES, line_of(texts.rules, "when: [fever, stiff_neck]"), "fever+stiff_neck")


def test_rule_because_too_long() -> None:
    texts = Texts()
    long = " ".join(["really"] * 19)
    texts.rules = edit(texts.rules, "    because: A fever needs checking today.\n",
                       f"    because: A fever {long} needs checking.\n")
    error = the_error(texts.problems(), text="`because` has 23 words; keep it to 22")
    assert_names(error, RULES, line_of(texts.rules, "when: [fever]"), "fever")


def test_rule_unknown_question() -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "when: [fever, stiff_neck]", "when: [fever, stiff_nek]")
    error = the_error(texts.problems(), text="names the question 'stiff_nek', which triage.yaml does not ask")
    assert_names(error, RULES, line_of(texts.rules, "when: [fever, stiff_nek]"), "fever+stiff_nek")


def test_rule_unknown_answer() -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "when: [spread=leg]", "when: [spread=elbow]")
    error = the_error(texts.problems(), text="spread never has the answer 'elbow'")
    assert_names(error, RULES, line_of(texts.rules, "when: [spread=elbow]"), "spread=elbow")


def test_rule_answer_of_a_yes_no_question() -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "when: [legs_weak]", "when: [legs_weak=maybe]")
    error = the_error(texts.problems(), text="legs_weak never has the answer 'maybe'")
    assert_names(error, RULES, line_of(texts.rules, "when: [legs_weak=maybe]"), "legs_weak=maybe")


# ------------------------------------------------------------------------------------------ regions.yaml
def test_regions_file_unknown_key() -> None:
    texts = Texts()
    texts.regions = edit(texts.regions, 'default: "XX"\n', 'default: "XX"\nfallback: "GB"\n')
    error = the_error(texts.problems(), text="unknown keys ['fallback']; allowed: default, regions, source")
    assert_names(error, REGIONS, 1, "the file")


def test_regions_need_a_source() -> None:
    texts = Texts()
    texts.regions = edit(texts.regions, "source: [numbers]\n", "")
    error = the_error(texts.problems(), text="every item needs `source")
    assert_names(error, REGIONS, 1, "the file")


def test_regions_must_be_a_mapping() -> None:
    texts = Texts(regions='source: [numbers]\ndefault: "XX"\nregions: [XX, GB]\n')
    error = the_error(texts.problems(), text="expected a mapping")
    assert_names(error, REGIONS, None, "regions")


def test_unknown_key_in_a_region() -> None:
    texts = Texts()
    texts.regions = edit(texts.regions, 'urgent: "Call 111."}', 'urgent: "Call 111.", police: "999"}')
    error = the_error(texts.problems(), text="unknown keys ['police']; allowed: emergency, urgent")
    assert_names(error, REGIONS, line_of(texts.regions, '"GB":'), "GB")


def test_region_without_emergency_number() -> None:
    texts = Texts()
    texts.regions = edit(texts.regions, '{emergency: "999", urgent: "Call 111."}', '{urgent: "Call 111."}')
    error = the_error(texts.problems(), text="expected non-empty text")
    assert_names(error, REGIONS, line_of(texts.regions, '"GB":'), "GB")


def test_region_urgent_must_be_text() -> None:
    texts = Texts()
    texts.regions = edit(texts.regions, 'urgent: "Call 111."', "urgent: 111")
    error = the_error(texts.problems(), text="`urgent` must be text (it may be empty)")
    assert_names(error, REGIONS, line_of(texts.regions, '"GB":'), "GB")


def test_default_region_must_exist() -> None:
    texts = Texts()
    texts.regions = edit(texts.regions, 'default: "XX"', 'default: "zz"')
    error = the_error(texts.problems(), text="`default` must name one of the regions, not 'ZZ'")
    assert_names(error, REGIONS, 1, "")


# ------------------------------------------------------------------------------------------ grammars
def test_grammar_must_be_a_mapping() -> None:
    texts = Texts(where="- arm\n- leg\n")
    error = grammar_error(texts)
    assert str(error) == f"{WHERE}: a grammar file must be a mapping with `name` and `intents`"


def test_unknown_key_in_a_grammar() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "include: [unsure]\n", "include: [unsure]\nincludes: [yes]\n")
    error = grammar_error(texts)
    assert "unknown keys ['includes']" in str(error)
    assert_names(error, WHERE, 1, "")


def test_grammar_name_must_be_a_word() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "name: where\n", "name: Where Else\n")
    error = grammar_error(texts)
    assert "`name` must be a lower-case word" in str(error)
    assert_names(error, WHERE, 1, "")


def test_grammar_needs_intents() -> None:
    texts = Texts(more="name: more\ndescription: next, or that's enough\nintents: {}\n")
    error = grammar_error(texts)
    assert "`intents` must map each intent to a list of phrases" in str(error)
    assert_names(error, MORE, 1, "more")


def test_intent_name_must_be_a_word() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "  none: [neither]\n", "  No Where: [neither]\n")
    error = grammar_error(texts)
    assert "intent name 'No Where' must be a lower-case word" in str(error)
    assert_names(error, WHERE, line_of(texts.where, "  arm:"), "No Where")


def test_intent_needs_phrases() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "  none: [neither]\n", "  none: []\n")
    error = grammar_error(texts)
    assert "give a non-empty list of phrases" in str(error)
    assert_names(error, WHERE, line_of(texts.where, "  arm:"), "none")


def test_phrase_empty_after_punctuation() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "  none: [neither]\n", '  none: [neither, "?!"]\n')
    error = grammar_error(texts)
    assert "a phrase is empty after removing punctuation" in str(error)
    assert_names(error, WHERE, line_of(texts.where, "  arm:"), "none")


def test_typed_only_phrase_empty_after_punctuation() -> None:
    texts = Texts()
    texts.answers = texts.answers + 'typed_only:\n  yes: ["?"]\n'
    error = grammar_error(texts)
    assert "a phrase is empty after removing punctuation" in str(error)
    assert (error.file, error.item) == (ANSWERS, "yes")


def test_typed_only_must_be_a_mapping() -> None:
    texts = Texts()
    texts.answers = texts.answers + "typed_only: [y, n]\n"
    error = grammar_error(texts)
    assert "`typed_only` must map intents to phrases" in str(error)
    assert_names(error, ANSWERS, line_of(texts.answers, "typed_only:"), "")


def test_typed_only_for_an_undefined_intent() -> None:
    texts = Texts()
    texts.answers = texts.answers + "typed_only:\n  yes: [y]\n  perhaps: [possibly]\n"
    error = grammar_error(texts)
    assert "`typed_only` adds phrases to an intent defined or included above" in str(error)
    assert_names(error, ANSWERS, line_of(texts.answers, "perhaps:"), "perhaps")


def test_ignore_must_list_phrases() -> None:
    texts = Texts()
    texts.commands = texts.commands + "ignore: not an emergency\n"
    error = grammar_error(texts)
    assert "`ignore` must list phrases that mean nothing" in str(error)
    assert_names(error, COMMANDS, line_of(texts.commands, "ignore:"), "")


def test_include_must_be_a_list() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "include: [unsure]\n", "include: unsure\n")
    error = grammar_error(texts)
    assert "`include` must list intent names from answers.yaml" in str(error)
    assert_names(error, WHERE, line_of(texts.where, "include:"), "")


def test_include_of_unknown_intent() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "include: [unsure]\n", "include: [unsure, maybe]\n")
    error = grammar_error(texts)
    assert "`include` names 'maybe', which answers.yaml does not define" in str(error)
    assert_names(error, WHERE, 1, "maybe")


def test_intent_both_defined_and_included() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "  none: [neither]\n", "  none: [neither]\n  unsure: [no idea]\n")
    error = grammar_error(texts)
    assert "intent is both defined and included; keep one" in str(error)
    assert_names(error, WHERE, 1, "unsure")


def test_grammar_needs_a_description() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "description: arm, leg, neither, or not sure\n", "")
    error = grammar_error(texts)
    assert "`description` must say the choices aloud" in str(error)
    assert_names(error, WHERE, 1, "where")


def test_phrase_in_two_intents() -> None:
    texts = Texts()
    texts.answers = edit(texts.answers, "  yes: [yes, yeah]\n", "  yes: [yes, yeah, not sure]\n")
    error = grammar_error(texts)
    assert "the phrase 'not sure' means both 'yes' and 'unsure'" in str(error)
    assert_names(error, ANSWERS, line_of(texts.answers, "  unsure:"), "not sure")


def test_typed_only_phrase_in_two_intents() -> None:
    texts = Texts()
    texts.answers = texts.answers + "typed_only:\n  no: [yeah]\n"
    error = grammar_error(texts)
    assert "the phrase 'yeah' means both 'yes' and 'no'" in str(error)
    assert_names(error, ANSWERS, line_of(texts.answers, "  no: [no"), "yeah")


def test_phrase_shared_with_a_command() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "  leg: [leg, my leg]\n", "  leg: [leg, my leg, stop]\n")
    error = grammar_error(texts)
    assert "the phrase 'stop' means both 'leg' and 'stop'" in str(error)
    assert_names(error, WHERE, line_of(texts.where, "  leg:"), "stop")


def test_phrase_that_begins_another_intents_phrase() -> None:
    texts = Texts()
    texts.answers = edit(texts.answers, "  no: [no, nope]\n", "  no: [no, nope, i don't]\n")
    error = grammar_error(texts)
    assert """the phrase "i don't" (no) is the start of "i don't know" (unsure)""" in str(error)
    assert_names(error, ANSWERS, line_of(texts.answers, "  no:"), "i don't")


def test_prefix_within_one_intent_is_fine() -> None:
    texts = Texts()
    texts.answers = edit(texts.answers, "  no: [no, nope]\n", "  no: [no, nope, no i don't]\n")
    assert "no i don't" in texts.grammars().tables["answers"].intents["no"]


def test_typed_only_phrase_may_begin_another_intents_phrase() -> None:
    texts = Texts()
    texts.answers = texts.answers + "typed_only:\n  no: [i don't]\n"
    answers = texts.grammars().tables["answers"]
    assert "i don't" in answers.intents["no"] and "i don't" in answers.typed_only


def test_phrase_may_begin_an_emergency_phrase() -> None:
    """'help' (the help command) begins 'help me' (emergency): allowed, the fixture has it."""
    grammars = Texts().grammars()
    commands = grammars.tables["commands"]
    assert "help" in commands.intents["help"] and "help me" in commands.intents["emergency"]
    texts = Texts()
    texts.answers = edit(texts.answers, "  yes: [yes, yeah]\n", "  yes: [yes, yeah, call]\n")
    assert "call" in texts.grammars().tables["answers"].intents["yes"]


def test_only_emergency_phrases_are_exempt_from_the_prefix_rule() -> None:
    texts = Texts()
    texts.commands = edit(texts.commands, "  stop: [stop]\n", "  stop: [stop, help us stop]\n")
    error = grammar_error(texts)
    assert """the phrase 'help' (help) is the start of 'help us stop' (stop)""" in str(error)
    assert_names(error, COMMANDS, line_of(texts.commands, "  help:"), "help")


def test_answer_that_begins_a_command() -> None:
    texts = Texts()
    texts.answers = edit(texts.answers, "  yes: [yes, yeah]\n", "  yes: [yes, yeah, go]\n")
    error = grammar_error(texts)
    assert """the phrase 'go' (yes) is the start of 'go back' (back)""" in str(error)
    assert_names(error, ANSWERS, line_of(texts.answers, "  yes:"), "go")


def test_command_that_begins_an_answer_names_the_answers_line() -> None:
    texts = Texts()
    texts.answers = edit(texts.answers, "  yes: [yes, yeah]\n", "  yes: [yes, yeah, stop it]\n")
    error = grammar_error(texts)
    assert """the phrase 'stop' (stop) is the start of 'stop it' (yes)""" in str(error)
    assert error.file == ANSWERS
    assert error.line == line_of(texts.answers, "  yes:"), str(error)


def test_grammar_name_used_twice() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "name: where\n", "name: more\n")
    error = grammar_error(texts)
    assert str(error) == f"{WHERE} [more]: grammar name 'more' is also used by {MORE}"


@pytest.mark.parametrize("name", ["answers", "commands", "more"])
def test_required_grammar(name: str) -> None:
    texts = Texts()
    if name == "answers":
        texts.where = edit(texts.where, "include: [unsure]\n", "")
    documents = {k: v for k, v in texts.grammar_texts().items() if k != f"grammars/{name}.yaml"}
    with pytest.raises(ContentError) as caught:
        Grammars.from_yaml(documents)
    assert str(caught.value) == f"the grammar {name!r} ({name}.yaml) is missing"


@pytest.mark.parametrize("commands", [
    pytest.param(BASE_COMMANDS.replace("  faster: [faster]\n", ""), id="one missing"),
    pytest.param(BASE_COMMANDS + "  louder: [louder]\n", id="one extra"),
])
def test_commands_must_be_exactly_the_engines(commands: str) -> None:
    texts = Texts(commands=commands)
    error = grammar_error(texts)
    assert f"commands must be exactly {', '.join(COMMAND_INTENTS)} (check " in str(error)
    assert ("faster" if "louder" not in commands else "louder") in str(error).rsplit("(check", 1)[1]
    assert_names(error, COMMANDS, line_of(commands, "  repeat:"), "intents")


# ------------------------------------------------------------------------------------------ folders and load_bundle
def _write(directory: Path, texts: Texts) -> tuple[Path, Path]:
    content, grammars = directory / "content", directory / "grammars"
    content.mkdir()
    grammars.mkdir()
    for name, text in {**texts.content_texts(), **texts.grammar_texts()}.items():
        (directory / name).write_text(text, encoding="utf-8")
    return content, grammars


def test_load_bundle_reads_files(tmp_path: Path) -> None:
    bundle = load_bundle(*_write(tmp_path, Texts()))
    assert bundle.content.version == "test 1"
    assert bundle.content.file == str(tmp_path / TRIAGE)
    assert bundle.content.rules_file == str(tmp_path / RULES)
    assert set(bundle.grammars.tables) == {"answers", "commands", "more", "where"}


def test_load_bundle_lists_every_problem_with_its_path(tmp_path: Path) -> None:
    texts = Texts()
    texts.rules = edit(texts.rules, "    level: emergency_department\n", "    level: see_gp\n")
    texts.triage = edit(texts.triage, "    ask_if: [fever]\n", "    ask_if: [fevr]\n")
    content, grammars = _write(tmp_path, texts)
    with pytest.raises(ContentErrors) as caught:
        load_bundle(content, grammars)
    message = str(caught.value)
    assert message.splitlines()[0] == "2 problem(s) in the content:"
    rules_line = line_of(texts.rules, "[fever, stiff_neck]")
    neck_line = item_line(texts.triage, "stiff_neck", "questions")
    assert f"  {content / 'rules.yaml'}:{rules_line} [fever+stiff_neck]: unknown level 'see_gp'" in message
    assert f"  {content / 'triage.yaml'}:{neck_line} [stiff_neck]: `ask_if` names 'fevr'" in message
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize("name", ["triage.yaml", "rules.yaml", "regions.yaml", "sources.yaml"])
def test_missing_content_file(tmp_path: Path, name: str) -> None:
    content, grammars = _write(tmp_path, Texts())
    (content / name).unlink()
    with pytest.raises(ContentError) as caught:
        load_bundle(content, grammars)
    assert str(caught.value) == f"{content / name}: missing content file; expected {name} in {content}"


def test_content_file_not_utf8(tmp_path: Path) -> None:
    content, grammars = _write(tmp_path, Texts())
    (content / "rules.yaml").write_bytes(BASE_RULES.replace("A fever", "A f\xe9ver").encode("latin-1"))
    with pytest.raises(ContentError) as caught:
        load_bundle(content, grammars)
    byte = BASE_RULES.index("A fever") + 3
    message = str(caught.value)
    assert message.startswith(f"{content / 'rules.yaml'}:") and f"not UTF-8 text (byte {byte}" in message
    assert message.endswith("save the file as UTF-8") and caught.value.line is not None


def test_no_grammar_files(tmp_path: Path) -> None:
    content, grammars = _write(tmp_path, Texts())
    for path in grammars.iterdir():
        path.unlink()
    with pytest.raises(ContentError) as caught:
        load_bundle(content, grammars)
    assert str(caught.value) == f"{grammars}: no grammar files (*.yaml) found; the grammars/ folder is missing or empty"


def test_grammar_file_not_utf8(tmp_path: Path) -> None:
    content, grammars = _write(tmp_path, Texts())
    (grammars / "where.yaml").write_bytes(BASE_WHERE.replace("neither", "n\xe9ither").encode("latin-1"))
    with pytest.raises(ContentError) as caught:
        load_bundle(content, grammars)
    assert str(caught.value).startswith(f"{grammars / 'where.yaml'}:")
    assert "not UTF-8 text" in str(caught.value) and caught.value.line is not None


# ------------------------------------------------------------------------------------------ tingle check
def _tingle(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60, check=False)


def _check(content: Path, grammars: Path) -> subprocess.CompletedProcess[str]:
    return _tingle("check", "--no-model", "--content", str(content), "--grammars", str(grammars))


def test_tingle_check_passes_on_the_repository() -> None:
    result = _check(ROOT / "content", ROOT / "grammars")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("content ") and result.stdout.strip().endswith(": OK"), result.stdout
    assert result.stderr == ""


def test_tingle_check_passes_on_the_fixture(tmp_path: Path) -> None:
    result = _check(*_write(tmp_path, Texts()))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "content test 1: 4 questions, 4 rules, 3 levels, 4 grammars: OK\n"


def _broken_copy(tmp_path: Path, file: str, old: str, new: str) -> tuple[Path, Path, str]:
    """A copy of the repository's content and grammars with one edit in `file` (e.g. content/rules.yaml)."""
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "grammars", tmp_path / "grammars")
    path = tmp_path / file
    text = edit(path.read_text(encoding="utf-8"), old, new)
    path.write_text(text, encoding="utf-8")
    return tmp_path / "content", tmp_path / "grammars", text


def test_tingle_check_fails_with_file_line_and_item(tmp_path: Path) -> None:
    content, grammars, text = _broken_copy(tmp_path, RULES, "{when: [tearing], level: emergency,",
                                           "{when: [tearing], level: emergancy,")
    result = _check(content, grammars)
    assert result.returncode == 1
    expected = f"{content / 'rules.yaml'}:{line_of(text, 'when: [tearing]')} [tearing]: unknown level 'emergancy'"
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_tingle_check_reports_a_question_problem(tmp_path: Path) -> None:
    old = "    ask_if: [fever]\n    topic: a stiff neck with a fever\n"
    content, grammars, text = _broken_copy(tmp_path, TRIAGE, old, old.replace("[fever]", "[fevre]"))
    result = _check(content, grammars)
    assert result.returncode == 1
    expected = f"{content / 'triage.yaml'}:{item_line(text, 'stiff_neck', 'questions')} [stiff_neck]: `ask_if` names"
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_tingle_check_reports_yaml_errors_with_the_line(tmp_path: Path) -> None:
    content, grammars, text = _broken_copy(tmp_path, TRIAGE, "    ask: Are you 50 or older?\n",
                                           "    ask: Are you: 50 or older?\n")
    result = _check(content, grammars)
    assert result.returncode == 1
    assert f"{content / 'triage.yaml'}:{line_of(text, 'Are you: 50')}: this is not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_tingle_check_reports_a_grammar_error(tmp_path: Path) -> None:
    content, grammars, text = _broken_copy(tmp_path, ANSWERS, "  no: [no, nope,", "  no: [no, nope, not sure,")
    result = _check(content, grammars)
    assert result.returncode == 1
    assert f"{grammars / 'answers.yaml'}:{line_of(text, '  unsure: [not sure')} [not sure]: the phrase 'not sure' " \
           "means both 'no' and 'unsure'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_tingle_check_reports_a_broken_template_without_traceback(tmp_path: Path) -> None:
    content, grammars, text = _broken_copy(tmp_path, TRIAGE, "catch that. Please say {choices}.",
                                           "catch that. Please say {choices.")
    result = _check(content, grammars)
    assert result.returncode == 1
    assert f"{content / 'triage.yaml'}:{line_of(text, '  reprompt:')} [templates.reprompt]: broken placeholder" \
           in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_tingle_check_reports_a_broken_level_sentence_without_traceback(tmp_path: Path) -> None:
    content, grammars, _ = _broken_copy(tmp_path, TRIAGE, "      - Call emergency services now, on {emergency}.\n",
                                        "      - Call emergency services now, on {emergency.\n")
    result = _check(content, grammars)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1 and "[emergency]" in result.stderr
