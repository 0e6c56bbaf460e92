"""`s1eval sweep` resumes on a scripted lm-eval model, in seconds: beside the slow kill-and-resume test on the tiny
model (tests/test_sweep.py), the rules themselves: a finished setting is never rerun or rewritten, an interrupted
one reruns with its finished requests served from the request cache, and nothing is asked twice."""

from __future__ import annotations

import json

import pytest
from lm_eval.api.model import LM
from lm_eval.api.registry import MODEL_REGISTRY, register_model

NAME = "s1test_scripted"


class Interrupted(Exception):
    """Stands for a kill in the middle of a setting."""


class ScriptedLM(LM):
    """Answers every request with a fixed s1-format response, writing each to lm-eval's request cache as it
    goes (as the s1 backends do); `fail_after` requests in all, it raises instead (a kill part way)."""

    asked: list[tuple[str, dict]] = []
    fail_after: int | None = None

    @classmethod
    def create_from_arg_string(cls, arg_string, additional_config=None):
        return cls()

    def generate_until(self, requests, disable_tqdm=False):
        texts = []
        for req in requests:
            if ScriptedLM.fail_after is not None and len(ScriptedLM.asked) >= ScriptedLM.fail_after:
                raise Interrupted
            context, gen_kwargs = req.args
            ScriptedLM.asked.append((context, dict(gen_kwargs)))
            text = "<|im_start|>think\nLet me check.<|im_start|>answer\nThe answer is $\\boxed{204}$."
            self.cache_hook.add_partial("generate_until", req.args, text)
            texts.append(text)
        return texts

    def loglikelihood(self, requests):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests):
        raise NotImplementedError


@pytest.fixture()
def scripted():
    if NAME not in MODEL_REGISTRY:
        register_model(NAME)(ScriptedLM)
    ScriptedLM.asked, ScriptedLM.fail_after = [], None
    yield ScriptedLM


def sweep(out, *extra):
    from s1eval.analysis.sweep import main

    return main(["--model", NAME, "--tasks", "s1_aime24", "--limit", "3", "--max-tokens-thinking", "8,16",
                 "--ignores", "0", "--no-plot", "--output", str(out), *extra])


def test_a_sweep_interrupted_mid_setting_resumes_without_asking_anything_twice(scripted, tmp_path):
    whole = tmp_path / "whole"
    assert sweep(whole) == 0
    assert len(scripted.asked) == 6  # 2 settings x 3 problems
    rows = json.loads((whole / "summary.json").read_text())["rows"]
    assert [(r["setting"], r["n"]) for r in rows] == [("budget8_ignore0", 3), ("budget16_ignore0", 3)]

    out = tmp_path / "resumed"
    scripted.asked, scripted.fail_after = [], 4  # killed after the first setting and one request of the second
    with pytest.raises(Interrupted):
        sweep(out)
    first = out / "settings" / "budget8_ignore0" / "done.json"
    assert first.exists() and not (out / "settings" / "budget16_ignore0" / "done.json").exists()
    done_before = first.stat().st_mtime_ns
    asked_before = list(scripted.asked)

    scripted.asked, scripted.fail_after = [], None
    assert sweep(out) == 0
    # the finished setting is skipped (its marker untouched); of the interrupted one, only the 2 requests never
    # answered are asked, the one answered before the kill comes from the request cache
    assert first.stat().st_mtime_ns == done_before
    assert len(scripted.asked) == 2 and not set(map(str, scripted.asked)) & set(map(str, asked_before))
    assert all(kw["max_tokens_thinking"] == 16 for _, kw in scripted.asked)
    resumed = json.loads((out / "summary.json").read_text())["rows"]
    assert [(r["setting"], r["n"], r["accuracy"]) for r in resumed] == [(r["setting"], r["n"], r["accuracy"])
                                                                         for r in rows]

    scripted.asked = []
    assert sweep(out) == 0 and scripted.asked == []  # everything finished: nothing is asked
    assert sweep(out, "--seed", "3") == 2 and scripted.asked == []  # another run's identity: refused
