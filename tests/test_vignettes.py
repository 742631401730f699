"""The clinical vignette suite runs in CI: patient stories written from NHS / NICE guidance (each with its
source and expected level, tests/vignettes.yaml), answered truthfully in typed words, must meet the
targets of the safe-triage issue. The report: `python -m bench.vignettes` (bench/results/vignettes.md)."""

from __future__ import annotations

import re

import pytest

from assistant.core.validate import Bundle
from bench.vignettes import load_stories, run_all, run_story, score


@pytest.fixture(scope="module")
def outcomes(bundle: Bundle) -> list[object]:
    return run_all(bundle)


def test_the_suite_is_large_and_sourced() -> None:
    stories = load_stories()
    assert len(stories) >= 60
    assert all(s.source.strip() for s in stories)
    assert len({s.id for s in stories}) == len(stories)


def test_targets(bundle: Bundle, outcomes: list[object]) -> None:
    scores = score(bundle.content, outcomes)  # type: ignore[arg-type]
    assert scores.emergency_sensitivity == 1.0, scores
    assert scores.safe >= 0.97, scores.unsafe
    assert scores.right >= 0.80, scores
    assert scores.over_triage <= 0.10, scores


@pytest.mark.parametrize("variant", [1, 2, 3, 5, 7])
def test_the_level_does_not_depend_on_how_yes_and_no_are_phrased(bundle: Bundle, outcomes: list[object],
                                                                 variant: int) -> None:
    for first in outcomes:
        again = run_story(bundle, first.story, variant)  # type: ignore[attr-defined]
        assert again.level == first.level, (first.story.id, variant)  # type: ignore[attr-defined]


def test_questions_per_story_stay_short(bundle: Bundle, outcomes: list[object]) -> None:
    scores = score(bundle.content, outcomes)  # type: ignore[arg-type]
    assert scores.max_questions <= len(bundle.content.questions)
    # Content 3.0.0 added six emergency questions (chest, faint, stroke, confusion, labour, injecting drugs):
    # the median went from 17 to 21. Shortening the self-care path is open work.
    assert scores.median_questions <= 22


@pytest.mark.parametrize("story_id", ["fracture-osteo-nofall-03", "fracture-osteo-nofall-04"])
def test_thin_bones_with_sudden_severe_pain_and_no_fall_is_checked_today(bundle: Bundle, story_id: str) -> None:
    # CKS fracture red flag: sudden severe pain in osteoporosis needs no injury. Before the sudden_severe
    # question, "50 or older" already set doctor_soon, so the thin-bones question was skipped and these
    # stories were told to book a visit within days.
    story = next(s for s in load_stories() if s.id == story_id)
    outcome = run_story(bundle, story)
    assert outcome.level == "doctor_today", outcome.asked
    assert outcome.asked.index("osteoporosis") < outcome.asked.index("sudden_severe")


def test_every_fact_in_a_story_is_a_question_the_assistant_asks(bundle: Bundle) -> None:
    # A fact with no question behind it would be answered "no" without anyone noticing (the suite used to
    # answer sudden_headache from the headache fact, which hid whether the question itself was reached).
    asked = set(bundle.content.questions)
    for story in load_stories():
        assert set(story.yes | story.unsure) <= asked, (story.id, sorted(set(story.yes | story.unsure) - asked))


def test_a_thunderclap_headache_without_fever_reaches_emergency_through_its_own_question(bundle: Bundle) -> None:
    story = next(s for s in load_stories() if s.id == "sah-headache-01")
    outcome = run_story(bundle, story)
    assert outcome.level == "emergency", outcome.asked
    assert outcome.asked[-1] == "sudden_headache", outcome.asked


@pytest.mark.parametrize("question", ["walking", "bladder_bowel", "peeing", "sex", "both_legs"])
def test_emergency_questions_about_long_standing_symptoms_ask_whether_they_are_new(bundle: Bundle,
                                                                                   question: str) -> None:
    # NHS Sciatica: emergency care when you cannot control when you pee or poo "and this is not normal
    # for you". Without it, leaking since childbirth, or a year of numb feet from diabetes, was a yes and
    # sent to emergency care (held-out stories; diabetic-feet-01 and postnatal-leak-01 here).
    ask = bundle.content.questions[question].ask.lower()
    assert re.search(r"\bnew(ly)?\b|not normal for you", ask), ask
