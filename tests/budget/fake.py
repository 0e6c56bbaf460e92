"""A character-level tokenizer and a scripted engine that make the state machine's tests exact.

The tokenizer maps every character to one id and each special string (`<|im_start|>`, ...) to
one id, so token counts are character counts. The engine plays a script per request: thinking
round r emits `rounds[r]` filler characters and then a stop; the answer phase emits `answer` and
EOS. It honours `min_new` by masking stop ids, as real engines do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from s1eval.budget.engine import BatchedEngine, Continuation, Step, find_stop_string

SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHARS = [chr(c) for c in range(32, 127)] + ["\n"]


class CharTokenizer:
    def __init__(self) -> None:
        self.vocab = list(SPECIALS) + CHARS
        self.ids = {t: i for i, t in enumerate(self.vocab)}
        self.eos_token_id = self.ids["<|im_end|>"]
        # the special strings are added tokens, as in a Hugging Face tokenizer (Codec.atomic_id reads this)
        self.added_tokens_decoder = {self.ids[s]: s for s in SPECIALS}

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        out, i = [], 0
        while i < len(text):
            special = next((s for s in SPECIALS if text.startswith(s, i)), None)
            piece = special or text[i]
            out.append(self.ids[piece])
            i += len(piece)
        return out

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return "".join(
            self.vocab[i] for i in ids if not (skip_special_tokens and self.vocab[i] in SPECIALS)
        )


@dataclass
class Script:
    """What one request's fake model does: thinking round lengths, how a round ends, the answer."""

    rounds: Sequence[int] = (5,)
    stop: str = "<|im_start|>"  # or "<|im_end|>" to end thinking with EOS
    filler: str = "x"
    answer: str = "42"


class ScriptedEngine(BatchedEngine):
    def __init__(self, scripts: dict | None = None, batch_size: int = 1) -> None:
        super().__init__(batch_size)
        self.tok = CharTokenizer()
        self.scripts = scripts or {}  # key -> Script; Script() for keys not listed
        self.log: list[Continuation] = []
        self.think_calls: dict = {}
        self.batches: list[list] = []

    def script(self, key) -> Script:
        return self.scripts.get(key, Script())

    def continue_batch(self, conts: Sequence[Continuation]) -> list[Step]:
        self.batches.append([c.key for c in conts])
        return [self._one(c) for c in conts]

    def _one(self, c: Continuation) -> Step:
        self.log.append(c)
        text = self.tok.decode(c.token_ids, skip_special_tokens=False)
        script = self.script(c.key)
        if "answer" in text.split("<|im_start|>think")[-1]:
            wanted = script.answer + "<|im_end|>"
        else:
            r = self.think_calls.get(c.key, 0)
            self.think_calls[c.key] = r + 1
            n = script.rounds[min(r, len(script.rounds) - 1)]
            wanted = script.filler * n + script.stop
        return self._emit(c, self.tok.encode(wanted))

    def _emit(self, c: Continuation, wanted: list[int]) -> Step:
        out: list[int] = []
        filler = self.tok.ids["y"]
        for tok in wanted:
            while tok in c.stop_token_ids and len(out) < c.min_new and len(out) < c.max_new:
                out.append(filler)  # stop masked: the fake model writes filler instead
            if len(out) >= c.max_new:
                return Step(tuple(out), "length")
            out.append(tok)
            if tok in c.stop_token_ids:
                return Step(tuple(out), "stop", tok)
            hit = find_stop_string(self.tok.decode(out, skip_special_tokens=False), c.stop_strings,
                                   after=len(self.tok.decode(out[: c.min_new], skip_special_tokens=False)))
            if hit is not None:
                return Step(tuple(out), "stop", hit)
        return Step(tuple(out), "length") if len(out) >= c.max_new else Step(tuple(out), "stop", None)
