"""The optional LLM judge (s1eval.grading.judge) against a local fake OpenAI chat server
(tests/grading/fake_openai.py).

Checked: consulted only for answers Math-Verify called wrong (never unextracted, timeouts or integer mismatches),
strict Yes/No parsing (anything else keeps the symbolic verdict, logged), the disk cache (a rerun sends no
request), retries on 429/5xx and timeouts, clear errors naming the endpoint, the API key never in errors or logs,
and the same through `s1eval grade`.
"""

from __future__ import annotations

import json
import logging
import re

import pytest

from s1eval.grading import GRADER_VERSION
from s1eval.grading.cli import main
from s1eval.grading.grade import Grade, apply_judge, grade_math_batch
from s1eval.grading.judge import (
    DIFFICULTY_PROMPT,
    PROMPT,
    PROMPT_VERSION,
    Judge,
    JudgeConfig,
    JudgeError,
    _shown_url,
    parse_verdict,
)

KEY = "sk-test-SECRET-0123456789"


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("S1EVAL_TEST_JUDGE_KEY", KEY)


def make_judge(fake_chat, tmp_path, **over) -> Judge:
    spec = {"base_url": fake_chat.base_url, "model": "judge-mini", "api_key_env": "S1EVAL_TEST_JUDGE_KEY",
            "cache": str(tmp_path / "judge_cache"), "retry_backoff_s": 0.01, **over}
    return Judge(JudgeConfig.from_mapping(spec))


def asked(fake_chat) -> list[tuple[str, str]]:
    """(gold, answer) of every request the fake server received, from the prompt text."""
    out = []
    for req in fake_chat.requests:
        prompt = req["body"]["messages"][-1]["content"]
        lines = dict(line.split(": ", 1) for line in prompt.splitlines() if line.startswith(("Reference", "Given")))
        out.append((lines["Reference answer"], lines["Given answer"]))
    return out


def test_prompt_ends_with_a_strict_yes_no_instruction():
    assert PROMPT.rstrip().endswith("Reply with exactly one word, Yes or No.")
    assert "{gold}" in PROMPT and "{answer}" in PROMPT and PROMPT_VERSION >= 1


@pytest.mark.parametrize("reply,verdict", [
    ("Yes", True), ("  yes.\n", True), ("NO", False), ("No.", False),
    ("Yes, they are equal.", None), ("**Yes**", None), ("", None), ("Yes\nNo", None), ("Maybe", None), (None, None),
])
def test_strict_verdict_parsing(reply, verdict):
    assert parse_verdict(reply) is verdict


@pytest.mark.parametrize("reply,verdict", [
    ("The attempt states 42, as the reference does.\nYes", True), ("Reasoning.\n\n**No**", False),
    ("Reasoning.\n  'yes'!  \n\n", True), ("No.", False), ("Reasoning.\nYes, it is correct.", None),
    ("Yes\nbecause the reference says so", None), ("", None), (None, None),
])
def test_last_line_verdicts_for_the_difficulty_prompt(reply, verdict):
    """s1data's difficulty judge asks for reasoning, then Yes or No on a line of its own: the same parser reads it."""
    assert parse_verdict(reply, last_line=True) is verdict


def test_one_judge_module_owns_both_prompts_and_the_parser():
    from s1data.stages import difficulty

    assert difficulty.JUDGE_PROMPT is DIFFICULTY_PROMPT
    assert DIFFICULTY_PROMPT.rstrip().endswith('"Yes" or "No" (without quotes).')
    assert {"{question}", "{attempt}", "{solution}"} <= set(re.findall(r"\{\w+\}", DIFFICULTY_PROMPT))
    assert difficulty.parse_verdict("Reasoning.\n**Yes**") is True and parse_verdict("**Yes**") is None


def test_off_by_default(pool):
    grade = grade_math_batch([("\\boxed{0.33}", "\\frac{1}{3}")], pool=pool)[0]
    assert (grade.correct, grade.method, grade.judge) == (False, "symbolic", None)
    assert "judge" not in grade.as_log()


def test_consulted_only_for_symbolic_mismatches(fake_chat, tmp_path, pool, caplog):
    fake_chat.replies = {("2", "II"): "Yes", ("8", "7"): "Maybe"}
    judge = make_judge(fake_chat, tmp_path)
    items = [
        ("\\boxed{5}", "5"),                        # exact, right
        ("I think about it and then", "5"),         # unextracted
        ("\\boxed{\\frac{2}{6}}", "\\frac{1}{3}"),  # symbolic, right
        ("\\boxed{0.33}", "\\frac{1}{3}"),          # symbolic, wrong -> judge says No
        ("\\boxed{II}", "2"),                      # symbolic, wrong -> judge says Yes
        ("The answer is \\boxed{II}.", "2"),       # the same pair again: asked once
        ("\\boxed{7}", "8"),                        # symbolic, wrong -> unusable reply
    ]
    with caplog.at_level(logging.WARNING):
        grades = grade_math_batch(items, pool=pool, judge=judge)
    assert [(g.correct, g.method) for g in grades] == [
        (True, "exact"), (False, "unextracted"), (True, "symbolic"), (False, "judge"), (True, "judge"),
        (True, "judge"), (False, "symbolic")]
    assert sorted(asked(fake_chat)) == sorted([("\\frac{1}{3}", "0.33"), ("2", "II"), ("8", "7")])
    assert [g.judge for g in grades[:3]] == [None, None, None]
    assert grades[3].judge == {"model": "judge-mini", "prompt_version": PROMPT_VERSION, "verdict": "no"}
    assert grades[4].as_log()["judge"] == {"model": "judge-mini", "prompt_version": PROMPT_VERSION, "verdict": "yes"}
    assert grades[6].judge["verdict"] is None and "Maybe" in grades[6].judge["error"]
    assert "unusable reply 'Maybe'" in caplog.text
    # What went over the wire: temperature 0, the model, the key as a bearer token, the chat endpoint.
    req = fake_chat.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["body"]["temperature"] == 0 and req["body"]["model"] == "judge-mini"
    assert req["headers"]["Authorization"] == f"Bearer {KEY}"


def test_never_for_timeouts_or_integer_mismatches(fake_chat, tmp_path, pool):
    judge = make_judge(fake_chat, tmp_path)
    aime = grade_math_batch([("\\boxed{24}", "23")], kind="aime", pool=pool, judge=judge)[0]
    assert (aime.correct, aime.method, aime.judge) == (False, "exact", None)
    timed_out = Grade("10^{10^{10}}", False, "timeout", "boxed", "exceeded 5 s")
    unextracted = Grade(None, False, "unextracted", "none")
    assert apply_judge([timed_out, unextracted], ["5", "5"], judge) == [timed_out, unextracted]
    assert fake_chat.count == 0


def test_cache_hit_on_rerun(fake_chat, tmp_path, pool):
    fake_chat.replies = {("2", "II"): "Yes"}
    items = [("\\boxed{II}", "2"), ("\\boxed{0.33}", "\\frac{1}{3}")]
    first = grade_math_batch(items, pool=pool, judge=make_judge(fake_chat, tmp_path))
    assert fake_chat.count == 2
    rerun_judge = make_judge(fake_chat, tmp_path)  # a new process would build a new Judge: same disk cache
    again = grade_math_batch(items, pool=pool, judge=rerun_judge)
    assert fake_chat.count == 2 and rerun_judge.cache_hits == 2 and rerun_judge.requests == 0
    assert [g.as_log() for g in again] == [g.as_log() for g in first]
    files = sorted(p.name for p in (tmp_path / "judge_cache").rglob("*") if p.is_file())
    assert len(files) == 2 and not any(name.startswith(".tmp-") for name in files)
    # Another judge model is another cache entry.
    grade_math_batch(items[:1], pool=pool, judge=make_judge(fake_chat, tmp_path, model="judge-large"))
    assert fake_chat.count == 3


def test_retries_on_429_and_500(fake_chat, tmp_path):
    fake_chat.script = [(429, {"error": "slow down"}, {"Retry-After": "0"}), (500, {"error": "oops"}, {})]
    fake_chat.default_reply = "Yes"
    judge = make_judge(fake_chat, tmp_path)
    assert judge.judge("2", "II").equivalent is True
    assert fake_chat.count == 3 and judge.requests == 3


def test_exhausted_retries_name_the_endpoint_never_the_key(fake_chat, tmp_path, caplog):
    fake_chat.script = [(503, "echo-auth", {})] * 3
    judge = make_judge(fake_chat, tmp_path, max_retries=2)
    with caplog.at_level(logging.DEBUG), pytest.raises(JudgeError) as err:
        judge.judge("2", "II")
    message = str(err.value)
    assert fake_chat.count == 3
    assert f"{fake_chat.base_url}/chat/completions" in message and "after 3 attempts" in message
    assert "HTTP 503" in message and "Bearer ***" in message  # the echoed key, redacted
    assert KEY not in message and KEY not in caplog.text


def test_client_error_is_not_retried(fake_chat, tmp_path, caplog):
    fake_chat.script = [(401, "echo-auth", {})]
    with caplog.at_level(logging.DEBUG), pytest.raises(JudgeError, match=r"refused the request: HTTP 401") as err:
        make_judge(fake_chat, tmp_path).judge("2", "II")
    assert fake_chat.count == 1
    assert "127.0.0.1" in str(err.value) and KEY not in str(err.value) and KEY not in caplog.text


def test_timeouts_are_retried_then_reported(fake_chat, tmp_path):
    fake_chat.delay_s = 1.0
    judge = make_judge(fake_chat, tmp_path, timeout_s=0.2, max_retries=1)
    with pytest.raises(JudgeError, match="after 2 attempt"):
        judge.judge("2", "II")
    assert fake_chat.count == 2


def test_configuration_errors(monkeypatch, fake_chat, tmp_path):
    monkeypatch.delenv("S1EVAL_TEST_JUDGE_KEY")
    with pytest.raises(JudgeError, match="S1EVAL_TEST_JUDGE_KEY is not set"):
        make_judge(fake_chat, tmp_path).judge("2", "II")
    assert fake_chat.count == 0
    with pytest.raises(ValueError, match="unknown judge option"):
        JudgeConfig.from_mapping({"base_url": "http://x/v1", "model": "m", "temperature": 0.5})
    with pytest.raises(ValueError, match="needs model"):
        JudgeConfig.from_mapping({"base_url": "http://x/v1"})
    # No key configured: no Authorization header at all (a local server).
    fake_chat.default_reply = "No"
    make_judge(fake_chat, tmp_path, api_key_env=None).judge("2", "II")
    assert "Authorization" not in fake_chat.requests[0]["headers"]
    assert _shown_url("http://user:pw@host:8000/v1/chat/completions?key=abc") == "http://host:8000/v1/chat/completions"


# ------------------------------------------------------------------------------------------ s1eval grade
def _rows_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    rows = [{"response": "\\boxed{II}", "gold": "2"}, {"response": "\\boxed{2}", "gold": "2"},
            {"response": "unfinished", "gold": "2"}, {"response": "\\boxed{0.33}", "gold": "\\frac{1}{3}"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _judge_args(fake_chat, tmp_path):
    return ["--judge-base-url", fake_chat.base_url, "--judge-model", "judge-mini",
            "--judge-api-key-env", "S1EVAL_TEST_JUDGE_KEY", "--judge-cache", str(tmp_path / "cache"), "--workers", "1"]


def test_cli_judge_and_cache(fake_chat, tmp_path, capsys):
    fake_chat.replies = {("2", "II"): "Yes"}
    src, out = _rows_file(tmp_path), tmp_path / "out.jsonl"
    assert main(["--task", "math500", src, "--output", str(out)] + _judge_args(fake_chat, tmp_path)) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["correct"], r["method"]) for r in rows] == [
        (True, "judge"), (True, "exact"), (False, "unextracted"), (False, "judge")]
    assert {r["grader_version"] for r in rows} == {f"{GRADER_VERSION}+judge:judge-mini:p{PROMPT_VERSION}"}
    assert rows[0]["judge"]["verdict"] == "yes" and "judge" not in rows[1]
    err = capsys.readouterr().err
    assert "accuracy 0.5000 (2/4)" in err and "consulted on 2, said yes 1" in err and "2 request(s)" in err
    assert fake_chat.count == 2
    # The rerun is free.
    assert main(["--task", "math500", src, "--output", str(out)] + _judge_args(fake_chat, tmp_path)) == 0
    assert fake_chat.count == 2 and "0 request(s), 2 cache hit(s)" in capsys.readouterr().err
    assert [json.loads(x) for x in out.read_text().splitlines()] == rows


def test_cli_judge_errors(fake_chat, tmp_path, capsys, monkeypatch):
    src = _rows_file(tmp_path)
    fake_chat.script = [(500, "echo-auth", {})] * 2
    assert main(["--task", "math500", src, "--judge-retries", "1", "--judge-concurrency", "1"]
                + _judge_args(fake_chat, tmp_path)) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1" in err and "after 2 attempts" in err and KEY not in err
    assert main(["--task", "gpqa_diamond", src] + _judge_args(fake_chat, tmp_path)) == 2
    assert "GPQA letters compare exactly" in capsys.readouterr().err
    assert main(["--task", "math500", src, "--judge-model", "m"]) == 2
    assert "needs both" in capsys.readouterr().err
    monkeypatch.delenv("S1EVAL_TEST_JUDGE_KEY")
    assert main(["--task", "math500", src] + _judge_args(fake_chat, tmp_path)) == 2
    assert "S1EVAL_TEST_JUDGE_KEY is not set" in capsys.readouterr().err
    assert fake_chat.count == 2
