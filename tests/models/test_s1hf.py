"""s1hf on the tiny model: fast path vs reference path, parity with lm-eval's `hf`, statistics."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from lm_eval.api.instance import Instance  # noqa: E402

from s1eval.budget import stats_from_text  # noqa: E402

BF = {"max_gen_toks": 300, "max_tokens_thinking": 40, "thinking_n_ignore": 2,
      "thinking_n_ignore_str": "Wait", "until": [], "do_sample": False}
QUESTIONS = ["What is 2+2?", "Compute 2+2.", "Add 40 and 2?", "Sum of 20, 20 and 2."]


def s1hf(path, **kw):
    from s1eval.models.hf import S1HFLM

    return S1HFLM(pretrained=path, max_length=1024, **kw)


def chat(lm, question):
    return lm.tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                            tokenize=False, add_generation_prompt=True)


def instances(lm, gen_kwargs, questions=QUESTIONS, template=True, task="t"):
    ctx = [chat(lm, q) if template else q for q in questions]
    return [Instance("generate_until", {}, (c, dict(gen_kwargs)), idx=0, metadata=(task, i, 1))
            for i, c in enumerate(ctx)]


def run_with_stats(lm, reqs):
    lm.s1_stats.clear()
    texts = lm.generate_until(reqs, disable_tqdm=True)
    rows = {r["doc_id"]: r for r in lm.s1_stats.pop_task(reqs[0].task_name)}
    return texts, [rows[i] for i in range(len(reqs))]


@pytest.mark.parametrize("gen_kwargs", [BF, {**BF, "max_tokens_thinking": 12}], ids=["ignores", "forced"])
def test_cache_reuse_gives_the_reference_tokens(tiny_ends, gen_kwargs):
    fast, ref = s1hf(tiny_ends), s1hf(tiny_ends, reuse_cache=False, batch_size=3)
    fast_texts, fast_stats = run_with_stats(fast, instances(fast, gen_kwargs))
    ref_texts, ref_stats = run_with_stats(ref, instances(ref, gen_kwargs))
    assert fast_texts == ref_texts
    strip = lambda rows: [{k: v for k, v in r.items() if k != "cached_tokens"} for r in rows]  # noqa: E731
    assert strip(fast_stats) == strip(ref_stats)
    # the paths under test really ran: rounds ended early, ignores appended, the cache was reused
    if gen_kwargs["max_tokens_thinking"] == 40:
        assert all(r["ignores_used"] == 2 and r["rounds"] == 3 and not r["forced"] for r in fast_stats)
        assert all(t.count("Wait") == 2 for t in fast_texts)
    else:
        assert all(r["forced"] and r["thinking_tokens"] <= 12 for r in fast_stats)
    assert all(r["cached_tokens"] > 0 for r in fast_stats if r["rounds"] > 1 or r["forced"])
    assert all(r["cached_tokens"] == 0 for r in ref_stats)
    assert fast._engine.prefill_tokens < ref._engine.prefill_tokens


def test_never_ending_model_is_forced_at_exactly_the_budget(tiny_never):
    lm = s1hf(tiny_never)
    texts, stats = run_with_stats(lm, instances(lm, {**BF, "max_tokens_thinking": 33}))
    assert all(r["thinking_tokens"] == 33 and r["forced"] and r["rounds"] == 1 for r in stats)
    assert all("\n<|im_start|>answer\nFinal Answer:" in t or "<|im_start|>answer\nFinal Answer:" in t for t in texts)


def test_min_tokens_mask_suppresses_ends_inside_the_engine(tiny_ends):
    lm = s1hf(tiny_ends)
    kw = {**BF, "thinking_n_ignore": 0, "min_tokens_thinking": 25, "min_tokens_method": "mask"}
    kw.pop("thinking_n_ignore_str")
    _, stats = run_with_stats(lm, instances(lm, kw))
    assert all(r["thinking_tokens"] >= 25 and r["rounds"] == 1 and r["min_suppressed"] == 0 for r in stats)


# until_thinking "u": one token that the tiny model writes only inside " sum", 5 or 8 tokens into its thinking
STOP_IN_MIN = {**BF, "until_thinking": "u", "thinking_n_ignore": 0, "min_tokens_method": "mask"}


def without_cached(stats):
    return [{k: v for k, v in r.items() if k != "cached_tokens"} for r in stats]


@pytest.mark.parametrize("min_tokens", [9, 14])
def test_a_thinking_stop_string_inside_the_first_min_tokens_does_not_end_the_round(tiny_ends, min_tokens):
    """vLLM's min_tokens contract (Continuation): a stop string counts only where it ends after the first
    min_new tokens. lm-eval's stop_sequences_criteria ended the round at the first " sum" regardless."""
    kw = {**STOP_IN_MIN, "min_tokens_thinking": min_tokens}
    fast, ref = s1hf(tiny_ends), s1hf(tiny_ends, reuse_cache=False, batch_size=3)
    texts, stats = run_with_stats(fast, instances(fast, kw))
    ref_texts, ref_stats = run_with_stats(ref, instances(ref, kw))
    assert texts == ref_texts and without_cached(stats) == without_cached(ref_stats)
    for text, r in zip(texts, stats):
        thinking = text.split("<|im_start|>answer")[0]
        assert r["thinking_tokens"] >= min_tokens and r["rounds"] == 1 and r["finish_reasons"][0] == "stop_string"
        # the " sum" inside the first min_tokens stays; the one that ended the round is dropped with its stop
        assert thinking.count(" sum") >= 1 and thinking.endswith(" the"), thinking


def test_without_thinking_kwargs_text_equals_lm_eval_hf_byte_for_byte(tiny_ends):
    from lm_eval.models.huggingface import HFLM

    ours = s1hf(tiny_ends)
    theirs = HFLM(pretrained=tiny_ends, dtype="float32", device="cpu", batch_size=1, max_length=1024)
    cases = [({"until": ["\n\n"], "max_gen_toks": 40, "do_sample": False}, True),
             ({"until": [" the"], "max_gen_toks": 40, "do_sample": False}, True),
             ({"until": [], "max_gen_toks": 25, "do_sample": False}, False)]
    questions = [q + "<|im_start|>think" for q in QUESTIONS] + QUESTIONS
    compared = 0
    for gen_kwargs, template in cases:
        reqs = instances(ours, gen_kwargs, questions, template=template)
        mine, ref = ours.generate_until(reqs, disable_tqdm=True), theirs.generate_until(reqs, disable_tqdm=True)
        assert mine == ref
        compared += sum(len(t) > 0 for t in mine)
    assert compared >= 8  # non-empty texts were really compared


def test_stats_from_text_agrees_with_the_engine(tiny_ends, tiny_never):
    from s1eval.budget import parse_gen_kwargs

    for path, kw in [(tiny_ends, BF), (tiny_never, {**BF, "max_tokens_thinking": 30})]:
        lm = s1hf(path)
        texts, stats = run_with_stats(lm, instances(lm, kw))
        for text, row in zip(texts, stats):
            again = stats_from_text(text, lm.tokenizer, budget=row["budget"], config=parse_gen_kwargs(kw)[0])
            assert again["thinking_tokens"] == row["thinking_tokens"]
            assert again["forced"] == row["forced"]
            assert again["answer_tokens"] == row["answer_tokens"]


def test_think_end_token_returns_only_the_answer(tiny_ends):
    lm = s1hf(tiny_ends, think_end_token="<|im_start|>answer")
    texts, stats = run_with_stats(lm, instances(lm, BF))
    assert all("Wait" not in t and "42" in t for t in texts)
    assert all(r["ignores_used"] == 2 for r in stats)


def test_unknown_model_args_fail_with_the_valid_list(tiny_ends):
    with pytest.raises(ValueError,
                       match=r"unknown model_args: max_lenght \(did you mean max_length\?\).*Valid: pretrained"):
        s1hf(tiny_ends, max_lenght=2)


@pytest.mark.parametrize("gen_kwargs,message", [
    ({**BF, "temprature": 0.6, "do_sample": True},
     r"s1hf does not use gen_kwargs temprature \(did you mean temperature\?\)"),
    ({"max_gen_toks": 20, "until": [], "seed": 3}, r"gen_kwargs seed\. Seeds are a model arg \(--model_args seed=N\)"),
    ({**BF, "logit_bias": {"5": 1.0}},
     r"does not use gen_kwargs logit_bias\. It takes until, max_gen_toks, the sampling keys temperature"),
    ({**BF, "stop": ["x"]}, r"does not use gen_kwargs stop \(did you mean until\?\)"),
    ({**BF, "num_beams": 10}, r"does not use gen_kwargs num_beams\."),
], ids=["typo", "seed", "backend-specific", "other-api", "beam-search"])
def test_a_gen_kwarg_nothing_uses_fails_before_generating(tiny_ends, gen_kwargs, message):
    from s1eval.budget.config import BudgetConfigError

    lm = s1hf(tiny_ends)
    reqs = instances(lm, gen_kwargs)
    called = []
    lm._engine.continue_batch = lambda conts: called.append(conts)
    with pytest.raises(BudgetConfigError, match=message):
        lm.generate_until(reqs, disable_tqdm=True)
    assert not called


PENALIZED = {**BF, "repetition_penalty": 2.0}


def test_greedy_decoding_honours_a_repetition_penalty_and_refuses_penalties_transformers_lacks(tiny_ends):
    from s1eval.budget.config import BudgetConfigError

    lm = s1hf(tiny_ends)
    plain, plain_stats = run_with_stats(lm, instances(lm, BF))
    penalized, stats = run_with_stats(lm, instances(lm, PENALIZED))
    # the penalty reshapes the argmax of two of the four requests (a moderate one: s1api's soft
    # untexted-id mask still holds on the tiny_served model, tests/models/test_s1api.py)
    assert sum(t != p for t, p in zip(penalized, plain)) == 2
    assert all(r["ignores_used"] == 2 for r in stats)
    assert run_with_stats(lm, instances(lm, {**BF, "presence_penalty": 0.0}))[0] == plain  # neutral: a no-op
    for key in ("presence_penalty", "frequency_penalty_thinking"):
        with pytest.raises(BudgetConfigError, match=rf"s1hf does not use gen_kwargs {key}"):
            lm.generate_until(instances(lm, {**BF, key: 0.5}), disable_tqdm=True)


def test_num_beams_1_is_accepted_as_the_no_op_it_is(tiny_ends):
    from s1eval.budget.sampling import parse_sampling

    lm = s1hf(tiny_ends)
    seen = []
    original = lm._engine.continue_batch
    lm._engine.continue_batch = lambda conts: seen.extend(conts) or original(conts)
    texts, _ = run_with_stats(lm, instances(lm, {**BF, "num_beams": 1}))
    want, _ = run_with_stats(s1hf(tiny_ends), instances(lm, BF))
    # num_beams never reaches the engine: every continuation samples exactly as BF alone does (greedy)
    assert texts == want and seen and {c.sampling for c in seen} == {parse_sampling({"do_sample": False,
                                                                                    "temperature": 0.0})}


S1_PROMPT = ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
             "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<|im_start|>think")


def test_the_exact_s1_prompt_reaches_the_engine(tiny_ends):
    lm = s1hf(tiny_ends)
    seen = []
    original = lm._engine.continue_batch
    lm._engine.continue_batch = lambda conts: seen.extend(conts) or original(conts)
    run_with_stats(lm, instances(lm, BF, ["What is 2+2?"]))
    first = lm.tokenizer.decode(list(seen[0].token_ids), skip_special_tokens=False)
    assert first == S1_PROMPT


def test_budget_forcing_without_chat_template_warns_loudly(tiny_ends, caplog):
    lm = s1hf(tiny_ends)
    with caplog.at_level("WARNING", logger="s1eval.models.base"):
        run_with_stats(lm, instances(lm, BF, ["What is 2+2?"], template=False))
    assert any("--apply_chat_template" in r.message for r in caplog.records)
    caplog.clear()
    lm = s1hf(tiny_ends)
    with caplog.at_level("WARNING", logger="s1eval.models.base"):
        run_with_stats(lm, instances(lm, BF, ["What is 2+2?"], template=True))
    assert not any("--apply_chat_template" in r.message for r in caplog.records)


def test_repeated_sampled_requests_are_different_samples_and_reproducible(tmp_path):
    """lm-eval repeats a request by listing the same Instance k times (repeats=64 for maj@k)."""
    from lm_eval.api.instance import Instance

    from s1eval.testing.tiny_model import build_tiny_model

    # thinking rounds end at a sampled step (geometric lengths) under temperature 1
    sampled = str(build_tiny_model(tmp_path / "sampled", "never", end_logit=-2.0))
    lm = s1hf(sampled)
    kw = {"max_gen_toks": 40, "max_tokens_thinking": 16, "do_sample": True, "temperature": 1.0, "until": []}
    inst = Instance("generate_until", {}, (chat(lm, "What is 2+2?"), kw), idx=0, metadata=("t_maj", 0, 64))
    first = lm.generate_until([inst] * 64, disable_tqdm=True)
    again = lm.generate_until([inst] * 8, disable_tqdm=True)
    assert again == first[:8]  # seeds derive from (seed, task, doc_id, repeat, round): a rerun reproduces
    assert len(set(first)) >= 8  # 64 repeats are 64 samples, not copies of one
    other_seed = s1hf(sampled, seed=99).generate_until([inst] * 4, disable_tqdm=True)
    assert other_seed != first[:4]


def test_token_conditional_control_puts_the_instruction_in_the_user_turn(tiny_ends):
    lm = s1hf(tiny_ends)
    seen = []
    original = lm._engine.continue_batch
    lm._engine.continue_batch = lambda conts: seen.extend(conts) or original(conts)
    _, stats = run_with_stats(lm, instances(lm, {**BF, "control": "token:8", "max_tokens_thinking": 8,
                                                  "thinking_n_ignore": 0}, ["What is 2+2?"]))
    sent = lm.tokenizer.decode(list(seen[0].token_ids), skip_special_tokens=False)
    assert sent == S1_PROMPT.replace("What is 2+2?", "What is 2+2?\n\nThink for up to 8 tokens.")
    assert stats[0]["thinking_tokens"] <= 8


@pytest.mark.slow
def test_device_and_batch_size_in_model_args_work_with_the_real_lm_eval_command(tiny_ends, tmp_path):
    """lm-eval 0.4.13 passes batch_size and device itself: in model_args they failed with "got multiple
    values for keyword argument"; the model_args value now wins over lm-eval's defaults."""
    import json

    from tests.test_lm_eval_cli import BIN, lm_eval_args, run

    run([str(BIN / "lm_eval"), *lm_eval_args(tiny_ends, tmp_path, limit=1, model_args=",device=cpu,batch_size=2")])
    [results] = tmp_path.rglob("results_*.json")
    record = json.loads(results.read_text())["config"]["s1_run_record"]
    assert (record["batch_size"], record["device"], record["reuse_cache"]) == (2, "cpu", False)


@pytest.mark.parametrize("backend", ["s1hf", "s1vllm", "s1api"])
def test_a_model_arg_given_again_with_another_value_on_the_command_line_is_refused(backend):
    from lm_eval.api.registry import get_model

    cls = get_model(backend)  # registered by s1eval's autoload hook
    with pytest.raises(ValueError, match=rf"{backend} got batch_size twice with different values: "
                                         r"--model_args batch_size=2 and --batch_size 4\. Give it once"):
        cls.create_from_arg_string("pretrained=x,batch_size=2", {"batch_size": "4", "device": None})
    with pytest.raises(ValueError, match=r"--model_args device=cpu and --device cuda:1"):
        cls.create_from_arg_obj({"pretrained": "x", "device": "cpu"}, {"batch_size": 1, "device": "cuda:1"})


def test_the_untexted_mask_gives_the_tokens_of_suppress_tokens_without_an_isin_per_token(tiny_untexted, monkeypatch):
    """The mask was GenerationConfig(suppress_tokens=...), which runs torch.isin over the whole vocabulary
    at every generated token (Qwen2.5: 152,064 rows); it is now built once and applied in place."""
    import torch
    from transformers import GenerationConfig, SuppressTokensLogitsProcessor

    from s1eval.models.hf_engine import UntextedMask

    lm = s1hf(tiny_untexted)
    mask = lm._engine.untexted_mask
    assert isinstance(mask, UntextedMask) and mask.texted == 400  # ids 400-447 have no tokenizer entry
    scores = torch.randn(3, 448)
    want = SuppressTokensLogitsProcessor(list(range(400, 448)))(None, scores.clone())
    assert torch.equal(mask(None, scores.clone()), want)

    calls = []
    real_isin = torch.isin

    def counting_isin(elements, test_elements, *args, **kwargs):
        if getattr(test_elements, "numel", lambda: 0)() == 48:  # a membership test against the untexted ids
            calls.append(1)
        return real_isin(elements, test_elements, *args, **kwargs)

    monkeypatch.setattr(torch, "isin", counting_isin)
    kw = {**BF, "max_tokens_thinking": 30}
    texts, stats = run_with_stats(lm, instances(lm, kw))
    assert calls == [] and all(r["thinking_tokens"] == 30 and r["untexted_tokens"] == 0 for r in stats)

    # the same tokens as the suppress_tokens path, greedy and sampled (top-k after the mask, as before)
    prompt = torch.tensor([lm.tok_encode(chat(lm, "What is 2+2?") + "<|im_start|>think")])
    for sampling in ({"do_sample": False}, {"do_sample": True, "temperature": 1.5, "top_k": 5}):
        outs = []
        for processors, suppress in (([mask], None), ([], list(range(400, 448)))):
            torch.manual_seed(3)
            gen = GenerationConfig(max_new_tokens=40, suppress_tokens=suppress, eos_token_id=[], pad_token_id=0,
                                   **sampling)
            outs.append(lm.model.generate(prompt, attention_mask=torch.ones_like(prompt), generation_config=gen,
                                          logits_processor=processors)[0, prompt.shape[1]:].tolist())
        assert outs[0] == outs[1] and len(outs[0]) == 40 and max(outs[0]) < 400, sampling


def test_min_new_stop_mask_gives_the_tokens_of_transformers_min_new_tokens(tiny_ends):
    """s1hf masks the stop ids of a round's first min_new tokens itself (transformers' processor does
    whole-vocabulary work at every token of the round): the same tokens, greedy and batched."""
    import torch
    from transformers import GenerationConfig

    from s1eval.models.hf_engine import MinNewStopMask

    lm = s1hf(tiny_ends)
    prompts = [lm.tok_encode(chat(lm, q) + "<|im_start|>think") for q in ("What is 2+2?", "Why?")]
    width = max(map(len, prompts))
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    stops = [398, 399]
    outs = []
    for ours in (True, False):
        gen = GenerationConfig(max_new_tokens=30, min_new_tokens=None if ours else 12, eos_token_id=stops,
                               pad_token_id=0, do_sample=False)
        processors = [MinNewStopMask(width, 12, stops)] if ours else []
        outs.append(lm.model.generate(ids, attention_mask=mask, generation_config=gen,
                                      logits_processor=processors)[:, width:].tolist())
    assert outs[0] == outs[1]
    # the mask mattered: each row stopped at a stop id after the minimum, not before it
    assert all(any(t in stops for t in row[12:]) and not any(t in stops for t in row[:12]) for row in outs[0])


def test_min_new_stop_mask_ignores_stop_ids_outside_the_logits():
    """transformers' MinNewTokensLengthLogitsProcessor ignores stop ids at or above the logits width (a
    tokenizer id the model's head lacks); the mask must too rather than raise IndexError."""
    import torch
    from transformers import MinNewTokensLengthLogitsProcessor

    from s1eval.models.hf_engine import MinNewStopMask

    ids = torch.zeros((2, 3), dtype=torch.long)
    stops = [1, 5, 8, 100]  # 8 and 100 are past a width of 8
    ours = MinNewStopMask(3, 2, stops)(ids, torch.zeros((2, 8)))
    theirs = MinNewTokensLengthLogitsProcessor(3, 2, stops)(ids, torch.zeros((2, 8)))
    assert torch.equal(ours, theirs)
    assert ours[0].isinf().nonzero().flatten().tolist() == [1, 5]
    assert not MinNewStopMask(3, 2, [8, 100])(ids, torch.zeros((2, 8))).isinf().any()  # none left: nothing masked
