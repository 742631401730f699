"""Barge-in: while the assistant speaks, the user can cut in with a command ("stop", "repeat", "wait", "next",
"go back", an emergency phrase, the wake phrase).

The microphone stays open during playback. Each chunk goes through

1. the echo canceller (`assistant.speech.echo`), with the samples being played as its reference (aligned by the
   chunk's time stamp, `reference_lead_s` early so that timing errors stay within the filter);
2. the ordinary end-of-speech detector (`assistant.speech.endpoint`) on what is left, one Endpointer for the whole
   playback so that its noise floor follows the residual echo;
3. once it hears speech, Vosk with the small barge-in grammar (`grammars/bargein/bargein.yaml`, plus
   "[unk]"),
   fed from `preroll_s` before the speech began.

The wake phrase is not in that grammar: the trained wake-phrase model (`assistant.speech.wakeword`, the one that
woke the assistant) hears the canceller's output all through the playback, and each of its fires is
confirmed by the same speech check as when waiting, on the last seconds of that output. (Sound-alikes of
"okay nabu" in the grammar took a short "stop" for the wake phrase, and fitted only one wake phrase.)

A command counts only when the whole utterance is exactly one phrase of that grammar (an "[unk]" at either
end, the residual echo around it, is dropped; an emergency phrase counts with stray words around it, as in
a listening turn, and so does any utterance holding one of the grammar's `emergency_spots`, such as
"ambulance" or "call an", since the end of a phrase is often lost under the assistant's voice) *and* the gate
says it was the user: over the utterance, the
canceller's output kept at least `min_kept_db` of the microphone's energy where the assistant was playing.
The assistant's own voice, cancelled, keeps about -ERLE (-15 to -35 dB); a user as loud as the echo keeps
about -3 dB, 6 dB quieter about -7 dB. Measured in `bench/bargein.py`.

A fresh canceller has not learnt the room yet: for the first seconds of the first sound after start-up
its own voice passes almost untouched, and the gate cannot tell it from the user's ("emergency" heard while
it said "your local emergency number"). So an utterance that overlaps playback from before the canceller
has learnt the room (it cancelled `learn_erle_db` over the last `learn_window_s` of playback, or `learn_s`
of playback went by without that: a room whose echo is too weak to learn from) is refused. Measured on cold
starts in `bench/bargein.py`.

`watch()` runs this over one playing sound and stops it on a command. A user who is still talking when the
sound ends is heard out: listening goes on until their utterance ends. If it was not a command, its audio
(echo removed) is kept as `overhang`, and the next listening turn begins with it (an answer said over the
end of a question is not lost), unless the assistant says something else first.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.core.grammar import EMERGENCY_INTENT, Listener, PhraseTable, normalize
from assistant.core.yamlload import parse_yaml, read_yaml_file
from assistant.errors import AssistantError, ContentError, ModelError
from assistant.speech.echo import Block, EchoCanceller, EchoConfig, StreamingCanceller, erle_db
from assistant.speech.endpoint import Decision, EndpointConfig, Endpointer
from assistant.speech.recognizer import UNK
from assistant.speech.wakeword import CHECK_SECONDS, SecondLook

log = logging.getLogger(__name__)
BARGE_IN = "bargein"
"""The grammar's name (grammars/bargein/bargein.yaml)."""
WAKE_INTENT = "wake"
"""The wake phrase during a conversation: stop talking and listen."""
KEPT_PERCENTILE = 75
"""Percentile of the blocks' output-to-microphone energy ratios that the gate uses."""
LEARNING = ("it began while the echo canceller was still learning the room, when the assistant's own voice "
            "passes almost untouched")
"""Why an utterance over a fresh canceller is refused."""
NOT_CHECKED = "the speech check did not hear the phrase"
"""Why a wake fire the check refused (at both looks) is refused."""
SPOTS_KEY = "emergency_spots"
"""The barge-in grammar's list of emergency words heard anywhere (grammars/bargein/bargein.yaml)."""
WAKE_GATE_S = 1.2
"""The gate of a wake fire looks at this much audio before it (s): about the phrase's length."""
BARGE_IN_ENDPOINT = EndpointConfig(complete_silence=0.1, stable_time=0.15, end_silence=0.4, max_utterance=3.0,
                                   no_speech_timeout=float("inf"), own_drop_db=float("inf"))
"""Short commands and a quick decision; never a timeout (listening lasts as long as the playback). The room
rule `quieter` is off: over playback the "room" is the assistant's own echo, which the hear-out rules handle."""


@dataclass(frozen=True)
class BargeInConfig:
    """Settings of the barge-in listener."""

    endpoint: EndpointConfig = BARGE_IN_ENDPOINT
    """End-of-speech rules for the commands (times in s)."""
    echo: EchoConfig = field(default_factory=EchoConfig)
    """The echo canceller."""
    min_kept_db: float = -12.0
    """A command counts only if, where the assistant was playing, the canceller's output over the utterance
    kept at least this much of the microphone's energy (dB, <= 0): well above what is left of its own voice."""
    min_far_dbfs: float = -60.0
    """Blocks with the playback quieter than this are not used by the gate (dBFS)."""
    reference_lead_s: float = 0.02
    """The reference is taken this much earlier than the chunk's time stamp (s): a microphone stamped a
    little late still has its echo after the reference, where the filter can model it."""
    preroll_s: float = 0.3
    """Audio before the start of speech given to the recognizer (s)."""
    learn_erle_db: float = 15.0
    """The canceller has learnt the room once it has cancelled this much of the microphone's energy (dB)...
    3 dB more than the gate needs (-`min_kept_db`): at 10 dB, 5 of 288 cold starts still took a command
    from the assistant's own voice just after learning (kept -8 to -12 dB); at 15 dB, 1 of those 5."""
    learn_window_s: float = 0.5
    """... over this much of the latest playback (s with the far end above `min_far_dbfs`): one good block is
    not enough (a single dip took "ambulance" from its own voice 3 s after a cold start)."""
    learn_s: float = 4.0
    """Playback (s with the far end above `min_far_dbfs`) after which a canceller that has still not learnt
    counts as having learnt the room: its echo is too weak against the room's noise to learn from."""


@dataclass(frozen=True)
class BargeIn:
    """A command heard over the assistant's own speech."""

    intent: str
    """Its intent in the barge-in grammar."""
    text: str
    """What was heard (one phrase of the grammar)."""
    decided_at: float
    """Source-clock time the command was taken (end of the chunk that decided it) (s)."""
    speech_start: float
    """Source-clock time the command began (s)."""
    speech_end: float
    """Source-clock time the command's last speech frame ended (s)."""
    kept_db: float | None
    """The gate's measure (see BargeInConfig.min_kept_db); None when nothing was playing under it."""
    confidence: float = 1.0
    uncertain: bool = False
    decide_ms: float = 0.0
    """Processing time of the chunk that decided it (ms of wall clock)."""


@dataclass(frozen=True)
class Refusal:
    """An utterance heard over playback that was not taken (for the benchmark and the logs)."""

    text: str
    why: str
    kept_db: float | None
    at: float


class Playing(Protocol):
    """A sound being played that barge-in listens over (`TimedOutput.start`, `SoundDeviceOutput.start`)."""

    started_at: float

    def finished(self) -> bool:
        """The whole sound has been played."""

    def reference(self, start_s: float, count: int) -> np.ndarray:
        """The samples sent to the loudspeaker from source-clock time `start_s` (float, at the source's rate)."""

    def stop(self, at: float) -> float:
        """Cut the sound now (`at`: the source-clock time of the decision); returns when it ended."""

    def finish(self) -> None:
        """Let the sound end by itself (returns once it has)."""


class TimedSource(Protocol):
    """A source whose chunks carry their time (StreamSource, Microphone)."""

    rate: int
    last_chunk_at: float

    def begin(self, not_before: float) -> None: ...

    def read(self) -> bytes | None: ...


def grammar_file(grammars_dir: Path) -> Path:
    """Where the barge-in grammar lives: a folder of its own inside grammars/, so that it is not taken for a
    question's grammar (every *.yaml directly in grammars/ is one)."""
    return grammars_dir / BARGE_IN / f"{BARGE_IN}.yaml"


def barge_in_listener(grammars_dir: Path, vocabulary: frozenset[str] | None = None) -> Listener:
    """The barge-in grammar (`grammar_file`) as a listener. With `vocabulary` (the speech model's words),
    a word the model does not know is reported, as for the other grammars."""
    return load_barge_in(grammars_dir, vocabulary)[0]


def load_barge_in(grammars_dir: Path, vocabulary: frozenset[str] | None = None) -> tuple[Listener, tuple[str, ...]]:
    """The barge-in grammar as a listener, and its `emergency_spots`: words or starts of an emergency phrase
    that, heard anywhere in an utterance over playback, count as the emergency (see `BargeInDetector`)."""
    path = grammar_file(grammars_dir)
    if not path.is_file():
        raise ContentError(f"the barge-in grammar is missing ({path}); restore it, or run with --no-barge-in")
    data = parse_yaml(read_yaml_file(path), str(path))
    spots: tuple[str, ...] = ()
    if isinstance(data, dict) and SPOTS_KEY in data:
        raw = data.pop(SPOTS_KEY)
        if not isinstance(raw, list) or not all(isinstance(x, str) and normalize(x) for x in raw):
            raise ContentError(f"`{SPOTS_KEY}` must be a list of words or phrases", file=str(path))
        spots = tuple(normalize(x) for x in raw)
    listener = table_listener(PhraseTable.from_dict(data, str(path)))
    words = {w for p in (*listener.phrases(), *spots) for w in p.split()}
    missing = sorted(words - (vocabulary or set())) if vocabulary else []
    if missing:
        raise ModelError(f"the speech model does not know these barge-in words: {', '.join(missing)} (in {path}). "
                         "Reword those phrases with words the model knows.")
    return listener, spots


def table_listener(table: PhraseTable) -> Listener:
    """A phrase table as a listener whose every phrase counts only as the whole utterance."""
    phrases = dict(table.phrases())
    return Listener(grammar=BARGE_IN, table=phrases, answer_intents=tuple(table.intents),
                    choices=table.description, whole_only=frozenset(phrases))


@dataclass
class BargeInDetector:
    """Hears commands in the microphone signal while the assistant plays. Keeps the learnt echo path across
    playbacks; `start()` before each one."""

    recognizer: Any
    """An assistant.speech.recognizer.VoskRecognizer (anything with `session(listener, rate)`)."""
    listener: Listener
    config: BargeInConfig = field(default_factory=BargeInConfig)
    rate: int = 16000
    refused: list[Refusal] = field(default_factory=list)
    """Utterances heard over playback and not taken, most recent last (at most 100 kept)."""
    refusals: int = 0
    """How many utterances have been refused in all (`refused` keeps the last 100)."""
    clock: Callable[[], float] = time.perf_counter
    """Wall clock for processing times (s)."""
    emergency_spots: tuple[str, ...] = ()
    """Words or starts of an emergency phrase ("ambulance", "call an") that make any utterance heard over
    playback the emergency: the end of "call an ambulance" is often lost under the assistant's own voice."""
    wake: Any = None
    """The wake-phrase model (an assistant.speech.wakeword.Detector), fed the canceller's output; None: the wake
    phrase is not heard over playback."""
    wake_check: Any = None
    """Confirms each fire of `wake` (an assistant.speech.wakeword.SpeechCheck); None: the fire and the gate suffice."""
    _recent: deque[bytes] = field(default_factory=deque, init=False, repr=False)
    """The canceller's last CHECK_SECONDS of output, for the wake check."""
    _look: SecondLook = field(default_factory=SecondLook, init=False, repr=False)
    """A refused wake fire's second look, as when waiting (assistant.speech.wakeword.SecondLook)."""
    _canceller: StreamingCanceller = field(init=False, repr=False)
    _endpointer: Endpointer = field(init=False, repr=False)
    _session: Any = field(default=None, init=False, repr=False)
    _preroll: deque[bytes] = field(default_factory=deque, init=False, repr=False)
    _blocks: deque[tuple[float, Block]] = field(default_factory=deque, init=False, repr=False)
    _offset: float = field(default=0.0, init=False)
    """Source-clock time minus endpointer time, for the audio being fed (s)."""
    _learning: list[Block] = field(default_factory=list, init=False, repr=False)
    """The playback blocks heard while the canceller had not learnt the room."""
    _learnt_at: float | None = field(default=None, init=False)
    """Endpointer time from which the canceller has learnt the room (see `BargeInConfig.learn_s`); None: not yet."""
    overhang: bytes = field(default=b"", init=False, repr=False)
    """The canceller's output of an utterance begun over a sound and ended after it, that was not a command
    (16-bit mono PCM at `rate`, from `preroll_s` before its speech): for the next listening turn."""
    _spoken: list[bytes] = field(default_factory=list, init=False, repr=False)
    """The canceller's output of the utterance in progress, from its preroll."""
    _over: bool = field(default=False, init=False, repr=False)
    """The sound has ended; the utterance in progress is being heard out."""

    def __post_init__(self) -> None:
        self._canceller = StreamingCanceller(EchoCanceller(replace(self.config.echo, rate=self.rate)))
        self._endpointer = Endpointer(config=self.config.endpoint, sample_rate=self.rate)

    @property
    def canceller(self) -> EchoCanceller:
        return self._canceller.canceller

    @property
    def learnt_after(self) -> float | None:
        """Seconds of audio heard (over all playbacks) before the canceller had learnt the room; None: not yet."""
        return self._learnt_at

    def start(self) -> None:
        """A new playback begins: forget any utterance in progress (the echo path is kept)."""
        self._drop_utterance()
        self._preroll.clear()
        self._recent.clear()
        self._over = False
        self.overhang = b""
        self._look.clear()
        if self.wake is not None:
            self.wake.reset()

    @property
    def in_utterance(self) -> bool:
        """Someone is talking: speech has started and the utterance is not decided yet."""
        return self._session is not None

    def sound_ended(self) -> None:
        """The sound has been played in full while an utterance was in progress: it is being heard out."""
        self._over = True

    def take_overhang(self) -> bytes:
        """The `overhang` (b"" if none), which is then forgotten."""
        pcm, self.overhang = self.overhang, b""
        return pcm

    def feed(self, mic: bytes, far: np.ndarray, at: float) -> BargeIn | None:
        """Take one microphone chunk stamped `at` (source clock, s) and the reference for it."""
        began = self.clock()
        out, blocks = self._canceller.process(mic, far)
        if not out:
            return None
        block_s = self.canceller.config.block / self.rate
        self._offset = at - self._endpointer.elapsed  # the canceller's output lags by < 1 block: ignored
        for index, block in enumerate(blocks):
            self._blocks.append((self._endpointer.elapsed + (index + 1) * block_s, block))
        self._learn(blocks, block_s)
        self._trim_blocks()
        self._preroll.append(out)
        while sum(len(p) for p in self._preroll) > 2 * self.config.preroll_s * self.rate + len(out):
            self._preroll.popleft()
        woken = self._wake(out, began, at + len(mic) / 2 / self.rate)
        if woken is not None:
            return woken
        session = self._session
        if session is not None:
            session.feed(out)
            self._spoken.append(out)
        decision = self._endpointer.feed(out, session.partial if session else "",
                                         session.partial_is_complete if session else False)
        if self._session is None and self._endpointer.heard_speech:
            self._session = self.recognizer.session(self.listener, self.rate)
            self._spoken = list(self._preroll)
            for piece in self._preroll:
                self._session.feed(piece)
            decision = self._endpointer.feed(b"", self._session.partial, self._session.partial_is_complete)
        if decision is Decision.CONTINUE or self._session is None:
            return None
        return self._decide(began, at + len(mic) / 2 / self.rate)

    def _decide(self, began: float, now: float) -> BargeIn | None:
        recognition = self._session.finish()
        self._session = None
        start = (self._endpointer.speech_started_at or 0.0) + self._offset
        end = (self._endpointer.last_speech_at or 0.0) + self._offset
        kept = self._kept_db(start - self._offset, end - self._offset)
        self._endpointer.forget_speech()
        self._preroll.clear()
        text = _trim_unknown(recognition.text)
        intent = self.listener.match(text) if UNK not in text.split() else None
        if intent is None and recognition.intent == EMERGENCY_INTENT:
            intent = EMERGENCY_INTENT  # an emergency phrase with stray words around it: never missed
        if intent is None and _holds_any(text, self.emergency_spots):
            intent = EMERGENCY_INTENT  # part of one, half drowned by the assistant's voice: never missed
        spoken, self._spoken = self._spoken, []
        unlearnt = self._unlearnt(start - self._offset, end - self._offset)
        if intent is None:
            self._refuse(text, recognition.rejected or "not one of the barge-in phrases", kept, now)
            if self._over and not unlearnt and (kept is None or kept >= self.config.min_kept_db):
                self.overhang = b"".join(spoken)  # the user's, by the same gate: for the next listening turn
            return None
        if unlearnt:
            self._refuse(text, LEARNING, kept, now)
            return None
        if kept is not None and kept < self.config.min_kept_db:
            self._refuse(text, f"too little above the cancelled echo ({kept:.1f} dB)", kept, now)
            return None
        return BargeIn(intent=intent, text=text, decided_at=now, speech_start=start, speech_end=end, kept_db=kept,
                       confidence=recognition.confidence, uncertain=recognition.uncertain,
                       decide_ms=(self.clock() - began) * 1000)

    def _wake(self, out: bytes, began: float, now: float) -> BargeIn | None:
        """The wake phrase heard by its model in the canceller's output `out`, gated and checked; else None."""
        if self.wake is None:
            return None
        self._recent.append(out)
        while sum(len(p) for p in self._recent) - len(self._recent[0]) > CHECK_SECONDS * self.rate * 2:
            self._recent.popleft()
        probability = self.wake.feed(out)
        if self._look.pending:  # a first look refused: the model may have fired before the phrase ended
            best = self._look.step(probability, len(out) / 2 / self.rate)
            if best is None:
                return None
            if not self.wake.heard(best):
                self.wake.reset()
                self._refuse(self._look.clear() or "", f"the wake model fired; {NOT_CHECKED}", None, now)
                return None
        elif not self.wake.heard(probability):
            return None
        spoken = self.wake.phrase.spoken
        end = self._endpointer.elapsed
        refusal: tuple[str, str, float | None] | None = None
        kept = None
        if self._unlearnt(end - WAKE_GATE_S, end):
            refusal = spoken, f"the wake model fired; {LEARNING}", None
        else:
            kept = self._kept_db(end - WAKE_GATE_S, end)
            if kept is not None and kept < self.config.min_kept_db:
                refusal = (spoken, f"the wake model fired, too little above the cancelled echo ({kept:.1f} dB)",
                           kept)
        if refusal is None and self.wake_check is not None:
            confirmed, heard = self.wake_check.confirm(b"".join(self._recent))
            if not confirmed and not self._look.pending:
                self._look.begin(heard)  # looked at once: the model keeps listening, and is asked again soon
                return None
            if not confirmed:
                refusal = self._look.heard_both(heard), f"the wake model fired; {NOT_CHECKED}", kept
        self.wake.reset()
        self._look.clear()
        if refusal is not None:
            self._refuse(*refusal, now)
            return None
        self._drop_utterance()
        self._preroll.clear()
        self._recent.clear()
        return BargeIn(intent=WAKE_INTENT, text=spoken, decided_at=now, speech_start=now - WAKE_GATE_S,
                       speech_end=now, kept_db=kept, decide_ms=(self.clock() - began) * 1000)

    def _learn(self, blocks: list[Block], block_s: float) -> None:
        """Note when the canceller has learnt the room (see `BargeInConfig.learn_s`)."""
        if self._learnt_at is not None:
            return
        cfg = self.config
        self._learning += [b for b in blocks if b.far > self._far_floor]
        window = self._learning[-max(1, round(cfg.learn_window_s / block_s)):]
        full = len(window) * block_s >= cfg.learn_window_s - 1e-9
        if (full and erle_db(window) >= cfg.learn_erle_db) or len(self._learning) * block_s >= cfg.learn_s:
            self._learnt_at = self._endpointer.elapsed + len(blocks) * block_s
            self._learning.clear()

    def _unlearnt(self, start: float, end: float) -> bool:
        """Whether the assistant was playing, between these endpointer times, before the canceller had
        learnt the room."""
        learnt = float("inf") if self._learnt_at is None else self._learnt_at
        return any(start - 0.01 <= t <= end + 0.01 and t < learnt and b.far > self._far_floor
                   for t, b in self._blocks)

    @property
    def _far_floor(self) -> float:
        """`BargeInConfig.min_far_dbfs` as a mean square: blocks with quieter playback are not used."""
        return 10 ** (self.config.min_far_dbfs / 10)

    def _kept_db(self, start: float, end: float) -> float | None:
        """The 75th percentile of output over microphone energy (dB) over the utterance's blocks where
        something was playing: the blocks that hold the user's voice, not the gaps where only echo is."""
        used = [b for t, b in self._blocks if start - 0.01 <= t <= end + 0.01 and b.far > self._far_floor]
        if not used:
            return None
        ratios = [(b.out + 1e-12) / (b.mic + 1e-12) for b in used]
        return float(10 * np.log10(np.percentile(ratios, KEPT_PERCENTILE)))

    def _trim_blocks(self) -> None:
        keep_s = self.config.endpoint.max_utterance + self.config.endpoint.end_silence + 1.0
        while self._blocks and self._blocks[0][0] < self._endpointer.elapsed - keep_s:
            self._blocks.popleft()

    def _refuse(self, text: str, why: str, kept: float | None, at: float) -> None:
        if text:
            log.debug("over playback, not taken: %r (%s)", text, why)
        self.refused.append(Refusal(text=text, why=why, kept_db=kept, at=at))
        del self.refused[:-100]
        self.refusals += 1

    def refused_since(self, count: int) -> list[Refusal]:
        """The refusals after the first `count` (of `refusals`), as many as are still kept."""
        return self.refused[len(self.refused) - min(len(self.refused), self.refusals - count):]

    def _drop_utterance(self) -> None:
        if self._session is not None:
            self._session.finish()  # leaves the recognizer clean for reuse
            self._session = None
        self._spoken = []
        self._endpointer.forget_speech()


def _holds_any(text: str, spots: tuple[str, ...]) -> bool:
    """Whether `text` holds one of `spots` as whole words."""
    padded = f" {text} "
    return any(f" {spot} " in padded for spot in spots)


def _trim_unknown(text: str) -> str:
    """The text without "[unk]" at its ends: the residual of the assistant's own voice, heard around a
    command that began or ended inside it ("[unk] stop"). One inside ("stop [unk] now") stays."""
    words = text.split()
    while words and words[0] == UNK:
        words.pop(0)
    while words and words[-1] == UNK:
        words.pop()
    return " ".join(words)


def watch(source: TimedSource, playing: Playing, detector: BargeInDetector,
          lead_s: float | None = None) -> BargeIn | None:
    """Listen over `playing` until it has been played in full (None) or a command stops it (the BargeIn).
    Someone still talking when it ends is heard out (`_hear_out`). At the end of the input the sound is let
    finish. A failing source (AssistantError) is passed on after
    the sound has been let finish; a signal stops the sound first."""
    lead = detector.config.reference_lead_s if lead_s is None else lead_s
    source.begin(playing.started_at)
    detector.start()
    pcm: bytes | None = b""
    ended = False
    try:
        while not playing.finished():
            pcm = source.read()
            if pcm is None:
                break
            far = playing.reference(source.last_chunk_at - lead, len(pcm) // 2)
            heard = detector.feed(pcm, far, source.last_chunk_at)
            if heard is not None:
                stopped = playing.stop(heard.decided_at)
                log.info("barge-in: %r at %.2f s; the sound stopped at %.2f s", heard.text, heard.decided_at, stopped)
                return heard
        if pcm is not None and detector.in_utterance:
            playing.finish()
            ended = True
            return _hear_out(source, playing, detector, lead)
    except AssistantError:
        playing.finish()  # the microphone failed: the user still hears the whole sound
        raise
    except BaseException:
        if not ended:
            playing.stop(source.last_chunk_at)  # a signal or Ctrl-C: stop talking now
        raise
    playing.finish()
    return None


def _hear_out(source: TimedSource, playing: Playing, detector: BargeInDetector, lead: float) -> BargeIn | None:
    """The sound has ended while the user was talking: listen until their utterance ends (the endpoint rules
    end it within `max_utterance`). A command is taken as over the sound; anything else is kept as the
    detector's `overhang`."""
    detector.sound_ended()
    while detector.in_utterance:
        pcm = source.read()
        if pcm is None:
            return None
        far = playing.reference(source.last_chunk_at - lead, len(pcm) // 2)  # the sound's tail, then zeros
        heard = detector.feed(pcm, far, source.last_chunk_at)
        if heard is not None:
            log.info("barge-in: %r at %.2f s, said over the end of the sound", heard.text, heard.decided_at)
            return heard
    if detector.overhang:
        log.info("speech over the end of the sound (%.2f s) goes to the next listening turn",
                 len(detector.overhang) / 2 / detector.rate)
    return None
