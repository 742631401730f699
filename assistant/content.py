"""The triage content as a frozen model, loaded in layers: `from_dir` -> `from_yaml` -> `from_dict`.

`content/triage.yaml` holds the conversation (nodes, causes, dispositions, spoken templates) and
`content/sources.yaml` the sources every item cites. Structural checks (targets, reachability, red-flag
routing, answer coverage) live in `assistant.validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from assistant.errors import ContentError
from assistant.yamlload import line_of, parse_yaml

TRIAGE_FILE = "triage.yaml"
SOURCES_FILE = "sources.yaml"
TEMPLATE_KEYS = (
    "reprompt", "silence", "help", "gap", "conditional_emergency", "confirm_retry", "escalate_unsure", "back",
    "back_first", "restart", "stop", "slower", "faster", "emergency_command", "summary_intro", "summary_yes",
    "summary_unsure", "summary_gaps", "summary_none", "summary_unchecked", "summary_causes", "summary_advice",
    "goodbye", "confirm_choices",
)


class NodeType(StrEnum):
    """What a node does."""

    INFO = "info"
    QUESTION = "question"
    CAUSES = "causes"
    END = "end"


_NODE_KEYS: dict[NodeType, set[str]] = {
    NodeType.INFO: {"type", "source", "say", "next", "disposition"},
    NodeType.QUESTION: {"type", "source", "ask", "grammar", "on", "unanswered", "note", "red_flag", "topic",
                        "confirm_no"},
    NodeType.CAUSES: {"type", "source", "intro", "none_found", "general", "next"},
    NodeType.END: {"type", "source"},
}
_REQUIRED: dict[NodeType, set[str]] = {
    NodeType.INFO: {"say", "next"},
    NodeType.QUESTION: {"ask", "grammar", "on", "unanswered"},
    NodeType.CAUSES: {"intro", "none_found", "general", "next"},
    NodeType.END: set(),
}


@dataclass(frozen=True)
class Where:
    """Where an item was written, for error messages."""

    file: str
    """File name."""
    line: int | None
    """1-based line, when known."""


@dataclass(frozen=True)
class Answer:
    """What one answer intent to a question does."""

    next: str
    """Node to go to."""
    disposition: str | None = None
    """Advice level this answer raises the session to, if any."""
    causes: tuple[str, ...] = ()
    """Possible causes this answer points to."""
    because: str | None = None
    """Template key said first to explain the decision."""


@dataclass(frozen=True)
class Node:
    """One step of the conversation."""

    id: str
    type: NodeType
    where: Where
    source: tuple[str, ...]
    say: tuple[str, ...] = ()
    next: str | None = None
    disposition: str | None = None
    ask: str = ""
    grammar: str = ""
    on: Mapping[str, Answer] = field(default_factory=dict)
    unanswered: str | None = None
    note: str = ""
    red_flag: bool = False
    topic: str = ""
    confirm_no: str = ""
    intro: tuple[str, ...] = ()
    none_found: tuple[str, ...] = ()
    general: tuple[str, ...] = ()

    def targets(self) -> tuple[str, ...]:
        """Every node this one can lead to."""
        found = [a.next for a in self.on.values()]
        found += [t for t in (self.next, self.unanswered) if t]
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Cause:
    """A possible cause, said as a possibility."""

    id: str
    name: str
    say: tuple[str, ...]
    source: tuple[str, ...]
    where: Where


@dataclass(frozen=True)
class Disposition:
    """An advice level. `rank` 0 is the most urgent."""

    id: str
    rank: int
    say: tuple[str, ...]
    source: tuple[str, ...]
    where: Where


@dataclass(frozen=True)
class Content:
    """The whole, loaded triage content."""

    version: str
    start: str
    nodes: Mapping[str, Node]
    causes: Mapping[str, Cause]
    dispositions: Mapping[str, Disposition]
    worsening: tuple[str, ...]
    templates: Mapping[str, str]
    sources: Mapping[str, str]
    file: str
    template_lines: Mapping[str, int | None] = field(default_factory=dict)
    """Line of each template in the file."""

    @classmethod
    def from_dir(cls, directory: Path) -> Content:
        """Load `triage.yaml` and `sources.yaml` from `directory`."""
        texts = {}
        for name in (TRIAGE_FILE, SOURCES_FILE):
            path = directory / name
            if not path.is_file():
                raise ContentError(f"missing content file; expected {name} in {directory}", file=str(path))
            try:
                texts[str(path)] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise ContentError(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8",
                                   file=str(path)) from exc
        return cls.from_yaml(texts)

    @classmethod
    def from_yaml(cls, texts: Mapping[str, str]) -> Content:
        """Load from YAML texts keyed by file name (one ending in triage.yaml, one in sources.yaml)."""
        return cls.from_dict({file: parse_yaml(text, file) for file, text in texts.items()})

    @classmethod
    def from_dict(cls, documents: Mapping[str, object]) -> Content:
        """Build from parsed documents keyed by file name."""
        triage_file = _pick(documents, TRIAGE_FILE)
        sources_file = _pick(documents, SOURCES_FILE)
        sources_doc = _mapping(documents[sources_file], sources_file, "the file")
        _only(sources_doc, {"sources"}, sources_file, "the file")
        sources = _mapping(sources_doc.get("sources"), sources_file, "sources")
        doc = _mapping(documents[triage_file], triage_file, "the file")
        _only(doc, {"version", "start", "dispositions", "worsening", "templates", "causes", "nodes"},
              triage_file, "the file")
        reader = _Reader(triage_file, {str(k): str(v) for k, v in sources.items()})
        nodes_doc = _mapping(doc.get("nodes"), triage_file, "nodes")
        templates_doc = _mapping(doc.get("templates"), triage_file, "templates")
        reader.sources_of(templates_doc, "templates")
        templates = {k: reader.text(v, f"templates.{k}", line_of(templates_doc, k))
                     for k, v in templates_doc.items() if k != "source"}
        unknown = set(templates) - set(TEMPLATE_KEYS)
        if unknown:
            raise ContentError(f"unknown templates {sorted(unknown)}; the engine uses {', '.join(TEMPLATE_KEYS)}",
                               file=triage_file, line=line_of(templates_doc, sorted(unknown)[0]), item="templates")
        for key in TEMPLATE_KEYS:
            if key not in templates:
                raise ContentError(f"template {key!r} is missing", file=triage_file, line=line_of(templates_doc),
                                   item="templates")
        worsening_doc = _mapping(doc.get("worsening"), triage_file, "worsening")
        _only(worsening_doc, {"say", "source"}, triage_file, "worsening")
        reader.sources_of(worsening_doc, "worsening")
        dispositions_doc = _mapping(doc.get("dispositions"), triage_file, "dispositions")
        dispositions = {}
        for rank, (key, raw) in enumerate(dispositions_doc.items()):
            value = _mapping(raw, triage_file, key)
            _only(value, {"say", "source"}, triage_file, key)
            dispositions[key] = Disposition(id=key, rank=rank, say=reader.lines(value, "say", key),
                                            source=reader.sources_of(value, key),
                                            where=Where(triage_file, line_of(value)))
        causes_doc = _mapping(doc.get("causes"), triage_file, "causes")
        causes = {}
        for key, raw in causes_doc.items():
            value = _mapping(raw, triage_file, key)
            _only(value, {"name", "say", "source"}, triage_file, key)
            causes[key] = Cause(id=key, name=reader.text(value.get("name"), key, line_of(value)),
                                say=reader.lines(value, "say", key), source=reader.sources_of(value, key),
                                where=Where(triage_file, line_of(value)))
        nodes = {key: reader.node(key, value) for key, value in nodes_doc.items()}
        return cls(
            version=reader.text(doc.get("version"), "version", line_of(doc)),
            start=reader.text(doc.get("start"), "start", line_of(doc)),
            nodes=MappingProxyType(nodes),
            causes=MappingProxyType(causes),
            dispositions=MappingProxyType(dispositions),
            worsening=reader.lines(worsening_doc, "say", "worsening"),
            templates=MappingProxyType(templates),
            sources=MappingProxyType(dict(reader.known_sources)),
            file=triage_file,
            template_lines=MappingProxyType({k: line_of(templates_doc, k) for k in templates}),
        )

    def lowest_disposition(self) -> str:
        """The least urgent advice level (the default when nothing raised it)."""
        return max(self.dispositions.values(), key=lambda d: d.rank).id

    def more_urgent(self, a: str | None, b: str | None) -> str | None:
        """The more urgent of two disposition ids (None means 'not set')."""
        if a is None or b is None:
            return a or b
        return a if self.dispositions[a].rank <= self.dispositions[b].rank else b


def _pick(documents: Mapping[str, object], suffix: str) -> str:
    for name in documents:
        if name.endswith(suffix):
            return name
    raise ContentError(f"no {suffix} among the content files {sorted(documents)}")


def _mapping(value: object, file: str, item: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise ContentError("expected a mapping (key: value lines) here", file=file, line=line_of(value), item=item)
    return value


def _only(value: Mapping[str, object], allowed: set[str], file: str, item: str) -> None:
    unknown = set(value) - allowed
    if unknown:
        raise ContentError(f"unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}",
                           file=file, line=line_of(value), item=item)


@dataclass
class _Reader:
    """Reads items of one triage file, checking types and sources as it goes."""

    file: str
    known_sources: dict[str, str]

    def text(self, value: object, item: str, line: int | None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ContentError("expected non-empty text", file=self.file, line=line, item=item)
        return value.strip()

    def lines(self, value: Mapping[str, object], key: str, item: str) -> tuple[str, ...]:
        raw = value.get(key)
        if not isinstance(raw, list) or not raw:
            raise ContentError(f"`{key}` must be a non-empty list of sentences", file=self.file,
                               line=line_of(value), item=item)
        return tuple(self.text(v, item, line_of(value)) for v in raw)

    def sources_of(self, value: object, item: str) -> tuple[str, ...]:
        raw = value.get("source") if isinstance(value, dict) else None
        if not isinstance(raw, list) or not raw:
            raise ContentError("every item needs `source: [ids]` naming entries of sources.yaml",
                               file=self.file, line=line_of(value), item=item)
        for source in raw:
            if source not in self.known_sources:
                raise ContentError(f"unknown source {source!r}; add it to sources.yaml", file=self.file,
                                   line=line_of(value), item=item)
        return tuple(raw)

    def node(self, key: str, value: object) -> Node:
        value = _mapping(value, self.file, key)
        line = line_of(value)
        try:
            node_type = NodeType(str(value.get("type")))
        except ValueError:
            raise ContentError(f"`type` must be one of {', '.join(t.value for t in NodeType)}",
                               file=self.file, line=line, item=key) from None
        _only(value, _NODE_KEYS[node_type], self.file, key)
        missing = _REQUIRED[node_type] - set(value)
        if missing:
            raise ContentError(f"a {node_type} node needs {', '.join(sorted(missing))}", file=self.file,
                               line=line, item=key)
        fields: dict[str, object] = {}
        for name in ("next", "unanswered", "disposition", "ask", "grammar", "note", "topic", "confirm_no"):
            if name in value:
                fields[name] = self.text(value[name], f"{key}.{name}", line)
        for name in ("say", "intro", "none_found", "general"):
            if name in value:
                fields[name] = self.lines(value, name, key)
        red_flag = value.get("red_flag", False)
        if not isinstance(red_flag, bool):
            raise ContentError("`red_flag` must be true or false", file=self.file, line=line, item=key)
        if "on" in value:
            fields["on"] = MappingProxyType(self._answers(key, _mapping(value["on"], self.file, f"{key}.on")))
        return Node(id=key, type=node_type, where=Where(self.file, line), source=self.sources_of(value, key),
                    red_flag=red_flag, **fields)  # type: ignore[arg-type]

    def _answers(self, key: str, on: Mapping[str, object]) -> dict[str, Answer]:
        answers = {}
        for intent, raw in on.items():
            item = f"{key}.on.{intent}"
            spec = _mapping(raw, self.file, item)
            _only(spec, {"next", "disposition", "causes", "because"}, self.file, item)
            causes = spec.get("causes", [])
            if not isinstance(causes, list) or not all(isinstance(c, str) for c in causes):
                raise ContentError("`causes` must be a list of cause ids", file=self.file, line=line_of(spec),
                                   item=item)
            optional = {k: self.text(spec[k], item, line_of(spec)) for k in ("disposition", "because") if k in spec}
            answers[str(intent)] = Answer(next=self.text(spec.get("next"), f"{item}.next", line_of(spec)),
                                          causes=tuple(causes), **optional)  # type: ignore[arg-type]
        return answers
