"""The mini tokenizer through AutoTokenizer (transformers 5 must not drop spaces or newlines), ids as built."""

from __future__ import annotations

from s1eval.mini.problems import Problem
from s1eval.mini.tokenizer import SPECIAL_IDS, VOCAB_SIZE, build_tokenizer, train_tokenizer
from s1eval.mini.traces import TraceConfig, teacher_rows
from s1eval.testing.tiny_model import QWEN25_CHAT_TEMPLATE

IM_START, IM_END, EOT = SPECIAL_IDS["im_start"], SPECIAL_IDS["im_end"], SPECIAL_IDS["endoftext"]


def _texts():
    rows = teacher_rows(5, 0, TraceConfig(0.3, 0.3, 0.3))
    yield from (r["question"] for r in rows)
    yield from (r["thinking_trajectories"][0] for r in rows)
    yield "Hello  world\n\n\nthree newlines, two  spaces,   three"
    yield " leading and trailing space \n"
    yield "".join(chr(c) for c in range(32, 127))
    yield "12\nWait, 03:31->23+11=34\n<|im_start|>answer\nFinal Answer: 07<|im_end|>\n<|endoftext|>"
    yield "Think for up to 128 tokens.\n<|im_start|>3 steps left\nÄ é ∑ 漢字"


def test_round_trip_through_autotokenizer(mini_tok):
    raw = train_tokenizer()
    assert type(mini_tok).__name__ in ("Qwen2Tokenizer", "Qwen2TokenizerFast")
    assert len(mini_tok) == VOCAB_SIZE
    for text in _texts():
        ids = mini_tok.encode(text, add_special_tokens=False)
        assert ids == raw.encode(text, add_special_tokens=False).ids, text
        assert mini_tok.decode(ids) == text
    assert mini_tok.decode(mini_tok.encode("a  b\nc", add_special_tokens=False)) == "a  b\nc"


def test_special_and_single_tokens(mini_tok):
    assert mini_tok.encode("<|im_start|><|im_end|><|endoftext|>", add_special_tokens=False) == [IM_START, IM_END, EOT]
    assert (mini_tok.eos_token, mini_tok.eos_token_id) == ("<|im_end|>", IM_END)
    assert (mini_tok.pad_token, mini_tok.pad_token_id) == ("<|endoftext|>", EOT)
    singles = ["think", "answer", "Wait", "Final", " Answer", ":", "->", "+", "=", "\n", "^", "x", " mod", "Let", "?",
               ",", " "] + [str(d) for d in range(10)]
    for piece in singles:
        assert len(mini_tok.encode(piece, add_special_tokens=False)) == 1, piece
    # numbers are digit by digit, so a step line is always 15 tokens, laid out as s1eval.mini.probe reads them
    assert len(mini_tok.encode("03:31->23+11=34\n", add_special_tokens=False)) == 15
    from s1eval.mini.probe import line_layout

    assert line_layout(mini_tok) == (15, {"count down n": [0, 1], "copy x": [3, 4], "map sigma(x)": [6, 7],
                                          "next r": [9, 10], "sum mod P": [12, 13]})
    assert len(mini_tok.encode("07", add_special_tokens=False)) == 2
    assert mini_tok.encode("<|im_start|>think\n", add_special_tokens=False)[:2] == \
        [IM_START, mini_tok.convert_tokens_to_ids("think")]


def test_budget_forcing_strings_tokenize_like_training_text(mini_tok):
    # "Wait" appended after a generated newline gives the ids the training text has for "\nWait".
    enc = lambda s: mini_tok.encode(s, add_special_tokens=False)  # noqa: E731
    assert enc("=34\n") + enc("Wait") + enc(", 02:34") == enc("=34\nWait, 02:34")
    assert enc("<|im_start|>answer\nFinal Answer:") + enc(" 07") == enc("<|im_start|>answer\nFinal Answer: 07")


def test_chat_template_is_qwen25s(mini_tok):
    assert mini_tok.chat_template == QWEN25_CHAT_TEMPLATE
    q = Problem("cube", 1, 3, 2).question
    text = mini_tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
                    "You are a helpful assistant.<|im_end|>\n"
                    f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n")
    assert len(mini_tok.encode(text, add_special_tokens=False)) < 100


def test_build_is_deterministic(tmp_path, mini_tok_path):
    again = build_tokenizer(tmp_path / "again")
    for name in ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        assert (again / name).read_bytes() == (mini_tok_path / name).read_bytes(), name
