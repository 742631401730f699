"""The wake earcon: a short rising two-note chirp that says "I heard you, I'm listening".

Distinct from the "your turn" tone (`assistant.speech.audio.tone`, one 880 Hz note): two notes a fifth apart
(660 Hz, then 990 Hz), 80 ms each with 8 ms fades, soft (a fifth of full scale). 0.16 s in all, so the
greeting follows the wake within the 500 ms target.
"""

from __future__ import annotations

import math
from array import array

from assistant.speech.audio import Pcm

NOTES_HZ = (660.0, 990.0)
"""The two notes, in order (Hz)."""
NOTE_SECONDS = 0.08
"""Length of each note (s)."""
FADE_SECONDS = 0.008
"""Fade in and out of each note (s)."""
LEVEL = 0.2
"""Peak amplitude, as a fraction of full scale."""


def wake_earcon(rate: int = 16000) -> Pcm:
    """The earcon as 16-bit mono audio at `rate` Hz."""
    count = max(1, int(rate * NOTE_SECONDS))
    fade = max(1, int(rate * FADE_SECONDS))
    samples = array("h")
    for frequency in NOTES_HZ:
        for i in range(count):
            envelope = min(1.0, i / fade, (count - 1 - i) / fade)
            samples.append(int(32767 * LEVEL * envelope * math.sin(2 * math.pi * frequency * i / rate)))
    return Pcm(samples.tobytes(), rate)
