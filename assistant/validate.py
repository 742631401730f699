"""Structural checks of loaded content against the grammars. Each problem names file, line and item."""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.content import Content, Node, NodeType
from assistant.errors import ContentError
from assistant.grammar import Grammars

EMERGENCY = "emergency"
PLACEHOLDERS: dict[str, set[str]] = {
    "reprompt": {"choices"}, "silence": {"choices"}, "help": {"choices"}, "conditional_emergency": {"topic"},
    "summary_yes": {"items"}, "summary_unsure": {"items"}, "summary_gaps": {"items"}, "summary_unchecked": {"items"},
    "summary_causes": {"items"}, "summary_advice": {"advice"},
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


def check(content: Content, grammars: Grammars) -> Iterator[ContentError]:
    """Yield every structural problem."""
    nodes = content.nodes

    def err(node: Node, message: str) -> ContentError:
        return ContentError(message, file=node.where.file, line=node.where.line, item=node.id)

    if content.start not in nodes:
        yield ContentError(f"`start` names {content.start!r}, which is not a node", file=content.file, item="start")
        return
    if EMERGENCY not in content.dispositions:
        yield ContentError("the disposition 'emergency' is required", file=content.file, item="dispositions")
        return
    for key, text in content.templates.items():
        allowed = PLACEHOLDERS.get(key, set())
        where = {"file": content.file, "line": content.template_lines.get(key), "item": f"templates.{key}"}
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            yield ContentError(f"broken placeholder ({exc}); write {{name}} with both braces", **where)
            continue
        unknown = sorted(set(names) - allowed)
        if unknown:
            offer = "this template takes none"
            if allowed:
                offer = "use " + ", ".join("{" + name + "}" for name in sorted(allowed))
            yield ContentError(f"unknown placeholder(s) {unknown}; {offer}", **where)
    for node in nodes.values():
        for target in node.targets():
            if target not in nodes:
                yield err(node, f"leads to {target!r}, which is not a node")
        if node.disposition and node.disposition not in content.dispositions:
            yield err(node, f"unknown disposition {node.disposition!r}")
        if node.type is NodeType.QUESTION:
            yield from (err(node, m) for m in _question_problems(node, content, grammars))
    if any(target not in nodes for node in nodes.values() for target in node.targets()):
        return  # the graph checks below need every target to exist
    reachable = _reachable(content)
    for node in nodes.values():
        if node.id not in reachable:
            yield err(node, "cannot be reached from the start; link to it or remove it")
    referenced = {c for n in nodes.values() for a in n.on.values() for c in a.causes}
    for cause in content.causes.values():
        if cause.id not in referenced:
            yield ContentError("no answer ever points to this cause", file=cause.where.file,
                               line=cause.where.line, item=cause.id)
    ends = [n for n in nodes.values() if n.type is NodeType.END]
    if not ends:
        yield ContentError("there is no `end` node: every conversation must close", file=content.file)
    finishing = _can_finish(content)
    for node in nodes.values():
        if node.id in reachable and node.id not in finishing:
            yield err(node, "is a dead end: no path from here reaches an `end` node")
    cycle = _find_cycle(content)
    if cycle:
        yield err(nodes[cycle[0]], f"loops back on itself: {' -> '.join(cycle)}")


def _question_problems(node: Node, content: Content, grammars: Grammars) -> Iterator[str]:
    if node.grammar not in grammars.tables:
        yield f"grammar {node.grammar!r} is not in grammars/ ({', '.join(sorted(grammars.tables))})"
        return
    allowed = set(grammars.tables[node.grammar].intents)
    for intent in allowed - set(node.on):
        yield f"no handling for the answer {intent!r}, which its grammar {node.grammar!r} allows"
    for intent in set(node.on) - allowed:
        yield f"handles {intent!r}, which its grammar {node.grammar!r} never produces"
    for intent, answer in node.on.items():
        if answer.disposition and answer.disposition not in content.dispositions:
            yield f"answer {intent!r}: unknown disposition {answer.disposition!r}"
        for cause in answer.causes:
            if cause not in content.causes:
                yield f"answer {intent!r}: unknown cause {cause!r}"
        if answer.because and answer.because not in content.templates:
            yield f"answer {intent!r}: `because` must name a template, not {answer.because!r}"
    if node.red_flag:
        if not node.topic or not node.confirm_no:
            yield "a red flag needs `topic` (for conditional advice) and `confirm_no` (to confirm a doubtful no)"
        if not {"yes", "no"} <= allowed:
            yield "a red flag must use a grammar with yes and no answers"
        for intent in ("yes", "unsure"):
            answer = node.on.get(intent)
            target = content.nodes.get(answer.next) if answer else None
            if answer and (target is None or target.disposition != EMERGENCY):
                yield (f"a red-flag {intent!r} must lead straight to emergency advice "
                       f"(a node with disposition: emergency), not {answer.next!r}")


def _reachable(content: Content) -> set[str]:
    seen = {content.start}
    stack = [content.start]
    while stack:
        for target in content.nodes[stack.pop()].targets():
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _can_finish(content: Content) -> set[str]:
    finishing = {n.id for n in content.nodes.values() if n.type is NodeType.END}
    changed = True
    while changed:
        changed = False
        for node in content.nodes.values():
            if node.id not in finishing and any(t in finishing for t in node.targets()):
                finishing.add(node.id)
                changed = True
    return finishing


def _find_cycle(content: Content) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node_id: str) -> list[str] | None:
        state[node_id] = 1
        path.append(node_id)
        for target in content.nodes[node_id].targets():
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node_id] = 2
        return None

    return visit(content.start)
