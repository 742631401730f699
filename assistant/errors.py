"""The assistant's error hierarchy. Every message says what went wrong and what to do about it."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: a problem the user or maintainer can act on. Printed and spoken, never a traceback."""


class ContentError(AssistantError):
    """The triage content or a grammar file is invalid. Names the file, line and item."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None, item: str = "") -> None:
        self.file = file
        self.line = line
        self.item = item
        where = file
        if line is not None:
            where = f"{where}:{line}"
        if item:
            where = f"{where} [{item}]" if where else f"[{item}]"
        super().__init__(f"{where}: {message}" if where else message)


class UsageError(AssistantError):
    """Command-line options that cannot be used together: names the options and what to change."""


class ModelError(AssistantError):
    """The speech model is missing, partial, corrupt or lacks a word we need."""


class AudioDeviceError(AssistantError):
    """A microphone or speaker is missing or failed."""


class AudioFileError(AssistantError):
    """An input audio file cannot be read or has an unusable format."""


class PrivateFileError(AssistantError):
    """A file holding health data (transcript, --audio-out) cannot be created safely: the reason, in words."""


class TranscriptError(AssistantError):
    """The transcript cannot be written."""
