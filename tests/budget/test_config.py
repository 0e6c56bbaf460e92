"""Generation-kwarg parsing and context fitting."""

from __future__ import annotations

import pytest

from s1eval.budget import BudgetConfig, BudgetConfigError, ContextError, fit_generation, parse_gen_kwargs

# The original fork's eval/commands.sh budget-forcing line, as lm-eval parses it.
FORK_LINE = {"max_gen_toks": 32768, "max_tokens_thinking": "auto", "thinking_n_ignore": 2,
             "thinking_n_ignore_str": "Wait", "do_sample": False, "until": []}


def test_fork_kwargs_parse_and_ours_never_reach_the_engine():
    cfg, rest = parse_gen_kwargs(FORK_LINE)
    assert cfg.max_tokens_thinking == "auto" and cfg.thinking_n_ignore == 2
    assert cfg.thinking_n_ignore_str == "Wait" and cfg.ignore_given
    assert cfg.thinking_start == "<|im_start|>think" and cfg.until_thinking == ("<|im_start|>",)
    assert rest == {"max_gen_toks": 32768, "do_sample": False, "until": []}


def test_every_fork_key_is_accepted():
    cfg, _ = parse_gen_kwargs({
        "max_tokens_thinking": "512", "thinking_n_ignore": "1", "thinking_n_ignore_str": "Hmm",
        "thinking_start": "<|im_start|>think", "thinking_end": "<|im_start|>answer",
        "until_thinking": "<|im_start|>", "until_thinking_2": "</s>", "temperature_thinking": 0.7,
    })
    assert cfg.max_tokens_thinking == 512 and cfg.until_thinking == ("<|im_start|>", "</s>")
    assert cfg.thinking_sampling == {"temperature": 0.7}


def test_unset_keys_take_the_budget_configs_field_defaults():
    # the defaults are written in BudgetConfig's fields only; the parser passes only what was given
    cfg, _ = parse_gen_kwargs({"max_tokens_thinking": 5})
    assert cfg == BudgetConfig(max_tokens_thinking=5)
    cfg, _ = parse_gen_kwargs({"max_tokens_thinking": 5, "delimiters": "think_tags"})
    assert cfg == BudgetConfig(max_tokens_thinking=5, delimiters="think_tags", thinking_start="<think>",
                               thinking_end="</think>", until_thinking=("</think>",))


def test_rejection_sample_alone_switches_budget_forcing_on():
    cfg, _ = parse_gen_kwargs({"rejection_sample": True, "max_tokens_thinking": 100})
    assert cfg is not None and cfg.rejection_sample


def test_think_tags_preset_is_explicit():
    cfg, _ = parse_gen_kwargs({"max_tokens_thinking": 10, "delimiters": "think_tags"})
    assert (cfg.thinking_start, cfg.thinking_end, cfg.until_thinking) == ("<think>", "</think>", ("</think>",))
    assert cfg.forced_end == "</think>\nFinal Answer:"


def test_no_thinking_kwargs_means_plain_generation():
    cfg, rest = parse_gen_kwargs({"temperature": 0, "until": ["x"]})
    assert cfg is None and rest == {"temperature": 0, "until": ["x"]}


@pytest.mark.parametrize("kwargs, fragment", [
    ({"max_token_thinking": 5}, "Did you mean max_tokens_thinking"),
    ({"thinking_budget": 5}, "Allowed keys: max_tokens_thinking"),
    ({"max_tokens_thinking": "lots"}, "max_tokens_thinking='lots' is invalid: expected an integer"),
    ({"max_tokens_thinking": -1}, "expected an integer >= 0"),
    ({"thinking_n_ignore": 1.5}, "thinking_n_ignore=1.5 is invalid"),
    ({"max_tokens_thinking": 5, "delimiters": "r1"}, "expected s1 or think_tags"),
    ({"max_tokens_thinking": 5, "min_tokens_method": "x"}, "expected append or mask"),
    ({"max_tokens_thinking": 5, "min_tokens_thinking": 9}, "min_tokens_thinking=9 exceeds"),
    ({"rejection_sample": True}, "needs a budget"),
    ({"max_tokens_thinking": 5, "rejection_sample": "maybe"}, "expected true or false"),
    ({"delimiters": "s1"}, "only apply to budget forcing"),
    ({"max_tokens_thinking": 5, "temperature_thinking": "warm"}, "temperature_thinking='warm' is invalid"),
])
def test_invalid_kwargs_name_the_value_and_the_fix(kwargs, fragment):
    with pytest.raises(BudgetConfigError, match=fragment.replace("(", r"\(")):
        parse_gen_kwargs(kwargs)


def test_quoted_ignore_string_keeps_its_leading_space():
    # lm-eval strips values but keeps quoted ones verbatim (handle_arg_string)
    from lm_eval.utils import simple_parse_args_string

    parsed = simple_parse_args_string("max_tokens_thinking=8,thinking_n_ignore_str=' Wait'")
    cfg, _ = parse_gen_kwargs(parsed)
    assert cfg.thinking_n_ignore_str == " Wait"


@pytest.mark.parametrize("context, expected", [(32768, 32618), (32000, 31850), (2048, 1898)])
def test_generation_shrinks_instead_of_cutting_the_prompt(context, expected):
    assert fit_generation(150, 32700, context) == expected


def test_prompt_longer_than_the_context_is_an_error_not_a_cut():
    with pytest.raises(ContextError, match="prompt of 2100 tokens does not fit the context of 2048"):
        fit_generation(2100, 32700, 2048)
