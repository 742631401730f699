"""Command line: `tingle` (voice), `tingle --text`, `tingle check`, `tingle devices`, `tingle recognize`."""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.app.session import Channel, SessionInterrupted, run_session, signals_interrupt_session
from assistant.app.transcript import Transcript, TranscriptError, default_path
from assistant.core.dialogue import Dialogue, Reply, Turn
from assistant.core.validate import Bundle, load_bundle
from assistant.errors import AssistantError, UsageError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("assistant")
RATE_RANGE = (100, 275)
"""--rate, words per minute: assistant.speech.speaker's MIN_RATE, MAX_RATE (not imported: text mode stays light)."""
ECHO_RANGE_DB = (-60.0, 20.0)
"""--simulate-echo: the loudspeaker's voice at the microphone, relative to what is played (dB)."""


def in_range(low: float, high: float, *, integer: bool = False, open_ends: bool = False,
             ) -> Callable[[str], float]:
    """An argparse type: a finite number from `low` to `high` (`open_ends`: strictly between). Anything else
    (nan, inf, out of range, not a number) is refused by argparse with the option's name and this range."""
    allowed = (f"{'a whole number' if integer else 'a number'} "
               + (f"between {low:g} and {high:g} (not {low:g} or {high:g} themselves)" if open_ends
                  else f"from {low:g} to {high:g}"))

    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}") from None
        inside = low < value < high if open_ends else low <= value <= high
        if not math.isfinite(value) or not inside:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: use {allowed}")
        return value

    return parse


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Where the content, grammars and model are, and noise suppression: `tingle` and `tingle listen`."""
    parser.add_argument("--content", type=Path, default=PROJECT_ROOT / "content", help="content folder")
    parser.add_argument("--grammars", type=Path, default=PROJECT_ROOT / "grammars", help="grammars folder")
    parser.add_argument("--model", type=Path, default=None,
                        help="Vosk model folder (default: $TINGLE_MODEL, else the provisioned small English model)")
    parser.add_argument("--no-noise-suppression", action="store_true",
                        help="let the recognizer hear the raw microphone audio, even in a noisy room")


def add_speech_options(parser: argparse.ArgumentParser) -> None:
    """How the assistant speaks, where its voice goes, and the emergency number: `tingle` and `tingle listen`."""
    parser.add_argument("--audio-out", type=Path, default=None, metavar="WAV",
                        help="write what the assistant says to this WAV file instead of the speakers")
    parser.add_argument("--voice", default=None, help="speech voice (espeak-ng voice name, e.g. en-us)")
    parser.add_argument("--rate", type=in_range(*RATE_RANGE, integer=True), default=None,
                        help=f"speaking rate in words per minute, {RATE_RANGE[0]} to {RATE_RANGE[1]}")
    parser.add_argument("--volume", type=in_range(0.0, 1.0), default=None, help="speaking volume, 0.0 to 1.0")
    parser.add_argument("--no-tone", action="store_true", help="no listening tone before each answer")
    parser.add_argument("--region", default=None,
                        help="country code for the emergency number (GB: 999, US: 911, ...); default: "
                             "$TINGLE_REGION, else the locale ($LANG)")


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tingle",
        description="Talk through tingling or numbness in your back. Not a diagnosis; in an emergency, "
                    "call emergency services. Other commands: tingle check | devices | recognize | listen | "
                    "install-service | uninstall-service.",
    )
    add_common_options(parser)
    parser.add_argument("--text", action="store_true", help="type answers instead of speaking (one per line)")
    parser.add_argument("--transcript", type=Path, default=None,
                        help="where to write the JSONL transcript (default: ~/.local/state/tingle/transcripts/)")
    parser.add_argument("--device", default=None, help="microphone: number or name from `tingle devices`")
    parser.add_argument("--audio-in", nargs="+", type=Path, default=None, metavar="WAV",
                        help="use these WAV files as the user's turns, in order, instead of the microphone")
    parser.add_argument("--fast", action="store_true", help="with --audio-in: feed audio as fast as possible")
    add_speech_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tingle` console script. Returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)
    try:
        if args and args[0] == "check":
            return _check(args[1:])
        if args and args[0] == "devices":
            return _devices(args[1:])
        if args and args[0] == "recognize":
            return _recognize(args[1:])
        if args and args[0] == "listen":
            from assistant.app.resident import listen_main

            return listen_main(args[1:])
        if args and args[0] == "install-service":
            from assistant.app.service import install_main

            return install_main(args[1:])
        if args and args[0] == "uninstall-service":
            from assistant.app.service import uninstall_main

            return uninstall_main(args[1:])
        return _run(_run_parser().parse_args(args))
    except AssistantError as exc:
        print(f"tingle: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tingle: stopped.", file=sys.stderr)
        return 130
    except SessionInterrupted as exc:
        print(f"tingle: {exc}.", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:
        # The reader went away (`tingle check | head -1`): like other command-line tools, stop quietly.
        from assistant.app.textio import silence_broken_output

        silence_broken_output(sys.stdout)
        return 128 + signal.SIGPIPE


def refuse_overwriting_inputs(args: argparse.Namespace) -> None:
    """Raise UsageError when an output option (--audio-out, --transcript) names an --audio-in file or the other
    output: writing it would destroy the user's recording. Checked before anything is opened or written."""
    inputs = [("--audio-in", path) for path in getattr(args, "audio_in", None) or []]
    outputs = [(option, path) for option, path in (("--audio-out", getattr(args, "audio_out", None)),
                                                    ("--transcript", getattr(args, "transcript", None)))
               if path is not None]
    for index, (option, path) in enumerate(outputs):
        for other, existing in inputs + outputs[:index]:
            if _same_file(path, existing):
                raise UsageError(f"{option} {path} is the same file as {other} {existing}: writing it would "
                                 f"overwrite it. Choose another path for {option}.")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same file on disk when both exist (hard links, symlinks too),
    else the same resolved path."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError as exc:
        raise UsageError(f"cannot compare {a} with {b} ({exc.strerror or exc}); check both paths.") from exc


def _bundle(args: argparse.Namespace) -> Bundle:
    return load_bundle(args.content, args.grammars)


def region_from_environment(environ: dict[str, str] | None = None) -> str | None:
    """$TINGLE_REGION, else the country of the locale ($LC_ALL, $LC_MESSAGES, $LANG: en_GB.UTF-8 -> GB)."""
    env = os.environ if environ is None else environ
    if env.get("TINGLE_REGION"):
        return env["TINGLE_REGION"].strip().upper()
    for key in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(key, "")
        if value:
            territory = value.split(".")[0].split("@")[0].partition("_")[2]
            return territory.upper() or None
    return None


class _NoTranscript:
    """Stands in when the transcript cannot be opened: the conversation still happens (advice first)."""

    def event(self, kind: str, **fields: Any) -> None:
        """Nothing is kept."""

    def turn(self, turn: Turn | None, reply: Reply, at_node: str, **extra: Any) -> None:
        """Nothing is kept."""


def _run(args: argparse.Namespace) -> int:
    refuse_overwriting_inputs(args)  # before anything is written (not even a spoken error to --audio-out)
    try:
        bundle = _bundle(args)
    except AssistantError as exc:  # the content or a grammar is invalid
        if not args.text:
            from assistant.app.voice import announce

            announce(str(exc), args.audio_out)  # spoken too, where a speaker works; main() prints it
        raise
    transcript_path = args.transcript or default_path()
    region = (args.region or region_from_environment() or "").upper() or None
    if region and region not in bundle.content.regions:
        log.warning("region %s is not in content/regions.yaml; using the default emergency numbers", region)
    channel: Channel
    closer = None
    with signals_interrupt_session():
        if args.text:
            from assistant.app.textio import TextChannel

            channel = TextChannel()
        else:
            from assistant.app.voice import announce, open_voice_channel

            try:
                channel, closer = open_voice_channel(args, bundle)
            except AssistantError as exc:
                announce(str(exc), args.audio_out)  # spoken too, where a speaker works; main() prints it
                raise
        try:
            return _converse(args, bundle, channel, transcript_path, region)
        finally:
            if closer is not None:
                closer()


def _converse(args: argparse.Namespace, bundle: Bundle, channel: Channel, transcript_path: Path,
              region: str | None) -> int:
    dialogue = Dialogue(bundle.content, bundle.grammars, region=region)
    transcript = Transcript(transcript_path, bundle.content.version, exclusive=args.transcript is None)
    try:
        transcript.open()
    except TranscriptError as exc:
        channel.notice(f"{exc} The conversation goes on, but it is not being saved.")
        outcome = run_session(dialogue, channel, _NoTranscript())
        print("(No transcript was saved.)", file=sys.stderr)
        return 1
    try:
        transcript.event("session", mode="text" if args.text else "voice", argv=sys.argv[1:],
                         region=dialogue.region.code)
    except TranscriptError as exc:
        channel.notice(f"{exc} The conversation goes on, but it is not being saved.")
    try:
        outcome = run_session(dialogue, channel, transcript)
    finally:
        try:
            transcript.close()
        except TranscriptError as exc:
            print(f"tingle: {exc}", file=sys.stderr)
    failed = not outcome.transcript_ok or bool(getattr(transcript, "failed", False))
    output_error = getattr(channel, "output_error", None)
    if failed:
        print(f"(The transcript at {transcript_path} is incomplete: it could not be fully written.)",
              file=sys.stderr)
    else:
        print(f"(Transcript saved to {transcript_path})", file=sys.stderr)
    if output_error:
        print(f"tingle: the output could not be written ({output_error}).", file=sys.stderr)
    if outcome.error and outcome.how != "output failed":  # an output failure is said just above
        # the model, the microphone or an audio file failed: closed safely, but not a success
        print(f"tingle: the session was cut short: {outcome.error}", file=sys.stderr)
    return 1 if failed or output_error or outcome.error else 0


def _check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tingle check",
                                     description="Validate content, grammars and the model's vocabulary.")
    add_common_options(parser)
    parser.add_argument("--no-model", action="store_true", help="skip the speech-model checks")
    args = parser.parse_args(argv)
    bundle = _bundle(args)
    content = bundle.content
    print(f"content {content.version}: {len(content.questions)} questions, {len(content.rules)} rules, "
          f"{len(content.levels)} levels, {len(bundle.grammars.tables)} grammars: OK")
    if args.no_model:
        return 0
    from assistant.models.modelstore import check_model, check_vocabulary
    from assistant.speech.recognizer import trial_load

    model_dir = check_model(args.model)  # every file's checksum
    check_vocabulary(bundle.grammars, model_dir)
    trial_load(model_dir)  # in a child process: a model Vosk crashes on is reported, not fatal
    print(f"model {model_dir}: every grammar word is in its vocabulary: OK")
    return 0


def _devices(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="tingle devices", description="List microphones and speakers.").parse_args(argv)
    from assistant.speech.microphone import describe_devices

    print(describe_devices())
    return 0


def _recognize(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tingle recognize",
                                     description="Recognize WAV files; print one JSON line per file.")
    add_common_options(parser)
    parser.add_argument("--grammar", default="answers", help="grammar name from grammars/, or a YAML file")
    parser.add_argument("wavs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    from assistant.app.voice import RecognizeFailure, recognize_files

    bundle = _bundle(args)
    failed = 0
    for outcome in recognize_files(args, bundle):
        if isinstance(outcome, RecognizeFailure):
            failed += 1
            print(f"tingle: {outcome.message}", file=sys.stderr, flush=True)  # the message names the file
            print(outcome.json_line(), flush=True)
        else:
            print(outcome, flush=True)
    if failed == len(args.wavs) > 1:
        print(f"tingle: none of the {failed} files could be read (see above).", file=sys.stderr)
    elif failed and len(args.wavs) > 1:
        print(f"tingle: {failed} of {len(args.wavs)} files could not be read (see above); the others were "
              "recognized.", file=sys.stderr)
    return 1 if failed else 0
