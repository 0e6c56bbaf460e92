"""Text <-> token ids for the state machine, over any Hugging Face-style tokenizer.

The state machine never adds special tokens (BOS) to pieces it appends, decodes with special
tokens skipped (as lm-eval and vLLM do for returned text), and treats a delimiter as a stop token
only when it is one added token (`atomic_id`); any other stop is matched in the decoded text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any


class Codec:
    """Wraps a tokenizer with `encode(text, add_special_tokens=...)` and `decode(ids, ...)`."""

    def __init__(self, tokenizer: Any, eos_ids: Iterable[int]) -> None:
        self.tokenizer = tokenizer
        self.eos_ids = frozenset(int(i) for i in eos_ids if i is not None)
        if not self.eos_ids:
            raise ValueError("the tokenizer has no EOS id; pass eos_ids explicitly")
        self.vocab_size = len(tokenizer)
        self._encode = lru_cache(maxsize=256)(self._encode_uncached)

    def _encode_uncached(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer.encode(text, add_special_tokens=False))

    def encode(self, text: str) -> tuple[int, ...]:
        """Ids of `text` with no BOS/EOS added. Cached: delimiters are encoded once per run."""
        return self._encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def decode_with_specials(self, ids: Sequence[int]) -> str:
        """Text including special tokens: stop strings such as `<|im_start|>0` contain them."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def single_id(self, text: str) -> int | None:
        """The id of `text` if it is exactly one token, else None."""
        ids = self.encode(text)
        return ids[0] if len(ids) == 1 else None

    def atomic_id(self, text: str) -> int | None:
        """The id of `text` when it is one *added* token (`<|im_start|>`, R1's `</think>`), else None.

        A tokenizer splits added tokens out before anything else, so no neighbour can merge with one:
        matching its id is matching its text. An ordinary one-token piece such as `.` is not atomic: Gemma
        writes `$.` as one token, in which the id of `.` never appears.
        """
        single = self.single_id(text)
        added = getattr(self.tokenizer, "added_tokens_decoder", None) or {}
        return single if single is not None and single in added else None
