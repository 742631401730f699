"""YAML loading that remembers where each mapping and list came from, so errors can name file and line.

Hardened for files edited by hand (content and grammars), before and while parsing:

* size: a file over `MAX_YAML_BYTES` is refused before it is parsed (`read_yaml_file` checks the size on disk
  first and never reads more);
* encoding: a file that is not UTF-8 is a ContentError naming the line of the first bad byte;
* depth: nesting deeper than `MAX_DEPTH` is refused as it is met (no RecursionError);
* aliases (`*name`, and so `<<: *name` merges) are refused: no billion-laughs expansion;
* keys must be plain scalars (`? [a, b]: c` is refused), and anything YAML itself rejects (control
  characters, bad syntax, unknown tags) is a ContentError with file and line. Never a traceback.

Schema code checks item types with `string_list()`, which names the line of the offending item.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import ContentError

MAX_YAML_BYTES = 1 << 20
"""Largest content or grammar file (bytes)."""
MAX_DEPTH = 32
"""Deepest nesting of lists and mappings."""


class LineDict(dict[str, Any]):
    """A mapping read from YAML that knows the 1-based line it started on."""

    line: int | None = None
    key_lines: dict[str, int] | None = None
    """1-based line of each key."""

    def line_of_key(self, key: str) -> int | None:
        """The line `key` was written on (falls back to the mapping's own line)."""
        return (self.key_lines or {}).get(key, self.line)


class LineList(list[Any]):
    """A list read from YAML that knows the 1-based line it started on, and the line of each item."""

    line: int | None = None
    item_lines: list[int] | None = None

    def line_of_item(self, index: int) -> int | None:
        """The line item `index` was written on (falls back to the list's own line)."""
        lines = self.item_lines or []
        return lines[index] if 0 <= index < len(lines) else self.line


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are LineDicts and lists LineLists; refuses aliases and deep nesting."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise ContentError(f"the alias *{event.anchor} is not allowed here; write the value out in full",
                               file=self.name, line=event.start_mark.line + 1)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ContentError(f"the nesting is more than {MAX_DEPTH} levels deep; flatten it",
                                   file=self.name, line=event.start_mark.line + 1)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise ContentError(f"a key must be a plain word, not a {kind}", file=loader.name,
                               line=key_node.start_mark.line + 1)
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise ContentError(
                f"the key {key!r} appears twice; keep one", file=loader.name, line=key_node.start_mark.line + 1
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
# YAML 1.1 reads bare yes/no/on/off as booleans; answers are words here, so only true/false are booleans.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text; every problem becomes a ContentError naming the file and line."""
    if len(text) > MAX_YAML_BYTES:
        raise ContentError(f"the file is too large ({len(text)} characters; at most {MAX_YAML_BYTES}); split it",
                           file=file)
    loader: _LineLoader | None = None
    try:
        loader = _LineLoader(text)  # checks the characters at once
        loader.name = file
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ContentError(f"this is not valid YAML: {exc.problem or exc.context}", file=file, line=line) from exc
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (e.g. a NUL byte)
        line = text[: max(0, exc.position)].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise ContentError(f"the character U+{code:04X} is not allowed in YAML; remove it",
                           file=file, line=line) from exc
    except yaml.YAMLError as exc:
        raise ContentError(f"this is not valid YAML: {exc}", file=file) from exc
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml_file(path: Path) -> str:
    """The text of a content or grammar file: a regular file, at most MAX_YAML_BYTES (checked before reading),
    UTF-8 (a byte-order mark is dropped). Problems are ContentErrors naming the file (and line)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise ContentError("the file is missing", file=str(path)) from exc
    except OSError as exc:
        raise ContentError(f"the file cannot be read ({exc.strerror})", file=str(path)) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ContentError("this is not a regular file", file=str(path))
        if info.st_size > MAX_YAML_BYTES:
            raise ContentError(f"the file is too large ({info.st_size} bytes; at most {MAX_YAML_BYTES}); split it",
                               file=str(path))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ContentError(f"the file cannot be read ({exc.strerror})", file=str(path)) from exc
    finally:
        os.close(fd)
    if len(data) > MAX_YAML_BYTES:  # it grew while being read
        raise ContentError(f"the file is too large (over {MAX_YAML_BYTES} bytes); split it", file=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ContentError(f"this is not UTF-8 text (byte {exc.start}, {data[exc.start:exc.start + 1]!r}); "
                           "save the file as UTF-8", file=str(path), line=line) from exc


def load_yaml_file(path: Path) -> Any:
    """`parse_yaml(read_yaml_file(path))`: a content or grammar file, read and parsed with every check."""
    return parse_yaml(read_yaml_file(path), str(path))


def string_list(value: object, *, file: str, what: str, line: int | None = None) -> tuple[str, ...]:
    """`value` as a tuple of strings, or a ContentError naming `what`, the file and the line of the first item
    that is not a string (a nested list such as `[[seed]]`, a mapping, a number)."""
    if not isinstance(value, list):
        raise ContentError(f"{what} must be a list of words or phrases, not {_kind(value)}", file=file, line=line)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            at = value.line_of_item(index) if isinstance(value, LineList) else None
            raise ContentError(f"{what}: item {index + 1} must be a word or phrase, not {_kind(item)}",
                               file=file, line=at or line)
    return tuple(value)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"[:60]


def line_of(data: object, key: str | None = None) -> int | None:
    """The line a mapping started on (or one of its keys), when it was read from YAML. (For a list, use
    `LineList.line` / `line_of_item`.)"""
    if not isinstance(data, LineDict):
        return None
    return data.line if key is None else data.line_of_key(key)
