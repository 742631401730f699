"""One listening turn: audio chunks -> recognizer + end-of-speech detector -> a recognition.

The same loop serves the microphone and `--audio-in` files, so tests and the benchmark exercise exactly
the path a user's voice takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from assistant.errors import AudioDeviceError, AudioFileError
from assistant.speech.audio import silence
from assistant.speech.endpoint import Decision, EndpointConfig, Endpointer
from assistant.speech.frontend import FrontEnd
from assistant.speech.recognizer import Recognition, RecognitionSession

LEAD_IN_SECONDS = 0.3
"""Silence given to the recognizer before each turn's audio: without it, an answer that starts at the very
first sample (talking over the tone) loses its first word ("[unk] need help now")."""


class AudioSource(Protocol):
    """Microphone or files: gated, stamped chunks of 16-bit mono PCM at `rate`."""

    rate: int

    def begin(self, not_before: float) -> None:
        """Start a turn; drop audio captured before `not_before` (monotonic s)."""

    def read(self) -> bytes | None:
        """Next chunk, or None when the input has ended for good."""


PREFIX_CHUNK_SECONDS = 0.04
"""`Prefixed` hands out its audio in pieces this long (s), as a microphone would."""


@dataclass
class Prefixed:
    """A source that first hands out `prefix` (audio already heard, at the source's rate), then reads on."""

    source: AudioSource
    prefix: bytes
    """16-bit mono PCM at `source.rate`."""

    @property
    def rate(self) -> int:
        return self.source.rate

    def begin(self, not_before: float) -> None:
        self.source.begin(not_before)

    def read(self) -> bytes | None:
        if len(self.prefix) >= 2:
            size = max(2, round(PREFIX_CHUNK_SECONDS * self.rate) * 2)
            piece, self.prefix = self.prefix[:size], self.prefix[size:]
            return piece[: len(piece) - len(piece) % 2]
        return self.source.read()


@dataclass(frozen=True)
class Capture:
    """The outcome of one listening turn."""

    recognition: Recognition | None
    """None when nothing was said (timeout) or the input ended."""
    rule: Decision
    """Which end-of-speech rule fired."""
    input_ended: bool = False
    speech_start: float | None = None
    """Audio time speech began (s from turn start)."""
    speech_end: float | None = None
    """Audio time of the last speech frame (s from turn start)."""
    audio_seconds: float = 0.0
    """Audio consumed before deciding (s)."""
    decided_at: float = 0.0
    """Monotonic time the recognition was final."""
    speech_margin_db: float | None = None
    """Loudest speech above the noise floor (dB), a rough signal-to-noise estimate."""
    noisy: bool = False
    """Speech was heard, but not far above the room's noise (`Endpointer.noisy`, on the raw audio)."""


def listen_once(source: AudioSource, session: RecognitionSession, config: EndpointConfig,
                clock: Callable[[], float] = time.monotonic, front_end: FrontEnd | None = None) -> Capture:
    """Feed chunks until the end-of-speech rules say stop; return the final recognition.

    With a `front_end` (noise suppression, one per audio stream), the recognizer and the end-of-speech rules
    hear the cleaned audio whenever the room is noisy (`FrontEndConfig.min_noise_dbfs`), while a second meter
    (`room`) hears the raw audio, for that choice and for the noise-aware doubt: suppression hides the very
    noise that makes an answer doubtful.

    Ends: every chunk holds at least one sample, so audio time advances on every pass, and the rules stop
    a turn after at most `no_speech_timeout` + `max_utterance` + `end_silence` of audio."""
    if session.sample_rate != source.rate:  # a recognizer at the wrong rate hears nothing (silently)
        raise AudioFileError(f"the recognizer expects {session.sample_rate} Hz audio but the input delivers "
                             f"{source.rate} Hz; this is a bug, please report it")
    endpointer = Endpointer(config=config, sample_rate=source.rate)
    room = endpointer if front_end is None else Endpointer(config=config, sample_rate=source.rate)
    session.feed(silence(LEAD_IN_SECONDS, source.rate))  # context for an answer that starts at once
    while True:
        pcm = source.read()
        if pcm is None:
            session.finish()  # leave the recognizer clean for the next turn
            return Capture(recognition=None, rule=Decision.TIMEOUT, input_ended=True,
                           audio_seconds=endpointer.elapsed, decided_at=clock())
        if len(pcm) < 2:
            raise AudioDeviceError("the audio input delivered an empty chunk; check the microphone or input file")
        if front_end is not None:
            room.feed(pcm, "", False)  # the raw level only; its decisions are not used
            cleaned = front_end.process(pcm)  # always: the suppressor keeps learning the noise
            endpointer.loud_room = room.background_db >= front_end.config.min_noise_dbfs
            if endpointer.loud_room:
                pcm = cleaned
        session.feed(pcm)
        rule = endpointer.feed(pcm, session.partial, session.partial_is_complete, session.partial_holds_answer,
                               session.partial_words)
        if rule is Decision.CONTINUE:
            continue
        recognition: Recognition | None = session.finish()
        if rule is Decision.TIMEOUT:
            recognition = None  # no speech was heard: words "recognized" in quiet are not trusted
        elif rule in (Decision.SILENCE, Decision.QUIETER) and recognition is not None and not recognition.text \
                and endpointer.speech_seconds < config.min_word_time \
                and endpointer.elapsed < config.no_speech_timeout:
            endpointer.forget_speech()  # a short sound without words (cough, bang): keep listening
            if room is not endpointer:
                room.forget_speech()
            session.feed(silence(LEAD_IN_SECONDS, source.rate))
            continue
        break
    if recognition is not None and recognition.intent is not None and room.noisy:
        recognition = replace(recognition, uncertain=True)  # a noisy room: confirm risky answers
    return Capture(recognition=recognition, rule=rule, speech_start=endpointer.speech_started_at,
                   speech_end=endpointer.last_speech_at, audio_seconds=endpointer.elapsed, decided_at=clock(),
                   speech_margin_db=room.speech_margin_db, noisy=room.noisy)
