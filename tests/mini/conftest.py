from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mini_tok_path(tmp_path_factory):
    from s1eval.mini.tokenizer import build_tokenizer

    return build_tokenizer(tmp_path_factory.mktemp("mini_tok"))


@pytest.fixture(scope="session")
def mini_tok(mini_tok_path):
    import transformers

    return transformers.AutoTokenizer.from_pretrained(mini_tok_path)
