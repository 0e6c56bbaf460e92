"""The model clients of the traces/difficulty/domains stages against real backends.

- A REAL vLLM OpenAI server (the s1api tests' session server, tiny model): the client's request is
  accepted by vLLM's /v1/chat/completions, its reply parsed, the traces, difficulty and domains stages run on it,
  a rerun answered from the cache, a bad model name reported without retries.
- The s1eval engine client (HFEngine, tiny model): the same three stages, `max_tokens` honoured.
- A local HTTP stub that replays vLLM 0.32's exact reply JSON with the reasoning variants the tiny model
  cannot produce (it never writes `<think>`, and the shared server runs without a reasoning parser):
  `reasoning` (vLLM's reasoning parser), `reasoning_content` (DeepSeek's API, older vLLM), a
  `<think>` block, a closing tag only (R1-distill templates open the block in the prompt); and the
  retry rules (s1eval.http_retry's: 409/429/5xx retried, Retry-After honoured, other 4xx not, the key redacted).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from s1data.clients import OpenAIChatClient, make_client
from s1data.config import make_stage
from s1data.io import read_parquet
from s1data.pipeline import run_pipeline
from s1data.record import make_record

QUESTIONS = [("What is 6 times 7?", "$6 \\cdot 7 = \\boxed{42}$"), ("Compute 2+2.", "$\\boxed{4}$"),
             ("What is the answer to everything?", "The answer is $\\boxed{42}$.")]
NO_THINKING = "no thinking in reply (the teacher returned no reasoning_content and no <think> block)"


def _source(tmp_path: Path, rows=QUESTIONS) -> str:
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(make_record(q, s, "math", "test", "{}")) + "\n" for q, s in rows))
    return str(path)


# ============================================================================ vLLM 0.32 reply shapes (stub)
def vllm_reply(content, reasoning=None, field="reasoning", finish="stop"):
    """A /v1/chat/completions body as vLLM 0.32 returns it (copied from the real server in these tests,
    `reasoning` filled the way its reasoning parser fills it)."""
    message = {"role": "assistant", "content": content, "refusal": None, "annotations": None, "audio": None,
               "function_call": None, "reasoning": None}
    if reasoning is not None:
        message[field] = reasoning
    return {"id": "chatcmpl-0", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish,
                         "stop_reason": None, "token_ids": None}],
            "usage": {"prompt_tokens": 5, "total_tokens": 8, "completion_tokens": 3}}


class Stub:
    """A local OpenAI-compatible server answering from a list of (status, body); records each request."""

    def __init__(self, answers):
        self.answers, self.requests = list(answers), []
        self.retry_after: dict[int, str] = {}  # status -> Retry-After header value
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, answer = stub.answers.pop(0) if len(stub.answers) > 1 else stub.answers[0]
                data = json.dumps(answer).encode()
                self.send_response(status)
                if status in stub.retry_after:
                    self.send_header("Retry-After", stub.retry_after[status])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("reply, text, reasoning", [
    (vllm_reply("\n\nThe answer is 42.", "6*7=42, so 42."), "The answer is 42.", "6*7=42, so 42."),
    (vllm_reply("The answer is 42.", "6*7=42.", field="reasoning_content"), "The answer is 42.", "6*7=42."),
    (vllm_reply("<think>\n6*7=42.\n</think>\n\nThe answer is 42."), "The answer is 42.", "6*7=42."),
    (vllm_reply("6*7=42.\n</think>\n\nThe answer is 42."), "The answer is 42.", "6*7=42."),
    (vllm_reply("The answer is 42."), "The answer is 42.", None),
], ids=["vllm-reasoning-parser", "reasoning_content", "think-block", "closing-tag-only", "no-thinking"])
def test_reply_shapes_split_into_thinking_and_attempt(reply, text, reasoning, monkeypatch):
    monkeypatch.setenv("S1DATA_TEST_KEY", "sk-test")
    with Stub([(200, reply)]) as stub:
        client = OpenAIChatClient(stub.url, "m", api_key_env="S1DATA_TEST_KEY", seed=0)
        [rep] = client.chat(["What is 6 times 7?"], {"temperature": 0.0, "max_tokens": 16})
    assert (rep.text, rep.reasoning, rep.error) == (text, reasoning, None)
    [req] = stub.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test" and req["headers"]["Content-Type"] == "application/json"
    assert req["body"] == {"model": "m", "messages": [{"role": "user", "content": "What is 6 times 7?"}],
                           "seed": 0, "temperature": 0.0, "max_tokens": 16}


@pytest.mark.parametrize("answers, calls, error", [
    ([(429, {"error": "slow down"}), (500, {"error": "boom"}), (200, vllm_reply("42"))], 3, None),
    ([(400, {"error": {"message": "max_tokens is too large"}})], 1, "HTTP 400"),
    ([(503, {"error": "down"})], 3, "HTTP 503"),
], ids=["429-and-500-retried", "400-not-retried", "retries-exhausted"])
def test_retries(answers, calls, error):
    with Stub(answers) as stub:
        [rep] = OpenAIChatClient(stub.url, "m", max_retries=2, backoff=0.001).chat(["q"])
    assert len(stub.requests) == calls
    assert (rep.error or "").startswith(error) if error else (rep.text, rep.error) == ("42", None)


def test_retries_follow_s1evals_policy_409_and_retry_after_included(monkeypatch, caplog):
    """The shared policy (s1eval.http_retry): 409 is retried like 429 and 5xx, the server's Retry-After replaces
    the backoff, and a failed call's error names the status and body with the key redacted (also in the log)."""
    from s1eval import http_retry

    waits: list[float] = []
    monkeypatch.setattr(http_retry, "_sleep", waits.append)
    monkeypatch.setenv("S1DATA_TEST_KEY", "sk-test-SECRET-42")
    answers = [(409, {"error": "lock timeout"}), (429, {"error": "slow down"}), (200, vllm_reply("42"))]
    with Stub(answers) as stub:
        stub.retry_after = {429: "3"}
        [rep] = OpenAIChatClient(stub.url, "m", api_key_env="S1DATA_TEST_KEY", max_retries=2,
                                 backoff=100.0).chat(["q"])
    assert (rep.text, rep.error, len(stub.requests)) == ("42", None, 3)
    # jittered backoff (capped at 60), then 3 s
    assert len(waits) == 2 and 50.0 <= waits[0] <= 60.0 and waits[1] == 3.0
    waits.clear()
    with Stub([(503, {"error": "bad key Bearer sk-test-SECRET-42"})]) as stub, caplog.at_level("WARNING"):
        [rep] = OpenAIChatClient(stub.url, "m", api_key_env="S1DATA_TEST_KEY", max_retries=1, backoff=0.5).chat(["q"])
    assert rep.error == 'HTTP 503: {"error": "bad key Bearer ***"}' and len(stub.requests) == 2 and len(waits) == 1
    assert "s1data: POST " in caplog.text and "failed after 2 attempts" in caplog.text
    assert "sk-test-SECRET-42" not in caplog.text


def test_a_full_chat_endpoint_is_kept_as_the_base_url():
    assert OpenAIChatClient("http://h:8000/v1/", "m").url == "http://h:8000/v1/chat/completions"
    assert OpenAIChatClient("http://h:8000/v1/chat/completions", "m").url == "http://h:8000/v1/chat/completions"


# ============================================================================ a real vLLM server
def _mask_untexted(model_dir: str) -> list[int]:
    """The ids with text: the served tiny model prefers an untexted id unless a request masks it."""
    from transformers import AutoTokenizer

    return list(range(len(AutoTokenizer.from_pretrained(model_dir))))


@pytest.mark.slow
def test_traces_difficulty_and_domains_on_a_real_vllm_server(vllm_server, tmp_path):
    url, model = vllm_server
    spec = {"kind": "openai", "base_url": url, "model": model, "concurrency": 2, "max_retries": 1,
            "timeout": 60, "allowed_token_ids": _mask_untexted(model)}
    src = _source(tmp_path)
    stages = [make_stage("traces", {"client": spec, "teacher": "tiny",
                                    "sampling": {"temperature": 0.0, "max_tokens": 16}}),
              make_stage("difficulty", {"solvers": {"tiny": spec}, "sampling": {"temperature": 0.0, "max_tokens": 16},
                                        "tokenizer": model}),
              make_stage("domains", {"client": spec, "sampling": {"temperature": 0.0, "max_tokens": 8}})]
    res = run_pipeline(stages, tmp_path / "run", src)
    traces, diff, domains = (read_parquet(r.data) for r in res)
    # vLLM accepted the request (model, messages, sampling, allowed_token_ids) and the reply was parsed:
    # the tiny model answers a chat-templated question with "42" and no thinking, so each trace row is
    # kept with the no-thinking error (the quality stage drops it as api_error)
    assert [r["attempt"] for r in traces] == ["42"] * 3
    assert all(r["thinking_trajectory"] is None and r["api_error"] == NO_THINKING and r["teacher"] == "tiny"
               for r in traces)
    assert res[0].stats["extra"] == {"cached": 0, "called": 3}
    # difficulty: the solver's "42" graded by s1eval against each reference's boxed answer
    assert [r["tiny_answer"] for r in diff] == ["42"] * 3
    assert [r["tiny_correct"] for r in diff] == [True, False, True]
    assert [r["teacher_correct"] for r in diff] == [True, False, True]
    assert all(r["thinking_tokens"] is None for r in diff)  # no thinking to count
    # domains: the ~1,700-token MSC prompt fits the server's 2,048 and "42" is a valid code (harmonic analysis)
    assert [(r["domain"], r["domain_detail"]) for r in domains] == [("42", "")] * 3
    # forced to run again (its completion record and chunks removed), the stage pays for nothing: every
    # reply comes from the stage folder's cache, keyed by question hash
    import shutil

    (res[0].folder / "stats.json").unlink()
    shutil.rmtree(res[0].folder / "chunks", ignore_errors=True)
    again = run_pipeline(stages[:1], tmp_path / "run", src)
    assert again[0].stats["extra"] == {"cached": 3, "called": 0}


@pytest.mark.slow
def test_a_wrong_model_name_is_reported_once_not_retried(vllm_server):
    url, _ = vllm_server
    client = make_client({"kind": "openai", "base_url": url, "model": "no-such-model", "max_retries": 3,
                          "backoff": 5.0, "timeout": 30})
    [rep] = client.chat(["What is 6 times 7?"], {"max_tokens": 4})
    assert rep.text is None and rep.error.startswith("HTTP 404") and "no-such-model" in rep.error


# ============================================================================ the s1eval engine client
def test_engine_client_runs_traces_difficulty_and_domains(tiny_tok, tmp_path):
    spec = {"kind": "engine", "model_path": tiny_tok, "max_new_tokens": 16, "model": "tiny-engine"}
    stages = [make_stage("traces", {"client": spec, "teacher": "tiny"}),
              make_stage("difficulty", {"solvers": {"tiny": spec}, "sampling": {"temperature": 0.0},
                                        "tokenizer": tiny_tok}),
              make_stage("domains", {"client": spec})]
    res = run_pipeline(stages, tmp_path / "run", _source(tmp_path))
    traces, diff, domains = (read_parquet(r.data) for r in res)
    assert [r["attempt"] for r in traces] == ["42"] * 3
    assert all(r["thinking_trajectory"] is None and r["api_error"] == NO_THINKING for r in traces)
    assert [r["tiny_correct"] for r in diff] == [True, False, True]
    assert [r["domain"] for r in domains] == ["42"] * 3
    # the OpenAI field max_tokens caps the engine's reply as it would a server's
    client = make_client(spec)
    assert [r.text for r in client.chat(["What is 6 times 7?"], {"max_tokens": 1, "temperature": 0.0})] == ["4"]
