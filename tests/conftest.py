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
