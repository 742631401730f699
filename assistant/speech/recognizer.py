"""Vosk adapter: one model, reusable recognizers per grammar, two readings of each utterance.

Vosk's grammar mode is not strict: words recombine across phrases, out-of-vocabulary words are dropped,
and wrong words can come back with confidence 1.0. So every grammar includes "[unk]", every grammar word
is checked against the model's vocabulary, and each utterance is decoded twice, by the prompt's grammar and
by a wide grammar of every natural phrasing; `assistant.core.readings` turns the two results into one decision.

Measured across espeak-ng and flite voices: word confidences in grammar mode are not informative, and a
free-form cross-check rejects ~23% of correct answers (bench/results/phrasings.md has the two readings').
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.core.grammar import Listener
from assistant.core.readings import (
    UNK,
    WIDE,
    Recognition,
    combine,
    grammar_phrases,
    interpret,
    wide_listener,
)
from assistant.errors import ModelError

__all__ = ["UNK", "Recognition", "RecognitionSession", "VoskRecognizer", "interpret"]

MAX_ALTERNATIVES = 3
SAMPLE_RATE = 16000
log = logging.getLogger(__name__)


@dataclass
class VoskRecognizer:
    """Loads the model once; keeps one recognizer per prompt grammar and reuses it (after FinalResult)."""

    model_dir: Path
    _model: Any = field(default=None, init=False, repr=False)
    _loading: threading.Thread | None = field(default=None, init=False, repr=False)
    _load_error: ModelError | None = field(default=None, init=False, repr=False)
    wide: bool = True
    """Decode each utterance a second time with the wide grammar (assistant.core.readings)."""
    _recognizers: dict[tuple[str, ...], Any] = field(default_factory=dict, init=False, repr=False)
    _vocabulary: frozenset[str] | None = field(default=None, init=False, repr=False)
    _wide_listeners: dict[tuple[frozenset[Any], ...], Listener | None] = field(
        default_factory=dict, init=False, repr=False)

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

    def vocabulary(self) -> frozenset[str]:
        """The model's words (read once from the model files)."""
        if self._vocabulary is None:
            from assistant.models.vocabulary import load_vocabulary

            self._vocabulary = load_vocabulary(self.model_dir)
        return self._vocabulary

    def _recognizer(self, phrases: tuple[str, ...], sample_rate: int) -> Any:
        import vosk

        key = (str(sample_rate), *phrases)
        recognizer = self._recognizers.get(key)
        if recognizer is None:
            try:
                recognizer = vosk.KaldiRecognizer(self._model, float(sample_rate), json.dumps([*phrases, UNK]))
            except Exception as exc:  # vosk raises a bare Exception ("Failed to create a recognizer")
                raise ModelError(_recognizer_failure(self.model_dir, exc)) from exc
            recognizer.SetWords(True)
            recognizer.SetMaxAlternatives(MAX_ALTERNATIVES)
            self._recognizers[key] = recognizer
        return recognizer

    def session(self, listener: Listener, sample_rate: int = SAMPLE_RATE) -> RecognitionSession:
        """A recognizer ready for one utterance of this prompt, for audio at `sample_rate` Hz.

        With `wide` (the default), a second recognizer hears the same audio with the wide grammar."""
        self.load()
        grammar = Reading(self._recognizer(grammar_phrases(listener), sample_rate), listener)
        wide = None
        if self.wide:
            key = (frozenset(listener.table.items()), listener.typed_only, listener.not_heard, listener.ignore)
            if key not in self._wide_listeners:
                self._wide_listeners[key] = wide_listener(listener, self.vocabulary())
            wider = self._wide_listeners[key]
            if wider is not None:
                wide = Reading(self._recognizer(grammar_phrases(wider), sample_rate), wider, WIDE)
        return RecognitionSession(grammar=grammar, wide=wide, sample_rate=sample_rate)


TRIAL = ("import sys, vosk; vosk.SetLogLevel(-1); "
         "vosk.KaldiRecognizer(vosk.Model(sys.argv[1]), 16000.0, '[\"yes\", \"[unk]\"]')")
"""What a session does first: load the model, make a grammar recognizer (a cut graph file crashes Vosk here)."""


def trial_load(model_dir: Path, timeout: float = 300.0) -> None:
    """Load the model and make a recognizer in a child process (`tingle check`): a model Vosk crashes on
    (SIGSEGV on a damaged graph file) or cannot use is a ModelError here, instead of ending tingle later."""
    try:
        result = subprocess.run([sys.executable, "-c", TRIAL, str(model_dir)], capture_output=True, text=True,
                                timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ModelError(f"loading the speech model at {model_dir} took over {timeout:.0f} s; it may be damaged. "
                         "Run scripts/setup to reinstall it, or pass another model with --model.") from exc
    if result.returncode == 0:
        return
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Exception" in line] or lines[-1:]
    said = f": {errors[-1]}" if errors else ""
    if result.returncode < 0:
        try:
            name = signal.Signals(-result.returncode).name
        except ValueError:
            name = f"signal {-result.returncode}"
        how = f"Vosk crashed reading it ({name}{said})"
    else:
        how = f"Vosk could not load it (exit status {result.returncode}{said})"
    raise ModelError(f"the speech model at {model_dir} is damaged: {how}. "
                     "Run scripts/setup to reinstall it, or pass a complete Vosk model with --model.")


def _recognizer_failure(model_dir: Path, exc: Exception) -> str:
    """What to tell the user when Vosk loaded the model but cannot make a recognizer from it."""
    why = " (it has no ivector/ folder)" if not (model_dir / "ivector").is_dir() else ""
    return (f"the speech model at {model_dir} is incomplete{why}: Vosk could not make a recognizer from it "
            f"({exc}). Run scripts/setup to reinstall the model, or pass a complete Vosk model with --model.")


@dataclass
class Reading:
    """One recognizer decoding an utterance, with the listener that reads its result."""

    recognizer: Any
    listener: Listener
    name: str = "grammar"
    """"grammar" or "wide" (see assistant.core.readings)."""
    partial: str = ""
    """Text so far: closed segments (see below) and the running partial."""
    _segments: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Pieces Vosk closed at its own endpoint inside this answer ("yes i" | "have"), in order."""

    def feed(self, pcm: bytes) -> None:
        if self.recognizer.AcceptWaveform(pcm):
            result = json.loads(self.recognizer.Result())
            if _has_text(result):  # Vosk also closes empty segments (leading silence)
                self._segments.append(result)
            running = ""
        else:
            running = str(json.loads(self.recognizer.PartialResult()).get("partial", ""))
        self.partial = " ".join([*(_best_text(s) for s in self._segments), running]).strip()

    def finish(self) -> Recognition:
        final = json.loads(self.recognizer.FinalResult())
        pieces = [*self._segments, *([final] if _has_text(final) else [])]
        self._segments, self.partial = [], ""
        if len(pieces) <= 1:
            return interpret(pieces[0] if pieces else final, self.listener, self.name)
        joined = {"alternatives": [{
            "text": " ".join(_best_text(p) for p in pieces),
            "confidence": sum(float((p.get("alternatives") or [p])[0].get("confidence", 0.0)) for p in pieces),
            "result": [w for p in pieces for w in ((p.get("alternatives") or [p])[0].get("result") or [])],
        }]}
        recognition = interpret(joined, self.listener, self.name)
        # Stitched from pieces, the alternatives of the whole are unknown: a risky answer gets confirmed.
        return replace(recognition, uncertain=recognition.intent is not None)


@dataclass
class RecognitionSession:
    """Feeds one utterance to both readings; `finish()` must be called to leave them clean for reuse."""

    grammar: Reading
    wide: Reading | None = None
    sample_rate: int = SAMPLE_RATE
    """The rate the recognizers were built for (Hz): audio fed must be at this rate."""
    readings: tuple[Recognition, ...] = ()
    """The last utterance's grammar reading and wide reading, before they were combined."""

    @property
    def listener(self) -> Listener:
        return self.grammar.listener

    @property
    def recognizer(self) -> Any:
        """The grammar reading's Vosk recognizer."""
        return self.grammar.recognizer

    @property
    def recognizers(self) -> tuple[Any, ...]:
        return tuple(r.recognizer for r in (self.grammar, self.wide) if r is not None)

    @property
    def heard(self) -> dict[str, str]:
        """What each reading heard in the last utterance, by name ("grammar", "wide"), for the transcript."""
        names = [r.name for r in (self.grammar, self.wide) if r is not None]
        return {name: r.text for name, r in zip(names, self.readings, strict=False)}

    @property
    def partial(self) -> str:
        """The grammar reading's text so far."""
        return self.grammar.partial

    def feed(self, pcm: bytes) -> None:
        """Give the next chunk of 16-bit mono PCM at the recognizers' rate."""
        self.grammar.feed(pcm)
        if self.wide is not None:
            self.wide.feed(pcm)

    @property
    def partial_is_complete(self) -> bool:
        """The grammar reading's text so far already is a whole phrase of the prompt. (Not the wide reading's:
        its many phrases complete too early, "both legs" while "both places" is still being said.)"""
        return bool(self.grammar.partial) and self.grammar.listener.is_complete_phrase(self.grammar.partial)

    @property
    def partial_words(self) -> str:
        """Every reading's text so far ("grammar | wide"): while any of it changes, words are still coming."""
        return " | ".join(r.partial for r in (self.grammar, self.wide) if r is not None)

    @property
    def partial_holds_answer(self) -> bool:
        """An answer of the prompt is found in a reading's text so far, whole or inside it ("no i didn't"; the
        wide reading's "not really" while the grammar reading has "[unk]"): an end-of-speech hint for a loud
        room. What the answer is gets decided on the final result (`combine`), by its own rules."""
        return any(bool(r.partial) and r.listener.understand(r.partial).intent is not None
                   for r in (self.grammar, self.wide) if r is not None)

    def finish(self) -> Recognition:
        """Final result of the utterance; leaves the recognizers ready for the next one."""
        grammar = self.grammar.finish()
        self.readings = (grammar,)
        if self.wide is None:
            return grammar
        wide = self.wide.finish()
        self.readings = (grammar, wide)
        return combine(grammar, wide, self.wide.listener)


def _best_text(result: dict[str, Any]) -> str:
    alternatives = result.get("alternatives")
    best = alternatives[0] if alternatives else result
    return str(best.get("text", "")).strip()


def _has_text(result: dict[str, Any]) -> bool:
    return bool(_best_text(result))
