"""The triage content as a frozen model, loaded in layers: `from_dir` -> `from_yaml` -> `from_dict`.

Four files in `content/`: `triage.yaml` (advice levels, questions, causes, sections, spoken templates),
`rules.yaml` (the clinician-readable table: answers -> advice level, with sources), `regions.yaml`
(emergency numbers) and `sources.yaml` (what every item cites). Cross-checks (names that must exist,
sentence lengths) live in `assistant.core.validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from assistant.core.yamlload import line_of, parse_yaml, read_yaml_file
from assistant.errors import ContentError

TRIAGE_FILE = "triage.yaml"
RULES_FILE = "rules.yaml"
REGIONS_FILE = "regions.yaml"
SOURCES_FILE = "sources.yaml"
FILES = (TRIAGE_FILE, RULES_FILE, REGIONS_FILE, SOURCES_FILE)

EMERGENCY = "emergency"
EMERGENCY_DEPARTMENT = "emergency_department"
EMERGENCY_LEVELS = (EMERGENCY, EMERGENCY_DEPARTMENT)
"""Levels that end the conversation with the action at once."""
FLOOR = "doctor_today"
"""The least a conversation with an unanswered warning sign can advise (fail-safe)."""
REQUIRED_LEVELS = (EMERGENCY, EMERGENCY_DEPARTMENT, FLOOR)
SECTION_CAUSES = "causes"
SECTION_SUMMARY = "summary"

TEMPLATE_KEYS = (
    "opening", "reprompt", "noisy", "silence", "help", "gap", "conditional_emergency",
    "conditional_department", "confirm_no", "confirm_retry",
    "unsure_is_yes", "back", "back_first", "restart", "stop", "slower", "faster", "emergency_command",
    "emergency_end", "unfinished", "unfinished_net", "advice_intro", "advice_so_far", "questions_done",
    "more_item", "more_overflow", "more_choices", "skip", "confirm_choices", "summary_intro", "summary_yes",
    "summary_unsure", "summary_gaps", "summary_none", "summary_causes", "summary_level", "summary_more", "goodbye",
)


@dataclass(frozen=True)
class Where:
    """Where an item was written, for error messages."""

    file: str
    """File name."""
    line: int | None
    """1-based line, when known."""


@dataclass(frozen=True)
class Level:
    """An advice level. `rank` 0 is the most urgent."""

    id: str
    rank: int
    name: str
    """Plain words for the summary, e.g. "contact a doctor or urgent care today"."""
    say: tuple[str, ...]
    """The first sentence is the action; the rule's reason is said after it, then the rest."""
    source: tuple[str, ...]
    where: Where


@dataclass(frozen=True)
class Question:
    """One question, asked on its own."""

    id: str
    ask: str
    topic: str
    """Said in "If you have {topic}, call ..." and in confirmations."""
    note: str
    """How the summary lists a yes."""
    source: tuple[str, ...]
    where: Where
    grammar: str = "answers"
    ask_if: tuple[str, ...] = ()
    """Asked only when one of these earlier questions was answered yes or not sure."""
    causes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Answer intent -> possible causes it points to."""


@dataclass(frozen=True)
class Condition:
    """One part of a rule: a question answered yes or not sure (`intent` None), or a given answer."""

    question: str
    intent: str | None = None

    def __str__(self) -> str:
        return self.question if self.intent is None else f"{self.question}={self.intent}"


@dataclass(frozen=True)
class Rule:
    """A row of the rules table: when every condition holds, the advice is at least `level`."""

    when: tuple[Condition, ...]
    level: str
    condition: str
    """The clinical condition the row guards against, for the transcript and the hazard log."""
    because: str
    """Said once, right after the action."""
    source: tuple[str, ...]
    where: Where

    @property
    def id(self) -> str:
        """A readable name: the conditions joined with '+'."""
        return "+".join(str(c) for c in self.when)


@dataclass(frozen=True)
class Cause:
    """A possible cause, said as a possibility."""

    id: str
    name: str
    say: tuple[str, ...]
    source: tuple[str, ...]
    where: Where


@dataclass(frozen=True)
class Section:
    """Something said after the advice: offered first (when `offer` is set), then item by item."""

    id: str
    offer: str | None
    intro: str | None
    none_found: tuple[str, ...]
    items: tuple[tuple[str, ...], ...]
    source: tuple[str, ...]
    where: Where


@dataclass(frozen=True)
class Region:
    """Emergency numbers of one region."""

    code: str
    emergency: str
    urgent: str


@dataclass(frozen=True)
class Content:
    """The whole, loaded triage content."""

    version: str
    levels: Mapping[str, Level]
    questions: Mapping[str, Question]
    """In asking order."""
    rules: tuple[Rule, ...]
    causes: Mapping[str, Cause]
    sections: Mapping[str, Section]
    """In saying order."""
    templates: Mapping[str, str]
    worsening: tuple[str, ...]
    regions: Mapping[str, Region]
    default_region: str
    sources: Mapping[str, str]
    file: str
    """The triage file (for error messages)."""
    rules_file: str = ""
    template_lines: Mapping[str, int | None] = field(default_factory=dict)

    @classmethod
    def from_dir(cls, directory: Path) -> Content:
        """Load the four content files from `directory`."""
        texts = {}
        for name in FILES:
            path = directory / name
            if not path.is_file():
                raise ContentError(f"missing content file; expected {name} in {directory}", file=str(path))
            texts[str(path)] = read_yaml_file(path)
        return cls.from_yaml(texts)

    @classmethod
    def from_yaml(cls, texts: Mapping[str, str]) -> Content:
        """Load from YAML texts keyed by file name (each ending in one of the four file names)."""
        return cls.from_dict({file: parse_yaml(text, file) for file, text in texts.items()})

    @classmethod
    def from_dict(cls, documents: Mapping[str, object]) -> Content:
        """Build from parsed documents keyed by file name."""
        names = {suffix: _pick(documents, suffix) for suffix in FILES}
        sources_doc = _mapping(documents[names[SOURCES_FILE]], names[SOURCES_FILE], "the file")
        _only(sources_doc, {"sources"}, names[SOURCES_FILE], "the file")
        sources = _mapping(sources_doc.get("sources"), names[SOURCES_FILE], "sources")
        triage_file = names[TRIAGE_FILE]
        reader = _Reader(triage_file, {str(k): str(v) for k, v in sources.items()})
        doc = _mapping(documents[triage_file], triage_file, "the file")
        _only(doc, {"version", "levels", "worsening", "templates", "questions", "causes", "sections"},
              triage_file, "the file")
        templates_doc = _mapping(doc.get("templates"), triage_file, "templates")
        reader.sources_of(templates_doc, "templates")
        templates = {str(k): reader.text(v, f"templates.{k}", line_of(templates_doc, k))
                     for k, v in templates_doc.items() if k != "source"}
        unknown = sorted(set(templates) - set(TEMPLATE_KEYS))
        if unknown:
            raise ContentError(f"unknown templates {unknown}; the engine uses {', '.join(TEMPLATE_KEYS)}",
                               file=triage_file, line=line_of(templates_doc, unknown[0]), item="templates")
        for key in TEMPLATE_KEYS:
            if key not in templates:
                raise ContentError(f"template {key!r} is missing", file=triage_file, line=line_of(templates_doc),
                                   item="templates")
        worsening_doc = _mapping(doc.get("worsening"), triage_file, "worsening")
        _only(worsening_doc, {"say", "source"}, triage_file, "worsening")
        reader.sources_of(worsening_doc, "worsening")
        levels = {}
        for rank, (key, raw) in enumerate(_mapping(doc.get("levels"), triage_file, "levels").items()):
            value = _mapping(raw, triage_file, key)
            _only(value, {"name", "say", "source"}, triage_file, key)
            levels[key] = Level(id=key, rank=rank, name=reader.text(value.get("name"), f"{key}.name", line_of(value)),
                                say=reader.lines(value, "say", key),
                                source=reader.sources_of(value, key), where=Where(triage_file, line_of(value)))
        causes = {}
        for key, raw in _mapping(doc.get("causes"), triage_file, "causes").items():
            value = _mapping(raw, triage_file, key)
            _only(value, {"name", "say", "source"}, triage_file, key)
            causes[key] = Cause(id=key, name=reader.text(value.get("name"), key, line_of(value)),
                                say=reader.lines(value, "say", key), source=reader.sources_of(value, key),
                                where=Where(triage_file, line_of(value)))
        questions = {key: reader.question(str(key), raw)
                     for key, raw in _mapping(doc.get("questions"), triage_file, "questions").items()}
        sections = {key: reader.section(str(key), raw)
                    for key, raw in _mapping(doc.get("sections"), triage_file, "sections").items()}
        rules = _rules(documents[names[RULES_FILE]], names[RULES_FILE], reader.known_sources)
        regions, default_region = _regions(documents[names[REGIONS_FILE]], names[REGIONS_FILE], reader.known_sources)
        return cls(
            version=reader.text(doc.get("version"), "version", line_of(doc)),
            levels=MappingProxyType(levels),
            questions=MappingProxyType(questions),
            rules=rules,
            causes=MappingProxyType(causes),
            sections=MappingProxyType(sections),
            templates=MappingProxyType(templates),
            worsening=reader.lines(worsening_doc, "say", "worsening"),
            regions=MappingProxyType(regions),
            default_region=default_region,
            sources=MappingProxyType(dict(reader.known_sources)),
            file=triage_file,
            rules_file=names[RULES_FILE],
            template_lines=MappingProxyType({k: line_of(templates_doc, k) for k in templates}),
        )

    # ----------------------------------------------------------------- level arithmetic
    def lowest_level(self) -> str:
        """The least urgent advice level (the default when no rule fired)."""
        return max(self.levels.values(), key=lambda level: level.rank).id

    def rank(self, level: str | None) -> int:
        """0 for the most urgent level; one past the lowest for None ("nothing yet")."""
        return len(self.levels) if level is None else self.levels[level].rank

    def more_urgent(self, a: str | None, b: str | None) -> str | None:
        """The more urgent of two level ids (None means 'not set')."""
        return a if self.rank(a) <= self.rank(b) else b

    def less_urgent(self, a: str, b: str) -> str:
        """The less urgent of two level ids."""
        return a if self.rank(a) >= self.rank(b) else b

    def region(self, code: str | None) -> Region:
        """The region with this code (case-insensitive), else the default region."""
        return self.regions.get((code or "").upper()) or self.regions[self.default_region]


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
        raise ContentError(f"unknown keys {sorted(map(str, unknown))}; allowed: {', '.join(sorted(allowed))}",
                           file=file, line=line_of(value), item=item)


def _rules(document: object, file: str, known_sources: Mapping[str, str]) -> tuple[Rule, ...]:
    doc = _mapping(document, file, "the file")
    _only(doc, {"rules"}, file, "the file")
    raw = doc.get("rules")
    if not isinstance(raw, list) or not raw:
        raise ContentError("`rules` must be a non-empty list of rows", file=file, line=line_of(doc))
    reader = _Reader(file, dict(known_sources))
    rules = []
    for number, row in enumerate(raw, start=1):
        item = f"rule {number}"
        value = _mapping(row, file, item)
        _only(value, {"when", "level", "condition", "because", "source"}, file, item)
        when = value.get("when")
        if not isinstance(when, list) or not when or not all(isinstance(w, str) and w.strip() for w in when):
            raise ContentError("`when` must list question ids (or question=answer)", file=file,
                               line=line_of(value), item=item)
        conditions = []
        for part in when:
            question, _, intent = part.strip().partition("=")
            conditions.append(Condition(question.strip(), intent.strip() or None))
        rules.append(Rule(when=tuple(conditions), level=reader.text(value.get("level"), item, line_of(value)),
                          condition=reader.text(value.get("condition"), item, line_of(value)),
                          because=reader.text(value.get("because"), item, line_of(value)),
                          source=reader.sources_of(value, item), where=Where(file, line_of(value))))
    return tuple(rules)


def _regions(document: object, file: str, known_sources: Mapping[str, str]) -> tuple[dict[str, Region], str]:
    doc = _mapping(document, file, "the file")
    _only(doc, {"regions", "default", "source"}, file, "the file")
    reader = _Reader(file, dict(known_sources))
    reader.sources_of(doc, "the file")
    regions = {}
    for code, raw in _mapping(doc.get("regions"), file, "regions").items():
        value = _mapping(raw, file, str(code))
        _only(value, {"emergency", "urgent"}, file, str(code))
        urgent = value.get("urgent", "")
        if not isinstance(urgent, str):
            raise ContentError("`urgent` must be text (it may be empty)", file=file, line=line_of(value), item=code)
        regions[str(code).upper()] = Region(code=str(code).upper(), urgent=urgent.strip(),
                                            emergency=reader.text(value.get("emergency"), str(code), line_of(value)))
    default = str(doc.get("default", "")).upper()
    if default not in regions:
        raise ContentError(f"`default` must name one of the regions, not {default!r}", file=file, line=line_of(doc))
    return regions, default


@dataclass
class _Reader:
    """Reads items of one content file, checking types and sources as it goes."""

    file: str
    known_sources: dict[str, str]

    def text(self, value: object, item: str, line: int | None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ContentError("expected non-empty text", file=self.file, line=line, item=item)
        return " ".join(value.split())

    def lines(self, value: Mapping[str, object], key: str, item: str) -> tuple[str, ...]:
        raw = value.get(key)
        if not isinstance(raw, list) or not raw:
            raise ContentError(f"`{key}` must be a non-empty list of sentences", file=self.file,
                               line=line_of(value), item=item)
        return tuple(self.text(v, item, line_of(value)) for v in raw)

    def sources_of(self, value: object, item: str) -> tuple[str, ...]:
        raw = value.get("source") if isinstance(value, dict) else None
        if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
            raise ContentError("every item needs `source: [ids]` naming entries of sources.yaml",
                               file=self.file, line=line_of(value), item=item)
        for source in raw:
            if source not in self.known_sources:
                raise ContentError(f"unknown source {source!r}; add it to sources.yaml", file=self.file,
                                   line=line_of(value), item=item)
        return tuple(raw)

    def names(self, value: object, item: str, line: int | None) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ContentError("expected a list of ids", file=self.file, line=line, item=item)
        return tuple(v.strip() for v in value)

    def question(self, key: str, raw: object) -> Question:
        value = _mapping(raw, self.file, key)
        line = line_of(value)
        _only(value, {"ask", "topic", "note", "source", "grammar", "ask_if", "causes"}, self.file, key)
        causes: dict[str, tuple[str, ...]] = {}
        if "causes" in value:
            for intent, ids in _mapping(value["causes"], self.file, f"{key}.causes").items():
                causes[str(intent)] = self.names(ids, f"{key}.causes.{intent}", line)
        return Question(
            id=key, ask=self.text(value.get("ask"), f"{key}.ask", line),
            topic=self.text(value.get("topic"), f"{key}.topic", line),
            note=self.text(value.get("note"), f"{key}.note", line),
            source=self.sources_of(value, key), where=Where(self.file, line),
            grammar=self.text(value.get("grammar", "answers"), f"{key}.grammar", line),
            ask_if=self.names(value.get("ask_if", []), f"{key}.ask_if", line),
            causes=MappingProxyType(causes),
        )

    def section(self, key: str, raw: object) -> Section:
        value = _mapping(raw, self.file, key)
        line = line_of(value)
        _only(value, {"offer", "intro", "none_found", "items", "source"}, self.file, key)
        items_raw = value.get("items", [])
        if not isinstance(items_raw, list):
            raise ContentError("`items` must be a list of items, each a list of sentences", file=self.file,
                               line=line, item=key)
        items = []
        for number, item in enumerate(items_raw, start=1):
            if not isinstance(item, list) or not item:
                raise ContentError("each item must be a non-empty list of sentences", file=self.file, line=line,
                                   item=f"{key}.items[{number}]")
            items.append(tuple(self.text(s, f"{key}.items[{number}]", line) for s in item))
        optional = {k: self.text(value[k], f"{key}.{k}", line) for k in ("offer", "intro") if k in value}
        none_found = self.lines(value, "none_found", key) if "none_found" in value else ()
        return Section(id=key, offer=optional.get("offer"), intro=optional.get("intro"), none_found=none_found,
                       items=tuple(items), source=self.sources_of(value, key), where=Where(self.file, line))
