"""Fixtures for the grading tests: one worker pool shared by the whole session (workers are reused)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def pool():
    from s1eval.grading.pool import WorkerPool

    with WorkerPool(workers=2, timeout_s=5.0) as p:
        yield p


@pytest.fixture(scope="session")
def equivalence_pairs() -> list[dict]:
    return json.loads((DATA / "equivalence_pairs.json").read_text())


@pytest.fixture(scope="session")
def gpqa_cases() -> list[dict]:
    return json.loads((DATA / "gpqa_letter_extraction_cases.json").read_text())["test_cases"]


@pytest.fixture(scope="session")
def _chat_server():
    from tests.grading.fake_openai import FakeChatServer

    server = FakeChatServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_chat(_chat_server):
    """The local fake OpenAI chat server (started once per session), reset for each test."""
    _chat_server.reset()
    yield _chat_server
    _chat_server.reset()
