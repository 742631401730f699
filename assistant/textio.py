"""Text mode: typed answers in, plain printed lines out (screen-reader friendly, no colour codes)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from assistant.dialogue import Utterance
from assistant.grammar import Listener
from assistant.session import Heard


@dataclass
class TextChannel:
    """Reads one answer per line; an empty line counts as silence; end of input ends the session."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)

    def say(self, utterance: Utterance) -> None:
        print(utterance.text, file=self.stdout, flush=True)

    def listen(self, listener: Listener) -> Heard | None:
        if self.stdin.isatty():
            print("> ", end="", file=self.stdout, flush=True)
        line = self.stdin.readline()
        if not line:
            return None
        text = line.strip()
        if not text:
            return Heard(text="", intent=None, silence=True)
        return Heard(text=text, intent=listener.match(text))

    def change_rate(self, step: int) -> None:
        """Text has no speaking rate; nothing to do."""

    def notice(self, message: str) -> None:
        print(message, file=self.stdout, flush=True)
