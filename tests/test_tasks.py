"""The s1_* task YAMLs: configuration, shipped data, figure stripping, and one real `lm_eval` run.

The subprocess run copies `tasks/` to a temporary folder outside the repository and turns the autoload hook
off, so it proves that the YAMLs do not depend on where they sit (as in a wheel, where they are `s1eval/tasks`):
hooks are imported by module name and the data is found through the `s1eval.data` package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TASKS = REPO / "tasks"
GPQA_CSV = REPO / "tests" / "grading" / "data" / "gpqa_synthetic.csv"
SINGLE_TASKS = ["s1_aime24", "s1_aime24_figures", "s1_aime25", "s1_math500", "s1_gpqa_diamond"]


@pytest.fixture(scope="module")
def task_dict():
    from lm_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=str(TASKS), metadata={"gpqa_data": str(GPQA_CSV)})
    return get_task_dict(SINGLE_TASKS + ["s1_reasoning"], manager)


def _flat(task_dict) -> dict:
    out = {}
    for key, value in task_dict.items():
        if isinstance(value, dict):
            out.update(_flat(value))
        else:
            out[getattr(key, "group_name", key) if not isinstance(key, str) else key] = value
    return out


def test_generation_settings(task_dict):
    tasks = _flat(task_dict)
    for name in SINGLE_TASKS:
        cfg = tasks[name].config
        gen = cfg.generation_kwargs
        assert gen["until"] == [], name
        assert (gen["max_gen_toks"], gen["do_sample"], gen["temperature"]) == (32768, False, 0.0), name
        assert cfg.output_type == "generate_until" and cfg.num_fewshot == 0, name
        assert cfg.metadata["version"] >= 1, name


def test_doc_counts_and_bare_prompts(task_dict):
    tasks = _flat(task_dict)
    sizes = {name: len(list(tasks[name].test_docs())) for name in SINGLE_TASKS}
    assert sizes == {"s1_aime24": 30, "s1_aime24_figures": 30, "s1_aime25": 30, "s1_math500": 500, "s1_gpqa_diamond": 6}
    doc = next(iter(tasks["s1_math500"].test_docs()))
    assert tasks["s1_math500"].doc_to_text(doc) == doc["problem"]
    assert tasks["s1_math500"].doc_to_target(doc) == doc["answer"]
    gpqa = next(iter(tasks["s1_gpqa_diamond"].test_docs()))
    assert tasks["s1_gpqa_diamond"].doc_to_text(gpqa).endswith("\n".join(f"{L}) {c}" for L, c in zip("ABCD", gpqa["choices"])))


def test_group_lists_the_four_benchmarks(task_dict):
    names = set(_flat(task_dict))
    assert {"s1_aime24", "s1_aime25", "s1_math500", "s1_gpqa_diamond"} <= names


def test_figures_stripped_only_in_the_no_figures_variant(task_dict):
    tasks = _flat(task_dict)
    plain = {d["id"]: d["problem"] for d in tasks["s1_aime24"].test_docs()}
    figures = {d["id"]: d["problem"] for d in tasks["s1_aime24_figures"].test_docs()}
    assert sorted(i for i, p in figures.items() if "[asy]" in p) == [81, 88]
    assert not any("[asy]" in p or "[/asy]" in p for p in plain.values())
    # Checked by hand (s1eval/data/README.md): the text before each figure is kept whole.
    assert plain[81].endswith("The diagram below shows three of those rectangles.")
    assert plain[88].endswith("relatively prime positive integers. Find $m+n$.")
    assert all(plain[i] == figures[i] for i in plain if i not in (81, 88))


def test_real_lm_eval_run_from_a_copied_task_folder(tmp_path):
    copied = tmp_path / "elsewhere" / "tasks"
    shutil.copytree(TASKS, copied)
    override = tmp_path / "aime_subset.jsonl"
    override.write_text("".join(json.dumps({"Problem": f"What is {i}+{i}?", "Answer": 2 * i}) + "\n" for i in range(3)))
    metadata = json.dumps({"aime25_data": str(override), "gpqa_data": str(GPQA_CSV)})
    out = tmp_path / "out"
    env = {**os.environ, "S1EVAL_NO_AUTOLOAD": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cmd = [str(Path(sys.executable).parent / "lm_eval"), "--model", "dummy", "--tasks",
           "s1_aime24,s1_aime25,s1_gpqa_diamond", "--include_path", str(copied), "--limit", "3",
           "--metadata", metadata, "--log_samples", "--output_path", str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    samples = {p.name.split("_20")[0]: [json.loads(x) for x in p.read_text().splitlines()]
               for p in out.rglob("samples_*.jsonl")}
    assert set(samples) == {"samples_s1_aime24", "samples_s1_aime25", "samples_s1_gpqa_diamond"}
    assert [s["target"] for s in samples["samples_s1_aime25"]] == ["0", "2", "4"]  # the override was used
    for rows in samples.values():
        assert len(rows) == 3
        for row in rows:
            # The dummy model answers "lol": no final answer, so wrong and logged as unextracted.
            assert row["exact_match"] == 0
            assert row["grading"]["method"] == "unextracted" and row["grading"]["extracted"] is None
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    assert results["s1_aime24"]["exact_match,none"] == 0
    assert results["s1_aime24"]["grading,none"] == 0  # share of extracted answers
