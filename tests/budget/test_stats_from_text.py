"""`stats_from_text` against the state machine's own record, for every way thinking ends (fake engine).

The character tokenizer makes every count exact, so whatever `stats_from_text` reports must be the
engine's value; where the text cannot tell, it must say None, never a wrong value.
"""

from __future__ import annotations

import pytest

from s1eval.budget import parse_gen_kwargs, stats_from_text
from tests.budget.fake import CharTokenizer, Script
from tests.budget.test_accounting import one

FA = "\nFinal Answer: 42"  # what the embedded mini model writes itself after a natural end
KEYS = ("thinking_tokens", "answer_tokens", "forced")

# name: (gen_kwargs, script, the engine's forced_reason, what the text tells without the budget)
CASES = {
    # natural ends followed by the model's own "\nFinal Answer:" (issue 18 item 4: read as forced before)
    "natural, model writes the prefix": ({"max_tokens_thinking": 100}, Script(rounds=[3], filler="ab\n", answer=FA),
                                         None, "ambiguous"),
    "natural after two ignores": ({"max_tokens_thinking": 100, "thinking_n_ignore": 2,
                                   "thinking_n_ignore_str": "Wait"},
                                  Script(rounds=[3, 2, 2], filler="ab\n", answer=FA), None, "ambiguous"),
    "natural (rejection sampling)": ({"max_tokens_thinking": 10, "rejection_sample": True},
                                     Script(rounds=[2], filler="ab\n", answer=FA), None, "ambiguous"),
    "natural, no prefix in the answer": ({"max_tokens_thinking": 100},
                                         Script(rounds=[3], filler="ab\n", answer="\n42"), None, "exact"),
    "natural, thinking not ending in a newline": ({"max_tokens_thinking": 100}, Script(rounds=[5], answer=FA),
                                                  None, "exact"),
    # forced ends
    "budget, newline inserted": ({"max_tokens_thinking": 7}, Script(rounds=[9], filler="ab\n", answer=" 42"),
                                 "budget", "ambiguous"),
    "budget, thinking ends in a newline": ({"max_tokens_thinking": 6}, Script(rounds=[9], filler="ab\n", answer=" 42"),
                                           "budget", "ambiguous"),
    "budget after an ignore": ({"max_tokens_thinking": 12, "thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"},
                               Script(rounds=[2, 9], filler="ab\n", answer=" 42"), "budget", "forced"),
    "zero budget": ({"max_tokens_thinking": 0}, Script(answer=" 42"), "budget", "ambiguous"),
    "no room for the ignore string": (
        {"max_tokens_thinking": 20, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Wait, again\n"},
        Script(rounds=[3], filler="a\n\n", answer=" 42"), "no_room_for_ignore", "forced"),
    "no room for the ignore string below min_tokens_thinking": (
        {"max_tokens_thinking": 11, "min_tokens_thinking": 10, "thinking_n_ignore_str": "Wait\n"},
        Script(rounds=[3], filler="a\n\n", answer=" 42"), "no_room_for_ignore", "forced"),
    "rejection sampling out of tries": (
        {"max_tokens_thinking": 5, "rejection_sample": True, "rejection_max_tries": 2},
        Script(rounds=[8], filler="ab\n", answer=FA), "rejection_exhausted", "ambiguous"),
    "budget, empty forced_answer_prefix": ({"max_tokens_thinking": 7, "forced_answer_prefix": ""},
                                           Script(rounds=[9], filler="ab\n", answer="\n42"), "budget", "ambiguous"),
}


def engine_and_text(gen_kwargs, script):
    result, _ = one({"max_gen_toks": 200, **gen_kwargs}, script)
    cfg, _ = parse_gen_kwargs(gen_kwargs)
    return result, cfg


@pytest.mark.parametrize("case", CASES)
def test_with_the_budget_the_text_gives_the_engines_record(case):
    gen_kwargs, script, reason, _ = CASES[case]
    result, cfg = engine_and_text(gen_kwargs, script)
    engine = result.stats
    assert engine.forced_reason == reason  # the case exercises the end it names
    got = stats_from_text(result.text, CharTokenizer(), budget=engine.budget, config=cfg)
    assert {k: got[k] for k in KEYS} == {k: getattr(engine, k) for k in KEYS}
    assert got["has_answer_delimiter"]


@pytest.mark.parametrize("case", CASES)
def test_without_the_budget_it_is_right_or_says_unknown(case):
    gen_kwargs, script, _, without_budget = CASES[case]
    result, cfg = engine_and_text(gen_kwargs, script)
    engine = result.stats
    got = stats_from_text(result.text, CharTokenizer(), config=cfg)
    for key in KEYS:
        assert got[key] in (getattr(engine, key), None), key
    if without_budget == "exact":
        assert {k: got[k] for k in KEYS} == {k: getattr(engine, k) for k in KEYS}
    elif without_budget == "forced":  # an end before the last ignore cannot be natural: forced, whatever the budget
        assert got["forced"] is True
    else:
        assert got["forced"] is None


@pytest.mark.parametrize("gen_kwargs,script,reason", [
    # an end 2 tokens short of the budget with a 4-token ignore string and an ignore left is forced
    # (no_room_for_ignore); the same text could be a natural end after "Wait"s the model wrote itself
    ({"max_tokens_thinking": 16, "thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"},
     Script(rounds=[1, 1], filler="Wait\n", answer=FA), "no_room_for_ignore"),
    # rejection sampling: a natural end may use the whole budget, and a try cut to it looks the same
    ({"max_tokens_thinking": 6, "rejection_sample": True}, Script(rounds=[2], filler="ab\n", answer=FA), None),
], ids=["no_room_for_ignore", "rejection_sample"])
def test_where_the_budget_cannot_tell_it_says_unknown_not_wrong(gen_kwargs, script, reason):
    result, cfg = engine_and_text(gen_kwargs, script)
    assert result.stats.forced_reason == reason
    got = stats_from_text(result.text, CharTokenizer(), budget=result.stats.budget, config=cfg)
    assert got["forced"] is None and got["answer_tokens"] is None
    assert got["thinking_tokens"] in (result.stats.thinking_tokens, None)


def test_without_a_config_the_preset_and_prefix_arguments_give_the_format():
    text = "<think>\nxx\n</think>\nFinal Answer: 42"
    got = stats_from_text(text, CharTokenizer(), "think_tags", budget=5)
    assert (got["thinking_tokens"], got["answer_tokens"], got["forced"]) == (4, 17, False)
    got = stats_from_text(text, CharTokenizer(), "think_tags", budget=4)  # the newline was the model's
    assert (got["thinking_tokens"], got["answer_tokens"], got["forced"]) == (4, 3, True)
    got = stats_from_text(text, CharTokenizer(), "think_tags", budget=3)  # the newline was inserted
    assert (got["thinking_tokens"], got["answer_tokens"], got["forced"]) == (3, 3, True)
    got = stats_from_text(text, CharTokenizer(), "think_tags", forced_answer_prefix="Answer:", budget=3)
    assert got["forced"] is False  # another prefix: this answer was not forced
    with pytest.raises(ValueError, match="preset='r1' is unknown; use one of s1, think_tags"):
        stats_from_text(text, CharTokenizer(), "r1")


def test_rejection_sampling_does_not_apply_min_tokens_thinking_to_a_natural_end():
    gen_kwargs = {"max_tokens_thinking": 10, "rejection_sample": True, "min_tokens_thinking": 8}
    result, cfg = engine_and_text(gen_kwargs, Script(rounds=[2], filler="ab\n", answer=FA))
    engine = result.stats
    assert engine.forced_reason is None and engine.thinking_tokens == 6 < cfg.min_tokens_thinking
    got = stats_from_text(result.text, CharTokenizer(), budget=engine.budget, config=cfg)
    assert {k: got[k] for k in KEYS} == {k: getattr(engine, k) for k in KEYS}


@pytest.mark.parametrize("gen_kwargs,script,reason", [
    ({"control": "step:3", "max_tokens_thinking": 100},
     Script(rounds=[2], filler="x<|im_start|>answer y\n", stop="<|im_start|>0", answer="42"), None),
    ({"control": "step:3", "max_tokens_thinking": 12},
     Script(rounds=[3], filler="<|im_start|>answer\n", stop="<|im_start|>0", answer=" 42"), "budget"),
], ids=["natural", "budget"])
def test_the_answer_delimiter_written_inside_step_control_thinking_is_not_the_split(gen_kwargs, script, reason):
    # control=step:N stops thinking at `<|im_start|>0`, so the model may write `<|im_start|>answer` while thinking
    result, cfg = engine_and_text(gen_kwargs, script)
    engine = result.stats
    assert engine.forced_reason == reason
    assert result.text[len(cfg.thinking_start):].count(cfg.thinking_end) >= 2
    got = stats_from_text(result.text, CharTokenizer(), budget=engine.budget, config=cfg)
    assert {k: got[k] for k in KEYS} == {k: getattr(engine, k) for k in KEYS}


def test_where_the_answer_may_hold_the_delimiter_several_splits_give_unknown_counts():
    # A tokenizer that decodes special tokens even when asked to skip them: the answer could hold
    # `<|im_start|>answer` too, so either occurrence may be the machine's.
    class KeepsSpecials(CharTokenizer):
        def decode(self, ids, skip_special_tokens=True):
            return super().decode(ids, skip_special_tokens=False)

    cfg, _ = parse_gen_kwargs({"control": "step:3", "max_tokens_thinking": 100})
    text = cfg.thinking_start + "xy" + cfg.thinking_end + "zz" + cfg.thinking_end + "42"
    got = stats_from_text(text, KeepsSpecials(), budget=100, config=cfg)
    assert got == {"thinking_tokens": None, "answer_tokens": None, "forced": False, "has_answer_delimiter": True}
    got = stats_from_text(text, CharTokenizer(), budget=100, config=cfg)  # the answer cannot hold it: the last
    assert (got["thinking_tokens"], got["answer_tokens"], got["forced"]) == (11, 2, False)
