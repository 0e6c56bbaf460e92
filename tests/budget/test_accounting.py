"""One test per row of the token-accounting table in s1eval/budget/machine.py (fake engine)."""

from __future__ import annotations

import random

import pytest

from s1eval.budget import RequestSpec, parse_gen_kwargs, run_requests
from s1eval.budget.codec import Codec
from s1eval.budget.sampling import parse_sampling
from tests.budget.fake import CharTokenizer, Script, ScriptedEngine

START, END = "<|im_start|>think", "<|im_start|>answer"
FORCED = "<|im_start|>answer\nFinal Answer:"
PROMPT = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"


def run(gen_kwargs, scripts, *, prompts=None, max_gen=1000, until=(), batch_size=1):
    tok = CharTokenizer()
    codec = Codec(tok, [tok.eos_token_id])
    cfg, rest = parse_gen_kwargs(gen_kwargs)
    sampling = parse_sampling({k: v for k, v in rest.items() if k not in ("max_gen_toks", "until")})
    prompts = prompts or [PROMPT] * len(scripts)
    max_gens = max_gen if isinstance(max_gen, list) else [max_gen] * len(prompts)
    specs = [
        RequestSpec(prompt_ids=tuple(tok.encode(p)), prompt_text=p, config=cfg, max_gen=g,
                    until=tuple(until), sampling=sampling, seed=7, doc_id=i)
        for i, (p, g) in enumerate(zip(prompts, max_gens))
    ]
    engine = ScriptedEngine(dict(enumerate(scripts)), batch_size=batch_size)
    return run_requests(specs, engine, codec), engine


def one(gen_kwargs, script, **kw):
    results, engine = run(gen_kwargs, [script], **kw)
    return results[0], engine


def test_dropped_stop_token_is_not_thinking():
    r, engine = one({"max_tokens_thinking": 100}, Script(rounds=[5]))
    assert r.stats.thinking_tokens == 5 and not r.stats.forced
    assert r.text == START + "xxxxx" + END + "42"
    assert r.stats.rounds == 1 and r.stats.finish_reasons == ["stop_token", "stop_token"]


def test_a_stop_that_is_not_one_added_token_is_matched_as_text():
    # "." is one ordinary token here; in a real tokenizer it can merge with a neighbour (Gemma's "$."), where
    # its id never appears: it goes to the engine as a stop string, while <|im_start|> (an added token) is an id.
    tok = CharTokenizer()
    r, engine = one({"max_tokens_thinking": 100, "until_thinking": "."}, Script(rounds=[3], stop="."))
    think = engine.log[0]
    assert think.stop_strings == (".",) and tok.ids["."] not in think.stop_token_ids
    assert r.text == START + "xxx" + END + "42" and r.stats.thinking_tokens == 3
    assert r.stats.finish_reasons[0] == "stop_string"
    _, engine = one({"max_tokens_thinking": 100}, Script(rounds=[3]))
    assert engine.log[0].stop_strings == () and tok.ids["<|im_start|>"] in engine.log[0].stop_token_ids


def test_eos_during_thinking_ends_thinking():
    r, _ = one({"max_tokens_thinking": 100}, Script(rounds=[4], stop="<|im_end|>"))
    assert r.stats.thinking_tokens == 4 and not r.stats.forced
    assert r.text == START + "xxxx" + END + "42"


def test_eos_during_thinking_is_suppressed_like_an_end():
    kw = {"max_tokens_thinking": 100, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Wait"}
    r, _ = one(kw, Script(rounds=[2, 3], stop="<|im_end|>"))
    assert r.stats.ignores_used == 1 and r.text == START + "xxWaitxxx" + END + "42"


def test_appended_ignore_string_counts_as_thinking():
    kw = {"max_tokens_thinking": 100, "thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"}
    r, _ = one(kw, Script(rounds=[5, 3, 2]))
    assert r.stats.thinking_tokens == 5 + 4 + 3 + 4 + 2
    assert r.stats.ignore_tokens == 8 and r.stats.ignores_used == 2 and r.stats.rounds == 3
    assert r.text == START + "xxxxxWaitxxxWaitxx" + END + "42"


def test_no_ignore_string_appends_nothing_but_still_continues():
    r, engine = one({"max_tokens_thinking": 100, "thinking_n_ignore": 1}, Script(rounds=[3, 2]))
    assert r.stats.thinking_tokens == 5 and r.stats.ignores_used == 1 and r.stats.rounds == 2
    # fork parity: thinking_n_ignore given -> every thinking round generates >= 1 token
    think_conts = [c for c in engine.log if c.stop_token_ids != Codec(engine.tok, [engine.tok.eos_token_id]).eos_ids]
    assert think_conts and all(c.min_new == 1 for c in think_conts)


def test_budget_smaller_than_ignore_string_forces_the_end():
    kw = {"max_tokens_thinking": 7, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Wait"}
    r, _ = one(kw, Script(rounds=[5, 5]))
    assert r.stats.forced and r.stats.forced_reason == "no_room_for_ignore"
    assert r.stats.thinking_tokens == 5 and r.stats.ignores_used == 0
    assert r.text == START + "xxxxx" + "\n" + FORCED + "42"


def test_budget_exhausted_forces_end_with_newline_only_when_missing():
    r, _ = one({"max_tokens_thinking": 10}, Script(rounds=[50]))
    assert r.stats.thinking_tokens == 10 and r.stats.forced and r.stats.forced_reason == "budget"
    assert r.text == START + "x" * 10 + "\n" + FORCED + "42"
    r, _ = one({"max_tokens_thinking": 10}, Script(rounds=[50], filler="a\n"))
    assert r.text == START + "a\n" * 5 + FORCED + "42"  # thinking already ends in a newline
    assert r.stats.thinking_tokens == 10


def test_budget_hit_exactly_at_a_natural_end():
    # 5 thinking tokens + stop fit a budget of 6: natural end
    r, _ = one({"max_tokens_thinking": 6}, Script(rounds=[5]))
    assert not r.stats.forced and r.stats.thinking_tokens == 5
    # the stop would be token 6 of a budget of 5: never generated, thinking is forced
    r, _ = one({"max_tokens_thinking": 5}, Script(rounds=[5]))
    assert r.stats.forced and r.stats.thinking_tokens == 5


def test_zero_budget_skips_thinking_entirely():
    r, engine = one({"max_tokens_thinking": 0}, Script(rounds=[5]))
    assert r.stats.thinking_tokens == 0 and r.stats.rounds == 0 and r.stats.forced
    assert r.text == START + "\n" + FORCED + "42"
    assert len(engine.log) == 1  # only the answer phase reached the engine


def test_min_tokens_append_drops_end_and_appends_without_using_an_ignore():
    kw = {"max_tokens_thinking": 100, "min_tokens_thinking": 8, "thinking_n_ignore_str": "Wait"}
    r, _ = one(kw, Script(rounds=[3, 3]))
    assert r.stats.min_suppressed == 1 and r.stats.ignores_used == 0
    assert r.text == START + "xxxWaitxxx" + END + "42" and r.stats.thinking_tokens == 10


def test_min_tokens_mask_lets_the_engine_mask_ends():
    kw = {"max_tokens_thinking": 100, "min_tokens_thinking": 8, "min_tokens_method": "mask"}
    r, engine = one(kw, Script(rounds=[3]))
    assert engine.log[0].min_new == 8
    assert r.stats.thinking_tokens == 8 and r.stats.rounds == 1 and r.stats.min_suppressed == 0


def test_a_thinking_stop_string_inside_the_masked_tokens_is_thinking_and_the_one_that_ends_the_round_is_dropped():
    # min_new=4: the "." ending at tokens 2 and 4 do not count (vLLM's min_tokens); the one ending at token 6
    # ends the round and is the one dropped, not the first "." of the text
    kw = {"max_tokens_thinking": 100, "min_tokens_thinking": 4, "min_tokens_method": "mask", "until_thinking": "."}
    r, engine = one(kw, Script(rounds=[5], filler="a.", stop="."))
    assert engine.log[0].min_new == 4 and engine.log[0].stop_strings == (".",)
    assert r.text == START + "a.a.a" + END + "42"
    assert r.stats.thinking_tokens == 5 and r.stats.finish_reasons[0] == "stop_string" and not r.stats.forced


def test_rejection_sampling_resamples_until_it_fits_with_new_seeds():
    kw = {"max_tokens_thinking": 10, "rejection_sample": True, "temperature_thinking": 1.0}
    r, engine = one(kw, Script(rounds=[20, 15, 4]))
    assert r.stats.rejection_tries == 3 and r.stats.thinking_tokens == 4 and not r.stats.forced
    seeds = [c.seed for c in engine.log[:3]]
    assert len(set(seeds)) == 3 and engine.log[0].max_new == 11
    assert engine.log[0].sampling.temperature == 1.0 and not engine.log[0].sampling.greedy


def test_rejection_sampling_gives_up_after_the_cap():
    kw = {"max_tokens_thinking": 10, "rejection_sample": True, "rejection_max_tries": 2}
    r, _ = one(kw, Script(rounds=[20, 15, 4]))
    assert r.stats.forced and r.stats.forced_reason == "rejection_exhausted"
    assert r.stats.thinking_tokens == 10


def test_batch_whose_requests_end_in_different_rounds():
    kw = {"max_tokens_thinking": 12, "thinking_n_ignore": 2, "thinking_n_ignore_str": "W"}
    scripts = [Script(rounds=[2, 2, 2]), Script(rounds=[20]), Script(rounds=[3, 9, 1]), Script(rounds=[1, 1, 1])]
    results, engine = run(kw, scripts, batch_size=3)
    assert [r.stats.rounds for r in results] == [3, 1, 2, 3]
    assert [r.stats.forced for r in results] == [False, True, True, False]
    assert [r.stats.thinking_tokens for r in results] == [8, 12, 12, 5]
    assert results[1].text == START + "x" * 12 + "\n" + FORCED + "42"
    assert max(len(b) for b in engine.batches) == 3


def test_randomized_statistics_equal_a_recount_of_the_text_and_the_engine_log():
    """300 random configurations: every statistic equals what an independent recount finds in the response text
    (one token per character here) and in the engine's log, and the budget and ignore bounds hold."""
    rng = random.Random(0)
    tok = CharTokenizer()
    for _ in range(300):
        budget = rng.randint(0, 30)
        ignore = rng.choice(["Wait", "W", "Hmm,"])
        kw = {"max_tokens_thinking": budget, "thinking_n_ignore": rng.randint(0, 4), "thinking_n_ignore_str": ignore}
        if rng.random() < 0.3:
            kw["min_tokens_thinking"] = rng.randint(0, budget)
            kw["min_tokens_method"] = rng.choice(["append", "mask"])
        scripts = [Script(rounds=[rng.randint(0, 15) for _ in range(5)]) for _ in range(3)]
        results, engine = run(kw, scripts, batch_size=2)
        for key, r in enumerate(results):
            s = r.stats
            assert r.text.startswith(START), (kw, r.text)
            forced = FORCED in r.text
            thinking = r.text[len(START): r.text.index(FORCED if forced else END)]
            if forced and thinking.endswith("\n") and s.thinking_tokens == len(thinking) - 1:
                thinking = thinking[:-1]  # the newline the forced end put before its delimiter
            assert s.forced == forced and s.thinking_tokens == len(tok.encode(thinking)), (kw, r.text, s)
            appended = s.ignores_used + s.min_suppressed
            assert thinking.count(ignore) == appended and s.ignore_tokens == appended * len(ignore), (kw, r.text, s)
            # the answer phase stops at EOS only, thinking also at its end
            answer_stops = frozenset({tok.eos_token_id})
            assert s.rounds == sum(c.key == key and c.stop_token_ids != answer_stops for c in engine.log), (kw, s)
            assert s.thinking_tokens <= budget and s.ignores_used <= kw["thinking_n_ignore"], (kw, s)
            if not forced:  # a natural end comes only after every ignore and past the minimum
                assert s.ignores_used == kw["thinking_n_ignore"], (kw, s)
                assert s.thinking_tokens >= kw.get("min_tokens_thinking", 0), (kw, s)
            elif s.forced_reason == "budget":
                assert s.thinking_tokens == budget, (kw, s)


def test_until_strings_never_cut_thinking_but_cut_the_answer():
    r, _ = one({"max_tokens_thinking": 100}, Script(rounds=[3], filler="a.", answer="7.\nmore"),
               until=[".\n"])
    assert r.text == START + "a.a.a." + END + "7"
    assert r.answer_text == "7"


def test_plain_generation_without_thinking_kwargs():
    r, engine = one({"temperature": 0}, Script(answer="abc\n\ndef"), until=["\n\n"],
                    prompts=[PROMPT + START + "x" + END])
    assert r.text == "abc" and r.stats.rounds == 0 and len(engine.log) == 1
    assert engine.log[0].max_new == 1000


def test_start_delimiter_already_in_prompt_is_not_doubled():
    r, engine = one({"max_tokens_thinking": 100}, Script(rounds=[2]), prompts=[PROMPT + START + "\n"])
    sent = engine.tok.decode(engine.log[0].token_ids, skip_special_tokens=False)
    assert sent == PROMPT + START + "\n" and sent.count(START) == 1
    assert r.text == START + "xx" + END + "42"


def test_auto_budget_is_per_request():
    from s1eval.budget import fit_generation

    tok = CharTokenizer()
    short, long = PROMPT, PROMPT.replace("Q", "Q" * 50)
    # context 400, max_gen_toks 32768: each request's allowance is what its own prompt leaves
    allowances = [fit_generation(len(tok.encode(p)), 32768, 400) for p in (short, long)]
    results, _ = run({"max_tokens_thinking": "auto"}, [Script(rounds=[500])] * 2,
                     prompts=[short, long], max_gen=allowances)
    fixed = len(tok.encode(START)) + len("\n") + len(tok.encode(FORCED)) + 100
    assert [r.stats.budget for r in results] == [a - fixed for a in allowances]
    assert results[0].stats.budget - results[1].stats.budget == 49
    assert [r.stats.thinking_tokens for r in results] == [r.stats.budget for r in results]


def test_auto_budget_that_leaves_no_room_names_the_numbers():
    from s1eval.budget import ContextError

    with pytest.raises(ContextError, match=r"answer_reserve 100"):
        run({"max_tokens_thinking": "auto"}, [Script()], max_gen=50)


def test_answer_phase_gets_what_remains_of_the_allowance():
    r, engine = one({"max_tokens_thinking": 10}, Script(rounds=[50]), max_gen=200)
    answer_cont = engine.log[-1]
    # start, thinking, newline, forced end
    used = len(CharTokenizer().encode(START)) + 10 + 1 + len(CharTokenizer().encode(FORCED))
    assert answer_cont.max_new == 200 - used


def test_explicit_budget_is_lowered_to_keep_the_answer_reserve():
    fixed = len(CharTokenizer().encode(START)) + 1 + len(CharTokenizer().encode(FORCED))
    r, _ = one({"max_tokens_thinking": 500}, Script(rounds=[1000]), max_gen=400)
    assert r.stats.budget == 400 - fixed - 100 and r.stats.thinking_tokens == r.stats.budget
    # an allowance smaller than the reserve keeps a small budget as long as the answer gets a token
    r, _ = one({"max_tokens_thinking": 6}, Script(rounds=[1000]), max_gen=fixed + 10)
    assert r.stats.budget == 6
    r, _ = one({"max_tokens_thinking": 50}, Script(rounds=[1000]), max_gen=fixed + 10)
    assert r.stats.budget == 9


def test_rejection_totals_report_tries_and_never_fitting_requests():
    from s1eval.budget.stats import summarize

    kw = {"max_tokens_thinking": 10, "rejection_sample": True, "rejection_max_tries": 2}
    results, _ = run(kw, [Script(rounds=[20, 15, 4]), Script(rounds=[3])])
    totals = summarize([r.stats.to_dict() for r in results])
    assert totals["rejection_tries"] == 3 and totals["rejection_never_fit"] == 1


def test_temperature_thinking_alone_samples_the_thinking_phase():
    # lm-eval's greedy tasks carry do_sample=False; the thinking override must still sample
    r, engine = one({"max_tokens_thinking": 10, "temperature_thinking": 0.7, "do_sample": False}, Script(rounds=[3]))
    think, answer = engine.log[0], engine.log[-1]
    assert think.sampling.temperature == 0.7 and not think.sampling.greedy
    assert answer.sampling.greedy
