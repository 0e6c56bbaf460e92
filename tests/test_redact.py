"""s1eval.redact: docs that ask for it reach lm-eval's samples file as hashes, before the file is written."""

from __future__ import annotations

import copy
import hashlib
import json
import logging

import pytest

from s1eval.redact import REDACT_FIELD, ensure_samples_redacted, redact_sample, redact_samples, text_hash

QUESTION = "Which made-up isotope decays fastest?"
CHOICES = ["A > B > C", "Xq1", "Yq1", "Zq1"]
PROMPT = QUESTION + "\n\n" + "\n".join(f"{L}) {c}" for L, c in zip("ABCD", CHOICES))
CONTEXT = "<|im_start|>user\n" + PROMPT + "<|im_end|>\n<|im_start|>assistant\n"
PRIVATE = [QUESTION, PROMPT, CONTEXT, *CHOICES]


def _sample(hide=("question", "choices", "prompt")) -> dict:
    """A sample as lm-eval 0.4.13's evaluator builds it for a generate_until task (before the tracker sanitises it)."""
    doc = {"question": QUESTION, "choices": list(CHOICES), "answer_index": 0, "answer": "A", "prompt": PROMPT,
           "record_id": "rec1", "domain": "Physics", REDACT_FIELD: list(hide)}
    return {"doc_id": 3, "doc": doc, "target": "A", "arguments": [(CONTEXT, {"until": [], "max_gen_toks": 64})],
            "resps": [["Answer: A > B > C"]], "filtered_resps": ["Answer: A > B > C"], "filter": "none",
            "metrics": ["exact_match", "grading"], "doc_hash": "d" * 64, "prompt_hash": "p" * 64,
            "target_hash": "t" * 64, "exact_match": 1, "grading": {"extracted": "A", "rule": "answer_line"}}


def test_text_hash_is_sha256_prefix():
    assert text_hash("abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()[:16]


def test_listed_fields_and_prompts_become_hashes_and_the_rest_stays():
    original = _sample()
    kept = copy.deepcopy(original)
    out = redact_sample(original)
    assert original == kept  # the caller's sample is not changed
    doc = out["doc"]
    assert doc["question"] == text_hash(QUESTION) and doc["prompt"] == text_hash(PROMPT)
    assert doc["choices"] == [text_hash(c) for c in CHOICES]  # still four choices, for graders that count them
    assert out["arguments"] == [(text_hash(CONTEXT), {"until": [], "max_gen_toks": 64})]
    for key in ("doc_id", "target", "resps", "filtered_resps", "exact_match", "grading", "doc_hash", "prompt_hash"):
        assert out[key] == kept[key], key
    assert {k: doc[k] for k in ("answer", "answer_index", "record_id", "domain")} == \
        {"answer": "A", "answer_index": 0, "record_id": "rec1", "domain": "Physics"}
    assert _plain_texts_in(out) == []


def _plain_texts_in(sample: dict) -> list[str]:
    """The private texts a sample shows outside its responses (which are kept verbatim and here quote a choice)."""
    written = json.dumps({k: v for k, v in sample.items() if k not in ("resps", "filtered_resps")}, ensure_ascii=False)
    return [text for text in PRIVATE if json.dumps(text, ensure_ascii=False)[1:-1] in written]  # as JSON escapes it


def test_docs_that_ask_for_nothing_are_left_alone():
    opted_in = _sample(hide=())
    assert redact_sample(opted_in) is opted_in
    assert _plain_texts_in(opted_in) == [QUESTION, PROMPT, CONTEXT, *CHOICES]  # the check above can fail
    plain = {"doc_id": 0, "arguments": [("q", {})], "resps": [["a"]], "filtered_resps": ["a"], "target": "a"}
    assert redact_samples([plain]) == [plain]


def test_a_malformed_field_list_is_refused():
    sample = _sample()
    sample["doc"][REDACT_FIELD] = [1, 2]
    with pytest.raises(TypeError, match="must list doc field names, got \\[1, 2\\]"):
        redact_sample(sample)


def _tracker(tmp_path):
    from lm_eval.loggers.evaluation_tracker import EvaluationTracker

    ensure_samples_redacted()  # a no-op when the autoload hook already wrapped the tracker
    tracker = EvaluationTracker(output_path=str(tmp_path / "results.json"))
    tracker.date_id = "2025-01-01T00-00-00"  # set by save_results_aggregated in a real run
    return tracker


def test_lm_evals_tracker_writes_only_hashes(tmp_path):
    _tracker(tmp_path).save_results_samples(task_name="s1_gpqa_diamond", samples=[_sample()])
    [path] = tmp_path.glob("samples_s1_gpqa_diamond_*.jsonl")
    row = json.loads(path.read_text(encoding="utf-8"))
    assert _plain_texts_in(row) == []
    assert row["arguments"]["gen_args_0"]["arg_0"] == text_hash(CONTEXT)
    assert row["doc"]["choices"] == [text_hash(c) for c in CHOICES] and row["target"] == "A"


def test_a_failed_redaction_writes_no_samples(tmp_path, monkeypatch, caplog):
    import s1eval.redact

    def broken(samples, task_name=""):
        raise RuntimeError("hash failed")

    monkeypatch.setattr(s1eval.redact, "redact_samples", broken)
    with caplog.at_level(logging.ERROR, logger="s1eval._autoload"):
        _tracker(tmp_path).save_results_samples(task_name="s1_gpqa_diamond", samples=[_sample()])
    assert list(tmp_path.glob("samples_*")) == []
    assert "s1_gpqa_diamond" in caplog.text and "hash failed" in caplog.text
