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
