"""The wake-phrase adapter (`assistant.speech.wakeword`): phrase names, the real bundled model on synthetic speech,
reset between sessions, and clear errors when the model cannot be had."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ModelError
from assistant.speech.audio import CHUNK_SECONDS, SAMPLE_RATE
from assistant.speech.earcon import wake_earcon
from assistant.speech.wakeword import (
    DEFAULT_WAKE_PHRASE,
    WAKE_PHRASES,
    MicroWakeDetector,
    SecondLook,
    WakeWordError,
    wake_phrase,
)

CHUNK = int(SAMPLE_RATE * CHUNK_SECONDS)


def test_phrase_names_are_forgiving_and_unknown_ones_list_the_choices() -> None:
    assert wake_phrase().name == DEFAULT_WAKE_PHRASE == "okay-nabu"
    assert wake_phrase("Okay Nabu") is wake_phrase("okay_nabu") is WAKE_PHRASES["okay-nabu"]
    assert wake_phrase("hey-jarvis").spoken == "hey jarvis"
    with pytest.raises(WakeWordError, match="choose one of hey-jarvis, hey-mycroft, okay-nabu") as caught:
        wake_phrase("hey tingle")
    assert isinstance(caught.value, ModelError)


def test_a_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymicro_wakeword", None)
    with pytest.raises(WakeWordError, match="pip install pymicro-wakeword"):
        MicroWakeDetector(wake_phrase()).open()


def test_feeding_a_closed_detector_is_an_error_not_a_crash() -> None:
    with pytest.raises(WakeWordError, match="not open"):
        MicroWakeDetector(wake_phrase()).feed(bytes(2 * CHUNK))


def test_the_earcon_is_short_and_distinct_from_the_turn_tone() -> None:
    earcon = wake_earcon(16000)
    assert earcon.seconds == pytest.approx(0.16)
    samples = np.frombuffer(earcon.data, dtype="<i2")
    assert 0 < np.abs(samples).max() <= 0.2 * 32767 + 1


@pytest.fixture(scope="module")
def detector() -> MicroWakeDetector:
    from voice_support import require_voice_stack

    require_voice_stack()
    opened = MicroWakeDetector(wake_phrase("okay-nabu")).open()
    yield opened
    opened.close()


def _fires(detector: MicroWakeDetector, samples: np.ndarray) -> float | None:
    """Stream `samples` in the product's chunks; the time (s) at which the detector fired, or None."""
    detector.reset()
    pcm = np.asarray(samples, dtype="<i2").tobytes()
    for start in range(0, len(pcm), 2 * CHUNK):
        if detector.heard(detector.feed(pcm[start:start + 2 * CHUNK])):
            return (start + 2 * CHUNK) / 2 / SAMPLE_RATE
    return None


def _speech(text: str, engine: str = "espeak-ng", name: str = "en-us") -> np.ndarray:
    from bench.corpus import Voice, pad, synthesize

    return pad(synthesize(text, Voice(engine, name)), 1.0, 1.0)


class _Memory:
    """16 kHz samples as an AudioSource, in the product's chunks."""

    rate = SAMPLE_RATE

    def __init__(self, samples: np.ndarray) -> None:
        self.pcm = np.asarray(samples, dtype="<i2").tobytes()
        self.at = 0

    def begin(self, not_before: float) -> None:
        """No gate."""

    def read(self) -> bytes | None:
        if self.at >= len(self.pcm):
            return None
        chunk = self.pcm[self.at:self.at + 2 * CHUNK]
        self.at += len(chunk)
        return chunk


def _product_wake(bundle: object, detector: MicroWakeDetector, recognizer: object, samples: np.ndarray) -> object:
    """The resident loop's waiting step (model, then the speech check) over `samples`: the Wake, or None."""
    from assistant.app.resident import Resident, ResidentConfig
    from assistant.speech.wakeword import SpeechCheck

    source = _Memory(samples)
    resident = Resident(bundle=bundle, open_source=lambda: None, detector=detector,  # type: ignore[arg-type]
                        make_channel=lambda source: None, announcer=None,  # type: ignore[arg-type,return-value]
                        config=ResidentConfig(transcript_dir=Path("unused")),
                        clock=lambda: source.at / 2 / SAMPLE_RATE, stream_origin=0.0,
                        check=SpeechCheck.for_phrase(recognizer, detector.phrase))
    resident.use_source(source)  # type: ignore[arg-type]
    return resident.wait_for_wake()


def test_without_the_check_the_models_own_cut_off_applies() -> None:
    assert MicroWakeDetector(wake_phrase(), checked=False).threshold == 0.85
    assert MicroWakeDetector(wake_phrase()).threshold == wake_phrase().cutoff < 0.85
    assert MicroWakeDetector(wake_phrase(), cutoff=0.6, checked=False).threshold == 0.6


@pytest.mark.voice
@pytest.mark.parametrize(("engine", "name"), [("espeak-ng", "en-us"), ("espeak-ng", "en-gb-x-rp"), ("flite", "rms")])
def test_the_wake_phrase_wakes_it(bundle: object, detector: MicroWakeDetector, recognizer: object, engine: str,
                                  name: str) -> None:
    clip = _speech("okay nabu", engine, name)
    wake = _product_wake(bundle, detector, recognizer, clip)
    assert wake is not None
    assert 1.0 < wake.stream_s <= clip.size / SAMPLE_RATE  # type: ignore[attr-defined]
    assert "boo" in (wake.checked or "")  # type: ignore[attr-defined]


@pytest.mark.voice
@pytest.mark.parametrize("text", ["okay, now tell me about the numbness in your back", "okay then",
                                  "okay nana", "okay google"])
def test_sound_alikes_fire_the_model_but_not_the_check(bundle: object, detector: MicroWakeDetector,
                                                       recognizer: object, text: str) -> None:
    clip = _speech(text)
    assert _fires(detector, clip) is not None  # the model alone is fooled on this voice...
    assert _product_wake(bundle, detector, recognizer, clip) is None  # ...the check is not


@pytest.mark.voice
def test_silence_and_tones_do_not_fire_the_model(detector: MicroWakeDetector) -> None:
    assert _fires(detector, np.zeros(3 * SAMPLE_RATE, dtype=np.int16)) is None
    assert _fires(detector, np.frombuffer(wake_earcon().data * 10, dtype="<i2")) is None


@pytest.mark.voice
def test_reset_lets_it_wake_again_and_forgets_half_a_phrase(detector: MicroWakeDetector) -> None:
    clip = _speech("okay nabu")
    assert _fires(detector, clip) is not None
    assert _fires(detector, clip) is not None  # after reset, the same again
    half = clip[: int(1.35 * SAMPLE_RATE)]  # "okay" and part of the silence before it
    detector.reset()
    detector.feed(np.asarray(half, dtype="<i2").tobytes())
    assert _fires(detector, np.zeros(SAMPLE_RATE, dtype=np.int16)) is None


def test_the_second_look_waits_its_time_then_gives_the_best_probability_since_the_first() -> None:
    look = SecondLook(seconds=0.25)
    assert not look.pending and look.clear() is None
    look.begin("okay na")
    assert look.pending
    assert [look.step(p, 0.08) for p in (0.2, 0.9, 0.4)] == [None, None, None]  # 0.24 s heard
    assert look.step(0.1, 0.08) == 0.9
    assert look.heard_both("okay na") == "okay na / okay na" and not look.pending
    look.begin(None)
    assert look.pending and look.clear() == ""
