"""The shipped held-out set and the s1_mini task: reproducible, disjoint from training data, graded as integers."""

from __future__ import annotations

import json
from pathlib import Path

from s1eval.mini.data import TEST_FILE, dumps, make_test_rows, task_rows
from s1eval.mini.problems import K_MAX, K_MIN, parse_question, sample_problems
from s1eval.mini.traces import pool_rows, teacher_rows

REPO = Path(__file__).resolve().parents[2]
TASKS = REPO / "tasks"


def _shipped():
    return [json.loads(x) for x in TEST_FILE.read_text().splitlines()]


def test_shipped_file_is_the_documented_command_output():
    assert TEST_FILE.read_text() == dumps(make_test_rows())


def test_shipped_problems_are_held_out_and_right():
    rows = _shipped()
    assert len(rows) >= 500 and len({r["problem"] for r in rows}) == len(rows)
    ks = {r["k"] for r in rows}
    assert ks == set(range(K_MIN, K_MAX + 1))
    for r in rows:
        p = parse_question(r["problem"])
        assert p.split == "test" and str(p.answer) == r["answer"]
        assert (p.family, p.x0, p.a, p.b, p.k) == (r["family"], r["x0"], r["a"], r["b"], r["k"])


def test_training_generators_never_produce_held_out_problems():
    held = _shipped()
    texts = {r["problem"] for r in held}
    starts = {(r["family"], r["x0"], r["a"]) for r in held}
    generated = [r["question"] for seed in (0, 1) for r in pool_rows(5000, seed)]
    generated += [r["question"] for r in teacher_rows(3000, 0)]
    generated += [p.question for p in sample_problems(5000, 0, "dev")]
    assert not texts & set(generated)
    # nor any problem sharing a trace prefix with one (same map, start value and first r)
    assert not starts & {parse_question(q).start for q in generated}


def _build(names, metadata=None):
    from lm_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=[str(TASKS)], include_defaults=False, metadata=metadata)
    return get_task_dict(names, manager)


def test_lm_eval_task(tmp_path):
    task = _build(["s1_mini"])["s1_mini"]
    cfg = task.config
    assert cfg.generation_kwargs["until"] == [] and cfg.generation_kwargs["do_sample"] is False
    assert cfg.generation_kwargs["temperature"] == 0.0 and cfg.generation_kwargs["max_gen_toks"] >= 2048
    assert cfg.output_type == "generate_until" and cfg.num_fewshot == 0
    docs = list(task.test_docs())
    assert len(docs) == 500
    assert task.doc_to_text(docs[0]) == docs[0]["problem"] and task.doc_to_target(docs[0]) == docs[0]["answer"]
    doc = docs[0]
    right = f"01:31->23+11=34\n<|im_start|>answer\nFinal Answer: {int(doc['answer']):02d}"
    assert task.process_results(doc, [right])["exact_match"] == 1
    wrong = f"<|im_start|>answer\nFinal Answer: {(int(doc['answer']) + 1) % 41:02d}"
    assert task.process_results(doc, [wrong])["exact_match"] == 0
    cut = "01:31->23+11=34\n<|im_start|>answer\nFinal Answer:"
    assert task.process_results(doc, [cut])["grading"]["method"] == "unextracted"
    # --metadata mini_data points the task at another file
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"problem": docs[1]["problem"], "answer": 3}) + "\n")
    assert [d["answer"] for d in task_rows(mini_data=str(other))] == ["3"]
    assert len(list(_build(["s1_mini"], {"mini_data": str(other)})["s1_mini"].test_docs())) == 1
