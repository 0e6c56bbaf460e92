"""Quality + decontamination (real AIME24/AIME25/MATH500, 8-grams) + Algorithm 1 on a synthetic 59,029-row pool.

Question lengths follow a long-tailed distribution around the pool's typical 60-80 words (a few
thousand-word SciEval/USACO statements); 16 sources with the paper's counts; 50 MSC domains. Prints
wall time per stage and peak memory (target: under 60 s and 4 GiB). Not a test: numbers only.

    python benchmarks/select_59k.py [--rows 59029] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time

from s1data.config import make_stage
from s1data.io import write_parquet
from s1data.pipeline import run_pipeline
from s1data.record import question_hash
from s1data.stages.domains import msc_codes

SOURCES = {"AI-MO/NuminaMath-CoT/aops_forum": 30660, "qfq/openaimath/Algebra": 11999, "GAIR/OlympicArena/Math": 4250,
           "KbsdJames/Omni-MATH": 4238, "baber/agieval/sat_math": 2385, "0xharib/xword1": 999,
           "Hothan/OlympiadBench/Open-ended/Math": 896, "qq8933/AIME_1983_2024": 890, "TIGER-Lab/TheoremQA/float": 747,
           "codegenning/usacobench_formatted": 519, "daman1209arora/jeebench/chem": 515, "Idavidrein/gpqa": 348,
           "OpenDFM/SciEval/physics/x/SocraticQA": 227, "qfq/stats_qual": 182, "LiveCodeBench/release_v1": 151,
           "qfq/quant": 23}
VOCAB = ["let", "find", "the", "of", "a", "and", "number", "$x$", "triangle", "prime", "integer", "sum", "points",
         "circle", "is", "that", "such", "real", "probability", "function", "value", "area", "side", "length",
         "equation", "roots", "polynomial", "$n$", "with", "for", "each"]


def synthetic_pool(rows: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    sources = [s for s, c in SOURCES.items() for _ in range(c)][:rows]
    domains = list(msc_codes())[:50]
    from s1eval.data import shipped_rows

    planted = [r["problem"] for r in shipped_rows("math500")[:25]]  # 25 real MATH500 problems must be caught
    out = []
    for i, src in enumerate(sources):
        n_words = min(3000, int(rng.lognormvariate(4.2, 0.6)))
        q = f"Problem {i}: " + " ".join(rng.choice(VOCAB) for _ in range(n_words))
        if i % 2000 == 1 and planted:
            q = planted.pop()
        if rng.random() < 0.01:
            q += " [asy]draw((0,0)--(1,1));[/asy]"
        out.append({"question": q, "solution": "42", "cot_type": "math", "source_type": src, "metadata": "{}",
                    "question_hash": question_hash(q), "thinking_trajectory": "t", "attempt": "a", "api_error": None,
                    "teacher_correct": rng.random() < 0.55, "thinking_tokens": int(rng.lognormvariate(8.0, 0.8)),
                    "domain": rng.choice(domains), "qwen7b_correct": rng.random() < 0.35,
                    "qwen32b_correct": rng.random() < 0.5})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=59029)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    pool = synthetic_pool(args.rows, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        write_parquet(f"{tmp}/pool.parquet", pool)
        del pool
        t1 = time.perf_counter()
        stages = [make_stage("quality", {}),
                  make_stage("decontaminate", {"benchmarks": ["aime24", "aime25", "math500"]}),
                  make_stage("select", {"n": 1000, "seed": args.seed})]
        results = run_pipeline(stages, f"{tmp}/run", f"{tmp}/pool.parquet")
        t2 = time.perf_counter()
    for r in results:
        s = r.stats
        print(f"{s['stage']:>14}: {s['seconds']:6.2f} s  in {s['in']:>6}  kept {s['kept']:>6}  dropped {s['dropped']}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB -> GiB (Linux)
    print(f"pool generation {t1 - t0:.1f} s; quality + decontaminate + select incl. parquet I/O {t2 - t1:.1f} s; "
          f"peak RSS {peak:.2f} GiB (targets: < 60 s, < 4 GiB)")


if __name__ == "__main__":
    main()
