"""The killable worker pool: reuse, ordering, timeouts, crashes."""

from __future__ import annotations

import pytest

from s1eval.grading.pool import WorkerPool


def test_results_in_input_order_and_workers_reused(pool):
    jobs = [(str(i), f"\\frac{{{2 * i}}}{{2}}") for i in range(20)]
    first = [w.proc.pid for w in pool._workers]
    outcomes = pool.map("check_pair", jobs)
    assert [o.value for o in outcomes] == [(True, "")] * 20
    wrong = pool.map("check_pair", [("1", "2"), ("3", "3")])
    assert [o.value[0] for o in wrong] == [False, True]
    assert [w.proc.pid for w in pool._workers][: len(first)] == first or not first


def test_timeout_replaces_only_the_stuck_worker():
    with WorkerPool(workers=2, timeout_s=1.0) as p:
        p.map("check_pair", [("1", "1"), ("2", "2")])
        pids = {w.proc.pid for w in p._workers}
        # 10^(10^10) is built by sympy in C (ten billion digits): only killing the process stops it.
        outcomes = p.map("check_pair", [("5", "10^{10^{10}}"), ("2", "2")])
        assert outcomes[0].status == "timeout"
        assert outcomes[1].status == "ok" and outcomes[1].value[0]
        assert p.kills == 1
        assert len({w.proc.pid for w in p._workers} & pids) == 1
        assert p.map("check_pair", [("7", "7")])[0].value == (True, "")


def test_unknown_function_is_an_error_outcome(pool):
    outcome = pool.map("no_such_function", [("1",)])[0]
    assert outcome.status == "error" and "no_such_function" in outcome.detail


def test_invalid_timeout():
    with pytest.raises(ValueError, match="timeout_s"):
        WorkerPool(timeout_s=0)
