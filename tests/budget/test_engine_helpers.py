"""Engine-side helpers shared by the backends: where a stop string cuts a generated row."""

from __future__ import annotations

from s1eval.budget.engine import stop_string_cut
from tests.budget.fake import CharTokenizer

TOK = CharTokenizer()


def decode(ids):
    return TOK.decode(ids, skip_special_tokens=False)


def test_cut_ends_at_the_token_that_completes_the_earliest_stop():
    new = TOK.encode("ab<|im_end|>cd<|im_end|>")
    assert stop_string_cut(new, ["<|im_end|>"], decode) == (3, "<|im_end|>")
    assert stop_string_cut(new, ["cd", "b<|im_end|>"], decode) == (3, "b<|im_end|>")
    assert stop_string_cut(new, ["d<|im"], decode) == (6, "d<|im")  # a string across a special token


def test_a_stop_spelled_out_of_ordinary_tokens_is_cut_where_it_completes():
    spelled = TOK.encode("x") + [TOK.ids[c] for c in "<|im_end|>"] + TOK.encode("yz<|im_end|>")
    n, stop = stop_string_cut(spelled, ["<|im_end|>"], decode)
    assert (n, stop) == (11, "<|im_end|>") and decode(spelled[:n]) == "x<|im_end|>"


def test_no_stop_no_cut():
    assert stop_string_cut(TOK.encode("abc"), ["zz"], decode) is None
    assert stop_string_cut(TOK.encode("abc"), [], decode) is None
