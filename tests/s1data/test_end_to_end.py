"""Every stage on a pool of a few hundred rows in the sources' hub schemas, models answered from recordings.

Question texts are real: the released s1K questions of each source (tests/s1data/data/s1k_questions.jsonl),
wrapped in the hub fields each loader reads (per the authors' collect script). Answers, years and the
other non-text fields are synthetic; one MATH500 problem and one duplicate are planted. Teacher, solvers
and the domain judge are `recorded` clients (no network, no cost); the s1eval grader grades.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from s1data.clients import prompt_hash
from s1data.config import make_stage
from s1data.io import read_parquet
from s1data.pipeline import run_pipeline
from s1data.stages.domains import domain_prompt

DATA = Path(__file__).parent / "data"

WRAP = {  # source_type prefix in s1K -> (collect source, row builder)
    "qq8933/AIME_1983_2024": ("aime", lambda q, i: {"ID": f"1990-{i}", "Year": 1990 + i % 40,
                                                    "Problem Number": i % 15 + 1,
                                                    "Question": q, "Answer": str(i % 1000), "Part": None}),
    "AI-MO/NuminaMath-CoT": ("numinamath", lambda q, i: {"source": "aops_forum" if i % 5 else "cn_k12", "problem": q,
                                                         "solution": f"So the answer is $\\boxed{{{i}}}$.",
                                                         "messages": []}),
    "Idavidrein/gpqa": ("gpqa", lambda q, i: {"Question": q, "Explanation": f"Because {i}.",
                                              "High-level domain": "Physics", "Correct Answer": str(i)}),
    "KbsdJames/Omni-MATH": ("omnimath", lambda q, i: {"problem": q, "solution": f"$\\boxed{{{i}}}$", "domain": ["x"],
                                                      "difficulty": 7.0, "answer": str(i), "source": "imo"}),
    "qfq/openaimath": ("math", lambda q, i: {"problem": q, "solution": f"Thus $\\boxed{{{i}}}$.", "subject": "Algebra",
                                             "level": 5, "unique_id": f"train/x/{i}.json"}),
    "daman1209arora/jeebench": ("jeebench", lambda q, i: {"question": q, "gold": "A", "subject": "chem",
                                                          "description": "JEE Adv 2020", "index": i, "type": "MCQ"}),
    "TIGER-Lab/TheoremQA": ("theoremqa", lambda q, i: {"Question": q, "Answer": str(i), "Answer_type": "integer",
                                                       "Picture": None if i % 7 else "img.png"}),
}


def _pool(tmp_path: Path) -> dict:
    with open(DATA / "s1k_questions.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    files: dict[str, list] = {}
    for i, r in enumerate(rows):
        for prefix, (source, build) in WRAP.items():
            if r["source_type"].startswith(prefix) and len(files.get(source, [])) < 45:
                files.setdefault(source, []).append(build(r["question"], i))
    from s1eval.data import shipped_rows

    files["math"].append({"problem": shipped_rows("math500")[7]["problem"], "solution": "$\\boxed{1}$",
                          "subject": "Algebra", "level": 5, "unique_id": "planted"})
    files["math"].append(dict(files["math"][0]))  # planted duplicate
    paths = {}
    for source, items in files.items():
        paths[source] = str(tmp_path / f"{source}.jsonl")
        Path(paths[source]).write_text("".join(json.dumps(x) + "\n" for x in items))
    diamond = tmp_path / "diamond.csv"
    diamond.write_text("Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n"
                       f"\"{files['gpqa'][0]['Question'].replace(chr(34), chr(39))}\",a,b,c,d\n")
    files["gpqa"][0]["Question"] = files["gpqa"][0]["Question"].replace('"', "'")
    Path(paths["gpqa"]).write_text("".join(json.dumps(x) + "\n" for x in files["gpqa"]))
    return {"paths": paths, "diamond": str(diamond), "questions": [q for items in files.values() for q in items]}


def _recordings(tmp_path: Path, questions: list[str]) -> dict:
    rng = random.Random(0)
    out = {}
    for name in ("teacher", "qwen7b", "qwen32b", "judge"):
        lines = []
        for q in questions:
            prompt = domain_prompt(q) if name == "judge" else q
            if name == "teacher":
                rep = {"reasoning": "Let me think. " * rng.randint(1, 40), "text": f"$\\boxed{{{rng.randint(0, 3)}}}$",
                       "error": "HTTP 500" if rng.random() < 0.03 else None}
            elif name == "judge":
                rep = {"text": f"Code: {rng.choice(['11', '05', '60', '81', '92'])}"}
            else:
                rep = {"text": f"The answer is $\\boxed{{{rng.randint(0, 400)}}}$."}
            lines.append(json.dumps({"prompt_hash": prompt_hash(prompt), **rep}))
        out[name] = str(tmp_path / f"rec_{name}.jsonl")
        Path(out[name]).write_text("\n".join(lines) + "\n")
    return out


def _stages(pool: dict, rec: dict, tok: str, seed: int) -> list:
    return [
        make_stage("collect", {"sources": sorted(pool["paths"]), "paths": pool["paths"],
                               "gpqa_diamond_data": pool["diamond"], "seed": seed}),
        make_stage("decontaminate", {"benchmarks": ["aime24", "aime25", "math500"]}),
        make_stage("traces", {"client": {"kind": "recorded", "path": rec["teacher"]}, "chunk_size": 64}),
        make_stage("quality", {"required": ["question", "thinking_trajectory", "attempt"]}),
        make_stage("difficulty", {"solvers": {n: {"kind": "recorded", "path": rec[n], "model": n}
                                              for n in ("qwen7b", "qwen32b")},
                                  "tokenizer": tok}),
        make_stage("domains", {"client": {"kind": "recorded", "path": rec["judge"]}}),
        make_stage("select", {"n": 40, "seed": seed}),
        make_stage("export", {"tokenizer": tok}),
    ]


def test_every_stage_reconciled_and_reproducible(tmp_path, tiny_tok):
    pool = _pool(tmp_path)
    rec = _recordings(tmp_path, [q.get("Question") or q.get("problem") or q.get("question")
                                 for q in pool["questions"]])
    res = run_pipeline(_stages(pool, rec, tiny_tok, 3), tmp_path / "run", None)
    assert 250 <= res[0].stats["in"] <= 400
    for prev, cur in zip(res, res[1:]):
        assert cur.stats["in"] == prev.stats["kept"]
    for r in res:
        assert r.stats["in"] == r.stats["kept"] + r.stats["dropped_total"]
    s = {r.name: r.stats for r in res}
    assert (s["collect"]["dropped"].get("aime:after_2021", 0) > 0
            and "numina:not_aops_forum_or_kept" in s["collect"]["dropped"])
    assert s["collect"]["dropped"]["gpqa:in_diamond"] == 1
    assert (s["decontaminate"]["dropped"]["duplicate:exact"] >= 1
            and s["decontaminate"]["dropped"]["contaminated:math500"] >= 1)
    assert s["quality"]["dropped"]["api_error"] >= 1
    assert s["select"]["kept"] == 40 and s["export"]["kept"] == 40
    chosen = [r["question_hash"] for r in read_parquet(res[-1].data)]
    again = run_pipeline(_stages(pool, rec, tiny_tok, 3), tmp_path / "run", None)
    assert all(r.skipped for r in again)
    # the same seed on the same featurised input gives the same selection in a fresh folder
    fresh = run_pipeline([make_stage("select", {"n": 40, "seed": 3})], tmp_path / "run2", str(res[5].data))
    assert [r["question_hash"] for r in read_parquet(fresh[-1].data)] == chosen
    other = run_pipeline([make_stage("select", {"n": 40, "seed": 4})], tmp_path / "run3", str(res[5].data))
    assert [r["question_hash"] for r in read_parquet(other[-1].data)] != chosen
    assert read_parquet(res[-1].data)[0]["text"].startswith("<|im_start|>system\n")
