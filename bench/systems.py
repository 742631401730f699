"""Our listening path, exactly as the product runs it, behind the benchmark's common `run()` interface.

Ours = `assistant.speech.recognizer.VoskRecognizer` + `assistant.speech.listen.listen_once` with
`EndpointConfig()`, fed by an in-memory AudioSource in the product's 40 ms chunks (`CHUNK_SECONDS`), then
digital silence, as fast as possible: every end-of-speech rule works in audio time, so the decision does not
depend on the pace.

Decision latency of one clip = (audio time at the end of the chunk on which the decision was taken - true end
of speech) + the wall time from that chunk's arrival to the final result (its processing plus `finish()`).

Every clip is heard as a session's first turn: Vosk keeps its feature pipeline (speaker adaptation) after an
utterance closed by its own endpoint, so a 10 ms silent flush + FinalResult resets it after each clip and
results do not depend on clip order (`flush`). Kaldi's dither draws on one random stream per process, so the
whole run is deterministic only with a fixed clip order per worker, which bench.run keeps.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from assistant.core.grammar import Grammars, Listener
from assistant.speech.audio import CHUNK_SECONDS, chunks, silence
from assistant.speech.endpoint import EndpointConfig
from assistant.speech.frontend import FrontEnd
from assistant.speech.listen import listen_once
from assistant.speech.recognizer import VoskRecognizer

SAMPLE_RATE = 16000
MAX_SILENCE_AFTER_CLIP = 12.0
"""Digital silence offered after a clip (s); longer than any end-of-speech timeout."""


@dataclass
class Outcome:
    """What one system made of one clip."""

    intent: str | None
    """Matched intent (None: nothing accepted)."""
    text: str = ""
    """The recognizer's text."""
    uncertain: bool = False
    """Ours only: the recognizer flagged a close alternative with another meaning."""
    rule: str = ""
    """Which end-of-speech rule ended the turn."""
    decided_audio_s: float = 0.0
    """Audio time at the end of the chunk on which the decision was taken (s)."""
    processing_s: float = 0.0
    """Wall time from that chunk's arrival to the final result (s)."""
    cpu_s: float = 0.0
    """Process CPU time spent recognizing this clip (s)."""
    audio_s: float = 0.0
    """Audio fed to the recognizer (s)."""
    rejected: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("decided_audio_s", "processing_s", "cpu_s", "audio_s"):
            out[key] = round(out[key], 6)
        return out


class System(Protocol):
    """One recognizer under test."""

    name: str

    def run(self, listener_name: str, pcm: bytes) -> Outcome:
        """Recognize one clip of 16 kHz mono 16-bit PCM heard by the named grammar's listener."""


def flush(recognizer: Any) -> None:
    """Leave a Vosk recognizer fully reset, as for a session's first turn (see module docstring)."""
    recognizer.AcceptWaveform(bytes(320))
    recognizer.FinalResult()


@dataclass
class MemorySource:
    """AudioSource: one clip in 40 ms chunks, then digital silence; notes when each chunk was handed over."""

    pcm: bytes
    rate: int = SAMPLE_RATE
    max_silence: float = MAX_SILENCE_AFTER_CLIP
    last_read_at: float = 0.0
    """Monotonic time the latest chunk was handed over."""
    _pending: list[bytes] = field(default_factory=list, init=False, repr=False)
    _quiet_left: int = field(default=0, init=False, repr=False)

    def begin(self, not_before: float) -> None:
        self._pending = chunks(self.pcm, self.rate)
        self._pending.reverse()
        self._quiet_left = round(self.max_silence / CHUNK_SECONDS)

    def read(self) -> bytes | None:
        if self._pending:
            chunk = self._pending.pop()
        elif self._quiet_left > 0:
            self._quiet_left -= 1
            chunk = silence(CHUNK_SECONDS, self.rate)
        else:
            return None
        self.last_read_at = time.monotonic()
        return chunk


@dataclass
class Ours:
    """The product's listening path."""

    model_dir: Path
    grammars: Grammars
    name: str = "ours"
    recognizer: VoskRecognizer = field(init=False)
    config: EndpointConfig = field(default_factory=EndpointConfig)
    _listeners: dict[str, Listener] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.recognizer = VoskRecognizer(self.model_dir)

    def load(self) -> Ours:
        self.recognizer.load()
        return self

    def listener(self, name: str) -> Listener:
        if name not in self._listeners:
            self._listeners[name] = self.grammars.listener(name)
        return self._listeners[name]

    def run(self, listener_name: str, pcm: bytes) -> Outcome:
        source = MemorySource(pcm)
        source.begin(0.0)
        session = self.recognizer.session(self.listener(listener_name), source.rate)
        cpu = time.process_time()
        capture = listen_once(source, session, self.config, clock=time.monotonic, front_end=FrontEnd())
        cpu = time.process_time() - cpu
        for recognizer in session.recognizers:
            flush(recognizer)
        result = capture.recognition
        return Outcome(
            intent=result.intent if result else None,
            text=result.text if result else "",
            uncertain=bool(result and result.uncertain),
            rule=("input_ended" if capture.input_ended else capture.rule.value),
            decided_audio_s=capture.audio_seconds,
            processing_s=max(0.0, capture.decided_at - source.last_read_at),
            cpu_s=cpu,
            audio_s=capture.audio_seconds,
            rejected=result.rejected if result else "",
        )
