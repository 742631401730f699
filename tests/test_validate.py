"""Every load and validation error names the file, the line and the item, so a clinician can fix it.

Each test breaks one thing in a small, hand-written content set (below) and checks the error it gets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.content import TEMPLATE_KEYS, Content
from assistant.errors import ContentError
from assistant.grammar import Grammars
from assistant.validate import ContentErrors, check, load_bundle

ROOT = Path(__file__).resolve().parent.parent
TRIAGE = "content/triage.yaml"
SOURCES = "content/sources.yaml"
ANSWERS = "grammars/answers.yaml"
COMMANDS = "grammars/commands.yaml"
WHERE = "grammars/where.yaml"

_TEMPLATES = "".join(f'  {key}: "Say {{choices}} {key}."\n' if key in ("reprompt", "silence", "help")
                     else f'  {key}: "{key} text."\n' for key in TEMPLATE_KEYS)

BASE_TRIAGE = f"""\
version: "test 1"
start: intro
dispositions:
  emergency:
    source: [book]
    say: [Call emergency services now.]
  self_care:
    source: [book]
    say: [Rest at home.]
worsening:
  source: [book]
  say: [If it gets worse, get help.]
templates:
  source: [book]
{_TEMPLATES}causes:
  strain:
    name: a strain
    source: [book]
    say: [It may be a strain.]
nodes:
  intro:
    type: info
    source: [book]
    say: [Hello.]
    next: rf
  rf:
    type: question
    red_flag: true
    source: [book]
    ask: Are your legs weak?
    topic: weak legs
    note: weak legs
    confirm_no: Your legs are not weak. Is that right?
    grammar: answers
    on:
      yes: {{next: emergency}}
      no: {{next: ache}}
      unsure: {{next: emergency}}
    unanswered: ache
  ache:
    type: question
    source: [book]
    ask: Where does it ache?
    grammar: where
    on:
      arm: {{next: summary, causes: [strain]}}
      leg: {{next: summary}}
      unsure: {{next: summary}}
    unanswered: summary
  summary:
    type: causes
    source: [book]
    intro: [Some possible causes.]
    none_found: [No cause stands out.]
    general: [Most tingling passes.]
    next: closing
  emergency:
    type: info
    disposition: emergency
    source: [book]
    say: [Call emergency services now.]
    next: closing
  closing:
    type: end
    source: [book]
"""

BASE_SOURCES = """\
sources:
  book: A book about backs.
"""

BASE_ANSWERS = """\
name: answers
description: yes, no, or not sure
intents:
  yes: [yes, i do]
  no: [no, no i don't]
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
  emergency: [emergency, i need help now]
"""

BASE_WHERE = """\
name: where
description: arm, leg, or not sure
include: [unsure]
intents:
  arm: [arm, my arm]
  leg: [leg, my leg]
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


def node_line(text: str, key: str, section: str = "nodes") -> int:
    """The line the mapping of `key` under the top-level `section` starts on: the line after `  key:`."""
    lines = text.splitlines()
    start = lines.index(f"{section}:")
    return lines.index(f"  {key}:", start) + 2


@dataclass
class Texts:
    triage: str = BASE_TRIAGE
    sources: str = BASE_SOURCES
    answers: str = BASE_ANSWERS
    commands: str = BASE_COMMANDS
    where: str = BASE_WHERE

    def grammars(self) -> Grammars:
        return Grammars.from_yaml({ANSWERS: self.answers, COMMANDS: self.commands, WHERE: self.where})

    def problems(self) -> list[ContentError]:
        """Every error: the one loading raises, or all that `check` yields."""
        try:
            content = Content.from_yaml({TRIAGE: self.triage, SOURCES: self.sources})
            return list(check(content, self.grammars()))
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


# ------------------------------------------------------------------------------------------ the baseline
def test_fixture_is_valid() -> None:
    texts = Texts()
    assert texts.problems() == []
    content = Content.from_yaml({TRIAGE: texts.triage, SOURCES: texts.sources})
    assert content.version == "test 1" and set(content.nodes) >= {"rf", "ache", "closing"}


def test_real_repository_content_passes() -> None:
    bundle = load_bundle(ROOT / "content", ROOT / "grammars")
    assert list(check(bundle.content, bundle.grammars)) == []


# ------------------------------------------------------------------------------------------ YAML errors
def test_yaml_syntax_error() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    ask: Are your legs weak?\n", "    ask: Are your: legs weak?\n")
    error = the_error(texts.problems(), text="not valid YAML")
    assert_names(error, TRIAGE, line_of(texts.triage, "Are your: legs"), "")


def test_yaml_syntax_error_in_a_grammar() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "  leg: [leg, my leg]\n", "  leg: [leg, my leg\n")
    with pytest.raises(ContentError, match="not valid YAML") as caught:
        texts.grammars()
    assert caught.value.file == WHERE and caught.value.line is not None
    assert caught.value.line >= line_of(texts.where, "  leg: [leg")


def test_duplicate_key() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    ask: Where does it ache?\n",
                        "    ask: Where does it ache?\n    ask: Does it ache?\n")
    error = the_error(texts.problems(), text="appears twice")
    assert "'ask'" in str(error)
    assert (error.file, error.line) == (TRIAGE, line_of(texts.triage, "Does it ache?"))


def test_duplicate_node() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "  closing:\n    type: end\n",
                        "  closing:\n    type: end\n  rf:\n    type: end\n")
    error = the_error(texts.problems(), text="appears twice")
    assert "'rf'" in str(error)
    assert (error.file, error.line) == (TRIAGE, len(texts.triage.splitlines()) - 2)


# ------------------------------------------------------------------------------------------ item errors
def test_unknown_key() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    ask: Where does it ache?\n",
                        "    ask: Where does it ache?\n    colour: red\n")
    error = the_error(texts.problems(), text="unknown keys ['colour']")
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


def test_unknown_key_in_an_answer() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "leg: {next: summary}", "leg: {next: summary, cause: [strain]}")
    error = the_error(texts.problems(), text="unknown keys ['cause']")
    assert_names(error, TRIAGE, line_of(texts.triage, "cause: [strain]}"), "ache.on.leg")


def test_unknown_key_in_a_cause() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    name: a strain\n", "    name: a strain\n    nmae: oops\n")
    error = the_error(texts.problems(), text="unknown keys ['nmae']")
    assert_names(error, TRIAGE, line_of(texts.triage, "name: a strain"), "strain")


def test_unknown_key_at_top_level() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, 'version: "test 1"\n', 'version: "test 1"\nauthor: me\n')
    error = the_error(texts.problems(), text="unknown keys ['author']")
    assert_names(error, TRIAGE, 1, "the file")


def test_missing_required_field() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    unanswered: summary\n", "")
    error = the_error(texts.problems(), text="needs unanswered")
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


def test_missing_cause_text() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    say: [It may be a strain.]\n", "")
    error = the_error(texts.problems(), text="`say` must be a non-empty list")
    assert_names(error, TRIAGE, line_of(texts.triage, "name: a strain"), "strain")


def test_unknown_node_type() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    type: causes\n", "    type: cause\n")
    error = the_error(texts.problems(), text="`type` must be one of")
    assert_names(error, TRIAGE, node_line(texts.triage, "summary"), "summary")


def test_unknown_source() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    source: [book]\n    ask: Where does it ache?\n",
                        "    source: [bok]\n    ask: Where does it ache?\n")
    error = the_error(texts.problems(), text="unknown source 'bok'")
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


def test_missing_source() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    disposition: emergency\n    source: [book]\n",
                        "    disposition: emergency\n")
    error = the_error(texts.problems(), text="every item needs `source")
    assert_names(error, TRIAGE, node_line(texts.triage, "emergency"), "emergency")


def test_unknown_source_of_a_disposition() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "  self_care:\n    source: [book]\n", "  self_care:\n    source: [nope]\n")
    error = the_error(texts.problems(), text="unknown source 'nope'")
    assert_names(error, TRIAGE, node_line(texts.triage, "self_care", "dispositions"), "self_care")


# ------------------------------------------------------------------------------------------ graph errors
def test_unknown_target_node() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "leg: {next: summary}", "leg: {next: sumary}")
    error = the_error(texts.problems(), text="'sumary', which is not a node")
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


def test_unknown_start_node() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "start: intro\n", "start: outro\n")
    error = the_error(texts.problems(), text="'outro', which is not a node")
    assert (error.file, error.item) == (TRIAGE, "start")


def test_unreachable_node() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "  closing:\n",
                        "  orphan:\n    type: info\n    source: [book]\n    say: [Alone.]\n    next: closing\n"
                        "  closing:\n")
    error = the_error(texts.problems(), text="cannot be reached")
    assert_names(error, TRIAGE, node_line(texts.triage, "orphan"), "orphan")


def _closed_loop(texts: Texts) -> None:
    """ache's 'leg' goes into two info nodes that lead to each other and never to the end."""
    texts.triage = edit(texts.triage, "leg: {next: summary}", "leg: {next: loop_a}")
    texts.triage = edit(texts.triage, "  closing:\n",
                        "  loop_a:\n    type: info\n    source: [book]\n    say: [A.]\n    next: loop_b\n"
                        "  loop_b:\n    type: info\n    source: [book]\n    say: [B.]\n    next: loop_a\n"
                        "  closing:\n")


def test_dead_end() -> None:
    texts = Texts()
    _closed_loop(texts)
    problems = texts.problems()
    for node in ("loop_a", "loop_b"):
        error = the_error(problems, node, text="dead end")
        assert_names(error, TRIAGE, node_line(texts.triage, node), node)


def test_no_end_node() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    type: end\n", "    type: info\n    say: [Bye.]\n    next: intro\n")
    error = the_error(texts.problems(), text="there is no `end` node")
    assert error.file == TRIAGE


def test_loop() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "unsure: {next: summary}", "unsure: {next: rf}")
    error = the_error(texts.problems(), text="loops back on itself")
    assert "rf -> ache -> rf" in str(error)
    assert_names(error, TRIAGE, node_line(texts.triage, "rf"), "rf")


def test_loop_with_a_way_out_is_not_called_a_dead_end() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "unsure: {next: summary}", "unsure: {next: rf}")
    assert [str(p) for p in texts.problems() if "dead end" in str(p)] == []


def test_red_flag_yes_must_lead_to_emergency() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "yes: {next: emergency}", "yes: {next: ache}")
    error = the_error(texts.problems(), text="red-flag 'yes' must lead straight to emergency advice")
    assert "'ache'" in str(error)
    assert_names(error, TRIAGE, node_line(texts.triage, "rf"), "rf")


def test_red_flag_unsure_must_lead_to_emergency() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "unsure: {next: emergency}", "unsure: {next: ache}")
    error = the_error(texts.problems(), text="red-flag 'unsure' must lead straight to emergency advice")
    assert_names(error, TRIAGE, node_line(texts.triage, "rf"), "rf")


def test_red_flag_needs_topic_and_confirmation() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    confirm_no: Your legs are not weak. Is that right?\n", "")
    error = the_error(texts.problems(), text="a red flag needs `topic`")
    assert_names(error, TRIAGE, node_line(texts.triage, "rf"), "rf")


# ------------------------------------------------------------------------------------------ answers
def test_answer_the_grammar_allows_is_not_handled() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      unsure: {next: summary}\n", "")
    error = the_error(texts.problems(), text="no handling for the answer 'unsure'")
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


def test_answer_the_grammar_never_produces() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "      unsure: {next: summary}\n",
                        "      unsure: {next: summary}\n      yes: {next: summary}\n")
    error = the_error(texts.problems(), text="handles 'yes', which its grammar 'where' never produces")
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


def test_unknown_grammar() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    grammar: where\n", "    grammar: whereabouts\n")
    error = the_error(texts.problems(), text="grammar 'whereabouts' is not in grammars/")
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


def test_unknown_cause() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "causes: [strain]}", "causes: [strain, sprain]}")
    error = the_error(texts.problems(), text="unknown cause 'sprain'")
    assert "'arm'" in str(error)
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


def test_cause_no_answer_points_to() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "arm: {next: summary, causes: [strain]}", "arm: {next: summary}")
    error = the_error(texts.problems(), text="no answer ever points to this cause")
    assert_names(error, TRIAGE, line_of(texts.triage, "name: a strain"), "strain")


def test_unknown_disposition() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "leg: {next: summary}", "leg: {next: summary, disposition: see_gp}")
    error = the_error(texts.problems(), text="unknown disposition 'see_gp'")
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


def test_because_must_name_a_template() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "leg: {next: summary}", "leg: {next: summary, because: legs_explained}")
    error = the_error(texts.problems(), text="`because` must name a template")
    assert_names(error, TRIAGE, node_line(texts.triage, "ache"), "ache")


# ------------------------------------------------------------------------------------------ templates
def test_missing_template() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, '  goodbye: "goodbye text."\n', "")
    error = the_error(texts.problems(), text="template 'goodbye' is missing")
    assert_names(error, TRIAGE, line_of(texts.triage, "templates:", after=1), "templates")


BAD_PLACEHOLDER = ('  reprompt: "Say {choices} reprompt."\n', '  reprompt: "Say {choice} reprompt."\n')


def test_bad_placeholder() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, *BAD_PLACEHOLDER)
    error = the_error(texts.problems(), text="unknown placeholder(s) ['choice']")
    assert (error.file, error.item) == (TRIAGE, "templates.reprompt")


def test_bad_placeholder_names_the_line() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, *BAD_PLACEHOLDER)
    error = the_error(texts.problems(), text="unknown placeholder(s)")
    assert error.line is not None


def test_placeholder_the_template_is_not_given() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, BAD_PLACEHOLDER[0], '  reprompt: "Say {topic} reprompt."\n')
    the_error(texts.problems(), "templates.reprompt")


def test_positional_placeholder() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, BAD_PLACEHOLDER[0], '  reprompt: "Say {} reprompt."\n')
    the_error(texts.problems(), "templates.reprompt")


def test_unclosed_brace_in_template() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, BAD_PLACEHOLDER[0], '  reprompt: "Say {choices reprompt."\n')
    the_error(texts.problems(), "templates.reprompt")


def test_unknown_key_in_a_disposition() -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "    say: [Rest at home.]\n", "    say: [Rest at home.]\n    rank: 0\n")
    the_error(texts.problems(), "self_care", text="unknown keys")


# ------------------------------------------------------------------------------------------ grammars
def grammar_error(texts: Texts) -> ContentError:
    with pytest.raises(ContentError) as caught:
        texts.grammars()
    return caught.value


def test_phrase_in_two_intents() -> None:
    texts = Texts()
    texts.answers = edit(texts.answers, "  yes: [yes, i do]\n", "  yes: [yes, i do, not sure]\n")
    error = grammar_error(texts)
    assert "means both 'yes' and 'unsure'" in str(error)
    assert (error.file, error.item) == (ANSWERS, "not sure")


def test_phrase_shared_with_a_command() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "  leg: [leg, my leg]\n", "  leg: [leg, my leg, stop]\n")
    error = grammar_error(texts)
    assert "means both 'leg' and 'stop'" in str(error)
    assert (error.file, error.item) == (WHERE, "stop")


def test_phrase_that_begins_another_intents_phrase() -> None:
    texts = Texts()
    texts.answers = edit(texts.answers, "  no: [no, no i don't]\n", "  no: [no, no i don't, i don't]\n")
    error = grammar_error(texts)
    assert """"i don't" (no) is the start of "i don't know" (unsure)""" in str(error)
    assert (error.file, error.item) == (ANSWERS, "i don't")


def test_prefix_within_one_intent_is_fine() -> None:
    texts = Texts()
    texts.answers = edit(texts.answers, "  no: [no, no i don't]\n", "  no: [no, no i don't, no i don't think so]\n")
    assert "no i don't think so" in texts.grammars().tables["answers"].intents["no"]


def test_phrase_in_two_intents_names_the_line() -> None:
    texts = Texts()
    texts.answers = edit(texts.answers, "  yes: [yes, i do]\n", "  yes: [yes, i do, not sure]\n")
    assert grammar_error(texts).line is not None


@pytest.mark.parametrize("commands", [
    pytest.param(BASE_COMMANDS.replace("  faster: [faster]\n", ""), id="one missing"),
    pytest.param(BASE_COMMANDS + "  louder: [louder]\n", id="one extra"),
])
def test_commands_must_be_exactly_the_eight(commands: str) -> None:
    texts = Texts(commands=commands)
    error = grammar_error(texts)
    assert "commands must be exactly repeat, help, back, restart, stop, slower, faster, emergency" in str(error)
    assert error.file == COMMANDS


def test_include_of_unknown_intent() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "include: [unsure]\n", "include: [unsure, maybe]\n")
    error = grammar_error(texts)
    assert "`include` names 'maybe'" in str(error)
    assert_names(error, WHERE, 1, "maybe")


def test_unknown_key_in_a_grammar() -> None:
    texts = Texts()
    texts.where = edit(texts.where, "include: [unsure]\n", "include: [unsure]\nincludes: [yes]\n")
    error = grammar_error(texts)
    assert "unknown keys ['includes']" in str(error)
    assert (error.file, error.line) == (WHERE, 1)


def test_missing_answers_grammar() -> None:
    with pytest.raises(ContentError, match="the grammar 'answers'"):
        Grammars.from_yaml({COMMANDS: BASE_COMMANDS, WHERE: BASE_WHERE.replace("include: [unsure]\n", "")})


# ------------------------------------------------------------------------------------------ load_bundle
def _write(directory: Path, texts: Texts) -> tuple[Path, Path]:
    content, grammars = directory / "content", directory / "grammars"
    content.mkdir()
    grammars.mkdir()
    (content / "triage.yaml").write_text(texts.triage, encoding="utf-8")
    (content / "sources.yaml").write_text(texts.sources, encoding="utf-8")
    for name, text in (("answers", texts.answers), ("commands", texts.commands), ("where", texts.where)):
        (grammars / f"{name}.yaml").write_text(text, encoding="utf-8")
    return content, grammars


def test_load_bundle_reads_files(tmp_path: Path) -> None:
    bundle = load_bundle(*_write(tmp_path, Texts()))
    assert bundle.content.version == "test 1"
    assert set(bundle.grammars.tables) == {"answers", "commands", "where"}


def test_load_bundle_lists_every_problem_with_its_path(tmp_path: Path) -> None:
    texts = Texts()
    texts.triage = edit(texts.triage, "yes: {next: emergency}", "yes: {next: ache}")
    texts.triage = edit(texts.triage, "    grammar: where\n", "    grammar: whereabouts\n")
    content, grammars = _write(tmp_path, texts)
    with pytest.raises(ContentErrors) as caught:
        load_bundle(content, grammars)
    path = str(content / "triage.yaml")
    lines = str(caught.value).splitlines()
    assert lines[0] == "2 problem(s) in the content:"
    assert f"  {path}:{node_line(texts.triage, 'rf')} [rf]: a red-flag 'yes'" in str(caught.value)
    assert f"  {path}:{node_line(texts.triage, 'ache')} [ache]: grammar 'whereabouts'" in str(caught.value)


def test_load_bundle_missing_file(tmp_path: Path) -> None:
    content, grammars = _write(tmp_path, Texts())
    (content / "sources.yaml").unlink()
    with pytest.raises(ContentError, match=r"missing content file; expected sources\.yaml"):
        load_bundle(content, grammars)


# ------------------------------------------------------------------------------------------ tingle check
def _tingle(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60, check=False)


def test_tingle_check_passes_on_the_repository() -> None:
    result = _tingle("check", "--no-model")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": OK")
    assert result.stderr == ""


def _broken_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    content, grammars = tmp_path / "content", tmp_path / "grammars"
    shutil.copytree(ROOT / "content", content)
    shutil.copytree(ROOT / "grammars", grammars)
    triage = content / "triage.yaml"
    triage.write_text(edit(triage.read_text(encoding="utf-8"), old, new), encoding="utf-8")
    return content, grammars


def test_tingle_check_fails_with_file_line_and_item(tmp_path: Path) -> None:
    old = "      yes: {next: emergency}\n      no: {next: rf_bladder_bowel}\n"
    content, grammars = _broken_copy(tmp_path, old, old.replace("yes: {next: emergency}", "yes: {next: doc_intro}"))
    result = _tingle("check", "--no-model", "--content", str(content), "--grammars", str(grammars))
    assert result.returncode != 0
    text = (content / "triage.yaml").read_text(encoding="utf-8")
    expected = f"{content / 'triage.yaml'}:{node_line(text, 'rf_walking')} [rf_walking]: a red-flag 'yes'"
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_tingle_check_reports_yaml_errors_with_the_line(tmp_path: Path) -> None:
    content, grammars = _broken_copy(tmp_path, "    ask: Are you 50 or older?\n", "    ask: Are you: 50 or older?\n")
    result = _tingle("check", "--no-model", "--content", str(content), "--grammars", str(grammars))
    assert result.returncode != 0
    text = (content / "triage.yaml").read_text(encoding="utf-8")
    assert f"{content / 'triage.yaml'}:{line_of(text, 'Are you: 50')}: this is not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_tingle_check_reports_a_broken_template_without_traceback(tmp_path: Path) -> None:
    content, grammars = _broken_copy(tmp_path, "catch that. Please say {choices}.", "catch that. Please say {choices.")
    result = _tingle("check", "--no-model", "--content", str(content), "--grammars", str(grammars))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
