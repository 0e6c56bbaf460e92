"""No regular expression in the grading package is super-linear: every compiled pattern, on hostile text.

Python's `re` backtracks, so two quantifiers competing for the same characters (``\\s*(?:\\*\\*)?\\s*:``) or a
lazy scan restarted from every opener (``\\\\\\[(.+?)\\\\\\]``) turn 100 KB into minutes. `regex_probe` finds every
module-level pattern of `s1eval.grading` by introspection (a new pattern is covered without being listed) and
times `finditer` and `match` over 100 KB strings built from the characters the patterns care about. A linear
pattern needs milliseconds per input; each quadratic one found so far needed 20 s to hours. The probe runs in a
child process that is killed when one pattern overruns `BOUND_S` on one input (a backtracking regex cannot be
interrupted from inside), so a regression fails in seconds and names the pattern.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.grading.regex_probe import patterns

REPO = Path(__file__).resolve().parents[2]
BOUND_S = 4.0  # per pattern and input: a linear pattern takes < 0.1 s on a busy 2-core machine


def _sweep() -> tuple[dict[str, float], list[str]]:
    """Run the probe, restarting it after a killed pattern; (worst seconds per pattern, patterns killed)."""
    names = [name for name, _ in patterns()]
    worst: dict[str, float] = {}
    killed: list[str] = []
    while len(worst) + len(killed) < len(names):
        skip = len(worst) + len(killed)
        proc = subprocess.Popen([sys.executable, "-m", "tests.grading.regex_probe", str(skip)], cwd=REPO,
                                stdout=subprocess.PIPE, bufsize=0)
        current, pending, deadline = names[skip], b"", time.monotonic() + 60.0  # 60 s for start-up
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:  # one input ran past the bound: kill, record, go on with the next pattern
                proc.kill()
                proc.wait()
                killed.append(current)
                break
            chunk = os.read(proc.stdout.fileno(), 65536)  # type: ignore[union-attr]
            if not chunk:
                proc.wait()
                break
            *lines, pending = (pending + chunk).split(b"\n")
            deadline = time.monotonic() + BOUND_S
            for line in lines:
                kind, *rest = line.decode().split()
                if kind == "start":
                    current = rest[0]
                elif kind == "done":
                    worst[rest[0]] = float(rest[1])
                    if worst[rest[0]] > BOUND_S:
                        killed.append(rest[0])
    return worst, killed


def test_every_pattern_is_linear_on_hostile_text():
    worst, killed = _sweep()
    names = [name for name, _ in patterns()]
    # The introspection must keep finding the patterns, or this test would pass vacuously.
    assert {"extract.ANSWER_TAG_RE", "extract._ANSWER_HEADER_RE", "normalize._TRAILING_UNIT_RE",
            "prose_value._NAMED_BEFORE_RE", "mathspans._SENTENCE_SPLIT_RE"} <= set(names)
    assert len(names) >= 40
    slow = {name: worst.get(name) for name in killed}
    assert not slow, f"super-linear patterns (worst seconds on one 100 KB input; None = killed): {slow}"
    assert set(worst) == set(names)
    print(f"\n{len(names)} patterns, worst single input {max(worst.values()):.3f} s")
