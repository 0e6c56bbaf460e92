"""Child process of `test_regex_linear`: time every module-level pattern of `s1eval.grading` on hostile text.

    python -m tests.grading.regex_probe [SKIP]

Prints ``start NAME`` before each pattern, ``tick`` after each input and ``done NAME WORST TOTAL`` after the
pattern (flushed), so the parent can kill this
process when one pattern overruns its bound (a backtracking regex cannot be interrupted from inside) and start
again after it (SKIP = how many patterns to skip). Every input is 100 KB: a linear pattern needs milliseconds on
each, a quadratic one tens of seconds.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
import time

import s1eval.grading

SIZE = 100_000

# Tokens whose long repetitions (alone, alternating with space, or before a long run of one character) are the
# usual triggers of backtracking: keywords the patterns anchor on, math delimiters, markup, digits, separators.
TOKENS = [
    " ", "\n", "\t", "1", "1,", "1.", "a", "A. ", "is ", "the ", "answer", "Final Answer", "answer is", "=", ":", "$",
    "\\", "\\[", "\\(", "{", "}", "(", ")", "*", "**", "_", "#", "####", "%", "<", "<|", "|>", "\x001\x00", "½", "√",
    "\\text{a}", "\\boxed{", "x^{th}", "10 cm", "three", "so ", "Therefore ", "which ", ", ", "?", "**Final Answer**",
    "(A)", "A) ", "A = 1, B = 2", "and ", "or ",
]
RUNS = [" ", "1", "a", "\n", "*", "{", "$"]


def inputs() -> list[str]:
    """The hostile texts: each token repeated, alternated with spaces, and followed by a long run."""
    out = []
    for tok in TOKENS:
        out.append((tok * (SIZE // len(tok) + 1))[:SIZE])
        out.append(((tok + " ") * (SIZE // (len(tok) + 1) + 1))[:SIZE])
        out.extend(tok + run * SIZE + "!" for run in RUNS)
    return out


def patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Every compiled pattern defined at module level in `s1eval.grading`, as (module.NAME, pattern)."""
    found = []
    for info in sorted(pkgutil.iter_modules(s1eval.grading.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"s1eval.grading.{info.name}")
        for name, value in sorted(vars(module).items()):
            if isinstance(value, re.Pattern):
                found.append((f"{info.name}.{name}", value))
    return found


def main(skip: int) -> None:
    texts = inputs()
    for name, pattern in patterns()[skip:]:
        print(f"start {name}", flush=True)
        start = time.perf_counter()
        worst = 0.0
        for text in texts:
            t0 = time.perf_counter()
            for _ in pattern.finditer(text):
                pass
            pattern.match(text)
            worst = max(worst, time.perf_counter() - t0)
            print("tick", flush=True)
        print(f"done {name} {worst:.3f} {time.perf_counter() - start:.3f}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
