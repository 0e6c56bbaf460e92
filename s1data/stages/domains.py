"""domains: a judge model assigns each question one two-digit MSC 2020 code (paper section 2.2).

The code table (63 top-level MSC 2020 classes, science included: 81 quantum theory, 92 biology, ...) ships
as `s1data/data/msc2020.json`. The judge sees the question and the table and is asked for one code; the
last code of the table found in its reply is taken. A reply without a valid code leaves `domain` null
with the reply in `domain_detail` (selection then drops the row as `missing_feature:domain`). Replies
are cached per question.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from s1data.pipeline import StageOutput
from s1data.stages._calls import ModelStage, require_client

TABLE_PATH = Path(__file__).resolve().parent.parent / "data" / "msc2020.json"
_CODE_RE = re.compile(r"(?<!\d)(\d{2})(?!\d)")


@lru_cache(maxsize=1)
def msc_codes() -> dict[str, str]:
    """{two-digit code: title} of MSC 2020."""
    return json.loads(TABLE_PATH.read_text(encoding="utf-8"))["codes"]


def domain_prompt(question: str) -> str:
    """The classification prompt for one question."""
    table = "\n".join(f"{c} {t}" for c, t in msc_codes().items())
    return ("Classify the following question into exactly one top-level class of the Mathematics Subject "
            f"Classification (MSC 2020). The classes are:\n{table}\n\nQuestion:\n{question}\n\n"
            "Answer with the two-digit code of the best class on the last line, e.g. `Code: 11`.")


def parse_code(text: str | None) -> str | None:
    """The last valid MSC code in a reply, or None."""
    codes = msc_codes()
    found = [c for c in _CODE_RE.findall(text or "") if c in codes]
    return found[-1] if found else None


@dataclass(frozen=True)
class DomainsOptions:
    """`client`: the judge (paper: Claude 3.5 Sonnet); `sampling`: request fields."""

    client: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=lambda: {"temperature": 0.0})
    chunk_size: int = 256

    def __post_init__(self) -> None:
        require_client("domains", self.client)


class Domains(ModelStage):
    """Add `domain` (MSC code or null) and `domain_detail`; drops nothing."""

    name = "domains"
    Options = DomainsOptions

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:
        replies, counts = self.ask("judge", self.options.client, "domains", rows,
                                   lambda r: domain_prompt(r["question"]), self.options.sampling)
        kept = []
        for row, rep in zip(rows, replies):
            code = parse_code(rep["text"])
            detail = "" if code else (rep["error"] or f"no MSC code in reply: {(rep['text'] or '')[-80:]}")
            kept.append({**row, "domain": code, "domain_detail": detail})
        return StageOutput(kept=kept, extra={**counts, "unclassified": sum(r["domain"] is None for r in kept)})
