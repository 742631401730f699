"""Vosk adapter: one model, one reusable recognizer per grammar, results mapped through the phrase table.

Vosk's grammar mode is not strict: words recombine across phrases, out-of-vocabulary words are dropped,
and wrong words can come back with confidence 1.0. So:

* every grammar includes "[unk]", and every grammar word is checked against the model's vocabulary;
* a result is accepted only if its text is exactly one phrase of the prompt (else it is a no-match);
* a word stretched over `MAX_WORD_SECONDS` is noise, not speech (Vosk hears steady noise as "help");
* `uncertain` is set when a close alternative (within `UNCERTAIN_MARGIN` of the best path score) means
  something else, or nothing (empty or only "[unk]"); a yes or no with "nothing" within `REJECT_MARGIN` is
  taken as noise;
* an emergency phrase (`SALVAGE`) is kept even when Vosk wraps it in stray words.

Measured across espeak-ng and flite voices: word confidences in
  grammar mode are not informative, and a free-form cross-check rejects ~23% of correct answers.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.errors import ModelError
from assistant.grammar import Listener

UNK = "[unk]"
MAX_ALTERNATIVES = 3
UNCERTAIN_MARGIN = 2.0
"""Path-score gap (Vosk alternative 'confidence' units) under which a differing alternative is a real doubt."""
REJECT_MARGIN = 0.5
"""When "nothing" (an empty or all-[unk] alternative) is this close to a yes or no, that answer is noise."""
DECISIVE = frozenset({"yes", "no"})
"""Answers that steer the triage most; they are rejected, not just doubted, when nothing is as likely."""
HOMOPHONE_TIE = 0.01
"""Alternatives whose path scores differ by less than this sound the same (Vosk 'confidence' units)."""
SALVAGE = frozenset({"emergency"})
"""Intents taken (marked uncertain) even when Vosk wraps them in unknown or stray words ("[unk] need help
now", "them call an ambulance"): a missed emergency is the worst failure. (Doing the same for "unsure" let
babble through as answers: 4 % false accepts in the benchmark.)"""
MAX_WORD_SECONDS = 1.5
SAMPLE_RATE = 16000
log = logging.getLogger(__name__)


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


def interpret(result: dict[str, Any], listener: Listener) -> Recognition:
    """Map a Vosk final result (with alternatives and word times) to a Recognition. Pure."""
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
    intent = None if UNK in text else listener.match(text)
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
            return Recognition(text=text, intent=salvaged, confidence=0.0, uncertain=True, alternatives=listing)
        return Recognition(text=text, intent=None, confidence=0.0, uncertain=False, alternatives=listing,
                           rejected="not one of this question's phrases")
    long_word = next((w for w in words if float(w.get("end", 0)) - float(w.get("start", 0)) > MAX_WORD_SECONDS), None)
    if long_word is not None:
        return Recognition(text=text, intent=None, confidence=0.0, uncertain=False, alternatives=listing,
                           rejected=f"the word {long_word.get('word')!r} lasted too long to be speech")
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
    uncertain = margin is not None and margin < UNCERTAIN_MARGIN
    confidence = 1.0 if margin is None else max(0.0, min(1.0, margin / (2 * UNCERTAIN_MARGIN)))
    return Recognition(text=text, intent=intent, confidence=confidence, uncertain=uncertain, alternatives=listing)


def _salvage(text: str, listener: Listener) -> str | None:
    """A SALVAGE intent inside a result that is not exactly a phrase, or None."""
    words = " " + " ".join(w for w in text.split() if w != UNK) + " "
    for phrase, intent in listener.table.items():
        if intent in SALVAGE and f" {phrase} " in words:
            return intent
    return None


@dataclass
class VoskRecognizer:
    """Loads the model once; keeps one recognizer per prompt grammar and reuses it (after FinalResult)."""

    model_dir: Path
    _model: Any = field(default=None, init=False, repr=False)
    _loading: threading.Thread | None = field(default=None, init=False, repr=False)
    _load_error: ModelError | None = field(default=None, init=False, repr=False)
    _recognizers: dict[tuple[str, ...], Any] = field(default_factory=dict, init=False, repr=False)

    def load_in_background(self) -> None:
        """Start loading the model while the assistant is already talking; `session()` waits for it."""
        def run() -> None:
            try:
                self._load_now()
            except ModelError as exc:  # kept and raised by load() in the caller's thread
                self._load_error = exc

        self._loading = threading.Thread(target=run, name="model-load", daemon=True)
        self._loading.start()

    def load(self) -> VoskRecognizer:
        """Load the model (once); wait for a background load if one is running."""
        if self._loading is not None:
            self._loading.join()
            self._loading = None
        if self._load_error is not None:
            raise self._load_error
        return self._load_now()

    def _load_now(self) -> VoskRecognizer:
        if self._model is None:
            try:
                import vosk
            except ImportError as exc:
                raise ModelError("the vosk package is not installed: run scripts/setup") from exc
            vosk.SetLogLevel(-1)
            try:
                self._model = vosk.Model(str(self.model_dir))
            except Exception as exc:  # vosk raises a bare Exception when the model cannot be read
                raise ModelError(f"Vosk could not load the model at {self.model_dir} ({exc}). "
                                 "Delete it and run scripts/setup, or pass another model with --model.") from exc
        return self

    def forget(self) -> None:
        """Drop the recognizers (and what they adapted to the last speaker); the model stays loaded."""
        self._recognizers.clear()

    def session(self, listener: Listener, sample_rate: int = SAMPLE_RATE) -> RecognitionSession:
        """A recognizer ready for one utterance of this prompt, for audio at `sample_rate` Hz."""
        import vosk

        self.load()
        phrases = tuple(sorted(listener.phrases()))
        key = (str(sample_rate), *phrases)
        recognizer = self._recognizers.get(key)
        if recognizer is None:
            recognizer = vosk.KaldiRecognizer(self._model, float(sample_rate), json.dumps([*phrases, UNK]))
            recognizer.SetWords(True)
            recognizer.SetMaxAlternatives(MAX_ALTERNATIVES)
            self._recognizers[key] = recognizer
        return RecognitionSession(recognizer=recognizer, listener=listener, sample_rate=sample_rate)


@dataclass
class RecognitionSession:
    """Feeds one utterance to a recognizer; `finish()` must be called to leave it clean for reuse."""

    recognizer: Any
    listener: Listener
    sample_rate: int = SAMPLE_RATE
    """The rate the recognizer was built for (Hz): audio fed must be at this rate."""
    partial: str = ""
    """Text so far: closed segments (see below) and the running partial."""
    _segments: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Pieces Vosk closed at its own endpoint inside this answer ("yes i" | "have"), in order."""

    def feed(self, pcm: bytes) -> None:
        """Give the next chunk of 16-bit mono PCM at the recognizer's rate."""
        if self.recognizer.AcceptWaveform(pcm):
            result = json.loads(self.recognizer.Result())
            if _has_text(result):  # Vosk also closes empty segments (leading silence)
                self._segments.append(result)
            running = ""
        else:
            running = str(json.loads(self.recognizer.PartialResult()).get("partial", ""))
        self.partial = " ".join([*(_best_text(s) for s in self._segments), running]).strip()

    @property
    def partial_is_complete(self) -> bool:
        """The text so far already is a whole phrase of the prompt."""
        return bool(self.partial) and self.listener.is_complete_phrase(self.partial)

    def finish(self) -> Recognition:
        """Final result of the utterance; leaves the recognizer ready for the next one."""
        final = json.loads(self.recognizer.FinalResult())
        pieces = [*self._segments, *([final] if _has_text(final) else [])]
        self._segments, self.partial = [], ""
        if len(pieces) <= 1:
            return interpret(pieces[0] if pieces else final, self.listener)
        joined = {"alternatives": [{
            "text": " ".join(_best_text(p) for p in pieces),
            "confidence": sum(float((p.get("alternatives") or [p])[0].get("confidence", 0.0)) for p in pieces),
            "result": [w for p in pieces for w in ((p.get("alternatives") or [p])[0].get("result") or [])],
        }]}
        recognition = interpret(joined, self.listener)
        # Stitched from pieces, the alternatives of the whole are unknown: a risky answer gets confirmed.
        return replace(recognition, uncertain=recognition.intent is not None)


def _best_text(result: dict[str, Any]) -> str:
    alternatives = result.get("alternatives")
    best = alternatives[0] if alternatives else result
    return str(best.get("text", "")).strip()


def _has_text(result: dict[str, Any]) -> bool:
    return bool(_best_text(result))
