"""s1data.subsample: the authors' seeded shuffle-and-head and SciEval quota selection.

The permutation must be the one `datasets.Dataset.shuffle(seed=...)` applies, so the same rows come out as
in the authors' run; the SciEval walk keeps the script's quirks (a row can fill a topic and a task quota at
once and counts twice towards n), which decide how many distinct rows survive.
"""

from __future__ import annotations

import datasets
import pytest

from s1data.subsample import hf_permutation, scieval_balanced, shuffle_head


@pytest.mark.parametrize("n,seed", [(1, 42), (17, 42), (1000, 42), (50, 7)])
def test_permutation_is_the_datasets_shuffle(n, seed):
    ds = datasets.Dataset.from_dict({"i": list(range(n))}).shuffle(seed=seed)
    assert hf_permutation(n, seed) == ds["i"]


def test_shuffle_head_takes_the_shuffled_head_and_keeps_the_keep_list():
    rows = [{"question": f"q{i}"} for i in range(30)]
    perm = hf_permutation(30, 42)
    assert shuffle_head(rows, 5, 42) == perm[:5]
    keep = frozenset({"q3", "q29"})
    got = shuffle_head(rows, 5, 42, keep)
    # the keep rows count towards n and come last; a keep row drawn by the shuffle appears once
    assert got == list(dict.fromkeys(perm[:3] + [3, 29]))
    assert {3, 29} <= set(got) and len(got) <= 5


def _row(i, task, topic=None):
    return {"question": f"q{i}", "metadata": str({"task_name": task, "topic": topic, "category": "x"})}


def test_scieval_double_take_shrinks_the_sample():
    """One task, one topic, n=3: the first row fills its topic and its task quota (counted twice), the second
    its topic quota only; the count reaches 3 with two distinct rows."""
    rows = [_row(i, "SocraticQA", "physics") for i in range(10)]
    got = scieval_balanced(rows, 3, 42)
    assert got == hf_permutation(10, 42)[:2]


def test_scieval_quotas_per_task():
    """Four tasks and n=8: at most ceil(8/4)=2 rows per non-Socratic task by the task quota, plus what the
    topic quotas (here: topic None for every non-Socratic row) let through."""
    rows = ([_row(i, "SocraticQA", t) for i, t in zip(range(0, 40), ["physics", "chemistry"] * 20)]
            + [_row(i, "MedQA") for i in range(40, 80)] + [_row(i, "PubMedQA") for i in range(80, 120)]
            + [_row(i, "reagent selection") for i in range(120, 160)])
    got = scieval_balanced(rows, 8, 42)
    tasks = [eval(rows[i]["metadata"])["task_name"] for i in got]
    assert len(got) == len(set(got)) <= 8
    for t in ("MedQA", "PubMedQA", "reagent selection"):
        # task quota 2, plus at most the single None-topic quota slot (ceil(2 / 3 topics) = 1) shared by all three
        assert tasks.count(t) <= 3
    assert sum(tasks.count(t) for t in ("MedQA", "PubMedQA", "reagent selection")) <= 2 * 3 + 1
    order = hf_permutation(len(rows), 42)
    assert got == sorted(got, key=order.index)  # chosen in shuffle order


def test_scieval_keep_rows_come_last_and_reduce_n():
    rows = [_row(i, "SocraticQA", "physics") for i in range(10)] + [_row(10, "MedQA")]
    got = scieval_balanced(rows, 4, 42, frozenset({"q10"}))
    assert got[-1] == 10 and len(got) <= 4
