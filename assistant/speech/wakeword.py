"""Wake-phrase detection: an adapter over the trained microWakeWord models that `pymicro-wakeword` ships.

The package bundles small streaming models trained by the Home Assistant community ("okay nabu",
"hey jarvis", "hey mycroft") and the TensorFlow Lite runtime they need, so detection runs offline and
nothing is downloaded. Measured against the alternative (`pyopen-wakeword`, the openWakeWord models): on
the same synthetic voices microWakeWord's "okay nabu" is the most reliable phrase and costs about 0.7 % of
one core, against 12 % for openWakeWord's three-model pipeline (`bench/wake.py` reports the figures).

The model works on 16 kHz 16-bit mono audio, in 10 ms feature frames, and gives a probability every 30 ms
(the mean over its last few outputs); a wake is a probability above the phrase's cut-off. The package is
imported only here, and only when a detector is opened, so nothing else pays for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.errors import ModelError
from assistant.speech.audio import SAMPLE_RATE

log = logging.getLogger(__name__)
WAKE_RATE = SAMPLE_RATE
"""The rate every detector expects (Hz)."""


class WakeWordError(ModelError):
    """The wake-phrase model cannot be loaded, or the phrase asked for is unknown."""


@dataclass(frozen=True)
class WakePhrase:
    """One wake phrase the assistant can listen for."""

    name: str
    """Its name on the command line (`--wake-phrase okay-nabu`)."""
    spoken: str
    """How the assistant says it to the user ("okay nabu")."""
    model: str
    """The bundled microWakeWord model's id (pymicro_wakeword.Model value)."""
    cutoff: float
    """The model fires above this mean probability (0..1) when the speech check (`SpeechCheck`) confirms
    each fire: low, so that slow, fast and noisy renderings fire, the check refusing sound-alikes. Chosen
    from `bench/wake.py` ("okay nabu": 0.3 wakes on every quiet clip of the 10 voices at 3 speeds)."""
    cutoff_alone: float
    """The cut-off without the check (`--no-check`): the model's own published value (0..1)."""


WAKE_PHRASES: dict[str, WakePhrase] = {
    phrase.name: phrase
    for phrase in (
        WakePhrase("okay-nabu", "okay nabu", "okay_nabu", 0.3, 0.85),
        WakePhrase("hey-jarvis", "hey jarvis", "hey_jarvis", 0.5, 0.97),
        WakePhrase("hey-mycroft", "hey mycroft", "hey_mycroft", 0.5, 0.95),
    )
}
DEFAULT_WAKE_PHRASE = "okay-nabu"
"""The most reliable of the bundled phrases on the benchmark's voices."""


def wake_phrase(name: str | None = None) -> WakePhrase:
    """The wake phrase called `name` ("okay-nabu", "okay nabu" and "okay_nabu" all work), default okay nabu."""
    key = (name or DEFAULT_WAKE_PHRASE).strip().lower().replace("_", "-").replace(" ", "-")
    phrase = WAKE_PHRASES.get(key)
    if phrase is None:
        raise WakeWordError(f"unknown wake phrase {name!r}; choose one of {', '.join(sorted(WAKE_PHRASES))}")
    return phrase


class Detector(Protocol):
    """Hears the wake phrase in a stream of audio chunks."""

    phrase: WakePhrase

    def feed(self, pcm: bytes) -> float:
        """Take the next chunk (16-bit mono PCM at 16 kHz); return the highest wake probability it gave (0..1)."""

    def heard(self, probability: float) -> bool:
        """Whether `probability` (from `feed`) is a wake."""

    def reset(self) -> None:
        """Forget the audio heard so far (after a wake, and after a session)."""


@dataclass
class MicroWakeDetector:
    """The microWakeWord model of `phrase`, streaming. Call `open()` first (it loads the model)."""

    phrase: WakePhrase
    cutoff: float | None = None
    """Override of the phrase's cut-off (0..1); None: the phrase's own."""
    checked: bool = True
    """Each fire is confirmed by a SpeechCheck (then the lower `cutoff` applies, else `cutoff_alone`)."""
    _model: Any = field(default=None, init=False, repr=False)
    _features: Any = field(default=None, init=False, repr=False)

    @property
    def threshold(self) -> float:
        """The cut-off in force (0..1)."""
        if self.cutoff is not None:
            return self.cutoff
        return self.phrase.cutoff if self.checked else self.phrase.cutoff_alone

    def open(self) -> MicroWakeDetector:
        """Load the model and its runtime. Raises WakeWordError saying what to install."""
        if self._model is not None:
            return self
        try:
            from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
        except ImportError as exc:
            raise WakeWordError(f"the wake-phrase package is missing ({exc}); run scripts/setup, or "
                                ".venv/bin/pip install pymicro-wakeword") from exc
        try:
            self._model = MicroWakeWord.from_builtin(Model(self.phrase.model))
            self._features = MicroWakeWordFeatures()
        except (OSError, ValueError) as exc:  # the runtime library or the model file cannot be loaded
            raise WakeWordError(f"the wake-phrase model {self.phrase.model!r} could not be loaded ({exc}); "
                                "reinstall it with .venv/bin/pip install --force-reinstall pymicro-wakeword") from exc
        log.debug("wake-phrase model %s loaded (cut-off %.2f)", self.phrase.model, self.threshold)
        return self

    def feed(self, pcm: bytes) -> float:
        if self._model is None or self._features is None:
            raise WakeWordError("the wake-phrase detector is not open; this is a bug, please report it")
        best = 0.0
        for features in self._features.process_streaming(pcm):
            probability = self._model.process_streaming_prob(features)
            if probability is not None and probability > best:
                best = float(probability)
        return best

    def heard(self, probability: float) -> bool:
        """Whether `probability` (from `feed`) is a wake."""
        return probability > self.threshold

    def reset(self) -> None:
        if self._model is not None and self._features is not None:
            self._features.reset()
            self._model.reset()

    def close(self) -> None:
        """Release the model (safe to call twice)."""
        if self._model is not None:
            self._model.close()
        self._model, self._features = None, None


@dataclass(frozen=True)
class CheckPhrases:
    """What the second-stage check listens for around one wake phrase (all words in the speech model)."""

    wake: tuple[str, ...]
    """How the speech model writes the wake phrase ("okay na boo"): any of them inside the text confirms."""
    decoys: tuple[str, ...]
    """Common phrases that sound alike ("okay now", "okay then"): heard instead, the wake is refused."""


CHECKS: dict[str, CheckPhrases] = {
    "okay_nabu": CheckPhrases(
        wake=("okay na boo", "okay nah boo", "okay nab who", "okay na who", "okay nabob"),
        decoys=("okay now", "okay then", "okay nana", "okay nobody", "okay google", "okay no", "okay",
                "hey nabil", "okay new", "okay na", "now", "then")),
    "hey_jarvis": CheckPhrases(wake=("hey jarvis",),
                               decoys=("hey travis", "hey harvest", "hey jervis", "hey", "jarvis", "harvest")),
    "hey_mycroft": CheckPhrases(wake=("hey my craft", "hey mycroft"),
                                decoys=("hey microsoft", "my craft", "hey my", "microsoft", "hey")),
}
"""Per model id. Measured (bench/wake.py): for "okay nabu" the check keeps every wake the model found in
quiet and refuses almost all of the model's fires on "okay now", "okay then", "okay nana", "okay google"."""

CHECK_SECONDS = 2.0
"""Audio before the model's fire that the check hears (s): the whole phrase at a slow pace."""
CHECK_INTENT = "wake"


@dataclass
class SpeechCheck:
    """Second stage: the speech recognizer (already loaded for the sessions) hears the last CHECK_SECONDS
    with a grammar of the wake phrase and its sound-alikes; the wake stands only if it hears the phrase.
    Runs only when the wake model fires, so waiting costs nothing more."""

    recognizer: Any
    """An assistant.speech.recognizer.VoskRecognizer (anything with `.session(listener, rate)`)."""
    phrases: CheckPhrases

    @classmethod
    def for_phrase(cls, recognizer: Any, phrase: WakePhrase) -> SpeechCheck | None:
        """The check of `phrase`, or None when there is none for it."""
        phrases = CHECKS.get(phrase.model)
        return None if phrases is None else cls(recognizer, phrases)

    def listener(self) -> Any:
        from assistant.core.grammar import Listener

        table = {p: CHECK_INTENT for p in self.phrases.wake} | {p: "decoy" for p in self.phrases.decoys}
        return Listener(grammar="wake-check", table=table, answer_intents=(CHECK_INTENT, "decoy"),
                        choices=" or ".join(self.phrases.wake[:1]))

    def confirm(self, pcm: bytes) -> tuple[bool, str]:
        """(whether `pcm`, 16 kHz mono, holds the wake phrase; what the recognizer heard)."""
        from assistant.speech.audio import silence

        session = self.recognizer.session(self.listener(), WAKE_RATE)
        session.feed(silence(0.3, WAKE_RATE))
        session.feed(pcm)
        session.feed(silence(0.3, WAKE_RATE))
        heard = session.finish().text
        padded = f" {heard} "
        return any(f" {p} " in padded for p in self.phrases.wake), heard


LOOK_AGAIN_SECONDS = 0.25
"""When the check refuses a fire, it looks once more this much later if the model still fires (s): the model
often fires before the phrase has ended, and the check then hears only "okay na" (bench/wake.py: 0.2 s later
it heard "okay na boo")."""


@dataclass
class SecondLook:
    """A refused fire's one second look, `seconds` of audio later, if the model has fired again meanwhile
    (the waiting loop and the barge-in detector share it). Pure: it counts audio, it hears nothing."""

    seconds: float = LOOK_AGAIN_SECONDS
    """Audio to hear after the first look before the second (s)."""
    first_heard: str | None = field(default=None, init=False)
    """What the first look's check heard, while the second look is pending (None: none pending)."""
    _left: float = field(default=0.0, init=False, repr=False)
    _best: float = field(default=0.0, init=False, repr=False)

    @property
    def pending(self) -> bool:
        return self.first_heard is not None

    def begin(self, heard: str | None) -> None:
        """The first look refused; `heard` is what its check heard."""
        self.first_heard, self._left, self._best = heard or "", self.seconds, 0.0

    def step(self, probability: float, seconds: float) -> float | None:
        """While pending: take the model's `probability` on `seconds` more audio. None until the wait is
        over, then the highest probability since the first look (the caller then looks again or refuses)."""
        self._left -= seconds
        self._best = max(self._best, probability)
        return None if self._left > 1e-9 else self._best

    def heard_both(self, second: str | None) -> str:
        """What both looks heard ("first / second"), for the refusal; the look is then over."""
        first, self.first_heard = self.first_heard or "", None
        return f"{first} / {second or ''}"

    def clear(self) -> str | None:
        """Forget a pending look; what its first look heard (None: none was pending)."""
        first, self.first_heard = self.first_heard, None
        return first


@dataclass(frozen=True)
class Wake:
    """One detected wake phrase."""

    phrase: WakePhrase
    probability: float
    """The model's mean probability when it fired (0..1)."""
    stream_s: float
    """Stream time at the end of the chunk on which it fired (s from the start of listening)."""
    decided_at: float
    """Monotonic time the wake was decided (s), for the wake-to-greeting latency."""
    checked: str | None = None
    """What the second-stage check heard (None: no check)."""


