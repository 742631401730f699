"""The voice channel: speaker + audio source + recognizer behind the session's Channel interface.

Also the factories the command line uses (`open_voice_channel`, `recognize_files`): heavy imports stay
inside the adapters, so text mode never loads audio libraries.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.core.channel import Heard
from assistant.core.dialogue import Kind, Utterance
from assistant.core.grammar import ANSWERS, Grammars, Listener
from assistant.core.validate import Bundle
from assistant.core.yamlload import parse_yaml, read_yaml_file
from assistant.errors import AssistantError, AudioFileError
from assistant.models.modelstore import check_vocabulary, resolve_model
from assistant.speech.endpoint import EndpointConfig
from assistant.speech.filesource import FileSource
from assistant.speech.frontend import SAMPLE_RATE as FRONT_END_RATE
from assistant.speech.frontend import FrontEnd
from assistant.speech.listen import AudioSource, Prefixed, listen_once
from assistant.speech.recognizer import VoskRecognizer
from assistant.speech.speaker import Output, Pyttsx3Synthesizer, SoundDeviceOutput, Speaker, WavFileOutput, speakable

log = logging.getLogger(__name__)
UNINTERRUPTED = (Kind.ADVICE, Kind.WORSENING, Kind.EMERGENCY, Kind.CONDITIONAL_EMERGENCY)
"""Never cut by barge-in, nor skipped after one: the advice and the warnings (as "that's enough" never
skips them, dialogue.DROPPABLE)."""
GUARD_SECONDS = 0.15
"""After our own playback has ended, the microphone stays deaf this much longer (s): room echo."""


@dataclass
class VoiceChannel:
    """Speaks each utterance (and prints it), listens for one answer per turn."""

    speaker: Speaker
    source: AudioSource
    recognizer: VoskRecognizer
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    use_tone: bool = True
    guard: float = GUARD_SECONDS
    show: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    barge_in: Any = None
    """An assistant.speech.bargein.BargeInDetector: listen while speaking, and stop on a command (None: deaf while
    speaking). Used only when the source stamps its chunks and the output can start a sound and go on."""
    record: Callable[..., None] | None = None
    """Where barge-in events go (the transcript's `event`); see `attach_recorder`."""
    to_stream: Callable[[float], float] = lambda t: t
    """Source-clock time -> stream time (s), for the transcript."""
    front_end: FrontEnd | None = None
    """Noise suppression before the recognizer (assistant.speech.frontend), one per channel: it learns the room's
    noise from turn to turn (None: the recognizer hears the raw audio)."""
    _pending: Any = field(default=None, init=False, repr=False)
    """The command that cut the assistant off, for the next listening turn."""

    def attach_recorder(self, record: Callable[..., None], to_stream: Callable[[float], float]) -> None:
        """Write barge-in events with `record(kind, **fields)`, their times converted by `to_stream`."""
        self.record, self.to_stream = record, to_stream

    def cut_in(self, heard: Any) -> None:
        """Take `heard` (an assistant.speech.bargein.BargeIn said before this session's first words, over a
        notice) as if it had cut the assistant off: the greeting is shown, not spoken, and it is the first turn."""
        self._pending = heard

    def say(self, utterance: Utterance) -> None:
        self.show(utterance.text)
        if self.barge_in is not None and self._pending is None:
            self.barge_in.take_overhang()  # words said over the end of an earlier sound: not an answer to this one
        if utterance.kind in UNINTERRUPTED:
            self.speaker.say(utterance.text)  # advice and warnings: always said in full
            return
        if self._pending is not None:
            return  # the user cut in: the rest of this reply is shown, not spoken; the command comes first
        if self.barge_in is None or not hasattr(self.source, "last_chunk_at"):
            self.speaker.say(utterance.text)
            return
        self.speaker.say(utterance.text, watch=lambda playing: self._watch(playing, utterance))

    def _watch(self, playing: Any, utterance: Utterance) -> bool:
        from assistant.speech.bargein import watch

        refused_before = self.barge_in.refusals
        try:
            heard = watch(self.source, playing, self.barge_in)
        except AssistantError as exc:  # the microphone failed: the next listening turn reports it
            log.warning("listening while speaking failed: %s", exc)
            return False
        finally:
            self._note_refused(self.barge_in.refused_since(refused_before), utterance)
        if heard is None:
            return False
        self._pending = heard
        event = {"stream_s": _r(self.to_stream(heard.decided_at)), "intent": heard.intent, "text": heard.text,
                 "speech_start_s": _r(self.to_stream(heard.speech_start)),
                 "speech_end_s": _r(self.to_stream(heard.speech_end)),
                 "stopped_s": _r(self.to_stream(playing.stopped_at)) if playing.stopped_at is not None else None,
                 "kept_db": _r(heard.kept_db), "node": utterance.node, "said_kind": str(utterance.kind),
                 "cut": utterance.text[:120]}
        self.show(f"(You said {heard.text}: I stopped.)")
        if self.record is not None:
            self.record("barge_in", **event)
        return True

    def _note_refused(self, refusals: list[Any], utterance: Utterance) -> None:
        """Words heard over the assistant's voice that were not a command (an answer said over the greeting):
        in the transcript, with why they were not taken, so nothing said is lost without a trace."""
        for refusal in refusals:
            if not refusal.text or self.record is None:
                continue
            self.record("not_taken_over_speech", stream_s=_r(self.to_stream(refusal.at)), text=refusal.text,
                        why=refusal.why, node=utterance.node, said_kind=str(utterance.kind))

    def listen(self, listener: Listener) -> Heard | None:
        pending, self._pending = self._pending, None
        if pending is not None:
            details = {"barge_in": {"text": pending.text, "intent": pending.intent,
                                    "stream_s": _r(self.to_stream(pending.decided_at))}}
            from assistant.speech.bargein import WAKE_INTENT

            intent = None if pending.intent == WAKE_INTENT else listener.match(pending.text)
            if intent is not None:  # a command of this prompt, taken as this turn
                return Heard(text=pending.text, intent=intent, confidence=pending.confidence,
                             uncertain=pending.uncertain, details=details)
            heard = self._listen(listener)  # "next" or the wake phrase: stop talking and listen
            return None if heard is None else replace(heard, details={**(heard.details or {}), **details})
        return self._listen(listener)

    def _listen(self, listener: Listener) -> Heard | None:
        session = self.recognizer.session(listener, self.source.rate)
        overhang = self.barge_in.take_overhang() if self.barge_in is not None else b""
        source: AudioSource = self.source
        if overhang:  # the user began over the end of the last sound: no tone, their words start this turn
            self.source.begin(getattr(self.source, "last_chunk_at", 0.0))  # nothing after them is dropped
            source = Prefixed(self.source, overhang)
            log.info("this turn begins with %.2f s said over the end of the last sound",
                     len(overhang) / 2 / self.source.rate)
        else:
            if self.use_tone:
                self.speaker.beep()
            self.source.begin(self.clock() + self.guard)
        front_end = self.front_end if self.source.rate == FRONT_END_RATE else None
        capture = listen_once(source, session, self.endpoint, self.clock, front_end=front_end)
        if capture.input_ended:
            return None
        details = {"end_rule": capture.rule.value, "speech_start_s": _r(capture.speech_start),
                   "speech_end_s": _r(capture.speech_end), "audio_s": _r(capture.audio_seconds),
                   "speech_margin_db": _r(capture.speech_margin_db)}
        if overhang:
            details["said_over_sound_s"] = _r(len(overhang) / 2 / self.source.rate)
        take_unheard = getattr(self.source, "take_unheard", None)  # an --audio-in file: one per turn
        unheard = take_unheard() if take_unheard is not None else None
        if unheard is not None:
            details["unheard_sound_s"] = [_r(unheard[0]), _r(unheard[1])]
            log.warning("this turn's audio file holds sound %.1f-%.1f s after the turn ended, which was not listened "
                        "to (each --audio-in file is one answer; `tingle listen --audio-in` takes one recording)",
                        *unheard)
        result = capture.recognition
        if result is None:
            self.show("(I heard nothing.)")
            return Heard(text="", intent=None, silence=True, confidence=0.0, details=details)
        details["alternatives"] = [list(a) for a in result.alternatives]
        details["reading"] = result.reading  # which reading decided (assistant.core.readings)
        details["readings"] = session.heard  # what each one heard
        if result.rejected:
            details["rejected"] = result.rejected
        self.show(f"(I heard: {result.text or 'nothing clear'})")
        noisy = result.intent is None and capture.noisy
        return Heard(text=result.text, intent=result.intent, confidence=result.confidence,
                     uncertain=result.uncertain, silence=not result.text, noisy=noisy, details=details)

    def change_rate(self, step: int) -> None:
        self.speaker.change_rate(step)

    def notice(self, message: str) -> None:
        self.show(message)
        self.speaker.say(speakable(message))


def already_shown(text: str) -> None:
    """A Speaker's fallback for lines the channel has already shown: nothing more to print."""


def front_end_for(args: argparse.Namespace) -> FrontEnd | None:
    """The noise suppression the options ask for (`--no-noise-suppression`: none)."""
    return None if getattr(args, "no_noise_suppression", False) else FrontEnd()


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def prompt_texts(bundle: Bundle) -> list[str]:
    """Texts worth rendering ahead of time: every question, offer and reprompt."""
    content, grammars = bundle.content, bundle.grammars
    texts: list[str] = [q.ask for q in content.questions.values()]
    texts += [s.offer for s in content.sections.values() if s.offer]
    for table in grammars.tables.values():
        for key in ("reprompt", "silence"):
            texts.append(content.templates[key].format(choices=table.description))
    texts += [content.templates["more_item"], content.templates["more_overflow"]]
    return texts


def open_voice_channel(args: argparse.Namespace, bundle: Bundle) -> tuple[VoiceChannel, Callable[[], None]]:
    """Build the voice channel from command-line options; returns it and a function that releases it."""
    model_dir = resolve_model(args.model)
    check_vocabulary(bundle.grammars, model_dir)
    recognizer = VoskRecognizer(model_dir)
    output: Output = WavFileOutput(args.audio_out).open() if args.audio_out else SoundDeviceOutput()
    source: AudioSource
    try:
        if args.audio_in:
            source = FileSource(list(args.audio_in), fast=args.fast).open()
        else:
            from assistant.speech.microphone import Microphone

            source = Microphone(device=_device(args.device)).open()
    except BaseException:
        output.close()
        raise
    speaker = Speaker(Pyttsx3Synthesizer(voice=args.voice, volume=1.0 if args.volume is None else args.volume),
                      output, fallback=already_shown, notify=print)
    if args.rate:
        speaker.rate = args.rate
    speaker.prepare(prompt_texts(bundle))
    recognizer.load_in_background()  # the opening words start while the model loads
    channel = VoiceChannel(speaker=speaker, source=source, recognizer=recognizer, use_tone=not args.no_tone,
                           front_end=front_end_for(args))

    def close() -> None:
        speaker.close()  # no rendering may still be writing when the process ends
        output.close()
        closer = getattr(source, "close", None)
        if closer:
            closer()

    return channel, close


def announce(message: str, audio_out: Path | None) -> bool:
    """Try to speak a problem message (the caller prints it). Returns whether it was spoken."""
    output: Output = WavFileOutput(audio_out) if audio_out else SoundDeviceOutput()
    speaker = Speaker(Pyttsx3Synthesizer(), output, timeout=5.0, fallback=lambda text: None)
    try:
        return speaker.say(speakable(message))
    finally:
        output.close()


def _device(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


def load_grammar(grammars: Grammars, name_or_file: str) -> tuple[Grammars, str]:
    """The grammars to use and the grammar name: a name from grammars/, or a YAML file in that format
    (it may include answers' intents). The returned Grammars holds the file, for vocabulary checks."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise AssistantError(f"grammar file not found: {path}")
        text = read_yaml_file(path)
        name = _name_in(text, path)
        texts = {table.file: read_yaml_file(Path(table.file)) for table in grammars.tables.values()
                 if table.name != name}
        texts[str(path)] = text
        return Grammars.from_yaml(texts), name
    if name_or_file not in grammars.tables:
        raise AssistantError(f"unknown grammar {name_or_file!r}; choose from {', '.join(sorted(grammars.tables))} "
                             "or give a .yaml file")
    return grammars, name_or_file or ANSWERS


def _name_in(text: str, path: Path) -> str:
    doc = parse_yaml(text, str(path))
    return str(doc.get("name")) if isinstance(doc, dict) else ""


@dataclass(frozen=True)
class RecognizeFailure:
    """A WAV file `tingle recognize` could not read: the others are still recognized."""

    wav: Path
    """The file named on the command line."""
    message: str
    """What is wrong with it and what to do (an AudioFileError's message)."""

    def json_line(self) -> str:
        """The file's line of output: its name and the error, no result."""
        return json.dumps({"file": str(self.wav), "error": self.message})


def recognize_files(args: argparse.Namespace, bundle: Bundle) -> Iterator[str | RecognizeFailure]:
    """`tingle recognize`: one JSON line per WAV file, through the same listening path as a session; a file that
    cannot be read gives a RecognizeFailure in its place and the next file is recognized."""
    grammars, name = load_grammar(bundle.grammars, args.grammar)
    listener = grammars.listener(name)
    model_dir = resolve_model(args.model)
    check_vocabulary(grammars, model_dir)
    recognizer = VoskRecognizer(model_dir).load()
    for wav in args.wavs:
        try:
            source = FileSource([wav], fast=True).open()
        except AudioFileError as exc:  # this file only: the others are still recognized
            yield RecognizeFailure(wav, str(exc))
            continue
        try:
            source.begin(0.0)
            capture = listen_once(source, recognizer.session(listener, source.rate), EndpointConfig(),
                                  front_end=front_end_for(args))
        except AudioFileError as exc:
            yield RecognizeFailure(wav, str(exc))
            continue
        finally:
            source.close()
        result = capture.recognition
        yield json.dumps({
            "file": str(wav),
            "text": result.text if result else "",
            "intent": result.intent if result else None,
            "confidence": round(result.confidence, 3) if result else 0.0,
            "uncertain": result.uncertain if result else False,
            "reading": result.reading if result else "",
            "end_rule": capture.rule.value,
        })
