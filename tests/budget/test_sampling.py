"""The typed sampling object: parsing, greedy resolution, the thinking overrides, the three backend
translations and the table of what each backend refuses (s1eval.budget.sampling)."""

from __future__ import annotations

import dataclasses

import pytest

from s1eval.budget import BudgetConfigError
from s1eval.budget.sampling import (
    GREEDY,
    NEUTRAL,
    PASSED_THROUGH,
    PENALTIES,
    REFUSED,
    SAMPLING_PARAMS,
    Sampling,
    accepted_keys,
    check_overrides,
    parse_sampling,
    to_openai,
    to_transformers,
    to_vllm,
)


def lm_eval_rule(kwargs):
    """lm-eval's convention, written out independently: greedy unless do_sample is not False and the
    temperature is positive."""
    return kwargs.get("do_sample") is False or float(kwargs.get("temperature") or 0.0) <= 0.0


# ------------------------------------------------------------------------------------------------ parsing
def test_parse_types_the_values_and_keeps_unset_keys_unset():
    s = parse_sampling({"temperature": "0.7", "top_p": 1, "top_k": 20.0, "min_p": 0, "repetition_penalty": 1.1,
                        "presence_penalty": None, "do_sample": True})
    assert s == Sampling(temperature=0.7, top_p=1.0, top_k=20, min_p=0.0, repetition_penalty=1.1)
    assert (type(s.temperature), type(s.top_p), type(s.top_k)) == (float, float, int)
    assert s.presence_penalty is None and s.frequency_penalty is None and s.logit_bias is None
    assert not s.greedy


@pytest.mark.parametrize("kwargs, fragment", [
    ({"temperature": "hot"}, "gen_kwargs temperature='hot' is invalid: expected a number."),
    ({"top_p": True}, "gen_kwargs top_p=True is invalid: expected a number."),
    ({"top_k": 2.5}, "gen_kwargs top_k=2.5 is invalid: expected a whole number."),
    ({"top_k": [5]}, "gen_kwargs top_k=[5] is invalid: expected a number."),
    ({"do_sample": "yes"}, "gen_kwargs do_sample='yes' is invalid: expected true or false."),
    ({"do_sample": 0}, "gen_kwargs do_sample=0 is invalid: expected true or false."),
    ({"logit_bias": [5, 1.0]}, "gen_kwargs logit_bias=[5, 1.0] is invalid: expected a mapping of token id to bias."),
])
def test_a_value_of_the_wrong_type_fails_naming_the_key(kwargs, fragment):
    with pytest.raises(BudgetConfigError) as err:
        parse_sampling(kwargs)
    assert str(err.value) == fragment


def test_keys_that_are_not_sampling_keys_are_a_programming_error():
    # the backend's key check (base._s1_engine_kwargs) removes until and max_gen_toks and refuses the rest
    with pytest.raises(ValueError, match="not sampling keys: max_gen_toks"):
        parse_sampling({"temperature": 0.0, "max_gen_toks": 10})


def test_thinking_overrides_are_typed_and_name_the_key_as_written():
    assert check_overrides({"temperature": "0.7", "do_sample": True}) == {"temperature": 0.7, "do_sample": True}
    with pytest.raises(BudgetConfigError, match=r"gen_kwargs top_k_thinking='many' is invalid"):
        check_overrides({"top_k": "many"})


def test_logit_bias_is_passed_through_in_order_and_the_object_stays_hashable():
    s = parse_sampling({"temperature": 0.0, "logit_bias": {5: 2.5, "440": 7.0}})
    assert s.logit_bias == ((5, 2.5), ("440", 7.0)) and s.greedy
    assert len({s, parse_sampling({"temperature": 0.0, "logit_bias": {5: 2.5, "440": 7.0}}), GREEDY}) == 2


# ------------------------------------------------------------------------------------------------ greedy
@pytest.mark.parametrize("kwargs", [
    {}, {"temperature": 0.7}, {"temperature": 0.7, "do_sample": False}, {"temperature": 0.7, "do_sample": True},
    {"do_sample": True}, {"do_sample": True, "temperature": 0.0}, {"do_sample": False, "temperature": 0.0},
    {"temperature": -1}, {"temperature": 0}, {"temperature": None, "do_sample": True}, {"top_p": 0.9, "top_k": 5},
])
def test_greedy_is_resolved_once_by_lm_evals_rule(kwargs):
    s = parse_sampling(kwargs)
    assert s.greedy is lm_eval_rule(kwargs)
    assert dataclasses.replace(s, top_p=0.5).greedy is s.greedy  # a resolved field, not recomputed


def test_lm_evals_normalized_greedy_kwargs_give_one_sampling():
    # what normalize_gen_kwargs makes of a greedy task, and a bare temperature 0: the same decoding
    assert parse_sampling({"do_sample": False, "temperature": 0.0}) == parse_sampling({"temperature": 0})
    assert Sampling() == GREEDY and GREEDY.greedy


def test_the_constructor_resolves_greedy_from_the_temperature_and_refuses_a_contradiction():
    assert not Sampling(temperature=0.7).greedy and Sampling(temperature=0.7, greedy=True).greedy
    assert Sampling(temperature=0.0).greedy and Sampling(top_p=0.5).greedy
    with pytest.raises(ValueError, match="a sampled Sampling needs a temperature > 0"):
        Sampling(temperature=0.0, greedy=False)


# ------------------------------------------------------------------------------------------------ overrides
@pytest.mark.parametrize("base, overrides", [
    ({"do_sample": False, "temperature": 0.0}, {"temperature": 0.7}),  # temperature_thinking alone samples
    ({"do_sample": False, "temperature": 0.0}, {"temperature": 0.0}),
    ({"do_sample": False, "temperature": 0.0}, {"do_sample": True}),  # but do_sample_thinking needs a temperature
    ({"do_sample": False, "temperature": 0.0}, {"do_sample": True, "temperature": 1.0}),
    ({"do_sample": False, "temperature": 0.7}, {"do_sample": True}),
    ({"do_sample": False, "temperature": 0.7}, {"top_p": 0.9}),  # stays greedy
    ({"do_sample": True, "temperature": 0.7}, {"do_sample": False}),
    ({"do_sample": True, "temperature": 0.7}, {"temperature": 0.0}),
    ({"do_sample": True, "temperature": 0.7}, {"top_k": 5, "repetition_penalty": 1.2}),
    ({"do_sample": True, "temperature": 0.7}, {"temperature": 1.0, "do_sample": False}),
    ({"temperature": 0.7}, {"temperature": None}),
])
def test_thinking_overrides_resolve_greedy_as_the_merged_kwargs_would(base, overrides):
    merged = {**base, **overrides}
    if "temperature" in overrides and "do_sample" not in overrides:  # the fork's rule for temperature_thinking
        merged["do_sample"] = float(overrides["temperature"] or 0) > 0
    got = parse_sampling(base).override(overrides)
    assert got.greedy is lm_eval_rule(merged)
    for key in ("temperature", "top_p", "top_k", "repetition_penalty"):
        assert getattr(got, key) == merged.get(key), key


def test_no_overrides_keep_the_very_object():
    s = parse_sampling({"temperature": 0.7})
    assert s.override({}) is s


# ------------------------------------------------------------------------------------------------ translations
PENALIZED_GREEDY = parse_sampling({"do_sample": False, "temperature": 0.7, "top_p": 0.5, "top_k": 3,
                                   "repetition_penalty": 2.0, "presence_penalty": 0.5})
SAMPLED = parse_sampling({"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 20, "min_p": 0.05,
                          "repetition_penalty": 1.1, "presence_penalty": 0.2, "frequency_penalty": 0.3})


def test_greedy_is_greedy_with_its_penalties_on_every_backend():
    # the contract the backends' parity tests check: no sampling parameter of a greedy request reaches an engine
    assert to_vllm(GREEDY) == {"temperature": 0.0}
    assert to_transformers(GREEDY) == {"do_sample": False}
    assert to_openai(GREEDY) == {**NEUTRAL, "temperature": 0.0}
    assert to_vllm(PENALIZED_GREEDY) == {"temperature": 0.0, "repetition_penalty": 2.0, "presence_penalty": 0.5}
    assert to_transformers(PENALIZED_GREEDY) == {"do_sample": False, "repetition_penalty": 2.0}
    assert to_openai(PENALIZED_GREEDY) == {**NEUTRAL, "temperature": 0.0, "repetition_penalty": 2.0,
                                           "presence_penalty": 0.5}


def test_a_sampled_request_gets_what_it_sets_on_every_backend():
    assert to_vllm(SAMPLED) == {"temperature": 0.7, "top_p": 0.9, "top_k": 20, "min_p": 0.05,
                                "repetition_penalty": 1.1, "presence_penalty": 0.2, "frequency_penalty": 0.3}
    # transformers has no presence or frequency penalty (refused by s1hf's key check before this)
    assert to_transformers(SAMPLED) == {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 20,
                                        "min_p": 0.05, "repetition_penalty": 1.1}
    assert to_openai(SAMPLED) == {"temperature": 0.7, "top_p": 0.9, "top_k": 20, "min_p": 0.05,
                                  "repetition_penalty": 1.1, "presence_penalty": 0.2, "frequency_penalty": 0.3}


def test_unset_keys_stay_unset_for_vllm_and_transformers_and_neutral_for_a_server():
    s = parse_sampling({"temperature": 1.0, "top_k": 5})
    assert to_vllm(s) == {"temperature": 1.0, "top_k": 5}
    assert to_transformers(s) == {"do_sample": True, "temperature": 1.0, "top_k": 5}
    assert to_openai(s) == {**NEUTRAL, "temperature": 1.0, "top_k": 5}


def test_only_the_openai_translation_passes_logit_bias_through():
    s = parse_sampling({"temperature": 0.0, "logit_bias": {5: 2.5, "440": 7.0}})
    assert to_openai(s)["logit_bias"] == {5: 2.5, "440": 7.0}
    assert "logit_bias" not in to_vllm(s) and "logit_bias" not in to_transformers(s)
    assert "logit_bias" not in to_openai(GREEDY)


# ------------------------------------------------------------------------------------------------ refusals
def test_the_refusal_table_gives_each_backend_its_keys():
    assert accepted_keys("s1hf") == (("temperature", "top_p", "top_k", "min_p", "do_sample", "repetition_penalty"), ())
    assert accepted_keys("s1vllm") == (SAMPLING_PARAMS, ())
    assert accepted_keys("s1api") == (SAMPLING_PARAMS, ("logit_bias",))
    for backend, refused in REFUSED.items():
        assert set(refused) <= set(SAMPLING_PARAMS + PASSED_THROUGH), backend
        assert all(reason.strip() for reason in refused.values()), backend
    assert set(PENALTIES) <= set(SAMPLING_PARAMS) and set(NEUTRAL) <= set(SAMPLING_PARAMS)
    with pytest.raises(ValueError, match="no sampling table for backend 's1x'; known: s1hf, s1vllm, s1api"):
        accepted_keys("s1x")


def test_the_backends_key_checks_read_the_table_and_give_its_reasons():
    pytest.importorskip("lm_eval")
    from s1eval.models.vllm import S1VLLM

    with pytest.raises(BudgetConfigError) as err:
        S1VLLM._s1_engine_kwargs({"until": [], "max_gen_toks": 5, "logit_bias": {"5": 1.0}})
    assert str(err.value).startswith("s1vllm does not use gen_kwargs logit_bias. It takes until, max_gen_toks, "
                                     "the sampling keys " + ", ".join(SAMPLING_PARAMS) + " and the budget-forcing")
    assert str(err.value).endswith(f"Refused here: logit_bias ({REFUSED['s1vllm']['logit_bias']}).")
    # a value of the wrong type fails in the same check, before the model is built (s1eval sweep calls it)
    with pytest.raises(BudgetConfigError, match="gen_kwargs top_p='high' is invalid"):
        S1VLLM._s1_engine_kwargs({"until": [], "max_gen_toks": 5, "top_p": "high"})
    assert S1VLLM._s1_engine_kwargs({"until": [], "max_gen_toks": 5, "presence_penalty": 0}) == {
        "until": [], "max_gen_toks": 5}  # neutral: dropped as a no-op


def test_request_fields_are_parsed_once_ignoring_the_other_request_fields():
    # s1data's engine client holds OpenAI request fields
    from s1eval.budget import Continuation
    from s1eval.budget.sampling import from_mapping

    s = from_mapping({"temperature": 0.05, "top_p": 0.9, "stop": ["x"]})
    assert s == Sampling(temperature=0.05, top_p=0.9) and not s.greedy
    assert from_mapping({"temperature": 0.0}) == Sampling(temperature=0.0)
    assert Continuation(key=0, token_ids=(1,), max_new=4, stop_token_ids=frozenset()).sampling is GREEDY
