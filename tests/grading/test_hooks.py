"""Grading settings in the lm-eval hooks: resolved by the loaders from the task metadata, carried by each document
(``s1_grading``, only when not the defaults), read back by `process_results`. tests/test_tasks.py checks the same
through lm-eval's TaskManager and the real `lm_eval` command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from s1eval.grading import hooks
from s1eval.grading.extract import DEFAULT_ANSWER_DELIMITERS
from s1eval.grading.hooks import (
    DEFAULT_SETTINGS,
    GRADING_KEY,
    GradingSettings,
    attach_settings,
    check_docs,
    doc_settings,
    grading_settings,
    settings_from_metadata,
)
from s1eval.grading.judge import JudgeConfig

REPO = Path(__file__).resolve().parents[2]
RESPONSE = "Reasoning with \\boxed{1} along the way. <final> 204"


@pytest.fixture
def default_pool(pool, monkeypatch):
    """process_results grades through the process-wide pool: use the session's."""
    from s1eval.grading import pool as pool_module

    monkeypatch.setattr(pool_module, "_DEFAULT", pool)


def test_no_frame_walking_anywhere_in_s1eval():
    found = [str(p.relative_to(REPO)) for p in sorted((REPO / "s1eval").rglob("*.py"))
             if re.search(r"_getframe|f_back|inspect\.(stack|currentframe)", p.read_text(encoding="utf-8"))]
    assert found == []


def test_default_settings_leave_the_documents_alone():
    import datasets

    rows = [{"problem": "p", "answer": "1"}]
    dataset = datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
    for metadata in (None, {}, {"version": 1.0, "answer_delimiters": list(DEFAULT_ANSWER_DELIMITERS), "judge": None},
                     {"answer_delimiters": None, "judge": False, "aime24_data": "x.jsonl"}):
        settings = grading_settings(metadata, name="t")
        assert settings == DEFAULT_SETTINGS
        assert attach_settings(dataset, settings) is dataset
        assert attach_settings(rows, settings) is rows
    assert dataset["test"].column_names == ["problem", "answer"]


def test_other_settings_travel_with_every_document_and_read_back_equal():
    import datasets

    judge = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": None, "timeout_s": 30}
    rows = [{"problem": f"p{i}", "answer": str(i)} for i in range(3)]
    dataset = datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
    for metadata in ({"answer_delimiters": ["<final>"]}, {"answer_delimiters": []}, {"judge": judge},
                     {"answer_delimiters": "</answer>", "judge": judge}):
        settings = grading_settings(metadata, name="t")
        assert settings != DEFAULT_SETTINGS
        docs = list(attach_settings(dataset, settings)["test"])
        assert [{k: d[k] for k in ("problem", "answer")} for d in docs] == rows
        assert all(doc_settings(d) == settings for d in docs)
        assert docs[0][GRADING_KEY] == settings.as_doc_value()
        assert [doc_settings(d) for d in attach_settings(rows, settings)] == [settings] * 3
        assert all(GRADING_KEY not in r for r in rows)  # the input rows are not changed
    assert doc_settings({"answer": "1"}) == DEFAULT_SETTINGS
    carried = doc_settings({GRADING_KEY: {"answer_delimiters": [], "judge": judge}})
    assert carried == GradingSettings((), JudgeConfig.from_mapping(judge))


def test_the_grading_key_is_reserved():
    import datasets

    settings = grading_settings({"answer_delimiters": ["<final>"]}, name="t")
    with pytest.raises(ValueError, match="reserves"):
        attach_settings(datasets.Dataset.from_list([{"answer": "1", GRADING_KEY: "mine"}]), settings)
    with pytest.raises(ValueError, match="reserves"):
        attach_settings([{"answer": "1", GRADING_KEY: "mine"}], settings)


def test_bad_settings_fail_in_the_loader_naming_it(monkeypatch):
    with pytest.raises(ValueError, match=r"^aime24: answer_delimiters must be a list"):
        grading_settings({"answer_delimiters": [""]}, name="aime24")
    with pytest.raises(ValueError, match=r"^math500: unknown judge option"):
        grading_settings({"judge": {"base_url": "http://x", "model": "m", "colour": "red"}}, name="math500")
    monkeypatch.delenv("S1EVAL_HOOKS_UNSET_KEY", raising=False)
    judge = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "S1EVAL_HOOKS_UNSET_KEY"}
    with pytest.raises(Exception, match="S1EVAL_HOOKS_UNSET_KEY is not set"):
        grading_settings({"judge": judge}, name="math500")
    # GPQA never consults the judge: its key is not asked for, but the block must still parse.
    assert grading_settings({"judge": judge}, name="gpqa_diamond", judged=False).judge.model == "m"


@pytest.mark.parametrize("loader", ["aime24", "aime24_figures", "aime25", "math500", "s1_mini"])
def test_every_loader_takes_the_metadata(loader):
    import s1eval.data as data

    plain = getattr(data, loader)()["test"].to_list()
    same = getattr(data, loader)(version=1.0, answer_delimiters=list(DEFAULT_ANSWER_DELIMITERS), judge=None)
    assert same["test"].to_list() == plain and GRADING_KEY not in same["test"].column_names
    tagged = getattr(data, loader)(answer_delimiters=["<final>"])["test"]
    assert tagged[0][GRADING_KEY] == {"answer_delimiters": ["<final>"], "judge": None}
    assert tagged.remove_columns(GRADING_KEY).to_list() == plain
    with pytest.raises(ValueError, match=f"^{loader}: answer_delimiters"):
        getattr(data, loader)(answer_delimiters=3)


def test_the_gpqa_loader_takes_the_metadata():
    import s1eval.data as data

    csv = str(REPO / "tests" / "grading" / "data" / "gpqa_synthetic.csv")
    plain = data.gpqa_diamond(gpqa_data=csv)["test"]
    assert GRADING_KEY not in plain.column_names
    tagged = data.gpqa_diamond(gpqa_data=csv, answer_delimiters=["<final>"])["test"]
    assert tagged.remove_columns(GRADING_KEY).to_list() == plain.to_list()
    assert doc_settings(tagged[0]).delimiters == ("<final>",)


def test_process_results_read_the_settings_from_the_document(default_pool):
    plain = {"answer": "204", "problem": "p"}
    tagged = {**plain, GRADING_KEY: {"answer_delimiters": ["<final>"], "judge": None}}
    assert hooks.process_aime(plain, [RESPONSE])["grading"]["extracted"] == "1"
    result = hooks.process_aime(tagged, [RESPONSE])
    assert (result["exact_match"], result["grading"]["extracted"]) == (1, "204")
    assert hooks.process_math(tagged, [RESPONSE])["exact_match"] == 1
    out = hooks.process_aime_samples(tagged, [[RESPONSE, "\\boxed{204}"]])
    assert (out["maj@2"], out["mean_acc"]) == (1.0, 1.0)
    assert hooks.process_aime_samples(plain, [[RESPONSE, "\\boxed{204}"]])["mean_acc"] == 0.5
    letters = {"answer": "B", "choices": None}
    assert hooks.process_gpqa(letters, ["\\boxed{A} <final> B"])["grading"]["extracted"] == "A"
    gpqa = hooks.process_gpqa({**letters, GRADING_KEY: tagged[GRADING_KEY]}, ["\\boxed{A} <final> B"])
    assert (gpqa["exact_match"], gpqa["grading"]["extracted"]) == (1, "B")


def test_check_docs_returns_the_documents_and_refuses_bad_settings():
    import datasets

    docs = datasets.Dataset.from_list([{"answer": "1"}])
    assert check_docs(docs) is docs
    tagged = attach_settings(docs, settings_from_metadata({"answer_delimiters": ["<final>"]}))
    assert check_docs(tagged) is tagged
    bad = [{"answer": "1", GRADING_KEY: {"answer_delimiters": [""], "judge": None}}]
    with pytest.raises(ValueError, match="s1_grading is not valid"):
        check_docs(bad)
