"""Exhaustive paths through the dialogue: every question with every kind of answer, every rule on its
own, every pair of warning signs, and a stop, end of input or fault at every point.

The invariants (tests/dialogue_support.py): no utterance over 40 words, no reply over 60 words before
the user gets a turn, no internal id spoken, the emergency action first in every emergency reply, and
no conversation with an unanswered warning sign ending below "contact a doctor today".
"""

from __future__ import annotations

import itertools

import pytest
from dialogue_support import ACTIONS, answer, check_reply, check_walk, truthful, walk

from assistant.core.content import EMERGENCY_LEVELS, FLOOR
from assistant.core.dialogue import MAX_FAILURES, Dialogue, Kind, Phase, Turn
from assistant.core.validate import Bundle

NO_ONE = truthful()


def path_to(bundle: Bundle, question: str) -> tuple[Dialogue, set[str]] | None:
    """A dialogue standing at `question`, reached with the fewest yes answers (its gate questions)."""
    gates = set(bundle.content.questions[question].ask_if)
    for yes in ([], *[[g] for g in gates]):
        dialogue = Dialogue(bundle.content, bundle.grammars, region="GB")
        reply = dialogue.start()
        policy = truthful(yes=set(yes))
        for _ in range(100):
            if reply.ended:
                break
            if dialogue.state.node == question and dialogue.state.phase is Phase.ASKING:
                return dialogue, set(yes)
            reply = dialogue.handle(policy(dialogue))
    return None


def test_the_all_no_path_asks_every_question_that_can_change_the_advice(bundle: Bundle) -> None:
    result = walk(bundle, NO_ONE)
    check_walk(bundle, result)
    asked = [r.node for _, r in result.replies if r.node in bundle.content.questions]
    gated = {q.id for q in bundle.content.questions.values() if q.ask_if}
    assert set(asked) == set(bundle.content.questions) - gated
    assert result.last.level == bundle.content.lowest_level()


@pytest.mark.parametrize("intent", ["yes", "unsure"])
def test_every_single_rule_reaches_its_level(bundle: Bundle, intent: str) -> None:
    content = bundle.content
    for rule in content.rules:
        facts = {c.question for c in rule.when}
        result = walk(bundle, truthful(yes=facts) if intent == "yes" else truthful(unsure=facts))
        check_walk(bundle, result)
        assert content.rank(result.last.level) <= content.rank(rule.level), (rule.id, result.last.level)


def test_every_pair_of_yes_answers_keeps_the_invariants(bundle: Bundle) -> None:
    questions = [q for q in bundle.content.questions if q != "spread"]
    for first, second in itertools.combinations(questions, 2):
        check_walk(bundle, walk(bundle, truthful(yes={first, second})))


@pytest.mark.parametrize("spread", ["arm", "leg", "both", "none", "unsure"])
def test_spread_answers_and_every_section(bundle: Bundle, spread: str) -> None:
    result = walk(bundle, truthful(spread=spread, sections="yes"))
    check_walk(bundle, result)
    kinds = {u.kind for _, r in result.replies for u in r.utterances}
    assert Kind.CAUSES in kinds and Kind.SUMMARY in kinds


def test_a_yes_that_reaches_emergency_care_is_answered_with_the_action_first(bundle: Bundle) -> None:
    """For every question, with its gates open: yes, not sure and a doubtful yes. Whenever the answer
    brings emergency care, the very next words are the action, within the first 10 words."""
    seen = 0
    for question in bundle.content.questions:
        found = path_to(bundle, question)
        assert found is not None, f"{question} is never asked"
        dialogue, _ = found
        saved = dialogue.state
        for turn in (answer("yes"), answer("unsure"), answer("yes", uncertain=True, confidence=0.3)):
            dialogue.state = saved
            reply = dialogue.handle(turn)
            check_reply(bundle, reply)
            if reply.level in EMERGENCY_LEVELS:
                seen += 1
                first = reply.utterances[0]
                assert first.kind is Kind.EMERGENCY
                assert any(a in " ".join(first.text.split()[:10]) for a in ACTIONS)
                assert reply.ended
    assert seen >= 3 * 14  # every single-answer emergency rule, three ways


def test_emergency_command_at_every_prompt(bundle: Bundle) -> None:
    result = walk(bundle, truthful(sections="yes"))
    prompts = len(result.replies)
    for stop_at in range(prompts - 1):
        count = 0

        def policy(dialogue: Dialogue, stop_at: int = stop_at) -> Turn:
            nonlocal count
            count += 1
            return answer("emergency") if count > stop_at else truthful(sections="yes")(dialogue)

        emergency = walk(bundle, policy)
        check_walk(bundle, emergency)
        first = emergency.last.utterances[0]
        assert first.kind is Kind.EMERGENCY and first.text.startswith("Call emergency services now, on 999")
        assert emergency.last.level == "emergency"


@pytest.mark.parametrize("how", ["stop", "end of input", "garbage", "silence"])
def test_cut_short_at_every_question_never_fails_open(bundle: Bundle, how: str) -> None:
    """Stop, end of input (the session turns it into stop), or three not-understood answers at each
    question in turn: the advice is never below doctor today while a warning sign is unanswered, and
    the emergency sentence is said when one could have meant emergency care."""
    questions = [r.node for _, r in walk(bundle, NO_ONE).replies if r.node in bundle.content.questions]
    for target in questions:
        def policy(dialogue: Dialogue, target: str = target) -> Turn:
            if dialogue.state.node == target and dialogue.state.phase is Phase.ASKING:
                if how in ("stop", "end of input"):
                    return Turn(intent="stop", text=f"({how})")
                return answer(None, "banana") if how == "garbage" else Turn(intent=None, silence=True)
            return NO_ONE(dialogue)

        result = walk(bundle, policy)
        check_walk(bundle, result)
        content = bundle.content
        dialogue = result.dialogue
        assert dialogue is not None
        potential = dialogue.triage.potential(target, dict(dialogue.state.answers), dialogue.state.gaps)
        if potential is not None and content.rank(potential) <= content.rank(FLOOR):
            assert content.rank(result.last.level) <= content.rank(FLOOR), (target, result.last.level)
            said = result.said()
            assert not any("look after this at home" in s for s in said), target
        if potential in EMERGENCY_LEVELS:
            kinds = [u.kind for _, r in result.replies for u in r.utterances]
            assert Kind.CONDITIONAL_EMERGENCY in kinds, target


def test_three_failures_on_a_warning_sign_say_the_conditional_emergency_sentence(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars, region="US")
    dialogue.start()
    first = dialogue.state.node
    for _ in range(MAX_FAILURES - 1):
        reply = dialogue.handle(answer(None, "banana"))
        assert reply.utterances[0].kind is Kind.REPROMPT
    reply = dialogue.handle(answer(None, "banana"))
    assert reply.utterances[0].kind is Kind.CONDITIONAL_EMERGENCY
    assert reply.utterances[0].text.startswith("If you have legs that have become weak, call 911 now")
    assert dialogue.state.gaps == (first,)


def test_an_answer_lost_in_a_noisy_room_asks_for_less_noise_and_still_counts_as_a_try(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars, region="GB")
    dialogue.start()
    reply = dialogue.handle(Turn(intent=None, text="", silence=True, noisy=True))
    assert reply.utterances[0].kind is Kind.REPROMPT
    assert reply.utterances[0].text == bundle.content.templates["noisy"].format(choices="yes, no, or not sure")
    assert "closer" in reply.utterances[0].text and "in a noisy room (1/3)" in reply.decision
    quiet = dialogue.handle(Turn(intent=None, text="banana"))
    assert quiet.utterances[0].text.startswith("Sorry, I didn't catch that") and dialogue.state.failures == 2


def test_doubtful_no_to_a_warning_sign_is_confirmed(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    dialogue.start()
    reply = dialogue.handle(answer("no", uncertain=True, confidence=0.4))
    assert reply.utterances[0].kind is Kind.CONFIRM
    assert reply.utterances[0].text == "I heard no. Is that right?"
    reply = dialogue.handle(answer("unsure"))
    assert reply.utterances[0].kind is Kind.EMERGENCY
    dialogue = Dialogue(bundle.content, bundle.grammars)
    dialogue.start()
    dialogue.handle(answer("no", uncertain=True))
    reply = dialogue.handle(answer("yes"))
    assert reply.node == "walking"


def test_unsure_on_a_warning_sign_says_it_is_treated_as_yes_after_the_action(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars, region="GB")
    dialogue.start()
    reply = dialogue.handle(answer("unsure"))
    texts = [u.text for u in reply.utterances]
    assert texts[0] == "Call emergency services now, on 999."
    assert texts[1] == bundle.content.templates["unsure_is_yes"]
    assert sum(t.count("Call emergency services") for t in texts) == 1


@pytest.mark.parametrize("region", [None, "GB", "US", "IE", "AU"])
def test_every_emergency_reached_by_not_sure_says_why(bundle: Bundle, region: str | None) -> None:
    """"Not sure" that leads to emergency advice is always explained, even where the reply runs long
    (the closing sentence gives way first), in every region's wording of the emergency number."""
    unsure_is_yes = bundle.content.templates["unsure_is_yes"]
    for rule in bundle.content.rules:
        if rule.level not in EMERGENCY_LEVELS:
            continue
        result = walk(bundle, truthful(unsure={c.question for c in rule.when}), region=region)
        check_walk(bundle, result)
        texts = [u.text for u in result.last.utterances]
        assert result.last.utterances[0].kind is Kind.EMERGENCY, (rule.id, texts)
        assert texts[1] == unsure_is_yes, (rule.id, texts)


def test_stop_advises_and_gives_the_safety_net(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars, region="GB")
    dialogue.start()
    reply = dialogue.handle(answer("stop"))
    texts = [u.text for u in reply.utterances]
    assert reply.ended
    assert "We didn't finish the safety questions." in texts
    assert any("contact a doctor or an urgent care service today" in t for t in texts)
    assert any(u.kind is Kind.CONDITIONAL_EMERGENCY and "call 999 now" in u.text for u in reply.utterances)
    assert reply.level == FLOOR


def test_advice_command_repeats_the_current_advice_and_the_question(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars, region="GB")
    dialogue.start()
    reply = dialogue.handle(answer("advice", "what should I do"))
    texts = [u.text for u in reply.utterances]
    assert texts[0] == "We didn't finish the safety questions."
    assert texts[1].startswith("So far, my advice is: please contact a doctor")
    assert reply.utterances[-1].text == bundle.content.questions["legs_weak"].ask
    assert not reply.ended and dialogue.state.node == "legs_weak"


def test_help_says_how_to_get_emergency_help_first(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars, region="US")
    dialogue.start()
    reply = dialogue.handle(answer("help"))
    assert reply.utterances[0].text.startswith("If this is an emergency, say emergency, or call 911.")


def test_back_undoes_the_last_answer(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    dialogue.start()
    dialogue.handle(answer("no"))
    assert dialogue.state.node == "walking"
    reply = dialogue.handle(answer("back"))
    assert dialogue.state.node == "legs_weak" and dialogue.state.answers == ()
    assert reply.utterances[-1].text == bundle.content.questions["legs_weak"].ask


def test_causes_are_said_one_at_a_time_and_that_is_enough_skips_the_rest(bundle: Bundle) -> None:
    dialogue = Dialogue(bundle.content, bundle.grammars)
    reply = dialogue.start()
    policy = truthful(spread="both")
    while dialogue.state.phase is not Phase.OFFERING:
        reply = dialogue.handle(policy(dialogue))
    reply = dialogue.handle(answer("yes"))
    assert reply.utterances[-1].text == "Next one?"
    assert sum(u.kind is Kind.CAUSES for u in reply.utterances) <= 3
    reply = dialogue.handle(answer("enough"))
    assert reply.utterances[-1].text == bundle.content.sections["remedies"].offer
    assert not any(u.kind is Kind.CAUSES for u in reply.utterances)


def test_region_sets_the_emergency_number(bundle: Bundle) -> None:
    for region, number in (("GB", "999"), ("US", "911"), ("DE", "112"), ("AU", "000")):
        dialogue = Dialogue(bundle.content, bundle.grammars, region=region)
        dialogue.start()
        reply = dialogue.handle(answer("yes"))
        assert number in reply.utterances[0].text
    unknown = Dialogue(bundle.content, bundle.grammars, region="ZZ")
    assert unknown.start().utterances[0].text.count("911, 999 or 112") == 1
