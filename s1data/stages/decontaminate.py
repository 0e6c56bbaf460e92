"""decontaminate: drop questions sharing a word n-gram with an evaluation set, then deduplicate.

Text is lowercased and split on whitespace (runs of whitespace fold to one); an n-gram is n
consecutive words (n = 8 in the paper). Every benchmark n-gram is hashed into one dict (hash ->
which benchmark item), and each question's n-grams are looked up in it: time linear in the total
number of words. A question is also contaminated when its normalised text equals a benchmark
question's (this catches questions shorter than n words, which have no n-gram).

Benchmarks: `aime24`, `aime25`, `math500` (shipped in s1eval.data), `gpqa_diamond` (gated hub
dataset or `gpqa_data` file, see s1eval.data.gpqa), `livecodebench` (hub, release_v4), `aime22_24` (hub
AI-MO/aimo-validation-aime: AIME 2022-2024, the authors' AIME test set during collection), plus any `files`
(a .jsonl/.json/.csv/.parquet with a `problem`, `question` or `Question` column). A benchmark that
fails to load is an error unless listed in `allow_missing`; then it is reported in stats.json.

Stop phrases (`stop_phrases`, off by default: the paper matches every 8-gram): benchmark n-grams lying wholly
inside a stop phrase are not indexed, so questions sharing only stock competition wording with a benchmark
are kept. A phrase is matched like the questions (lowercased words), `*` standing for any one word; the
preset `aime_stock` names `AIME_STOCK_PHRASES`. Measured on the released s1K against AIME24/AIME25/MATH500
(tests/s1data/test_quality_decontaminate.py): 118 collisions at n=8, 27 at n=8 with `aime_stock`, 14 at n=13,
4 at n=20; the 4 long overlaps and the 2 whole-question matches stay caught with the preset.

Dedup after that keeps the first occurrence: `duplicate:exact` (identical question text), then
`duplicate:normalised` (identical after NFKC, lowercasing and whitespace folding).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s1data.pipeline import Stage, StageOutput
from s1data.record import Drop

log = logging.getLogger(__name__)

# Stock wording of AIME-style answers and set-ups (ours, not the paper's), each shared by many unrelated
# problems: "... where $m$ and $n$ are relatively prime positive integers. Find $m+n$." and the like.
AIME_STOCK_PHRASES = (
    "where * and * are relatively prime positive * find * + *",
    "* and * are positive integers and * is not divisible by the square of any * find * + * + *",
    "where * * and * are positive integers, and * is not divisible by the square of any * find * + * + *",
    "are relatively prime, and * is not divisible by the square of any prime.",
    "find the remainder when * is divided by *",
    "find the sum of all possible values of *",
    "find the sum of all positive integers * such that",
    "let * * and * be positive real numbers",
)
STOP_PRESETS = {"aime_stock": AIME_STOCK_PHRASES}

BENCHMARKS = ("aime24", "aime25", "math500", "gpqa_diamond", "livecodebench", "aime22_24")
_QUESTION_KEYS = ("problem", "question", "Question", "question_content")


def words(text: str) -> list[str]:
    """Lowercased words split on whitespace."""
    return text.lower().split()


def ngrams(text: str, n: int) -> Iterator[str]:
    """Word n-grams of `text` as space-joined strings."""
    w = words(text)
    for i in range(len(w) - n + 1):
        yield " ".join(w[i:i + n])


def normalise(text: str) -> str:
    """NFKC, lowercase, whitespace folded: the key of normalised dedup."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _question_of(row: dict[str, Any], source: str) -> str:
    for key in _QUESTION_KEYS:
        if row.get(key):
            return str(row[key])
    raise KeyError(f"{source}: row has none of the columns {_QUESTION_KEYS} (columns: {sorted(row)})")


def load_benchmark(name: str, gpqa_data: str | None = None) -> list[str]:
    """The questions of a named benchmark or of a file path."""
    if name in ("aime24", "aime25", "math500"):
        from s1eval.data import shipped_rows

        return [r["problem"] for r in shipped_rows(name)]
    if name == "gpqa_diamond":
        from s1eval.data.gpqa import gpqa_rows

        return [str(r["Question"]) for r in gpqa_rows(**({"gpqa_data": gpqa_data} if gpqa_data else {}))]
    if name == "aime22_24":
        import datasets

        return [r["problem"] for r in datasets.load_dataset("AI-MO/aimo-validation-aime", split="train")]
    if name == "livecodebench":
        import datasets

        ds = datasets.load_dataset("livecodebench/code_generation_lite", version_tag="release_v4", split="test")
        return [r["question_content"] for r in ds]
    path = Path(name).expanduser()
    if path.suffix in (".jsonl", ".json", ".csv", ".parquet"):
        from s1data.io import read_rows

        return [_question_of(r, name) for r in read_rows(path)]
    raise ValueError(f"unknown benchmark {name!r}; use one of {', '.join(BENCHMARKS)} or a file path")


@dataclass(frozen=True)
class DecontaminateOptions:
    """`n`: words per n-gram; `benchmarks`: names or file paths; `allow_missing`: benchmarks that may fail
    to load (reported); `gpqa_data`: a local GPQA Diamond CSV; `dedup`: run exact + normalised dedup;
    `stop_phrases`: phrases (or the preset `aime_stock`) whose n-grams do not count as contamination."""

    n: int = 8
    benchmarks: tuple[str, ...] = ("aime24", "aime25", "math500", "gpqa_diamond")
    allow_missing: tuple[str, ...] = ()
    gpqa_data: str | None = None
    dedup: bool = True
    stop_phrases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "benchmarks", tuple(self.benchmarks))
        object.__setattr__(self, "allow_missing", tuple(self.allow_missing))
        object.__setattr__(self, "stop_phrases", tuple(self.stop_phrases))
        if int(self.n) < 1:
            raise ValueError(f"n={self.n} must be >= 1 (the paper uses 8)")
        for phrase in self.stop_phrases:
            if phrase not in STOP_PRESETS and len(words(phrase)) < int(self.n):
                raise ValueError(f"stop phrase {phrase!r} has fewer than n={self.n} words, so it can never cover an "
                                 f"n-gram; lengthen it or use a preset ({', '.join(STOP_PRESETS)})")

    def expanded_stop_phrases(self) -> tuple[str, ...]:
        return tuple(p for phrase in self.stop_phrases for p in STOP_PRESETS.get(phrase, (phrase,)))


def stop_windows(phrases: tuple[str, ...], n: int) -> list[tuple[str | None, ...]]:
    """Every n-word window of the stop phrases, None where the phrase has `*` (any word)."""
    out = []
    for phrase in phrases:
        w = [None if t == "*" else t for t in words(phrase)]
        out += [tuple(w[i:i + n]) for i in range(len(w) - n + 1)]
    return out


def is_stock(gram: str, windows: list[tuple[str | None, ...]]) -> bool:
    """Whether an n-gram (space-joined lowercased words) lies wholly inside a stop phrase."""
    toks = gram.split(" ")
    return any(all(p is None or p == t for p, t in zip(win, toks)) for win in windows)


class NgramIndex:
    """Hashed n-grams of evaluation questions, each mapped to its first (benchmark, index)."""

    def __init__(self, n: int, stop_phrases: tuple[str, ...] = ()) -> None:
        self.n = n
        self.grams: dict[int, tuple[str, int]] = {}
        self.exact: dict[str, tuple[str, int]] = {}
        self.questions: dict[str, list[str]] = {}
        self.windows = stop_windows(stop_phrases, n)
        self.stock_skipped = 0  # benchmark n-grams left out as stock wording

    def add(self, bench: str, questions: list[str]) -> None:
        self.questions[bench] = questions
        for i, q in enumerate(questions):
            self.exact.setdefault(normalise(q), (bench, i))
            for g in ngrams(q, self.n):
                if self.windows and is_stock(g, self.windows):
                    self.stock_skipped += 1
                    continue
                self.grams.setdefault(hash(g), (bench, i))

    def match(self, text: str, skip_prefix: str | None = None) -> tuple[str, int, str] | None:
        """(benchmark, index, shared n-gram) of the first collision, or None; collisions with a benchmark
        named `skip_prefix...` are passed over. (Each n-gram keeps its first owner and benchmarks are added
        before collect's sources, so a skipped n-gram belongs to no benchmark.)"""
        hit = self.exact.get(normalise(text))
        if hit is not None and not (skip_prefix and hit[0].startswith(skip_prefix)):
            return hit[0], hit[1], "<whole question>"
        grams = self.grams
        w = words(text)
        n = self.n
        for i in range(len(w) - n + 1):
            g = " ".join(w[i:i + n])
            hit = grams.get(hash(g))
            if hit is not None and not (skip_prefix and hit[0].startswith(skip_prefix)):
                return hit[0], hit[1], g
        return None


def build_index(opts: DecontaminateOptions) -> tuple[NgramIndex, dict[str, str]]:
    """The index over every loadable benchmark, and {benchmark: error} for those allowed to be missing."""
    index, missing = NgramIndex(int(opts.n), opts.expanded_stop_phrases()), {}
    for bench in opts.benchmarks:
        try:
            index.add(bench, load_benchmark(bench, opts.gpqa_data))
        except Exception as exc:  # reported below or re-raised: never skipped silently
            if bench not in opts.allow_missing:
                raise RuntimeError(f"benchmark {bench!r} failed to load ({type(exc).__name__}: {exc}); fix access "
                                   f"or list it under decontaminate.allow_missing to run without it") from exc
            log.warning("decontaminate: benchmark %s unavailable, NOT checked: %s", bench, exc)
            missing[bench] = f"{type(exc).__name__}: {str(exc)[:300]}"
    return index, missing


class Decontaminate(Stage):
    """n-gram decontamination against evaluation sets, then exact and normalised dedup."""

    name = "decontaminate"
    Options = DecontaminateOptions

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:
        index, missing = build_index(self.options)
        out = StageOutput(kept=[], extra={"benchmarks_checked": {b: len(q) for b, q in index.questions.items()},
                                          "benchmarks_missing": missing, "benchmark_ngrams": len(index.grams),
                                          "stock_ngrams_skipped": index.stock_skipped})
        seen_exact: dict[str, str] = {}
        seen_norm: dict[str, str] = {}
        for row in rows:
            q = row["question"]
            hit = index.match(q)
            if hit is not None:
                out.dropped.append((row, Drop(f"contaminated:{hit[0]}", f"item {hit[1]}: {hit[2]}")))
                continue
            if self.options.dedup:
                key = row.get("question_hash") or str(len(seen_exact))
                if q in seen_exact:
                    out.dropped.append((row, Drop("duplicate:exact", f"same as {seen_exact[q]}")))
                    continue
                norm = normalise(q)
                if norm in seen_norm:
                    out.dropped.append((row, Drop("duplicate:normalised", f"same as {seen_norm[norm]}")))
                    continue
                seen_exact[q], seen_norm[norm] = key, key
            out.kept.append(row)
        return out
