"""The 16 sources of the 59K pool: where each lives on the hub and how its rows map to the common columns.

Each `Source` lists the hub parts it reads (config, split) and a pure `convert(row, part)` returning the
common row (question, solution, cot_type, source_type, metadata) or a `Drop` with the paper's per-source
filter as the reason. Field names follow the authors' collection script (simplescaling/s1,
data/collect_data.py) and the hub schemas; `source_type` strings follow the released s1K (e.g.
``qfq/openaimath/Algebra``, ``qfq/quant``, ``qfq/stats_qual``), so the seed-set and quality rules match it.
`metadata` is ``str()`` of the row's remaining fields, as in the release. AGIEval's passage questions are
joined exactly as the script joins them (`agieval_question`), so their hashes match the released pool.

Per-source filters (drop reasons): OlympicArena keeps English text-only problems; TheoremQA drops questions
with a picture; AGIEval's MATH part keeps level 5; SciEval drops rows without an answer; LiveCodeBench keeps
`hard`; AIME keeps 1983-2021 (2022+ is evaluation data); NuminaMath keeps `aops_forum` plus the questions of a
keep list (the authors' numinamath_500 selection) when one is given. Subsampling (xword 1,000 by the seeded
shuffle of `datasets`, SciEval 250 by the script's task/topic quotas; s1data.subsample) happens in the collect
stage, after its optional decontamination, as in the script.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from s1data.record import Drop, make_record
from s1data.subsample import scieval_balanced, shuffle_head

Part = tuple[str | None, str]  # (config, split)


@dataclass(frozen=True)
class Source:
    """A pool source: hub id, parts to load, row converter, optional subsample size and how to subsample
    (`select(rows, n, seed, keep)` -> chosen indices; s1data.subsample)."""

    name: str
    hub_id: str
    parts: tuple[Part, ...]
    convert: Callable[[dict[str, Any], Part], Any]
    sample: int | None = None
    select: Callable[..., list[int]] = shuffle_head
    against_sources: bool = True  # checked for n-gram overlap with earlier sources (collect.across_sources)
    load_kwargs: dict[str, Any] = field(default_factory=dict)


def _meta(row: dict[str, Any], *used: str) -> str:
    return str({k: v for k, v in row.items() if k not in used})


def _math(row, part):
    return make_record(row["problem"], row["solution"], "math", f"qfq/openaimath/{row['subject']}",
                       _meta(row, "problem", "solution"))


def _numina(row, part, keep: frozenset[str] = frozenset()):
    if row["source"] != "aops_forum" and row["problem"] not in keep:
        return Drop("numina:not_aops_forum_or_kept")
    return make_record(row["problem"], row["solution"], "math", f"AI-MO/NuminaMath-CoT/{row['source']}",
                       _meta(row, "problem", "solution"))


def _olympic_arena(row, part):
    if row.get("language") != "EN":
        return Drop("olympicarena:not_english")
    if row.get("modality") != "text-only":
        return Drop("olympicarena:not_text_only")
    cot = {"Math": "math", "CS": "coding"}.get(row["subject"], "science")
    return make_record(row["problem"], row["solution"], cot, f"GAIR/OlympicArena/{row['subject']}",
                       _meta(row, "problem", "solution"))


def _omni(row, part):
    return make_record(row["problem"], row["solution"], "math", "KbsdJames/Omni-MATH",
                       _meta(row, "problem", "solution"))


_AGI_DOMAIN = {"sat_en": "english", "sat_math": "math", "lsat_ar": "english", "lsat_lr": "english",
               "lsat_rc": "english", "logiqa": "math", "aqua_rat": "math", "math_agieval": "math"}


def agieval_question(passage: str | None, question: str, options: list[str] | None) -> str:
    """AGIEval's question text exactly as the authors' collect script builds it, so hashes match the release:
    ``(passage + "\\n\\n").strip() + question + "\\n" + "\\n".join(options)``. The strip removes the two
    newlines it adds, so a passage runs straight into its question ("...on Wednesday.Which one of...")."""
    return ((passage or "") + "\n\n").strip() + question + "\n" + "\n".join(options or [])


def _agieval(row, part):
    conf = part[0]
    if conf == "math_agieval" and row.get("level") != 5:
        return Drop("agieval:math_not_level_5")
    if conf in ("aqua_rat", "math_agieval"):  # the script takes these questions as they are
        return make_record(row["question"], row.get("solution"), _AGI_DOMAIN[conf], f"baber/agieval/{conf}",
                           _meta(row, "question", "solution"))
    return make_record(agieval_question(row.get("passage"), row["question"], row.get("options")), row.get("solution"),
                       _AGI_DOMAIN[conf], f"baber/agieval/{conf}",
                       _meta(row, "question", "solution", "passage", "options"))


XWORD_INSTRUCTION = ("Solve the crossword puzzle. You are presented with a clue as input and the number of "
                     "letters in brackets.")


def _xword(row, part):
    clue = row["input"].split("### Clue: ", 1)[-1]
    return make_record(XWORD_INSTRUCTION + "\n\n" + clue, row["output"], "crossword", "0xharib/xword1",
                       _meta(row, "input", "output"))


def _olympiad_bench(row, part):
    sol = row.get("solution")
    sol = sol[0] if isinstance(sol, list) and sol else sol
    return make_record(row["question"], sol, "math", f"Hothan/OlympiadBench/{row['question_type']}/{row['subject']}",
                       _meta(row, "question", "solution"))


def _aime(row, part):
    if int(row["Year"]) > 2021:
        return Drop("aime:after_2021")
    return make_record(row["Question"], row["Answer"], "math", "qq8933/AIME_1983_2024",
                       _meta(row, "Question", "Answer"))


def _theoremqa(row, part):
    if row.get("Picture") is not None:
        return Drop("theoremqa:has_picture")
    return make_record(row["Question"], row["Answer"], "math", f"TIGER-Lab/TheoremQA/{row['Answer_type']}",
                       _meta(row, "Question", "Answer", "Picture"))


def _usaco(row, part):
    return make_record(row["question"].strip(), None, "coding", "codegenning/usacobench_formatted",
                       _meta(row, "question"))


def _jeebench(row, part):
    cot = {"math": "math", "phy": "math", "chem": "science"}[row["subject"]]
    return make_record(row["question"], row["gold"], cot, f"daman1209arora/jeebench/{row['subject']}",
                       _meta(row, "question", "gold"))


def _gpqa(row, part, diamond: frozenset[str] = frozenset()):
    if row["Question"] in diamond:
        return Drop("gpqa:in_diamond")
    return make_record(row["Question"], row["Explanation"], "science", "Idavidrein/gpqa",
                       _meta(row, "Question", "Explanation"))


def clean_scieval_question(q: str) -> str:
    """SciEval prompts end in "\\n\\nAnswer:" and phrase some questions as fill-ins; make them questions."""
    q = q.split("\n\nAnswer:")[0]
    for tail in ("solvent", "ligand", "reactant"):
        q = q.replace(f"\nOptimal {tail}:", f"\nWhat is the optimal {tail}?")
    return q


def _scieval(row, part):
    if row.get("answer") is None:
        return Drop("scieval:no_answer")
    cot = {"SocraticQA": "science", "reagent selection": "science", "MedQA": "health science",
           "PubMedQA": "health science"}.get(row["task_name"], "science")
    return make_record(clean_scieval_question(row["question"]), row["answer"][0], cot,
                       f"OpenDFM/SciEval/{row['category']}/{row['type']}/{row['task_name']}",
                       _meta(row, "question", "answer"))


def _s1_prob(row, part):
    return make_record(row["question"], row["solution"], "math", "qfq/stats_qual", _meta(row, "question", "solution"))


def _livecodebench(row, part):
    if row.get("difficulty") != "hard":
        return Drop("livecodebench:not_hard")
    return make_record(row["question_content"].strip(), None, "coding", f"LiveCodeBench/{part[0]}",
                       _meta(row, "question_content"))


def _teasers(row, part):
    return make_record(row["Question"].strip(), row["Answer"], "math", "qfq/quant", _meta(row, "Question", "Answer"))


_OA = ("Math", "Physics", "Chemistry", "Biology", "Geography", "Astronomy", "CS")
_AGI = ("sat_en", "sat_math", "lsat_ar", "lsat_lr", "lsat_rc", "logiqa", "aqua_rat", "math_agieval")
_OB = ("OE_TO_maths_en_COMP", "OE_TO_physics_en_COMP", "TP_TO_maths_en_COMP", "TP_TO_physics_en_COMP")

# In the order of the authors' script (DS_TO_SELECTION), which matters twice: a question sharing an n-gram
# with an earlier source's question is dropped when collect decontaminates across sources, and exact dedup
# keeps the first copy. AIME is last: the script has no AIME loader; its 1983-2021 rows were added to the pool
# afterwards (890 of them), so they are checked against the evaluation sets but not against earlier sources,
# which hold many AIME problems (NuminaMath's aops_forum, Omni-MATH) and would otherwise remove most of them.
SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("math", "simplescaling/openaimath", ((None, "train"),), _math),
    # every config's test split, then every config's val split, as the script concatenates them
    Source("olympicarena", "GAIR/OlympicArena", tuple((c, s) for s in ("test", "val") for c in _OA), _olympic_arena),
    Source("theoremqa", "TIGER-Lab/TheoremQA", ((None, "test"),), _theoremqa),
    Source("numinamath", "AI-MO/NuminaMath-CoT", ((None, "train"),), _numina),
    Source("omnimath", "KbsdJames/Omni-MATH", ((None, "test"),), _omni),
    Source("scieval", "OpenDFM/SciEval", ((None, "test"), (None, "validation")), _scieval, sample=250,
           select=scieval_balanced),
    Source("olympiadbench", "Hothan/OlympiadBench", tuple((c, "train") for c in _OB), _olympiad_bench),
    Source("jeebench", "daman1209arora/jeebench", ((None, "test"),), _jeebench),
    Source("agieval", "baber/agieval", tuple((c, s) for c in _AGI for s in ("test", "few_shot")), _agieval),
    Source("s1_prob", "simplescaling/s1-prob", ((None, "train"),), _s1_prob),
    Source("gpqa", "Idavidrein/gpqa", (("gpqa_extended", "train"),), _gpqa),
    Source("xword", "0xharib/xword1", ((None, "train"),), _xword, sample=1000),
    Source("usaco", "codegenning/usacobench_formatted", ((None, "test"),), _usaco),
    Source("s1_teasers", "simplescaling/s1-teasers", ((None, "train"),), _teasers),
    Source("livecodebench", "livecodebench/code_generation_lite",
           tuple((v, "test") for v in ("release_v1", "release_v2", "release_v3")), _livecodebench),
    Source("aime", "qq8933/AIME_1983_2024", ((None, "train"),), _aime, against_sources=False),
)}
