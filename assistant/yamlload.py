"""YAML loading that remembers where each mapping came from, so errors can name file and line."""

from __future__ import annotations

import re
from typing import Any

import yaml

from assistant.errors import ContentError


class LineDict(dict[str, Any]):
    """A mapping read from YAML that knows the 1-based line it started on."""

    line: int | None = None
    key_lines: dict[str, int] | None = None
    """1-based line of each key."""

    def line_of_key(self, key: str) -> int | None:
        """The line `key` was written on (falls back to the mapping's own line)."""
        return (self.key_lines or {}).get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are LineDicts."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise ContentError(
                f"the key {key!r} appears twice; keep one", file=loader.name, line=key_node.start_mark.line + 1
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 reads bare yes/no/on/off as booleans; answers are words here, so only true/false are booleans.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors become ContentError naming the file and line."""
    loader = _LineLoader(text)
    loader.name = file
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ContentError(f"this is not valid YAML: {exc.problem}", file=file, line=line) from exc
    finally:
        loader.dispose()


def line_of(data: object, key: str | None = None) -> int | None:
    """The line a mapping started on (or one of its keys), when it was read from YAML."""
    if not isinstance(data, LineDict):
        return None
    return data.line if key is None else data.line_of_key(key)
