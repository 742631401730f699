"""Resident mode (`tingle listen`): always ready, woken by voice, back to waiting after each conversation.

The loop is a small state machine:

    STARTING -> WAITING --wake--> WOKEN --earcon--> IN_SESSION --session ends--> WAITING ...
    WAITING/IN_SESSION --microphone lost--> MIC_LOST --reopened (back-off)--> WAITING
    any state --SIGTERM/SIGHUP--> STOPPED (a session in progress first says its advice and safety net)
    WAITING --end of the --audio-in stream--> STOPPED

While WAITING only the wake-phrase model hears the audio (`assistant.speech.wakeword`, about 1 % of one core);
the speech recognizer is loaded once at start, so a wake is answered at once. Each session is an ordinary
one (`assistant.app.session.run_session` with a new `Dialogue`) with its own transcript file in the transcript
folder, whose first events say how it was woken (the wake phrase, the model's probability and the stream
time). A fault inside one session is logged, recorded, and told to the user with the emergency number;
the loop then waits again. Only a signal (or the end of a recording) ends it.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from assistant.app.session import Channel, SessionInterrupted, run_session, signals_interrupt_session
from assistant.app.transcript import Transcript, TranscriptError, default_path, session_name
from assistant.core.dialogue import Dialogue, Reply, Turn
from assistant.core.validate import Bundle
from assistant.errors import AssistantError, AudioDeviceError, PrivateFileError
from assistant.privatefile import open_private
from assistant.speech.earcon import wake_earcon
from assistant.speech.listen import AudioSource
from assistant.speech.wakeword import (
    CHECK_SECONDS,
    DEFAULT_WAKE_PHRASE,
    WAKE_PHRASES,
    Detector,
    SecondLook,
    Wake,
    WakePhrase,
)

RESIDENT_SIGNALS = ("SIGTERM", "SIGHUP")
TRANSCRIPT_DIR_OPTION = "--transcript-dir DIR"
"""How the user chooses another transcript folder (named when it cannot be written)."""
"""Signals that stop the loop: waiting just ends; a session in progress says its safety net first."""
log = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 1.0
"""First wait before reopening a lost microphone (s); doubled after each failed try."""
RETRY_MAX_SECONDS = 30.0
"""Longest wait between two tries to reopen the microphone (s)."""
GUARD_SECONDS = 0.15
"""After our own voice, the wake detector stays deaf this much longer (s): room echo."""


class State(StrEnum):
    """Where the resident loop is."""

    STARTING = "starting"
    WAITING = "waiting"
    WOKEN = "woken"
    IN_SESSION = "in session"
    MIC_LOST = "microphone lost"
    STOPPED = "stopped"


class Announcer(Protocol):
    """The assistant's voice outside a conversation: notices, and the wake earcon."""

    def say(self, text: str, watch: Callable[[Any], bool] | None = None) -> bool:
        """Speak (and print) `text`; False when it could only be printed. Never raises. With `watch`, the sound
        is started and `watch(playing)` listens over it (see `Speaker.say`)."""

    def earcon(self) -> float:
        """Play the wake earcon; returns the monotonic time its first sample went out (0.0: not played)."""


SourceFactory = Callable[[], AudioSource]
"""Opens the microphone (or the recording); raises AudioDeviceError when it cannot."""
ChannelFactory = Callable[[AudioSource], Channel]
"""The channel for one session over an open source."""


@dataclass
class SessionRecord:
    """What happened in one woken session."""

    wake: Wake
    transcript: Path
    """Its transcript file."""
    how: str = ""
    """How it ended: run_session's Outcome.how, or 'failed: <why>'."""
    level: str | None = None
    """The advice level reached."""
    transcript_ok: bool = True


@dataclass
class ResidentConfig:
    """Settings of the resident loop."""

    transcript_dir: Path
    """One transcript file per session goes here."""
    region: str | None = None
    """Region code for the emergency number (None: the content's default)."""
    retry_first: float = RETRY_FIRST_SECONDS
    """First wait before reopening a lost microphone (s)."""
    retry_max: float = RETRY_MAX_SECONDS
    """Longest wait between reopening tries (s)."""
    max_retries: int | None = None
    """Give up after this many failed tries (None: keep trying until stopped)."""
    guard: float = GUARD_SECONDS
    """Deaf time after our own voice before the wake detector hears again (s)."""


@dataclass
class Resident:
    """The resident loop. Build it with its parts (all replaceable by fakes in tests), then `run()`."""

    bundle: Bundle
    open_source: SourceFactory
    detector: Detector
    make_channel: ChannelFactory
    announcer: Announcer
    config: ResidentConfig
    clock: Callable[[], float] = time.monotonic
    """The sources' time base (what `AudioSource.begin` takes): monotonic for a microphone, the stream's
    own clock for a recording (s)."""
    stream_origin: float | None = None
    """Clock reading at stream time 0 (None: the clock when the loop starts)."""
    where: Callable[[float], dict[str, Any]] = lambda stream_s: {}
    """Extra transcript fields locating a stream time (the file and offset in a recording)."""
    check: Any = None
    """Second-stage check of each wake (`assistant.speech.wakeword.SpeechCheck`), or None."""
    clean: Callable[[], Any] | None = None
    """Makes the noise suppression the wake model hears through (an `assistant.speech.frontend.FrontEnd`, new each
    time waiting starts), or None: the model hears the raw audio. With it the check hears the raw audio
    first and, if that does not confirm, the cleaned audio (bench/results/wake.md gives the gain)."""
    sleep: Callable[[float], None] = time.sleep
    show: Callable[[str], None] = print
    refused: list[str] = field(default_factory=list)
    """What the check heard each time it refused a wake (a near miss such as "okay now")."""
    state: State = State.STARTING
    states: list[State] = field(default_factory=list)
    """Every state entered, in order."""
    sessions: list[SessionRecord] = field(default_factory=list)
    stopped_by: str = ""
    """The signal that stopped the loop ("" if it did not)."""
    barge_in: Any = None
    """Listens over the notices too ("Ready", "I'm here if you need me"), an
    assistant.speech.bargein.BargeInDetector (None: deaf while they play). Its echo canceller then learns the
    room before the first session (until it has, about 4 s of the assistant's voice, nothing can be cut in),
    and the wake phrase or an emergency said over a notice starts a session at once."""
    _source: AudioSource | None = field(default=None, init=False, repr=False)
    _woken: Wake | None = field(default=None, init=False, repr=False)
    """A wake heard over a notice, for the loop."""
    _command: Any = field(default=None, init=False, repr=False)
    """An emergency heard over a notice (an assistant.speech.bargein.BargeIn), for the session it starts."""

    @property
    def phrase(self) -> WakePhrase:
        return self.detector.phrase

    def stream_time(self) -> float:
        """Seconds since the stream began (s)."""
        origin = 0.0 if self.stream_origin is None else self.stream_origin
        return self.clock() - origin

    def run(self) -> int:
        """Run until the recording ends (0; 1 when a session failed or was not saved), a signal stops it
        (128 + signal number), or the microphone cannot be reopened within `max_retries` (1)."""
        self._set(State.STARTING)
        if self.stream_origin is None:
            self.stream_origin = self.clock()
        try:
            return self._loop()
        except SessionInterrupted as exc:
            self.stopped_by = exc.name
            log.warning("stopped by %s while %s", exc.name, self.state.value)
            return 128 + exc.signum
        finally:
            self._set(State.STOPPED)
            self._close_source()

    def _loop(self) -> int:
        try:
            self._source = self.open_source()
        except AudioDeviceError as exc:
            if not self._reopen(str(exc)):
                return 1
        self._tell(f"Ready. Say {self.phrase.spoken} when you need me.")
        while True:
            self._set(State.WAITING)
            wake, self._woken = self._woken, None
            try:
                wake = wake or self.wait_for_wake()
            except AudioDeviceError as exc:
                if not self._reopen(str(exc)):
                    return 1
                continue
            if wake is None:
                log.info("the recording has ended after %.2f s; %d session(s)", self.stream_time(),
                         len(self.sessions))
                return self._status()
            self.converse(wake)
            self._tell(f"I'm here if you need me: say {self.phrase.spoken}.")

    def _status(self) -> int:
        """The exit status at the end of a recording: 1 when a session failed or was cut short by a failing
        input (the model, the microphone), or its transcript was not (fully) saved; else 0."""
        failed = [r for r in self.sessions if r.how == "input failed" or r.how.startswith("failed")]
        unsaved = [r for r in self.sessions if not r.transcript_ok and r not in failed]
        if failed:
            log.error("%d session(s) failed or were cut short (first: %s); see the messages above",
                      len(failed), failed[0].how)
        if unsaved:
            log.error("%d session(s) not fully saved (first: %s); choose a writable folder with %s",
                      len(unsaved), unsaved[0].transcript, TRANSCRIPT_DIR_OPTION)
        return 1 if failed or unsaved else 0

    def _set(self, state: State) -> None:
        self.state = state
        self.states.append(state)

    def wait_for_wake(self) -> Wake | None:
        """Feed the wake detector until it fires (a Wake) or the stream ends (None)."""
        source = self._require_source()
        self.detector.reset()
        source.begin(self.clock() + self.config.guard)
        cleaner = self.clean() if self.clean is not None else None
        recent: deque[tuple[bytes, bytes]] = deque()  # the last CHECK_SECONDS as (raw, cleaned) chunks
        held = 0
        look = SecondLook()
        while True:
            pcm = source.read()
            if pcm is None:
                return None
            cleaned = cleaner.process(pcm) if cleaner is not None else pcm
            recent.append((pcm, cleaned))
            held += len(pcm)
            while held - len(recent[0][0]) >= CHECK_SECONDS * 2 * source.rate:
                held -= len(recent.popleft()[0])
            probability = self.detector.feed(cleaned)
            if look.pending:  # a first look refused: the model may have fired before the phrase ended
                best = look.step(probability, len(pcm) / 2 / source.rate)
                if best is None:
                    continue
                probability = best
            elif not self.detector.heard(probability):
                continue
            if self.detector.heard(probability):
                confirmed, checked = self._confirm(recent, cleaned_too=cleaner is not None)
                if confirmed:
                    return Wake(phrase=self.phrase, probability=probability, stream_s=self.stream_time(),
                                decided_at=time.monotonic(), checked=checked)
                if not look.pending:
                    look.begin(checked)
                    continue
                heard = look.heard_both(checked)
            else:
                heard = look.clear()
            self._refuse(heard, probability)
            self.detector.reset()
            recent.clear()
            held = 0

    def _refuse(self, heard: str | None, probability: float) -> None:
        log.info("near miss at %.2f s (probability %.2f, heard %r): still waiting",
                 self.stream_time(), probability, heard)
        self.refused.append(heard or "")

    def _confirm(self, recent: deque[tuple[bytes, bytes]], *, cleaned_too: bool) -> tuple[bool, str | None]:
        """Whether the check confirms the wake in the raw audio or else (`cleaned_too`) in the cleaned audio,
        and what it heard ("raw | cleaned" when it heard both). No check: confirmed, None."""
        if self.check is None:
            return True, None
        heard: list[str] = []
        for kind in (0, 1) if cleaned_too else (0,):
            try:
                confirmed, text = self.check.confirm(b"".join(chunk[kind] for chunk in recent))
            except AssistantError as exc:  # better a wake too many than a call for help missed
                log.warning("the wake check failed (%s); taking the wake", exc)
                return True, None
            heard.append(text)
            if confirmed:
                return True, " | ".join(heard)
        return False, " | ".join(heard)

    def use_source(self, source: AudioSource) -> None:
        """Listen to `source` from now on (the benchmark drives `wait_for_wake` and `converse` itself)."""
        self._source = source

    def _require_source(self) -> AudioSource:
        if self._source is None:
            raise AudioDeviceError("no microphone is open")
        return self._source

    def converse(self, wake: Wake) -> None:
        """One woken session: earcon, transcript, run_session; a fault in it is contained (see the module)."""
        self._set(State.WOKEN)
        log.info("woken by %r (probability %.2f) at %.2f s", wake.phrase.spoken, wake.probability, wake.stream_s)
        self.announcer.earcon()
        self._set(State.IN_SESSION)
        path = self.config.transcript_dir / session_name()
        record = SessionRecord(wake=wake, transcript=path)
        transcript = Transcript(path, self.bundle.content.version, exclusive=True,  # a fresh, unique name
                                choose_with=TRANSCRIPT_DIR_OPTION)
        channel: Channel | None = None
        recorder: _Recorder = _NoTranscript()
        try:
            channel = self.make_channel(self._require_source())
            recorder = self._open_transcript(transcript, channel)
            self._attach(channel, recorder)
            command, self._command = self._command, None
            if command is not None and hasattr(channel, "cut_in"):
                channel.cut_in(command)  # the emergency said over a notice is the session's first answer
            dialogue = Dialogue(self.bundle.content, self.bundle.grammars, region=self.config.region)
            _write(recorder, "session", mode="resident", wake_phrase=wake.phrase.name, region=dialogue.region.code)
            _write(recorder, "wake", phrase=wake.phrase.spoken, model=wake.phrase.model,
                   probability=round(wake.probability, 3), stream_s=round(wake.stream_s, 3), checked=wake.checked,
                   **self.where(wake.stream_s))
            outcome = run_session(dialogue, channel, recorder)
            record.how, record.level = outcome.how, outcome.reply.level
            record.transcript_ok = outcome.transcript_ok and recorder is transcript  # else it was never opened
        except (SessionInterrupted, KeyboardInterrupt):
            record.how = "interrupted"
            raise
        except Exception as exc:  # a fault of one session must not end the resident loop: logged, told, recorded
            record.how = f"failed: {exc}"
            record.transcript_ok = False
            log.error("the session failed (%s); waiting for %r again", exc, wake.phrase.spoken, exc_info=True)
            _write(recorder, "error", node="resident", message=f"the session failed: {exc}")
            _write(recorder, "end", node="resident", level=None, how=record.how)
            self._tell(self._fault_notice())
        finally:
            self.sessions.append(record)
            _close(transcript)
            record.transcript_ok = record.transcript_ok and not transcript.failed
            log.info("session ended (%s); transcript %s", record.how, path)

    def _attach(self, channel: Channel, recorder: _Recorder) -> None:
        """Barge-in events go to this session's transcript, with stream times (and the file, in a recording)."""
        attach = getattr(channel, "attach_recorder", None)
        if attach is None:
            return
        origin = 0.0 if self.stream_origin is None else self.stream_origin

        def record(kind: str, **fields: Any) -> None:
            stream_s = fields.get("stream_s")
            where = self.where(stream_s) if isinstance(stream_s, float) else {}
            _write(recorder, kind, **fields, **where)

        attach(record, lambda t: t - origin)

    def _fault_notice(self) -> str:
        region = self.bundle.content.region(self.config.region)
        return (f"Sorry, something went wrong and that conversation stopped. If your symptoms are getting "
                f"worse, contact a doctor today. In an emergency, call {region.emergency}. "
                f"Say {self.phrase.spoken} to start again.")

    def _open_transcript(self, transcript: Transcript, channel: Channel) -> _Recorder:
        try:
            transcript.open()
        except TranscriptError as exc:
            log.warning("transcript: %s", exc)
            channel.notice(f"{exc} The conversation goes on, but it is not being saved.")
            return _NoTranscript()
        return transcript

    def _reopen(self, why: str) -> bool:
        """The microphone is lost: say so once, then reopen it with back-off. False: gave up."""
        self._set(State.MIC_LOST)
        self._close_source()
        region = self.bundle.content.region(self.config.region)
        log.warning("microphone lost: %s; trying again in %.0f s", why, self.config.retry_first)
        self.show(f"(The microphone is not working: {why})")
        self.announcer.say(f"The microphone is not working. I will keep trying to reconnect it. "
                           f"In an emergency, call {region.emergency}.")
        delay, tries = self.config.retry_first, 0
        while True:
            self.sleep(delay)
            tries += 1
            try:
                self._source = self.open_source()
            except AudioDeviceError as exc:
                if self.config.max_retries is not None and tries >= self.config.max_retries:
                    log.error("microphone still unavailable after %d tries (%s); giving up", tries, exc)
                    return False
                delay = min(delay * 2, self.config.retry_max)
                log.warning("microphone still unavailable (try %d): %s; next try in %.0f s", tries, exc, delay)
                continue
            log.warning("microphone back after %d tries", tries)
            self._tell(f"The microphone is working again. Say {self.phrase.spoken} when you need me.")
            return True

    def _tell(self, text: str) -> None:
        if self.barge_in is None or not hasattr(self._source, "last_chunk_at"):
            self.announcer.say(text)
            return
        self.announcer.say(text, watch=self._over_notice)

    def _over_notice(self, playing: Any) -> bool:
        """Listen over a notice (`barge_in`); True when something said cut it."""
        from assistant.core.grammar import EMERGENCY_INTENT
        from assistant.speech.bargein import WAKE_INTENT, watch

        try:
            heard = watch(self._require_source(), playing, self.barge_in)
        except AssistantError as exc:  # the microphone failed: waiting for the wake phrase reports it
            log.warning("listening over a notice failed: %s", exc)
            return False
        if heard is None:
            return False
        if heard.intent in (WAKE_INTENT, EMERGENCY_INTENT):
            self._command = heard if heard.intent == EMERGENCY_INTENT else None
            origin = 0.0 if self.stream_origin is None else self.stream_origin
            self._woken = Wake(phrase=self.phrase, probability=heard.confidence, stream_s=heard.decided_at - origin,
                               decided_at=time.monotonic(), checked=f"{heard.text} (over a notice)")
        log.info("%r said over a notice%s", heard.text, ": starting a session" if self._woken else "")
        return True

    def _close_source(self) -> None:
        source, self._source = self._source, None
        closer = getattr(source, "close", None)
        if closer is None:
            return
        try:
            closer()
        except Exception as exc:  # a lost device may fail to close; the loop goes on
            log.warning("closing the audio input failed: %s", exc)


class _Recorder(Protocol):
    def event(self, kind: str, **fields: Any) -> None: ...

    def turn(self, turn: Turn | None, reply: Reply, at_node: str, **extra: Any) -> None: ...


class _NoTranscript:
    """Stands in when the transcript cannot be opened: the conversation still happens."""

    def event(self, kind: str, **fields: Any) -> None:
        """Nothing is kept."""

    def turn(self, turn: Turn | None, reply: Reply, at_node: str, **extra: Any) -> None:
        """Nothing is kept."""


def _write(recorder: _Recorder, kind: str, **fields: Any) -> None:
    try:
        recorder.event(kind, **fields)
    except TranscriptError as exc:
        log.warning("transcript: %s", exc)


def _close(transcript: Transcript) -> None:
    try:
        transcript.close()
    except TranscriptError as exc:
        log.warning("transcript: %s", exc)


# --------------------------------------------------------------------------- the real parts


@dataclass
class SpeakerAnnouncer:
    """Notices and the earcon through the session's Speaker (printed too, as VoiceChannel does). Each
    notice gives a speaker that failed earlier a new chance."""

    speaker: Any
    """An assistant.speech.speaker.Speaker."""
    show: Callable[[str], None] = print
    played_at: list[float] = field(default_factory=list)
    """Monotonic time each earcon started (s)."""

    def say(self, text: str, watch: Callable[[Any], bool] | None = None) -> bool:
        self.show(text)
        self.speaker.broken = ""
        return bool(self.speaker.say(text, watch=watch))

    def earcon(self) -> float:
        if self.speaker.broken:
            return 0.0
        started = time.monotonic()
        try:
            self.speaker.output.play(wake_earcon())
        except AssistantError as exc:
            log.warning("the wake earcon could not be played: %s", exc)
            return 0.0
        self.played_at.append(started)
        return started


def voice_channel_factory(speaker: Any, recognizer: Any, *, use_tone: bool, clock: Callable[[], float],
                          rate: int | None, pacing: bool = False, barge_in: Any = None,
                          noise_suppression: bool = True) -> ChannelFactory:
    """A new VoiceChannel per session over the shared speaker and recognizer, each session starting fresh:
    the speaking rate back to its setting, speech given a new chance, no speaker adaptation carried over.
    `pacing`: wrapped in a PacedChannel ("wait" ... "go on", adaptive no-speech timeout). `barge_in`: an
    assistant.speech.bargein.BargeInDetector shared by the sessions (the echo path it learnt is the room's).
    `noise_suppression`: each session's channel gets its own assistant.speech.frontend.FrontEnd."""
    from assistant.app.voice import VoiceChannel
    from assistant.core.pacing import PacedChannel
    from assistant.speech.frontend import FrontEnd

    base_rate = rate or speaker.rate

    def make(source: AudioSource) -> Channel:
        speaker.rate = base_rate
        speaker.broken = ""
        recognizer.forget()
        channel = VoiceChannel(speaker=speaker, source=source, recognizer=recognizer, use_tone=use_tone, clock=clock,
                               barge_in=barge_in, front_end=FrontEnd() if noise_suppression else None)
        return PacedChannel(channel, clock=clock) if pacing else channel

    return make


def stream_locator(stream: Any) -> Callable[[float], dict[str, Any]]:
    """Transcript fields locating a stream time in a recording: {"file": path, "file_s": seconds into it}."""
    def where(stream_s: float) -> dict[str, Any]:
        found = stream.where(stream_s)
        return {"file": found[0], "file_s": found[1]} if found else {}

    return where


def check_transcript_folder(folder: Path) -> None:
    """Raise TranscriptError, naming --transcript-dir, when no transcript can be written in `folder` (a file,
    a read-only place, ...): found at start, not after the first woken session. A test file is made and removed."""
    probe = folder / f".tingle-write-test-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.close(open_private(probe, append=False, exclusive=True))
        probe.unlink()
    except (PrivateFileError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TranscriptError(f"cannot write transcripts in {folder} ({reason}). "
                              f"Choose a writable folder with {TRANSCRIPT_DIR_OPTION}.") from exc


def listen_parser() -> argparse.ArgumentParser:
    """The options of `tingle listen` (also used by `tingle install-service` to check what it writes)."""
    from assistant.app.cli import ECHO_RANGE_DB, add_common_options, add_speech_options, in_range

    parser = argparse.ArgumentParser(
        prog="tingle listen",
        description="Stay ready: wait for the wake phrase, talk it through, wait again. Not a diagnosis; in "
                    "an emergency, call emergency services.")
    add_common_options(parser)
    parser.add_argument("--wake-phrase", default=DEFAULT_WAKE_PHRASE, choices=sorted(WAKE_PHRASES),
                        help=f"what wakes the assistant (default: {DEFAULT_WAKE_PHRASE})")
    parser.add_argument("--wake-cutoff", type=in_range(0.0, 1.0, open_ends=True), default=None, metavar="P",
                        help="wake when the model's probability is above P (between 0 and 1; default: the "
                             "phrase's own)")
    parser.add_argument("--no-check", action="store_true",
                        help="take every wake of the wake-phrase model, without the speech recognizer's second check")
    parser.add_argument("--no-pacing", action="store_true",
                        help='no "wait" ... "go on" hold, and a fixed no-speech timeout')
    parser.add_argument("--no-barge-in", action="store_true",
                        help="do not listen while speaking (no stop, repeat, wait ... over the assistant's voice)")
    parser.add_argument("--simulate-echo", type=in_range(*ECHO_RANGE_DB), default=None, metavar="DB",
                        help="with --audio-in: mix in the assistant's own voice as a microphone would hear it "
                             "from a loudspeaker in a room, DB dB relative to what is played (e.g. -6; "
                             f"{ECHO_RANGE_DB[0]:g} to {ECHO_RANGE_DB[1]:g})")
    parser.add_argument("--transcript-dir", type=Path, default=None, metavar="DIR",
                        help="one transcript per session goes here (default: ~/.local/state/tingle/transcripts/)")
    parser.add_argument("--device", default=None, help="microphone: number or name from `tingle devices`")
    parser.add_argument("--audio-in", nargs="+", type=Path, default=None, metavar="WAV",
                        help="use these WAV files, end to end, as one continuous microphone stream; "
                             "exit at its end")
    parser.add_argument("--fast", action="store_true", help="with --audio-in: no real-time pacing")
    add_speech_options(parser)
    parser.add_argument("--quiet", action="store_true", help="log only problems (default: also each wake)")
    return parser


def _log_to_stderr(quiet: bool) -> None:
    """Wakes and faults go to stderr (the journal, under systemd) through the package's logger only."""
    package = logging.getLogger("assistant")
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    if not package.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        package.addHandler(handler)
        package.propagate = False  # a library that configures the root logger later must not print it twice


def listen_main(argv: list[str]) -> int:
    """`tingle listen ...`: build the resident loop from the options and run it. Returns the exit status
    (0 at the end of a recording, 128 + N when stopped by signal N, 1 when the microphone never came back or
    a session failed or was not saved).
    AssistantError (bad options, a missing model) is raised for the caller to print; one that stops it starting
    is said aloud too, where a speaker works."""
    args = listen_parser().parse_args(argv)
    _log_to_stderr(args.quiet)
    from assistant.app.cli import refuse_overwriting_inputs

    refuse_overwriting_inputs(args)  # --audio-out naming an --audio-in recording: refused before it is opened
    stage = _Stage()
    try:
        return _listen(args, stage)
    except AssistantError as exc:
        if not stage.running:  # it could not start: nobody may be at the screen
            from assistant.app.voice import announce

            announce(str(exc), args.audio_out)
        raise


@dataclass
class _Stage:
    running: bool = False
    """The resident loop has started (an error after this is not a start-up error)."""


def _listen(args: argparse.Namespace, stage: _Stage) -> int:
    from assistant.app.cli import region_from_environment
    from assistant.app.voice import already_shown, prompt_texts
    from assistant.core.validate import load_bundle
    from assistant.models.modelstore import check_vocabulary, resolve_model
    from assistant.speech.frontend import FrontEnd
    from assistant.speech.recognizer import VoskRecognizer
    from assistant.speech.speaker import Output, Pyttsx3Synthesizer, SoundDeviceOutput, Speaker, WavFileOutput
    from assistant.speech.wakeword import MicroWakeDetector, SpeechCheck, wake_phrase

    check_transcript_folder(args.transcript_dir or default_path().parent)
    bundle = load_bundle(args.content, args.grammars)
    region = (args.region or region_from_environment() or "").upper() or None
    if region and region not in bundle.content.regions:
        log.warning("region %s is not in content/regions.yaml; using the default emergency numbers", region)
        region = None
    detector = MicroWakeDetector(wake_phrase(args.wake_phrase), cutoff=args.wake_cutoff,
                                 checked=not args.no_check).open()
    model_dir = resolve_model(args.model)
    vocabulary = check_vocabulary(bundle.grammars, model_dir)
    from assistant.speech.bargein import BargeInDetector, load_barge_in

    commands, spots = (None, ()) if args.no_barge_in else load_barge_in(args.grammars, vocabulary)
    recognizer = VoskRecognizer(model_dir).load()  # loaded before waiting: a wake is answered at once
    over_speech = None if commands is None else MicroWakeDetector(detector.phrase, cutoff=args.wake_cutoff,
                                                                  checked=not args.no_check).open()
    barge_in = None if commands is None else BargeInDetector(
        recognizer, commands, emergency_spots=spots, wake=over_speech,
        wake_check=None if args.no_check else SpeechCheck.for_phrase(recognizer, detector.phrase))
    output: Output = WavFileOutput(args.audio_out).open() if args.audio_out else SoundDeviceOutput()
    stream = None
    speaker: Speaker | None = None
    try:
        if args.audio_in:
            from assistant.speech.streamsource import RoomEcho, StreamSource, TimedOutput

            echo = None if args.simulate_echo is None else RoomEcho(gain_db=args.simulate_echo)
            stream = StreamSource(list(args.audio_in), fast=args.fast, echo=echo).open()
            output = TimedOutput(output, stream)
        speaker = Speaker(Pyttsx3Synthesizer(voice=args.voice, volume=1.0 if args.volume is None else args.volume),
                          output, fallback=already_shown, notify=print)
        if args.rate:
            speaker.rate = args.rate
        opening = Dialogue(bundle.content, bundle.grammars, region=region).start()
        speaker.prepare([u.text for u in opening.utterances] + prompt_texts(bundle))  # the greeting is ready
        resident = _build(args, bundle, detector, recognizer=recognizer, speaker=speaker, stream=stream,
                          region=region, barge_in=barge_in)
        if not args.no_check:
            resident.check = SpeechCheck.for_phrase(recognizer, detector.phrase)
        if not args.no_noise_suppression:
            resident.clean = FrontEnd
        stage.running = True
        with signals_interrupt_session(RESIDENT_SIGNALS):
            return resident.run()
    finally:
        if speaker is not None:
            speaker.close()  # no rendering may still be writing when the process ends
        detector.close()
        if over_speech is not None:
            over_speech.close()
        output.close()


def _build(args: argparse.Namespace, bundle: Bundle, detector: Detector, *, recognizer: Any, speaker: Any,
           stream: Any, region: str | None, barge_in: Any) -> Resident:
    transcript_dir = args.transcript_dir or default_path().parent
    config = ResidentConfig(transcript_dir=transcript_dir, region=region)
    announcer = SpeakerAnnouncer(speaker)

    if stream is not None:
        opened = {"done": False}

        def open_stream() -> AudioSource:
            if opened["done"]:  # a recording that failed cannot come back
                raise AudioDeviceError("the recording can no longer be read")
            opened["done"] = True
            return stream

        config.max_retries = 1
        return Resident(bundle=bundle, open_source=open_stream, detector=detector,
                        make_channel=voice_channel_factory(speaker, recognizer, use_tone=not args.no_tone,
                                                           clock=stream.now, rate=args.rate,
                                                           pacing=not args.no_pacing, barge_in=barge_in,
                                                           noise_suppression=not args.no_noise_suppression),
                        announcer=announcer, config=config, clock=stream.now, stream_origin=0.0,
                        where=stream_locator(stream), sleep=lambda seconds: None, barge_in=barge_in)
    from assistant.speech.microphone import Microphone

    device = int(args.device) if args.device is not None and args.device.isdigit() else args.device
    return Resident(bundle=bundle, open_source=lambda: Microphone(device=device).open(), detector=detector,
                    make_channel=voice_channel_factory(speaker, recognizer, use_tone=not args.no_tone,
                                                       clock=time.monotonic, rate=args.rate,
                                                       pacing=not args.no_pacing, barge_in=barge_in,
                                                       noise_suppression=not args.no_noise_suppression),
                    announcer=announcer, config=config, barge_in=barge_in)
