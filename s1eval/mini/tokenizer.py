"""The mini tokenizer: byte-level BPE in Qwen2.5's layout, with merges for the mini task's text.

Same construction as `s1eval.testing.tiny_model`'s tokenizer (whose saving code, pre-tokenizer regex and
special-token ids it reuses): Qwen2's pre-tokenizer (every digit a token of its own), 397 ordinary entries
(256 bytes + merges, so any text round-trips), then ``<|endoftext|>`` (397), ``<|im_start|>`` (398) and
``<|im_end|>`` (399); eos ``<|im_end|>``, pad ``<|endoftext|>``; Qwen2.5-Instruct's chat template.  The merges
are trained (deterministically) on the mini task's own text, so that "think", "answer", "Wait", "Final",
" Answer", "->", the question's words and the chat template's words are single tokens; a trace line
``03:31->23+11=34`` is 15 tokens (10 digits, ":", "->", "+", "=", "\\n").

The files are written the way tiny_model writes them (tokenizer.json, vocab.json + merges.txt,
tokenizer_config.json with ``tokenizer_class: Qwen2Tokenizer``), the layout transformers 5 loads back
without dropping spaces or newlines (tests/mini/test_tokenizer.py checks the round trip).

CLI: ``python -m s1eval.mini tokenizer OUT``.
"""

from __future__ import annotations

import random
from pathlib import Path

from s1eval.mini.problems import FAMILIES, P, Problem, R
from s1eval.mini.traces import ANSWER_PREFIX, TraceConfig, write_trace
from s1eval.s1format import FORCED_ANSWER_PREFIX
from s1eval.testing.tiny_model import (
    _N_ORDINARY,
    _PRETOKENIZE_REGEX,
    _SPECIAL_STRINGS,
    TINY_SPECIAL,
    _write_tokenizer,
)

SPECIAL_IDS = dict(TINY_SPECIAL)
VOCAB_SIZE = _N_ORDINARY + len(TINY_SPECIAL)  # 400

# Words that must be single tokens come first and often; then the chat template and budget-forcing text.
_KEY = f"think\nanswer\nWait, \n{FORCED_ANSWER_PREFIX} \n->\nsystem\nuser\nassistant\n"
_BACKGROUND = (
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "Think for up to 64 tokens.",
    "Think for up to 8 steps.",
    "Answer after a long amount of thinking. If you feel like you are finished early, spend the extra time "
    "trying to double-check your work until you are absolutely sure that you have the correct answer.",
    "Answer after a short amount of thinking. Do not spend excessive time double-checking your work.",
    "steps left",
)


def _corpus():
    rng = random.Random(0)
    for _ in range(50):
        yield _KEY
    for _ in range(4):
        yield from _BACKGROUND
    for i in range(240):
        fam = list(FAMILIES)[i % len(FAMILIES)]
        b = rng.randrange(R - 4)
        prob = Problem(fam, rng.randrange(P), b + 3, b)
        trace = write_trace(prob, rng, TraceConfig(0.2, 0.2, 0.2, 0.0))
        yield f"{prob.question}\n{trace.text}\n{ANSWER_PREFIX}{trace.value:02d}\n"


def train_tokenizer():
    """The mini tokenizer as a ``tokenizers.Tokenizer`` (deterministic)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    # Mirrors tiny_model._train_tokenizer, whose corpus is fixed (see the report: a corpus argument there
    # would let this call it).
    tok = Tokenizer(models.BPE(byte_fallback=False, fuse_unk=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=_N_ORDINARY, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[],
                                  show_progress=False)
    tok.train_from_iterator(_corpus(), trainer)
    if tok.get_vocab_size() != _N_ORDINARY:
        raise RuntimeError(f"BPE training gave {tok.get_vocab_size()} entries, expected {_N_ORDINARY}")
    tok.add_special_tokens([AddedToken(_SPECIAL_STRINGS[k], special=True, normalized=False)
                            for k in ("endoftext", "im_start", "im_end")])
    for key, tid in SPECIAL_IDS.items():
        if tok.token_to_id(_SPECIAL_STRINGS[key]) != tid:
            raise RuntimeError(f"{_SPECIAL_STRINGS[key]} got id {tok.token_to_id(_SPECIAL_STRINGS[key])}")
    return tok


def build_tokenizer(out_dir) -> Path:
    """Write the mini tokenizer's files (loadable with ``AutoTokenizer.from_pretrained(out_dir)``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_tokenizer(train_tokenizer(), out)
    return out
