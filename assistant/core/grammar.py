"""Phrase tables: which spoken or typed phrases mean which intent. Shared by text and voice.

Grammar files live in `grammars/`. Each names its intents and their phrases::

    name: spread
    include: [unsure]          # intents borrowed from answers.yaml
    intents:
      arm: [arm, shoulder, hand]

`answers.yaml` holds the shared answer classes (yes, no, unsure) and `commands.yaml` the commands that
are valid at every prompt. Loading goes in layers: `from_dir` -> `from_yaml` -> `from_dict`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from assistant.core.yamlload import line_of, parse_yaml, read_yaml_file
from assistant.errors import ContentError

ANSWERS = "answers"
COMMANDS = "commands"
MORE = "more"
COMMAND_INTENTS = ("repeat", "help", "back", "restart", "stop", "slower", "faster", "emergency", "advice")
EMERGENCY_INTENT = "emergency"
MAX_SPOT_WORDS = 14
"""A typed answer longer than this is searched for emergency phrases only (an answer is short)."""
MAX_SPOT_CHARS = 20000
"""Only this much of a typed line is searched at all."""
_INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KEEP = re.compile(r"[^a-z0-9' ]+")


def normalize(text: str) -> str:
    """Lower-case, straighten apostrophes, drop punctuation and extra spaces: 'Yes.' -> 'yes'."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = _KEEP.sub(" ", text)
    return " ".join(word.strip("'") for word in text.split() if word.strip("'"))


@dataclass(frozen=True)
class PhraseTable:
    """The phrases of one grammar file, by intent."""

    name: str
    """Grammar name, as questions refer to it."""
    file: str
    """File it was read from (for error messages)."""
    description: str
    """How to say the choices aloud, e.g. "yes, no, or not sure"."""
    intents: Mapping[str, tuple[str, ...]]
    """Intent name -> normalized phrases, in file order."""
    lines: Mapping[str, int | None] = field(default_factory=dict)
    """Intent name -> line it is defined on (for error messages)."""
    typed_only: frozenset[str] = frozenset()
    """Phrases understood when typed but not given to the speech recognizer (they confuse it)."""
    ignore: frozenset[str] = frozenset()
    """Phrases that mean nothing and hide the words inside them from spotting ("not an emergency")."""
    whole_only: frozenset[str] = frozenset()
    """Phrases understood only as a whole line, never found inside a longer one ("i haven't", "it is")."""
    not_heard: frozenset[str] = frozenset()
    """Typed-only spellings never listened for, not even by the wide second reading ("y", "yeh", "nop")."""

    @classmethod
    def from_dict(cls, data: object, file: str, answers: PhraseTable | None = None) -> PhraseTable:
        """Build a table from parsed YAML; `answers` supplies the intents named under `include`, which keep
        their typed-only, not-heard and whole-line-only marks; `typed_only` may add phrases to them."""
        borrowed: Mapping[str, tuple[str, ...]] = answers.intents if answers else {}
        borrowed_typed = answers.typed_only if answers else frozenset()
        borrowed_unheard = answers.not_heard if answers else frozenset()
        borrowed_whole = answers.whole_only if answers else frozenset()
        if not isinstance(data, dict):
            raise ContentError("a grammar file must be a mapping with `name` and `intents`", file=file)
        unknown = set(map(str, data)) - {"name", "intents", "include", "description", "typed_only", "ignore",
                                         "whole_only", "not_heard", "numbers"}
        if unknown:
            raise ContentError(f"unknown keys {sorted(unknown)}; allowed: name, intents, include, description, "
                               "typed_only, ignore, whole_only, not_heard, numbers",
                               file=file, line=line_of(data))
        name = data.get("name")
        if not isinstance(name, str) or not _INTENT_NAME.match(name):
            raise ContentError("`name` must be a lower-case word", file=file, line=line_of(data))
        include = data.get("include", []) or []
        if not isinstance(include, list) or not all(isinstance(i, str) for i in include):
            raise ContentError("`include` must list intent names from answers.yaml", file=file,
                               line=line_of(data, "include"))
        raw = data.get("intents", {} if include else None)
        if not isinstance(raw, dict) or not (raw or include):
            raise ContentError("`intents` must map each intent to a list of phrases", file=file,
                               line=line_of(data), item=name)
        intents: dict[str, tuple[str, ...]] = {}
        for intent, phrases in raw.items():
            if not isinstance(intent, str) or not _INTENT_NAME.match(intent):
                raise ContentError(f"intent name {intent!r} must be a lower-case word", file=file,
                                   line=line_of(raw), item=str(intent))
            if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) for p in phrases):
                raise ContentError("give a non-empty list of phrases", file=file, line=line_of(raw), item=intent)
            cleaned = tuple(dict.fromkeys(normalize(p) for p in phrases))
            if "" in cleaned:
                raise ContentError("a phrase is empty after removing punctuation", file=file,
                                   line=line_of(raw), item=intent)
            intents[intent] = cleaned
        typed_only: set[str] = set()
        not_heard: set[str] = set()
        inherited_whole: set[str] = set()
        for intent in include:
            if intent not in borrowed:
                raise ContentError(f"`include` names {intent!r}, which {ANSWERS}.yaml does not define",
                                   file=file, line=line_of(data), item=str(intent))
            if intent in intents:
                raise ContentError("intent is both defined and included; keep one", file=file,
                                   line=line_of(data), item=intent)
            intents[intent] = borrowed[intent]
            typed_only.update(p for p in borrowed[intent] if p in borrowed_typed)
            not_heard |= {p for p in borrowed[intent] if p in borrowed_unheard}
            inherited_whole |= {p for p in borrowed[intent] if p in borrowed_whole}
        typed_raw, numbers_unheard = _with_numbers(data, file, data.get("typed_only") or {}, intents)
        not_heard |= numbers_unheard
        if not isinstance(typed_raw, dict):
            raise ContentError("`typed_only` must map intents to phrases", file=file, line=line_of(data, "typed_only"))
        for intent, phrases in typed_raw.items():
            if intent not in intents or not isinstance(phrases, list):
                raise ContentError("`typed_only` adds phrases to an intent defined or included above", file=file,
                                   line=line_of(typed_raw, str(intent)), item=str(intent))
            extra = tuple(normalize(str(p)) for p in phrases)
            if "" in extra:
                raise ContentError("a phrase is empty after removing punctuation (typed_only)", file=file,
                                   line=line_of(typed_raw, str(intent)), item=str(intent))
            intents[intent] = tuple(dict.fromkeys(intents[intent] + extra))
            typed_only.update(extra)
        ignore_raw = data.get("ignore") or []
        if not isinstance(ignore_raw, list) or not all(isinstance(p, str) for p in ignore_raw):
            raise ContentError("`ignore` must list phrases that mean nothing (e.g. 'not an emergency')",
                               file=file, line=line_of(data, "ignore"))
        ignore = frozenset(normalize(p) for p in ignore_raw) - {""}
        whole_raw = data.get("whole_only") or []
        if not isinstance(whole_raw, list) or not all(isinstance(p, str) for p in whole_raw):
            raise ContentError("`whole_only` must list phrases of the intents above", file=file,
                               line=line_of(data, "whole_only"))
        whole_only = frozenset(normalize(p) for p in whole_raw) | inherited_whole
        known = {p for phrases in intents.values() for p in phrases}
        for phrase in sorted(whole_only - known):
            raise ContentError(f"`whole_only` names {phrase!r}, which no intent above has", file=file,
                               line=line_of(data, "whole_only"), item=phrase)
        unheard_raw = data.get("not_heard") or []
        if not isinstance(unheard_raw, list) or not all(isinstance(p, str) for p in unheard_raw):
            raise ContentError("`not_heard` must list typed-only phrases (spellings such as 'yeh')",
                               file=file, line=line_of(data, "not_heard"))
        own_unheard = frozenset(normalize(p) for p in unheard_raw)
        for phrase in sorted(own_unheard - typed_only):
            raise ContentError(f"`not_heard` names {phrase!r}, which is not a typed_only phrase above", file=file,
                               line=line_of(data, "not_heard"), item=phrase)
        not_heard |= own_unheard
        description = data.get("description")
        if not isinstance(description, str) or not description.strip():
            raise ContentError("`description` must say the choices aloud, e.g. 'yes, no, or not sure'",
                               file=file, line=line_of(data), item=name)
        lines = {intent: line_of(raw, intent) if intent in raw else line_of(data, "include") for intent in intents}
        table = cls(name=name, file=file, description=description.strip(), intents=MappingProxyType(intents),
                    lines=MappingProxyType(lines), typed_only=frozenset(typed_only), ignore=ignore,
                    whole_only=whole_only, not_heard=frozenset(not_heard))
        table.check_unambiguous(file)
        return table

    def phrases(self) -> Iterable[tuple[str, str]]:
        """(phrase, intent) pairs."""
        for intent, phrases in self.intents.items():
            for phrase in phrases:
                yield phrase, intent

    def check_unambiguous(self, file: str, extra: PhraseTable | None = None) -> None:
        """Reject a phrase that means two intents, or that begins another intent's phrase.

        The prefix rule matters for speech: an answer that stops early ("I don't" of "I don't know")
        must never be heard as a complete, different answer. It applies to the phrases the recognizer
        listens for (typed text is matched whole, or by the longest phrase inside it), and a phrase may
        begin an emergency phrase ("help" / "help me"): the listener then never ends the turn early on the
        shorter one, and an early "help" still starts by saying how to get emergency help.
        """
        pairs = list(self.phrases()) + (list(extra.phrases()) if extra else [])
        seen: dict[str, str] = {}

        def line(intent: str) -> int | None:
            return self.lines.get(intent) or (extra.lines.get(intent) if extra else None)

        for phrase, intent in pairs:
            if phrase in seen and seen[phrase] != intent:
                raise ContentError(f"the phrase {phrase!r} means both {seen[phrase]!r} and {intent!r}",
                                   file=file, line=line(intent) if intent in self.intents else line(seen[phrase]),
                                   item=phrase)
            seen[phrase] = intent
        typed = self.typed_only | (extra.typed_only if extra else frozenset())
        spoken = [(p, i) for p, i in pairs if p not in typed]
        for phrase, intent in spoken:
            for other, other_intent in spoken:
                if other_intent not in (intent, EMERGENCY_INTENT) and other.startswith(phrase + " "):
                    raise ContentError(
                        f"the phrase {phrase!r} ({intent}) is the start of {other!r} ({other_intent}); "
                        "a listener could stop early and take the wrong answer, so reword one of them",
                        file=file, line=line(intent) if intent in self.intents else line(other_intent), item=phrase)


@dataclass(frozen=True)
class Understanding:
    """What a typed line means."""

    intent: str | None
    whole: bool
    """The whole line is one phrase (else the answer was found inside it, or nothing was)."""


@dataclass(frozen=True)
class Listener:
    """What one prompt listens for: its own answers plus the global commands."""

    grammar: str
    """Name of the question's grammar."""
    table: Mapping[str, str]
    """Normalized phrase -> intent, answers and commands together."""
    answer_intents: tuple[str, ...]
    """The question's own answer intents, in file order."""
    choices: str
    """The answers, as said aloud in reprompts and help."""
    typed_only: frozenset[str] = frozenset()
    """Phrases matched when typed, left out of the speech recognizer's grammar."""
    ignore: frozenset[str] = frozenset()
    """Phrases that mean nothing (they hide the words inside them from spotting)."""
    whole_only: frozenset[str] = frozenset()
    """Phrases understood only as the whole line."""
    not_heard: frozenset[str] = frozenset()
    """Typed-only spellings that no speech reading listens for (see `PhraseTable.not_heard`)."""

    def match(self, text: str) -> str | None:
        """The intent of `text`, or None when it is not exactly one of the phrases."""
        return self.table.get(normalize(text))

    def interpret(self, text: str) -> str | None:
        """The intent of a typed line (see `understand`), or None."""
        return self.understand(text).intent

    def understand(self, text: str) -> Understanding:
        """The intent of a typed line: the whole line, else the phrases found inside it.

        Inside a line, only the longest phrases count ("not sure" hides the "sure" in it, "I don't think
        so" the "think so"), and `whole_only` fragments ("i haven't", "it is") are not looked for. An
        emergency phrase anywhere wins. Otherwise exactly one intent must be found: a line that holds two
        ("yes no", "no, not sure") is not understood, so it is asked again. An answer found inside a
        longer line is not `whole`: a "no" to a warning sign is then read back to be confirmed.
        """
        phrase = normalize(text[:MAX_SPOT_CHARS])
        if phrase in self.table:
            return Understanding(self.table[phrase], whole=True)
        words = phrase.split()
        intents = self.spot(words)
        if EMERGENCY_INTENT in intents:
            return Understanding(EMERGENCY_INTENT, whole=False)
        if len(words) > MAX_SPOT_WORDS or len(intents) != 1:
            return Understanding(None, whole=False)
        return Understanding(next(iter(intents)), whole=False)

    def spot(self, words: list[str]) -> set[str]:
        """The intents of the longest phrases found inside `words` (ignored phrases hide what they cover)."""
        found: list[tuple[int, int, str | None]] = []
        index = self._index()
        for start, word in enumerate(words):
            for candidate, intent in index.get(word, ()):
                end = start + len(candidate)
                if tuple(words[start:end]) == candidate:
                    found.append((start, end, intent))
        longest = [(s, e, i) for s, e, i in found
                   if not any(s2 <= s and e <= e2 and e2 - s2 > e - s for s2, e2, _ in found)]
        return {i for _, _, i in longest if i is not None}

    def _index(self) -> dict[str, list[tuple[tuple[str, ...], str | None]]]:
        """First word -> the phrases (as word tuples) that may be found inside a line, with their intent."""
        cached = self.__dict__.get("_spot_index")
        if cached is None:
            cached = {}
            entries = [(p, i) for p, i in self.table.items() if p not in self.whole_only]
            entries += [(p, None) for p in self.ignore]
            for phrase, intent in entries:
                parts = tuple(phrase.split())
                cached.setdefault(parts[0], []).append((parts, intent))
            object.__setattr__(self, "_spot_index", cached)
        return cached

    def phrases(self) -> tuple[str, ...]:
        """The phrases the speech recognizer listens for (all but the typed-only ones)."""
        return tuple(p for p in self.table if p not in self.typed_only)

    def is_complete_phrase(self, text: str) -> bool:
        """True when `text` already is a whole phrase the recognizer listens for, and no longer phrase of
        another meaning begins with it ("help" could still become "help me"): an end-of-speech hint."""
        phrase = normalize(text)
        if phrase not in self.table or phrase in self.typed_only:
            return False
        intent = self.table[phrase]
        return not any(other.startswith(phrase + " ") and self.table[other] != intent for other in self.phrases())


SPOKEN_NUMBERS = (18, 110)
"""Numbers (ages) listened for as spoken words; outside this range they are understood only when typed."""
_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def _number_words(n: int) -> str:
    """A number as it is said: 72 -> "seventy two", 105 -> "one hundred and five"."""
    if n >= 100:
        rest = n - 100
        return "one hundred" + (f" and {_number_words(rest)}" if rest else "")
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    return _TENS[tens - 2] + (f" {_UNITS[unit]}" if unit else "")


def _numbers(data: dict[object, object], file: str) -> dict[int, str]:
    """The `numbers` key: each intent maps to an inclusive range [low, high] of whole numbers (an age)."""
    raw = data.get("numbers") or {}
    if not isinstance(raw, dict):
        raise ContentError("`numbers` must map intents to a range, e.g. yes: [50, 120]", file=file,
                           line=line_of(data, "numbers"))
    found: dict[int, str] = {}
    for intent, bounds in raw.items():
        if (not isinstance(bounds, list) or len(bounds) != 2 or not all(type(b) is int for b in bounds)
                or not 0 <= bounds[0] <= bounds[1] <= 199):
            raise ContentError("give a range of two whole numbers from 0 to 199, e.g. [50, 120]", file=file,
                               line=line_of(raw, str(intent)), item=str(intent))
        for n in range(bounds[0], bounds[1] + 1):
            if n in found:
                raise ContentError(f"the number {n} is in two ranges", file=file, line=line_of(raw, str(intent)),
                                   item=str(intent))
            found[n] = str(intent)
    return found


def _with_numbers(data: dict[object, object], file: str, typed_raw: object,
                  intents: dict[str, tuple[str, ...]]) -> tuple[object, frozenset[str]]:
    """Add the phrases of `numbers` to the table: spoken words in SPOKEN_NUMBERS go to `intents`, digits and
    the other numbers in words to the typed-only phrases (returned, with those the wide reading must not listen
    for either: the numbers in words outside SPOKEN_NUMBERS). Were "three" or "six" listened for, "ninety three"
    or "fifty six" in noise, the tens lost, became an age under 50 (measured on the benchmark: 12 such clips)."""
    numbers = _numbers(data, file)
    if not numbers or not isinstance(typed_raw, dict):
        return typed_raw, frozenset()
    typed: dict[object, list[object]] = {k: list(v) if isinstance(v, list) else v for k, v in typed_raw.items()}
    unheard: set[str] = set()
    for n, intent in numbers.items():
        if intent not in intents:
            raise ContentError(f"`numbers` names {intent!r}, which is not defined or included above", file=file,
                               line=line_of(data, "numbers"), item=intent)
        if SPOKEN_NUMBERS[0] <= n <= SPOKEN_NUMBERS[1]:
            intents[intent] = (*intents[intent], _number_words(n))
            typed.setdefault(intent, []).append(str(n))
        else:
            typed.setdefault(intent, []).extend([str(n), _number_words(n)])
            unheard.add(_number_words(n))
    return typed, frozenset(unheard)


@dataclass(frozen=True)
class Grammars:
    """Every phrase table, by grammar name."""

    tables: Mapping[str, PhraseTable]

    @classmethod
    def from_dir(cls, directory: Path) -> Grammars:
        """Load every `*.yaml` in `directory`."""
        files = sorted(directory.glob("*.yaml"))
        if not files:
            raise ContentError("no grammar files (*.yaml) found; the grammars/ folder is missing or empty",
                               file=str(directory))
        return cls.from_yaml({str(path): read_yaml_file(path) for path in files})

    @classmethod
    def from_yaml(cls, texts: Mapping[str, str]) -> Grammars:
        """Load from YAML texts keyed by file name."""
        return cls.from_dict({file: parse_yaml(text, file) for file, text in texts.items()})

    @classmethod
    def from_dict(cls, documents: Mapping[str, object]) -> Grammars:
        """Build from parsed documents keyed by file name. `answers` is read first; others may include it."""
        def name_of(doc: object) -> object:
            return doc.get("name") if isinstance(doc, dict) else None

        ordered = sorted(documents.items(), key=lambda item: name_of(item[1]) != ANSWERS)
        tables: dict[str, PhraseTable] = {}
        for file, doc in ordered:
            answers = tables.get(ANSWERS)
            table = PhraseTable.from_dict(doc, file, answers)
            if table.name in tables:
                raise ContentError(f"grammar name {table.name!r} is also used by {tables[table.name].file}",
                                   file=file, item=table.name)
            tables[table.name] = table
        for required in (ANSWERS, COMMANDS, MORE):
            if required not in tables:
                raise ContentError(f"the grammar {required!r} ({required}.yaml) is missing")
        commands = tables[COMMANDS]
        if set(commands.intents) != set(COMMAND_INTENTS):
            odd = sorted(set(commands.intents) ^ set(COMMAND_INTENTS))
            raise ContentError(f"commands must be exactly {', '.join(COMMAND_INTENTS)} (check {', '.join(odd)})",
                               file=commands.file, line=min((v for v in commands.lines.values() if v), default=None),
                               item="intents")
        for table in tables.values():
            if table.name != COMMANDS:
                table.check_unambiguous(table.file, extra=commands)
        return cls(tables=MappingProxyType(tables))

    def listener(self, grammar: str) -> Listener:
        """The listener for a question that uses `grammar`."""
        table = self.tables[grammar]
        phrases = dict((p, i) for p, i in table.phrases())
        phrases.update((p, i) for p, i in self.tables[COMMANDS].phrases())
        commands = self.tables[COMMANDS]
        return Listener(grammar=grammar, table=MappingProxyType(phrases), answer_intents=tuple(table.intents),
                        choices=table.description, typed_only=table.typed_only | commands.typed_only,
                        ignore=table.ignore | commands.ignore, whole_only=table.whole_only | commands.whole_only,
                        not_heard=table.not_heard | commands.not_heard)

    def all_words(self) -> dict[str, str]:
        """Every word the recognizer may hear -> the file it first appears in (for vocabulary checks)."""
        words: dict[str, str] = {}
        for table in self.tables.values():
            for phrase, _ in table.phrases():
                if phrase in table.typed_only:
                    continue
                for word in phrase.split():
                    words.setdefault(word, table.file)
        return words
