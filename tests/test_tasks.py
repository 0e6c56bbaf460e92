"""The s1_* task YAMLs: configuration, shipped data, figure stripping, and one real `lm_eval` run.

The subprocess run copies `tasks/` to a temporary folder outside the repository and turns the autoload hook
off, so it proves that the YAMLs do not depend on where they sit (as in a wheel, where they are `s1eval/tasks`):
hooks are imported by module name and the data is found through the `s1eval.data` package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s1eval.grading import GRADER_VERSION
from s1eval.grading.segment import DEFAULT_ANSWER_DELIMITERS

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
    assert sizes == {"s1_aime24": 30, "s1_aime24_figures": 30, "s1_aime25": 30, "s1_math500": 500,
                     "s1_gpqa_diamond": 6}
    doc = next(iter(tasks["s1_math500"].test_docs()))
    assert tasks["s1_math500"].doc_to_text(doc) == doc["problem"]
    assert tasks["s1_math500"].doc_to_target(doc) == doc["answer"]
    gpqa = next(iter(tasks["s1_gpqa_diamond"].test_docs()))
    choices = "\n".join(f"{L}) {c}" for L, c in zip("ABCD", gpqa["choices"]))
    assert tasks["s1_gpqa_diamond"].doc_to_text(gpqa).endswith(choices)


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
    rows = [{"Problem": f"What is {i}+{i}?", "Answer": 2 * i} for i in range(3)]
    override.write_text("".join(json.dumps(row) + "\n" for row in rows))
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
    # With the autoload hook off, the GPQA loader installs the redacting samples writer itself.
    assert all(row["doc"]["question"].startswith("sha256:") for row in samples["samples_s1_gpqa_diamond"])
    assert "chemical symbol" not in "".join(p.read_text() for p in out.rglob("*.json*"))
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    assert results["s1_aime24"]["exact_match,none"] == 0
    assert results["s1_aime24"]["grading,none"] == 0  # share of extracted answers


# ------------------------------------------------------------------------------------ grading settings from tasks
# Tasks built without lm-eval's built-in task index (fast); tmp_path YAMLs `include:` the shipped ones.
JUDGE_KEY = "sk-tasks-test-KEY-42"


def _build(names, metadata=None, extra_dir=None):
    from lm_eval.tasks import TaskManager, get_task_dict

    paths = [str(TASKS)] + ([str(extra_dir)] if extra_dir else [])
    manager = TaskManager(include_path=paths, include_defaults=False, metadata=metadata)
    return _flat(get_task_dict(names, manager))


def _doc(task, **fields):
    """A document of `task` as lm-eval hands it to process_results (with the grading settings its loader put in
    it), with `fields` replaced."""
    return {**next(iter(task.test_docs())), **fields}


def _variant(folder, name, base, body):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(f"include: {base}\ntask: {name}\n{body}")


def _metric_list(ks):
    names = ["exact_match", "mean_acc"] + [f"{m}@{k}" for m in ("maj", "cov", "pass") for k in ks]
    lines = "".join(f"  - metric: \"{n}\"\n    aggregation: mean\n    higher_is_better: true\n" for n in names)
    return ("metric_list:\n" + lines + "  - metric: grading\n"
            "    aggregation: !function s1eval.grading.hooks.extracted_share_samples\n    higher_is_better: true\n")


@pytest.fixture(autouse=True)
def _patient_default_pool(monkeypatch):
    """The hooks grade through the process-wide pool; give it a generous time limit (a loaded CI machine)."""
    from s1eval.grading import pool as pool_module

    patient = pool_module.WorkerPool(workers=1, timeout_s=60.0)
    monkeypatch.setattr(pool_module, "_DEFAULT", patient)
    yield
    patient.close()


@pytest.fixture(scope="module")
def chat_server():
    from tests.grading.fake_openai import FakeChatServer

    server = FakeChatServer().start()
    yield server
    server.stop()


def test_answer_delimiters_from_yaml_and_metadata(tmp_path):
    # The default delimiters do not know "<final>": the last box (1) is the answer; with it, 204 is.
    response = "Reasoning with \\boxed{1} along the way. <final> 204"
    doc = {"answer": "204", "problem": "p"}
    _variant(tmp_path, "s1_aime24_finaltag", TASKS / "s1_aime24" / "s1_aime24.yaml",
             'metadata:\n  version: 1.0\n  answer_delimiters: ["<final>"]\n')
    built = _build(["s1_aime24", "s1_aime24_finaltag"], extra_dir=tmp_path)
    assert built["s1_aime24"].config.metadata["answer_delimiters"] == list(DEFAULT_ANSWER_DELIMITERS)
    plain, finaltag = built["s1_aime24"], built["s1_aime24_finaltag"]
    assert plain.process_results(_doc(plain, **doc), [response])["grading"]["extracted"] == "1"
    assert finaltag.process_results(_doc(finaltag, **doc), [response])["grading"]["extracted"] == "204"
    # --metadata overrides the YAML, for every task of the run (GPQA too).
    built = _build(["s1_aime24", "s1_gpqa_diamond"], {"answer_delimiters": ["<final>"], "gpqa_data": str(GPQA_CSV)})
    result = built["s1_aime24"].process_results(_doc(built["s1_aime24"], **doc), [response])
    assert (result["exact_match"], result["grading"]["rule"]) == (1, "bare")
    gpqa_task = built["s1_gpqa_diamond"]
    gpqa = gpqa_task.process_results(_doc(gpqa_task, answer="B", choices=None), ["\\boxed{A} <final> B"])
    assert gpqa["grading"]["extracted"] == "B"
    with pytest.raises(ValueError, match="answer_delimiters must be a list"):
        _build(["s1_aime24"], {"answer_delimiters": [""]})


def test_judge_from_metadata_in_a_real_task(tmp_path, chat_server, monkeypatch):
    monkeypatch.setenv("S1EVAL_TASKS_JUDGE_KEY", JUDGE_KEY)
    chat_server.reset()
    chat_server.replies = {("2", "II"): "Yes"}
    judge = {"base_url": chat_server.base_url, "model": "judge-mini", "api_key_env": "S1EVAL_TASKS_JUDGE_KEY",
             "cache": str(tmp_path / "cache")}
    built = _build(["s1_math500", "s1_math500_maj"], {"judge": judge})
    doc = _doc(built["s1_math500"], answer="2", problem="p")
    result = built["s1_math500"].process_results(doc, ["so \\boxed{II}"])
    assert result["exact_match"] == 1
    assert result["grading"]["method"] == "judge" and result["grading"]["judge"]["verdict"] == "yes"
    assert result["grading"]["grader_version"] == f"{GRADER_VERSION}+judge:judge-mini:p1"
    assert chat_server.count == 1
    # The sampling task: 64 responses, one judged pair, answered from the cache.
    responses = ["\\boxed{II}"] * 32 + ["\\boxed{3}"] * 31 + ["no answer"]
    maj = built["s1_math500_maj"]
    out = maj.process_results(_doc(maj, answer="2", problem="p"), [responses])
    assert (out["exact_match"], out["maj@64"], out["mean_acc"]) == (1.0, 1.0, 0.5)
    assert [g["method"] for g in out["grading"][:2]] == ["judge", "judge"]
    assert out["grading"][-1]["method"] == "unextracted"
    assert sorted(chat_server.requests[i]["body"]["messages"][0]["content"].split("Given answer: ")[1].split("\n")[0]
                  for i in range(chat_server.count)) == ["3", "II"]  # the cached pair was not asked again
    # No key in the environment: the task refuses to build, before any generation, naming the variable.
    monkeypatch.delenv("S1EVAL_TASKS_JUDGE_KEY")
    with pytest.raises(Exception, match="S1EVAL_TASKS_JUDGE_KEY is not set") as err:
        _build(["s1_math500"], {"judge": judge})
    assert "127.0.0.1" in str(err.value)


def test_sampling_tasks_keep_all_repeats(tmp_path):
    from s1eval.grading.hooks import check_sampling_config

    shipped = _build(["s1_aime24_maj", "s1_aime25_maj", "s1_math500_maj"])
    for name, task in shipped.items():
        (k,) = [f["k"] for spec in task.config.filter_list for f in spec["filter"] if f["function"] == "take_first_k"]
        assert k == task.config.repeats == 64, name
        check_sampling_config(task.config)
    base = TASKS / "s1_aime24" / "s1_aime24_maj.yaml"
    _variant(tmp_path, "maj_k_mismatch", base, "repeats: 16\n")
    _variant(tmp_path, "maj_metrics_mismatch", base,
             "repeats: 4\nfilter_list:\n  - name: none\n    filter:\n      - function: take_first_k\n        k: 4\n")
    _variant(tmp_path, "maj_4", base, "repeats: 4\nfilter_list:\n  - name: none\n    filter:\n"
             "      - function: take_first_k\n        k: 4\n" + _metric_list([1, 2, 4]))
    with pytest.raises(ValueError, match=r"take_first_k keeps k=64 responses but repeats is 16"):
        _build(["maj_k_mismatch"], extra_dir=tmp_path)
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=[str(TASKS), str(tmp_path)], include_defaults=False)
    with pytest.raises(ValueError, match=r"take_first_k keeps k=64 responses but repeats is 16"):
        manager.load(["maj_k_mismatch"])  # TaskManager.load, lm-eval's newer entry point, checks too
    with pytest.raises(ValueError, match=r"metric_list does not match repeats=4 .*not produced \['cov@16'"):
        _build(["maj_metrics_mismatch"], extra_dir=tmp_path)
    task = _build(["maj_4"], extra_dir=tmp_path)["maj_4"]
    out = task.process_results({"answer": "23"}, [["\\boxed{23}", "\\boxed{5}", "\\boxed{5}", "\\boxed{023}"]])
    assert (out["exact_match"], out["maj@4"], out["pass@4"]) == (1.0, 1.0, 1.0)
    assert set(out) - {"grading"} == {m["metric"] for m in task.config.metric_list} - {"grading"}
    with pytest.raises(ValueError, match="got 3 responses for a document but repeats is 4"):
        task.process_results({"answer": "23"}, [["\\boxed{23}"] * 3])


# ------------------------------------------------------------------------------------ settings carried by the docs
def _shipped_task_names() -> list[str]:
    texts = [p.read_text() for p in sorted(TASKS.rglob("*.yaml"))]
    return sorted({m for t in texts for m in re.findall(r"(?m)^task: (\S+)$", t)})


def test_every_shipped_task_takes_its_grading_settings_from_its_loader_and_passes_the_build_checks():
    from s1eval.grading.hooks import GRADING_KEY, check_task, doc_settings

    names = _shipped_task_names()
    assert names == ["s1_aime24", "s1_aime24_figures", "s1_aime24_maj", "s1_aime25", "s1_aime25_maj",
                     "s1_gpqa_diamond", "s1_math500", "s1_math500_maj", "s1_mini"]
    meta = {"gpqa_data": str(GPQA_CSV)}
    built = _build(names, meta)  # the TaskManager patch ran the checks of every task already
    for name in names:
        task, cfg = built[name], built[name].config
        # lm-eval hands the metadata to the loader only: each is an s1eval.data loader, which attaches the settings.
        assert cfg.custom_dataset.__module__ == "s1eval.data", name
        assert cfg.process_results.__module__ == "s1eval.grading.hooks", name
        assert not any(GRADING_KEY in doc for doc in task.test_docs()), name  # defaults: the docs as they were
        check_task(task)  # and again, idempotent
        assert getattr(task.process_results, "__s1eval_counted__", False) == (cfg.repeats > 1), name
    tagged = _build(names, {**meta, "answer_delimiters": ["<final>"]})
    for name in names:
        assert {doc_settings(d).delimiters for d in tagged[name].test_docs()} == {("<final>",)}, name
    group = _flat(_build(["s1_reasoning"], {**meta, "answer_delimiters": ["<final>"]}))
    assert {n for n in group if n.startswith("s1_")} >= {"s1_aime24", "s1_aime25", "s1_math500", "s1_gpqa_diamond"}
    for name, task in group.items():
        if hasattr(task, "test_docs"):
            assert doc_settings(next(iter(task.test_docs()))).delimiters == ("<final>",), name


def test_default_docs_keep_the_doc_hash_of_committed_runs():
    # s1eval compare pairs questions by doc_hash: runs with the default settings must hash as they did.
    from lm_eval.utils import handle_non_serializable, hash_string

    runs = {"s1_mini": REPO / "results" / "baselines" / "mini-s1",
            "s1_aime24": REPO / "tests" / "scaling" / "data" / "lm_eval_0.4.13_s1hf_tiny"}
    built = _build(list(runs))
    for name, folder in runs.items():
        (path,) = folder.rglob(f"samples_{name}_*.jsonl")
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        docs = list(built[name].test_docs())
        assert len(rows) >= 2
        for row in rows:
            doc = docs[row["doc_id"]]
            assert doc == row["doc"], (name, row["doc_id"])
            text = json.dumps(doc, indent=2, default=handle_non_serializable, ensure_ascii=False)
            assert hash_string(text) == row["doc_hash"], (name, row["doc_id"])


LOADERS = '''import datasets

from s1eval.grading.hooks import attach_settings, grading_settings


def _docs():
    return datasets.DatasetDict({"test": datasets.Dataset.from_list([{"problem": "p", "answer": "204"}])})


def plain(**metadata):
    return _docs()


def graded(**metadata):
    return attach_settings(_docs(), grading_settings(metadata, name="graded"))
'''


def test_a_variant_with_its_own_loader_must_carry_the_settings(tmp_path):
    response = "Reasoning with \\boxed{1} along the way. <final> 204"
    (tmp_path / "my_loaders.py").write_text(LOADERS)
    base = TASKS / "s1_aime24" / "s1_aime24.yaml"
    _variant(tmp_path, "own_plain", base, "custom_dataset: !function my_loaders.plain\n")
    _variant(tmp_path, "own_graded", base, "custom_dataset: !function my_loaders.graded\n")
    built = _build(["own_plain", "own_graded"], extra_dir=tmp_path)  # default settings: nothing to carry
    assert built["own_plain"].process_results(_doc(built["own_plain"]), [response])["grading"]["extracted"] == "1"
    final = {"answer_delimiters": ["<final>"]}
    with pytest.raises(ValueError, match=r"own_plain: the task's metadata asks for grading settings .*'<final>'.* "
                                         r"but its documents carry"):
        _build(["own_plain"], final, extra_dir=tmp_path)
    task = _build(["own_graded"], final, extra_dir=tmp_path)["own_graded"]
    assert task.process_results(_doc(task), [response])["exact_match"] == 1


def test_real_lm_eval_run_grades_with_the_answer_delimiters_of_its_metadata(tmp_path):
    # lm-eval's dummy model answers "lol": with the default delimiters nothing is extracted (see the run above);
    # with --metadata '{"answer_delimiters": ["lo"]}' the answer segment is "l", read as a bare answer.
    override = tmp_path / "aime_subset.jsonl"
    override.write_text("".join(json.dumps({"Problem": f"{i}+{i}?", "Answer": 2 * i}) + "\n" for i in range(3)))
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "S1EVAL_NO_AUTOLOAD"}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cmd = [str(Path(sys.executable).parent / "lm_eval"), "--model", "dummy", "--tasks", "s1_aime25,s1_aime24_maj",
           "--limit", "2", "--log_samples", "--output_path", str(out), "--metadata"]
    metadata = {"aime25_data": str(override), "answer_delimiters": ["lo"]}
    proc = subprocess.run(cmd + [json.dumps(metadata)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    samples = {p.name.split("_20")[0]: [json.loads(x) for x in p.read_text().splitlines()]
               for p in out.rglob("samples_*.jsonl")}
    assert set(samples) == {"samples_s1_aime25", "samples_s1_aime24_maj"}
    carried = {"answer_delimiters": ["lo"], "judge": None}
    for row in samples["samples_s1_aime25"]:
        assert row["doc"]["s1_grading"] == carried
        assert (row["grading"]["extracted"], row["grading"]["rule"], row["exact_match"]) == ("l", "bare", 0)
    for row in samples["samples_s1_aime24_maj"]:
        assert row["doc"]["s1_grading"] == carried
        assert len(row["grading"]) == 64 and {g["extracted"] for g in row["grading"]} == {"l"}
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    assert results["s1_aime25"]["grading,none"] == 1  # every answer extracted
    # A bad setting stops the run when the task is built, before any generation.
    bad = subprocess.run(cmd + [json.dumps({"answer_delimiters": [""]})], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "answer_delimiters must be a list" in bad.stderr
