"""End-of-speech detection, ours to control (PyPI's vosk 0.3.45 has no endpointer API). Pure: no audio I/O.

Fed 16-bit mono PCM chunks plus the recognizer's running partial text, it decides when the user has
finished. Rules, first match wins (trailing silence = time since the last frame above the speech level):

1. `complete`: the partial text is already a whole phrase of this prompt and `complete_silence` has passed.
2. `stable`: after speech began, the partial text is a whole phrase and has not changed for `stable_time`
   (noise that never goes quiet, such as babble, cannot hold the turn open), and the level has fallen more than
   `own_drop_db` below the user's loudest for `complete_silence` (the user has stopped, though the room goes
   on: on 1,061 noisy benchmark answers, taking the phrase while the voice was still up made 4 more wrong
   answers and 1 more dangerous one, and the rule is not needed while it is).
3. `silence`: `end_silence` of trailing silence after any speech (if the recognizer then finds no words in
   it, the listening loop calls `forget_speech()` and listens on).
3b. `quieter`: in a loud room (`loud_room`), once words have been heard, `end_silence` in which the level
   (over `own_window`) never came within `own_drop_db` of the loudest the user has been in this utterance:
   the user has stopped, and only the room, quieter than they are at the microphone, goes on.
4. `settled`: after speech began, an answer is found in the words so far (inside them too: "no i didn't",
   "yes [unk]"; of either reading) and none of the words has changed for `settled_time`.
5. `answer_tail`: an answer was first found in the words so far `answer_tail` ago (even if the recognizer has
   revised the words since).
6. `max_length`: speech has gone on for `max_utterance`.
7. `timeout`: no speech at all within `no_speech_timeout`.

Rules 4 and 5 are for a room that never goes quiet (a TV, people talking): the level never falls, so rule 3
never fires, and without them every answer would wait for rule 6 while the recognizer adds the other voices'
words to it ("no" became "no emergency [unk]" after 6 s of television, measured). In a quiet room rule 3
nearly always comes first; rule 4 came first in 5 of 70 clean answers, each after the speech had ended (the
words stop changing only once the user does), 0.1-0.2 s sooner. What the words mean is decided after the
turn, on the final result, by the same rules as always.

The recognizer's own endpoint is not a rule: it fired inside answers ("yes i | have") and, in grammar mode,
later than rule 3 anyway (median 0.8 s after the end of speech, measured).

The speech level adapts to the background: the noise floor is a low percentile of the recent frame levels;
a frame is speech when it is `start_margin_db` above the floor (and above `min_speech_dbfs`); it stays
speech while `hold_margin_db` above it.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from assistant.errors import AudioFileError

SAMPLE_RATE = 16000


class Decision(StrEnum):
    """Why listening stopped (or CONTINUE: keep listening)."""

    CONTINUE = "continue"
    COMPLETE = "complete"
    STABLE = "stable"
    SILENCE = "silence"
    QUIETER = "quieter"
    SETTLED = "settled"
    ANSWER_TAIL = "answer_tail"
    MAX_LENGTH = "max_length"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class EndpointConfig:
    """Timing and level settings. Times in seconds, levels in dB."""

    complete_silence: float = 0.15
    """Trailing silence after a complete phrase before we answer (s)."""
    stable_time: float = 0.3
    """A complete phrase unchanged this long ends the turn even without silence (s). Safe to keep short:
    no phrase begins a phrase of another meaning (checked at load), so a longer answer cannot change it."""
    end_silence: float = 0.7
    """Trailing silence that ends any utterance (s), like Home Assistant's default."""
    own_drop_db: float = 9.0
    """In a loud room, the user has stopped once the level has stayed this far below the loudest they have been
    for `end_silence` (dB; inf: off); the `stable` rule waits until it has been this far below for
    `complete_silence`. Other voices and the TV, quieter than the user at the microphone, keep
    the plain silence rule from firing: without this, a reply not understood waited for the loud-room rules
    or `max_utterance` (bench/results/loudroom.md)."""
    own_window: float = 0.1
    """The level the `quieter` rule compares is the mean power over this much recent audio (s)."""
    settled_time: float = 0.7
    """An answer found inside the words so far, unchanged this long, ends the turn while the room stays loud
    (s); as long as `end_silence`, so in a quiet room the silence rule nearly always comes first."""
    answer_tail: float = 2.0
    """Once an answer has been found in the words so far, listen at most this much longer (s): in a loud room,
    more listening mostly adds other people's words (bench/results/loudroom.md: with the TV on at 10 dB, the
    median wait after an answer 4.9 s -> 0.7 s, answers understood 30 % -> 40 %, wrong ones 22 -> 12)."""
    max_utterance: float = 7.0
    """Longest answer we wait for, from the start of speech (s)."""
    no_speech_timeout: float = 8.0
    """Give up when nobody has spoken for this long (s)."""
    start_margin_db: float = 10.0
    """A frame this far above the noise floor starts speech (dB)."""
    hold_margin_db: float = 6.0
    """Speech continues while frames are this far above the noise floor (dB)."""
    min_speech_dbfs: float = -50.0
    """Frames quieter than this are never speech (dBFS)."""
    min_word_time: float = 0.4
    """A sound this long in which the recognizer finds no words is taken as an unclear answer (reprompt);
    shorter ones (a cough, a bang) are forgotten and listening goes on (s)."""
    doubt_below_db: float = 24.0
    """When the loudest speech frame is less than this above the noise floor, the room is noisy enough that
    a recognized answer is doubted (risky answers get confirmed). Measured on synthetic voices: clean > 100,
    pink noise at 20 dB SNR 26-27, at 10 dB 16-17, babble at 10 dB 20-23 (dB)."""
    min_speech_time: float = 0.06
    """Speech must last this long before it counts as started (s)."""
    floor_window: float = 1.5
    """The noise floor is a low percentile of the levels over this much recent audio (s)."""
    floor_percentile: float = 0.1
    """Which percentile of recent levels is taken as the floor (0..1)."""
    initial_floor_dbfs: float = -60.0
    """Until `floor_window` of audio has been heard, the floor is at most this (dBFS): an answer that starts
    at the very first sample (talking over the tone) still counts as speech."""
    frame: float = 0.01
    """Analysis frame length (s)."""


def _has_words(text: str) -> bool:
    """The recognizer heard a word (not only "[unk]", its mark for a sound it has no word for)."""
    return any(word != "[unk]" for word in text.split())


def frame_dbfs(samples: array[int] | list[int]) -> float:
    """RMS level of one frame in dBFS (full scale = 32768); -120 for digital silence."""
    if not samples:
        return -120.0
    power = sum(s * s for s in samples) / len(samples)
    return 10 * math.log10(power / (32768.0 * 32768.0)) if power > 0 else -120.0


@dataclass
class Endpointer:
    """Decides when one utterance has ended. Make a new one per turn."""

    config: EndpointConfig = field(default_factory=EndpointConfig)
    sample_rate: int = SAMPLE_RATE
    """Rate of the PCM fed (Hz)."""
    elapsed: float = 0.0
    """Audio time fed so far (s)."""
    floor_db: float | None = None
    """Tracked background level (dBFS)."""
    speech_started_at: float | None = None
    """Audio time speech began (s), once it has."""
    last_speech_at: float | None = None
    """Audio time of the end of the last speech frame (s)."""
    _run: float = 0.0
    _partial: str = ""
    _partial_since: float = 0.0
    _answer_since: float | None = None
    _words: str = ""
    _words_since: float = 0.0
    _carry: array[int] = field(default_factory=lambda: array("h"))
    _levels: deque[float] = field(default_factory=deque)
    peak_db: float = -120.0
    """Loudest speech frame so far (dBFS)."""
    background_db: float = -120.0
    """The background level as measured (dBFS): `floor_db` without the start-up cap."""
    _speech_background_db: float = -120.0
    loud_room: bool | None = None
    """Set by the listening loop: the room itself is loud (its raw level, before noise suppression). None: this
    meter's own `noisy`."""
    own_peak_db: float = -120.0
    """The loudest the user has been in this utterance, over `own_window` (dBFS)."""
    _own_loud_at: float = 0.0
    _recent: deque[float] = field(default_factory=deque)
    _step: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._step = int(self.config.frame * self.sample_rate)
        self._recent = deque(maxlen=max(1, round(self.config.own_window / self.config.frame)))
        if self._step < 1:  # a 0-sample frame would never consume the audio fed (an endless loop)
            raise AudioFileError(f"audio at {self.sample_rate} Hz cannot be analysed in {self.config.frame} s "
                                 "frames; use audio at 8000 Hz or more")

    def feed(self, pcm: bytes, partial: str, is_complete: bool, holds_answer: bool = False,
             words: str | None = None) -> Decision:
        """Take the next chunk of 16-bit mono PCM and the recognizer's partial text after it: `is_complete` when
        the text is a whole phrase of the prompt; `holds_answer` when an answer is found in the words so far,
        `words` (default: `partial`) all that the recognizer's readings have heard so far."""
        samples = array("h")
        samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
        self._carry.extend(samples)
        step = self._step  # >= 1: every pass removes samples, so the loop ends
        while len(self._carry) >= step:
            self._frame(self._carry[:step])
            del self._carry[:step]
        if partial != self._partial:
            self._partial, self._partial_since = partial, self.elapsed
        words = partial if words is None else words
        if words != self._words:
            self._words, self._words_since = words, self.elapsed
        if holds_answer and self._answer_since is None and self.speech_started_at is not None:
            self._answer_since = self.elapsed  # kept if the recognizer later revises the words
        return self._decide(is_complete, holds_answer)

    def _frame(self, frame: array[int]) -> None:
        cfg = self.config
        level = frame_dbfs(frame)
        self.elapsed += cfg.frame
        self.floor_db = self._floor(level)
        in_speech = self.last_speech_at is not None and self.elapsed - self.last_speech_at < cfg.frame * 1.5
        margin = cfg.hold_margin_db if in_speech else cfg.start_margin_db
        loud = level >= max(self.floor_db + margin, cfg.min_speech_dbfs)
        if loud:
            self._run += cfg.frame
            if self._run >= cfg.min_speech_time or self.speech_started_at is not None:
                if self.speech_started_at is None:
                    self.speech_started_at = self.elapsed - self._run
                self.last_speech_at = self.elapsed
                self.peak_db = max(self.peak_db, level)
                self._speech_background_db = self.background_db
        else:
            self._run = 0.0
        self._recent.append(10 ** (level / 10))  # a deque of `own_window` (see __post_init__)
        smooth = 10 * math.log10(sum(self._recent) / len(self._recent))
        if self.speech_started_at is not None and loud and level >= self.background_db + cfg.start_margin_db:
            self.own_peak_db = max(self.own_peak_db, smooth)  # clearly above the room as measured, not the cap
        if smooth >= self.own_peak_db - cfg.own_drop_db:
            self._own_loud_at = self.elapsed

    def _floor(self, level: float) -> float:
        cfg = self.config
        self._levels.append(level)
        if len(self._levels) > cfg.floor_window / cfg.frame:
            self._levels.popleft()
        ordered = sorted(self._levels)
        floor = ordered[int(cfg.floor_percentile * (len(ordered) - 1))]
        self.background_db = floor
        if self.elapsed < cfg.floor_window:
            floor = min(floor, cfg.initial_floor_dbfs)
        return floor

    def _decide(self, is_complete: bool, holds_answer: bool) -> Decision:
        cfg = self.config
        if self.speech_started_at is None or self.last_speech_at is None:
            # Without speech energy a recognized phrase is not trusted (Vosk can "hear" words in noise).
            return Decision.TIMEOUT if self.elapsed >= cfg.no_speech_timeout else Decision.CONTINUE
        trailing = self.elapsed - self.last_speech_at
        if is_complete and trailing >= cfg.complete_silence:
            return Decision.COMPLETE
        if is_complete and self.elapsed - self._partial_since >= cfg.stable_time and not self._voice_still_up:
            return Decision.STABLE
        if trailing >= cfg.end_silence:
            return Decision.SILENCE
        if self.elapsed - self._own_loud_at >= cfg.end_silence and _has_words(self._words) and (
                self.noisy if self.loud_room is None else self.loud_room):
            return Decision.QUIETER  # only once words were heard: not on a noise suppressor settling
        if holds_answer and self.elapsed - self._words_since >= cfg.settled_time:
            return Decision.SETTLED
        if self._answer_since is not None and self.elapsed - self._answer_since >= cfg.answer_tail:
            return Decision.ANSWER_TAIL
        if self.elapsed - self.speech_started_at >= cfg.max_utterance:
            return Decision.MAX_LENGTH
        return Decision.CONTINUE

    @property
    def _voice_still_up(self) -> bool:
        """The level came within `own_drop_db` of the user's loudest in the last `complete_silence`: they may
        still be speaking, so a whole phrase in the partial text ("no") may be the start of a longer answer
        ("no i haven't") or of other voices' words. Off (False) when `own_drop_db` is inf."""
        cfg = self.config
        if math.isinf(cfg.own_drop_db):
            return False
        # With no level of the user's own measured (they never rose 10 dB above the room as measured: speech
        # from the first sample, or a room nearly as loud as they are) nothing shows they have stopped: the
        # phrase waits for `complete` (150 ms of quiet) or the loud-room rules, as in the measured variant.
        return self.own_peak_db <= -120.0 or self.elapsed - self._own_loud_at < cfg.complete_silence

    @property
    def speech_margin_db(self) -> float | None:
        """Loudest speech above the noise floor (dB): a rough signal-to-noise estimate; None before speech."""
        if self.speech_started_at is None:
            return None
        return self.peak_db - self._speech_background_db  # the background while speech was going on

    @property
    def noisy(self) -> bool:
        """Speech was heard, but not far above the background (see `doubt_below_db`)."""
        margin = self.speech_margin_db
        return margin is not None and margin < self.config.doubt_below_db

    @property
    def speech_seconds(self) -> float:
        """How long the current stretch of speech has lasted (s); 0 before speech."""
        if self.speech_started_at is None or self.last_speech_at is None:
            return 0.0
        return self.last_speech_at - self.speech_started_at

    def forget_speech(self) -> None:
        """What was heard held no words (a cough, a bang): listen on as if it had not happened."""
        self.speech_started_at = self.last_speech_at = None
        self.peak_db = -120.0
        self._run = 0.0
        self.own_peak_db = -120.0
        self._partial, self._partial_since = "", self.elapsed
        self._words, self._words_since, self._answer_since = "", self.elapsed, None

    @property
    def heard_speech(self) -> bool:
        """True once speech has started."""
        return self.speech_started_at is not None
