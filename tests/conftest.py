"""Shared fixtures: tiny models built locally (never downloaded), offline hub settings."""

from __future__ import annotations

import os

import pytest

# Tests never touch the network or the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_ends(tmp_path_factory):
    """Tiny Qwen2 whose greedy thinking ends after a few tokens (s1eval.testing.tiny_model)."""
    from s1eval.testing.tiny_model import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny_ends"), variant="ends"))


@pytest.fixture(scope="session")
def tiny_never(tmp_path_factory):
    """Tiny Qwen2 whose greedy thinking never ends."""
    from s1eval.testing.tiny_model import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny_never"), variant="never"))


UNTEXTED_ID = 440  # a row of the tiny model's embedding with no tokenizer entry (400..447)


@pytest.fixture(scope="session")
def tiny_untexted(tiny_never, tmp_path_factory):
    """The never-ending tiny model, changed so that greedy decoding always prefers an id without
    text: masked (the default) it behaves exactly like `tiny_never`; allowed, it emits that id."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("tiny_untexted")
    model = AutoModelForCausalLM.from_pretrained(tiny_never, dtype=torch.float32)
    with torch.no_grad():
        # embedding dimension 0 is a constant 1 for every token: a bias term for lm_head
        model.get_output_embeddings().weight[UNTEXTED_ID, 0] = 500.0
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_never).save_pretrained(out)
    return str(out)
