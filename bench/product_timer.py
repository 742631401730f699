"""`python -m bench.product_timer MARKER -- <tingle arguments>`: the product's command line, unchanged, with one
observer added for the cold-start measurement.

The observer wraps `assistant.speech.speaker.WavFileOutput.play`: on its first call (the first audio the assistant
produces, before it is resampled and written) it records `time.monotonic()` (CLOCK_MONOTONIC, comparable
across processes on Linux) and the leading quiet of that audio into MARKER as JSON. It changes nothing else.
"""

from __future__ import annotations

import json
import sys
import time
from array import array
from pathlib import Path
from typing import Any

QUIET = 328
"""|sample| at or below this (-40 dBFS) counts as quiet before the first word."""


def _leading_quiet(pcm: Any) -> float:
    samples = array("h")
    samples.frombytes(pcm.data)
    first = next((i for i, s in enumerate(samples) if abs(s) > QUIET), len(samples))
    return first / pcm.rate


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] != "--":
        print("usage: python -m bench.product_timer MARKER -- <tingle arguments>", file=sys.stderr)
        return 2
    marker = Path(argv[0])
    from assistant.speech import speaker

    original = speaker.WavFileOutput.play
    seen: list[float] = []

    def play(self: Any, pcm: Any) -> None:
        if not seen:
            seen.append(time.monotonic())
            marker.write_text(json.dumps({"first_sample_monotonic": seen[0], "leading_quiet_s": _leading_quiet(pcm),
                                          "first_audio_s": pcm.seconds}), encoding="utf-8")
        original(self, pcm)

    speaker.WavFileOutput.play = play  # type: ignore[method-assign]
    from assistant.app.cli import main as tingle

    return tingle(argv[2:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
