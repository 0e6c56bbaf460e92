"""How the collect stage cuts a large source down, as the authors' collection script did.

simplescaling/s1 `data/collect_data.py` shuffles a source with `datasets.Dataset.shuffle(seed=42)` and takes
its head (xword: 1,000), or, for SciEval, walks the shuffled rows filling per-task and per-topic quotas
(`select_examples_scieval`, 250). Both then append the rows of a keep list (`TMP_QUESTIONS_TO_KEEP`).

`hf_permutation` is the permutation `Dataset.shuffle(seed=...)` applies (numpy's `default_rng(seed)`
.permutation), so the same input order and seed pick the same rows as the script did.

Each function returns the indices chosen, in the order the script produced them, without repeats: the
script's lists could hold a row twice (a keep-list row also drawn by the shuffle; a SciEval row taken once
for its topic quota and again for its task quota), and its final exact dedup removed the copy, so the
set is the same. `scieval_balanced` counts the repeats the way the script did when deciding it has enough.
"""

from __future__ import annotations

import ast
import math
from typing import Any


def hf_permutation(n: int, seed: int) -> list[int]:
    """The row order of `datasets.Dataset.shuffle(seed=seed)` on `n` rows."""
    import numpy as np

    return [int(i) for i in np.random.default_rng(seed).permutation(n)]


def _keep_indices(rows: list[dict[str, Any]], keep: frozenset[str]) -> list[int]:
    return [i for i, r in enumerate(rows) if r["question"] in keep]


def shuffle_head(rows: list[dict[str, Any]], n: int, seed: int, keep: frozenset[str] = frozenset()) -> list[int]:
    """The first `n - len(keep rows)` rows of the seeded shuffle, then the keep-list rows."""
    kept = _keep_indices(rows, keep)
    head = hf_permutation(len(rows), seed)[:max(n - len(kept), 0)]
    return list(dict.fromkeys(head + kept))


def scieval_balanced(rows: list[dict[str, Any]], n: int, seed: int, keep: frozenset[str] = frozenset()) -> list[int]:
    """The script's SciEval selection: quotas of ceil(n / #tasks) per `task_name` and, on top, ceil(SocraticQA
    quota / #topics) per `topic`, filled while walking the seeded shuffle, then the keep-list rows.

    Replicated as written, including two quirks that decide which rows are picked: the topic quota is
    checked for every row (every row's topic is in the set of topics, whatever its task) and charges
    SocraticQA's task quota; and a row can pass both checks and be taken twice, which counts twice towards
    `n`. The walk stops when the count equals `n` exactly, else at the end of the rows."""
    kept = _keep_indices(rows, keep)
    n -= len(kept)
    metas = [ast.literal_eval(r["metadata"]) for r in rows]
    tasks = {m["task_name"] for m in metas}
    if not tasks:
        return kept
    task_left = {t: math.ceil(n / len(tasks)) for t in tasks}
    topics = {m.get("topic") for m in metas}
    socratic = task_left.get("SocraticQA", 0)
    topic_left = {t: math.ceil(socratic / len(topics)) for t in topics}
    chosen: list[int] = []
    taken = 0  # the script's len(selected_examples), repeats included
    for i in hf_permutation(len(rows), seed):
        m = metas[i]
        if topic_left[m.get("topic")] > 0:
            chosen.append(i)
            taken += 1
            topic_left[m.get("topic")] -= 1
            if "SocraticQA" in task_left:
                task_left["SocraticQA"] -= 1
        if task_left[m["task_name"]] > 0:
            chosen.append(i)
            taken += 1
            task_left[m["task_name"]] -= 1
        if taken == n:
            break
    return list(dict.fromkeys(chosen + kept))
