"""The paper's control baselines: exact instructions, placement in the user turn, step format."""

from __future__ import annotations

import pytest

from s1eval.budget import BudgetConfigError, parse_gen_kwargs
from s1eval.budget.control import add_instruction, instruction, parse_control
from tests.budget.fake import Script
from tests.budget.test_accounting import END, one


def test_instructions_are_the_papers_exact_strings():
    assert instruction(*parse_control("token:1024")) == "Think for up to 1024 tokens."
    assert instruction(*parse_control("step:16")) == "Think for up to 16 steps."
    assert instruction(*parse_control("class:long")) == (
        "Answer after a long amount of thinking. If you feel like you are finished early, spend the extra "
        "time trying to double-check your work until you are absolutely sure that you have the correct answer.")
    assert instruction(*parse_control("class:short")) == (
        "Answer after a short amount of thinking. Do not spend excessive time double-checking your work.")


@pytest.mark.parametrize("bad", ["tokens:5", "token:x", "token:0", "class:medium", "step"])
def test_invalid_controls_name_the_value_and_the_forms(bad):
    with pytest.raises(BudgetConfigError, match=f"control={bad!r} is invalid: expected token:N, step:N"):
        parse_gen_kwargs({"control": bad})


def test_instruction_goes_into_the_templated_user_turn(tiny_ends):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_ends)
    context = tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], tokenize=False,
                                      add_generation_prompt=True)
    expected = tok.apply_chat_template([{"role": "user", "content": "What is 2+2?\n\nThink for up to 64 tokens."}],
                                       tokenize=False, add_generation_prompt=True)
    assert add_instruction(context, "Think for up to 64 tokens.", tok) == expected
    assert (add_instruction("What is 2+2?", "Think for up to 64 tokens.", tok)
            == "What is 2+2?\n\nThink for up to 64 tokens.")


def test_step_conditional_format_counts_down_and_stops_at_im_start_0():
    cfg, _ = parse_gen_kwargs({"control": "step:2"})
    assert (cfg.thinking_start, cfg.until_thinking) == ("<|im_start|>2 steps left", ("<|im_start|>0",))
    # the fake model writes one step, the countdown line, a second step, then `<|im_start|>0`
    steps = "\nadd<|im_start|>1 steps left\ncheck"
    r, engine = one({"control": "step:2", "max_tokens_thinking": 200},
                    Script(rounds=[1], filler=steps, stop="<|im_start|>0"))
    assert r.text == "<|im_start|>2 steps left" + steps + END + "42"  # the single <|im_start|> did not stop it
    assert r.stats.rounds == 1 and not r.stats.forced
    assert r.stats.thinking_tokens == len(engine.tok.encode(steps))  # the 2-token stop is not thinking
