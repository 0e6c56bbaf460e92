"""Engine-side helpers shared by the backends: where a stop string cuts a generated row."""

from __future__ import annotations

from s1eval.budget.engine import find_stop_string, stop_occurrence, stop_string_cut
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


def test_a_stop_counts_only_where_it_ends_after_the_first_min_new_tokens():
    """vLLM's min_tokens contract, which every backend follows (Continuation's docstring)."""
    new = TOK.encode("a.b.c.")
    assert stop_string_cut(new, ["."], decode) == (2, ".")
    assert stop_string_cut(new, ["."], decode, min_new=2) == (4, ".")  # the "." ending at token 2 does not count
    assert stop_string_cut(new, ["."], decode, min_new=3) == (4, ".")
    assert stop_string_cut(new, ["."], decode, min_new=6) is None
    # an occurrence starting inside the first min_new tokens but ending after them counts
    assert stop_string_cut(TOK.encode("xyz"), ["yz"], decode, min_new=2) == (3, "yz")


def test_of_the_counted_occurrences_the_earliest_ending_wins():
    text = "xabcd"
    assert stop_occurrence(text, ["abcd", "bc"]) == ("bc", 2, 4)  # "abcd" starts first but ends later
    assert stop_occurrence(text, ["bc", "b"]) == ("b", 2, 3)
    assert stop_occurrence("xbc", ["bc", "c"]) == ("bc", 1, 3)  # a tie goes to the earlier stop
    assert stop_occurrence("a.a.", ["."], after=2) == (".", 3, 4)
    assert find_stop_string("a.a.", ["."], after=4) is None
    assert stop_occurrence("abc", ["", "zz"]) is None
