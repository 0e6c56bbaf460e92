"""select: Algorithm 1 of the paper (quality -> difficulty -> diversity) and the ablation selectors.

`method: s1k` (Algorithm 1):
1. difficulty: drop rows any `drop_if_correct` column marks correct (Qwen2.5-7B/32B solved it; a null
   grade, for a reference without a final answer that no judge graded, does not count as solved);
2. seed set: every teacher-correct question from AIME or GPQA, plus teacher-correct MATH questions whose
   thinking is longer than `seed_min_math_tokens` (5,600) tokens (384 questions in the paper);
3. until `n`: pick a domain uniformly at random among those with questions left, rank its questions by
   thinking length (longest = rank 0, ties by question_hash), sample one with weight 2^-rank, remove it.
`variant: notebook` follows the released notebook instead: after `switch_at` (700) selected questions the
domain is drawn with `domain_weights` (the domains' shares in the evaluation benchmarks) instead of uniformly.

Ablations (paper Table 2): `random` (n uniformly at random), `diverse` (a uniform domain, then a uniform
question in it), `longest` (the n longest thinking traces), `full` (keep every row).

Every random choice comes from `random.Random(seed)`. Kept rows carry `select_order`, `select_via`
(seed / sampled / ...), `select_rank` and `select_domain_size` (the rank drawn and the domain's size at
that draw), so the statistical tests can check the sampling law on real output.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from s1data.pipeline import Stage, StageOutput
from s1data.record import Drop

METHODS = ("s1k", "random", "diverse", "longest", "full")
VARIANTS = ("paper", "notebook")


@dataclass(frozen=True)
class SelectOptions:
    """See the module docstring. Column options name the features the selection reads."""

    method: str = "s1k"
    n: int = 1000
    seed: int = 0
    variant: str = "paper"
    switch_at: int = 700
    domain_weights: dict[str, float] = field(default_factory=dict)
    drop_if_correct: tuple[str, ...] = ("qwen7b_correct", "qwen32b_correct")
    length_column: str = "thinking_tokens"
    domain_column: str = "domain"
    teacher_correct_column: str = "teacher_correct"
    seed_sources: tuple[str, ...] = ("aime", "gpqa")
    seed_math_sources: tuple[str, ...] = ("openaimath",)
    seed_min_math_tokens: int = 5600

    def __post_init__(self) -> None:
        for name in ("drop_if_correct", "seed_sources", "seed_math_sources"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r}; valid: {', '.join(METHODS)}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant={self.variant!r}; valid: {', '.join(VARIANTS)}")
        if self.variant == "notebook" and not self.domain_weights:
            raise ValueError("variant=notebook needs domain_weights ({domain: weight}, the domains' shares in the "
                             "evaluation benchmarks); set select.domain_weights or use variant=paper")
        if int(self.n) < 0:
            raise ValueError(f"n={self.n} must be >= 0")


def required_columns(opts: SelectOptions) -> list[str]:
    """Feature columns the configured selection reads."""
    cols = list(opts.drop_if_correct)
    if opts.method == "s1k":
        cols += [opts.domain_column, opts.length_column, opts.teacher_correct_column]
    elif opts.method == "diverse":
        cols += [opts.domain_column]
    elif opts.method == "longest":
        cols += [opts.length_column]
    return list(dict.fromkeys(cols))


def sample_rank(m: int, rng: random.Random) -> int:
    """A rank in [0, m) drawn with P(r) proportional to 2^-r."""
    u = rng.random() * (2.0 - 2.0 ** (1 - m))
    acc = 0.0
    for r in range(min(m, 1100)):
        acc += 2.0 ** -r
        if u < acc:
            return r
    return min(m, 1100) - 1


def in_seed_set(row: dict[str, Any], opts: SelectOptions) -> bool:
    """The seed rule: teacher-correct AIME/GPQA, or teacher-correct MATH with a long trace."""
    if not row.get(opts.teacher_correct_column):
        return False
    source = str(row.get("source_type", "")).lower()
    if any(s in source for s in opts.seed_sources):
        return True
    return (any(s in source for s in opts.seed_math_sources)
            and (row.get(opts.length_column) or 0) > opts.seed_min_math_tokens)


def _by_domain(rows: list[dict[str, Any]], idx: list[int], opts: SelectOptions) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i in idx:
        groups.setdefault(str(rows[i][opts.domain_column]), []).append(i)
    for members in groups.values():
        members.sort(key=lambda i: (-(rows[i][opts.length_column] or 0), str(rows[i].get("question_hash", i))))
    return groups


def _pick_domain(domains: list[str], chosen: int, opts: SelectOptions, rng: random.Random) -> str:
    if opts.variant == "notebook" and chosen >= opts.switch_at:
        weights = [float(opts.domain_weights.get(d, 0.0)) for d in domains]
        if sum(weights) > 0:
            return rng.choices(domains, weights=weights)[0]
    return domains[rng.randrange(len(domains))]


def algorithm1(rows: list[dict[str, Any]], idx: list[int], opts: SelectOptions, rng: random.Random) -> list[dict]:
    """Indices chosen by Algorithm 1, as [{index, via, rank, domain_size}] in selection order."""
    picks = [{"index": i, "via": "seed", "rank": None, "domain_size": None} for i in idx if in_seed_set(rows[i], opts)]
    if len(picks) > opts.n:
        raise ValueError(f"the seed set has {len(picks)} questions, more than n={opts.n}; raise n or narrow "
                         "seed_sources / seed_min_math_tokens")
    seeded = {p["index"] for p in picks}
    groups = _by_domain(rows, [i for i in idx if i not in seeded], opts)
    domains = sorted(groups)
    while len(picks) < opts.n and domains:
        d = _pick_domain(domains, len(picks), opts, rng)
        members = groups[d]
        r = sample_rank(len(members), rng)
        picks.append({"index": members.pop(r), "via": "sampled", "rank": r, "domain_size": len(members) + 1})
        if not members:
            domains.remove(d)
    return picks


def _simple(rows: list[dict[str, Any]], idx: list[int], opts: SelectOptions, rng: random.Random) -> list[dict]:
    n = min(opts.n, len(idx))
    if opts.method == "full":
        chosen = idx
    elif opts.method == "random":
        chosen = rng.sample(idx, n)
    elif opts.method == "longest":
        chosen = sorted(idx, key=lambda i: (-(rows[i][opts.length_column] or 0),
                                            str(rows[i].get("question_hash", i))))[:n]
    else:  # diverse
        groups = _by_domain(rows, idx, opts)
        domains, chosen = sorted(groups), []
        while len(chosen) < n and domains:
            d = domains[rng.randrange(len(domains))]
            chosen.append(groups[d].pop(rng.randrange(len(groups[d]))))
            if not groups[d]:
                domains.remove(d)
    return [{"index": i, "via": opts.method, "rank": None, "domain_size": None} for i in chosen]


class Select(Stage):
    """Choose the final questions; every other row is dropped with its reason."""

    name = "select"
    Options = SelectOptions

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:
        opts = self.options
        out = StageOutput(kept=[])
        idx: list[int] = []
        for i, row in enumerate(rows):
            # a null difficulty grade (ungraded: no final answer to compare) is not "solved"
            missing = [c for c in required_columns(opts) if row.get(c) is None and c not in opts.drop_if_correct]
            easy = [c for c in opts.drop_if_correct if row.get(c)]
            if missing:
                out.dropped.append((row, Drop(f"missing_feature:{missing[0]}")))
            elif easy:
                out.dropped.append((row, Drop(f"too_easy:{easy[0]}")))
            else:
                idx.append(i)
        rng = random.Random(opts.seed)
        picks = algorithm1(rows, idx, opts, rng) if opts.method == "s1k" else _simple(rows, idx, opts, rng)
        chosen = set()
        for order, p in enumerate(picks):
            chosen.add(p["index"])
            out.kept.append({**rows[p["index"]], "select_order": order, "select_via": p["via"],
                             "select_rank": p["rank"], "select_domain_size": p["domain_size"]})
        out.dropped += [(rows[i], Drop("not_selected")) for i in idx if i not in chosen]
        out.extra = {"candidates": len(idx), "seed_set": sum(p["via"] == "seed" for p in picks),
                     "domains_selected": len({str(rows[p["index"]].get(opts.domain_column)) for p in picks})}
        if len(picks) < opts.n and opts.method != "full":
            out.extra["shortfall"] = opts.n - len(picks)
        return out
