"""End-of-speech rules on synthetic audio: tones for speech, zeros or low noise for silence."""

from __future__ import annotations

import math
import random
from array import array

from assistant.speech.endpoint import Decision, EndpointConfig, Endpointer, frame_dbfs

RATE = 16000
CHUNK = 0.04


def tone(seconds: float, level: float = 0.3) -> bytes:
    n = int(RATE * seconds)
    return array("h", (int(32767 * level * math.sin(2 * math.pi * 300 * i / RATE)) for i in range(n))).tobytes()


def noise(seconds: float, level: float = 0.001, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    n = int(RATE * seconds)
    return array("h", (int(32767 * level * rng.uniform(-1, 1)) for _ in range(n))).tobytes()


def run(ep: Endpointer, pcm: bytes, partial: str = "", complete: bool = False,
        words_at: float = 0.0) -> tuple[Decision, float]:
    """Feed `pcm` in 40 ms chunks; the recognizer's partial text appears at `words_at` seconds."""
    size = int(RATE * CHUNK) * 2
    for i in range(0, len(pcm), size):
        shown = ep.elapsed >= words_at
        decision = ep.feed(pcm[i:i + size], partial if shown else "", complete and shown)
        if decision is not Decision.CONTINUE:
            return decision, ep.elapsed
    return Decision.CONTINUE, ep.elapsed


def test_frame_level() -> None:
    assert frame_dbfs([]) == -120.0
    assert frame_dbfs([0] * 160) == -120.0
    assert abs(frame_dbfs([32767, -32767] * 80) - 0.0) < 0.01


def test_complete_phrase_ends_after_short_silence() -> None:
    ep = Endpointer()
    audio = noise(0.3) + tone(0.5) + noise(2.0, seed=2)
    decision, at = run(ep, audio, partial="yes", complete=True, words_at=0.6)
    assert decision is Decision.COMPLETE
    speech_end = 0.8
    assert speech_end + 0.15 <= at <= speech_end + 0.15 + CHUNK + 0.011


def test_incomplete_phrase_waits_for_long_silence() -> None:
    ep = Endpointer()
    decision, at = run(ep, noise(0.3) + tone(0.5) + noise(2.0, seed=2), partial="not", complete=False)
    assert decision is Decision.SILENCE
    assert 0.8 + 0.7 <= at <= 0.8 + 0.7 + CHUNK + 0.011


def test_pause_inside_a_phrase_does_not_end_it() -> None:
    ep = Endpointer()
    audio = noise(0.3) + tone(0.3) + noise(0.4, seed=3) + tone(0.3) + noise(1.5, seed=4)
    decision, at = run(ep, audio, partial="not", complete=False)
    assert decision is Decision.SILENCE and at > 1.3 + 0.7 - 0.01


def test_no_speech_times_out() -> None:
    ep = Endpointer(config=EndpointConfig(no_speech_timeout=2.0))
    decision, at = run(ep, noise(3.0))
    assert decision is Decision.TIMEOUT and abs(at - 2.0) < CHUNK + 0.011
    assert not ep.heard_speech


def test_endless_speech_stops_at_max_length() -> None:
    ep = Endpointer(config=EndpointConfig(max_utterance=2.0))
    decision, at = run(ep, noise(0.2) + tone(5.0))
    assert decision is Decision.MAX_LENGTH and 2.1 <= at <= 2.3


def test_stable_complete_phrase_ends_even_in_loud_noise() -> None:
    """The user ("yes", a tone) stops; the room goes on 12 dB below them, loud enough to count as speech."""
    ep = Endpointer()
    audio = noise(0.2) + tone(0.5) + noise(3.0, level=0.3 * math.sqrt(1.5) / 10 ** (12 / 20), seed=5)
    decision, at = run(ep, audio, partial="yes", complete=True, words_at=0.6)
    assert decision is Decision.STABLE
    assert ep.elapsed - ep.last_speech_at < 0.05  # not the silence rules: the room is still loud
    assert 0.9 <= at <= 0.9 + 2 * CHUNK + 0.011  # words seen at a chunk end, the voice gone 0.2 s before


def test_stable_waits_while_the_voice_is_still_up() -> None:
    """A whole phrase ("no") while the user is as loud as ever may be the start of a longer answer ("no i
    haven't") or of other voices' words: the stable rule waits for the voice to drop."""
    ep = Endpointer()
    decision, at = run(ep, noise(0.2) + tone(1.0) + noise(1.0, seed=2), partial="no", complete=True,
                       words_at=0.6)
    assert decision is Decision.COMPLETE and at >= 1.2 + 0.15  # not STABLE at 0.9 s, while the voice was up


def test_speech_from_the_first_sample_ends_by_complete_soon_after_it_stops() -> None:
    """Talking over the tone: no level of the user's own is measured above the room (the room, so far, is their
    voice), so nothing shows they have stopped and the stable rule does not take the phrase while they talk;
    in a quiet room the complete rule ends the turn 150 ms after they stop."""
    ep = Endpointer()
    decision, at = run(ep, tone(1.0) + noise(1.0, seed=2), partial="yes", complete=True, words_at=0.4)
    assert ep.own_peak_db <= -120.0  # the case: nothing measured
    assert decision is Decision.COMPLETE and 1.0 + 0.15 <= at <= 1.0 + 0.15 + CHUNK + 0.011


def test_stable_without_the_level_rule_ends_at_once() -> None:
    """With `own_drop_db` off (inf) the stable rule does not look at the level."""
    ep = Endpointer(config=EndpointConfig(own_drop_db=math.inf))
    decision, at = run(ep, noise(0.2) + tone(3.0), partial="yes", complete=True, words_at=0.6)
    assert decision is Decision.STABLE and 0.9 <= at <= 0.9 + 2 * CHUNK + 0.011


def loud_room(seconds: float) -> bytes:
    """A room that never goes quiet for long: bursts of sound with short gaps (the floor stays low, trailing
    silence never reaches `end_silence`)."""
    return (tone(0.24) + noise(0.06)) * round(seconds / 0.3)


def feed_words(ep: Endpointer, pcm: bytes, words: list[tuple[float, str, bool]]) -> tuple[Decision, float]:
    """Feed `pcm` in 40 ms chunks; `words` are (from time, partial text, holds an answer), the text never a
    whole phrase (an answer inside other words)."""
    size = int(RATE * CHUNK) * 2
    for i in range(0, len(pcm), size):
        shown = [(text, holds) for at, text, holds in words if ep.elapsed >= at]
        text, holds = shown[-1] if shown else ("", False)
        decision = ep.feed(pcm[i:i + size], text, False, holds)
        if decision is not Decision.CONTINUE:
            return decision, ep.elapsed
    return Decision.CONTINUE, ep.elapsed


def test_an_answer_inside_settled_words_ends_the_turn_in_a_loud_room() -> None:
    ep = Endpointer()
    decision, at = feed_words(ep, noise(0.2) + loud_room(5.0), [(0.6, "no i didn't", True)])
    assert decision is Decision.SETTLED and 0.6 + 0.7 <= at <= 0.6 + 0.7 + 2 * CHUNK + 0.011


def test_settled_words_without_an_answer_keep_the_turn_open() -> None:
    ep = Endpointer(config=EndpointConfig(max_utterance=3.0))
    decision, _ = feed_words(ep, noise(0.2) + loud_room(5.0), [(0.6, "what", False)])
    assert decision is Decision.MAX_LENGTH


def test_other_voices_words_after_an_answer_stop_at_the_answer_tail() -> None:
    words = [(0.6, "no", True), *((0.9 + 0.3 * k, "no " + "that " * (k + 1), k % 2 == 0) for k in range(15))]
    ep = Endpointer()
    decision, at = feed_words(ep, noise(0.2) + loud_room(6.0), words)
    assert decision is Decision.ANSWER_TAIL and 0.6 + 2.0 <= at <= 0.6 + 2.0 + 2 * CHUNK + 0.011


def test_words_before_any_speech_start_no_answer_tail() -> None:
    ep = Endpointer(config=EndpointConfig(no_speech_timeout=2.0))
    decision, _ = feed_words(ep, bytes(RATE * 2 * 3), [(0.0, "yes it", True)])
    assert decision is Decision.TIMEOUT


def test_a_phrase_without_speech_energy_is_not_trusted() -> None:
    ep = Endpointer(config=EndpointConfig(no_speech_timeout=2.0))
    decision, _ = run(ep, bytes(RATE * 2 * 3), partial="yes", complete=True)
    assert decision is Decision.TIMEOUT


def listen(ep: Endpointer, pcm: bytes, partial: str = "", words_at: float = 0.0) -> tuple[Decision, float]:
    """Like assistant.speech.listen.listen_once: a SILENCE end with no words heard is forgotten, listening goes on."""
    size = int(RATE * CHUNK) * 2
    for i in range(0, len(pcm), size):
        shown = ep.elapsed >= words_at
        decision = ep.feed(pcm[i:i + size], partial if shown else "", bool(partial) and shown)
        if decision is Decision.SILENCE and not shown:
            ep.forget_speech()
            continue
        if decision is not Decision.CONTINUE:
            return decision, ep.elapsed
    return Decision.CONTINUE, ep.elapsed


def test_steady_background_does_not_end_the_turn_before_the_answer() -> None:
    ep = Endpointer()
    decision, _ = listen(ep, noise(3.0, level=0.05), partial="no", words_at=99)
    assert decision is Decision.CONTINUE and not ep.heard_speech  # the floor has learnt the background
    decision, at = run(ep, tone(0.4, level=0.5) + noise(1.0, level=0.05, seed=9), partial="no", complete=True,
                       words_at=3.3)
    assert decision is Decision.COMPLETE and ep.heard_speech
    assert 3.4 + 0.15 <= at <= 3.4 + 0.15 + CHUNK + 0.011


def test_answer_from_the_very_first_sample_is_heard() -> None:
    ep = Endpointer()
    decision, at = run(ep, tone(0.4) + bytes(RATE * 2), partial="yes", complete=True, words_at=0.35)
    assert decision is Decision.COMPLETE and ep.speech_started_at == 0.0
    assert 0.55 <= at <= 0.55 + CHUNK + 0.011


def test_a_wordless_noise_burst_is_forgotten() -> None:
    ep = Endpointer()
    decision, _ = listen(ep, bytes(RATE) + tone(0.2) + bytes(RATE * 3), partial="yes", words_at=99)
    assert decision is Decision.CONTINUE and not ep.heard_speech
    decision, _ = listen(ep, tone(0.3) + bytes(RATE), partial="yes", words_at=ep.elapsed + 0.25)
    assert decision is Decision.COMPLETE and ep.heard_speech


def test_other_sample_rates() -> None:
    rate = 48000
    ep = Endpointer(sample_rate=rate)
    n = int(rate * 0.5)
    speech = array("h", (int(9000 * math.sin(2 * math.pi * 300 * i / rate)) for i in range(n))).tobytes()
    pcm = bytes(rate) + speech + bytes(rate * 2)
    size = int(rate * CHUNK) * 2
    decision = Decision.CONTINUE
    for i in range(0, len(pcm), size):
        shown = ep.elapsed >= 0.9  # half a second of silence (bytes(rate)), then 0.5 s of speech
        decision = ep.feed(pcm[i:i + size], "yes" if shown else "", shown)
        if decision is not Decision.CONTINUE:
            break
    assert decision is Decision.COMPLETE
    assert 1.0 + 0.15 <= ep.elapsed <= 1.0 + 0.15 + CHUNK + 0.011


def test_speech_margin_separates_quiet_from_noisy_rooms() -> None:
    quiet = Endpointer()
    run(quiet, noise(0.5, level=0.001) + tone(0.4, level=0.3) + noise(1.0, level=0.001, seed=3), "yes", True, 0.85)
    assert quiet.speech_margin_db is not None and quiet.speech_margin_db > 40 and not quiet.noisy
    loud = Endpointer()
    run(loud, noise(2.0, level=0.05) + tone(0.4, level=0.3) + noise(1.0, level=0.05, seed=3), "yes", True, 2.35)
    assert loud.speech_margin_db is not None and loud.speech_margin_db < 24 and loud.noisy
    assert Endpointer().speech_margin_db is None and not Endpointer().noisy


def voice_over_room(lead: float, voice: float, tail: float, voice_level: float = 0.3,
                    room_level: float = 0.1) -> bytes:
    """A room that never goes quiet (bursts with short gaps, like other people talking), and the user's
    louder voice over it for `voice` seconds after `lead`."""
    def room(seconds: float) -> bytes:
        return (tone(0.24, room_level) + noise(0.06, 0.03)) * round(seconds / 0.3)
    return room(lead) + tone(voice, voice_level) + room(tail)


def test_a_voice_that_falls_back_to_the_rooms_level_ends_the_turn_in_a_noisy_room() -> None:
    ep = Endpointer()
    decision, at = run(ep, voice_over_room(1.5, 0.6, 6.0), partial="what")  # no answer: before, max_length
    assert ep.noisy
    assert decision is Decision.QUIETER and 2.1 + 0.7 <= at <= 2.1 + 0.7 + 0.1 + CHUNK + 0.011  # 0.1: own_window


def test_a_voice_no_louder_than_the_room_or_a_quiet_room_keeps_the_other_rules() -> None:
    ep = Endpointer(config=EndpointConfig(max_utterance=3.0))
    decision, _ = run(ep, voice_over_room(1.5, 0.6, 6.0, voice_level=0.1), partial="what")
    assert decision is Decision.MAX_LENGTH  # the "voice" is the room itself: nothing to tell them apart by
    ep = Endpointer()
    decision, _ = run(ep, noise(0.3) + tone(0.5) + tone(0.6, 0.05) + noise(2.0, seed=2), partial="not")
    assert not ep.noisy and decision is Decision.SILENCE  # a soft last word in a quiet room is waited for


def test_the_quieter_rule_can_be_turned_off() -> None:
    ep = Endpointer(config=EndpointConfig(own_drop_db=float("inf"), max_utterance=3.0))
    decision, _ = run(ep, voice_over_room(1.5, 0.6, 6.0), partial="what")
    assert decision is Decision.MAX_LENGTH


def test_the_quieter_rule_waits_for_words() -> None:
    """A loud start with no words in it (a noise suppressor settling on a new noise) never ends the turn early:
    measured, it ended one before the user had begun."""
    ep = Endpointer(config=EndpointConfig(max_utterance=3.0))
    decision, _ = run(ep, voice_over_room(1.5, 0.6, 6.0), partial="")
    assert decision is Decision.MAX_LENGTH
