"""lm-eval hooks: `process_results` functions and aggregations referenced by the `s1_*` task YAMLs.

Each `process_results` returns two metrics:
- ``exact_match``: 1 or 0 (aggregated by mean, the number reported);
- ``grading``: a dict ``{extracted, correct, method, rule, detail, grader_version}`` that lands in the sample
  log (``--log_samples``) so every verdict can be audited; its aggregate is the share of responses from which
  a final answer was extracted (a low value means truncated or unformatted outputs, not a wrong model).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from s1eval.grading import GRADER_VERSION
from s1eval.grading.grade import Grade, grade_math


def _metrics(grade: Grade) -> dict[str, Any]:
    log = grade.as_log()
    log["grader_version"] = GRADER_VERSION
    return {"exact_match": int(grade.correct), "grading": log}


def _first(results: Sequence[str]) -> str:
    return results[0] if results else ""


def process_aime(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """AIME: integer answers (023 == 23); a non-integer answer still goes through Math-Verify."""
    return _metrics(grade_math(_first(results), str(doc["answer"]), kind="aime"))


def process_math(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """MATH500 and other free-form math answers, through Math-Verify."""
    return _metrics(grade_math(_first(results), str(doc["answer"]), kind="math"))


def extracted_share(items: Sequence[dict[str, Any]]) -> float:
    """Aggregation for the ``grading`` metric: share of samples whose final answer was extracted."""
    if not items:
        return 0.0
    return sum(1 for it in items if it.get("method") != "unextracted") / len(items)


def process_gpqa(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """GPQA: the chosen letter against the gold letter; no letter named means wrong and unextracted."""
    from s1eval.grading.gpqa import grade_choice

    grade = grade_choice(_first(results), str(doc["answer"]), doc.get("choices"))
    return _metrics(grade)


def _process_samples(doc: dict[str, Any], results: Sequence[str], kind: str) -> dict[str, Any]:
    from s1eval.grading.grade import grade_math_batch
    from s1eval.grading.voting import sample_metrics

    # With repeats and a take_first_k filter, lm-eval passes [[r_1, ..., r_k]]; without one, [r_1, ...].
    responses = list(results[0]) if results and isinstance(results[0], (list, tuple)) else list(results)
    grades = grade_math_batch([(str(r), str(doc["answer"])) for r in responses], kind=kind)
    metrics: dict[str, Any] = dict(sample_metrics(grades, kind))
    metrics["grading"] = [dict(g.as_log(), grader_version=GRADER_VERSION) for g in grades]
    return metrics


def process_aime_samples(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """`*_maj` AIME tasks: maj@k, cov@k, pass@k over the k repeats (see `s1eval.grading.voting`)."""
    return _process_samples(doc, results, "aime")


def process_math_samples(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """`*_maj` MATH tasks: maj@k, cov@k, pass@k over the k repeats (see `s1eval.grading.voting`)."""
    return _process_samples(doc, results, "math")


def extracted_share_samples(items: Sequence[Sequence[dict[str, Any]]]) -> float:
    """Aggregation for the ``grading`` metric of `*_maj` tasks: share of all samples with an extracted answer."""
    flat = [it for group in items for it in group]
    return extracted_share(flat)
