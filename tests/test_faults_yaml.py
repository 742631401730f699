"""Faults in content and grammar files (issue 8, item 8): non-UTF-8 bytes, deep nesting, alias bombs, list keys,
nested lists where words belong, control characters, huge files, FIFOs. Every one a ContentError naming the file
(and line), found quickly and in bounded memory; fuzzed with hypothesis under a hard time limit.
"""

from __future__ import annotations

import os
import shutil
import tracemalloc
from pathlib import Path

import pytest
from fault_support import time_limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.core.grammar import Grammars
from assistant.core.validate import load_bundle
from assistant.core.yamlload import (
    MAX_DEPTH,
    MAX_YAML_BYTES,
    LineList,
    load_yaml_file,
    parse_yaml,
    read_yaml_file,
    string_list,
)
from assistant.errors import ContentError

ROOT = Path(__file__).resolve().parent.parent
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


def refused(text: str, file: str = "f.yaml") -> ContentError:
    with time_limit(5.0), pytest.raises(ContentError) as caught:
        parse_yaml(text, file)
    message = str(caught.value)
    assert message.startswith(file) and "\n" not in message, message
    return caught.value


# --- the reported faults ---------------------------------------------------------------------------------

def test_non_utf8_is_a_content_error_with_its_line(tmp_path: Path) -> None:
    """A non-UTF-8 grammar file gave a UnicodeDecodeError traceback."""
    path = tmp_path / "answers.yaml"
    path.write_bytes(b"name: answers\n# caf\xe9\nintents: {}\n")
    with pytest.raises(ContentError, match=r"answers.yaml:2: this is not UTF-8 text \(byte 19") as caught:
        read_yaml_file(path)
    assert caught.value.line == 2


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: a\n")
    assert load_yaml_file(path) == {"name": "a"}


@pytest.mark.parametrize("text", [
    "a: " + "[" * 100_000 + "]" * 100_000,
    "a: " + "{b: " * 50_000 + "c" + "}" * 50_000,
    "".join("  " * i + f"k{i}:\n" for i in range(500)) + "  " * 500 + "end\n",
    "- " * 5000 + "x\n",
])
def test_deep_nesting_is_refused_not_a_recursion_error(text: str) -> None:
    """100k-deep nesting raised RecursionError."""
    error = refused(text)
    assert "levels deep" in str(error) and error.line is not None


def test_nesting_up_to_the_limit_is_fine() -> None:
    value = parse_yaml("a: " + "[" * (MAX_DEPTH - 2) + "x" + "]" * (MAX_DEPTH - 2), "f.yaml")
    for _ in range(MAX_DEPTH - 2):
        value = value[0] if isinstance(value, list) else value["a"]
    assert value == ["x"]
    assert "levels deep" in str(refused("a: " + "[" * (MAX_DEPTH - 1) + "x" + "]" * (MAX_DEPTH - 1)))


def test_a_billion_laughs_is_refused_at_the_first_alias() -> None:
    """An alias bomb under typed_only expanded to 5.9 GB before MemoryError."""
    lines = ["typed_only:", "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, 10):
        lines.append(f"  l{n}: &l{n} [" + ", ".join([f"*{'a' if n == 1 else f'l{n - 1}'}"] * 9) + "]")
    tracemalloc.start()
    try:
        error = refused("\n".join(lines) + "\n", "answers.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.line == 3 and "alias *a" in str(error)
    assert peak < 8 * 2**20


def test_merge_keys_are_aliases_too() -> None:
    assert refused("base: &b {x: 1}\nother:\n  <<: *b\n").line == 3


@pytest.mark.parametrize(("text", "line"), [("? [a, b]\n: c\n", 1), ("x: 1\n? {a: b}\n: c\n", 2),
                                            ("{[a]: b}\n", 1)])
def test_a_list_or_mapping_as_a_key_is_refused(text: str, line: int) -> None:
    """`? [a, b]: c` raised TypeError: unhashable type."""
    error = refused(text)
    assert error.line == line and "key must be a plain word" in str(error)


@pytest.mark.parametrize(("text", "line"), [("a: b\n\nc: d\x00e\n", 3), ("a: \x07\n", 1), ("a: b\x1b\n", 1)])
def test_control_characters_are_a_content_error(text: str, line: int) -> None:
    error = refused(text)
    assert error.line == line and "not allowed in YAML" in str(error)


def test_python_tags_are_never_executed() -> None:
    assert "could not determine a constructor" in str(refused("a: !!python/object/apply:os.system [ls]\n"))


def test_size_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as stream:
        stream.truncate(2_000_000_000)  # sparse: reading it would take 2 GB
    tracemalloc.start()
    try:
        with time_limit(2.0), pytest.raises(ContentError, match="too large"):
            read_yaml_file(path)
        assert tracemalloc.get_traced_memory()[1] < 2**20
    finally:
        tracemalloc.stop()
    with pytest.raises(ContentError, match="too large"):
        parse_yaml("#" * (MAX_YAML_BYTES + 1), "f.yaml")


def test_a_fifo_or_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "answers.yaml"
    os.mkfifo(fifo)
    with time_limit(3.0), pytest.raises(ContentError, match="not a regular file"):
        read_yaml_file(fifo)
    with pytest.raises(ContentError, match="not a regular file"):
        read_yaml_file(tmp_path)
    with pytest.raises(ContentError, match="missing"):
        read_yaml_file(tmp_path / "absent.yaml")


def test_string_list_names_the_line_of_a_nested_list() -> None:
    """`source: [[seed]]` and `include: [[unsure]]` raised TypeError: unhashable; schema code checks items with
    string_list, which names the item's line."""
    doc = parse_yaml("name: x\ninclude:\n  - answers\n  - [unsure]\n", "spread.yaml")
    assert isinstance(doc["include"], LineList) and doc["include"].item_lines == [3, 4]
    with pytest.raises(ContentError, match=r"^spread.yaml:4: include: item 2 must be a word or phrase, not a list"):
        string_list(doc["include"], file="spread.yaml", what="include")
    with pytest.raises(ContentError, match=r"^spread.yaml:2: include must be a list"):
        string_list("answers", file="spread.yaml", what="include", line=2)
    assert string_list(parse_yaml("[a, b]", "f.yaml"), file="f.yaml", what="x") == ("a", "b")


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "grammars", tmp_path / "grammars")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(("file", "old", "new"), [
    ("content/triage.yaml", "source: [seed]", "source: [[seed]]"),
    ("grammars/spread.yaml", "include: [unsure]", "include: [[unsure]]"),
    ("content/triage.yaml", "levels:", "? [a, b]\n: c\nlevels:"),
    ("grammars/answers.yaml", "typed_only:", "bomb: &a [x, x]\nboom: [*a, *a]\ntyped_only:"),
])
def test_the_real_loaders_report_file_and_line(copy: Path, file: str, old: str, new: str) -> None:
    edit(copy / file, old, new)
    with time_limit(10.0), pytest.raises(ContentError) as caught:
        load_bundle(copy / "content", copy / "grammars")
    message = str(caught.value)
    assert Path(file).name in message and caught.value.line is not None, message


# --- fuzz ------------------------------------------------------------------------------------------------------

TOKENS = st.sampled_from(["[", "]", "{", "}", ", ", ": ", "- ", "? ", "\n", "  ", "&a ", "*a", "&b ", "*b", "<<: ",
                          "!!str ", "!!python/name:os.system ", "'", '"', "|\n", ">\n", "#", "---\n", "...\n",
                          "%YAML 1.1\n", "yes", "no", "x", "1", "2026-12-03", "~", "\t", "\\", "\x00", "\x85",
                          "\ufeff", "é", "\ud800"])


@FUZZ
@given(st.lists(TOKENS, max_size=80).map("".join))
def test_fuzzed_yaml_is_parsed_or_refused(text: str) -> None:
    try:
        with time_limit(5.0):
            parse_yaml(text, "fuzz.yaml")
    except ContentError as exc:
        assert str(exc).startswith("fuzz.yaml") and "\n" not in str(exc), str(exc)


@FUZZ
@given(st.binary(max_size=400))
def test_fuzzed_bytes_are_read_or_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bytes.yaml"
    path.write_bytes(data)
    try:
        with time_limit(5.0):
            load_yaml_file(path)
    except ContentError as exc:
        assert str(exc).startswith(str(path)), str(exc)


GRAMMAR = (ROOT / "grammars" / "answers.yaml").read_text(encoding="utf-8")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, len(GRAMMAR)), insert=st.lists(TOKENS, max_size=12).map("".join))
def test_a_damaged_grammar_file_is_a_content_error(cut: int, insert: str) -> None:
    """The grammar loader, end to end, on the real file with a random splice: loaded, or one ContentError."""
    texts = {str(path): path.read_text(encoding="utf-8") for path in sorted((ROOT / "grammars").glob("*.yaml"))}
    name = str(ROOT / "grammars" / "answers.yaml")
    texts[name] = GRAMMAR[:cut] + insert + GRAMMAR[cut:]
    try:
        with time_limit(5.0):
            Grammars.from_yaml(texts)
    except ContentError as exc:
        assert "\n" not in str(exc), str(exc)
