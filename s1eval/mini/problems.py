"""The mini task family: problems, their answers, and the train/dev/test partition (see `s1eval.mini`).

A problem is ``(family, x0, a, b)``: start from ``x = x0`` and, for ``r = a, a-1, ..., b`` in turn, replace
``x`` by ``sigma(x) + r (mod P)``, where ``sigma(x) = c * x**e (mod P)`` is the family's map.  The answer is
the final ``x``; ``k = a - b + 1`` steps, stated in the question (the trace counts them down, so the end of
the thinking is a local decision).  Numbers in questions and traces are written with two digits.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

#: The prime modulus: answers are 0..40 (chance 1/41), every number fits in two digits. 89 (six maps, a
#: 534-entry table) was not learnable in the CPU budget (MODEL_CARD.md, runs 1-6); 41 with four maps is 164.
P = 41
#: The step term r runs over 0..R-1.
R = 40
#: Steps per problem: K_MIN..K_MAX (the test set is uniform over k). One step could be done "in the head" (it
#: is what a trace line teaches), so a problem always has at least two.
K_MIN, K_MAX = 2, 16
#: Share of trajectory starts (family, x0, a) in each split, by hash bucket out of 16.
SPLIT_BUCKETS = {"test": (0,), "dev": (1,), "train": tuple(range(2, 16))}
SPLITS = tuple(SPLIT_BUCKETS)
_HASH_SALT = "s1mini-v2"


@dataclass(frozen=True)
class Family:
    """sigma(x) = coef * x**exp (mod P): a permutation of Z_P because gcd(exp, P - 1) = 1 and coef != 0."""

    name: str
    coef: int
    exp: int

    def __post_init__(self) -> None:
        if math.gcd(self.exp, P - 1) != 1 or self.coef % P == 0:
            raise ValueError(f"family {self.name}: {self.formula} is not a permutation mod {P}")

    @property
    def formula(self) -> str:
        return f"{self.coef if self.coef != 1 else ''}x^{self.exp}"

    def sigma(self, x: int) -> int:
        return self.coef * pow(x, self.exp, P) % P


#: The map families: the task's "domains" (s1data's Algorithm 1 samples domains uniformly).
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("cube", 1, 3),
    Family("seventh", 1, 7),
    Family("double_cube", 2, 3),
    Family("triple_seventh", 3, 7),
)}


def num(n: int) -> str:
    """A number as written in questions and traces: two digits (fixed width keeps every trace line the same
    number of tokens, so a small model finds its operands at fixed offsets)."""
    return f"{n:02d}"


@dataclass(frozen=True)
class Problem:
    family: str
    x0: int
    a: int
    b: int

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown family {self.family!r}; known: {', '.join(FAMILIES)}")
        if not (0 <= self.x0 < P and 0 <= self.b <= self.a < R):
            raise ValueError(f"need 0 <= x0 < {P} and 0 <= b <= a < {R}: {self}")

    @property
    def k(self) -> int:
        return self.a - self.b + 1

    @property
    def fam(self) -> Family:
        return FAMILIES[self.family]

    @property
    def question(self) -> str:
        return (f"Let x = {num(self.x0)}. In {num(self.k)} steps, for r from {num(self.a)} down to {num(self.b)}, "
                f"replace x by {self.fam.formula} + r mod {P}. What is x at the end?")

    def steps(self) -> Iterator[tuple[int, int, int, int]]:
        """(x, sigma(x), r, new x) for each step."""
        x = self.x0
        for r in range(self.a, self.b - 1, -1):
            s = self.fam.sigma(x)
            y = (s + r) % P
            yield x, s, r, y
            x = y

    @cached_property
    def answer(self) -> int:
        x = self.x0
        for _, _, _, x in self.steps():  # noqa: B007 - keeps the last step's value
            pass
        return x

    @property
    def start(self) -> tuple[str, int, int]:
        """The trajectory start: problems sharing it share a trace prefix, so the partition keys on it."""
        return (self.family, self.x0, self.a)

    @property
    def split(self) -> str:
        return split_of(self.family, self.x0, self.a)

    def meta(self) -> dict:
        return {"family": self.family, "x0": self.x0, "a": self.a, "b": self.b, "k": self.k, "p": P,
                "answer": self.answer, "split": self.split}


def split_of(family: str, x0: int, a: int) -> str:
    """"train", "dev" or "test": a hash of the trajectory start (family, x0, a), so no trace in one split is a
    prefix of a trace in another (a trajectory is fixed by its start; b only says where it stops)."""
    bucket = int(hashlib.sha256(f"{_HASH_SALT}:{family}:{x0}:{a}".encode()).hexdigest()[:8], 16) % 16
    return next(name for name, buckets in SPLIT_BUCKETS.items() if bucket in buckets)


def parse_question(question: str) -> Problem:
    """The problem a question text states (inverse of `Problem.question`)."""
    import re

    m = re.fullmatch(r"Let x = (\d+)\. In (\d+) steps, for r from (\d+) down to (\d+), replace x by (\S+) \+ r "
                     r"mod (\d+)\. What is x at the end\?", question.strip())
    if not m or int(m.group(6)) != P:
        raise ValueError(f"not a mini question: {question!r:.120}")
    by_formula = {f.formula: f.name for f in FAMILIES.values()}
    if m.group(5) not in by_formula:
        raise ValueError(f"unknown map {m.group(5)!r} in {question!r:.120}")
    prob = Problem(by_formula[m.group(5)], int(m.group(1)), int(m.group(3)), int(m.group(4)))
    if prob.k != int(m.group(2)):
        raise ValueError(f"{m.group(2)} steps, but r from {m.group(3)} down to {m.group(4)} is {prob.k}: "
                         f"{question!r:.120}")
    return prob


def sample_problems(n: int, seed: int, split: str = "train", k_range: tuple[int, int] = (K_MIN, K_MAX),
                    families: tuple[str, ...] | None = None, unique: bool = False) -> list[Problem]:
    """`n` problems of one split: family uniform, k uniform in `k_range`, then b uniform in [0, R - k], x0
    uniform in [0, P); starts outside the split are redrawn. `unique` drops repeated problems."""
    if split not in SPLITS:
        raise ValueError(f"split {split!r}; valid: {', '.join(SPLITS)}")
    lo, hi = k_range
    if not 1 <= lo <= hi <= R:
        raise ValueError(f"k_range {k_range} must satisfy 1 <= lo <= hi <= {R}")
    names = tuple(families or FAMILIES)
    rng = random.Random(f"{seed}:{split}")
    out: list[Problem] = []
    seen: set[Problem] = set()
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 1000 * (n + 10):
            raise RuntimeError(f"could not draw {n} {'distinct ' if unique else ''}{split} problems")
        family = names[rng.randrange(len(names))]
        k = rng.randint(lo, hi)
        b = rng.randint(0, R - k)
        x0 = rng.randrange(P)
        if split_of(family, x0, b + k - 1) != split:
            continue
        prob = Problem(family, x0, b + k - 1, b)
        if unique:
            if prob in seen:
                continue
            seen.add(prob)
        out.append(prob)
    return out
