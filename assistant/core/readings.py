"""What one utterance means, from two readings of it. Pure: Vosk-shaped dicts in, a Recognition out.

Each utterance is decoded twice, on the same audio:

* the **grammar reading** listens for the prompt's spoken phrases only: few, acoustically distinct, measured
  safe with many voices (grammars/*.yaml, everything not `typed_only`);
* the **wide reading** listens for every phrase a person might say to the prompt (the typed-only natural
  phrasings too: "not really", "I don't think so", "what did you say"), except spellings and fragments listed
  `not_heard`, words the model does not know, and a phrase that begins a phrase of another meaning (an
  answer cut short must never be heard as a different whole answer).

A bigger grammar hears more natural answers, but its extra words also compete with the short ones ("no" was
heard as "know", "help" as "tell"). So the readings are combined (`combine`):

1. an emergency in the wide reading wins, and in the grammar reading unless the wide reading heard another
   whole answer (the wide grammar holds every emergency phrase too);
2. two different answers -> nothing accepted: the prompt is asked again;
3. one reading's answer, the other none -> that answer, except that a wide reading's yes or no is refused
   when the grammar reading heard no speech at all (noise heard as "it is"; "definitely not" in pink noise
   heard as "yup");
4. the grammar reading's answer is refused when the wide reading's words hold another intent's phrase, or,
   for an answer to a question (not a command), when the wide reading heard `OTHER_TALK` or more words and
   none of them belongs to that answer ("maybe" against "my back": someone's sentence, forced onto the
   nearest short phrase);
5. neither is exactly a phrase -> the answer is looked for *inside* what was heard ("yes it [unk]"): the
   same one intent's phrases must be found in both readings' words, with at most one other word around it,
   and it is marked `uncertain`, so a "no" to a warning sign is read back before it is trusted (`spot`).

Measured on bench/phrasings.py (natural phrasings, several voices and rooms): bench/results/phrasings.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from assistant.core.grammar import EMERGENCY_INTENT, Listener, normalize

UNK = "[unk]"
UNCERTAIN_MARGIN = 2.0
"""Path-score gap (Vosk alternative 'confidence' units) under which a differing alternative is a real doubt."""
REJECT_MARGIN = 0.5
"""When "nothing" (an empty or all-[unk] alternative) is this close to a yes or no, that answer is noise."""
DECISIVE = frozenset({"yes", "no"})
"""Answers that steer the triage most; they are rejected, not just doubted, when nothing is as likely."""
HOMOPHONE_TIE = 0.01
"""Alternatives whose path scores differ by less than this sound the same (Vosk 'confidence' units)."""
SALVAGE = frozenset({EMERGENCY_INTENT})
"""Intents taken (marked uncertain) even when Vosk wraps them in unknown or stray words ("[unk] need help
now", "them call an ambulance"): a missed emergency is the worst failure."""
MAX_WORD_SECONDS = 1.5
"""A word stretched over this is noise, not speech (Vosk hears steady noise as "help")."""
MAX_STRAY = 1
"""Words (an "[unk]" counts) besides the answer's phrase that a spotted answer may have around it."""
OTHER_TALK = 2
"""Words, none of them the grammar reading's answer, in which the wide reading hears someone else's talk (one
differing word is a mishearing: "no" heard as "know")."""

FUNCTION_WORDS = frozenset({"i", "my", "me", "a", "an", "the", "is", "it", "it's", "this"})
"""Words of emergency phrases that are no sign of one when heard beside an answer ("my yes i do", "i help"):
every sentence is full of them."""

GRAMMAR, WIDE, SPOTTED, SALVAGED = "grammar", "wide", "spotted", "salvaged"


@dataclass(frozen=True)
class Recognition:
    """One recognized utterance."""

    text: str
    """Best text as Vosk returned it ("" for nothing; may contain [unk])."""
    intent: str | None
    """Intent of the text in the prompt's phrase table, or None (no-match)."""
    confidence: float
    """0..1: the best path's score margin over the best alternative with another meaning (1.0 if none)."""
    uncertain: bool
    """A close alternative means something else: confirm before acting on a risky answer."""
    alternatives: tuple[tuple[str, float], ...] = ()
    """(text, path score) of each alternative, best first."""
    rejected: str = ""
    """Why a non-empty text was not accepted, if it was not."""
    reading: str = ""
    """How the intent was found: grammar, wide, spotted (inside a longer result) or salvaged; "" for none."""
    words: tuple[tuple[str, float, float], ...] = ()
    """(word, start s, end s) of the best text, when Vosk gave word times (with alternatives, Vosk gives no
    word confidences)."""


def interpret(result: dict[str, Any], listener: Listener, reading: str = GRAMMAR) -> Recognition:
    """Map one Vosk final result (with alternatives and word times) to a Recognition: exact phrases only."""
    recognition = _interpret(result, listener, reading)
    alternatives = result.get("alternatives") or [result]
    words = tuple((str(w.get("word", "")), round(float(w.get("start", 0.0)), 3), round(float(w.get("end", 0.0)), 3))
                  for w in (alternatives[0].get("result") or []))
    return replace(recognition, words=words) if words else recognition


def _interpret(result: dict[str, Any], listener: Listener, reading: str) -> Recognition:
    alternatives = result.get("alternatives")
    if alternatives is None:
        alternatives = [{"text": result.get("text", ""), "confidence": 0.0, "result": result.get("result", [])}]
    scored = [(str(a.get("text", "")).strip(), float(a.get("confidence", 0.0)), a.get("result") or [])
              for a in alternatives]
    if not scored:
        return Recognition(text="", intent=None, confidence=0.0, uncertain=False)
    text, best, words = scored[0]
    listing = tuple((t, round(s, 3)) for t, s, _ in scored)
    if not text:
        return Recognition(text="", intent=None, confidence=0.0, uncertain=False, alternatives=listing)
    intent = None if UNK in text or normalize(text) in listener.not_heard else listener.match(text)
    if intent is None and UNK not in text:
        # Homophones ("know"/"no") score exactly alike: the recognizer cannot tell them apart, so take the
        # reading that is a phrase.
        for other, score, other_words in scored[1:]:
            other_intent = listener.match(other) if abs(score - best) <= HOMOPHONE_TIE else None
            if other_intent is not None:
                text, words, intent = other, other_words, other_intent
                break
    if intent is None:
        salvaged = _salvage(text, listener)
        if salvaged is not None:
            return Recognition(text=text, intent=salvaged, confidence=0.0, uncertain=True, alternatives=listing,
                               reading=SALVAGED)
        return Recognition(text=text, intent=None, confidence=0.0, uncertain=False, alternatives=listing,
                           rejected="not one of this question's phrases")
    long_word = _long_word(words)
    if long_word is not None:
        return Recognition(text=text, intent=None, confidence=0.0, uncertain=False, alternatives=listing,
                           rejected=f"the word {long_word!r} lasted too long to be speech")
    competitor = None
    for other, score, _ in scored[1:]:
        core = " ".join(w for w in other.split() if w != UNK)
        nothing = not core
        if nothing and intent in DECISIVE and best - score < REJECT_MARGIN:
            return Recognition(text=text, intent=None, confidence=0.0, uncertain=False, alternatives=listing,
                               rejected="hearing nothing is almost as likely: noise, not an answer")
        other_intent = None if nothing else listener.match(core)
        if other_intent != intent and (other_intent is not None or nothing):
            competitor = score
            break
    margin = best - competitor if competitor is not None else None
    # A phrase not listened for was assembled from other phrases' words ("i don't" of "i don't know"), and a
    # phrase that begins one of another meaning may be cut short: both are doubted.
    uncertain = (margin is not None and margin < UNCERTAIN_MARGIN) or _may_be_cut(normalize(text), listener)
    confidence = 1.0 if margin is None else max(0.0, min(1.0, margin / (2 * UNCERTAIN_MARGIN)))
    return Recognition(text=text, intent=intent, confidence=confidence, uncertain=uncertain, alternatives=listing,
                       reading=reading)


def _may_be_cut(phrase: str, listener: Listener) -> bool:
    if phrase in listener.typed_only:
        return True
    intent = listener.table.get(phrase)
    return any(o.startswith(phrase + " ") and listener.table[o] not in (intent, EMERGENCY_INTENT)
               for o in listener.phrases())


def _long_word(words: Iterable[dict[str, Any]]) -> str | None:
    for w in words:
        if float(w.get("end", 0)) - float(w.get("start", 0)) > MAX_WORD_SECONDS:
            return str(w.get("word"))
    return None


def _salvage(text: str, listener: Listener) -> str | None:
    """A SALVAGE intent inside a result that is not exactly a phrase, or None."""
    words = " " + " ".join(w for w in text.split() if w != UNK) + " "
    for phrase, intent in listener.table.items():
        if intent in SALVAGE and f" {phrase} " in words:
            return intent
    return None


def wide_listener(listener: Listener, vocabulary: frozenset[str]) -> Listener | None:
    """The listener of the wide reading, or None when it would listen for nothing more than the grammar.

    It listens for every phrase of `listener`, except `not_heard` spellings and phrases with a word the model
    does not know. A phrase that begins one of another meaning ("i don't" of "i don't know") is listened for,
    but doubted when heard (`interpret`), so a "no" to a warning sign is read back."""
    def known(phrase: str) -> bool:
        return all(w in vocabulary for w in phrase.split())

    table = {p: i for p, i in listener.table.items() if p not in listener.not_heard and known(p)}
    if set(table) <= set(listener.phrases()):
        return None
    return replace(listener, table=table, typed_only=frozenset(), not_heard=frozenset(),
                   ignore=frozenset(p for p in listener.ignore if known(p)))


def grammar_phrases(listener: Listener) -> tuple[str, ...]:
    """What a reading's recognizer listens for."""
    return tuple(sorted(listener.phrases()))


def combine(grammar: Recognition, wide: Recognition | None, listener: Listener | None = None) -> Recognition:
    """One decision from the grammar reading and the wide reading (see the module docstring); `listener` is
    the wide reading's listener."""
    if wide is None or listener is None:
        return grammar
    a, b = grammar.intent, wide.intent
    if b == EMERGENCY_INTENT or (a == EMERGENCY_INTENT and b is None):
        chosen = wide if b == EMERGENCY_INTENT else grammar
        return replace(chosen, uncertain=chosen.uncertain or a != b)
    if a is not None and b is not None and a != b:
        # The wide reading listens for every emergency phrase too: when it heard another whole answer, the
        # grammar reading's "emergency" was a forced choice ("hard to say" -> "emergency").
        return replace(grammar, intent=None, confidence=0.0, uncertain=False, reading="",
                       rejected=f"the two readings disagree ({a}: {grammar.text!r}; {b}: {wide.text!r})")
    if a is not None and a == b:
        return grammar  # the measured reading; the wide one may doubt a short phrase that begins a longer one
    if b is not None:
        if b in DECISIVE and not grammar.text.strip():
            return replace(grammar, rejected=f"the wide reading heard {wide.text!r}, the grammar reading no speech")
        return wide
    heard = _words(wide.text)
    others = listener.spot(heard) - {a}
    if a in listener.answer_intents and not others and len(heard) >= OTHER_TALK:
        own = {w for p, i in listener.table.items() if i == a for w in p.split()}
        if not own & set(heard):
            return replace(grammar, intent=None, confidence=0.0, uncertain=False, reading="",
                           rejected=f"the wide reading heard other words ({wide.text!r}): someone else's talk")
    if a is not None and not others:
        return grammar
    if a is not None:
        return replace(grammar, intent=None, confidence=0.0, uncertain=False, reading="",
                       rejected=f"the wide reading heard another answer ({', '.join(sorted(others))}: {wide.text!r})")
    return spot(grammar, wide, listener)


def _seconds(words: tuple[tuple[str, float, float], ...], wanted: list[str]) -> float:
    """How long the `wanted` words (each taken once, in order of the result) lasted (s)."""
    left, total = list(wanted), 0.0
    for word, start, end in words:
        if word in left:
            left.remove(word)
            total += end - start
    return total


def _words(text: str) -> list[str]:
    return [w for w in text.split() if w != UNK]


def _without(tokens: list[str], phrases: Iterable[str]) -> list[str]:
    """`tokens` with every run of them that is one of `phrases` taken out, longest phrases first."""
    words = list(tokens)
    for phrase in sorted(phrases, key=lambda p: -len(p.split())):
        run = phrase.split()
        i = 0
        while i + len(run) <= len(words):
            if words[i:i + len(run)] == run:
                del words[i:i + len(run)]
            else:
                i += 1
    return words


def spot(grammar: Recognition, wide: Recognition, listener: Listener) -> Recognition:
    """The one answer found inside the wide reading's longer result, marked uncertain, or nothing.

    Taken only when: both readings' words hold phrases of that one intent and of no other; besides the
    longest such phrase and the same answer said again ("no never"), the wide reading heard at most
    `MAX_STRAY` other word (an "[unk]" counts), which
    lasted no longer than the phrase ("no [unk]" of "nobody answered the door") and is not part of an
    emergency phrase ("please nope" may be "please help"; `FUNCTION_WORDS` aside)."""
    tokens = wide.text.split()
    heard = _words(wide.text)
    found, also = listener.spot(heard), listener.spot(_words(grammar.text))
    def refuse(why: str) -> Recognition:
        return replace(grammar, rejected=f"{grammar.rejected}; wide reading {wide.text!r}: {why}".lstrip("; "))

    if not heard:
        return refuse("nothing heard")
    if len(found | also) > 1:
        return refuse("two answers heard")
    if len(found) != 1 or also != found:
        return refuse("the readings do not both hold an answer")
    intent = next(iter(found))
    joined = f" {' '.join(heard)} "
    own = [p for p, i in listener.table.items() if i == intent and p not in listener.whole_only]
    phrase = max((p for p in own if f" {p} " in joined), key=lambda p: len(p.split()))
    stray = list(tokens)
    for word in phrase.split():
        stray.remove(word)
    stray = _without(stray, own)  # the same answer said again is not another word ("no never", "yes yes i do")
    if len(stray) > MAX_STRAY:
        return refuse(f"too many other words around {phrase!r}")
    if _seconds(wide.words, phrase.split()) < _seconds(wide.words, stray):
        return refuse(f"the other word lasted longer than {phrase!r}: it is more of someone's talk")
    emergency_words = {w for p, i in listener.table.items() if i == EMERGENCY_INTENT
                       for w in p.split()} - FUNCTION_WORDS
    if any(w in emergency_words for w in stray):
        return refuse(f"a word of an emergency phrase around {phrase!r}")
    return Recognition(text=wide.text, intent=intent, confidence=0.0, uncertain=True,
                       alternatives=wide.alternatives, reading=SPOTTED, words=wide.words)
